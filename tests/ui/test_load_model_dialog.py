"""The Load model dialog against a simulated LM Studio (HTTP + fake `lms`), driven on one
qasync loop as in the app: list, search, load with progress, the outcome, and REST without
lms (busy bar, settings greyed out); Enter and double-click load, the pre-flight warning
keeps its details behind a disclosure, vision models are marked."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from aio import run, until  # tests/ui/aio.py
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget
from screen import x11  # tests/ui/screen.py

from tray.core.api import ModelInfo
from tray.core.gpu import GpuDevice, GpuReport
from tray.core.load_profiles import LoadProfile
from tray.services.history import FileHistory
from tray.services.lms_runner import LmsRunner
from tray.services.lmstudio_client import LmStudioClient
from tray.services.load_profile_store import LoadProfileStore
from tray.services.model_manager import ModelManager
from tray.simulator import Simulator
from tray.ui.load_model_dialog import DETAILS_TEXT, GPU_CHOICES, LoadModelDialog

SMALL = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-12b"  # the simulated catalogue's vision model
GiB = 1024**3
T = TypeVar("T")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", load_seconds=2.0) as simulator:
        simulator.install_fake_lms()
        yield simulator


class World:
    """A dialog over a real client and manager, with the HTTP client closed at the end."""

    def __init__(
        self,
        sim: Simulator,
        tmp_path: Path,
        *,
        with_lms: bool,
        profiles: LoadProfileStore | None = None,
        gpu: GpuReport | None = None,
    ) -> None:
        self.http = httpx.AsyncClient()
        self.client = LmStudioClient(self.http, sim.base_url)
        runner = LmsRunner(sim.home / "bin" / "lms", env={**os.environ, "HOME": str(tmp_path)})
        self.manager = ModelManager(
            self.client,
            runner if with_lms else None,
            state_dir=tmp_path / "state",
            profile_id="p",
            gpu_probe=(lambda: gpu) if gpu is not None else None,
        )
        self.refreshes = 0
        self.dialog = LoadModelDialog(
            self.list_downloaded,
            lambda: self.manager,
            demo=True,
            on_loaded=self.refreshed,
            profiles=profiles,
        )

    async def list_downloaded(self) -> list[ModelInfo]:
        return await self.client.list_models()

    def refreshed(self) -> None:
        self.refreshes += 1

    async def close(self) -> None:
        self.dialog.close()
        self.dialog.deleteLater()
        await self.http.aclose()


@pytest.fixture
def world_factory(
    loop: asyncio.AbstractEventLoop, sim: Simulator, tmp_path: Path
) -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(
        *,
        with_lms: bool = True,
        profiles: LoadProfileStore | None = None,
        gpu: GpuReport | None = None,
    ) -> World:
        made.append(World(sim, tmp_path, with_lms=with_lms, profiles=profiles, gpu=gpu))
        return made[-1]

    yield make
    for w in made:
        loop.run_until_complete(w.close())


def visible_keys(dialog: LoadModelDialog) -> list[str]:
    return [dialog.proxy.index(r, 0).data() for r in range(dialog.proxy.rowCount())]


def test_load_with_lms_shows_progress_then_the_outcome(
    loop: asyncio.AbstractEventLoop,
    sim: Simulator,
    world_factory: Callable[..., World],
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    world = world_factory()
    dialog = world.dialog
    sim.state.context_cap = 8192  # LM Studio will give less than asked

    async def scenario() -> None:
        dialog.open()
        dialog.reload()
        await until(lambda: dialog.model.rowCount() == len(sim.state.catalog), "models listed")
        assert dialog.windowTitle() == "LM Studio Tray — Load model — Demo"
        assert dialog.gpu.isEnabled() and dialog.ttl.isEnabled()

        QTest.keyClicks(dialog.search, "qwen3-4")
        assert visible_keys(dialog) == [SMALL]
        assert dialog.select(SMALL)
        row = [dialog.proxy.index(0, c).data() for c in range(6)]
        assert row == [SMALL, "LLM", "2.50 GB", "Q4_K_M", "32,768", ""]
        dialog.context.setValue(16384)
        dialog.gpu.setCurrentIndex([c[1] for c in GPU_CHOICES].index(0.5))
        dialog.ttl.setValue(10)

        QTest.mouseClick(dialog.load_button, Qt.MouseButton.LeftButton)
        await until(lambda: dialog.loading, "loading")
        assert dialog.progress.isVisible() and dialog.progress.maximum() == 100
        assert not dialog.load_button.isEnabled() and not dialog.table.isEnabled()
        # The dialog keeps painting while lms works: progress arrives and is drawn.
        await until(lambda: 0 < dialog.progress.value() < 100, "progress shown")
        assert dialog.grab().save(str(tmp_path / "load-model-dialog-loading.png"))

        await until(lambda: not dialog.loading, "loaded")
        await until(
            lambda: visible_keys(dialog) == [SMALL] and dialog.proxy.index(0, 5).data() == "✓",
            "loaded mark",
        )

    run(loop, scenario())
    publish_screenshot(tmp_path / "load-model-dialog-loading.png")
    result = dialog.last_result
    assert result is not None
    assert (result.identifier, result.context_length, result.requested_context_length) == (
        SMALL,
        8192,
        16384,
    )
    text = dialog.outcome.text()
    assert "with 8,192 tokens of context" in text
    assert "less context than the 16,384 tokens asked for" in text
    assert world.refreshes == 1
    with sim.state.locked():
        instance = sim.state.instances[SMALL]
        assert (instance.gpu_ratio, instance.ttl_seconds) == (0.5, 600)
    dialog.search.clear()  # the whole list, with the loaded mark
    assert dialog.selected_key() == SMALL
    QApplication.processEvents()  # let the columns fit the whole list before the picture
    assert dialog.grab().save(str(tmp_path / "load-model-dialog-done.png"))
    publish_screenshot(tmp_path / "load-model-dialog-done.png")


def test_load_without_lms_shows_a_busy_bar_and_greys_out_what_rest_cannot_set(
    loop: asyncio.AbstractEventLoop, sim: Simulator, world_factory: Callable[..., World]
) -> None:
    world = world_factory(with_lms=False)
    dialog = world.dialog

    async def scenario() -> None:
        dialog.open()
        await dialog.refresh()
        assert not dialog.gpu.isEnabled() and not dialog.ttl.isEnabled()
        assert "lms" in dialog.gpu.toolTip()
        assert dialog.select(SMALL)
        dialog.load_selected()
        await until(lambda: dialog.loading, "loading")
        assert dialog.progress.maximum() == 0  # busy: REST reports no progress
        await until(lambda: not dialog.loading, "loaded")

    run(loop, scenario())
    assert "Loaded qwen/qwen3-4b" in dialog.outcome.text()
    assert sim.state.loaded_identifiers() == [SMALL]


def test_a_failed_load_says_why_and_the_dialog_stays_usable(
    loop: asyncio.AbstractEventLoop, sim: Simulator, world_factory: Callable[..., World]
) -> None:
    world = world_factory()
    dialog = world.dialog

    async def scenario() -> None:
        dialog.open()
        await dialog.refresh()
        assert dialog.select(SMALL)
        with sim.state.locked():
            del sim.state.catalog[SMALL]  # deleted behind our back
        assert await dialog.load(SMALL) is None

    run(loop, scenario())
    assert "Model not found" in dialog.outcome.text()
    assert not dialog.loading and dialog.table.isEnabled()
    assert not dialog.progress.isVisible()


def test_a_list_that_cannot_be_read_is_said_in_the_dialog(
    loop: asyncio.AbstractEventLoop, sim: Simulator, world_factory: Callable[..., World]
) -> None:
    world = world_factory()
    sim.stop_api_server()

    async def scenario() -> None:
        world.dialog.open()
        await world.dialog.refresh()

    run(loop, scenario())
    assert "Could not list the downloaded models" in world.dialog.outcome.text()
    assert world.dialog.model.rowCount() == 0


# --- Enter, double-click -----------------------------------------------------------------


async def shown(dialog: LoadModelDialog) -> None:
    """Open as the tray does, wait until it has the keyboard, and list the models."""
    dialog.open()
    dialog.activateWindow()
    await until(dialog.isActiveWindow, "the dialog to have the keyboard")
    await dialog.refresh()


def press_enter(widget: QWidget | None, *, keypad: bool = False) -> None:
    assert widget is not None
    if keypad:
        QTest.keyClick(widget, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    else:
        QTest.keyClick(widget, Qt.Key.Key_Return)


def instances_of(sim: Simulator, key: str) -> int:
    with sim.state.locked():
        return sum(1 for i in sim.state.instances.values() if i.model.key == key)


def test_enter_in_the_search_field_loads_the_only_model_it_leaves_and_never_closes(
    loop: asyncio.AbstractEventLoop, sim: Simulator, world_factory: Callable[..., World]
) -> None:
    dialog = world_factory().dialog

    async def scenario() -> None:
        await shown(dialog)
        dialog.search.setFocus()
        # several models left, none picked: Enter does nothing, and the dialog stays
        QTest.keyClicks(dialog.search, "qwen")
        assert len(visible_keys(dialog)) > 1 and dialog.selected_key() is None
        press_enter(dialog.search)
        assert dialog.isVisible() and not dialog.loading

        QTest.keyClicks(dialog.search, "3-4")  # "qwen3-4": one model left, picked for Enter
        assert visible_keys(dialog) == [SMALL]
        assert dialog.selected_key() == SMALL and dialog.load_button.isEnabled()
        press_enter(dialog.search)
        await until(lambda: dialog.loading, "loading")
        assert dialog.load_task is not None
        await dialog.load_task  # loaded, the outcome shown, the list read again
        assert sim.state.loaded_identifiers() == [SMALL]

        # The list was disabled while loading, which sent the focus to Close; Enter there
        # used to close the dialog without loading. It is Load there too — and a model
        # that is loaded already is used, never loaded a second time.
        focus = QApplication.focusWidget()
        assert focus is not dialog.close_button
        dialog.close_button.setFocus()
        press_enter(dialog.close_button)
        assert dialog.isVisible()
        await dialog.load_task  # the load, its outcome and the list read again
        assert "already loaded" in dialog.outcome.text()
        assert instances_of(sim, SMALL) == 1
        assert dialog.isVisible()

    run(loop, scenario())


def test_enter_in_the_list_loads_the_selected_row(
    loop: asyncio.AbstractEventLoop, sim: Simulator, world_factory: Callable[..., World]
) -> None:
    dialog = world_factory().dialog

    async def scenario() -> None:
        await shown(dialog)
        QTest.keyClicks(dialog.search, "gemma")
        QTest.keyClick(dialog.search, Qt.Key.Key_Down)  # from the search into the list
        assert dialog.table.hasFocus() and dialog.selected_key() == GEMMA
        press_enter(dialog.table, keypad=True)  # the keypad's Enter too
        await until(lambda: sim.state.loaded_identifiers() == [GEMMA], "gemma loaded")
        await until(lambda: not dialog.loading, "idle")
        assert dialog.isVisible()
        QTest.keyClick(dialog.table, Qt.Key.Key_Escape)  # Esc still closes
        assert not dialog.isVisible()

    run(loop, scenario())


@pytest.mark.ui
def test_double_click_loads_the_row_clicked(
    loop: asyncio.AbstractEventLoop, sim: Simulator, world_factory: Callable[..., World]
) -> None:
    dialog = world_factory().dialog

    async def scenario() -> None:
        await shown(dialog)
        dialog.select(SMALL)  # another row selected first: the click decides
        row = visible_keys(dialog).index(GEMMA)
        where = dialog.table.visualRect(dialog.proxy.index(row, 0)).center()
        spot = dialog.table.viewport().mapToGlobal(where)
        # a real double-click on the X display (press, release, press, release)
        x11("xdotool", "mousemove", str(spot.x()), str(spot.y()), "click", "--repeat", "2", "1")
        await until(lambda: sim.state.loaded_identifiers() == [GEMMA], "gemma loaded")
        await until(lambda: not dialog.loading, "idle")
        assert dialog.isVisible()

    run(loop, scenario())


# --- the vision mark ---------------------------------------------------------------------


def test_vision_models_are_marked_and_found_by_the_word(
    loop: asyncio.AbstractEventLoop,
    sim: Simulator,
    world_factory: Callable[..., World],
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    dialog = world_factory().dialog

    async def scenario() -> None:
        await shown(dialog)
        kinds = {dialog.proxy.index(r, 0).data(): dialog.proxy.index(r, 1) for r in range(7)}
        assert kinds[GEMMA].data() == "Vision LLM"
        assert "images" in kinds[GEMMA].data(Qt.ItemDataRole.ToolTipRole)
        assert kinds[SMALL].data() == "LLM"
        assert kinds["text-embedding-nomic-embed-text-v1.5"].data() == "Embedding"
        dialog.select(GEMMA)
        dialog.layout().activate()
        assert dialog.grab().save(str(tmp_path / "load-model-vision.png"))
        QTest.keyClicks(dialog.search, "vision")
        assert visible_keys(dialog) == [GEMMA]

    run(loop, scenario())
    publish_screenshot(tmp_path / "load-model-vision.png", docs=False)


# --- the pre-flight warning --------------------------------------------------------------


def test_the_preflight_warning_is_one_sentence_with_details_behind_a_disclosure(
    loop: asyncio.AbstractEventLoop,
    sim: Simulator,
    world_factory: Callable[..., World],
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    store = LoadProfileStore(tmp_path / "load-profiles", FileHistory(tmp_path / "history"))
    # 32,768 tokens × 4 slots of qwen3-4b's KV cache do not fit in 10 GiB free.
    store.save(LoadProfile(context_length=32768, parallel=4), SMALL)
    card = GpuDevice(name="Sim GPU", total_bytes=16 * GiB, used_bytes=6 * GiB, source="nvml")
    dialog = world_factory(profiles=store, gpu=GpuReport(devices=(card,))).dialog

    async def scenario() -> None:
        await shown(dialog)
        assert dialog.select(SMALL)
        await until(lambda: "own profile" in dialog.profile_label.text(), "profile shown")
        press_enter(dialog.table)
        await until(lambda: dialog.preflight_label.isVisible(), "the pre-flight warning")
        check = dialog.last_preflight
        assert check is not None and check.fits is False
        sentence = dialog.preflight_label.text()
        assert sentence == f"⚠ {check.sentence}"
        assert sentence.startswith("⚠ It needs about ")
        assert sentence.endswith(" of GPU memory and only 10.74 GB is free.")
        assert sentence.count(". ") == 0  # one sentence
        # the details are folded away until asked for
        assert dialog.details_button.isVisible() and dialog.details_button.text() == DETAILS_TEXT
        assert not dialog.details_label.isVisible()
        assert dialog.load_button.text() == "Load anyway"
        assert sim.state.loaded_identifiers() == []
        dialog.layout().activate()
        assert dialog.grab().save(str(tmp_path / "load-model-preflight-collapsed.png"))

        QTest.mouseClick(dialog.details_button, Qt.MouseButton.LeftButton)
        assert dialog.details_label.isVisible()
        details = dialog.details_label.text()
        assert "short: lower the context length, parallel slots or GPU offload" in details
        assert "KV cache for 3 more parallel slots" in details
        assert "GPU memory now: 6.44 GB of 17.18 GB used." in details
        dialog.layout().activate()
        assert dialog.grab().save(str(tmp_path / "load-model-preflight-expanded.png"))
        QTest.mouseClick(dialog.details_button, Qt.MouseButton.LeftButton)
        assert not dialog.details_label.isVisible()

        # a second Enter is "Load anyway"
        press_enter(dialog.table)
        await until(lambda: dialog.last_profile_result is not None, "loaded anyway")
        await until(lambda: not dialog.loading, "idle")
        assert not dialog.preflight_label.isVisible()
        assert sim.state.loaded_identifiers() == [SMALL]

    run(loop, scenario())
    publish_screenshot(tmp_path / "load-model-preflight-collapsed.png", docs=False)
    publish_screenshot(tmp_path / "load-model-preflight-expanded.png", docs=False)
