"""The tray's models section: the Loaded models submenu rendered from status rows (in
place), Eject with a confirmation for a busy model, Eject all and Restore against a
simulated LM Studio, and the submenu opened for real on the tray host."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aio import run, until  # tests/ui/aio.py
from PySide6.QtCore import QPoint
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox
from pytestqt.qtbot import QtBot
from screen import count_close, crop_around, grab_screen, x11  # tests/ui/screen.py

from tray.core.api import ModelInfo
from tray.core.backends import BackendKind, capabilities_for
from tray.core.inventory import LoadedModelRow, build_inventory
from tray.core.lms_output import LmsLoadedModel
from tray.core.status import ServerState, ServerStatus
from tray.services.lms_runner import LmsRunner
from tray.services.lmstudio_client import LmStudioClient
from tray.services.model_manager import ModelManager
from tray.simulator import Simulator
from tray.ui.models_section import ModelsSection
from tray.ui.tray_icon import TrayIcon

SMALL = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-12b"
URL = "http://127.0.0.1:1234"
CAPS = capabilities_for(BackendKind.LMSTUDIO, lms_available=True)
T = TypeVar("T")

GENERATING = LoadedModelRow(
    identifier=SMALL,
    model_key=SMALL,
    type="llm",
    size_bytes=2_497_280_256,
    context_length=8192,
    max_context_length=32768,
    status="generating",
    queued=2,
    ttl_seconds=3600,
    ttl_remaining_seconds=540,
    parallel=4,
)
SHORT = LoadedModelRow(
    identifier=GEMMA,
    model_key=GEMMA,
    type="llm",
    size_bytes=8_150_000_000,
    context_length=4096,
    max_context_length=131072,
    requested_context_length=16384,
    status="idle",
    queued=0,
    parallel=4,
)


def running(*rows: LoadedModelRow) -> ServerStatus:
    return ServerStatus(url=URL, state=ServerState.RUNNING, loaded=rows, demo=True)


# --- plumbing: one qasync loop, as in the app ------------------------------------------------


def texts(menu: QMenu) -> list[str]:
    return ["--" if a.isSeparator() else a.text() for a in menu.actions() if a.isVisible()]


def entry_menu(section: ModelsSection, identifier: str) -> QMenu:
    return section.entries[identifier].menu


def open_message_box() -> QMessageBox | None:
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    return next((b for b in boxes if b.isVisible()), None)


def button(box: QMessageBox, text: str) -> Any:
    return next(b for b in box.buttons() if b.text().replace("&", "") == text)


async def no_models() -> list[ModelInfo]:
    return []


def offline_section(**kwargs: Any) -> ModelsSection:
    return ModelsSection(
        lambda: None, refresh=lambda: None, list_downloaded=no_models, demo=True, **kwargs
    )


# --- rendering ----------------------------------------------------------------------------


def test_the_submenu_lists_each_model_with_its_facts(qapp: QApplication) -> None:
    section = offline_section()
    section.render(running(GENERATING, SHORT), CAPS)

    assert section.menu.title() == "Loaded models (2)"
    assert texts(section.menu) == [
        f"{SMALL} — generating",
        f"{GEMMA} — less context than asked",
        "--",
        "Eject all",
    ]
    assert texts(entry_menu(section, SMALL)) == [
        "2.50 GB · ctx 8,192 / 32,768",
        "TTL 9m left · generating, 2 queued",
        "--",
        "Eject",
    ]
    assert texts(entry_menu(section, GEMMA))[:2] == [
        "8.15 GB · ctx 4,096 / 131,072 (asked 16,384!)",
        "no TTL · idle",
    ]
    info = [a for a in entry_menu(section, SMALL).actions() if a.text().startswith("TTL")]
    assert not info[0].isEnabled()  # facts, not actions


def test_render_updates_in_place(qapp: QApplication) -> None:
    section = offline_section()
    section.render(running(GENERATING, SHORT), CAPS)
    small_menu, gemma_menu = entry_menu(section, SMALL), entry_menu(section, GEMMA)
    lines = list(small_menu.actions())

    section.render(
        running(GENERATING.model_copy(update={"status": "idle", "queued": 0}), SHORT), CAPS
    )
    assert entry_menu(section, SMALL) is small_menu and entry_menu(section, GEMMA) is gemma_menu
    assert small_menu.actions() == lines  # same items, new words
    assert small_menu.title() == SMALL
    assert texts(small_menu)[1] == "TTL 9m left · idle"

    section.render(running(SHORT), CAPS)
    assert list(section.entries) == [GEMMA]
    assert section.menu.title() == "Loaded models (1)"

    section.render(running(), CAPS)
    assert texts(section.menu) == ["No models loaded", "--", "Eject all"]
    assert not section.eject_all_action.isEnabled()


def test_a_stopped_server_or_another_backend(qapp: QApplication) -> None:
    section = offline_section()
    section.render(ServerStatus(url=URL, state=ServerState.STOPPED), CAPS)
    assert not section.loaded_action.isEnabled() and not section.load_action.isEnabled()
    assert section.menu.title() == "Loaded models"

    openai = capabilities_for(BackendKind.OPENAI, lms_available=False)
    section.render(running(), openai)
    assert not section.loaded_action.isVisible() and not section.load_action.isVisible()


# --- against a simulated LM Studio ------------------------------------------------------------


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", load_seconds=0.05) as simulator:
        simulator.install_fake_lms()
        yield simulator


class Live:
    """A section over a real manager; `refresh()` re-renders from the simulator."""

    def __init__(self, sim: Simulator, tmp_path: Path) -> None:
        self.sim = sim
        self.http = httpx.AsyncClient()
        self.client = LmStudioClient(self.http, sim.base_url)
        self.unloads: list[str] = []
        self.manager = ModelManager(
            self.client,
            LmsRunner(sim.home / "bin" / "lms", env={**os.environ, "HOME": str(tmp_path)}),
            state_dir=tmp_path / "state",
            profile_id="this-machine",
            on_user_unload=self.unloads.append,
        )
        self.informed: list[tuple[str, str]] = []
        self.section = ModelsSection(
            lambda: self.manager,
            refresh=self.refresh,
            list_downloaded=self.client.list_models,
            demo=True,
            inform=lambda title, text, _severity: self.informed.append((title, text)),
        )
        self.busy: set[str] = set()

    def rows(self) -> tuple[LoadedModelRow, ...]:
        with self.sim.state.locked():
            ps = self.sim.state.ps_json()
        models = [ModelInfo.model_validate(m) for m in self.sim.state.v1_models()["models"]]
        rows = build_inventory(models, [LmsLoadedModel.model_validate(p) for p in ps]).loaded
        return tuple(
            r.model_copy(update={"status": "generating", "queued": 1})
            if r.identifier in self.busy
            else r
            for r in rows
        )

    def refresh(self) -> None:
        self.section.render(running(*self.rows()), CAPS)


@pytest.fixture
def live(loop: asyncio.AbstractEventLoop, sim: Simulator, tmp_path: Path) -> Iterator[Live]:
    world = Live(sim, tmp_path)
    yield world
    loop.run_until_complete(world.http.aclose())


def test_eject_of_a_generating_model_asks_first(
    loop: asyncio.AbstractEventLoop, live: Live, sim: Simulator
) -> None:
    sim.state.load(SMALL)
    sim.state.load(GEMMA)
    live.busy = {SMALL}
    live.refresh()

    async def scenario() -> None:
        eject = live.section.entries[SMALL].eject
        eject.trigger()
        await until(lambda: open_message_box() is not None, "the confirmation")
        box = open_message_box()
        assert box is not None
        assert box.windowTitle() == "LM Studio Tray — Eject model — Demo"
        assert box.text() == f"{SMALL} is generating. Eject it anyway?"
        button(box, "Cancel").click()
        await until(lambda: open_message_box() is None, "the box closed")
        assert sim.state.loaded_identifiers() == [SMALL, GEMMA]  # no means no

        eject.trigger()
        await until(lambda: open_message_box() is not None, "the confirmation again")
        button(open_message_box(), "Eject").click()
        await until(lambda: SMALL not in live.section.entries, "the model gone from the menu")

        # An idle model goes without a question.
        live.section.entries[GEMMA].eject.trigger()
        await until(lambda: not live.section.entries, "the other model gone")
        assert open_message_box() is None

    run(loop, scenario())
    assert sim.state.loaded_identifiers() == []
    assert live.unloads == [SMALL, GEMMA]


def test_eject_all_then_restore(
    loop: asyncio.AbstractEventLoop, live: Live, sim: Simulator
) -> None:
    sim.state.load(SMALL, identifier="fast", context_length=8192, parallel=2, ttl_seconds=600)
    sim.state.load(GEMMA, context_length=16384)
    live.refresh()
    section = live.section
    assert not section.restore_action.isVisible()

    async def scenario() -> None:
        section.eject_all_action.trigger()
        await until(lambda: not section.entries, "all ejected")
        await until(lambda: section.restore_action.isVisible(), "Restore offered")
        assert section.restore_action.text() == "Restore 2 models"
        assert texts(section.menu)[-2:] == ["Eject all", "Restore 2 models"]

        section.restore_action.trigger()
        await until(lambda: set(section.entries) == {"fast", GEMMA}, "both back")
        await until(lambda: not section.restore_action.isVisible(), "Restore done")

    run(loop, scenario())
    with sim.state.locked():
        fast = sim.state.instances["fast"]
        assert (fast.context_length, fast.parallel, fast.ttl_seconds) == (8192, 2, 600)
        assert sim.state.instances[GEMMA].context_length == 16384
    assert live.informed == []  # everything came back as it was: nothing to tell


def test_eject_all_of_a_busy_set_asks_first(
    loop: asyncio.AbstractEventLoop, live: Live, sim: Simulator
) -> None:
    sim.state.load(SMALL)
    sim.state.load(GEMMA)
    live.busy = {GEMMA}
    live.refresh()

    async def scenario() -> None:
        live.section.eject_all_action.trigger()
        await until(lambda: open_message_box() is not None, "the confirmation")
        box = open_message_box()
        assert box is not None and "google/gemma-3-12b is still working" in box.text()
        button(box, "Cancel").click()
        await until(lambda: open_message_box() is None, "the box closed")

    run(loop, scenario())
    assert sim.state.loaded_identifiers() == [SMALL, GEMMA]
    assert not live.section.restore_action.isVisible()


# --- on the real tray --------------------------------------------------------------------------


def _hover(menu: QMenu, action: QAction) -> None:
    centre = menu.mapToGlobal(menu.actionGeometry(action).center())
    x11("xdotool", "mousemove", str(centre.x()), str(centre.y()))


@pytest.mark.ui
def test_the_loaded_models_submenu_on_the_real_tray(
    make_tray: Callable[..., TrayIcon],
    qtbot: QtBot,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    icon = make_tray()
    section = offline_section()
    icon.insert_section(section.actions())
    status = running(GENERATING, SHORT)
    icon.render(status)
    section.render(status, CAPS)
    icon.show()
    qtbot.waitUntil(
        lambda: icon.tray.geometry().isValid() and icon.tray.geometry().topLeft() != QPoint(0, 0),
        timeout=10_000,
    )
    where = icon.tray.geometry()

    with qtbot.waitSignal(icon.menu_about_to_show, timeout=10_000):
        x11("xdotool", "mousemove", str(where.center().x()), str(where.center().y()), "click", "3")
    qtbot.waitUntil(icon.menu.isVisible)
    _hover(icon.menu, section.loaded_action)
    qtbot.waitUntil(section.menu.isVisible, timeout=10_000)
    small = entry_menu(section, SMALL)
    _hover(section.menu, small.menuAction())
    qtbot.waitUntil(small.isVisible, timeout=10_000)

    menus = [icon.menu, section.menu, small]
    colour = icon.menu.palette().window().color()

    def all_drawn() -> bool:
        # Each menu's background covers most of its rectangle once X has drawn it.
        shot = grab_screen(tmp_path / "models-menu-full.png")
        return all(
            count_close(shot, m.geometry(), colour) * 2 >= m.width() * m.height() for m in menus
        )

    qtbot.waitUntil(all_drawn, timeout=10_000)
    area = where
    for m in menus:
        area = area.united(m.geometry())
    shot = tmp_path / "tray-loaded-models.png"
    assert crop_around(QImage(str(tmp_path / "models-menu-full.png")), area, 12).save(str(shot))
    publish_screenshot(shot)
    assert texts(small)[:2] == [
        "2.50 GB · ctx 8,192 / 32,768",
        "TTL 9m left · generating, 2 queued",
    ]

    # The model that got less context than asked says so.
    gemma = entry_menu(section, GEMMA)
    _hover(section.menu, gemma.menuAction())
    qtbot.waitUntil(lambda: gemma.isVisible() and not small.isVisible(), timeout=10_000)
    menus = [icon.menu, section.menu, gemma]
    qtbot.waitUntil(all_drawn, timeout=10_000)
    area = where
    for m in menus:
        area = area.united(m.geometry())
    shot = tmp_path / "tray-loaded-models-short-context.png"
    assert crop_around(QImage(str(tmp_path / "models-menu-full.png")), area, 12).save(str(shot))
    publish_screenshot(shot)

    with qtbot.waitSignal(icon.menu_about_to_hide, timeout=10_000):
        icon.menu.hide()
