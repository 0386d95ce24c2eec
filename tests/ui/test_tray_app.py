"""The whole tray, end to end: the real TrayApp against a simulated LM Studio, on a real
display with a real tray host, driven by real clicks (xdotool) on its icon and menus."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aio import run  # tests/ui/aio.py
from app_driver import AppDriver  # tests/ui/app_driver.py
from PySide6.QtGui import QImage
from screen import count_close, crop_around, grab_screen

from tray.core.notifications import NoticeKind
from tray.core.status import ServerState
from tray.simulator import Reply, Simulator
from tray.ui.icons import render_state_image

pytestmark = pytest.mark.ui


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setenv("HOME", str(tmp_path))  # the fake lms finds the home as lms does
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=50) as simulator:
        yield simulator


@pytest.fixture
def driver(loop: asyncio.AbstractEventLoop, sim: Simulator, tmp_path: Path) -> AppDriver:
    return AppDriver(sim, tmp_path)


def icon_shows(driver: AppDriver, state: ServerState, shot: Path, *, warning: bool = False) -> bool:
    """The panel shows the state's tile colour where the icon is (Qt painted, X drew)."""
    where = driver.app.tray.tray.geometry()
    tile = render_state_image(state, 32).pixelColor(6, 16)
    image = grab_screen(shot)
    if count_close(image, where, tile) * 6 < where.width() * where.height():
        return False
    if warning:  # the orange badge, top right
        orange = render_state_image(state, 32, warning=True).pixelColor(26, 4)
        return count_close(image, where, orange, 30) > 4
    return True


def save_icon_closeup(path: Path, shot: Path, driver: AppDriver) -> None:
    closeup = crop_around(QImage(str(shot)), driver.app.tray.tray.geometry(), 8)
    assert closeup.scaled(closeup.size() * 6).save(str(path))


def test_start_the_server_from_the_menu_and_see_the_icon_change(
    loop: asyncio.AbstractEventLoop,
    driver: AppDriver,
    sim: Simulator,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    shot = tmp_path / "screen.png"

    async def scenario() -> None:
        sim.stop_api_server()
        async with driver:
            await driver.wait(lambda: driver.state() is ServerState.STOPPED, "the stopped state")
            await driver.wait(lambda: icon_shows(driver, ServerState.STOPPED, shot), "a grey icon")
            save_icon_closeup(tmp_path / "tray-stopped.png", shot, driver)

            await driver.open_menu()
            await driver.click(driver.menu, driver.find(driver.menu, "Start server"))
            await driver.wait(lambda: sim.api_server_running, "the server to start", limit=30)
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running", limit=30)
            await driver.wait(lambda: icon_shows(driver, ServerState.RUNNING, shot), "a green icon")
            save_icon_closeup(tmp_path / "tray-running.png", shot, driver)

    run(loop, scenario())
    publish_screenshot(tmp_path / "tray-stopped.png")
    publish_screenshot(tmp_path / "tray-running.png")


def test_a_ttl_eviction_gives_exactly_one_notification(
    loop: asyncio.AbstractEventLoop, driver: AppDriver, sim: Simulator
) -> None:
    notices = driver.app.notifier.recent

    def loaded() -> int:
        return len(driver.app.monitor.status.loaded) if driver.app.monitor else 0

    async def scenario() -> None:
        sim.state.load("qwen/qwen3-4b", ttl_seconds=600)
        async with driver:
            await driver.wait(lambda: loaded() == 1, "the model to show")
            ident = sim.state.load("google/gemma-3-12b", ttl_seconds=4)  # > one 2 s poll
            await driver.wait(lambda: loaded() == 2, "the second model to show")
            await driver.wait(lambda: ident not in sim.state.loaded_identifiers(), "the eviction")
            await driver.wait(
                lambda: any(n.kind is NoticeKind.MODEL_EVICTED for n in notices), "a notification"
            )
            await driver.polls(3)  # several more polls: still exactly one
            evicted = [n for n in notices if n.kind is NoticeKind.MODEL_EVICTED]
            assert len(evicted) == 1, evicted
            assert ident in evicted[0].message

    run(loop, scenario())


def test_a_server_on_the_network_without_auth_is_flagged(
    loop: asyncio.AbstractEventLoop,
    driver: AppDriver,
    sim: Simulator,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    config = sim.home / ".internal" / "http-server-config.json"
    shot = tmp_path / "screen.png"

    def exposed() -> bool:
        return driver.app.monitor is not None and driver.app.monitor.status.exposed is True

    async def scenario() -> None:
        settings = json.loads(config.read_text())
        config.write_text(json.dumps({**settings, "networkInterface": "0.0.0.0"}))
        async with driver:
            await driver.wait(exposed, "the exposure to be seen")
            await driver.wait(
                lambda: icon_shows(driver, ServerState.RUNNING, shot, warning=True), "the badge"
            )
            await driver.open_menu()
            lines = [a.text() for a in driver.menu.actions() if a.isVisible()]
            port = sim.api_port
            assert (
                "Warning: open to the network on every network interface "
                f"(0.0.0.0:{port}), with authentication off"
            ) in lines
            assert "How to require a token…" in lines
            await driver.polls(2)
            found = [n for n in driver.app.notifier.recent if n.kind is NoticeKind.EXPOSED]
            assert len(found) == 1, found
            menu = driver.menu.geometry()
            background = driver.menu.palette().window().color()
            await driver.wait(
                lambda: (
                    count_close(grab_screen(shot), menu, background) * 4
                    >= menu.width() * menu.height()
                ),
                "the menu to be painted",
            )
            area = menu.united(driver.app.tray.tray.geometry())
            assert crop_around(QImage(str(shot)), area, 12).save(
                str(tmp_path / "tray-exposed-menu.png")
            )
            # The fix in one click: restarted bound to this machine, and remembered.
            await driver.click(driver.menu, driver.find(driver.menu, "⚠ Serve on this computer"))
            await driver.wait(
                lambda: json.loads(config.read_text())["networkInterface"] == "127.0.0.1",
                "the server restarted on 127.0.0.1",
            )
            await driver.wait(
                lambda: (
                    driver.state() is ServerState.RUNNING
                    and driver.app.monitor is not None
                    and driver.app.monitor.status.exposed is False
                ),
                "the warning gone",
            )
            profile = driver.app.settings.settings.profile(driver.app.env.profile.id)
            assert profile.server_start.bind == "127.0.0.1"

    run(loop, scenario())
    publish_screenshot(tmp_path / "tray-exposed-menu.png")


def _stream_forever(base_url: str, model: str) -> threading.Thread:
    """A chat that keeps the model generating (read slowly, in a thread, until cut off)."""

    def read() -> None:
        body = json.dumps({"model": model, "input": "Tell me everything.", "stream": True})
        request = urllib.request.Request(
            f"{base_url}/api/v1/chat",
            data=body.encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with (
            contextlib.suppress(OSError, http.client.HTTPException),  # the eject cuts it
            urllib.request.urlopen(request, timeout=60) as r,
        ):
            while r.read(64):
                pass

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_eject_a_generating_model_asks_first(
    loop: asyncio.AbstractEventLoop,
    driver: AppDriver,
    sim: Simulator,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    ident = sim.state.load("qwen/qwen3-4b")
    sim.state.next_reply = Reply(text="token " * 3000)  # ~60 s at 50 tokens/s

    def row_status() -> str | None:
        rows = driver.app.monitor.status.loaded if driver.app.monitor else ()
        return rows[0].status if rows else None

    async def scenario() -> None:
        async with driver:
            stream = _stream_forever(sim.base_url, ident)
            await driver.open_menu()  # the menu being open makes the tray ask `lms ps`
            await driver.wait(lambda: row_status() == "generating", "the model to be generating")
            models = await driver.hover(driver.menu, driver.find(driver.menu, "Loaded models"))
            entry = await driver.hover(models, driver.find(models, ident))
            before = driver.windows()
            await driver.click(entry, driver.find(entry, "Eject"))
            box = await driver.message_box(before)
            assert "generating" in box.text()
            shot = tmp_path / "screen.png"
            await driver.wait(
                lambda: (
                    count_close(grab_screen(shot), box.geometry(), box.palette().window().color())
                    * 3
                    >= box.width() * box.height()
                ),
                "the question to be painted",
            )
            assert crop_around(QImage(str(shot)), box.frameGeometry(), 8).save(
                str(tmp_path / "eject-confirm.png")
            )
            assert sim.state.loaded_identifiers() == [ident]  # nothing happens before the answer
            (eject,) = [b for b in box.buttons() if b.text() == "Eject"]
            driver.click_widget(eject)
            await driver.wait(lambda: sim.state.loaded_identifiers() == [], "the eject")
            await driver.close_menus()
            await asyncio.to_thread(stream.join, 10)
            assert not any(n.kind is NoticeKind.MODEL_EVICTED for n in driver.app.notifier.recent)

    run(loop, scenario())
    publish_screenshot(tmp_path / "eject-confirm.png")


def test_eject_all_then_restore_the_same_set(
    loop: asyncio.AbstractEventLoop, driver: AppDriver, sim: Simulator
) -> None:
    a = sim.state.load("qwen/qwen3-4b", context_length=8192, parallel=2, ttl_seconds=3600)
    b = sim.state.load("google/gemma-3-12b", identifier="gemma", context_length=4096)

    def facts() -> dict[str, tuple[int, int | None, float | None]]:
        return {
            i.identifier: (i.context_length, i.parallel, i.ttl_seconds)
            for i in sim.state.instances.values()
        }

    before = facts()

    def loaded() -> int:
        return len(driver.app.monitor.status.loaded) if driver.app.monitor else 0

    async def scenario() -> None:
        async with driver:
            await driver.wait(lambda: loaded() == 2, "both models to show")
            await driver.open_menu()
            models = await driver.hover(driver.menu, driver.find(driver.menu, "Loaded models"))
            await driver.click(models, driver.find(models, "Eject all"))
            await driver.wait(lambda: sim.state.loaded_identifiers() == [], "eject all")
            await driver.wait(lambda: loaded() == 0, "the menu to learn it")
            await driver.close_menus()

            await driver.open_menu()
            models = await driver.hover(driver.menu, driver.find(driver.menu, "Loaded models"))
            await driver.click(models, driver.find(models, "Restore 2 models"))
            await driver.wait(
                lambda: sorted(sim.state.loaded_identifiers()) == sorted([a, b]),
                "the restore",
                limit=30,
            )
            await driver.close_menus()

    run(loop, scenario())
    assert facts() == before  # same identifiers, context, parallel and TTL
    evicted = [n for n in driver.app.notifier.recent if n.kind is NoticeKind.MODEL_EVICTED]
    assert evicted == []  # the user did it: nothing to tell


def test_an_openai_compatible_server_gets_the_reduced_menu(
    loop: asyncio.AbstractEventLoop,
    sim: Simulator,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    profile = {"id": "ollama", "name": "Ollama", "kind": "openai", "use_lms": False}
    driver = AppDriver(sim, tmp_path, {"profiles": [profile], "active_profile": "ollama"})

    async def scenario() -> None:
        async with driver:
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running")
            await driver.open_menu()
            visible = {a.text(): a for a in driver.menu.actions() if a.isVisible()}
            assert any(t.endswith("models served (OpenAI-compatible)") for t in visible), visible
            assert not any(t.startswith(("Loaded models", "Load model")) for t in visible)
            # What needs LM Studio is not offered as if it worked.
            for text in ("Start server", "Stop server", "Restart server"):
                assert text not in visible or not visible[text].isEnabled(), text
            servers = await driver.hover(driver.menu, driver.find(driver.menu, "Server: Ollama"))
            lines = [a.text() for a in servers.actions() if a.isVisible()]
            assert any("Reduced mode" in line for line in lines), lines
            shot = tmp_path / "screen.png"
            grab_screen(shot)
            area = driver.menu.geometry().united(servers.geometry())
            assert crop_around(QImage(str(shot)), area, 8).save(str(tmp_path / "tray-reduced.png"))
            await driver.close_menus()

    run(loop, scenario())
    publish_screenshot(tmp_path / "tray-reduced.png")


def test_only_a_connection_setting_rebuilds_the_connection(
    loop: asyncio.AbstractEventLoop, driver: AppDriver
) -> None:
    """A notification switch or the live-activity toggle leaves the connection (and its
    status) alone; a polling interval rebuilds it."""

    async def scenario() -> None:
        async with driver:
            app = driver.app
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running")
            first = app.connection
            app.settings.update(lambda s: setattr(s.notifications, "model_evicted", False))
            app.settings.update(lambda s: setattr(s.activity, "live", True))
            app.settings.update(lambda s: setattr(s.activity, "live", False))
            await asyncio.sleep(0.5)
            assert app.connection is first
            assert app.rules.settings.model_evicted is False  # the switch itself applies
            app.settings.update(lambda s: setattr(s.polling, "idle_seconds", 30.0))
            await driver.wait(lambda: app.connection is not first, "a new connection")
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running again")

    run(loop, scenario())


def test_polling_is_fast_while_a_window_is_open(
    loop: asyncio.AbstractEventLoop, driver: AppDriver
) -> None:
    def interactive() -> bool:
        return driver.app.monitor is not None and driver.app.monitor.interactive

    async def scenario() -> None:
        async with driver:
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running")
            assert not interactive()
            await driver.open_menu()
            assert interactive()
            await driver.click(driver.menu, driver.find(driver.menu, "Settings"))
            await driver.wait(
                lambda: (
                    driver.app.windows.settings.window is not None
                    and driver.app.windows.settings.window.isActiveWindow()
                ),
                "the Settings window to have the focus",
            )
            assert interactive()  # the menu closed, but the user looks at our window
            assert driver.app.windows.settings.window is not None
            driver.app.windows.settings.window.reject()
            await driver.wait(lambda: not interactive(), "idle polling again")

    run(loop, scenario())
