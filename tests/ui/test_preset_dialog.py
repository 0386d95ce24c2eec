"""The Presets window on real files and a real history, under X: a realistic preset shown,
an edit saved touching only its field, an invalid value explained inline with Save off, an
unparsable file listed with its warning, and LM Studio changing the open preset: the bar
offers Reload · Merge · Keep editing, and Merge keeps both sides' changes.

The first minutes: no field takes typing before a preset is open; a field the preset does
not set reads "not set" and stays out of the file, Set and Clear switch it; an edit is
marked, Ctrl+S saves it, and Esc, the window's close, another preset or New ask Save ·
Discard · Cancel instead of dropping it."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from aio import run, until  # tests/ui/aio.py
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget
from pytestqt.qtbot import QtBot
from screen import crop_around, grab_screen  # tests/ui/screen.py

from tray.services.history import FileHistory
from tray.services.preset_store import PresetStore
from tray.ui.preset_dialog import PresetDialog
from tray.ui.preset_form import NOT_SET

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "presets"


@pytest.fixture
def store(tmp_path: Path) -> PresetStore:
    folder = tmp_path / ".lmstudio" / "config-presets"
    shutil.copytree(FIXTURES, folder, ignore=shutil.ignore_patterns("*.md", "sdk-*"))
    return PresetStore(folder, FileHistory(tmp_path / "history"))


def click(qtbot: QtBot, widget: object) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)  # type: ignore[arg-type]


def items(dialog: PresetDialog) -> list[str]:
    return [dialog.preset_list.item(i).text() for i in range(dialog.preset_list.count())]


@pytest.mark.ui
def test_edit_validate_and_an_outside_change(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    store: PresetStore,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    dialog = PresetDialog(store, demo=False)
    qtbot.addWidget(dialog)
    path = store.folder / "coding-assistant.preset.json"
    original = path.read_bytes()

    async def scenario() -> None:
        dialog.present("Coding assistant")
        await until(
            lambda: dialog.loaded is not None and dialog.name_edit.text() == "Coding assistant",
            "the preset",
        )
        assert dialog.windowTitle() == "LM Studio Tray — Presets[*]"  # [*]: the unsaved mark
        broken = dialog.preset_list.findItems("broken", Qt.MatchFlag.MatchStartsWith)[0]
        assert "cannot be read" in broken.text() and "not valid JSON" in broken.toolTip()
        assert dialog.form.temperature.value() == pytest.approx(0.2)
        assert dialog.form.max_tokens.value() == (True, 4096.0)
        assert dialog.form.stop_edit.toPlainText() == "<|im_end|>\n\\n\\nUser:"
        assert not dialog.save_button.isEnabled()  # nothing changed yet
        await until(lambda: dialog.isVisible(), "shown")
        dialog.grab().save(str(tmp_path / "presets-dialog.png"))
        publish_screenshot(tmp_path / "presets-dialog.png")

        # Search narrows the list.
        dialog.search.setText("wind")
        assert items(dialog) == ["Windows notes"]
        dialog.search.clear()

        # An invalid value: inline sentence beside the field, Save off.
        dialog.form.top_p.spin.setValue(1.5)
        error = dialog.form.field_errors["top_p"]
        assert error.isVisible() and "between 0 and 1" in error.text()
        assert not dialog.save_button.isEnabled()
        dialog.name_edit.setText("Windows notes")
        assert "already a preset named" in dialog.form.field_errors["name"].text()
        dialog.grab().save(str(tmp_path / "presets-validation.png"))
        publish_screenshot(tmp_path / "presets-validation.png")
        dialog.name_edit.setText("Coding assistant")
        dialog.form.top_p.spin.setValue(0.9)
        assert not error.isVisible()

        # A valid edit saves only that field.
        dialog.form.temperature.setValue(0.7)
        assert dialog.save_button.isEnabled()
        click(qtbot, dialog.save_button)
        await until(lambda: "Saved" in dialog.info_label.text() and not dialog.busy, "saved")
        assert path.read_bytes() == original.replace(b'"value": 0.2', b'"value": 0.7')

        # LM Studio writes the preset while we edit top-k.
        dialog.form.top_k.setValue(20)
        outside = json.loads(path.read_bytes())
        for item in outside["operation"]["fields"]:
            if item["key"] == "llm.prediction.seed":
                item["value"] = {"checked": True, "value": 7}
            if item["key"] == "llm.prediction.topKSampling":
                item["value"] = 64
        path.write_text(json.dumps(outside, indent=2), encoding="utf-8")
        dialog.file_changed(path)
        await until(lambda: dialog.external_bar.isVisible(), "the external-change bar")
        assert "changed outside LM Studio Tray" in dialog.external_bar.label.text()
        dialog.grab().save(str(tmp_path / "presets-external-change.png"))
        publish_screenshot(tmp_path / "presets-external-change.png")

        # Saving now would overwrite it: refused, the bar stays.
        click(qtbot, dialog.save_button)
        await until(lambda: not dialog.busy, "the refused save")
        assert json.loads(path.read_bytes()) == outside

        # Merge: their seed, and top-k changed on both sides is a conflict shown with both.
        click(qtbot, dialog.external_bar.merge_button)
        await until(lambda: dialog.conflicts_box.isVisible(), "the conflicts")
        assert dialog.form.seed.value() == (True, 7.0)
        assert dialog.form.top_k.value() == 64
        use_mine = dialog.findChild(object, "use-mine-llm.prediction.topKSampling")
        assert use_mine is not None
        await until(use_mine.isVisible, "the Use mine button")
        click(qtbot, use_mine)
        assert dialog.form.top_k.value() == 20
        click(qtbot, dialog.save_button)
        await until(
            lambda: (
                "Saved" in dialog.info_label.text()
                and not dialog.conflicts_box.isVisible()
                and not dialog.busy
            ),
            "merged save",
        )
        saved = {i["key"]: i["value"] for i in json.loads(path.read_bytes())["operation"]["fields"]}
        assert saved["llm.prediction.topKSampling"] == 20
        assert saved["llm.prediction.seed"] == {"checked": True, "value": 7}
        assert saved["llm.prediction.temperature"] == 0.7

        # The unparsable file: its error in the window, the editor off, never rewritten.
        raw = (store.folder / "broken.preset.json").read_bytes()
        dialog.preset_list.setCurrentItem(
            dialog.preset_list.findItems("broken", Qt.MatchFlag.MatchStartsWith)[0]
        )
        assert "not valid JSON" in dialog.error_label.text()
        assert not dialog.form.isEnabled() and not dialog.save_button.isEnabled()
        assert (store.folder / "broken.preset.json").read_bytes() == raw
        dialog.close()

    run(loop, scenario())


# --- the first ten minutes: nothing to type into, not set, unsaved edits -----------------


def message_box() -> QMessageBox | None:
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    return next((b for b in boxes if b.isVisible()), None)


async def answer(qtbot: QtBot, button: QMessageBox.StandardButton) -> None:
    """Click `button` of the question once it is up, and wait until the window has taken
    the answer (the box is gone, not only hidden)."""
    await until(lambda: message_box() is not None, "the question")
    box = message_box()
    assert box is not None
    click(qtbot, box.button(button))
    await until(no_question, "the answer taken")


def no_question() -> bool:
    return not any(isinstance(w, QMessageBox) for w in QApplication.topLevelWidgets())


def pick(qtbot: QtBot, dialog: PresetDialog, name: str) -> None:
    """Click a preset in the list, as the user does."""
    item = dialog.preset_list.findItems(name, Qt.MatchFlag.MatchExactly)[0]
    rect = dialog.preset_list.visualItemRect(item)
    qtbot.mouseClick(dialog.preset_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def type_number(qtbot: QtBot, box: QWidget, text: str) -> None:
    """Into a spin box, as typed: focus, select all, the digits."""
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, text)


def shown_title(dialog: PresetDialog) -> str:
    """The title the X server has for the window (what the window manager draws)."""
    out = subprocess.run(
        ["xdotool", "getwindowname", str(int(dialog.winId()))],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def not_set_rows(dialog: PresetDialog) -> set[str]:
    return {
        name
        for name, row in dialog.form.rows.items()
        if row.unset_label.isVisible()
        and row.unset_label.text() == NOT_SET
        and not row.editor.isVisible()
    }


def fields_of(path: Path) -> dict[str, object]:
    doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    return {i["key"]: i["value"] for i in doc.get("operation", {}).get("fields", [])}


@pytest.fixture
def active(qtbot: QtBot) -> Callable[[QWidget], Coroutine[Any, Any, None]]:
    """Wait until `window` is the active window (keyboard shortcuts work in it)."""

    async def wait(window: QWidget) -> None:
        window.activateWindow()
        await until(lambda: QApplication.activeWindow() is window, "the window to be active")

    return wait


@pytest.mark.ui
def test_no_field_takes_typing_before_a_preset_is_open(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    folder = tmp_path / ".lmstudio" / "config-presets"
    folder.mkdir(parents=True)
    store = PresetStore(folder, FileHistory(tmp_path / "history"))
    dialog = PresetDialog(store, demo=False)
    qtbot.addWidget(dialog)

    async def scenario() -> None:
        dialog.present()
        await until(lambda: dialog.isVisible() and not dialog.busy, "shown")
        # an empty folder: nothing is open, so nothing can be typed and lost
        assert dialog.preset_list.count() == 0
        assert not dialog.form.isEnabled() and not dialog.save_button.isEnabled()
        qtbot.keyClicks(dialog.name_edit, "My preset")
        qtbot.keyClicks(dialog.form.temperature, "0.3")
        assert dialog.name_edit.text() == ""
        assert "click New" in dialog.name_edit.placeholderText()
        assert not_set_rows(dialog) == set(dialog.form.rows)
        dialog.grab().save(str(tmp_path / "presets-nothing-open.png"))
        publish_screenshot(tmp_path / "presets-nothing-open.png", docs=False)

        # New: a preset to edit, and the fields take typing
        click(qtbot, dialog.list_pane.new_button)
        await until(lambda: dialog.loaded is not None and dialog.form.isEnabled(), "the new one")
        assert dialog.name_edit.text() == "New preset"
        assert not_set_rows(dialog) == set(dialog.form.rows)  # a fresh preset sets nothing

        # deleting it: nothing open again
        click(qtbot, dialog.list_pane.delete_button)
        await until(lambda: message_box() is not None, "the delete question")
        box = message_box()
        assert box is not None
        click(qtbot, next(b for b in box.buttons() if b.text() == "Delete"))
        await until(lambda: dialog.preset_list.count() == 0 and not dialog.busy, "deleted")
        assert not dialog.form.isEnabled()
        assert dialog.name_edit.text() == ""
        dialog.close()

    run(loop, scenario())


@pytest.mark.ui
def test_fields_not_set_read_so_stay_out_of_the_file_and_can_be_cleared(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    store: PresetStore,
    tmp_path: Path,
    active: Callable[[QWidget], Coroutine[Any, Any, None]],
    publish_screenshot: Callable[..., Path],
) -> None:
    dialog = PresetDialog(store, demo=False)
    qtbot.addWidget(dialog)
    path = store.folder / "bom-crlf.preset.json"  # "Windows notes": a temperature, a prompt
    original = path.read_bytes()

    async def scenario() -> None:
        dialog.present("Windows notes")
        await until(lambda: dialog.name_edit.text() == "Windows notes", "the preset")
        await active(dialog)
        assert not_set_rows(dialog) == set(dialog.form.rows) - {"temperature", "system_prompt"}
        dialog.grab().save(str(tmp_path / "presets-not-set.png"))
        publish_screenshot(tmp_path / "presets-not-set.png", docs=False)

        # one field typed and saved with Ctrl+S: only its value changes, byte for byte
        type_number(qtbot, dialog.form.temperature, "0.5")
        assert dialog.save_button.isEnabled()
        qtbot.keyClick(dialog.form.temperature, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        await until(lambda: "Saved" in dialog.info_label.text() and not dialog.busy, "saved")
        assert path.read_bytes() == original.replace(b'"value": 0.7', b'"value": 0.5')

        # Set gives a field a value (from LM Studio's default); Clear takes one out
        row = dialog.form.rows["top_k"]
        click(qtbot, row.set_button)
        assert row.editor.isVisible() and dialog.form.top_k.value() == 40
        assert dialog.form.top_k.hasFocus()
        type_number(qtbot, dialog.form.top_k, "20")
        click(qtbot, dialog.form.rows["system_prompt"].clear_button)
        assert "system_prompt" in not_set_rows(dialog)
        # Set then Clear again, untouched: nothing to save for it
        click(qtbot, dialog.form.rows["seed"].set_button)
        click(qtbot, dialog.form.rows["seed"].clear_button)
        qtbot.keyClick(dialog.form.top_k, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        await until(lambda: "Saved" in dialog.info_label.text() and not dialog.busy, "saved")
        saved = path.read_bytes()
        assert saved.startswith(b"\xef\xbb\xbf") and b"\r\n" in saved  # its style kept
        assert fields_of(path) == {
            "llm.prediction.temperature": 0.5,
            "llm.prediction.topKSampling": 20,
        }
        assert not_set_rows(dialog) == set(dialog.form.rows) - {"temperature", "top_k"}
        assert not dialog.save_button.isEnabled()
        dialog.close()

    run(loop, scenario())


@pytest.mark.ui
def test_unsaved_edits_are_marked_and_never_dropped_silently(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    store: PresetStore,
    tmp_path: Path,
    active: Callable[[QWidget], Coroutine[Any, Any, None]],
    publish_screenshot: Callable[..., Path],
) -> None:
    dialog = PresetDialog(store, demo=False)
    qtbot.addWidget(dialog)
    coding = store.folder / "coding-assistant.preset.json"
    compact = store.folder / "compact.preset.json"
    coding_bytes, compact_bytes = coding.read_bytes(), compact.read_bytes()
    cancel = QMessageBox.StandardButton.Cancel
    discard = QMessageBox.StandardButton.Discard
    save = QMessageBox.StandardButton.Save

    async def scenario() -> None:
        dialog.present("Coding assistant")
        await until(lambda: dialog.name_edit.text() == "Coding assistant", "the preset")
        await active(dialog)
        assert not dialog.unsaved_label.isVisible()
        assert shown_title(dialog) == "LM Studio Tray — Presets"

        # an edit is marked in the title and beside Save
        type_number(qtbot, dialog.form.temperature, "0.9")
        assert dialog.unsaved_label.isVisible() and dialog.isWindowModified()
        await until(lambda: shown_title(dialog) == "LM Studio Tray — Presets*", "the title mark")
        dialog.grab().save(str(tmp_path / "presets-unsaved.png"))
        publish_screenshot(tmp_path / "presets-unsaved.png", docs=False)

        # Esc asks; Esc on the question (Cancel) keeps the window and the edit
        qtbot.keyClick(dialog.form.temperature, Qt.Key.Key_Escape)
        await until(lambda: message_box() is not None, "the question")
        box = message_box()
        assert box is not None and "Coding assistant" in box.text()
        assert {box.standardButton(b) for b in box.buttons()} == {save, discard, cancel}
        shot = tmp_path / "screen.png"
        grab_screen(shot)
        area = dialog.frameGeometry().united(box.frameGeometry())
        assert crop_around(QImage(str(shot)), area, 0).save(str(tmp_path / "presets-close.png"))
        publish_screenshot(tmp_path / "presets-close.png", docs=False)
        qtbot.keyClick(box, Qt.Key.Key_Escape)
        await until(no_question, "the answer taken")
        assert dialog.isVisible() and dialog.form.temperature.value() == pytest.approx(0.9)

        # another preset picked: asked first; Cancel stays, Discard moves on
        pick(qtbot, dialog, "Compact")
        await answer(qtbot, cancel)
        assert dialog.selected_file() == "coding-assistant.preset.json"
        assert dialog.preset_list.currentItem().text() == "Coding assistant"
        assert dialog.form.temperature.value() == pytest.approx(0.9)
        pick(qtbot, dialog, "Compact")
        await answer(qtbot, discard)
        await until(lambda: dialog.name_edit.text() == "Compact", "Compact")
        assert coding.read_bytes() == coding_bytes
        assert not dialog.unsaved_label.isVisible()

        # Save in the question: saved, then the other preset opens
        type_number(qtbot, dialog.form.temperature, "0.6")
        pick(qtbot, dialog, "Windows notes")
        await answer(qtbot, save)
        await until(lambda: dialog.name_edit.text() == "Windows notes", "Windows notes")
        assert compact.read_bytes() == compact_bytes.replace(b'"value":0.5', b'"value":0.6')

        # New with an edit pending: asked too
        type_number(qtbot, dialog.form.temperature, "0.1")
        click(qtbot, dialog.list_pane.new_button)
        await answer(qtbot, cancel)
        assert dialog.name_edit.text() == "Windows notes"
        assert not (store.folder / "New preset.preset.json").exists()

        # Esc, then Save: saved and closed
        qtbot.keyClick(dialog.form.temperature, Qt.Key.Key_Escape)
        await answer(qtbot, save)
        await until(lambda: not dialog.isVisible(), "closed")
        assert fields_of(store.folder / "bom-crlf.preset.json")["llm.prediction.temperature"] == 0.1

        # the window's close (its X) with an edit: Discard closes, the file keeps its value,
        # and opening again shows the file, nothing pending
        dialog.present("Coding assistant")
        await until(lambda: dialog.name_edit.text() == "Coding assistant", "the preset")
        type_number(qtbot, dialog.form.temperature, "1.5")
        dialog.close()
        await until(lambda: message_box() is not None, "the question")
        assert dialog.isVisible()
        await answer(qtbot, discard)
        await until(lambda: not dialog.isVisible(), "closed")
        assert coding.read_bytes() == coding_bytes
        dialog.present()
        await until(lambda: dialog.isVisible() and dialog.loaded is not None, "shown again")
        assert dialog.form.temperature.value() == pytest.approx(0.2)
        assert not dialog.unsaved_label.isVisible()
        dialog.close()

    run(loop, scenario())


def file_dialog() -> QFileDialog | None:
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QFileDialog)]
    return next((b for b in boxes if b.isVisible()), None)


async def choose_file(path: Path) -> None:
    await until(lambda: file_dialog() is not None, "the file dialog")
    box = file_dialog()
    assert box is not None
    box.selectFile(str(path))
    box.accept()


@pytest.mark.ui
def test_export_then_import_through_the_file_dialogs(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, store: PresetStore, tmp_path: Path
) -> None:
    dialog = PresetDialog(store, demo=False)
    qtbot.addWidget(dialog)
    target = tmp_path / "shared.preset.json"

    async def scenario() -> None:
        dialog.present("Compact")
        await until(lambda: dialog.name_edit.text() == "Compact", "the preset")
        click(qtbot, dialog.list_pane.export_button)
        await choose_file(target)
        await until(lambda: "Exported" in dialog.info_label.text(), "exported")
        assert target.read_bytes() == (store.folder / "compact.preset.json").read_bytes()

        # importing it with an edit pending asks first; Discard, then the copy opens
        type_number(qtbot, dialog.form.temperature, "0.9")
        click(qtbot, dialog.list_pane.import_button)
        await choose_file(target)
        await answer(qtbot, QMessageBox.StandardButton.Discard)
        await until(lambda: dialog.name_edit.text() == "Compact 2", "the imported copy")
        assert dialog.form.temperature.value() == pytest.approx(0.5)
        assert fields_of(store.folder / "compact.preset.json") == {
            "llm.prediction.temperature": 0.5
        }
        dialog.close()

    run(loop, scenario())
