"""Activity through the real tray: the real TrayApp against a simulated LM Studio (its
fake `lms log stream` tails the simulator's own chat traffic) on a real display with a
real tray host. Rows appear as chats finish; a full context becomes a notification whose
click opens that model's load profile; no `lms` child survives the window closing, the
server stopping or quitting; live activity puts a line in the tooltip."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aio import run  # tests/ui/aio.py
from app_driver import AppDriver  # tests/ui/app_driver.py
from PySide6.QtWidgets import QApplication, QPushButton
from screen import grab_screen

from tray.core.notifications import NoticeKind
from tray.core.status import ServerState
from tray.simulator import Simulator
from tray.ui.activity_section import ACTIVITY_TEXT, LIVE_TEXT

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from process_facts import lms_log_streams  # tests/process_facts.py

pytestmark = pytest.mark.ui

SMALL = "meta-llama-3.1-8b-instruct"


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setenv("HOME", str(tmp_path))  # the fake lms finds this LM Studio
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=400) as simulator:
        simulator.state.load("qwen/qwen3-4b", identifier="q", context_length=8192)
        simulator.state.load(SMALL, identifier="small", context_length=12)
        yield simulator


def chat(sim: Simulator, model: str, text: str) -> dict[str, Any]:
    body = json.dumps({"model": model, "input": text, "stream": False}).encode()
    request = urllib.request.Request(
        sim.base_url + "/api/v1/chat", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def balloon() -> Any:
    for w in QApplication.topLevelWidgets():
        if w.metaObject().className() == "QBalloonTip" and w.isVisible():
            return w
    return None


def test_rows_appear_the_notice_opens_the_profile_and_no_lms_survives(
    loop: asyncio.AbstractEventLoop,
    sim: Simulator,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    driver = AppDriver(sim, tmp_path)
    app = driver.app
    section = app.activity_section
    home = str(tmp_path)

    async def choose(text: str) -> None:
        await driver.open_menu()
        await driver.click(driver.menu, driver.find(driver.menu, text))

    async def streams_ready(*sources: str) -> None:
        await driver.wait(
            lambda: all(s in section.streams and section.streams[s].pid for s in sources),
            f"lms log stream for {sources}",
        )
        await asyncio.sleep(1.2)  # each child has asked where the log ends

    async def scenario() -> None:
        async with driver:
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running")
            assert section.streams == {} and lms_log_streams(home) == []  # not at start-up

            await choose(ACTIVITY_TEXT)
            await driver.wait(lambda: section.window is not None, "the window")
            window = section.window
            assert window is not None
            await driver.wait(window.isVisible, "the window shown")
            await streams_ready("model", "server")
            assert len(lms_log_streams(home)) == 2

            first = await asyncio.to_thread(chat, sim, "q", "What is a tray icon?")
            await asyncio.to_thread(chat, sim, "q", "And a context length?")
            await driver.wait(lambda: window.model.rowCount() == 2, "two rows")
            cells = [window.model.index(0, c).data() for c in range(8)]
            assert cells[1] == "q" and cells[4] == "400.0" and cells[7] == "finished"
            # Enter is Close's, never Clear's: the session is kept
            close = next(b for b in window.findChildren(QPushButton) if b.text() == "Close")
            assert close.isDefault() and not window.clear_button.autoDefault()
            assert not window.export_button.autoDefault()
            oldest = window.model.prediction(1)  # newest first
            assert oldest.prompt_tokens == first["stats"]["input_tokens"]
            assert oldest.output_tokens == first["stats"]["total_output_tokens"]
            assert oldest.input is None  # Show text is off: no text kept
            await driver.wait(lambda: window.summary.rowCount() == 1, "the summary")
            assert window.summary.item(0, 1).text() == "2"
            assert window.log_view.toPlainText().count("Running chat completion") == 2

            # Show text on: the next prompt and completion are kept and shown
            window.show_text.setChecked(True)
            await asyncio.to_thread(chat, sim, "q", "Show me the text")
            await driver.wait(lambda: window.model.rowCount() == 3, "a third row")
            window.table.selectRow(0)
            assert "Show me the text" in window.text.toPlainText()

            # a full context: the notice, and its click opens that model's load profile
            await asyncio.to_thread(chat, sim, "small", "one two three")
            await driver.wait(
                lambda: any(n.kind is NoticeKind.CONTEXT_FULL for n in app.notifier.recent),
                "the context-full notice",
            )
            notice = app.notifier.recent[-1]
            assert notice.message == (
                "small ran out of context (12 tokens); raise its context in its load profile."
            )
            await driver.wait(lambda: balloon() is not None, "the notice on screen")
            await asyncio.sleep(0.5)
            shot = tmp_path / "activity-window.png"
            window.raise_()
            await asyncio.sleep(0.3)
            frame = window.frameGeometry().adjusted(-2, -2, 2, 2)
            screen = grab_screen(shot)
            assert screen.copy(frame.intersected(screen.rect())).save(str(shot))
            driver.click_widget(balloon())
            slot = app.windows.profiles
            await driver.wait(
                lambda: slot.window is not None and slot.window.isVisible(), "load profiles"
            )
            dialog = slot.window
            assert dialog is not None
            await driver.wait(
                lambda: (
                    (item := dialog.list.currentItem()) is not None
                    and item.text().startswith(SMALL)
                ),
                f"{SMALL} selected",
            )
            dialog.close()

            # the window closes (live activity off): both children go, as groups
            window.close()
            await driver.wait(lambda: lms_log_streams(home) == [], "no lms after closing")
            assert section.streams == {}

            # live activity: the model child again, a tooltip line, the busy mark
            await choose(LIVE_TEXT)
            await driver.wait(lambda: app.settings.settings.activity.live, "live saved")
            await streams_ready("model")
            assert len(lms_log_streams(home)) == 1
            await asyncio.to_thread(chat, sim, "q", "Live?")
            await driver.wait(  # the session's five chats so far
                lambda: "5 requests in the last minute" in app.tray.tray.toolTip(), "the line"
            )

            # the server stops: no child (lms log stream would wake LM Studio)
            sim.stop_api_server()
            await driver.wait(lambda: driver.state() is ServerState.STOPPED, "stopped")
            await driver.wait(lambda: lms_log_streams(home) == [], "no lms after the stop")
            await asyncio.sleep(2.5)  # not started again while it is down
            assert lms_log_streams(home) == []

            sim.start_api_server()
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running again")
            await streams_ready("model")
        # quitting with live activity on: nothing left behind
        assert lms_log_streams(home) == []

    run(loop, scenario())
    publish_screenshot(tmp_path / "activity-window.png")
