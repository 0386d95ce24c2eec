"""The tray's own command line, parsed without importing any command.

`lmstudio-tray` with no command starts the tray, and every millisecond before its icon
shows counts (DESIGN.md §5). The full parser (`tray.cli.build_parser`) imports every command
module and with them httpx, pydantic and the services; this one knows only the options the
tray itself takes and says "not mine" for anything else (a command, --help, --version, a
typo), so the caller falls back to the full parser, which also reports usage errors.

Also here, as cheap as the rest: the exit code each kind of error means (one table for the
CLI and the tray), and the tray's refusal of a `--server` that is not an address or a
`--profile` the settings lack — said before anything shows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from tray.core.errors import TrayError

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "GLOBAL_OPTIONS",
    "exit_code",
    "refuse_bad_options",
    "server_option_error",
    "tray_arguments",
]

# README: 0 success; 1 the server or LM Studio cannot do it (unreachable, token needed, not
# found); 2 usage errors or unreadable input.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

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


def exit_code(error: TrayError) -> int:
    """The exit code for an error (the branches of `tray.core.errors` decide)."""
    from tray.core.errors import ConfigError, InputError, NotFound

    usage = isinstance(error, InputError | ConfigError) and not isinstance(error, NotFound)
    return EXIT_USAGE if usage else EXIT_FAILED


def server_option_error(args: argparse.Namespace) -> TrayError | None:
    """Why `--server` (when given) is not a server address, or None."""
    if args.server is None:
        return None
    from tray.core.errors import InvalidServerUrl
    from tray.core.server_url import parse_server_url

    try:
        parse_server_url(args.server, source="given with --server")
    except InvalidServerUrl as exc:
        return exc
    return None


def refuse_bad_options(args: argparse.Namespace) -> None:
    """Before the tray shows anything: a `--server` that is not an address, or a `--profile`
    the settings do not have, ends the process with a sentence and the CLI's exit code.

    Reading the settings costs an import of pydantic, so it happens only for `--profile`."""
    error = server_option_error(args)
    if error is None and args.profile is not None:
        from tray.core.errors import NotFound
        from tray.services.settings_store import SettingsStore

        try:
            SettingsStore(args.settings).load().find_profile(args.profile)
        except NotFound as exc:
            error = exc
    if error is not None:
        sys.stderr.write(f"lmstudio-tray: {error.title}: {error.message}\n")
        raise SystemExit(exit_code(error))
