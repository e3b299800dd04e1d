"""llama-cpp-python's OpenAI server, run so that SIGTERM lets open answers finish.

``amigo serve`` restarts the server on a new model (a nightly promotion) with
SIGTERM and expects uvicorn's graceful shutdown: stop accepting, finish what is
open, exit. But llama-cpp-python streams through sse-starlette, which by default
ends every open stream as soon as uvicorn is told to exit, so a person's answer
was cut off mid-stream at each switch. Here that automatic drain is turned off:
streams end when their answer ends, and uvicorn exits after the last one.
``python -m amigo.llama_cpp_server ARGS`` takes llama-cpp-python's own arguments.
"""

from __future__ import annotations

import runpy


def main() -> None:
    """Run ``python -m llama_cpp.server`` with sse-starlette's shutdown drain off."""
    from sse_starlette.sse import AppStatus

    AppStatus.disable_automatic_graceful_drain()
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
