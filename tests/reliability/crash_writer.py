"""The writer that `test_crash_safety.py` kills: saves one file over and over through the
app's real code path, in a process that gets SIGKILLed at a random moment.

Run as a "zygote": `python crash_writer.py KIND WORKDIR`. It imports the app once, then
reads commands from stdin, one per line:

    kill DELAY_US   fork a child that saves version after version of KIND (continuing
                    from what is on disk), SIGKILL it after DELAY_US microseconds, reap
                    it, print "killed"
    quit            exit

Forking from a process that has imported everything makes a round cost a fork, not a
Python start-up, so a thousand kills fit in a few minutes. A child appends the number of
each version to `WORKDIR/acks` (one `os.write` of one short line with O_APPEND: never
torn) after its save returned, so the test knows the last version that was surely
complete: after the kill, the file must hold that version or the next one.

KINDs: `preset` (PresetStore.save), `profile` (LoadProfileStore.save), `settings`
(SettingsService.update), `mcp` (an editor adds a server to mcp.json, then
McpLockdown.lockdown keeps only that one).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from tray.core.load_profiles import LoadProfile
from tray.core.mcp_config import parse_mcp
from tray.core.presets import Preset, sha256_of
from tray.services.files import atomic_write, read_bytes
from tray.services.history import FileHistory
from tray.services.load_profile_store import LoadProfileStore
from tray.services.mcp_lockdown import McpLockdown
from tray.services.preset_store import PresetStore
from tray.services.settings_store import SettingsService, SettingsStore

PRESET_KEY = "llm.prediction.systemPrompt"
MODEL_KEY = "publisher/crash-model"


class Layout:
    """Where each kind's file, history and state live under the work folder."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.history_dir = workdir / "history"
        self.presets = workdir / "config-presets"
        self.preset_file = self.presets / "crash.preset.json"
        self.profiles = workdir / "load-profiles"
        self.settings_file = workdir / "settings" / "settings.json"
        self.mcp_file = workdir / "lmstudio" / "mcp.json"
        self.state = workdir / "state"
        self.acks = workdir / "acks"


# --- versions: what version N of each file holds, and which N a file holds -----------------


def preset_version(layout: Layout) -> int:
    text = (
        PresetStore(layout.presets, FileHistory(layout.history_dir))
        .load_path(layout.preset_file)
        .get_key(PRESET_KEY)
    )
    return int(str(text).removeprefix("version "))


def profile_version(layout: Layout) -> int:
    found = LoadProfileStore(layout.profiles, None).for_model(MODEL_KEY)
    assert found is not None and found.context_length is not None
    return found.context_length - 1000


def settings_version(layout: Layout) -> int:
    store = SettingsStore(layout.settings_file)
    settings = store.load()
    assert store.problem is None, store.problem
    return int((settings.quick_chat.preset or "v0").removeprefix("v"))


def mcp_version(layout: Layout) -> tuple[int, bool]:
    """(N, locked): locked files hold only `srv-N`; the editor's step adds `other`."""
    doc = parse_mcp(read_bytes(layout.mcp_file))
    names = sorted(s.name for s in doc.servers)
    numbered = [n for n in names if n.startswith("srv-")]
    assert len(numbered) == 1, names
    return int(numbered[0].removeprefix("srv-")), names == numbered


def mcp_source(n: int) -> bytes:
    doc = {
        "mcpServers": {
            f"srv-{n}": {"command": "npx", "args": ["-y", f"@example/server-{n}@1.0.{n}"]},
            "other": {"url": "https://mcp.example.com/mcp"},
        }
    }
    return json.dumps(doc, indent=2).encode()


def seed(layout: Layout) -> None:
    """Version 0 of every file, written once before the first kill."""
    history = FileHistory(layout.history_dir)
    layout.presets.mkdir(parents=True, exist_ok=True)
    preset = Preset.new("Crash")
    preset.set_key(PRESET_KEY, "version 0")
    atomic_write(layout.preset_file, preset.to_bytes())
    LoadProfileStore(layout.profiles, history).save(LoadProfile(context_length=1000), MODEL_KEY)
    SettingsService(SettingsStore(layout.settings_file)).update(
        lambda s: setattr(s.quick_chat, "preset", "v0")
    )
    atomic_write(layout.mcp_file, mcp_source(0))
    asyncio.run(
        McpLockdown(history=history, state_dir=layout.state).lockdown(layout.mcp_file, ["srv-0"])
    )


# --- the write loops ---------------------------------------------------------------------


def _ack(layout: Layout, n: int) -> None:
    fd = os.open(layout.acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{n}\n".encode())
    finally:
        os.close(fd)


def write_forever(kind: str, layout: Layout) -> None:
    history = FileHistory(layout.history_dir)
    if kind == "preset":
        store = PresetStore(layout.presets, history)
        n = preset_version(layout)
        while True:
            n += 1
            data = read_bytes(layout.preset_file)
            preset = Preset.parse(data, origin=layout.preset_file.name)
            preset.set_key(PRESET_KEY, f"version {n}")
            store.save(preset, expected_sha256=sha256_of(data))
            _ack(layout, n)
    elif kind == "profile":
        profiles = LoadProfileStore(layout.profiles, history)
        n = profile_version(layout)
        while True:
            n += 1
            profiles.save(LoadProfile(context_length=1000 + n, parallel=1 + n % 4), MODEL_KEY)
            _ack(layout, n)
    elif kind == "settings":
        service = SettingsService(SettingsStore(layout.settings_file))
        assert service.problem is None, service.problem
        n = settings_version(layout)
        while True:
            n += 1
            service.update(lambda s, n=n: setattr(s.quick_chat, "preset", f"v{n}"))
            _ack(layout, n)
    elif kind == "mcp":
        lockdown = McpLockdown(history=history, state_dir=layout.state)
        n, _locked = mcp_version(layout)

        async def loop(n: int) -> None:
            while True:
                n += 1
                atomic_write(layout.mcp_file, mcp_source(n))  # the user's editor
                await lockdown.lockdown(layout.mcp_file, [f"srv-{n}"])
                _ack(layout, n)

        asyncio.run(loop(n))
    else:
        raise SystemExit(f"unknown kind {kind!r}")


def zygote(kind: str, layout: Layout) -> None:
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "quit":
            return
        if command != "kill":
            raise SystemExit(f"unknown command {line!r}")
        pid = os.fork()
        if pid == 0:  # the child: write until killed
            try:
                write_forever(kind, layout)
            except BaseException as exc:  # a failing write is a test failure: say it
                with open(layout.workdir / "child-error.txt", "a") as f:
                    f.write(f"{type(exc).__name__}: {exc}\n")
            finally:
                os._exit(3)
        time.sleep(int(arg) / 1_000_000)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        print("killed" if killed else f"exited {status}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        seed(Layout(Path(sys.argv[2])))
    else:
        zygote(sys.argv[1], Layout(Path(sys.argv[2])))
