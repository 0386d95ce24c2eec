"""The Presets window on real files and a real history, under X: a realistic preset shown,
an edit saved touching only its field, an invalid value explained inline with Save off, an
unparsable file listed with its warning, and LM Studio changing the open preset: the bar
offers Reload · Merge · Keep editing, and Merge keeps both sides' changes."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from aio import run, until  # tests/ui/aio.py
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tray.services.history import FileHistory
from tray.services.preset_store import PresetStore
from tray.ui.preset_dialog import PresetDialog

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
        assert dialog.windowTitle() == "LM Studio Tray — Presets"
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
        await until(lambda: "Saved" in dialog.info_label.text(), "saved")
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
            lambda: "Saved" in dialog.info_label.text() and not dialog.conflicts_box.isVisible(),
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
