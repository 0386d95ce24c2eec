"""The Load profiles dialog and the Load model dialog's use of profiles, on a real display
against the simulator and its fake `lms`: edit the default and a model's override (inline
validation, save, history, delete), then load with the profile — the pre-flight warning with
numbers, "Load anyway", and what LM Studio did differently."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from aio import run, until  # tests/ui/aio.py
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from tray.core.api import ModelInfo
from tray.core.gpu import GpuDevice, GpuReport
from tray.core.load_profiles import LoadProfile
from tray.services.history import FileHistory
from tray.services.lms_runner import LmsRunner
from tray.services.lmstudio_client import LmStudioClient
from tray.services.load_profile_store import LoadProfileStore
from tray.services.model_manager import ModelManager
from tray.simulator import Simulator
from tray.ui.load_model_dialog import LoadModelDialog
from tray.ui.load_profiles_dialog import DEFAULT_ITEM, LoadProfilesDialog
from tray.ui.tasks import cancel_all

SMALL = "qwen/qwen3-4b"
GiB = 1024**3


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", load_seconds=0.3) as simulator:
        simulator.install_fake_lms()
        yield simulator


@pytest.fixture
def history(tmp_path: Path) -> FileHistory:
    return FileHistory(tmp_path / "history")


@pytest.fixture
def store(tmp_path: Path, history: FileHistory) -> LoadProfileStore:
    return LoadProfileStore(tmp_path / "load-profiles", history)


def test_profiles_dialog_edits_the_default_and_an_override(
    loop: asyncio.AbstractEventLoop,
    sim: Simulator,
    store: LoadProfileStore,
    history: FileHistory,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    store.save(LoadProfile(context_length=8192, flash_attention=True, gpu_offload="max"))

    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            client = LmStudioClient(http, sim.base_url)

            async def models() -> list[ModelInfo]:
                return await client.list_models()

            dialog = LoadProfilesDialog(store, models, demo=True)
            try:
                dialog.open()
                await dialog.refresh()
                assert dialog.windowTitle() == "LM Studio Tray — Load profiles — Demo"
                assert dialog.list.item(0).text() == DEFAULT_ITEM
                assert SMALL in dialog.model_keys()
                assert dialog.rows["context_length"].enabled.isChecked()
                assert dialog.context.value() == 8192

                # the default may not set an identifier: said inline, Save disabled
                dialog.rows["identifier"].enabled.setChecked(True)
                QTest.keyClicks(dialog.identifier, "shared")
                assert dialog.rows["identifier"].error.isVisible()
                assert "every model would get the same" in dialog.rows["identifier"].error.text()
                assert not dialog.save_button.isEnabled()
                dialog.rows["identifier"].enabled.setChecked(False)
                assert dialog.save_button.isEnabled()

                # a model's own profile: parallel 4, 10 minutes TTL, its own context
                QTest.keyClicks(dialog.search, "qwen3-4")
                assert dialog.model_keys() == [SMALL]
                assert dialog.select(SMALL)
                assert not dialog.delete_button.isEnabled()  # no override yet
                assert dialog.rows["context_length"].inherited.text() == "default: 8,192"
                dialog.rows["context_length"].enabled.setChecked(True)
                dialog.context.setValue(16384)
                dialog.rows["parallel"].enabled.setChecked(True)
                dialog.parallel.setValue(4)
                dialog.rows["ttl_seconds"].enabled.setChecked(True)
                dialog.ttl.setValue(600)
                dialog.rows["identifier"].enabled.setChecked(True)
                QTest.keyClicks(dialog.identifier, "qwen-small")
                dialog.write_defaults.setChecked(True)
                assert "A load of this model uses" in dialog.summary.text()
                assert "flash attention on" in dialog.summary.text()
                QTest.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
                await until(lambda: "Saved the profile of" in dialog.status.text(), "saved")
                assert dialog.delete_button.isEnabled()
                dialog.search.clear()
                dialog.layout().activate()  # no processEvents inside a task: qasync re-enters
                assert dialog.grab().save(str(tmp_path / "load-profiles-dialog.png"))

                # delete the override: the history keeps it
                QTest.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
                await until(lambda: "Deleted the profile" in dialog.status.text(), "deleted")
                assert not dialog.delete_button.isEnabled()
            finally:
                await cancel_all()
                dialog.close()
                dialog.deleteLater()

    run(loop, scenario())
    publish_screenshot(tmp_path / "load-profiles-dialog.png")
    assert store.for_model(SMALL) is None
    saved = history.versions(store.path_for(SMALL))
    assert any("created" in v.message for v in saved)


def test_a_context_longer_than_the_model_takes_is_refused_inline(
    loop: asyncio.AbstractEventLoop,
    sim: Simulator,
    store: LoadProfileStore,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    shot = tmp_path / "load-profiles-context-too-long.png"

    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            client = LmStudioClient(http, sim.base_url)

            async def models() -> list[ModelInfo]:
                return await client.list_models()

            longest = next(m.max_context_length for m in await models() if m.key == SMALL)
            assert longest == 32768
            dialog = LoadProfilesDialog(store, models, demo=False)
            try:
                dialog.open()
                dialog.activateWindow()
                await until(dialog.isActiveWindow, "the window to have the keyboard")
                await dialog.refresh()
                item = next(
                    dialog.list.item(i)
                    for i in range(dialog.list.count())
                    if dialog.list.item(i).data(Qt.ItemDataRole.UserRole + 1) == SMALL
                )
                dialog.list.scrollToItem(item)
                center = dialog.list.visualItemRect(item).center()
                QTest.mouseClick(dialog.list.viewport(), Qt.MouseButton.LeftButton, pos=center)
                assert dialog.heading.text() == SMALL
                row = dialog.rows["context_length"]
                QTest.mouseClick(
                    row.enabled, Qt.MouseButton.LeftButton, pos=QPoint(8, row.enabled.height() // 2)
                )
                assert row.enabled.isChecked()

                dialog.context.setFocus()
                dialog.context.selectAll()
                QTest.keyClicks(dialog.context, "40000")
                assert dialog.context.value() == 40000
                assert row.error.isVisible()
                assert "takes at most 32,768 tokens" in row.error.text()
                assert not dialog.save_button.isEnabled()
                QTest.keyClick(dialog.context, Qt.Key.Key_Return)  # Save is refused
                dialog.layout().activate()  # no processEvents inside a task: qasync re-enters
                assert dialog.grab().save(str(shot))
                assert store.for_model(SMALL) is None
                assert "Saved" not in dialog.status.text()

                dialog.context.selectAll()
                QTest.keyClicks(dialog.context, "32768")  # the longest it takes is fine
                assert not row.error.isVisible()
                assert dialog.save_button.isEnabled()
                QTest.keyClick(dialog.context, Qt.Key.Key_Return)
                await until(lambda: "Saved the profile of" in dialog.status.text(), "saved")
                saved = store.for_model(SMALL)
                assert saved is not None and saved.context_length == 32768

                # The default profile is for every model: no one model's limit applies.
                dialog.select(None)
                dialog.rows["context_length"].enabled.setChecked(True)
                dialog.context.setValue(200_000)
                assert not dialog.rows["context_length"].error.isVisible()
                assert dialog.save_button.isEnabled()
            finally:
                await cancel_all()
                dialog.close()
                dialog.deleteLater()

    run(loop, scenario())
    publish_screenshot(shot, docs=False)


def test_load_dialog_warns_before_a_load_that_will_not_fit(
    loop: asyncio.AbstractEventLoop,
    sim: Simulator,
    store: LoadProfileStore,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    # 32,768 tokens × 4 slots of qwen3-4b's KV cache do not fit in 10 GiB free.
    store.save(LoadProfile(context_length=32768, parallel=4, flash_attention=False), SMALL)
    sim.state.context_cap = 16384
    gpu = GpuReport(
        devices=(
            GpuDevice(name="Sim GPU", total_bytes=16 * GiB, used_bytes=6 * GiB, source="nvml"),
        )
    )

    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            client = LmStudioClient(http, sim.base_url)
            runner = LmsRunner(sim.home / "bin" / "lms", env={**os.environ, "HOME": str(tmp_path)})
            manager = ModelManager(
                client, runner, state_dir=tmp_path / "state", profile_id="p", gpu_probe=lambda: gpu
            )

            async def models() -> list[ModelInfo]:
                return await client.list_models()

            dialog = LoadModelDialog(models, lambda: manager, demo=True, profiles=store)
            try:
                dialog.open()
                await dialog.refresh()
                assert dialog.select(SMALL)
                await until(lambda: "own profile" in dialog.profile_label.text(), "profile shown")
                assert "context length 32,768" in dialog.profile_label.text()
                QTest.mouseClick(dialog.load_button, Qt.MouseButton.LeftButton)
                await until(lambda: dialog.preflight_label.isVisible(), "pre-flight warning")
                check = dialog.last_preflight
                assert check is not None and check.fits is False
                assert "only 10.74 GB is free" in dialog.preflight_label.text()
                assert dialog.load_button.text() == "Load anyway"
                assert sim.state.loaded_identifiers() == []
                dialog.layout().activate()  # no processEvents inside a task: qasync re-enters
                assert dialog.grab().save(str(tmp_path / "load-model-preflight.png"))

                QTest.mouseClick(dialog.load_button, Qt.MouseButton.LeftButton)
                await until(lambda: dialog.last_profile_result is not None, "loaded")
                await until(lambda: not dialog.loading, "idle")
                result = dialog.last_profile_result
                assert result is not None
                assert result.path == "lms"
                text = dialog.outcome.text()
                assert "LM Studio gave 16,384 tokens of context, not the 32,768 asked for" in text
                assert "Flash attention was not applied" in text
                assert dialog.load_button.text() == "Load"
                assert not dialog.preflight_label.isVisible()
                with sim.state.locked():
                    assert sim.state.instances[result.loaded.identifier].parallel == 4
                dialog.layout().activate()  # no processEvents inside a task: qasync re-enters
                assert dialog.grab().save(str(tmp_path / "load-model-profile-outcome.png"))
            finally:
                await cancel_all()
                dialog.close()
                dialog.deleteLater()

    run(loop, scenario())
    publish_screenshot(tmp_path / "load-model-preflight.png")
    publish_screenshot(tmp_path / "load-model-profile-outcome.png", docs=False)


def _box() -> QMessageBox | None:
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    return next((b for b in boxes if b.isVisible()), None)


async def _answer(button: QMessageBox.StandardButton) -> None:
    await until(lambda: _box() is not None, "the question")
    box = _box()
    assert box is not None
    QTest.mouseClick(box.button(button), Qt.MouseButton.LeftButton)
    await until(lambda: _box() is None, "the answer taken")


def test_unsaved_edits_are_asked_about_before_another_profile_or_closing(
    loop: asyncio.AbstractEventLoop, sim: Simulator, store: LoadProfileStore
) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            client = LmStudioClient(http, sim.base_url)

            async def models() -> list[ModelInfo]:
                return await client.list_models()

            dialog = LoadProfilesDialog(store, models, demo=False)
            try:
                dialog.open()
                await dialog.refresh()
                assert dialog.select(SMALL) and not dialog.dirty
                dialog.rows["context_length"].enabled.setChecked(True)
                dialog.context.setValue(16384)
                assert dialog.dirty

                # another profile: asked; Cancel keeps the edits on the same profile
                dialog.list.setCurrentRow(0)
                await _answer(QMessageBox.StandardButton.Cancel)
                assert dialog.list.currentItem().data(Qt.ItemDataRole.UserRole + 1) == SMALL
                assert dialog.context.value() == 16384 and dialog.dirty

                # a refresh (the window presented again) keeps them too
                await dialog.refresh()
                assert dialog.context.value() == 16384 and dialog.dirty

                # Discard: the other profile shows, nothing was saved
                dialog.list.setCurrentRow(0)
                await _answer(QMessageBox.StandardButton.Discard)
                await until(lambda: dialog.heading.text() == "Default load profile", "default")
                assert store.for_model(SMALL) is None and not dialog.dirty

                # Esc with edits: asked; Save writes them and closes
                dialog.rows["parallel"].enabled.setChecked(True)
                dialog.parallel.setValue(3)
                QTest.keyClick(dialog, Qt.Key.Key_Escape)
                await _answer(QMessageBox.StandardButton.Save)
                await until(lambda: not dialog.isVisible(), "closed after saving")
                assert store.default().parallel == 3
            finally:
                dialog.deleteLater()
                await cancel_all()

    run(loop, scenario())
