"""The whole tray, end to end, for quick chat, MCP lockdown and the history of presets:
the real TrayApp against a simulated LM Studio on a real display with a real tray host,
driven by real key presses and clicks (xdotool), with outside changes made by other
processes."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aio import run  # tests/ui/aio.py
from app_driver import AppDriver  # tests/ui/app_driver.py
from PySide6.QtWidgets import QAbstractButton, QApplication, QMessageBox
from sample_files import MCP, PRESET  # tests/ui/sample_files.py
from screen import x11

from tray.core.status import ServerState
from tray.simulator import Reply, Simulator

pytestmark = pytest.mark.ui


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setenv("HOME", str(tmp_path))  # fake lms, history and state dirs land here
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=400) as simulator:
        simulator.state.load("qwen/qwen3-4b")
        yield simulator


@pytest.fixture
def driver(loop: asyncio.AbstractEventLoop, sim: Simulator, tmp_path: Path) -> AppDriver:
    return AppDriver(sim, tmp_path)


def write_elsewhere(path: Path, text: str) -> None:
    """Another program running as the user: read-only does not stop it (chmod, write)."""
    code = (
        "import os, sys; p = sys.argv[1]; os.chmod(p, 0o600); "
        "open(p, 'w', encoding='utf-8').write(sys.argv[2])"
    )
    subprocess.run([sys.executable, "-c", code, str(path), text], check=True)


def accept_button(box: QMessageBox) -> QAbstractButton:
    """The button that says yes (our `confirm` names it after the action)."""
    role = QMessageBox.ButtonRole.AcceptRole
    return next(b for b in box.buttons() if box.buttonRole(b) == role)


def test_the_hotkey_opens_quick_chat_which_streams_an_answer_and_esc_hides_it(
    loop: asyncio.AbstractEventLoop, driver: AppDriver, sim: Simulator
) -> None:
    async def scenario() -> None:
        sim.state.next_reply = Reply(text="Hello from the **loaded** model.")
        async with driver:
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running")
            await driver.wait(
                driver.hotkey_registered,
                "the hotkey registered",
            )
            x11("xdotool", "key", "ctrl+alt+space")
            window = await driver.popup("the quick-chat popup")
            await driver.wait(
                lambda: QApplication.focusWidget() is window.input, "the focus in the input"
            )
            assert window.model_combo.currentText().startswith("qwen/qwen3-4b")

            x11("xdotool", "type", "--delay", "5", "Say hello")
            x11("xdotool", "key", "Return")
            await driver.wait(lambda: "loaded" in window.answer and not window.busy, "answer")
            assert ("POST", "/api/v1/chat") in [(m, p) for m, p, _auth in sim.state.requests]

            x11("xdotool", "key", "Escape")
            await driver.wait(lambda: not window.isVisible(), "the popup to hide")
            # shown again: the conversation is still there
            x11("xdotool", "key", "ctrl+alt+space")
            await driver.wait(window.isVisible, "the popup again")
            assert "loaded" in window.answer
            x11("xdotool", "key", "Escape")
            await driver.wait(lambda: not window.isVisible(), "the popup to hide again")

    run(loop, scenario())


def test_lock_down_mcp_json_from_the_menu_notice_a_change_and_restore(
    loop: asyncio.AbstractEventLoop,
    driver: AppDriver,
    sim: Simulator,
    publish_screenshot: Callable[..., Path],
) -> None:
    mcp = sim.home / "mcp.json"
    original = json.dumps(MCP, indent=2)
    mcp.write_text(original)
    os.chmod(mcp, 0o644)

    async def scenario() -> None:
        async with driver:
            app = driver.app
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running")
            await driver.open_menu()
            submenu = await driver.hover(driver.menu, driver.find(driver.menu, "MCP servers"))
            before = driver.windows()
            await driver.click(submenu, driver.find(submenu, "Lock down now"))
            box = await driver.message_box(before)
            assert "read-only" in (box.text() + box.informativeText())
            driver.click_widget(accept_button(box))
            await driver.wait(
                lambda: json.loads(mcp.read_text()) == {"mcpServers": {}}, "the locked file"
            )
            await driver.wait(lambda: stat.S_IMODE(mcp.stat().st_mode) == 0o400, "read-only")

            # another program changes it behind our back: a notification says so
            write_elsewhere(mcp, json.dumps({"mcpServers": {"evil": {"command": "sh"}}}))
            await driver.wait(
                lambda: any(t == "mcp.json changed while locked" for t, _ in app.notifier.messages),
                "a notification about the change",
            )
            said = next(m for t, m in app.notifier.messages if t.startswith("mcp.json changed"))
            assert "evil" in said
            await driver.wait(
                lambda: any(v.by == "outside" for v in app.history.versions(mcp)),
                "the changed file kept in history",
            )

            # restore from the menu: the file before lockdown, with its permissions
            await driver.open_menu()
            submenu = await driver.hover(driver.menu, driver.find(driver.menu, "MCP servers"))
            before = driver.windows()
            await driver.click(submenu, driver.find(submenu, "Restore the version"))
            box = await driver.message_box(before)
            driver.click_widget(accept_button(box))
            await driver.wait(lambda: mcp.read_text() == original, "the file before lockdown")
            await driver.wait(lambda: stat.S_IMODE(mcp.stat().st_mode) == 0o644, "its mode")

    run(loop, scenario())


def test_a_preset_changed_outside_becomes_a_version_and_the_presets_window_opens(
    loop: asyncio.AbstractEventLoop, driver: AppDriver, sim: Simulator
) -> None:
    folder = sim.home / "config-presets"
    folder.mkdir(parents=True, exist_ok=True)
    preset = folder / "coding.preset.json"
    preset.write_text(json.dumps(PRESET, indent=2))

    async def scenario() -> None:
        async with driver:
            app = driver.app
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running")

            def versions() -> list[object]:
                return app.history.versions(preset)

            await driver.wait(versions, "the first version of the preset")
            changed = dict(PRESET, name="Coding (edited in LM Studio)")
            write_elsewhere(preset, json.dumps(changed, indent=2))
            await driver.wait(
                lambda: any(v.by == "outside" for v in app.history.versions(preset)),
                "a version marked as changed outside the app",
            )
            # the quick chat's preset picker follows the folder
            await driver.wait(
                lambda: (
                    [n for n, _ in app.quick_chat.presets()] == ["Coding (edited in LM Studio)"]
                ),
                "the renamed preset offered to the quick chat",
            )

            await driver.open_menu()
            await driver.click(driver.menu, driver.find(driver.menu, "Presets…"))
            await driver.wait(
                lambda: (
                    app.windows.presets.window is not None
                    and app.windows.presets.window.isVisible()
                ),
                "the Presets window",
            )
            app.windows.presets.window.close()

            await driver.open_menu()
            await driver.click(driver.menu, driver.find(driver.menu, "History…"))
            await driver.wait(
                lambda: (
                    app.windows.history.window is not None
                    and app.windows.history.window.isVisible()
                ),
                "the History window",
            )
            app.windows.history.window.close()

            await driver.open_menu()
            await driver.click(driver.menu, driver.find(driver.menu, "Load profiles…"))
            await driver.wait(
                lambda: (
                    app.windows.profiles.window is not None
                    and app.windows.profiles.window.isVisible()
                ),
                "the Load profiles window",
            )
            app.windows.profiles.window.close()
            # the quick chat says how it would load a model that is not loaded
            await driver.wait(
                lambda: app.quick_chat.describe_load("google/gemma-3-12b").startswith(
                    "load profile: "
                ),
                "the load profile of a downloaded model, in words",
            )

    run(loop, scenario())


def test_asking_with_the_server_stopped_loads_nothing_and_answers_once_it_is_started(
    loop: asyncio.AbstractEventLoop, driver: AppDriver, sim: Simulator
) -> None:
    """The first-ten-minutes bug: with the server stopped, the picker showed the loaded
    model as not loaded and asking ran `lms load` — a second instance, twice the VRAM —
    and the question was never answered after Start server."""
    model = "qwen/qwen3-4b"

    def instances() -> list[str]:
        with sim.state.locked():
            return [i.identifier for i in sim.state.instances.values() if i.model.key == model]

    async def scenario() -> None:
        sim.state.next_reply = Reply(text="Answered after the start.")
        async with driver:
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running")
            await driver.wait(
                driver.hotkey_registered,
                "the hotkey registered",
            )
            sim.stop_api_server()  # LM Studio keeps its models loaded
            await driver.wait(lambda: driver.state() is ServerState.STOPPED, "stopped")

            x11("xdotool", "key", "ctrl+alt+space")
            window = await driver.popup("the quick-chat popup")
            assert "not running" in window.note_label.text()
            assert "(not loaded)" not in window.model_combo.currentText()
            window.model_combo.setCurrentIndex(window.model_combo.findData(model))
            x11("xdotool", "type", "--delay", "5", "Still there?")
            x11("xdotool", "key", "Return")
            await driver.wait(
                window.error_bar.start_server_button.isVisible, "Start server offered"
            )
            assert window.waiting_question == "Still there?"
            assert instances() == [model]  # nothing was loaded

            driver.click_widget(window.error_bar.start_server_button)
            await driver.wait(
                lambda: window.answer == "Answered after the start." and not window.busy,
                "the waiting question answered",
                limit=30,
            )
            assert instances() == [model]
            chats = [p for m, p, _ in sim.state.requests if (m, p) == ("POST", "/api/v1/chat")]
            assert len(chats) == 1
            assert window.transcript.toPlainText().count("Still there?") == 1

    run(loop, scenario())


def test_quit_from_the_menu_asks_about_unsaved_preset_edits_first(
    loop: asyncio.AbstractEventLoop, driver: AppDriver, sim: Simulator
) -> None:
    folder = sim.home / "config-presets"
    folder.mkdir(parents=True, exist_ok=True)
    preset = folder / "coding.preset.json"
    preset.write_text(json.dumps(PRESET, indent=2))

    def question() -> QMessageBox | None:
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
        return next((b for b in boxes if b.isVisible()), None)

    async def quit_and_answer(button: QMessageBox.StandardButton) -> None:
        await driver.open_menu()
        await driver.click(driver.menu, driver.find(driver.menu, "Quit"))
        await driver.wait(lambda: question() is not None, "the unsaved-edits question")
        box = question()
        assert box is not None and "Coding" in box.text()
        driver.click_widget(box.button(button))
        await driver.wait(lambda: question() is None, "the answer taken")

    async def scenario() -> None:
        async with driver:
            app = driver.app
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running")
            await driver.open_menu()
            await driver.click(driver.menu, driver.find(driver.menu, "Presets…"))
            slot = app.windows.presets
            await driver.wait(lambda: slot.window is not None and slot.window.isVisible(), "")
            window = slot.window
            assert window is not None
            await driver.wait(lambda: window.preset_list.count() == 1, "the preset listed")
            window.preset_list.setCurrentRow(0)
            await driver.wait(lambda: window.name_edit.text() == "Coding", "the preset open")
            window.name_edit.setFocus()
            x11("xdotool", "type", "--delay", "5", " 2")
            await driver.wait(lambda: window.name_edit.text() == "Coding 2", "an edit")

            await quit_and_answer(QMessageBox.StandardButton.Cancel)
            await driver.polls(1)  # a poll later: still running, still editing
            assert not app.quit.is_set() and window.isVisible()

            await quit_and_answer(QMessageBox.StandardButton.Discard)
            await driver.wait(app.quit.is_set, "the tray quitting")
            assert json.loads(preset.read_text())["name"] == "Coding"  # nothing saved

    run(loop, scenario())
