"""``python -m amigo_lsp``: the same as ``amigo lsp``."""

import sys

from amigo_lsp.cli import main

raise SystemExit(main(sys.argv[1:]))
