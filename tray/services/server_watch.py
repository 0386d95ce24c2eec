"""Watches the saved servers that are not the active one, slowly, so the tray's Server
submenu shows each one's state and a server that stops can be named in a notification.

Each gets a `StatusMonitor` of its own with no `lms`, GPU or LM Studio settings sources: one
GET per look. It looks every `OTHERS_IDLE_S` seconds while the server answers and backs off
to the user's longest wait (`down_max`) while it does not, so idle cost stays within budget
however many servers are saved.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence

import httpx

from tray.core.settings import PollingSettings, Settings
from tray.core.status import PollPolicy, ServerStatus
from tray.core.tokens import FirstToken, NoToken, WhenAsked
from tray.services.environment import Environment, discover, token_from_environment
from tray.services.lmstudio_client import LmStudioClient
from tray.services.status_monitor import StatusMonitor
from tray.services.token_vault import TokenVault

__all__ = ["OTHERS_IDLE_S", "OtherServers", "profile_monitor"]

log = logging.getLogger(__name__)

OTHERS_IDLE_S = 60.0  # a look a minute at a server nobody is using


class OtherServers:
    """`on_update(profile_id, status)` gets each new status of each watched server."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        vault: TokenVault,
        *,
        discover: Callable[[str], Environment] | None = None,
        on_update: Callable[[str, ServerStatus], None],
        idle_seconds: float | None = None,
    ) -> None:
        """`idle_seconds`: between two looks at a server that answers (default
        `OTHERS_IDLE_S`)."""
        self._http = http
        self._vault = vault
        self._on_update = on_update
        self._discover = discover
        self._idle = idle_seconds if idle_seconds is not None else OTHERS_IDLE_S
        self._monitors: dict[str, tuple[tuple[object, ...], StatusMonitor]] = {}

    @property
    def statuses(self) -> dict[str, ServerStatus]:
        return {pid: m.status for pid, (_, m) in self._monitors.items()}

    def monitor(self, profile_id: str) -> StatusMonitor | None:
        found = self._monitors.get(profile_id)
        return found[1] if found is not None else None

    async def follow(self, settings: Settings) -> None:
        """Watch every saved server but the active one, as `settings` has them now: new
        ones start, removed ones (and the one that became active) stop, changed ones
        start over."""
        wanted: dict[str, tuple[object, ...]] = {}
        for p in settings.profiles:
            if p.id != settings.active_profile:
                wanted[p.id] = (p.base_url, p.kind, p.name, _policy_key(settings.polling))
        for pid in [pid for pid in self._monitors if wanted.get(pid) != self._monitors[pid][0]]:
            await self._monitors.pop(pid)[1].stop()
        for pid, key in wanted.items():
            if pid not in self._monitors:
                monitor = self._monitor_for(settings, pid)
                if monitor is not None:
                    self._monitors[pid] = (key, monitor)
                    monitor.start()

    def refresh(self, profile_ids: Sequence[str] | None = None) -> None:
        """Look now (the menu opened): at servers that answered at their last look only,
        so a server that is down keeps its back-off."""
        for pid, (_, monitor) in self._monitors.items():
            if (profile_ids is None or pid in profile_ids) and monitor.status.state.is_up:
                monitor.refresh_now()

    async def stop(self) -> None:
        monitors = [m for _, m in self._monitors.values()]
        self._monitors.clear()
        await asyncio.gather(*(m.stop() for m in monitors))

    def _monitor_for(self, settings: Settings, profile_id: str) -> StatusMonitor | None:
        env = (
            self._discover(profile_id)
            if self._discover is not None
            else discover(settings, profile=profile_id)
        )
        if env.server_url_error is not None:
            log.info("not watching %s: %s", profile_id, env.server_url_error.message)
            return None
        return profile_monitor(
            self._http,
            self._vault,
            env,
            policy=PollPolicy(
                interactive=self._idle,
                idle=self._idle,
                down_initial=self._idle,
                down_max=max(self._idle, settings.polling.down_max_seconds),
            ),
            on_update=functools.partial(self._on_update, profile_id),
        )


def profile_monitor(
    http: httpx.AsyncClient,
    vault: TokenVault,
    env: Environment,
    *,
    policy: PollPolicy | None = None,
    on_update: Callable[[ServerStatus], None] | None = None,
) -> StatusMonitor:
    """A status monitor for a saved server that is not the tray's active one: HTTP only
    (no `lms`, GPU or LM Studio settings), its token from the keyring (then
    LM_API_TOKEN) asked only when the server wants one."""
    url = env.server_url
    token = WhenAsked(FirstToken(vault.provider(env.profile.id), token_from_environment()))
    return StatusMonitor(
        LmStudioClient(http, url, token_provider=token),
        url=url,
        anonymous=LmStudioClient(http, url, token_provider=NoToken()),
        has_token=token,
        kind=env.kind_choice,
        profile_name=env.profile.name,
        policy=policy,
        on_update=on_update,
    )


def _policy_key(polling: PollingSettings) -> float:
    return polling.down_max_seconds
