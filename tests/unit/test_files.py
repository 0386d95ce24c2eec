"""atomic_write: the old file or the new one, never a mix, and a sentence when it fails."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tray.core.errors import FileParseError, FileWriteError
from tray.services.files import atomic_write, read_json, read_text


def test_writes_creates_folders_and_keeps_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "f.json"
    atomic_write(target, b"one")
    assert target.read_bytes() == b"one"
    target.chmod(0o600)
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]  # no temp file left


def test_a_failing_disk_leaves_the_old_file_intact(tmp_path: Path) -> None:
    """A real failed write: the file-size limit makes write() fail with EFBIG mid-file."""
    target = tmp_path / "preset.json"
    target.write_bytes(b"old content")
    code = f"""
import resource, signal, sys
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
from tray.services.files import atomic_write
from tray.core.errors import FileWriteError
try:
    atomic_write(Path({str(target)!r}), b"x" * 10_000)
except FileWriteError as e:
    print(e); sys.exit(3)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 3, result.stderr
    assert "Could not save" in result.stdout and "previous version is unchanged" in result.stdout
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["preset.json"]


def test_an_impossible_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(FileWriteError, match="Could not save"):
        atomic_write(blocker / "x.json", b"{}")


def test_read_json_reports_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "c.json"
    f.write_text('{\n  "port": 1234,\n  oops\n}')
    with pytest.raises(FileParseError) as info:
        read_json(f)
    assert (info.value.line, info.value.column) == (3, 3)
    assert "line 3, column 3" in info.value.message


def test_bom_and_non_utf8(tmp_path: Path) -> None:
    f = tmp_path / "bom.json"
    f.write_bytes(b"\xef\xbb\xbf" + json.dumps({"a": 1}).encode())
    assert read_json(f) == {"a": 1}
    g = tmp_path / "latin1.txt"
    g.write_bytes(b"caf\xe9")
    with pytest.raises(FileParseError, match="not UTF-8"):
        read_text(g)
