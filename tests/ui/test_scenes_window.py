"""Manage scenes on a real display: create a scene with two models, save it (the file and
the history), rename, duplicate and delete it, refuse a context past the model's longest
and a name that is taken, and ask about unsaved edits before showing another scene."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from aio import run, until  # tests/ui/aio.py
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit, QMessageBox, QSpinBox
from pytestqt.qtbot import QtBot

from tray.core.api import ModelInfo
from tray.core.load_profiles import LoadProfile
from tray.core.scenes import Scene, SceneModel
from tray.services.history import FileHistory
from tray.services.scene_store import SceneStore
from tray.ui.scenes_window import ScenesWindow

pytestmark = pytest.mark.ui


def model(key: str, longest: int) -> ModelInfo:
    return ModelInfo.model_validate(
        {
            "type": "llm",
            "publisher": key.split("/")[0],
            "key": key,
            "display_name": key,
            "size_bytes": 2_000_000_000,
            "loaded_instances": [],
            "max_context_length": longest,
            "format": "gguf",
        }
    )


MODELS = [model("qwen/qwen3-4b", 32768), model("google/gemma-3-12b", 131072)]


async def models() -> list[ModelInfo]:
    return MODELS


def message_box() -> QMessageBox | None:
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    return next((b for b in boxes if b.isVisible()), None)


async def answer(qtbot: QtBot, button: QMessageBox.StandardButton | str) -> None:
    await until(lambda: message_box() is not None, "the question")
    box = message_box()
    assert box is not None
    if isinstance(button, str):
        target = next(b for b in box.buttons() if b.text() == button)
    else:
        target = box.button(button)
    qtbot.mouseClick(target, Qt.MouseButton.LeftButton)
    await until(lambda: message_box() is None, "the answer taken")


def test_create_edit_rename_duplicate_and_delete_scenes(
    loop: asyncio.AbstractEventLoop,
    qtbot: QtBot,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    history = FileHistory(tmp_path / "history")
    store = SceneStore(tmp_path / "scenes.json", history)
    store.save(Scene(name="Chat", models=(SceneModel(model_key="qwen/qwen3-4b"),)))
    changed: list[bool] = []
    window = ScenesWindow(store, models, demo=False, on_saved=lambda: changed.append(True))
    qtbot.addWidget(window)

    def cell(row: int, column: int) -> object:
        return window.table.cellWidget(row, column)

    async def scenario() -> None:
        window.present()
        await until(lambda: not window.busy and window.scene_list.count() == 1, "the list")
        assert window.name_edit.text() == "Chat" and window.table.rowCount() == 1

        # a new scene with two models, one with its own identifier and context
        QTest.mouseClick(window.new_button, Qt.MouseButton.LeftButton)
        await until(lambda: window.name_edit.text() == "New scene", "a new scene")
        window.name_edit.selectAll()
        QTest.keyClicks(window.name_edit, "Coding")
        QTest.mouseClick(window.add_button, Qt.MouseButton.LeftButton)
        QTest.mouseClick(window.add_button, Qt.MouseButton.LeftButton)
        second = cell(1, 0)
        assert isinstance(second, QComboBox)
        second.setCurrentText("google/gemma-3-12b")
        ident, context = cell(1, 1), cell(1, 2)
        assert isinstance(ident, QLineEdit) and isinstance(context, QSpinBox)
        QTest.keyClicks(ident, "vision")
        context.setValue(200_000)  # past the model's longest: refused, nothing saved
        QTest.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
        await until(lambda: "at most 131,072 tokens" in window.status.text(), "refused")
        assert [s.name for s in store.list()] == ["Chat"]
        context.setValue(16384)
        QTest.keySequence(window, "Ctrl+S")
        await until(lambda: window.status.text() == "Saved “Coding”.", "saved")
        coding = store.get("Coding")
        assert [(m.model_key, m.identifier, m.settings.context_length) for m in coding.models] == [
            ("qwen/qwen3-4b", None, None),
            ("google/gemma-3-12b", "vision", 16384),
        ]
        assert changed and len(history.versions(store.path)) >= 2
        await asyncio.sleep(0.2)
        shot = tmp_path / "scenes-window.png"
        assert window.grab().save(str(shot))
        publish_screenshot(shot)

        # rename: saved under the new name in the same place, the old name gone
        window.name_edit.selectAll()
        QTest.keyClicks(window.name_edit, "Coding (long)")
        window.keep_others.setChecked(True)
        await window.save()
        assert [s.name for s in store.list()] == ["Chat", "Coding (long)"]
        assert store.get("Coding (long)").others == "keep"

        # a taken name: the store's sentence, nothing saved
        window.name_edit.selectAll()
        QTest.keyClicks(window.name_edit, "chat")
        assert not await window.save()
        assert "exists already" in window.status.text()

        # unsaved edits: asked before another scene shows; Discard drops them
        window.scene_list.setCurrentRow(0)
        await answer(qtbot, QMessageBox.StandardButton.Discard)
        await until(lambda: window.name_edit.text() == "Chat", "Chat shown")
        assert not window.dirty

        # duplicate, save, then delete the copy (asked first)
        QTest.mouseClick(window.duplicate_button, Qt.MouseButton.LeftButton)
        assert window.name_edit.text() == "Chat copy"
        await window.save()
        assert [s.name for s in store.list()] == ["Chat", "Coding (long)", "Chat copy"]
        QTest.mouseClick(window.delete_button, Qt.MouseButton.LeftButton)
        await answer(qtbot, "Delete")
        await until(lambda: [s.name for s in store.list()] == ["Chat", "Coding (long)"], "gone")

        # Esc closes
        QTest.keyClick(window, Qt.Key.Key_Escape)
        await until(lambda: not window.isVisible(), "closed")

    run(loop, scenario())
    doc = json.loads(store.path.read_text())
    assert [s["name"] for s in doc["scenes"]] == ["Chat", "Coding (long)"]
    assert LoadProfile.model_validate(doc["scenes"][1]["models"][1]["settings"]).identifier == (
        "vision"
    )
