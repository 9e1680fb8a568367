"""The command line: serve MCP (stdio or HTTP), run the sandbox alone, check the setup, settle sends, keep the
do-not-text list, or pause and resume sending."""

from __future__ import annotations

import atexit
import gc
import logging
import sys
from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from smsai_mcp import __version__

if TYPE_CHECKING:
    import argparse

__all__ = ["main"]

# What the parser makes of no arguments at all, the way a host starts the server (tests/test_start.py holds them
# equal): that start then neither imports argparse nor builds its parser and sub-parsers.
NO_ARGUMENTS = {"transport": "stdio", "host": "127.0.0.1", "port": 8000, "sandbox": False, "command": None}


def _arguments(argv: Sequence[str] | None) -> Any:
    given = sys.argv[1:] if argv is None else argv
    return SimpleNamespace(**NO_ARGUMENTS) if not given else _parser().parse_args(given)


def _parser() -> argparse.ArgumentParser:
    import argparse  # here, not at the top: a start with no arguments needs none of it

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
    commands = parser.add_subparsers(dest="command", metavar="{sandbox,doctor,attempts,opt-outs,pause,resume}")
    sandbox = commands.add_parser("sandbox", help="serve the sandbox alone over HTTP at /api/v1")
    sandbox.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8787, help="port (default 8787)")
    doctor = commands.add_parser("doctor", help="check the configuration and the upstream, then report")
    doctor.add_argument(
        "--sandbox", action="store_true", default=argparse.SUPPRESS, help="check against the embedded sandbox"
    )
    _add_attempts_parser(commands)
    _add_list_parsers(commands)
    return parser


def _add_list_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    import argparse

    opt_outs = commands.add_parser("opt-outs", help="the do-not-text list: numbers that are never texted")
    actions = opt_outs.add_subparsers(dest="opt_outs_command", metavar="{list,add,remove}", required=True)
    listing = actions.add_parser("list", help="show every number on the list, since when, and its note")
    add = actions.add_parser("add", help="put a number on the list (someone asked not to be texted)")
    add.add_argument("number", metavar="NUMBER", help="the number in E.164 form, e.g. +14155550123")
    add.add_argument("--note", metavar="TEXT", help="why, up to 200 characters (e.g. replied STOP)")
    remove = actions.add_parser("remove", help="take a number off the list: it may be texted again")
    remove.add_argument("number", metavar="NUMBER", help="the number in E.164 form")
    pause = commands.add_parser("pause", help="stop every send of every process sharing the state, at once")
    pause.add_argument("--reason", metavar="TEXT", help="why: every refused send says it")
    resume = commands.add_parser("resume", help="lift the pause")
    for action in (listing, add, remove, pause, resume):
        action.add_argument("--tenant", metavar="NAME", help="the tenant whose state, with SMSAI_TENANTS_FILE")
        action.add_argument(
            "--sandbox", action="store_true", default=argparse.SUPPRESS, help="the state of `smsai-mcp --sandbox`"
        )


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
    import argparse

    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"a message id is a whole number from 1, not {raw!r}")
    return int(raw)


def _configure_logging() -> None:
    # stdout carries the protocol, so every log line goes to stderr.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    # Nothing is left to free once the process ends: the collection Python runs at exit took over a second.
    atexit.register(gc.freeze)
    args = _arguments(argv)
    if args.command is None and args.transport == "stdio":
        # A start allocates much and frees little: its collections were a few percent of it. They are back on once
        # the tools are listed (serve.py), and the start's garbage is collected once, before the heap is frozen.
        gc.disable()
    from smsai_mcp.config import ConfigError, Settings

    _configure_logging()
    try:
        if args.command == "sandbox":
            from smsai_mcp.serve import serve_sandbox_alone

            return serve_sandbox_alone(args.host, args.port)
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
        if args.command in ("opt-outs", "pause", "resume") and args.sandbox:
            from smsai_mcp.runtime import sandbox_settings

            settings = sandbox_settings(settings)  # a sandbox server keeps its state apart from the real account's
        if args.command == "opt-outs":
            from smsai_mcp.opt_outs_cli import OptOutCommand, run_opt_outs

            command = OptOutCommand(args.opt_outs_command, getattr(args, "number", None), getattr(args, "note", None))
            return run_opt_outs(command, tenant=args.tenant, settings=settings)
        if args.command in ("pause", "resume"):
            from smsai_mcp.pause_cli import run_pause, run_resume

            if args.command == "pause":
                return run_pause(args.reason, tenant=args.tenant, settings=settings)
            return run_resume(tenant=args.tenant, settings=settings)
        from smsai_mcp.serve import serve_mcp

        return serve_mcp(settings, transport=args.transport, host=args.host, port=args.port, sandbox=args.sandbox)
    except ConfigError as exc:
        sys.stderr.write(f"smsai-mcp: invalid configuration: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        gc.enable()
