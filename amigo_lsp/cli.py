"""``amigo lsp``: run the language server on stdio (``--tcp HOST:PORT`` to debug)."""

from __future__ import annotations

import argparse
import logging
import sys


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 127.0.0.1:2087), got {value!r}")
    return host or "127.0.0.1", int(port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amigo lsp", description="Run Amigo's language server (stdio by default).")
    parser.add_argument("--stdio", action="store_true", help="talk LSP on stdin/stdout (the default)")
    parser.add_argument("--tcp", type=_host_port, metavar="HOST:PORT", help="listen on TCP instead, for debugging")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="what the server logs to stderr (default WARNING)")
    parser.add_argument("--log-file", help="log to this file instead of stderr")
    return parser


def main(argv: list[str]) -> int:
    """Entry point the ``amigo`` CLI dispatches to."""
    args = build_parser().parse_args(argv)
    try:
        handler: logging.Handler = (logging.FileHandler(args.log_file) if args.log_file
                                    else logging.StreamHandler(sys.stderr))
    except OSError as exc:
        print(f"amigo lsp: cannot write the log file {args.log_file} ({exc.strerror}); "
              "give --log-file a path in an existing, writable folder", file=sys.stderr)
        return 1
    logging.basicConfig(level=args.log_level, handlers=[handler],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pygls logs every message it sends at INFO; keep that out unless asked for.
    logging.getLogger("pygls").setLevel(max(logging.WARNING, logging.getLevelName(args.log_level)))
    from amigo_lsp.features import build_server

    server = build_server()
    if args.tcp:
        host, port = args.tcp
        print(f"amigo lsp: listening on {host}:{port}", file=sys.stderr, flush=True)
        server.start_tcp(host, port)
    else:
        server.start_io()
    return server.exit_code
