"""The wheel carries what an installed copy needs: icons (for the tray) and the simulator
(for --demo), and declares the `lmstudio-tray` entry point."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contents(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = tmp_path.glob("lmstudio_tray-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    icons = {Path(n).name for n in names if n.startswith("tray/resources/icons/")}
    for state in ("running", "stopped", "auth-required", "unreachable", "demo-badge"):
        assert f"{state}.svg" in icons
    assert "tray/simulator/lms_cli.py" in names
    assert "tray/simulator/__main__.py" in names
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "lmstudio-tray = tray.app:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert not any("/tests/" in n or n.startswith("tests/") for n in names)
