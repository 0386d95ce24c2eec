"""Watches one server with cheap HTTP probes and reports a `ServerStatus`.

A poll is one GET: `/api/v1/models` for LM Studio, or the list of loaded models in the
server's own API for other kinds (`tray.services.backends`). When the server has just come
up (and at first contact) the monitor finds out what kind of server answers — unless the
profile pins the kind — and asks what changes only with a restart: LM Studio's greeting and
local `lms-status` (its version; this machine only), Ollama's version, llama.cpp's `/props`,
and one token-less probe.
Polling never runs `lms`, so it never spawns a process or wakes LM Studio: `lms ps` (for
status, queue and TTL) runs only while the user looks (menu or window open), at most once
every `PS_MIN_INTERVAL` seconds, and only when the HTTP API has just answered — so LM Studio
is running and nothing is woken. How often it looks is `PollPolicy`'s decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tray.core.backends import AUTO, BackendKind, KindChoice
from tray.core.errors import (
    AuthError,
    BadResponse,
    EndpointNotSupported,
    LmsError,
    LmStudioError,
    TokenError,
    TrayError,
)
from tray.core.gpu import GpuReport
from tray.core.inventory import LoadedModelRow, build_inventory
from tray.core.lms_output import LmsLoadedModel
from tray.core.server_config import HttpServerConfig
from tray.core.server_kinds import ServerIdentity
from tray.core.server_url import server_host
from tray.core.status import (
    PollPolicy,
    ServerState,
    ServerStatus,
    classify_failure,
    is_loopback_host,
)
from tray.core.tokens import TokenProvider
from tray.services.lmstudio_client import LmStudioClient

if TYPE_CHECKING:  # another kind's API is imported once such a server answers
    from tray.services.backends import Backend

__all__ = ["PS_MIN_INTERVAL", "StatusMonitor"]

log = logging.getLogger(__name__)

PS_MIN_INTERVAL = 3.0  # seconds between two `lms ps` runs, however often the menu opens
PS_MAX_AGE = 10.0  # an older `lms ps` result is not shown: status and queue go stale fast

PsSource = Callable[[], Awaitable[Sequence[LmsLoadedModel]]]
GpuSource = Callable[[], GpuReport]
# LM Studio's own server settings (where it listens), read off the event loop's thread.
ServerConfigSource = Callable[[], Awaitable[HttpServerConfig | None]]
# The running LM Studio's version from where it really tells it (`lms-status`); None = not known.
VersionSource = Callable[[], Awaitable[str | None]]


class StatusMonitor:
    """Polls a server and calls `on_update` with every new `ServerStatus`.

    `client` sends our token (if any); `anonymous` sends none and is used once per
    up-transition to learn whether the server requires a token at all. `has_token` is a
    fixed answer or the provider to ask (a token saved later then counts). The optional
    sources add what HTTP cannot tell: `lms ps` (only while interactive), the GPU's own
    memory reading (blocking; run in a thread), where LM Studio's server listens (its
    server settings) and LM Studio's version (its local `lms-status`) — these two used
    only when the monitored URL is on this machine.
    """

    def __init__(
        self,
        client: LmStudioClient,
        *,
        url: str,
        anonymous: LmStudioClient | None = None,
        has_token: bool | TokenProvider = False,
        kind: KindChoice = AUTO,
        profile_name: str | None = None,
        ps_source: PsSource | None = None,
        gpu_source: GpuSource | None = None,
        server_config: ServerConfigSource | None = None,
        version_source: VersionSource | None = None,
        requested_context: Callable[[str], int | None] | None = None,
        looking: Callable[[], bool] | None = None,
        policy: PollPolicy | None = None,
        on_update: Callable[[ServerStatus], None] | None = None,
        demo: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock` (seconds, monotonic) paces `lms ps`; tests give one they move."""
        self._client = client
        self._anonymous = anonymous
        self._has_token = has_token
        self._pinned = None if kind == AUTO else BackendKind(kind)
        self._identity: ServerIdentity | None = None
        self._confirmed = False  # the identity was found out, or a poll in its words answered
        self._backend: Backend | None = None
        self._ps_source = ps_source
        self._gpu_source = gpu_source
        self._server_config = server_config
        self._version_source = version_source
        self._requested_context = requested_context
        self._looking = looking
        self._policy = policy or PollPolicy()
        self._on_update = on_update
        self._clock = clock
        self._local = is_loopback_host(server_host(url))
        self._interactive = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._version: str | None = None
        self._auth_required: bool | None = None
        self._ps: Sequence[LmsLoadedModel] | None = None
        self._ps_at = -1e9
        self.probes = 0
        self.ps_runs = 0
        self.delays: deque[float] = deque(maxlen=32)  # the last waits chosen, newest last
        self.status = ServerStatus(
            url=url,
            kind=self._pinned or BackendKind.LMSTUDIO,
            kind_known=self._pinned is not None,
            profile_name=profile_name,
            demo=demo,
        )

    # --- control ---------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="status-monitor")

    @property
    def running(self) -> bool:
        """Whether the polling loop runs (started and not stopped)."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def interactive(self) -> bool:
        """The user looks: told so (`set_interactive`), or `looking()` says so (asked before
        each wait, so a window that closed without a word slows polling down again)."""
        return self._interactive or (self._looking is not None and self._looking())

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
        self._publish(self.status.model_copy(update={"state": ServerState.STARTING, "error": None}))

    # --- probing ---------------------------------------------------------------------

    async def probe(self) -> ServerStatus:
        """Look once, publish and return the result."""
        was_up = self.status.state in (ServerState.RUNNING, ServerState.RUNNING_AUTH)
        now = datetime.now(UTC)
        gpu = await asyncio.to_thread(self._gpu_source) if self._gpu_source else None
        config = await self._read_server_config()
        try:
            loaded, served = await self._polled(was_up)
            if not was_up:
                await self._learn_server()
        except LmStudioError as exc:
            self._failures += 1
            state = classify_failure(exc, local=self._local)
            if isinstance(exc, AuthError):
                self._auth_required = True
            self._ps = None
            status = self.status.model_copy(
                update={
                    "state": state,
                    "error": exc.message,
                    "checked_at": now,
                    "loaded": (),
                    "served_models": (),
                    "auth_required": self._auth_required if state.is_up else None,
                    "exposed": self._exposed(config) if state.is_up else None,
                    "listen_address": config.listen_address if config else None,
                    "gpu": gpu,
                }
            )
            log.debug("probe failed: %s (%s)", state, type(exc).__name__)
        else:
            self._failures = 0
            up = ServerState.RUNNING_AUTH if self._auth_required else ServerState.RUNNING
            status = self.status.model_copy(
                update={
                    "state": up,
                    "error": None,
                    "checked_at": now,
                    "loaded": loaded,
                    "served_models": served,
                    "version": self._version,
                    **self._identity_fields(),
                    "auth_required": self._auth_required,
                    "exposed": self._exposed(config),
                    "listen_address": config.listen_address if config else None,
                    "gpu": gpu,
                }
            )
        self._publish(status)
        self.probes += 1  # completed probes
        return status

    async def _models(self) -> tuple[tuple[LoadedModelRow, ...], tuple[str, ...]]:
        """(loaded rows, served model ids): LM Studio tells what is loaded; an
        OpenAI-compatible server only what it serves (reduced mode)."""
        if self._backend is not None:
            return await self._backend.poll()
        models = await self._client.list_models()
        await self._refresh_ps()
        fresh = self._clock() - self._ps_at <= PS_MAX_AGE
        rows = build_inventory(
            models, self._ps if fresh else None, now_ms=int(time.time() * 1000)
        ).loaded
        if (asked := self._requested_context) is not None:
            rows = tuple(
                r.model_copy(update={"requested_context_length": asked(r.identifier)}) for r in rows
            )
        return rows, ()

    async def _refresh_ps(self) -> None:
        # Only while the user looks, throttled; the HTTP API just answered, so LM Studio
        # runs and `lms ps` wakes nothing.
        if self._ps_source is None or not self.interactive:
            return
        if self._clock() - self._ps_at < PS_MIN_INTERVAL:
            return
        self._ps_at = self._clock()
        self.ps_runs += 1
        try:
            self._ps = await self._ps_source()
        except LmsError as exc:
            log.info("lms ps failed; status, queue and TTL unknown: %s", exc.message)
            self._ps = None

    async def _read_server_config(self) -> HttpServerConfig | None:
        # The user may flip "Serve on Local Network" in LM Studio at any time: read it at
        # each look (a small local file) — but only for a server on this machine, which
        # is the one those settings describe.
        if self._server_config is None or not self._local or not self._is_lmstudio:
            return None  # LM Studio's own settings say nothing of another kind of server
        try:
            return await self._server_config()
        except TrayError as exc:  # unreadable: where it listens is unknown
            log.debug("LM Studio's server settings unreadable: %s", exc.message)
            return None

    def _exposed(self, config: HttpServerConfig | None) -> bool | None:
        beyond = config.beyond_loopback if config is not None else None
        if beyond is None or self._auth_required is None:
            return None
        return beyond and not self._auth_required

    @property
    def identity(self) -> ServerIdentity | None:
        """What answers (None: not known yet, or the server is down since first contact)."""
        return self._identity

    def _identity_fields(self) -> dict[str, object]:
        i = self._identity
        if i is None:
            return {}
        return {"kind": i.kind, "kind_known": True, "legacy": i.legacy}

    async def _polled(self, was_up: bool) -> tuple[tuple[LoadedModelRow, ...], tuple[str, ...]]:
        """The poll, in the words of the kind that answers. On first contact an `auto`
        (or LM Studio) profile is tried as LM Studio 0.4 — its own poll tells in one GET, as
        before — and any other kind is found out (`identify`) when that poll does not fit;
        so is a server that comes back after being down and no longer fits."""
        if self._identity is None:
            if self._pinned in (None, BackendKind.LMSTUDIO):
                self._set_identity(ServerIdentity(kind=BackendKind.LMSTUDIO))
                self._confirmed = False
            else:
                await self._identify()
        elif not was_up:
            self._confirmed = False
        if not was_up:
            await self._learn_backend()
        try:
            polled = await self._models()
        except (EndpointNotSupported, BadResponse):
            if self._confirmed:
                raise
            await self._identify()
            await self._learn_backend()
            polled = await self._models()
        self._confirmed = True
        return polled

    async def _learn_backend(self) -> None:
        """What another kind tells once per start (llama.cpp's `/props`, Ollama's version),
        before its first poll, which may read it."""
        if self._backend is not None:
            await self._backend.learn()
            self._version = self._backend.identity.version

    async def _identify(self) -> None:
        """Find out what answers (pinned: only that kind's steps), and pick its backend.
        Raises as a poll does when nothing answers."""
        from tray.services.backends import identify

        self._set_identity(await identify(self._client, self._pinned))
        self._confirmed = True

    def _set_identity(self, identity: ServerIdentity) -> None:
        self._identity = identity
        self._backend = _backend_for(identity, self._client)

    async def _learn_server(self) -> None:
        """Facts that only change when the server (re)starts: version, whether auth is on."""
        if self._is_lmstudio:
            self._version = None
            if self._local and self._version_source is not None:
                self._version = await self._version_source()
            try:
                # Says whether it is LM Studio (for a 401's wording). LM Studio documents
                # no version here; one a server sends anyway is shown, never relied on.
                greeting = await self._client.greeting()
                self._version = self._version or greeting.version
            except LmStudioError as exc:
                log.debug("greeting failed: %s", type(exc).__name__)
        has = self._has_token
        if isinstance(has, TokenProvider):
            try:  # a provider that waits to be asked (the keyring) answers None until then
                has = await has.get_token() is not None
            except TokenError:  # the client sent none either, and the server answered
                has = False
        if not has:
            self._auth_required = False
        elif self._anonymous is not None:
            try:
                if self._identity is not None and (
                    anonymous := _backend_for(self._identity, self._anonymous)
                ):
                    await anonymous.poll()
                else:
                    await self._anonymous.list_models()
                self._auth_required = False
            except AuthError:
                self._auth_required = True
            except LmStudioError:
                self._auth_required = None

    @property
    def _is_lmstudio(self) -> bool:
        kind = self._identity.kind if self._identity else self._pinned or BackendKind.LMSTUDIO
        return kind is BackendKind.LMSTUDIO

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
                self.status.state, interactive=self.interactive, failures=self._failures
            )
            self.delays.append(delay)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)


def _backend_for(identity: ServerIdentity, client: LmStudioClient) -> Backend | None:
    """LM Studio 0.4+ needs no backend (and imports none); other kinds' own API."""
    if identity.kind is BackendKind.LMSTUDIO and not identity.legacy:
        return None
    from tray.services.backends import backend_for

    return backend_for(identity, client)
