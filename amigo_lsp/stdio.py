"""The stdio loop: one reader thread frames messages (:mod:`amigo_lsp.transport`), the event loop handles them.

The reader never blocks the loop and survives any bytes the editor sends;
the loop is the only thread that writes to the client. The server's exit
code follows the LSP specification: 0 after ``shutdown`` then ``exit`` (or
when the editor closes standard input), 1 for ``exit`` without ``shutdown``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any, BinaryIO, Callable

from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter

from amigo_lsp.transport import raw_reader, read_frames

if TYPE_CHECKING:
    from amigo_lsp.server import AmigoServer

log = logging.getLogger(__name__)


def serve_stdio(server: AmigoServer, stdin: Any = None, stdout: BinaryIO | None = None) -> int:
    """Serve LSP on stdin/stdout until ``exit`` or the end of input; return the exit code."""
    read = raw_reader(stdin or sys.stdin)
    server.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))

    def on_body(body: bytes) -> None:
        try:
            message = json.loads(body, object_hook=server.protocol.structure_message)
        except Exception as exc:  # noqa: BLE001 - parse errors are answered, never fatal
            server.report_server_error(exc, JsonRpcException)
            return
        server.protocol.handle_message(message)

    try:
        asyncio.run(_serve(read, on_body))
    except BrokenPipeError:
        log.error("the editor closed the connection; shutting down")
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:  # pygls' exit handler: 0 after shutdown, else 1
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        server.shutdown()
    return 0


async def _serve(read: Callable[[int], bytes], on_body: Callable[[bytes], None]) -> None:
    """Hand each message body from the reader thread to the loop; return at the end of input."""
    loop = asyncio.get_running_loop()
    finished = loop.create_future()

    def mark_finished() -> None:
        if not finished.done():
            finished.set_result(None)

    def hand_over(fn: Callable[..., Any], *args: Any) -> bool:
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: the server is exiting
            return False
        return True

    def reader() -> None:
        try:
            for body in read_frames(read):
                if not hand_over(on_body, body):
                    return
        except (OSError, ValueError) as exc:
            log.warning("stdin failed: %s", exc)
        hand_over(mark_finished)

    threading.Thread(target=reader, name="amigo-lsp-reader", daemon=True).start()
    await finished
