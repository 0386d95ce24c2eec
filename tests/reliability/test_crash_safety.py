"""Crash safety: SIGKILL during writes, a full disk, read-only folders and files.

The promise (issue 10): whatever happens mid-write, every file the tray writes parses and
holds either the old or the new version, the history repository stays readable, and a
failed write says why, leaves the old file as it was and leaves no half-written file.

- `test_sigkill_during_writes`: `crash_writer.py` saves one file over and over through
  the real code path (PresetStore.save, LoadProfileStore.save, SettingsService.update,
  McpLockdown.lockdown) and is SIGKILLed after a random delay, `LMSTRAY_CRASH_KILLS`
  times in all (100 by default, 1000 in the dedicated run). After each kill the file is
  read with the app's own reader and must be the last acknowledged version or the next;
  the next writer must work (no stale lock wedges the history); at the end dulwich reads
  every object and commit, `git fsck --full` agrees, and the MCP lockdown still restores
  the user's original file.
- Disk full: a 64 KiB tmpfs filled to the last byte (root), else a file-size limit
  (RLIMIT_FSIZE) in a child process.
- Read-only: `chattr +i` on the folder or the file as root (chmod does not stop root),
  chmod 0o555 otherwise.

The random seed is printed; `LMSTRAY_CRASH_SEED` replays a run.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from crash_writer import (
    MODEL_KEY,
    PRESET_KEY,
    Layout,
    mcp_source,
    mcp_version,
    preset_version,
    profile_version,
    seed,
    settings_version,
)
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo
from reliability_budget import CRASH_KILLS

from tray.core.errors import FileWriteError, TrayError
from tray.core.load_profiles import LoadProfile
from tray.core.presets import Preset, sha256_of
from tray.services.files import read_bytes
from tray.services.history import FileHistory
from tray.services.load_profile_store import LoadProfileStore
from tray.services.mcp_lockdown import McpLockdown
from tray.services.preset_store import PresetStore
from tray.services.settings_store import SettingsService, SettingsStore

WRITER = Path(__file__).with_name("crash_writer.py")
KINDS = ["preset", "profile", "settings", "mcp"]
MAX_DELAY_US = 150_000  # a few saves' worth: kills land anywhere in a save, and between
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --- SIGKILL ---------------------------------------------------------------------------


def _acked(layout: Layout) -> int:
    try:
        lines = layout.acks.read_text().split()
    except FileNotFoundError:
        return 0
    return int(lines[-1]) if lines else 0


def _check_version(kind: str, layout: Layout, floor: int) -> int:
    """The file holds version `floor` (the last acknowledged save, or what the killed
    writer found on disk when it started) or the one after (replaced just before the
    kill, the ack not yet written). Returns the version found."""
    if kind == "mcp":
        n, locked = mcp_version(layout)
        # locked n / n+1, or the editor's unlocked n+1 whose lockdown was cut short
        # (a writer killed before its first step leaves an unlocked file as it was)
        assert n in (floor, floor + 1), (n, locked, floor)
        return n
    read: Callable[[Layout], int] = {
        "preset": preset_version,
        "profile": profile_version,
        "settings": settings_version,
    }[kind]
    n = read(layout)
    assert n in (floor, floor + 1), (kind, n, floor)
    return n


def check_history(repo_dir: Path) -> int:
    """Every object in the store reads and every commit from the branch has a readable
    tree and blobs (dulwich), and `git fsck --full` agrees; returns the commit count."""
    repo = Repo(str(repo_dir))
    try:
        for sha in repo.object_store:
            repo.object_store[sha]  # parses it (raises on a damaged object)
        commits = 0
        todo = [repo.refs[b"refs/heads/main"]]
        seen: set[bytes] = set()
        while todo:
            sha = todo.pop()
            if sha in seen:
                continue
            seen.add(sha)
            commit = repo[sha]
            assert isinstance(commit, Commit)
            tree = repo[commit.tree]
            assert isinstance(tree, Tree)
            for item in tree.items():
                assert isinstance(repo[item.sha], Blob)
            todo.extend(commit.parents)
            commits += 1
    finally:
        repo.close()
    git = shutil.which("git")
    if git:
        fsck = subprocess.run(
            [git, "fsck", "--full", "--no-progress"],
            cwd=repo_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
        assert "error" not in fsck.stderr.lower(), fsck.stderr
    return commits


def _final_save_works(kind: str, layout: Layout) -> None:
    """After all the crashes the store still saves, and the history has what is on disk."""
    history = FileHistory(layout.history_dir)
    if kind == "preset":
        store = PresetStore(layout.presets, history)
        data = read_bytes(layout.preset_file)
        preset = Preset.parse(data, origin=layout.preset_file.name)
        preset.set_key(PRESET_KEY, "version 999999")
        store.save(preset, expected_sha256=sha256_of(data))
        path = layout.preset_file
    elif kind == "profile":
        LoadProfileStore(layout.profiles, history).save(
            LoadProfile(context_length=999_999), MODEL_KEY
        )
        path = LoadProfileStore(layout.profiles).path_for(MODEL_KEY)
    elif kind == "settings":
        service = SettingsService(SettingsStore(layout.settings_file))
        assert service.problem is None
        service.update(lambda s: setattr(s.quick_chat, "preset", "final"))
        assert SettingsStore(layout.settings_file).load().quick_chat.preset == "final"
        return  # settings are not versioned
    else:
        lockdown = McpLockdown(history=history, state_dir=layout.state)
        record = lockdown.record()
        assert record is not None, "the lock record was lost"
        history.read(layout.mcp_file, record.before_commit or "")
        # "Nothing lost": restore gives back the user's file from before the first lockdown.
        asyncio.run(lockdown.restore())
        assert read_bytes(layout.mcp_file) == mcp_source(0)
        path = layout.mcp_file
    last = history.versions(path)[0]
    assert history.read(path, last.commit) == read_bytes(path)


@pytest.fixture
def zygote(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(kind: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), kind, str(tmp_path / kind)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=60)


@pytest.mark.parametrize("kind", KINDS)
def test_sigkill_during_writes(
    kind: str, tmp_path: Path, zygote: Callable[[str], subprocess.Popen[str]]
) -> None:
    layout = Layout(tmp_path / kind)
    seed(layout)
    kills = max(1, CRASH_KILLS // len(KINDS))
    rng_seed = int(os.environ.get("LMSTRAY_CRASH_SEED", random.randrange(2**32)))
    rng = random.Random(rng_seed)
    proc = zygote(kind)
    assert proc.stdin is not None and proc.stdout is not None
    found = 0
    for _ in range(kills):
        proc.stdin.write(f"kill {rng.randrange(MAX_DELAY_US)}\n")
        proc.stdin.flush()
        answer = proc.stdout.readline().strip()
        error = layout.workdir / "child-error.txt"
        assert answer == "killed", error.read_text() if error.exists() else answer
        found = _check_version(kind, layout, max(found, _acked(layout)))
    proc.stdin.write("quit\n")
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    writes = _acked(layout)
    commits = check_history(layout.history_dir)
    _final_save_works(kind, layout)
    check_history(layout.history_dir)
    leftovers = [p.name for p in layout.workdir.rglob("*") if p.name.endswith((".tmp", ".lock"))]
    print(
        f"\n{kind}: {kills} SIGKILLs (seed {rng_seed}), {writes} completed saves, "
        f"{commits} history commits readable, leftover temp/lock files: {len(leftovers)}"
    )


# --- full disk --------------------------------------------------------------------------


def _no_temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".tmp")]


def _fill(folder: Path) -> None:
    """Fill the file system of `folder` to the last byte."""
    for name, size in (("filler", 4096), ("filler-tail", 1)):
        try:
            with open(folder / name, "wb", buffering=0) as f:
                while True:
                    f.write(b"\0" * size)
        except OSError:
            pass


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs needs root; test_file_size_limit covers the write path")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full(small_disk: Path, tmp_path: Path) -> None:
    history = FileHistory(small_disk / "history")
    presets = PresetStore(small_disk / "config-presets", history)
    first = presets.create("Full disk")
    profiles = LoadProfileStore(small_disk / "load-profiles", history)
    profiles.save(LoadProfile(context_length=4096), MODEL_KEY)
    settings = SettingsService(SettingsStore(small_disk / "settings.json"))
    settings.update(lambda s: setattr(s.quick_chat, "preset", "before"))
    preset_path = small_disk / "config-presets" / (first.origin or "")
    profile_path = profiles.path_for(MODEL_KEY)
    before = {p: p.read_bytes() for p in (preset_path, profile_path, small_disk / "settings.json")}
    _fill(small_disk)

    edited = presets.load_path(preset_path)
    edited.set_key(PRESET_KEY, "a long system prompt " * 200)
    problems: list[TrayError] = []
    for attempt in (
        lambda: presets.save(edited, expected_sha256=sha256_of(before[preset_path])),
        lambda: profiles.save(LoadProfile(context_length=8192, identifier="x" * 150), MODEL_KEY),
        lambda: settings.update(lambda s: setattr(s.quick_chat, "preset", "after" * 2000)),
    ):
        with pytest.raises(FileWriteError) as caught:
            attempt()
        problems.append(caught.value)
    for problem in problems:
        # The history write (on the same full disk) may be what fails first: both say so.
        assert "disk is full" in problem.message or "No space left" in problem.message, (
            problem.message
        )
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path.name} changed on a full disk"
    assert settings.settings.quick_chat.preset == "before"  # memory unchanged too
    assert _no_temp_files(small_disk) == []
    check_history(small_disk / "history")
    # Space comes back: the next save works and the history catches up.
    (small_disk / "filler").unlink()
    presets.save(edited, expected_sha256=sha256_of(before[preset_path]))
    assert presets.load_path(preset_path).get_key(PRESET_KEY).startswith("a long")
    check_history(small_disk / "history")


_FSIZE_CHILD = """
import resource, signal, sys
from pathlib import Path
from tray.core.errors import FileWriteError
from tray.services.files import atomic_write
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG, not a signal
target = Path(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
try:
    atomic_write(target, b"x" * 4096)
except FileWriteError as exc:
    print("refused:", exc.message)
else:
    print("written")
"""


def test_file_size_limit(tmp_path: Path) -> None:
    """The same write path without root: a child whose files may not grow past 1 KiB
    (RLIMIT_FSIZE) tries to save 4 KiB — like a disk that fills up during the write."""
    target = tmp_path / "settings.json"
    target.write_bytes(b'{"old": true}\n')
    done = subprocess.run(
        [sys.executable, "-c", _FSIZE_CHILD, str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused:"), done.stdout
    assert "previous version is unchanged" in done.stdout
    assert target.read_bytes() == b'{"old": true}\n'
    assert _no_temp_files(tmp_path) == []


# --- read-only folders and files --------------------------------------------------------


@pytest.fixture
def freeze() -> Iterator[Callable[[Path], None]]:
    """Make a folder or file unwritable even for root (chattr +i), else chmod a-w."""
    frozen: list[tuple[Path, int]] = []

    def apply(path: Path) -> None:
        mode = path.stat().st_mode & 0o7777
        frozen.append((path, mode))
        if IS_ROOT:
            done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
            if done.returncode != 0:
                pytest.skip("root, and chattr +i does not work on this file system")
        else:
            path.chmod(mode & ~0o222)

    yield apply
    for path, mode in reversed(frozen):
        if IS_ROOT:
            subprocess.run(["chattr", "-i", str(path)], check=False)
        path.chmod(mode)


@pytest.mark.parametrize("what", ["folder", "file"])
def test_read_only(what: str, tmp_path: Path, freeze: Callable[[Path], None]) -> None:
    history = FileHistory(tmp_path / "history")
    presets = PresetStore(tmp_path / "config-presets", history)
    created = presets.create("Read only")
    preset_path = tmp_path / "config-presets" / (created.origin or "")
    settings_path = tmp_path / "settings" / "settings.json"
    settings = SettingsService(SettingsStore(settings_path))
    settings.update(lambda s: setattr(s.quick_chat, "preset", "before"))
    profiles = LoadProfileStore(tmp_path / "load-profiles", history)
    profiles.save(LoadProfile(context_length=4096), MODEL_KEY)
    profile_path = profiles.path_for(MODEL_KEY)
    mcp = tmp_path / "lmstudio" / "mcp.json"
    mcp.parent.mkdir()
    mcp.write_bytes(mcp_source(1))
    targets = [preset_path, settings_path, profile_path, mcp]
    before = {p: (p.read_bytes(), p.stat().st_mode) for p in targets}
    for path in targets:
        freeze(path.parent if what == "folder" else path)

    data = read_bytes(preset_path)
    edited = Preset.parse(data, origin=preset_path.name)
    edited.set_key(PRESET_KEY, "changed")
    lockdown = McpLockdown(history=history, state_dir=tmp_path / "state")
    attempts: list[Callable[[], object]] = [
        lambda: presets.save(edited, expected_sha256=sha256_of(data)),
        lambda: settings.update(lambda s: setattr(s.quick_chat, "preset", "after")),
        lambda: profiles.save(LoadProfile(context_length=8192), MODEL_KEY),
        lambda: asyncio.run(lockdown.lockdown(mcp, [])),
    ]
    for attempt in attempts:
        with pytest.raises(FileWriteError) as caught:
            attempt()
        message = caught.value.message
        assert "read-only" in message or "permission denied" in message, message
        assert "unchanged" in message or "not" in message, message
    for path, (content, mode) in before.items():
        assert path.read_bytes() == content, f"{path.name} changed"
        assert path.stat().st_mode == mode, f"{path.name}: mode changed"
    assert lockdown.record() is None, "a lock record for a lockdown that did not happen"
    assert settings.settings.quick_chat.preset == "before"
    assert _no_temp_files(tmp_path) == []
    check_history(tmp_path / "history")
