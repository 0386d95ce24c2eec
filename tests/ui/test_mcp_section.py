"""The "MCP servers" submenu on the real X display: its status line in every state, the
lockdown confirmation (what will happen, the honest limits), Cancel changes nothing,
drift shows up and is notified, "Keep locked" is a saved setting, restore asks and puts the
original back; the submenu opened on the real tray for the docs."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aio import run, until  # tests/ui/aio.py
from PySide6.QtCore import QPoint
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox
from screen import count_close, crop_around, grab_screen, x11  # tests/ui/screen.py

from tray.core.backends import BackendKind, capabilities_for
from tray.core.notifications import Severity
from tray.core.status import ServerState, ServerStatus
from tray.services.history import FileHistory
from tray.services.mcp_audit import audit_file
from tray.services.mcp_lockdown import McpLockdown
from tray.services.settings_store import SettingsService, SettingsStore
from tray.ui.mcp_audit_dialog import McpAuditDialog
from tray.ui.mcp_section import KEEP_LOCKED_TEXT, LOCK_TEXT, RESTORE_TEXT, McpSection
from tray.ui.tray_icon import TrayIcon

SERVERS = {
    "mcpServers": {
        "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]},
        "filesystem": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-filesystem", "/"],
        },
        "remote": {"url": "https://mcp.example.com/mcp"},
    }
}
CAPS = capabilities_for(BackendKind.LMSTUDIO, lms_available=False)


class Live:
    def __init__(self, tmp_path: Path) -> None:
        home = tmp_path / ".lmstudio"
        home.mkdir()
        self.mcp = home / "mcp.json"
        self.mcp.write_text(json.dumps(SERVERS, indent=2), encoding="utf-8")
        self.mcp.chmod(0o644)
        self.settings = SettingsService(SettingsStore(tmp_path / "settings.json"))
        self.service = McpLockdown(
            history=FileHistory(tmp_path / "history"),
            state_dir=tmp_path / "state",
            keep_locked=lambda: self.settings.settings.mcp.keep_locked,
        )
        self.notices: list[tuple[str, str, Severity]] = []
        self.section = McpSection(
            self.service,
            mcp_file=lambda: self.mcp,
            audit=functools.partial(audit_file, lmstudio_home=home, server_auth=None),
            settings=self.settings,
            notify=lambda title, text, severity: self.notices.append((title, text, severity)),
        )


def open_box() -> QMessageBox | None:
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    return next((b for b in boxes if b.isVisible()), None)


def press(box: QMessageBox, text: str) -> None:
    next(b for b in box.buttons() if b.text().replace("&", "") == text).click()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def write_elsewhere(path: Path, text: str) -> None:
    code = (
        "import os, sys; os.chmod(sys.argv[1], 0o600); "
        "open(sys.argv[1], 'w', encoding='utf-8').write(sys.argv[2])"
    )
    subprocess.run([sys.executable, "-c", code, str(path), text], check=True)


@pytest.mark.ui
def test_states_confirmation_drift_keep_locked_restore(
    loop: asyncio.AbstractEventLoop, tmp_path: Path, publish_screenshot: Callable[..., Path]
) -> None:
    live = Live(tmp_path)
    section = live.section
    original = live.mcp.read_bytes()

    async def scenario() -> None:
        await section.refresh_now()
        assert section.status_action.text() == "3 servers · not locked"
        assert not section.restore_action.isEnabled()
        assert [a.text() for a in section.menu.actions() if not a.isSeparator()][1:] == [
            "Audit mcp.json…",
            "Inspect servers…",
            LOCK_TEXT,
            RESTORE_TEXT,
            KEEP_LOCKED_TEXT,
            "Re-inspect when mcp.json changes",
        ]

        # Cancel changes nothing
        task = asyncio.ensure_future(section.lock_down([]))
        await until(lambda: open_box() is not None, "the confirmation")
        box = open_box()
        assert box is not None
        press(box, "Cancel")
        assert await task is False
        assert live.mcp.read_bytes() == original and mode_of(live.mcp) == 0o644

        # Lock down: the box says what happens and what it cannot do
        task = asyncio.ensure_future(section.lock_down([]))
        await until(lambda: open_box() is not None, "the confirmation")
        shown = open_box()
        assert shown is not None
        confirm_box: QMessageBox = shown
        info = confirm_box.informativeText()
        assert "github, filesystem, remote" in info
        assert "history" in info and "does not stop a program that runs as you" in info
        assert "Allow per-request MCPs" in info
        await until(lambda: not confirm_box.grab().isNull(), "the box painted")
        await asyncio.sleep(0)  # one more turn so the layout is final
        shot = tmp_path / "mcp-lockdown-confirm.png"
        assert confirm_box.grab().save(str(shot))
        publish_screenshot(shot)
        press(confirm_box, "Lock down")
        assert await task is True
        assert json.loads(live.mcp.read_text()) == {"mcpServers": {}}
        assert mode_of(live.mcp) == 0o400
        assert section.status_action.text() == "Locked just now"
        assert section.restore_action.isEnabled()
        # done as asked: information, not a warning
        assert live.notices[-1][::2] == ("mcp.json locked down", Severity.INFO)

        # Drift: another program adds a server
        write_elsewhere(live.mcp, json.dumps({"mcpServers": {"added": {"command": "sh"}}}))
        event = await section.check_now()  # as at start-up: the change was made meanwhile
        assert event is not None and not event.relocked
        # a change behind our back deserves attention
        assert live.notices[-1][::2] == ("mcp.json changed while locked", Severity.WARNING)
        assert "Added: added." in live.notices[-1][1]
        await until(
            lambda: section.status_action.text() == "Changed since lockdown!", "the drift line"
        )
        assert section.lock_action.text() == "Lock again now"
        assert "Added: added." in section.status_action.toolTip()

        # Keep locked is a saved setting, and the next drift is undone at once
        section.keep_action.trigger()
        assert live.settings.settings.mcp.keep_locked is True
        saved = json.loads((tmp_path / "settings.json").read_text(encoding="utf-8"))
        assert saved["mcp"]["keep_locked"] is True
        write_elsewhere(live.mcp, json.dumps({"mcpServers": {"again": {"command": "sh"}}}))
        event = await live.service.check_drift()
        assert event is not None and event.relocked
        assert json.loads(live.mcp.read_text()) == {"mcpServers": {}}
        await section.refresh_now()
        assert section.status_action.text() == "Locked just now"

        # Restore asks, then puts the original back with its mode
        task = asyncio.ensure_future(section.restore())
        await until(lambda: open_box() is not None, "the restore question")
        box = open_box()
        assert box is not None
        press(box, "Restore")
        assert await task is True
        assert live.mcp.read_bytes() == original and mode_of(live.mcp) == 0o644
        assert section.status_action.text() == "3 servers · not locked"
        assert live.notices[-1][::2] == ("mcp.json restored", Severity.INFO)

    run(loop, scenario())


@pytest.mark.ui
def test_an_unparsable_file_is_replaced_only_after_the_button_that_says_so(
    loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    live = Live(tmp_path)
    broken = b'{"mcpServers": {"a": {"command": "npx",,}}'
    live.mcp.write_bytes(broken)

    async def scenario() -> None:
        await live.section.refresh_now()
        assert live.section.status_action.text() == "mcp.json unreadable · not locked"
        task = asyncio.ensure_future(live.section.lock_down([]))
        await until(lambda: open_box() is not None, "the confirmation")
        box = open_box()
        assert box is not None
        assert "cannot be parsed" in box.text()
        press(box, "Cancel")
        assert await task is False
        assert live.mcp.read_bytes() == broken

        task = asyncio.ensure_future(live.section.lock_down([]))
        await until(lambda: open_box() is not None, "the confirmation")
        box = open_box()
        assert box is not None
        press(box, "Replace and lock")
        assert await task is True
        assert json.loads(live.mcp.read_text()) == {"mcpServers": {}}
        record = live.service.record()
        assert record is not None and record.before_commit is not None
        assert live.service.history.read(live.mcp, record.before_commit) == broken

    run(loop, scenario())


@pytest.mark.ui
def test_the_audit_dialog_locks_down_the_servers_ticked_in_it(
    loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    live = Live(tmp_path)

    async def scenario() -> None:
        dialog = await live.section.open_audit()
        assert isinstance(dialog, McpAuditDialog) and dialog.isVisible()
        dialog.keep_boxes["github"].setChecked(True)
        dialog.lock_button.click()
        await until(lambda: open_box() is not None, "the confirmation")
        shown = open_box()
        assert shown is not None
        assert "keeping 1 server" in shown.text()
        assert "Kept: github" in shown.informativeText()
        press(shown, "Lock down")
        await until(lambda: not live.section.dialogs, "the dialog closed (and deleted)")
        assert list(json.loads(live.mcp.read_text())["mcpServers"]) == ["github"]
        assert mode_of(live.mcp) == 0o400
        assert live.section.status_action.text() == "Locked just now"

    run(loop, scenario())


def _hover(menu: QMenu, action: QAction) -> None:
    centre = menu.mapToGlobal(menu.actionGeometry(action).center())
    x11("xdotool", "mousemove", str(centre.x()), str(centre.y()))


@pytest.mark.ui
def test_the_submenu_on_the_real_tray(
    loop: asyncio.AbstractEventLoop,
    make_tray: Callable[..., TrayIcon],
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    live = Live(tmp_path)
    icon = make_tray()
    icon.insert_section(live.section.actions())
    status = ServerStatus(state=ServerState.RUNNING, url="http://127.0.0.1:1234")
    icon.render(status)
    live.section.render(status, CAPS)
    icon.show()

    async def scenario() -> None:
        await live.service.lockdown(live.mcp)
        write_elsewhere(live.mcp, json.dumps({"mcpServers": {"added": {"command": "sh"}}}))
        await until(
            lambda: (
                icon.tray.geometry().isValid() and icon.tray.geometry().topLeft() != QPoint(0, 0)
            ),
            "the tray icon",
        )
        where = icon.tray.geometry()
        x11("xdotool", "mousemove", str(where.center().x()), str(where.center().y()), "click", "3")
        await until(icon.menu.isVisible, "the tray menu")
        _hover(icon.menu, live.section.menu.menuAction())
        await until(live.section.menu.isVisible, "the MCP submenu")
        await until(
            lambda: live.section.status_action.text() == "Changed since lockdown!",
            "the status line",
        )
        menus = [icon.menu, live.section.menu]
        colour = icon.menu.palette().window().color()
        full = tmp_path / "mcp-menu-full.png"

        def drawn() -> bool:
            shot = grab_screen(full)
            return all(
                count_close(shot, m.geometry(), colour) * 2 >= m.width() * m.height() for m in menus
            )

        await until(drawn, "the menus drawn")
        area = where
        for m in menus:
            area = area.united(m.geometry())
        shot = tmp_path / "mcp-menu.png"
        assert crop_around(QImage(str(full)), area, 12).save(str(shot))
        publish_screenshot(shot)
        texts = [a.text() for a in live.section.menu.actions() if not a.isSeparator()]
        assert texts[0] == "Changed since lockdown!" and texts[3] == "Lock again now"
        icon.menu.hide()

    run(loop, scenario())
