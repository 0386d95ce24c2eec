"""The layering of DESIGN.md §2 is checked mechanically, so breaking it fails the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_contracts_catch_a_violation(tmp_path: Path) -> None:
    """The checker really fails on a core module importing Qt (so the test above can fail)."""
    pkg = tmp_path / "tray"
    (pkg / "core").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "__init__.py").write_text("")
    (pkg / "core" / "bad.py").write_text("import PySide6\nimport httpx\n")
    config = tmp_path / ".importlinter"
    config.write_text(
        "[importlinter]\nroot_package = tray\ninclude_external_packages = True\n\n"
        "[importlinter:contract:core]\nname = core is pure\ntype = forbidden\n"
        "source_modules = tray.core\nforbidden_modules = PySide6\n    httpx\n"
    )
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--config", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "tray.core.bad -> PySide6" in result.stdout


def test_core_and_cli_import_without_qt() -> None:
    """`lmstudio-tray status` must not pay for Qt, and core must not pull it in."""
    code = (
        "import sys; import tray.core.status, tray.core.errors, tray.cli, tray.app; "
        "bad = [m for m in ('PySide6', 'qasync') if m in sys.modules]; "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"imported: {result.stdout} {result.stderr}"
