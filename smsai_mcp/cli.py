"""The command line: serve MCP (stdio or HTTP), run the sandbox alone, check the setup, or settle sends."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from smsai_mcp import __version__
from smsai_mcp.config import ConfigError, Settings

__all__ = ["main"]

logger = logging.getLogger("smsai_mcp")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smsai-mcp",
        description="An MCP server that texts people through SMS for AI, with cost estimates, caps and "
        "confirmation before anything is sent. Configuration comes from SMSAI_* environment variables.",
    )
    parser.add_argument("--version", action="version", version=f"smsai-mcp {__version__}")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default: stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    parser.add_argument(
        "--sandbox", action="store_true", help="use the embedded sandbox instead of the real API: no token, no cost"
    )
    commands = parser.add_subparsers(dest="command", metavar="{sandbox,doctor,attempts}")
    sandbox = commands.add_parser("sandbox", help="serve the sandbox alone over HTTP at /api/v1")
    sandbox.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8787, help="port (default 8787)")
    doctor = commands.add_parser("doctor", help="check the configuration and the upstream, then report")
    doctor.add_argument(
        "--sandbox", action="store_true", default=argparse.SUPPRESS, help="check against the embedded sandbox"
    )
    _add_attempts_parser(commands)
    return parser


def _add_attempts_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    attempts = commands.add_parser("attempts", help="the sends whose outcome is unknown, and settling one")
    actions = attempts.add_subparsers(dest="attempts_command", metavar="{list,resolve}", required=True)
    listing = actions.add_parser("list", help="show the open sends: id, time, masked number, estimate, status")
    resolve = actions.add_parser("resolve", help="say what became of one open send")
    resolve.add_argument("attempt_id", metavar="ID", help="the send's id, as `attempts list` shows it")
    verdict = resolve.add_mutually_exclusive_group(required=True)
    verdict.add_argument(
        "--sent", type=_message_id, metavar="MESSAGE_ID", help="it went out: the message id list_messages shows"
    )
    verdict.add_argument("--not-sent", action="store_true", help="it never went out: give its reservation back")
    for action in (listing, resolve):
        action.add_argument("--tenant", metavar="NAME", help="the tenant whose sends, with SMSAI_TENANTS_FILE")


def _message_id(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"a message id is a whole number from 1, not {raw!r}")
    return int(raw)


def _configure_logging() -> None:
    # stdout carries the protocol, so every log line goes to stderr.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging()
    try:
        if args.command == "sandbox":
            return _run_sandbox(args.host, args.port)
        settings = Settings.from_env()
        if args.command == "doctor":
            from smsai_mcp.doctor import run_doctor

            return run_doctor(settings, sandbox=args.sandbox)
        if args.command == "attempts":
            from smsai_mcp.attempts import Verdict, run_attempts

            verdict = None
            if args.attempts_command == "resolve":
                verdict = Verdict(args.attempt_id, None if args.not_sent else args.sent)
            return run_attempts(args.attempts_command, verdict, tenant=args.tenant, settings=settings)
        return _serve(settings, transport=args.transport, host=args.host, port=args.port, sandbox=args.sandbox)
    except ConfigError as exc:
        sys.stderr.write(f"smsai-mcp: invalid configuration: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130


def _run_sandbox(host: str, port: int) -> int:
    from smsai_mcp.sandbox import SandboxConfig, serve

    try:
        config = SandboxConfig.from_env()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    serve(host=host, port=port, config=config)
    return 0


def _serve(settings: Settings, *, transport: str, host: str, port: int, sandbox: bool) -> int:
    http_transport = None
    if sandbox:
        from smsai_mcp.runtime import sandbox_settings
        from smsai_mcp.sandbox import SandboxConfig, create_app, in_process_transport

        try:
            sandbox_config = SandboxConfig.from_env()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        settings = sandbox_settings(settings)
        http_transport = in_process_transport(create_app(sandbox_config))
        logger.info("serving on the embedded sandbox: no real SMS is sent")
    settings.ensure_state_dir()
    if transport == "http":
        from smsai_mcp.service import ServiceOptions, build_service, configure_json_logging, serve_http

        configure_json_logging()
        options = ServiceOptions.from_env(settings)
        if sandbox:  # every tenant talks to the one embedded sandbox
            options = options.with_settings(sandbox_settings)
        app = build_service(settings, options, host=host, port=port, transport=http_transport)
        logger.info("serving MCP over Streamable HTTP at http://%s:%d/mcp", host, port)
        serve_http(
            app,
            host=host,
            port=port,
            graceful_shutdown_seconds=options.graceful_shutdown_seconds,
            header_timeout_seconds=options.header_timeout_seconds,
        )
        return 0
    from smsai_mcp.server import build_server
    from smsai_mcp.stdio import serve_stdio
    from smsai_mcp.terminal import let_ctrl_c_end_terminal_input, note_if_started_in_a_terminal

    if note_if_started_in_a_terminal():
        let_ctrl_c_end_terminal_input()
    serve_stdio(build_server(settings, transport=http_transport))
    return 0
