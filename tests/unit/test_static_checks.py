"""The type checker and the linter run with the suite, so a new error fails it
(pyproject.toml: mypy --strict over the whole package, ruff's rules and formatting)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(sys.executable).parent


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOOLS / command[0]), *command[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=100,
    )


def test_mypy_strict_passes_over_the_whole_package(tmp_path: Path) -> None:
    result = run("mypy", "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_mypy_strict_catches_an_error(tmp_path: Path) -> None:
    """The same configuration fails on an untyped function (so the test above can fail)."""
    (tmp_path / "pyproject.toml").write_text(
        (ROOT / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "tray").mkdir()
    (tmp_path / "tray" / "__init__.py").write_text("")
    (tmp_path / "tray" / "bad.py").write_text("def untyped(x):\n    return x\n")
    result = run("mypy", "--cache-dir", str(tmp_path / "cache"), cwd=tmp_path)
    assert result.returncode != 0
    assert "tray/bad.py:1: error: Function is missing a type annotation" in result.stdout


def test_ruff_lint_and_format_pass() -> None:
    lint = run("ruff", "check", "tray", "tests", "installers")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    form = run("ruff", "format", "--check", "tray", "tests", "installers")
    assert form.returncode == 0, form.stdout + form.stderr
