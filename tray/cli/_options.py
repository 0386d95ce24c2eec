"""The tray's own command line, parsed without importing any command.

`lmstudio-tray` with no command starts the tray, and every millisecond before its icon
shows counts (DESIGN.md §5). The full parser (`tray.cli.build_parser`) imports every command
module and with them httpx, pydantic and the services; this one knows only the options the
tray itself takes and says "not mine" for anything else (a command, --help, --version, a
typo), so the caller falls back to the full parser, which also reports usage errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["GLOBAL_OPTIONS", "tray_arguments"]

# The options every command and the tray take: (flag, argparse keywords). The full parser
# (`tray.cli._common.add_global_options`) and `tray_arguments` both build from this table.
GLOBAL_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "--server",
        {
            "metavar": "URL",
            "default": None,
            "help": "LM Studio server URL (default: from settings, else LM Studio's own)",
        },
    ),
    (
        "--home",
        {
            "metavar": "DIR",
            "type": Path,
            "default": None,
            "help": "LM Studio home folder (default: found as LM Studio finds it)",
        },
    ),
    (
        "--lms",
        {
            "metavar": "PATH",
            "type": Path,
            "default": None,
            "help": "the lms executable (default: settings, PATH, <home>/bin/lms)",
        },
    ),
    (
        "--profile",
        {
            "metavar": "ID",
            "default": None,
            "help": "the server profile to use (default: the active one in Settings)",
        },
    ),
    (
        "--json",
        {"action": "store_true", "default": False, "help": "print one JSON document on stdout"},
    ),
    (
        "--log-level",
        {
            "default": "warning",
            "choices": ["debug", "info", "warning", "error"],
            "help": "log to stderr",
        },
    ),
    # tests and power users: another settings file
    ("--settings", {"metavar": "FILE", "type": Path, "default": None, "help": argparse.SUPPRESS}),
]


class _NotMine(Exception):
    pass


class _QuietParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _NotMine(message)


def tray_arguments(argv: list[str]) -> argparse.Namespace | None:
    """The arguments for the tray when `argv` is nothing but tray options, else None.

    The options and defaults are those of the full parser (`tray.cli._common.
    add_global_options` plus --demo) and a unit test keeps the two the same."""
    parser = _QuietParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--self-test", action="store_true")  # main() acts on it first
    for flag, keywords in GLOBAL_OPTIONS:
        parser.add_argument(flag, **keywords)
    try:
        args, rest = parser.parse_known_args(argv)
    except _NotMine:
        return None
    if rest:
        return None
    args.subcommand = None
    return args
