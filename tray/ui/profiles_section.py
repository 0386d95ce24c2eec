"""The tray menu's server switcher: a "Server: <name>" submenu with one radio item per
profile, plus the way into the Settings window.

Switching saves `active_profile` through `SettingsService.update`; the app listens to the
settings and reconnects the status monitor. The list follows the settings (a listener), so
a profile added in the Settings window shows up at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import ValidationError
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from tray.core.backends import BackendKind, Capabilities
from tray.core.errors import TrayError
from tray.core.profiles import profile_label
from tray.core.settings import ServerProfile, Settings
from tray.core.status import ServerStatus
from tray.services.settings_store import SettingsService
from tray.ui.tasks import ErrorReporter

__all__ = ["EDIT_SERVERS_TEXT", "REDUCED_MODE_TEXT", "SETTINGS_TEXT", "ProfilesSection"]

log = logging.getLogger(__name__)

SETTINGS_TEXT = "Settings…"
EDIT_SERVERS_TEXT = "Edit servers…"
REDUCED_MODE_TEXT = "Reduced mode: status and model list only"


def _menu_text(text: str) -> str:
    # A lone "&" would become a keyboard mnemonic and vanish from the label.
    return text.replace("&", "&&")


class ProfilesSection:
    """Owns its QMenu and QActions; `actions()` is inserted once into the tray menu."""

    def __init__(
        self,
        settings: SettingsService,
        *,
        open_settings: Callable[[], None],
        report_error: ErrorReporter | None = None,
    ) -> None:
        """`report_error(title, sentence)` tells the user a switch failed (e.g. the settings
        file cannot be written); without one the failure is logged."""
        self._settings = settings
        self._report = report_error or (lambda title, text: log.error("%s: %s", title, text))
        self._shown: tuple[object, ...] | None = None
        self._states: dict[str, str] = {}  # profile id -> its state in a few words

        self.menu = QMenu()
        self.menu.setSeparatorsCollapsible(True)
        self._group = QActionGroup(self.menu)
        self._group.setExclusive(True)
        self._profile_actions: dict[str, QAction] = {}
        self._reduced = QAction(REDUCED_MODE_TEXT, self.menu)
        self._reduced.setEnabled(False)
        self._reduced.setVisible(False)
        self.menu.addAction(self._reduced)
        self._list_end = self.menu.addSeparator()
        self.edit_servers_action = self.menu.addAction(EDIT_SERVERS_TEXT)
        self.edit_servers_action.triggered.connect(lambda: open_settings())

        self.settings_action = QAction(SETTINGS_TEXT, self.menu)
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.settings_action.triggered.connect(lambda: open_settings())

        settings.subscribe(self._sync)
        self._sync(settings.settings)

    def actions(self) -> list[QAction]:
        return [self.menu.menuAction(), self.settings_action]

    def render(self, status: ServerStatus, caps: Capabilities) -> None:
        """Cheap: touches Qt only when the profiles, a state or the mode changed."""
        self.show_state(self._settings.settings.active_profile, status)
        self._sync(self._settings.settings)
        reduced = caps.kind is BackendKind.OPENAI
        if self._reduced.isVisible() != reduced:
            self._reduced.setVisible(reduced)

    def show_state(self, profile_id: str, status: ServerStatus) -> None:
        """Show a saved server's state beside its name (the active one's comes with each
        render, the others' from their slower watch)."""
        note = status.menu_note
        if self._states.get(profile_id) == note:
            return
        self._states[profile_id] = note
        action = self._profile_actions.get(profile_id)
        profile = next((p for p in self._settings.settings.profiles if p.id == profile_id), None)
        if action is not None and profile is not None:
            action.setText(self._item_text(profile))

    def profile_action(self, profile_id: str) -> QAction:
        return self._profile_actions[profile_id]

    # --- internals ----------------------------------------------------------------------

    def _sync(self, settings: Settings) -> None:
        shown = (
            settings.active_profile,
            tuple((p.id, profile_label(p)) for p in settings.profiles),
        )
        if shown == self._shown:
            return
        self._shown = shown
        active = settings.profile()
        self.menu.setTitle(_menu_text(f"Server: {profile_label(active)}"))

        wanted = [p.id for p in settings.profiles]
        for stale in [pid for pid in self._profile_actions if pid not in wanted]:
            action = self._profile_actions.pop(stale)
            self._group.removeAction(action)
            self.menu.removeAction(action)
            action.deleteLater()
        for profile in settings.profiles:
            known = self._profile_actions.get(profile.id)
            if known is None:
                action = QAction(self.menu)
                action.setCheckable(True)
                action.triggered.connect(lambda _=False, pid=profile.id: self._switch(pid))
                self._group.addAction(action)
                self._profile_actions[profile.id] = action
            else:
                action = known
            action.setText(self._item_text(profile))
            action.setToolTip(profile.base_url or "This machine's LM Studio")
            # Re-inserting in settings order keeps the menu in the order of the list.
            self.menu.removeAction(action)
            self.menu.insertAction(self._reduced, action)
            action.setChecked(profile.id == settings.active_profile)

    def _item_text(self, profile: ServerProfile) -> str:
        note = self._states.get(profile.id)
        label = profile_label(profile)
        return _menu_text(f"{label} — {note}" if note else label)

    def _switch(self, profile_id: str) -> None:
        if profile_id == self._settings.settings.active_profile:
            return

        def change(s: Settings) -> None:
            s.active_profile = profile_id

        try:
            # One small file written atomically: done right here, on the GUI thread, so the
            # app's listeners (which reconnect the monitor) also run there.
            self._settings.update(change)
        except TrayError as exc:
            self._report(exc.title, exc.message)
        except ValidationError as exc:
            self._report("Server not switched", str(exc.errors()[0]["msg"]))
        finally:
            # On failure this puts the check mark back on the profile still in use.
            self._shown = None
            self._sync(self._settings.settings)
