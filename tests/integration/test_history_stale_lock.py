"""A writer killed while moving the history's branch leaves git's `main.lock` behind;
dulwich then refused every later commit (an untyped FileLocked). Found by
tests/reliability/test_crash_safety.py; pinned here for the normal suite."""

from __future__ import annotations

from pathlib import Path

from tray.services.history import FileHistory


def test_a_stale_ref_lock_does_not_wedge_the_history(tmp_path: Path) -> None:
    history = FileHistory(tmp_path / "history")
    target = tmp_path / "a.json"
    target.write_text('{"v": 1}\n')
    history.record(target, "one")
    lock = tmp_path / "history" / "refs" / "heads" / "main.lock"
    lock.write_bytes(b"0" * 40 + b"\n")  # what a SIGKILL mid-update leaves

    target.write_text('{"v": 2}\n')
    commit = FileHistory(tmp_path / "history").record(target, "two")

    assert not lock.exists()
    assert history.read(target, commit) == b'{"v": 2}\n'
    assert history.versions(target)[0].commit == commit
