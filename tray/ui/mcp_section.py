"""The tray menu's "MCP servers" submenu: a status line, the audit, one-click lockdown,
restore, and "Keep locked".

    MCP servers ▸  3 servers · not locked   (or "Locked 2 h ago", "Changed since lockdown!")
                   Audit mcp.json…
                   Inspect servers…
                   Lock down now
                   Restore the version before lockdown
                   ─────────
                   ✓ Keep locked (re-lock on change)
                   ✓ Re-inspect when mcp.json changes

"Lock down now" asks first, with the sentences core's `describe_lockdown` writes (what is
removed, that history keeps the original, and the honest limit: read-only does not stop a
program running as the user). A file that does not parse is replaced only when the user
presses the button that says so. Drift is reported through `on_drift`, which the app passes
to `McpLockdown.watch`. The view holds no rule: texts and decisions come from
`core.mcp_lockdown`.

"Inspect servers…" (also a button of the audit window) opens `McpInspectWindow`, which asks
first, listing what it will start; the inspection (`services.mcp_inspect`, imported only
then) runs here and its report goes back to the window. With "Re-inspect when mcp.json
changes" on, a change re-inspects — without asking — only the servers inspected before with
the very same launch, and notifies when their tools changed; new or changed entries are
named, never started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QApplication, QMenu, QStyle, QWidget

from tray.core.backends import Capabilities
from tray.core.errors import TrayError
from tray.core.mcp_config import McpDocument
from tray.core.mcp_lockdown import Drift, DriftEvent, LockStatus, describe_lockdown, status_line
from tray.core.notifications import Severity
from tray.core.settings import Settings
from tray.core.status import ServerStatus
from tray.core.words import plural
from tray.services.mcp_lockdown import McpLockdown
from tray.services.settings_store import SettingsService
from tray.ui.dialogs import confirm
from tray.ui.notifier import Notify
from tray.ui.tasks import spawn

if TYPE_CHECKING:  # the audit and the inspection are imported when they are asked for
    from tray.core.mcp_audit import AuditReport
    from tray.ui.mcp_inspect_window import McpInspectWindow

__all__ = [
    "AUDIT_TEXT",
    "INSPECT_TEXT",
    "KEEP_LOCKED_TEXT",
    "LOCK_TEXT",
    "MENU_TEXT",
    "REINSPECT_TEXT",
    "RESTORE_TEXT",
    "AuditCallable",
    "McpSection",
]

log = logging.getLogger(__name__)

MENU_TEXT = "MCP servers"
AUDIT_TEXT = "Audit mcp.json…"
INSPECT_TEXT = "Inspect servers…"
LOCK_TEXT = "Lock down now"
RESTORE_TEXT = "Restore the version before lockdown"
KEEP_LOCKED_TEXT = "Keep locked (re-lock on change)"
REINSPECT_TEXT = "Re-inspect when mcp.json changes"

AuditCallable = Callable[[Path], Awaitable[tuple["AuditReport", McpDocument | None]]]
DialogFactory = Callable[..., QWidget]


class McpSection:
    """Owns the "MCP servers" submenu; `actions()` is inserted once into the tray menu."""

    def __init__(
        self,
        lockdown: McpLockdown,
        *,
        mcp_file: Callable[[], Path],
        audit: AuditCallable,
        settings: SettingsService,
        notify: Notify,
        demo: bool = False,
        make_audit_dialog: DialogFactory | None = None,
        pins_file: Callable[[], Path] | None = None,
    ) -> None:
        """`mcp_file()` is the mcp.json of the LM Studio in use (`<home>/mcp.json`);
        `audit(path)` is `services.mcp_audit.audit_file` with its keywords bound;
        `notify(title, text, severity)` shows a notification; `make_audit_dialog` builds the audit
        dialog (default: `ui.mcp_audit_dialog.McpAuditDialog`); `pins_file()` is where the
        inspection keeps its tool pins (default: beside the history repository)."""
        self._lockdown = lockdown
        self._mcp_file = mcp_file
        self._audit = audit
        self._settings = settings
        self._notify = notify
        self._demo = demo
        self._make_dialog = make_audit_dialog
        self._pins_file = pins_file or (lambda: lockdown.history.repo_dir.parent / "mcp-pins.json")
        self._refreshing: asyncio.Task[Any] | None = None
        self.status: LockStatus | None = None
        self.dialogs: list[QWidget] = []  # open audit dialogs (kept alive while shown)

        self.menu = QMenu(MENU_TEXT)
        self.menu.setSeparatorsCollapsible(True)
        self.status_action = self.menu.addAction("mcp.json: looking…")
        self.status_action.setEnabled(False)
        self.status_action.triggered.connect(self._on_status_clicked)
        self.audit_action = self.menu.addAction(AUDIT_TEXT)
        self.audit_action.triggered.connect(self._on_audit)
        self.inspect_action = self.menu.addAction(INSPECT_TEXT)
        self.inspect_action.setToolTip(
            "Start each enabled server (after asking), list what it declares, check it and "
            "pin its tools."
        )
        self.inspect_action.triggered.connect(self._on_inspect)
        self.lock_action = self.menu.addAction(LOCK_TEXT)
        self.lock_action.triggered.connect(self._on_lock)
        self.restore_action = self.menu.addAction(RESTORE_TEXT)
        self.restore_action.triggered.connect(self._on_restore)
        self.restore_action.setEnabled(False)
        self.menu.addSeparator()
        self.keep_action = self.menu.addAction(KEEP_LOCKED_TEXT)
        self.keep_action.setCheckable(True)
        self.keep_action.setToolTip(
            "When something changes mcp.json after lockdown, write the locked version back "
            "(the changed one is kept in history)."
        )
        self.keep_action.toggled.connect(self._on_keep_toggled)
        self.reinspect_action = self.menu.addAction(REINSPECT_TEXT)
        self.reinspect_action.setCheckable(True)
        self.reinspect_action.setToolTip(
            "When mcp.json changes, start again (without asking) the servers inspected before "
            "with the very same command, and tell me when their tools changed. New or changed "
            "entries are never started this way."
        )
        self.reinspect_action.toggled.connect(self._on_reinspect_toggled)
        self.menu.aboutToShow.connect(self.refresh)

        settings.subscribe(self._sync_settings)
        self._sync_settings(settings.settings)

    def actions(self) -> list[QAction]:
        return [self.menu.menuAction()]

    def render(self, status: ServerStatus, caps: Capabilities) -> None:
        """Cheap: the lock state does not follow the server; it is re-read when the
        submenu opens and after every lockdown, restore or drift."""
        if self.status is None and self._refreshing is None:
            self.refresh()

    # --- state ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the lock state in the background (a small file, in a thread)."""
        if self._refreshing is not None and not self._refreshing.done():
            return
        # spawn: the app's quit cancels it with every other task a click started
        self._refreshing = spawn(self._refresh(), doing="Reading the MCP lock state")

    async def refresh_now(self) -> LockStatus | None:
        await self._refresh()
        return self.status

    async def _refresh(self) -> None:
        try:
            record = await asyncio.to_thread(self._lockdown.record)
            path = Path(record.file) if record is not None else self._mcp_file()
            self.show_status(await self._lockdown.status(path))
        except TrayError as exc:
            log.info("cannot read the MCP lock state: %s", exc.message)
            self.status_action.setText(f"mcp.json: {exc.message}")

    def show_status(self, status: LockStatus) -> None:
        self.status = status
        self.status_action.setText(status_line(status, datetime.now(UTC)))
        tip = status.file
        if status.diff is not None:
            tip += "\n" + status.diff.summary()
        self.status_action.setToolTip(tip)
        # A change since lockdown is a warning: readable (not greyed), marked in the tray
        # menu itself, and a click tells what changed.
        drifted = status.locked and status.drift is not Drift.NONE
        warning = _warning_icon() if drifted else QIcon()
        self.status_action.setEnabled(drifted)
        self.status_action.setIcon(warning)
        self.menu.menuAction().setIcon(warning)
        self.restore_action.setEnabled(status.locked)
        self.lock_action.setText("Lock again now" if status.drift is not Drift.NONE else LOCK_TEXT)

    def _sync_settings(self, settings: Settings) -> None:
        for action, value in (
            (self.keep_action, settings.mcp.keep_locked),
            (self.reinspect_action, settings.mcp.reinspect_on_change),
        ):
            if action.isChecked() != value:
                action.blockSignals(True)
                action.setChecked(value)
                action.blockSignals(False)

    # --- gestures ---------------------------------------------------------------------

    def _on_status_clicked(self) -> None:
        status = self.status
        if status is not None and status.diff is not None:
            self._notify("mcp.json changed since lockdown", status.diff.summary(), Severity.WARNING)

    def _on_audit(self) -> None:
        spawn(self.open_audit(), doing="Auditing mcp.json")

    def _on_inspect(self) -> None:
        spawn(self.open_inspect(), doing="Opening the MCP inspection")

    def _on_lock(self) -> None:
        spawn(self.lock_down([]), doing="Locking down mcp.json")

    def _on_restore(self) -> None:
        spawn(self.restore(), doing="Restoring mcp.json")

    def _on_keep_toggled(self, checked: bool) -> None:
        def change(s: Settings) -> None:
            s.mcp.keep_locked = checked

        self._save(change)

    def _on_reinspect_toggled(self, checked: bool) -> None:
        def change(s: Settings) -> None:
            s.mcp.reinspect_on_change = checked

        self._save(change)

    def _save(self, change: Callable[[Settings], None]) -> None:
        try:
            self._settings.update(change)
        except (TrayError, ValidationError) as exc:
            message = exc.message if isinstance(exc, TrayError) else str(exc)
            self._notify("Setting not saved", message, Severity.ERROR)
            self._sync_settings(self._settings.settings)

    def _target(self) -> Path:
        """The locked file when there is one, else LM Studio's mcp.json."""
        if self.status is not None and self.status.locked:
            return Path(self.status.file)
        return self._mcp_file()

    async def open_audit(self) -> QWidget:
        """Audit the file and show the dialog; its "Lock down…" asks here, then locks down
        exactly the servers ticked in it (and closes it when done)."""
        path = self._target()
        report, doc = await self._audit(path)
        from tray.ui.mcp_audit_dialog import McpAuditDialog  # at first use: not idle's

        factory = self._make_dialog or McpAuditDialog
        dialog = factory(report, doc, explain_lockdown=_explainer(doc), demo=self._demo)

        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        async def lock_from_dialog(names: list[str]) -> None:
            if await self.lock_down(names, parent=dialog):
                dialog.close()

        signal = getattr(dialog, "lockdown_requested", None)
        if signal is not None:
            signal.connect(
                lambda names: spawn(lock_from_dialog(list(names)), doing="Locking down mcp.json")
            )
        inspect = getattr(dialog, "inspect_requested", None)
        if inspect is not None:
            inspect.connect(lambda: spawn(self.open_inspect(), doing="Opening the MCP inspection"))
        self.dialogs.append(dialog)
        dialog.destroyed.connect(lambda *_: self._forget_dialog(dialog))
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    async def open_inspect(self, *, time_limit: float = 20.0) -> McpInspectWindow | None:
        """Open the inspection window: it lists what will be started and asks; "Start"
        inspects (concurrently, `time_limit` s per server) and shows the report. None when the
        file cannot be read (a notification says why)."""
        from tray.core.mcp_config import McpParseError
        from tray.services.mcp_inspect import (
            PinStore,
            inspect_file,
            planned_commands,
            read_document,
        )
        from tray.ui.mcp_inspect_window import McpInspectWindow

        path = self._target()
        try:
            doc = await asyncio.to_thread(read_document, path)
        except (TrayError, McpParseError) as exc:
            self._notify("mcp.json cannot be inspected", exc.message, Severity.WARNING)
            return None
        planned = planned_commands(doc)
        window = McpInspectWindow(str(path), planned, timeout=time_limit, demo=self._demo)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        store = PinStore(self._pins_file(), self._lockdown.history)
        running: list[asyncio.Task[Any]] = []

        async def inspect(accept: list[str]) -> None:
            window.show_running(sum(1 for p in planned if p.skipped is None))
            try:
                report = await inspect_file(path, store=store, accept=accept, time_limit=time_limit)
            except TrayError as exc:
                window.show_error(exc.message)
                return
            window.show_report(report)

        def start(accept: list[str]) -> None:
            if running and not running[-1].done():
                return
            running.append(spawn(inspect(accept), doing="Inspecting MCP servers"))

        window.start_requested.connect(lambda: start([]))
        window.accept_requested.connect(lambda name: start([str(name)]))
        self.dialogs.append(window)

        def closed(*_: object) -> None:
            self._forget_dialog(window)
            for task in running:  # the servers it started are still ended (shielded)
                task.cancel()

        window.destroyed.connect(closed)
        window.show()
        window.raise_()
        window.activateWindow()
        return window

    def _forget_dialog(self, dialog: QWidget) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)

    async def lock_down(self, allowed: list[str], *, parent: QWidget | None = None) -> bool:
        """Ask (saying exactly what will happen), then lock down. True when locked."""
        path = self._target()
        plan = await self._lockdown.plan(path, allowed)
        if plan.parse_error is not None:
            text = f"{Path(plan.file).name} cannot be parsed. Replace it with an empty server list?"
            yes = "Replace and lock"
        elif allowed:
            text = f"Lock down {Path(plan.file).name}, keeping {plural(len(allowed), 'server')}?"
            yes = "Lock down"
        else:
            text = f"Lock down {Path(plan.file).name}? LM Studio will start no MCP server."
            yes = "Lock down"
        informative = "\n\n".join(plan.what)
        if not await confirm(
            "Lock down mcp.json",
            text,
            informative=informative,
            yes=yes,
            demo=self._demo,
            parent=parent,
            icon="warning",
        ):
            return False
        record = await self._lockdown.lockdown(
            path,
            allowed,
            consent_to_rewrite_unparsable=plan.parse_error is not None,
            keep_locked=self._settings.settings.mcp.keep_locked,
        )
        kept = ", ".join(record.allowed) if record.allowed else "no servers"
        self._notify(
            "mcp.json locked down",
            f"Kept: {kept}. The previous version is in history; “{RESTORE_TEXT}” puts it back.",
            Severity.INFO,
        )
        await self._refresh()
        return True

    async def restore(self) -> bool:
        status = self.status
        name = Path(status.file).name if status is not None else "mcp.json"
        if not await confirm(
            "Restore mcp.json",
            f"Put back {name} as it was before lockdown?",
            informative="LM Studio will again start the MCP servers it lists. The locked "
            "version stays in history.",
            yes="Restore",
            demo=self._demo,
        ):
            return False
        result = await self._lockdown.restore()
        self._notify("mcp.json restored", result.message, Severity.INFO)
        await self._refresh()
        return True

    # --- drift (the app passes this to McpLockdown.watch) -------------------------------

    def on_drift(self, event: DriftEvent) -> None:
        if event.locked or self._settings.settings.mcp.notify_changes:
            # A change nobody here made: worth attention, even when it was locked again.
            self._notify(event.title(), event.text(), Severity.WARNING)
        self.refresh()
        if self._settings.settings.mcp.reinspect_on_change:
            spawn(self.reinspect(), doing="Inspecting MCP servers again")

    async def reinspect(self, *, time_limit: float = 20.0) -> tuple[str, str] | None:
        """Inspect again the servers agreed to before (same launch), and notify when their
        tools changed; returns the notification's title and text (None: nothing to say)."""
        from tray.core.mcp_inspect import change_notice
        from tray.services.mcp_inspect import PinStore, reinspect_after_change

        store = PinStore(self._pins_file(), self._lockdown.history)
        report, skipped = await reinspect_after_change(
            self._target(), store=store, time_limit=time_limit
        )
        notice = change_notice(report, skipped) if report is not None else None
        if notice is not None:
            self._notify(notice[0], notice[1], Severity.WARNING)
        return notice

    async def check_now(self) -> DriftEvent | None:
        """At start-up: a change made while the tray was not running is handled (recorded,
        maybe re-locked) and notified like one seen live."""
        event = await self._lockdown.check_drift()
        if event is not None:
            self.on_drift(event)
        else:
            await self._refresh()
        return event


def _warning_icon() -> QIcon:
    style = QApplication.style()
    return style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)


def _explainer(doc: McpDocument | None) -> Callable[[list[str]], list[str]]:
    def explain(allowed: list[str]) -> list[str]:
        return describe_lockdown(doc, allowed)

    return explain
