"""The History window on a real display over a real history repository: a preset with
several versions (ours and one made outside the app) shows a field-level diff; restoring
asks first and becomes a new version; "Compare with current" reads the disk; the sharing
area pushes and pulls through a real bare repository and marks a file changed on both
machines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from aio import run, until  # tests/ui/aio.py
from dulwich.repo import Repo
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from tray.services.history import FileHistory
from tray.services.settings_store import SettingsService, SettingsStore
from tray.ui.history_window import HistoryWindow


def preset_bytes(
    temp: float, *, top_p: bool = True, name: str = "Coder", seed: bool = False
) -> bytes:
    fields = [
        {"key": "llm.prediction.systemPrompt", "value": "You are a careful senior engineer."},
        {"key": "llm.prediction.temperature", "value": temp},
        {"key": "llm.prediction.topPSampling", "value": {"checked": top_p, "value": 0.95}},
    ]
    if not seed:  # the latest version drops top-k and adds a seed
        fields.append({"key": "llm.prediction.topKSampling", "value": 40})
    if seed:
        fields.append({"key": "llm.prediction.seed", "value": {"checked": True, "value": 42}})
    doc = {
        "identifier": "@local:coder",
        "name": name,
        "operation": {"fields": fields},
        "load": {"fields": [{"key": "llm.load.contextLength", "value": 8192}]},
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def click(qtbot: QtBot, button: object) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # type: ignore[arg-type]


def message_box() -> QMessageBox | None:
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    return next((b for b in boxes if b.isVisible()), None)


@pytest.mark.ui
def test_versions_field_diff_restore_compare_and_sharing(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    home = tmp_path / ".lmstudio"
    presets = home / "config-presets"
    presets.mkdir(parents=True)
    preset = presets / "coder.preset.json"
    mcp = home / "mcp.json"
    history = FileHistory(tmp_path / "history")
    preset.write_bytes(preset_bytes(0.7))
    v1 = history.record(preset, "Created preset Coder")
    preset.write_bytes(preset_bytes(0.7, top_p=False))
    history.record(preset, "coder.preset.json changed outside the app", outside=True)
    preset.write_bytes(preset_bytes(0.2, top_p=False, name="Coder (strict)", seed=True))
    history.record(preset, "Saved preset Coder (strict)")
    mcp.write_text('{"mcpServers": {"fs": {"command": "npx"}}}')
    history.record(mcp, "Started keeping the history of mcp.json")
    gone = presets / "old.preset.json"
    gone.write_bytes(preset_bytes(1.0, name="Old"))
    history.record(gone, "Created preset Old")
    gone.unlink()
    history.record_deletion(gone, "old.preset.json was deleted outside the app", outside=True)

    settings = SettingsService(SettingsStore(tmp_path / "settings.json"))
    window = HistoryWindow(history, settings=settings, demo=False)
    qtbot.addWidget(window)

    async def scenario() -> None:
        window.show()
        window.select_file(preset)
        await until(lambda: "temperature" in window.diff_view.toPlainText(), "the field diff")
        assert window.windowTitle() == "LM Studio Tray — History"
        texts = [window.files_list.item(i).text() for i in range(window.files_list.count())]
        assert any(t.startswith("old.preset.json  (deleted)") for t in texts)
        assert window.versions_list.count() == 3
        assert "outside the app" in window.versions_list.item(1).text()
        shown = window.diff_view.toPlainText()
        parts = ("temperature", "0.7", "0.2", "name", "Coder (strict)", "seed", "added", "topK")
        for part in parts:
            assert part in shown, part
        assert "contextLength" not in shown  # unchanged
        await until(lambda: not window.busy, "idle")
        window.grab().save(str(tmp_path / "history-window.png"))

        # the oldest version against the one before it: the whole file was created
        window.versions_list.setCurrentRow(2)
        await until(lambda: "created" in window.diff_view.toPlainText(), "first version diff")

        # compare with current: the disk now (changed by hand, not recorded)
        preset.write_bytes(preset_bytes(0.9, top_p=False, name="Coder (strict)", seed=True))
        window.versions_list.setCurrentRow(0)
        await until(lambda: not window.busy, "idle")
        click(qtbot, window.compare_button)
        await until(lambda: "0.9" in window.diff_view.toPlainText(), "compare with current")
        assert "compared with the file now" in window.diff_view.toPlainText()

        # restore the first version: asked, then a new version on top
        window.versions_list.setCurrentRow(2)
        await until(lambda: not window.busy and window.restore_button.isEnabled(), "enabled")
        click(qtbot, window.restore_button)
        await until(lambda: message_box() is not None, "the question")
        box = message_box()
        assert box is not None and "Restore" in box.windowTitle()
        click(qtbot, next(b for b in box.buttons() if b.text() == "Restore"))
        await until(lambda: window.versions_list.count() == 4, "the restore recorded")
        assert preset.read_bytes() == preset_bytes(0.7)
        assert history.versions(preset)[0].summary.startswith("Restored coder.preset.json")
        assert history.versions(preset)[-1].commit == v1

        # a deleted file: its versions are there, the deletion cannot be restored
        window.select_file(gone)
        await until(lambda: window.selected_path == gone and not window.busy, "the deleted file")
        await until(lambda: window.versions_list.count() == 2, "its versions")
        assert not window.restore_button.isEnabled()
        assert "deleted" in window.diff_view.toPlainText()

        # sharing: push to a bare repository, another machine changes the preset, and
        # this one too: pull marks it as changed on both machines, nothing lost
        bare = tmp_path / "shared.git"
        Repo.init_bare(str(bare), mkdir=True)
        window.remote_edit.setText(str(bare))
        window.remote_edit.setModified(True)
        click(qtbot, window.push_button)
        await until(lambda: "Pushed" in window.status_label.text(), "pushed")
        assert settings.settings.history.remote_url == str(bare)
        other = FileHistory(tmp_path / "other-history")
        other.set_remote(str(bare))
        other.pull()
        preset.write_bytes(preset_bytes(0.3))
        theirs = other.record(preset, "Saved preset Coder on the laptop")
        other.push()
        preset.write_bytes(preset_bytes(0.5))
        history.record(preset, "Saved preset Coder here")
        click(qtbot, window.pull_button)
        await until(lambda: "both machines" in window.status_label.text(), "the conflict")
        await until(lambda: not window.busy, "idle")
        texts = [window.files_list.item(i).text() for i in range(window.files_list.count())]
        assert any("coder.preset.json  (changed on both machines)" in t for t in texts)
        assert preset.read_bytes() == preset_bytes(0.5)
        assert theirs in {v.commit for v in history.versions(preset)}
        window.close()

    run(loop, scenario())
    publish_screenshot(tmp_path / "history-window.png")
