"""The Load model dialog against a simulated LM Studio (HTTP + fake `lms`), driven on one
qasync loop as in the app: list, search, load with progress, the outcome, and REST without
lms (busy bar, settings greyed out)."""

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
from PySide6.QtWidgets import QApplication

from tray.core.api import ModelInfo
from tray.services.lms_runner import LmsRunner
from tray.services.lmstudio_client import LmStudioClient
from tray.services.model_manager import ModelManager
from tray.simulator import Simulator
from tray.ui.load_model_dialog import GPU_CHOICES, LoadModelDialog

SMALL = "qwen/qwen3-4b"
T = TypeVar("T")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", load_seconds=2.0) as simulator:
        simulator.install_fake_lms()
        yield simulator


class World:
    """A dialog over a real client and manager, with the HTTP client closed at the end."""

    def __init__(self, sim: Simulator, tmp_path: Path, *, with_lms: bool) -> None:
        self.http = httpx.AsyncClient()
        self.client = LmStudioClient(self.http, sim.base_url)
        runner = LmsRunner(sim.home / "bin" / "lms", env={**os.environ, "HOME": str(tmp_path)})
        self.manager = ModelManager(
            self.client,
            runner if with_lms else None,
            state_dir=tmp_path / "state",
            profile_id="p",
        )
        self.refreshes = 0
        self.dialog = LoadModelDialog(
            self.list_downloaded, lambda: self.manager, demo=True, on_loaded=self.refreshed
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

    def make(*, with_lms: bool = True) -> World:
        made.append(World(sim, tmp_path, with_lms=with_lms))
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
