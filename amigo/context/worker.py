"""A parse worker: ``python -m amigo.context.worker`` reads jobs on stdin, writes tags on stdout.

Plain subprocesses instead of :mod:`multiprocessing`: nothing of the parent
(its threads, its ``__main__``) is forked or re-imported, so a cold index is
safe to start from the LSP server, the TUI or any unguarded script.
"""

from __future__ import annotations

import marshal
import sys

from amigo.context.index import process_chunk


def main() -> int:
    root, jobs = marshal.loads(sys.stdin.buffer.read())
    results = [(path, tuple(item), lines) for path, item, lines in process_chunk(root, jobs)]
    sys.stdout.buffer.write(marshal.dumps(results))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
