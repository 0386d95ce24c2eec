"""The main UI flows leak no token: the whole tray (AppDriver, real clicks and the real
hotkey) with debug logging on, a made-up LM Studio token in the REAL Secret Service for
the active profile and in `<home>/mcp.json`, against a simulator that requires it.

The flows: wait for "running with auth", open and close Manage tokens…, Copy token (the
clipboard guard), Audit mcp.json…, Lock down now, Restore, and a quick-chat question
(ctrl+alt+space) whose answer streams. Then every file under the test HOME (which holds
the LM Studio home, the app's settings, data and state folders and the captured log), every
object of every git repository there (the history, read through dulwich so packed and
compressed objects are seen) and the captured stdout/stderr are scanned: the token, and its
secret half after the colon, appear only in mcp.json, where the user put it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aio import run  # tests/ui/aio.py
from app_driver import AppDriver  # tests/ui/app_driver.py
from PySide6.QtWidgets import QApplication
from screen import x11
from test_features_app import accept_button  # tests/ui/test_features_app.py

from tray.core.status import ServerState
from tray.services.logs import configure_logging
from tray.services.token_vault import TokenVault
from tray.simulator import Reply, Simulator

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
sys.path.insert(0, str(Path(__file__).parents[1] / "reliability"))
from keyring_probe import secret_service  # tests/integration/keyring_probe.py
from test_no_secret_anywhere import history_objects  # tests/reliability/

pytestmark = [pytest.mark.ui, pytest.mark.keyring, pytest.mark.timeout(180)]

# Made up for this test, in LM Studio's token shape (FORMATS §2.9); not the CLI test's.
TOKEN = "sk-lm-Vb3Kq8Tz:Wp5Ry1Nc7Ue4Hd9Ls2Jm"
SECRET_HALF = TOKEN.partition(":")[2]
NEEDLES = (TOKEN.encode(), SECRET_HALF.encode())
MARKER = "sk-lm-REMOVED-by-LM-Studio-Tray"
QWEN = "qwen/qwen3-4b"


@pytest.fixture
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME and every XDG folder inside the test's folder: whatever the app writes is there."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.delenv("LM_API_TOKEN", raising=False)
    return home


@pytest.fixture
def sim(user_home: Path) -> Iterator[Simulator]:
    with Simulator(user_home / ".lmstudio", auth_token=TOKEN, tokens_per_second=400) as s:
        s.state.load(QWEN)
        yield s


@pytest.fixture
def debug_log(user_home: Path) -> Iterator[Path]:
    """The app's own logging set-up (redacting handler) at DEBUG, written to a file."""
    path = user_home / "tray-debug.log"
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    with path.open("w", encoding="utf-8") as stream:
        handler = configure_logging("debug", stream=stream)
        yield path
        handler.flush()
        root.removeHandler(handler)
    for old in saved[0]:
        root.addHandler(old)
    root.setLevel(saved[1])


def write_mcp(home: Path) -> Path:
    path = home / "mcp.json"
    doc = {
        "mcpServers": {
            "remote": {
                "url": "https://mcp.example.invalid/sse",
                "headers": {"Authorization": f"Bearer {TOKEN}"},
            },
            "fetch": {"command": "uvx", "args": ["mcp-server-fetch"]},
        }
    }
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def scan(root: Path) -> list[str]:
    """Every file under `root` holding the token, and every git object holding it."""
    found = [
        str(p.relative_to(root))
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and any(n in p.read_bytes() for n in NEEDLES)
    ]
    repos = {p.parent for p in root.rglob("HEAD") if (p.parent / "objects").is_dir()}
    for git_dir in sorted(repos):
        for what, raw in history_objects(git_dir):
            if any(n in raw for n in NEEDLES):
                found.append(f"{git_dir.relative_to(root)}: {what}")
    return found


def git_objects(root: Path) -> int:
    repos = {p.parent for p in root.rglob("HEAD") if (p.parent / "objects").is_dir()}
    return sum(1 for git_dir in repos for _ in history_objects(git_dir))


def test_the_main_ui_flows_leak_the_token_nowhere(
    loop: asyncio.AbstractEventLoop,
    user_home: Path,
    sim: Simulator,
    debug_log: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    mcp = write_mcp(sim.home)
    # The scan sees the token where it is, so an empty result later means something.
    assert scan(user_home) == [str(mcp.relative_to(user_home))]

    driver = AppDriver(sim, user_home)
    app = driver.app
    profile = app.env.profile.id
    backend = secret_service()
    backend.set_password(TokenVault.SERVICE, profile, TOKEN)
    sim.state.next_reply = Reply(text="Tokens stay **secret** here.")

    async def scenario() -> None:
        async with driver:
            await driver.wait(
                lambda: driver.state() is ServerState.RUNNING_AUTH, "running with auth"
            )
            # API token → Manage tokens…, then close it.
            await driver.open_menu()
            tokens = await driver.hover(driver.menu, driver.find(driver.menu, "API token"))
            await driver.click(tokens, driver.find(tokens, "Manage tokens"))
            await driver.wait(
                lambda: (
                    app.windows.tokens.window is not None and app.windows.tokens.window.isVisible()
                ),
                "the Tokens window",
            )
            app.windows.tokens.window.close()

            # API token → Copy token: the clipboard holds it (and the guard will clear it).
            await driver.wait(lambda: app.tokens_section.has_token, "the token seen in the vault")
            await driver.open_menu()
            tokens = await driver.hover(driver.menu, driver.find(driver.menu, "API token"))
            await driver.click(tokens, driver.find(tokens, "Copy token"))
            clipboard = QApplication.clipboard()
            await driver.wait(lambda: clipboard.text() == TOKEN, "the token on the clipboard")

            # MCP servers → Audit mcp.json…, then close it.
            await driver.open_menu()
            mcp_menu = await driver.hover(driver.menu, driver.find(driver.menu, "MCP servers"))
            await driver.click(mcp_menu, driver.find(mcp_menu, "Audit mcp.json"))
            dialogs = app.mcp_section.dialogs
            await driver.wait(lambda: any(d.isVisible() for d in dialogs), "the audit dialog")
            for dialog in list(dialogs):
                dialog.close()

            # Lock down, then restore, from the menu.
            await driver.open_menu()
            mcp_menu = await driver.hover(driver.menu, driver.find(driver.menu, "MCP servers"))
            before = driver.windows()
            await driver.click(mcp_menu, driver.find(mcp_menu, "Lock down now"))
            driver.click_widget(accept_button(await driver.message_box(before)))
            await driver.wait(
                lambda: json.loads(mcp.read_text()) == {"mcpServers": {}}, "the locked file"
            )
            await driver.open_menu()
            mcp_menu = await driver.hover(driver.menu, driver.find(driver.menu, "MCP servers"))
            before = driver.windows()
            await driver.click(mcp_menu, driver.find(mcp_menu, "Restore the version"))
            driver.click_widget(accept_button(await driver.message_box(before)))
            await driver.wait(lambda: "remote" in mcp.read_text(), "the file before lockdown")

            # Quick chat with the hotkey: the answer streams (with the token on the wire).
            await driver.wait(
                driver.hotkey_registered,
                "the hotkey registered",
            )
            x11("xdotool", "key", "ctrl+alt+space")
            window = await driver.popup("the quick-chat popup")
            await driver.wait(
                lambda: QApplication.focusWidget() is window.input, "the focus in the input"
            )
            x11("xdotool", "type", "--delay", "5", "Is my token safe?")
            x11("xdotool", "key", "Return")
            await driver.wait(lambda: "secret" in window.answer and not window.busy, "answer")
            x11("xdotool", "key", "Escape")
            await driver.wait(lambda: not window.isVisible(), "the popup to hide")
            clipboard.clear()

    try:
        run(loop, scenario())
    finally:
        if backend.get_password(TokenVault.SERVICE, profile) is not None:
            backend.delete_password(TokenVault.SERVICE, profile)

    # The flows really ran with the token: the simulator saw it on chat requests.
    assert ("POST", "/api/v1/chat") in [(m, p) for m, p, _ in sim.state.requests]
    assert any(auth for _, _, auth in sim.state.requests)

    logging.getLogger().handlers[0].flush()
    out, err = capfd.readouterr()
    log_text = debug_log.read_text(encoding="utf-8")
    assert "DEBUG" in log_text, "debug logging was not on"
    leaks = [where for where, text in (("stdout", out), ("stderr", err)) if SECRET_HALF in text]
    leaks += [f"log: {line}" for line in log_text.splitlines() if SECRET_HALF in line]
    leaks += [p for p in scan(user_home) if p != str(mcp.relative_to(user_home))]
    files = sum(1 for p in user_home.rglob("*") if p.is_file())
    print(
        f"\n[secrets-ui] scanned {files} files under HOME, {git_objects(user_home)} git "
        f"objects, {len(log_text.splitlines())} debug log lines, {len(out) + len(err)} "
        "chars of stdout/stderr"
    )
    assert not leaks, f"the token leaked into: {leaks}"
    # After lockdown + restore the file comes back from history, which keeps a marker
    # where the token was (by design: the user is told to put it back).
    text = mcp.read_text(encoding="utf-8")
    assert TOKEN in text or MARKER in text
