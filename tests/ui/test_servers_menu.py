"""Several saved servers on the real tray: the Server submenu shows each one's state and
kind, the ones not in use are watched (a stop is told with the server's name), and
switching to Ollama gives its models with Eject — done through Ollama's own API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aio import run  # tests/ui/aio.py
from app_driver import AppDriver  # tests/ui/app_driver.py
from PySide6.QtGui import QImage
from screen import crop_around, grab_screen  # tests/ui/screen.py

from tray.core.backends import BackendKind
from tray.core.notifications import NoticeKind
from tray.core.status import ServerState
from tray.simulator.daemon import Simulator
from tray.simulator.ollama import OLLAMA_VERSION, OllamaSimulator


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=2000) as simulator:
        yield simulator


@pytest.fixture
def ollama() -> Iterator[OllamaSimulator]:
    with OllamaSimulator() as simulator:
        simulator.load("qwen3:8b", "30m")
        yield simulator


def test_every_saved_server_in_the_menu_and_switching_to_ollama(
    loop: asyncio.AbstractEventLoop,
    sim: Simulator,
    ollama: OllamaSimulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    publish_screenshot: Callable[..., Path],
) -> None:
    monkeypatch.setattr("tray.services.server_watch.OTHERS_IDLE_S", 0.5)
    profiles = [
        {"id": "this-machine", "name": "This machine", "base_url": sim.base_url},
        {"id": "ollama-box", "name": "Ollama box", "base_url": ollama.base_url},
        {"id": "gone", "name": "Old laptop", "base_url": "http://127.0.0.1:9"},
    ]
    settings = {"profiles": profiles, "active_profile": "this-machine"}
    driver = AppDriver(sim, tmp_path, settings, server_flag=False)
    app = driver.app

    def item(name: str) -> str:
        return app.profiles_section.profile_action(
            {"Ollama box": "ollama-box", "Old laptop": "gone", "This machine": "this-machine"}[name]
        ).text()

    async def scenario() -> None:
        async with driver:
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running")
            await driver.wait(lambda: "running · Ollama" in item("Ollama box"), "Ollama's state")
            await driver.wait(lambda: "stopped" in item("Old laptop"), "the laptop's state")
            assert (
                item("Ollama box") == f"Ollama box — running · Ollama {OLLAMA_VERSION} · 1 loaded"
            )
            assert item("This machine").startswith("This machine — running")

            await driver.open_menu()
            servers = await driver.hover(driver.menu, driver.find(driver.menu, "Server: "))
            shot = tmp_path / "screen.png"
            grab_screen(shot)
            area = driver.menu.geometry().united(servers.geometry())
            assert crop_around(QImage(str(shot)), area, 8).save(str(tmp_path / "tray-servers.png"))

            # A server not in use stops: told, with its name.
            ollama_url = ollama.base_url
            ollama.stop()
            await driver.wait(lambda: "stopped" in item("Ollama box"), "Ollama seen stopped")
            stopped = [n for n in app.notifier.recent if n.kind is NoticeKind.SERVER_STOPPED]
            assert [n.title for n in stopped] == ["Ollama server stopped"]
            assert "Ollama box" in stopped[0].message
            await driver.close_menus()

            # It comes back; the user switches to it from the menu.
            ollama.start(int(ollama_url.rsplit(":", 1)[1]))
            await driver.open_menu()
            servers = await driver.hover(driver.menu, driver.find(driver.menu, "Server: "))
            await driver.click(servers, driver.find(servers, "Ollama box"))
            await driver.wait(
                lambda: app.settings.settings.active_profile == "ollama-box", "switch"
            )
            await driver.wait(
                lambda: app.monitor is not None and app.monitor.status.kind is BackendKind.OLLAMA,
                "Ollama as the active server",
            )
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "Ollama running")
            assert "Ollama" in app.tray.tray.toolTip()
            caps = app.env.capabilities
            assert caps.load_unload and not caps.server_control and not caps.load_profiles

            # Its model, with the part in VRAM, and Eject through Ollama's keep_alive.
            await driver.open_menu()
            models = await driver.hover(driver.menu, driver.find(driver.menu, "Loaded models"))
            entry = await driver.hover(models, driver.find(models, "qwen3:8b"))
            lines = [a.text() for a in entry.actions() if a.isVisible()]
            assert any("% in VRAM" in line for line in lines), lines
            grab_screen(shot)
            area = driver.menu.geometry().united(models.geometry()).united(entry.geometry())
            assert crop_around(QImage(str(shot)), area, 8).save(str(tmp_path / "tray-ollama.png"))
            await driver.click(entry, driver.find(entry, "Eject"))
            await driver.wait(lambda: ollama.ps() == [], "the model ejected in Ollama")
            monitor = app.monitor
            assert monitor is not None
            await driver.wait(lambda: not monitor.status.loaded, "no model in the status")
            await driver.close_menus()

            # Load it again from Ollama's downloaded models.
            await driver.open_menu()
            assert not any(
                a.text() == "Load model…" and a.isVisible() for a in driver.menu.actions()
            )
            load = await driver.hover(driver.menu, driver.find(driver.menu, "Load model"))
            await driver.wait(
                lambda: any(a.text().startswith("qwen3:8b") for a in load.actions()),
                "Ollama's downloaded models",
            )
            assert [a.text() for a in load.actions()] == [
                "llama3.2:3b (2.02 GB)",
                "qwen3:8b (5.23 GB)",
            ]
            await driver.click(load, driver.find(load, "qwen3:8b"))
            await driver.wait(lambda: [m["name"] for m in ollama.ps()] == ["qwen3:8b"], "the load")
            await driver.close_menus()
            # The user ejected it: not news.
            evicted = [n for n in app.notifier.recent if n.kind is NoticeKind.MODEL_EVICTED]
            assert evicted == []
            # The machine's LM Studio is now the one watched in the background.
            assert app.other_servers is not None
            assert set(app.other_servers.service.statuses) == {"this-machine", "gone"}

    run(loop, scenario())
    publish_screenshot(tmp_path / "tray-servers.png")
    publish_screenshot(tmp_path / "tray-ollama.png")


def test_the_demo_has_a_second_server(loop: asyncio.AbstractEventLoop, tmp_path: Path) -> None:
    """`--demo` saves its simulated Ollama beside its LM Studio, so the first minutes show
    several servers (its picture is test_docs_screenshots' guide-servers-menu.png)."""
    driver = AppDriver(None, tmp_path)
    app = driver.app

    async def scenario() -> None:
        async with driver:
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "the demo running")
            section = app.profiles_section
            await driver.wait(
                lambda: "running · Ollama" in section.profile_action("demo-ollama").text(),
                "the demo's Ollama watched",
                limit=30,
            )
            assert section.profile_action("demo-ollama").text().startswith("Ollama (demo) — ")
            # Switching to it talks to the Ollama, not to the demo's LM Studio.
            section.profile_action("demo-ollama").trigger()
            await driver.wait(
                lambda: app.monitor is not None and app.monitor.status.kind is BackendKind.OLLAMA,
                "the demo's Ollama as the active server",
            )

    run(loop, scenario())
