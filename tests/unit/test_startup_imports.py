"""Start-up is an import budget (DESIGN.md §5, docs/benchmarks.md): the tray's icon shows
before httpx, pydantic, keyring, dulwich, watchfiles, qasync or asyncio are imported, and
the light parser that makes this possible agrees with the full command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tray.cli import build_parser, tray_arguments

HEAVY = ("httpx", "pydantic", "keyring", "dulwich", "watchfiles", "qasync", "asyncio")


def test_the_path_to_the_icon_imports_nothing_heavy() -> None:
    code = (
        "import sys; import tray.app, tray.cli, tray.ui.startup_icon, tray.services.logs; "
        f"bad = [m for m in {HEAVY!r} if m in sys.modules]; "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"imported before the icon: {result.stdout} {result.stderr}"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--demo"],
        ["--server", "http://127.0.0.1:1234", "--home", "/x/.lmstudio", "--lms", "/x/lms"],
        ["--profile", "work", "--log-level", "debug", "--settings", "/x/settings.json"],
        ["--json", "--server=http://h:1"],
    ],
)
def test_tray_options_parse_as_the_full_parser_does(argv: list[str]) -> None:
    light = tray_arguments(argv)
    assert light is not None
    full = build_parser().parse_args(argv)
    assert vars(light) == vars(full)


@pytest.mark.parametrize(
    "argv",
    [
        ["models"],
        ["--json", "status"],
        ["--server", "http://h:1", "status"],
        ["--help"],
        ["-h"],
        ["--version"],
        ["--log-level", "loud"],
        ["--serv", "http://h:1"],  # an abbreviation: the full parser decides
        ["--no-such-option"],
    ],
)
def test_anything_else_goes_to_the_full_parser(argv: list[str]) -> None:
    assert tray_arguments(argv) is None


def test_every_global_option_is_known_to_the_light_parser() -> None:
    """A global option added to the CLI must reach the tray too (or be left out on purpose)."""
    full = build_parser()
    options = {s for a in full._actions for s in a.option_strings if s.startswith("--")}
    options -= {"--help", "--version"}
    for option in sorted(options):
        action = next(a for a in full._actions if option in a.option_strings)
        argv = [option] if action.nargs == 0 else [option, _value_for(action.dest)]
        assert tray_arguments(argv) is not None, f"{option} is not a tray option"


def _value_for(dest: str) -> str:
    return "debug" if dest == "log_level" else str(Path("/x"))
