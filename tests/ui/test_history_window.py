"""The History window on a real display over a real history repository: a preset with
several versions (ours and one made outside the app) shows a field-level diff; restoring
asks first and becomes a new version; "Compare with current" reads the disk; the sharing
area pushes and pulls through a real bare repository and marks a file changed on both
machines. It opens centred like the app's dialogs, Esc closes it, every file has a
readable name (no hashed file name), Push and Pull wait for a remote and say so, and an
error goes once the user picks another file or the next step succeeds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from aio import run, until  # tests/ui/aio.py
from dulwich.repo import Repo
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from tray.core.load_profiles import LoadProfile, profile_file_name
from tray.services.history import FileHistory
from tray.services.load_profile_store import LoadProfileStore
from tray.services.model_defaults import LmStudioDefaults
from tray.services.preset_store import PresetStore
from tray.services.settings_store import SettingsService, SettingsStore
from tray.ui.history_window import HistoryWindow
from tray.ui.preset_dialog import PresetDialog


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
        assert any(t.startswith("Preset: Old  (deleted)") for t in texts)
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
        await until(lambda: "Pushed" in window.status_label.text() and not window.busy, "pushed")
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
        assert any("Preset: Coder  (changed on both machines)" in t for t in texts)
        assert preset.read_bytes() == preset_bytes(0.5)
        assert theirs in {v.commit for v in history.versions(preset)}
        window.close()

    run(loop, scenario())
    publish_screenshot(tmp_path / "history-window.png")


def texts_of(window: HistoryWindow) -> list[str]:
    return [window.files_list.item(i).text() for i in range(window.files_list.count())]


@pytest.mark.ui
def test_opens_centred_reads_well_waits_for_a_remote_and_drops_stale_errors(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    history = FileHistory(tmp_path / "history")
    home = tmp_path / ".lmstudio"
    presets = PresetStore(home / "config-presets", history)
    presets.create("Coding")
    old = presets.create("Old")
    presets.delete(old.origin or "")
    profiles = LoadProfileStore(tmp_path / "config" / "load-profiles", history)
    profiles.save(LoadProfile(context_length=4096))
    profiles.save(LoadProfile(context_length=16384, parallel=2), "qwen/qwen3-4b")
    LmStudioDefaults(home, history).write("qwen/qwen3-4b", LoadProfile(context_length=16384))
    mcp = home / "mcp.json"
    mcp.write_text('{"mcpServers": {}}')
    history.record(mcp, "Started keeping the history of mcp.json")
    settings = SettingsService(SettingsStore(tmp_path / "settings.json"))
    window = HistoryWindow(history, settings=settings, demo=False)
    qtbot.addWidget(window)

    async def scenario() -> None:
        window.present()
        await until(lambda: window.files_list.count() == 6 and not window.busy, "the files")

        # where the app's other windows open (the Presets window here): centred on the
        # screen, not in its corner
        other = PresetDialog(presets, demo=False)
        qtbot.addWidget(other)
        other.present()
        await until(lambda: other.isVisible() and other.loaded is not None, "the Presets window")
        assert window.frameGeometry().center() == other.frameGeometry().center()
        screen = window.screen().availableGeometry()
        assert window.frameGeometry().topLeft() != screen.topLeft()
        assert window.frameGeometry().intersects(QRect(screen.center(), QSize(1, 1)))
        other.close()

        # readable names, presets first; no hashed or raw file name
        titles = [t.split("\n")[0] for t in texts_of(window)]
        assert titles == [
            "Preset: Coding",
            "Preset: Old  (deleted)",
            "Load profile: default (every model)",
            "Load profile: qwen/qwen3-4b",
            "LM Studio defaults: qwen/qwen3-4b",
            "mcp.json",
        ]
        hashed = profile_file_name("qwen/qwen3-4b")  # model-qwen_qwen3-4b-<hash>.json
        assert not any(hashed in t or ".preset.json" in t for t in texts_of(window))
        window.files_list.setCurrentRow(3)
        await until(
            lambda: window.diff_view.toPlainText().startswith("Load profile: qwen/qwen3-4b"),
            "the profile's versions",
        )
        assert "Load profile: qwen/qwen3-4b created" in window.diff_view.toPlainText()
        assert hashed not in window.diff_view.toPlainText()

        # no remote: Push and Pull off, and the window says why
        assert not window.push_button.isEnabled() and not window.pull_button.isEnabled()
        assert "No remote yet" in window.push_button.toolTip()
        assert window.no_remote_label.isVisible()
        window.grab().save(str(tmp_path / "history-readable.png"))
        publish_screenshot(tmp_path / "history-readable.png", docs=False)
        qtbot.keyClicks(window.remote_edit, str(tmp_path / "shared.git"))
        assert window.push_button.isEnabled() and window.pull_button.isEnabled()
        assert not window.no_remote_label.isVisible()
        window.remote_edit.selectAll()
        qtbot.keyClick(window.remote_edit, Qt.Key.Key_Delete)
        assert not window.push_button.isEnabled()

        # an error goes when another file is picked ...
        qtbot.keyClicks(window.remote_edit, "https://me:secret@example.com/p.git")
        qtbot.keyClick(window.remote_edit, Qt.Key.Key_Return)
        await until(lambda: "must not carry" in window.status_label.text(), "the error")
        assert settings.settings.history.remote_url is None  # nothing saved
        window.files_list.setCurrentRow(0)
        await until(lambda: not window.busy, "the preset's versions")
        assert window.status_label.text() == ""
        # ... and when the next step succeeds
        click(qtbot, window.save_remote_button)
        await until(lambda: "must not carry" in window.status_label.text(), "the error again")
        click(qtbot, window.compare_button)
        await until(lambda: "compared with the file now" in window.diff_view.toPlainText(), "")
        assert window.status_label.text() == ""

        # Esc closes; opening again shows it at the same place
        where = window.pos()
        qtbot.keyClick(window.files_list, Qt.Key.Key_Escape)
        await until(lambda: not window.isVisible(), "closed")
        window.present()
        await until(lambda: window.isVisible() and not window.busy, "shown again")
        assert window.pos() == where
        window.close()

    run(loop, scenario())
