"""The Scenes submenu through the real tray: the real TrayApp against a simulated LM Studio
on a real display with a real tray host, every gesture a real click or key press. Save
what is loaded as a scene, see the check mark follow what is loaded, apply the scene over
a different set, apply it again (no change), Free GPU, and apply it from empty."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aio import run  # tests/ui/aio.py
from app_driver import AppDriver  # tests/ui/app_driver.py
from PySide6.QtWidgets import QApplication, QInputDialog
from screen import grab_screen, x11

from tray.core.load_profiles import LoadProfile
from tray.core.scenes import FREE_GPU, Scene, SceneModel
from tray.core.status import ServerState
from tray.simulator import Simulator
from tray.ui.scenes_section import MANAGE_TEXT, SAVE_CURRENT_TEXT, SCENES_TEXT

pytestmark = pytest.mark.ui


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setenv("HOME", str(tmp_path))  # fake lms, history and state dirs land here
    with Simulator(tmp_path / ".lmstudio") as simulator:
        simulator.state.load("qwen/qwen3-4b", identifier="q", context_length=8192)
        yield simulator


def loaded(sim: Simulator) -> list[str]:
    with sim.state.locked():
        return sorted(sim.state.instances)


def test_save_a_scene_from_the_menu_then_apply_it_over_another_set_again_and_from_empty(
    loop: asyncio.AbstractEventLoop,
    sim: Simulator,
    tmp_path: Path,
    publish_screenshot: Callable[[Path], Path],
) -> None:
    driver = AppDriver(sim, tmp_path)
    app = driver.app
    section = app.scenes_section

    async def choose(text: str) -> None:
        await driver.open_menu()
        scenes = await driver.hover(driver.menu, driver.find(driver.menu, SCENES_TEXT))
        await driver.click(scenes, driver.find(scenes, text))

    def checked() -> list[str]:
        actions = [*section.scene_actions, section.free_gpu]
        return [a.text() for a in actions if a.isChecked()]

    def said(title: str) -> str:
        return " ".join(m for t, m in app.notifier.messages if t == title)

    async def scenario() -> None:
        async with driver:
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running")
            monitor = app.monitor
            assert monitor is not None

            await choose(SAVE_CURRENT_TEXT)
            await driver.wait(
                lambda: (
                    isinstance(QApplication.activeModalWidget(), QInputDialog)
                    or any(isinstance(w, QInputDialog) and w.isVisible() for w in driver.windows())
                ),
                "the name dialog",
            )
            x11("xdotool", "type", "--delay", "5", "Coding")
            x11("xdotool", "key", "Return")
            await driver.wait(lambda: section.scene_names == ["Coding"], "the scene saved")
            assert "q (8,192 tokens)" in said("Scene Coding saved")
            await driver.wait(lambda: checked() == ["Coding"], "the check mark on Coding")

            # another set loaded behind the tray's back: the check mark goes
            sim.state.load("meta-llama-3.1-8b-instruct")
            await driver.wait(lambda: len(monitor.status.loaded) == 2, "two models")
            assert checked() == []

            await choose("Coding")
            await driver.wait(lambda: loaded(sim) == ["q"], "the scene applied")
            await driver.wait(lambda: "unloaded meta-llama" in said("Scene Coding"), "result")
            await driver.wait(lambda: checked() == ["Coding"], "the check mark back")

            await choose("Coding")  # again: nothing to do, nothing loaded twice
            await driver.wait(lambda: "already holds" in said("Coding"), "no change")
            assert loaded(sim) == ["q"]

            await choose(FREE_GPU)
            await driver.wait(lambda: loaded(sim) == [], "every model ejected")
            await driver.wait(lambda: checked() == [FREE_GPU], "Free GPU checked")

            await choose("Coding")  # from empty
            await driver.wait(lambda: loaded(sim) == ["q"], "the scene loaded from empty")
            with sim.state.locked():
                assert sim.state.instances["q"].context_length == 8192
            await driver.wait(lambda: checked() == ["Coding"], "the check mark once more")

            await choose(MANAGE_TEXT)
            slot = app.windows.scenes
            await driver.wait(lambda: slot.window is not None and slot.window.isVisible(), "")
            window = slot.window
            assert window is not None
            await driver.wait(lambda: window.name_edit.text() == "Coding", "Coding in it")
            window.close()

            # the submenu as the user sees it, for docs/scenes.md
            await driver.open_menu()
            scenes = await driver.hover(driver.menu, driver.find(driver.menu, SCENES_TEXT))
            await asyncio.sleep(0.3)
            both = driver.menu.geometry().united(scenes.geometry()).adjusted(-4, -4, 4, 4)
            screen = grab_screen(shot)
            assert screen.copy(both.intersected(screen.rect())).save(str(shot))
            await driver.close_menus()

    shot = tmp_path / "scenes-menu.png"
    run(loop, scenario())
    publish_screenshot(shot)


def test_when_the_tray_starts_it_starts_the_server_and_applies_the_chosen_scene(
    loop: asyncio.AbstractEventLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with Simulator(tmp_path / ".lmstudio", api_server_running=False) as sim:
        driver = AppDriver(sim, tmp_path, {"on_start": {"start_server": True, "scene": "Coding"}})
        scene = Scene(
            name="Coding",
            models=(
                SceneModel(
                    model_key="qwen/qwen3-4b",
                    settings=LoadProfile(identifier="coder", context_length=16384),
                ),
            ),
        )
        driver.app.workspace.scenes.save(scene)

        async def scenario() -> None:
            async with driver:
                await driver.wait(lambda: sim.api_server_running, "the server started", 30)
                await driver.wait(lambda: loaded(sim) == ["coder"], "the scene applied", 30)
                await driver.wait(
                    lambda: driver.state() is ServerState.RUNNING, "the tray sees it running"
                )

        run(loop, scenario())
        with sim.state.locked():
            assert sim.state.instances["coder"].context_length == 16384
