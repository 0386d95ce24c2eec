"""The quick-chat popup against the simulator on the real X display: shown near the
pointer with the input focused, a 2,000 tokens/s stream rendered completely while the
event-loop lag is measured, Stop closing the connection, a follow-up, errors with their
fix; screenshots of each state."""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from aio import run, until  # tests/ui/aio.py
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from sample_files import PRESET  # tests/ui/sample_files.py
from screen import x11  # tests/ui/screen.py

from tray.core.backends import BackendKind, capabilities_for
from tray.core.hotkeys import RegisterResult
from tray.core.inventory import LoadedModelRow
from tray.core.load_profiles import LoadProfile
from tray.core.status import ServerState, ServerStatus
from tray.services.history import FileHistory
from tray.services.lmstudio_client import LmStudioClient
from tray.services.load_profile_store import LoadProfileStore
from tray.services.preset_store import PresetStore
from tray.services.quick_chat import QuickChat
from tray.services.settings_store import SettingsService, SettingsStore
from tray.simulator import Simulator
from tray.simulator.state import Reply
from tray.ui.quick_chat_parts import place_near
from tray.ui.quick_chat_section import QuickChatSection
from tray.ui.quick_chat_window import SEND_TEXT, STOP_TEXT, QuickChatWindow

pytestmark = pytest.mark.ui

QWEN = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-12b"
LMSTUDIO = capabilities_for(BackendKind.LMSTUDIO, lms_available=False)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=2000, load_seconds=0.2) as s:
        # A context the 4,000-word answers fit in: the simulator stops at a full one.
        s.state.load(QWEN, context_length=32768)
        yield s


class World:
    """The popup over a real `QuickChat`: the simulator's models, a load profile and a
    preset on disk, and a status that says QWEN is loaded (as the tray's poll would)."""

    def __init__(self, base_url: str, folder: Path) -> None:
        self.http = httpx.AsyncClient()
        client = LmStudioClient(self.http, base_url)
        history = FileHistory(folder / "history")
        profiles = LoadProfileStore(folder / "load-profiles", history)
        profiles.save(LoadProfile(context_length=8192))
        presets = folder / "config-presets"
        presets.mkdir(parents=True, exist_ok=True)
        (presets / "coding.preset.json").write_text(json.dumps(PRESET), encoding="utf-8")
        self.started: list[bool] = []
        self.tokens_opened: list[bool] = []
        self.copied: list[str] = []
        self.chat = QuickChat(
            client=lambda: client,
            capabilities=lambda: LMSTUDIO,
            models=lambda: None,
            load_profiles=profiles,
            presets=lambda: PresetStore(presets, history),
            start_server=lambda: self.started.append(True),
            open_tokens=lambda: self.tokens_opened.append(True),
        )
        self.chat.set_status(
            ServerStatus(
                url=base_url,
                state=ServerState.RUNNING,
                loaded=(LoadedModelRow(identifier=QWEN, model_key=QWEN),),
            )
        )
        self.service = self.chat.service
        self.window = QuickChatWindow(self.chat, copy_text=self.copied.append, demo=True)
        self.window.hide_on_focus_loss = False  # a test's clicks must not hide it

    async def ready(self) -> None:
        """What the app does when the popup opens: read the models and presets."""
        await self.chat.refresh_downloaded()
        await self.chat.refresh_presets()

    async def close(self) -> None:
        self.service.stop()
        self.window.close()
        self.window.deleteLater()
        await self.http.aclose()


@pytest.fixture
def world(loop: asyncio.AbstractEventLoop, sim: Simulator, tmp_path: Path) -> Iterator[World]:
    w = World(sim.base_url, tmp_path / "world")
    loop.run_until_complete(w.ready())
    yield w
    loop.run_until_complete(w.close())


class LagMeter:
    """How late the event loop runs a 5 ms sleep while a stream renders."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.005)
            self.lags.append(loop.time() - before - 0.005)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._measure())

    async def stop(self) -> str:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        lags = sorted(self.lags)
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        return f"loop lag p50 {statistics.median(lags) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def long_answer(words: int) -> str:
    """Numbered words in paragraphs of 40 with a code block now and then: every token is
    findable in the rendered text."""
    parts: list[str] = []
    for i in range(words):
        parts.append(f"w{i}")
        if i % 40 == 39:
            parts.append("\n\n")
        elif i % 400 == 200:
            parts.append("\n\n```python\nx = 1\n\ny = 2\n```\n\n")
        else:
            parts.append(" ")
    return "".join(parts).strip()


EXAMPLE_CODE = (
    'import json\n\nwith open("settings.json", encoding="utf-8") as f:\n    data = json.load(f)'
)
EXAMPLE = (
    "Use the standard library's **json** module:\n\n"
    f"```python\n{EXAMPLE_CODE}\n```\n\n"
    "- `json.load` reads from an open file, `json.loads` from a string.\n"
    '- Open with `encoding="utf-8"`, so the result does not depend on the locale.'
)


def test_shown_near_the_pointer_with_the_input_focused_and_esc_hides(
    loop: asyncio.AbstractEventLoop,
    world: World,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    window = world.window

    async def scenario() -> None:
        x11("xdotool", "mousemove", "300", "200")
        await until(lambda: QCursor.pos() == QPoint(300, 200), "pointer moved")
        window.show_near_pointer()
        await until(window.isVisible, "shown")
        await until(lambda: QApplication.focusWidget() is window.input, "input focused")
        assert window.pos() == QPoint(312, 212)
        assert window.windowTitle() == "LM Studio Tray — Quick chat — Demo"
        # Loaded model first and preselected; the other says how it would be loaded.
        current = window.current_model()
        assert (
            window.model_combo.itemData(0) == QWEN and current is not None and current.key == QWEN
        )
        assert not window.note_label.isVisible()
        window.model_combo.setCurrentIndex(window.model_combo.findData(GEMMA))
        assert window.model_combo.currentText() == f"{GEMMA}  (not loaded)"
        assert window.note_label.text() == (
            f"{GEMMA} is not loaded: asking will load it first "
            "(load profile: context length 8,192)."
        )
        window.model_combo.setCurrentIndex(0)
        assert [window.preset_combo.itemText(i) for i in range(2)] == ["No preset", "Coding"]
        assert window.grab().save(str(tmp_path / "quick-chat-empty.png"))
        QTest.keyClick(window.input, Qt.Key.Key_Escape)
        await until(lambda: not window.isVisible(), "hidden by Esc")

    run(loop, scenario())
    publish_screenshot(tmp_path / "quick-chat-empty.png")


def test_placement_stays_on_the_pointers_screen() -> None:
    screen = QRect(0, 0, 1280, 1024)
    assert place_near(QPoint(1270, 1000), (560, 480), screen) == QPoint(698, 508)
    assert place_near(QPoint(5, 5), (560, 480), screen) == QPoint(17, 17)
    assert place_near(QPoint(100, 100), (2000, 480), screen).x() == 0


def test_a_2000_tokens_per_second_stream_renders_every_token(
    loop: asyncio.AbstractEventLoop,
    sim: Simulator,
    world: World,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    window = world.window
    costs: dict[int, tuple[float, int]] = {}

    async def stream(words: int, *, screenshot: str | None = None) -> str:
        text = long_answer(words)
        sim.state.next_reply = Reply(text=text, reasoning="Numbers, one by one. " * 20)
        window.new_chat()
        meter = LagMeter()
        meter.start()
        frames, seconds = window.frames, window.render_seconds
        task = window.ask("Count for me")
        assert task is not None and window.send_button.text() == STOP_TEXT
        if screenshot:
            await until(lambda: window.transcript.blocks_rendered >= 3, "answer streaming")
            assert window.thinking.button.isVisible() and not window.thinking.text.isVisible()
            assert window.grab().save(str(tmp_path / screenshot))
        await task
        lag = await meter.stop()
        costs[words] = (window.render_seconds - seconds, window.frames - frames)
        # Every token arrived and is shown, in order.
        assert window.answer == text
        shown = window.transcript.toPlainText()
        at = 0
        for i in range(words):
            at = shown.index(f"w{i}", at)
        assert window.send_button.text() == SEND_TEXT
        return lag

    async def scenario() -> None:
        window.show_near_pointer()
        small = await stream(500)
        big = await stream(4000, screenshot="quick-chat-streaming.png")
        (t1, f1), (t8, f8) = costs[500], costs[4000]
        print(
            f"\n500 tokens: {small}; render {t1 * 1000:.1f} ms in {f1} frames"
            f"\n4000 tokens: {big}; render {t8 * 1000:.1f} ms in {f8} frames"
            f"\nrender cost ratio for 8x the tokens: {t8 / t1:.2f}x (budget 9x)"
        )
        assert window.stats_label.isVisible() and "tok/s" in window.stats_label.text()
        assert window.thinking.button.text().startswith("Thought")
        window.thinking.button.click()
        assert window.thinking.text.isVisible()
        window.thinking.button.click()

        # A realistic answer for the picture: Markdown with a code block to copy.
        window.new_chat()
        sim.state.next_reply = Reply(text=EXAMPLE, reasoning="A tiny script will do.")
        task = window.ask("How do I read a JSON file in Python?")
        assert task is not None
        await task
        window.copy_button.click()
        window.code_menu.actions()[0].trigger()
        assert world.copied == [EXAMPLE, EXAMPLE_CODE]
        assert window.grab().save(str(tmp_path / "quick-chat-finished.png"))

    run(loop, scenario())
    publish_screenshot(tmp_path / "quick-chat-streaming.png")
    publish_screenshot(tmp_path / "quick-chat-finished.png")


def test_stop_cancels_at_once_and_the_simulator_sees_the_close_then_a_follow_up(
    loop: asyncio.AbstractEventLoop, sim: Simulator, world: World
) -> None:
    window = world.window

    async def scenario() -> None:
        window.show_near_pointer()
        sim.state.next_reply = Reply(text="word " * 50000)
        window.ask("Talk forever")
        await until(lambda: len(window.answer) > 200, "answer streaming")
        QTest.mouseClick(window.send_button, Qt.MouseButton.LeftButton)
        await until(lambda: not window.busy, "stopped")
        assert "(Stopped.)" in window.transcript.toPlainText()
        assert window.send_button.text() == SEND_TEXT
        assert await asyncio.to_thread(sim.state.wait_until, lambda s: s.cancelled_streams == 1)

        # A follow-up continues the conversation (previous_response_id of the last answer).
        for question in ("Hi", "Again"):
            QTest.keyClicks(window.input, question)
            QTest.keyClick(window.input, Qt.Key.Key_Return)
            await until(lambda: not window.busy, "answered")
        assert "turn 2" in window.answer
        window.new_chat()
        assert window.transcript.toPlainText() == ""

    run(loop, scenario())


def test_a_preset_with_stop_strings_is_honoured_and_what_is_not_applied_is_said(
    loop: asyncio.AbstractEventLoop, sim: Simulator, world: World, tmp_path: Path
) -> None:
    window = world.window
    strict = {
        "identifier": "@local:strict",
        "name": "Strict",
        "operation": {
            "fields": [
                {"key": "llm.prediction.stopStrings", "value": ["###"]},
                {"key": "llm.prediction.minPSampling", "value": {"checked": True, "value": 0.05}},
            ]
        },
    }

    async def scenario() -> None:
        presets = tmp_path / "world" / "config-presets"
        (presets / "strict.preset.json").write_text(json.dumps(strict), encoding="utf-8")
        await world.chat.refresh_presets()
        window.show_near_pointer()
        window.preset_combo.setCurrentIndex(window.preset_combo.findText("Strict"))
        sim.state.next_reply = Reply(text="Kept. ### Cut off here.")
        task = window.ask("Hi")
        assert task is not None
        await task
        assert window.answer == "Kept. "  # the stop string went to the server
        assert "the min-p of preset Strict is not applied" in window.transcript.toPlainText()

    run(loop, scenario())


def test_errors_show_inline_with_their_fix(
    loop: asyncio.AbstractEventLoop,
    sim: Simulator,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    down = World(f"http://127.0.0.1:{free_port()}", tmp_path / "down")
    locked = World(sim.base_url, tmp_path / "locked")
    sim.state.set_auth("sk-lm-Abcdefgh:Ijklmnopqrstuvwxyz12")

    async def scenario() -> None:
        window = down.window
        window.show_near_pointer()
        window.ask("Hello?")
        await until(lambda: not window.busy, "failed")
        assert window.error_bar.isVisible() and window.error_bar.start_server_button.isVisible()
        assert "Start the server: your question is asked" in window.error_bar.label.text()
        assert window.grab().save(str(tmp_path / "quick-chat-error.png"))
        window.error_bar.start_server_button.click()
        assert down.started == [True]
        window.hide()

        other = locked.window
        other.show_near_pointer()
        other.ask("Hello?")
        await until(lambda: not other.busy, "refused")
        assert (
            other.error_bar.token_button.isVisible()
            and not other.error_bar.start_server_button.isVisible()
        )
        other.error_bar.token_button.click()
        assert locked.tokens_opened == [True]
        await down.close()
        await locked.close()

    run(loop, scenario())
    publish_screenshot(tmp_path / "quick-chat-error.png")


def test_the_menu_item_opens_the_popup_shows_the_hotkey_and_tells_a_problem_once(
    loop: asyncio.AbstractEventLoop, world: World, tmp_path: Path
) -> None:
    warned: list[tuple[str, str]] = []
    settings = SettingsService(SettingsStore(tmp_path / "settings.json"))
    section = QuickChatSection(
        world.chat, settings, warn=lambda *told: warned.append(told), demo=True
    )
    (action,) = section.actions()
    section.set_hotkey("Ctrl+Alt+Space")
    assert action.text() == "Quick chat…\tCtrl+Alt+Space"

    async def scenario() -> None:
        action.trigger()
        assert section.window is not None
        await until(section.window.isVisible, "the popup")
        section.window.hide()

    run(loop, scenario())
    taken = RegisterResult(ok=False, sequence="Ctrl+Alt+Space", kind="conflict")
    section.hotkey_state(taken)
    section.hotkey_state(taken)  # a settings change later: the same problem, not told again
    assert action.text() == "Quick chat…"
    assert [title for title, _ in warned] == ["Quick chat hotkey"]
    section.hotkey_state(RegisterResult(ok=True, sequence="Ctrl+Alt+Q", kind="registered"))
    assert action.text() == "Quick chat…\tCtrl+Alt+Q"


def test_a_question_asked_while_the_server_is_down_waits_and_is_answered_once_it_is_up(
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    port = free_port()
    world = World(f"http://127.0.0.1:{port}", tmp_path / "world")
    window, chat = world.window, world.chat
    down = ServerStatus(url=f"http://127.0.0.1:{port}", state=ServerState.STOPPED)

    async def scenario() -> None:
        chat.set_status(down)
        window.show_near_pointer()
        # Nothing is known to be loaded: no "(not loaded)", and the note says why.
        assert window.model_combo.count() == 0
        assert "server is not running" in window.note_label.text()
        QTest.keyClicks(window.input, "Are you there?")
        QTest.keyClick(window.input, Qt.Key.Key_Return)
        await until(lambda: window.error_bar.isVisible(), "the server-down error")
        assert window.error_bar.start_server_button.isVisible()
        assert window.waiting_question == "Are you there?"
        assert "asked as soon as it is up" in window.error_bar.label.text()
        assert window.grab().save(str(tmp_path / "quick-chat-waiting.png"))
        window.error_bar.start_server_button.click()
        assert world.started == [True]
        assert window.load_progress.label.text() == "Waiting for the server to start…"

        with Simulator(tmp_path / ".lmstudio", api_port=port, tokens_per_second=2000) as sim:
            sim.state.load(QWEN)
            sim.state.next_reply = Reply(text="Yes, here.")
            chat.set_status(
                ServerStatus(
                    url=sim.base_url,
                    state=ServerState.RUNNING,
                    loaded=(LoadedModelRow(identifier=QWEN, model_key=QWEN),),
                )
            )
            await until(lambda: window.answer == "Yes, here." and not window.busy, "answered")
            chat.set_status(chat.status.model_copy())  # another status: asked only once
            await asyncio.sleep(0)
            chats = [p for m, p, _ in sim.state.requests if m == "POST"]
            assert chats == ["/api/v1/chat"]
            assert window.transcript.toPlainText().count("Are you there?") == 1
            assert window.waiting_question is None
        await world.close()

    run(loop, scenario())
    publish_screenshot(tmp_path / "quick-chat-waiting.png")


def test_the_picker_follows_the_live_state_and_shows_whole_names(
    loop: asyncio.AbstractEventLoop, world: World
) -> None:
    window, chat = world.window, world.chat

    async def scenario() -> None:
        window.show_near_pointer()
        gemma = window.model_combo.findData(GEMMA)
        window.model_combo.setCurrentIndex(gemma)
        assert "not loaded" in window.note_label.text()
        # The poll sees GEMMA loaded (from LM Studio, say): the popup says so at once.
        assert chat.status is not None
        chat.set_status(
            chat.status.model_copy(
                update={
                    "loaded": (
                        *chat.status.loaded,
                        LoadedModelRow(identifier=GEMMA, model_key=GEMMA),
                    )
                }
            )
        )
        assert window.current_model() is not None and window.current_model().key == GEMMA
        assert window.current_model().loaded and not window.note_label.isVisible()
        assert "(not loaded)" not in window.model_combo.currentText()
        # Every name fits where it is picked; the input says what Enter and Esc do.
        view = window.model_combo.view()
        widest = max(
            view.fontMetrics().horizontalAdvance(window.model_combo.itemText(i))
            for i in range(window.model_combo.count())
        )
        assert view.minimumWidth() >= widest
        assert "Enter" in window.input.placeholderText()
        assert "Esc" in window.input.placeholderText()

    run(loop, scenario())
