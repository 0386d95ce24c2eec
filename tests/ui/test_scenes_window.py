"""The "Manage scenes…" window on a real scenes file and a real history, under X: a scene
with two models made from nothing and saved (the file read back), renamed, duplicated and
deleted (after the question); a context longer than the model takes refused inline and
never saved; a name that is taken refused with the store's sentence; unsaved edits asked
about before another scene opens, and on Esc."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from aio import run, until  # tests/ui/aio.py
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from tray.core.api import ModelInfo
from tray.core.load_profiles import LoadProfile
from tray.core.scenes import Scene, SceneModel
from tray.services.history import FileHistory
from tray.services.scene_store import SceneStore
from tray.ui.scenes_parts import SceneModelRow
from tray.ui.scenes_window import ScenesWindow
from tray.ui.tasks import cancel_all

pytestmark = pytest.mark.ui

CODER = "qwen/qwen3-coder-30b"
EMBED = "text-embedding-nomic-embed-text-v1.5"
SMALL = "qwen/qwen3-4b"
MODELS = [
    {
        "key": CODER,
        "type": "llm",
        "display_name": "Qwen3 Coder 30B",
        "max_context_length": 262144,
    },
    {
        "key": EMBED,
        "type": "embedding",
        "display_name": "Nomic Embed Text v1.5",
        "max_context_length": 2048,
    },
    {"key": "google/gemma-3-12b", "type": "llm", "max_context_length": 131072},
    {"key": SMALL, "type": "llm", "display_name": "Qwen3 4B", "max_context_length": 32768},
]


async def list_models() -> list[ModelInfo]:
    return [ModelInfo.model_validate(m) for m in MODELS]


@pytest.fixture
def history(tmp_path: Path) -> FileHistory:
    return FileHistory(tmp_path / "history")


@pytest.fixture
def store(tmp_path: Path, history: FileHistory) -> SceneStore:
    return SceneStore(tmp_path / "config" / "scenes.json", history)


@pytest.fixture
def two_scenes(store: SceneStore) -> SceneStore:
    coding = Scene(
        name="Coding",
        models=(
            SceneModel(model_key=CODER, settings=LoadProfile(context_length=32768)),
            SceneModel(model_key=EMBED),
        ),
    )
    store.save(coding)
    store.save(Scene(name="Chat", models=(SceneModel(model_key=SMALL),), others="keep"))
    return store


@pytest.fixture
def window(qtbot: QtBot) -> Callable[..., ScenesWindow]:
    def make(store: SceneStore, **kwargs: Any) -> ScenesWindow:
        made = ScenesWindow(store, list_models, demo=False, **kwargs)
        qtbot.addWidget(made)
        return made

    return make


def click(qtbot: QtBot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def tick(qtbot: QtBot, box: QWidget) -> None:
    """Click a check box or radio button on its mark (its middle may be empty space)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def type_into(qtbot: QtBot, box: QWidget, text: str) -> None:
    """As typed: focus, select all, the characters."""
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, text)


def choose(row: SceneModelRow, key: str) -> None:
    row.model.setCurrentIndex(row.model.findData(key))


def message_box() -> QMessageBox | None:
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    return next((b for b in boxes if b.isVisible()), None)


def no_question() -> bool:
    return not any(isinstance(w, QMessageBox) for w in QApplication.topLevelWidgets())


async def answer(
    qtbot: QtBot, button: QMessageBox.StandardButton | str
) -> tuple[str, set[QMessageBox.StandardButton]]:
    """Click `button` (a standard one, or the text of one) of the question once it is up,
    and wait until the window has taken the answer; the question's text and buttons."""
    await until(lambda: message_box() is not None, "the question")
    box = message_box()
    assert box is not None
    asked = box.text(), {box.standardButton(b) for b in box.buttons()}
    if isinstance(button, str):
        found = next(b for b in box.buttons() if b.text().replace("&", "") == button)
    else:
        found = box.button(button)
    click(qtbot, found)
    await until(no_question, "the answer taken")
    return asked


async def close_discarding(qtbot: QtBot, window: ScenesWindow) -> None:
    """Close a window left with unsaved edits: asked, and Discard."""
    window.close()
    await answer(qtbot, QMessageBox.StandardButton.Discard)
    await until(lambda: not window.isVisible(), "closed")


def saved(store: SceneStore) -> dict[str, Any]:
    return json.loads(store.path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


async def shown(window: ScenesWindow) -> None:
    window.present()
    await until(lambda: not window.busy, "the scenes and models read")
    window.activateWindow()
    await until(lambda: QApplication.activeWindow() is window, "the window to be active")


def scenario(coro: Callable[[], Coroutine[Any, Any, None]]) -> Coroutine[Any, Any, None]:
    async def wrapped() -> None:
        try:
            await coro()
        finally:
            await cancel_all()

    return wrapped()


def test_a_scene_with_two_models_is_made_and_saved(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    store: SceneStore,
    history: FileHistory,
    window: Callable[..., ScenesWindow],
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    store.save(Scene(name="Chat", models=(SceneModel(model_key=SMALL),)))
    store.save(Scene(name="Writing", models=(SceneModel(model_key="google/gemma-3-12b"),)))
    told: list[str] = []
    w = window(store, on_saved=lambda: told.append("saved"))

    async def steps() -> None:
        await shown(w)
        assert w.windowTitle() == "LM Studio Tray — Scenes"
        assert w.scene_names() == ["Chat", "Writing"] and w.name_edit.text() == "Chat"
        click(qtbot, w.new_button)
        await until(lambda: w.name_edit.text() == "New scene", "the draft")
        assert w.editor.isEnabled() and not w.delete_button.isEnabled()
        type_into(qtbot, w.name_edit, "Coding")

        click(qtbot, w.table.add_button)
        first = w.table.rows[0]
        choose(first, CODER)
        type_into(qtbot, first.identifier, "coder")
        type_into(qtbot, first.context, "65536")
        first.gpu_mode.setCurrentText("share")
        first.gpu_share.setValue(75)
        click(qtbot, w.table.add_button)
        second = w.table.rows[1]
        choose(second, EMBED)
        tick(qtbot, w.keep_others)
        tick(qtbot, w.start_server)
        assert w.unsaved_label.isVisible() and w.save_button.isEnabled()

        click(qtbot, w.save_button)
        await until(lambda: "Saved “Coding”" in w.status.text(), "saved")
        assert w.scene_names() == ["Chat", "Writing", "Coding"]
        assert w.list.currentItem().text() == "Coding"
        assert not w.unsaved_label.isVisible() and w.delete_button.isEnabled()
        assert [r.model_key() for r in w.table.rows] == [CODER, EMBED]
        assert w.table.rows[0].values() == {
            "identifier": "coder",
            "context_length": 65536,
            "gpu_offload": 0.75,
            "ttl_seconds": None,
        }
        await asyncio.sleep(0.2)  # the rebuilt rows are laid out and painted
        assert w.grab().save(str(tmp_path / "scenes-window.png"))

    run(loop, scenario(steps))
    publish_screenshot(tmp_path / "scenes-window.png")
    assert saved(store)["scenes"][2:] == [
        {
            "name": "Coding",
            "models": [
                {
                    "model_key": CODER,
                    "settings": {
                        "context_length": 65536,
                        "gpu_offload": 0.75,
                        "identifier": "coder",
                        "write_lmstudio_defaults": False,
                    },
                },
                {"model_key": EMBED, "settings": {"write_lmstudio_defaults": False}},
            ],
            "others": "keep",
            "start_server": True,
        }
    ]
    assert told == ["saved"]
    assert history.versions(store.path)[0].summary == "Scene “Coding” added"


def test_rename_duplicate_and_delete(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    two_scenes: SceneStore,
    history: FileHistory,
    window: Callable[..., ScenesWindow],
) -> None:
    store = two_scenes
    w = window(store)

    async def steps() -> None:
        await shown(w)
        assert w.scene_names() == ["Coding", "Chat"]
        assert w.name_edit.text() == "Coding"
        assert [r.model_key() for r in w.table.rows] == [CODER, EMBED]
        assert w.table.rows[0].context.value() == 32768
        assert w.unload_others.isChecked() and not w.start_server.isChecked()

        # rename: saved under the new name, in the old one's place
        type_into(qtbot, w.name_edit, "Code")
        qtbot.keyClick(w.name_edit, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        await until(lambda: "renamed from “Coding”" in w.status.text(), "renamed")
        assert w.scene_names() == ["Code", "Chat"]

        # duplicate: a copy saved at once, opened with its name ready to type over
        click(qtbot, w.duplicate_button)
        await until(lambda: w.scene_names() == ["Code", "Chat", "Code copy"], "the copy")
        assert w.name_edit.text() == "Code copy" and w.name_edit.hasSelectedText()
        assert [r.model_key() for r in w.table.rows] == [CODER, EMBED]

        # delete: asked first; Cancel keeps it, Delete deletes it
        click(qtbot, w.delete_button)
        text, _ = await answer(qtbot, QMessageBox.StandardButton.Cancel)
        assert "“Code copy”" in text
        assert w.scene_names() == ["Code", "Chat", "Code copy"]
        click(qtbot, w.delete_button)
        await answer(qtbot, "Delete")
        await until(lambda: w.scene_names() == ["Code", "Chat"], "deleted")
        assert "Deleted “Code copy”" in w.status.text()

    run(loop, scenario(steps))
    assert [s["name"] for s in saved(store)["scenes"]] == ["Code", "Chat"]
    messages = [v.summary for v in history.versions(store.path)]
    assert messages[:3] == [
        "Scene “Code copy” deleted",
        "Scene “Code copy” added",
        "Scene “Coding” renamed “Code”",
    ]
    assert store.get("Code").models[0].settings.context_length == 32768


def test_a_context_longer_than_the_model_takes_is_refused_inline(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    two_scenes: SceneStore,
    window: Callable[..., ScenesWindow],
) -> None:
    store = two_scenes
    before = store.path.read_bytes()
    w = window(store)

    async def steps() -> None:
        await shown(w)
        w.select("Chat")
        await until(lambda: w.name_edit.text() == "Chat", "Chat")
        row = w.table.rows[0]
        assert row.model_key() == SMALL
        type_into(qtbot, row.context, "65536")
        assert row.error.isVisible()
        assert "this model takes at most 32,768 tokens" in row.error.text()
        assert not w.save_button.isEnabled()
        qtbot.keyClick(w.name_edit, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        assert "Fix what is marked in red first" in w.status.text()
        await asyncio.sleep(0.3)
        assert store.path.read_bytes() == before

        # a model twice without identifiers is no scene either, said in a sentence
        type_into(qtbot, row.context, "32768")
        assert not row.error.isVisible() and w.save_button.isEnabled()
        click(qtbot, w.table.add_button)
        choose(w.table.rows[1], SMALL)
        assert w.problem.isVisible() and "is in the scene twice" in w.problem.text()
        assert not w.save_button.isEnabled()
        click(qtbot, w.table.rows[1].remove)
        assert len(w.table.rows) == 1 and w.save_button.isEnabled()
        await close_discarding(qtbot, w)

    run(loop, scenario(steps))
    assert store.path.read_bytes() == before


def test_a_name_that_is_taken_is_refused_with_the_stores_sentence(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    two_scenes: SceneStore,
    window: Callable[..., ScenesWindow],
) -> None:
    store = two_scenes
    before = store.path.read_bytes()
    w = window(store)

    async def steps() -> None:
        await shown(w)
        w.select("Chat")
        await until(lambda: w.name_edit.text() == "Chat", "Chat")
        type_into(qtbot, w.name_edit, "coding")
        click(qtbot, w.save_button)
        await until(lambda: "exists already" in w.status.text(), "the refusal")
        assert "A scene called “Coding” exists already." in w.status.text()
        assert "Traceback" not in w.status.text()
        assert w.scene_names() == ["Coding", "Chat"] and w.unsaved_label.isVisible()

        # a new scene may not take a saved one's name either (it would replace it)
        type_into(qtbot, w.name_edit, "Chat")  # back as it was: nothing unsaved
        assert not w.unsaved_label.isVisible()
        click(qtbot, w.new_button)
        await until(lambda: w.name_edit.text() == "New scene", "the draft")
        type_into(qtbot, w.name_edit, "Chat")
        click(qtbot, w.save_button)
        await until(lambda: "“Chat” exists already" in w.status.text(), "the refusal")

        type_into(qtbot, w.name_edit, "Free GPU")
        click(qtbot, w.save_button)
        await until(lambda: "is built in" in w.status.text(), "Free GPU refused")
        await close_discarding(qtbot, w)

    run(loop, scenario(steps))
    assert store.path.read_bytes() == before


def test_unsaved_edits_are_asked_about_on_switch_and_on_esc(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    two_scenes: SceneStore,
    window: Callable[..., ScenesWindow],
) -> None:
    store = two_scenes
    before = store.path.read_bytes()
    w = window(store)
    save = QMessageBox.StandardButton.Save
    discard = QMessageBox.StandardButton.Discard
    cancel = QMessageBox.StandardButton.Cancel

    async def steps() -> None:
        await shown(w)
        # nothing edited: Esc closes at once
        qtbot.keyClick(w.list, Qt.Key.Key_Escape)
        await until(lambda: not w.isVisible(), "closed")
        await shown(w)

        # an edit, then another scene picked: asked; Cancel stays, Discard moves on
        tick(qtbot, w.start_server)
        assert w.unsaved_label.isVisible()
        w.select("Chat")
        text, buttons = await answer(qtbot, cancel)
        assert "“Coding”" in text and buttons == {save, discard, cancel}
        assert w.name_edit.text() == "Coding" and w.start_server.isChecked()
        assert w.list.currentItem().text() == "Coding"
        w.select("Chat")
        await answer(qtbot, discard)
        await until(lambda: w.name_edit.text() == "Chat", "Chat")
        assert not w.unsaved_label.isVisible()

        # Esc with an edit: asked; Cancel keeps the window, Discard closes it
        type_into(qtbot, w.table.rows[0].identifier, "talker")
        qtbot.keyClick(w.table.rows[0].identifier, Qt.Key.Key_Escape)
        await answer(qtbot, cancel)
        assert w.isVisible() and w.table.rows[0].identifier.text() == "talker"
        qtbot.keyClick(w.table.rows[0].identifier, Qt.Key.Key_Escape)
        await answer(qtbot, discard)
        await until(lambda: not w.isVisible(), "closed")
        assert store.path.read_bytes() == before

        # opened again: the file's values, nothing pending; Save in the question saves
        await shown(w)
        assert w.name_edit.text() == "Chat" and not w.unsaved_label.isVisible()
        assert w.table.rows[0].identifier.text() == ""
        type_into(qtbot, w.table.rows[0].identifier, "talker")
        w.close()
        await answer(qtbot, save)
        await until(lambda: not w.isVisible(), "closed after saving")

    run(loop, scenario(steps))
    assert store.get("Chat").models[0].identifier == "talker"
