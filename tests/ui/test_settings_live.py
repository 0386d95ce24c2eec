"""The tray and the CLI share settings.json: the real tray takes a change the real
`lmstudio-tray` executable saves while it runs, and a change made afterwards from its menu
keeps the CLI's (before, the tray saved its whole snapshot and the CLI's value was gone)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aio import run  # tests/ui/aio.py
from app_driver import AppDriver  # tests/ui/app_driver.py

from tray.core.status import ServerState
from tray.simulator import Simulator

pytestmark = pytest.mark.ui

EXE = Path(sys.executable).with_name("lmstudio-tray")


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setenv("HOME", str(tmp_path))  # the fake lms finds the home as lms does
    with Simulator(tmp_path / ".lmstudio") as simulator:
        yield simulator


def saved(path: Path) -> dict[str, object]:
    raw: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return raw


def test_a_cli_change_is_taken_live_and_kept_by_a_change_from_the_menu(
    loop: asyncio.AbstractEventLoop, sim: Simulator, tmp_path: Path
) -> None:
    driver = AppDriver(sim, tmp_path)
    settings = tmp_path / "settings.json"
    remote = tmp_path / "shared-history"

    async def scenario() -> None:
        async with driver:
            app = driver.app
            await driver.wait(lambda: driver.state() is ServerState.RUNNING, "running")
            cli = await asyncio.to_thread(
                subprocess.run,
                [str(EXE), "--settings", str(settings), "history", "remote", str(remote)],
                capture_output=True,
                text=True,
                env=dict(os.environ),
                timeout=90,
                check=False,
            )
            assert cli.returncode == 0, cli.stdout + cli.stderr
            await driver.wait(
                lambda: app.settings.settings.history.remote_url == str(remote),
                "the tray to take the CLI's change",
            )
            await driver.open_menu()
            submenu = await driver.hover(driver.menu, driver.find(driver.menu, "MCP servers"))
            await driver.click(submenu, driver.find(submenu, "Keep locked"))
            await driver.wait(
                lambda: (
                    saved(settings)["mcp"]
                    == {"keep_locked": True, "notify_changes": True, "reinspect_on_change": False}
                ),
                "the menu's change in the file",
            )
            assert saved(settings)["history"] == {"remote_url": str(remote)}

    run(loop, scenario())
