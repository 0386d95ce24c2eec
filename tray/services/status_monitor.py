"""Watches one LM Studio server with cheap HTTP probes and reports a `ServerStatus`.

A poll is one `GET /api/v1/models` (plus `GET /lmstudio-greeting` when the server has just
come up). Polling never runs `lms` and so never spawns a process or wakes LM Studio.
How often it looks is `PollPolicy`'s decision: fast while a menu or window is open, slow
when idle, exponential back-off while the server is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from tray.core.errors import AuthError, LmStudioError
from tray.core.status import (
    LoadedModelSummary,
    PollPolicy,
    ServerState,
    ServerStatus,
    classify_failure,
    is_loopback_host,
)
from tray.services.lmstudio_client import LmStudioClient

__all__ = ["StatusMonitor"]

log = logging.getLogger(__name__)


class StatusMonitor:
    """Polls a server and calls `on_update` with every new `ServerStatus`.

    `client` sends our token (if any); `anonymous` sends none and is used once per
    up-transition to learn whether the server requires a token at all.
    """

    def __init__(
        self,
        client: LmStudioClient,
        *,
        url: str,
        anonymous: LmStudioClient | None = None,
        has_token: bool = False,
        policy: PollPolicy | None = None,
        on_update: Callable[[ServerStatus], None] | None = None,
        demo: bool = False,
    ) -> None:
        self._client = client
        self._anonymous = anonymous
        self._has_token = has_token
        self._policy = policy or PollPolicy()
        self._on_update = on_update
        self._local = is_loopback_host(urlsplit(url).hostname or "")
        self._interactive = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._version: str | None = None
        self._auth_required: bool | None = None
        self.probes = 0
        self.status = ServerStatus(url=url, demo=demo)

    # --- control ---------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="status-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def set_interactive(self, interactive: bool) -> None:
        """The user is looking (menu/window open): poll fast, and look right now."""
        was = self._interactive
        self._interactive = interactive
        if interactive and not was:
            self.refresh_now()

    def refresh_now(self) -> None:
        self._wake.set()

    def set_starting(self) -> None:
        """We asked LM Studio to start its server; show that until a probe says otherwise."""
        self._publish(self.status.model_copy(update={"state": ServerState.STARTING}))

    # --- probing ---------------------------------------------------------------------

    async def probe(self) -> ServerStatus:
        """Look once, publish and return the result."""
        was_up = self.status.state.is_up and self.status.state is not ServerState.AUTH_REQUIRED
        now = datetime.now(UTC)
        try:
            models = await self._client.list_models()
            if not was_up:
                await self._learn_server()
        except LmStudioError as exc:
            self._failures += 1
            state = classify_failure(exc, local=self._local)
            if isinstance(exc, AuthError):
                self._auth_required = True
            status = self.status.model_copy(
                update={
                    "state": state,
                    "error": exc.message,
                    "checked_at": now,
                    "loaded": (),
                    "auth_required": self._auth_required if state.is_up else None,
                }
            )
            log.debug("probe failed: %s (%s)", state, type(exc).__name__)
        else:
            self._failures = 0
            loaded = tuple(
                LoadedModelSummary(
                    identifier=instance.id,
                    model_key=model.key,
                    size_bytes=model.size_bytes,
                    context_length=instance.config.context_length if instance.config else None,
                )
                for model in models
                for instance in model.loaded_instances
            )
            state = ServerState.RUNNING_AUTH if self._auth_required else ServerState.RUNNING
            status = self.status.model_copy(
                update={
                    "state": state,
                    "error": None,
                    "checked_at": now,
                    "loaded": loaded,
                    "version": self._version,
                    "auth_required": self._auth_required,
                }
            )
        self._publish(status)
        self.probes += 1  # completed probes
        return status

    async def _learn_server(self) -> None:
        """Facts that only change when the server (re)starts: version, whether auth is on."""
        try:
            greeting = await self._client.greeting()
            self._version = greeting.version
        except LmStudioError as exc:
            log.debug("greeting failed: %s", type(exc).__name__)
            self._version = None
        if not self._has_token:
            self._auth_required = False
        elif self._anonymous is not None:
            try:
                await self._anonymous.list_models()
                self._auth_required = False
            except AuthError:
                self._auth_required = True
            except LmStudioError:
                self._auth_required = None

    def _publish(self, status: ServerStatus) -> None:
        # checked_at alone changing is not news for the UI.
        changed = status.model_copy(update={"checked_at": None}) != self.status.model_copy(
            update={"checked_at": None}
        )
        self.status = status
        if changed and self._on_update is not None:
            self._on_update(status)

    async def _run(self) -> None:
        while True:
            await self.probe()
            delay = self._policy.next_delay(
                self.status.state, interactive=self._interactive, failures=self._failures
            )
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
