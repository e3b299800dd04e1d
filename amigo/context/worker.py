"""A parse worker: ``python -m amigo.context.worker`` reads the chunks of a cold index on
stdin, parses those whose numbers it takes from a pipe shared with the other workers
(so a worker slowed down takes fewer), and writes their tags on stdout.

Plain subprocesses instead of :mod:`multiprocessing`: nothing of the parent
(its threads, its ``__main__``) is forked or re-imported, so a cold index is
safe to start from the LSP server, the TUI or any unguarded script.
"""

from __future__ import annotations

import marshal
import sys

from amigo.context.pool import parse_chunks, take_chunks


def main() -> int:
    root, chunks, share = marshal.loads(sys.stdin.buffer.read())
    # ``share``: the shared pipe to take chunk numbers from, or (no pipes to inherit) a fixed list
    results = parse_chunks(root, chunks, take_chunks(share) if isinstance(share, int) else share)
    sys.stdout.buffer.write(marshal.dumps(results))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
