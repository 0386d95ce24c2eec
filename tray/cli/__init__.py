"""The command line: the same services as the tray, for scripts and headless checks.

Text by default, exactly one JSON document on stdout with `--json`. Exit codes:
0 success; 1 the server or LM Studio cannot do it (unreachable, auth, not found);
2 usage errors or unreadable input.

Each command lives in its own module here with a `register(subparsers)` function that
adds its parser and sets `command=Command(handler, render)`, and an optional `ORDER` for
its place in --help; modules are found by name, so adding a command touches no other file.

Importing this package is cheap (the tray starts through it): httpx and the command
modules are imported only when a parser is built or a command runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tray import __version__
from tray.cli._options import refuse_bad_options, tray_arguments

__all__ = ["build_parser", "main", "reader_gone", "refuse_bad_options", "run", "tray_arguments"]


def build_parser() -> argparse.ArgumentParser:
    import pkgutil

    from tray.cli._common import add_global_options

    parser = argparse.ArgumentParser(
        prog="lmstudio-tray",
        description="LM Studio Tray: a system-tray companion for LM Studio. "
        "Without a command it starts the tray; commands print text or --json.",
        epilog="API tokens are read from LM_API_TOKEN (or LMSTUDIO_API_TOKEN) when set.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start the tray with a built-in simulated LM Studio (no LM Studio needed); "
        "before a COMMAND, run it against the demo that is running",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation (Qt, tray, icons, keyring, LM Studio) and exit; "
        "exit 1 on a failure",
    )
    add_global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="subcommand", metavar="COMMAND")
    modules = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
    # A module's ORDER places its commands in --help (most used first).
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 50), m.__name__)):
        module.register(sub)
    return parser


async def _run(args: argparse.Namespace) -> int:
    import json

    import httpx

    from tray.cli._common import Context, error_doc, exit_code
    from tray.core.errors import TrayError

    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0)) as http:
        code: int
        try:
            ctx = Context(args, http)
            doc, code = await args.command.handler(ctx, args)
        except TrayError as exc:
            code, doc = exit_code(exc), error_doc(exc)
            if not args.json:
                print(f"{exc.title}: {exc.message}", file=sys.stderr)
                return code
    if args.command.streams:
        return code
    text = json.dumps(doc, indent=2) if args.json else args.command.render(doc)
    try:
        print(text)
        sys.stdout.flush()  # now, so that a reader who has gone is noticed here
    except BrokenPipeError:
        reader_gone()
    return code  # the command's own outcome, whether or not all of it was read


def reader_gone() -> None:
    """The reader of our output stopped early (`lmstudio-tray models | head -1`): say
    nothing more. What is still buffered goes to the null device, so that the interpreter's
    last flush does not complain either (the recipe in Python's `signal` docs, "Note on
    SIGPIPE"; SIGPIPE itself stays ignored, as it must with sockets open)."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):
            continue
    os.close(devnull)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from tray.cli._common import EXIT_FAILED
    from tray.services.logs import configure_logging, install_crash_redaction

    configure_logging(args.log_level)  # every line redacted: no token reaches a log
    install_crash_redaction()
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # stdout or stderr closed while the command was still at work
        reader_gone()
        return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    from tray.cli._common import EXIT_USAGE

    args = build_parser().parse_args(argv)
    if args.subcommand is None:
        build_parser().print_help()
        return EXIT_USAGE
    return run(args)
