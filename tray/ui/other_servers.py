"""The tray's watch of the saved servers that are not the active one: their states beside
their names in the Server submenu, and their notices (a server that stopped, a model it
unloaded) with the server's name in them.

`TrayApp` only starts and stops this; the watching is `tray.services.server_watch`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx

from tray.core.notifications import Notice, NotificationRules
from tray.core.settings import Settings
from tray.core.status import ServerStatus
from tray.services.environment import Environment
from tray.services.server_watch import OtherServers
from tray.services.settings_store import SettingsService
from tray.services.token_vault import TokenVault
from tray.ui.profiles_section import ProfilesSection
from tray.ui.tasks import spawn

__all__ = ["OtherServersWatch"]

log = logging.getLogger(__name__)


class OtherServersWatch:
    def __init__(
        self,
        http: httpx.AsyncClient,
        vault: TokenVault,
        settings: SettingsService,
        section: ProfilesSection,
        *,
        discover: Callable[[str], Environment],
        notify: Callable[[Notice], None],
    ) -> None:
        """`discover(profile_id)` gives a saved server's environment as the app sees it
        (the demo's stands in for this machine's)."""
        self._settings = settings
        self._section = section
        self._notify = notify
        self._rules: dict[str, NotificationRules] = {}
        self.service = OtherServers(http, vault, discover=discover, on_update=self._update)
        self._running = False
        settings.subscribe(self._settings_changed)

    def start(self) -> None:
        self._running = True
        spawn(self.service.follow(self._settings.settings), doing="Watching the saved servers")

    async def stop(self) -> None:
        self._running = False
        await self.service.stop()

    def menu_opening(self) -> None:
        self.service.refresh()

    def _settings_changed(self, settings: Settings) -> None:
        for rules in self._rules.values():
            rules.settings = settings.notifications
        if self._running:
            spawn(self.service.follow(settings), doing="Watching the saved servers")

    def _update(self, profile_id: str, status: ServerStatus) -> None:
        self._section.show_state(profile_id, status)
        rules = self._rules.get(profile_id)
        if rules is None:
            rules = self._rules[profile_id] = NotificationRules(
                self._settings.settings.notifications
            )
        for notice in rules.observe(status):
            self._notify(notice)
