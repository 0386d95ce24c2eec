"""Starts, stops and restarts LM Studio's API server through `lms`, for one server profile.

The options a start uses (port, bind address, CORS) are remembered in the profile, and
always passed in full: `lms server start` without `--cors` turns CORS off. Before and
after a start the port is checked, so a port held by another program is named as such
instead of lms's vague "try another port". Stopping a server that the LM Studio app (not
the headless daemon) runs raises `ServerOwnedByApp` until the caller says the user agreed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx

from tray.core.errors import (
    AuthError,
    ConfigError,
    FileParseError,
    LmsCommandFailed,
    LmStudioError,
    PortInUse,
    ServerOwnedByApp,
)
from tray.core.lms_output import LmsDaemonStatus, ServerStartOutcome, ServerStopOutcome
from tray.core.server_control import (
    DEFAULT_PORT,
    StopAction,
    StopPlan,
    connect_host,
    plan_stop,
    port_in_use_message,
    seeded_options,
    server_url,
    validate_start_options,
)
from tray.core.settings import ServerStartOptions, Settings
from tray.services.lms_runner import LmsRunner
from tray.services.lmstudio_client import LmStudioClient, Timeouts
from tray.services.lmstudio_home import read_server_config
from tray.services.settings_store import SettingsService

__all__ = ["LM_STUDIO", "OTHER_PROGRAM", "ServerController"]

log = logging.getLogger(__name__)

LM_STUDIO = "LM Studio"
OTHER_PROGRAM = "another program"
CONNECT_TIMEOUT = 1.0
GREETING_TIMEOUT = 2.0  # a program that accepts but never answers HTTP is not LM Studio


class ServerController:
    """Server control for the profile `profile_id`, through `runner`.

    `home` is LM Studio's home, read for the port lms will use when none is given;
    `http` is an optional shared client for the greeting check (one is made per check
    otherwise); `before_stop` is told right before we stop the server (so whoever reports
    unexpected stops knows this one was asked for).
    """

    def __init__(
        self,
        runner: LmsRunner,
        settings: SettingsService,
        profile_id: str,
        *,
        home: Path | None = None,
        http: httpx.AsyncClient | None = None,
        before_stop: Callable[[], None] | None = None,
    ) -> None:
        self._before_stop = before_stop
        self._runner = runner
        self._settings = settings
        self._profile_id = profile_id
        self._home = home
        self._http = http

    def __repr__(self) -> str:
        return f"ServerController({self._profile_id!r}, {self._runner!r})"

    # --- remembered options -------------------------------------------------------------

    @property
    def options(self) -> ServerStartOptions:
        """The options the last start used (or the user saved), for this profile."""
        return self._settings.settings.profile(self._profile_id).server_start.model_copy()

    async def start_options(self) -> ServerStartOptions:
        """What Start uses: the remembered options, or — until the user has chosen —
        LM Studio's own CORS and network settings (see `seeded_options`)."""
        remembered = self.options
        if remembered.remembered or self._home is None:
            return remembered
        home = self._home
        try:
            config = await asyncio.to_thread(read_server_config, home)
        except FileParseError as exc:
            log.info("LM Studio's server settings could not be read: %s", exc.message)
            config = None
        return seeded_options(remembered, config)

    def remember(self, options: ServerStartOptions) -> None:
        """Save `options` in the profile (from now on they, not LM Studio's own settings,
        are what Start uses). Raises ConfigError for invalid options, FileWriteError when
        the settings could not be saved."""
        _check(options)
        chosen = options.model_copy(update={"remembered": True})

        def change(settings: Settings) -> None:
            settings.profile(self._profile_id).server_start = chosen

        self._settings.update(change)

    # --- operations ---------------------------------------------------------------------

    async def start(self, options: ServerStartOptions | None = None) -> ServerStartOutcome:
        """Start the server with `options` (None: the remembered ones) and remember them.

        Raises PortInUse when another program holds the port, ConfigError for invalid
        options, and the runner's errors (LmsNotFound, LmStudioNotRunning, …) otherwise.
        """
        chosen = (options or await self.start_options()).model_copy()
        _check(chosen)
        port = chosen.port if chosen.port is not None else await self._lms_default_port()
        if await self.port_in_use(port, chosen.bind) == OTHER_PROGRAM:
            raise PortInUse(port_in_use_message(port, chosen.bind), port=port)
        try:
            outcome = await self._runner.server_start(
                port=chosen.port, bind=chosen.bind, cors=chosen.cors
            )
        except LmsCommandFailed as exc:
            # lms only says "try another port"; find out whether one is the reason.
            if await self.port_in_use(port, chosen.bind) == OTHER_PROGRAM:
                raise PortInUse(
                    port_in_use_message(port, chosen.bind), port=port, stderr=exc.stderr
                ) from exc
            raise
        log.info("server started on port %d (bind %s)", outcome.port, chosen.bind or "default")
        if options is not None and not (
            self.options.remembered and chosen.same_choice(self.options)
        ):
            self.remember(chosen)
        return outcome

    async def plan_stop(self) -> StopPlan:
        """What Stop would do now; asks only what never wakes LM Studio."""
        server, daemon = await asyncio.gather(self._runner.server_status(), self._daemon())
        return plan_stop(server, daemon)

    async def _daemon(self) -> LmsDaemonStatus | None:
        """`lms daemon status`, or None when this lms cannot say: the `daemon` group only
        exists since late 2025 (lms 5793881); an older lms fails with "unknown command"."""
        try:
            return await self._runner.daemon_status()
        except LmsCommandFailed as exc:
            log.info("lms daemon status failed; who runs the server is unknown: %s", exc.message)
            return None

    async def stop(self, *, confirmed: bool = False) -> ServerStopOutcome:
        """Stop the server. Raises ServerOwnedByApp when the LM Studio app runs it and the
        user has not `confirmed`; a server that is not running is no error."""
        plan = await self.plan_stop()
        if plan.action is StopAction.NOTHING:
            return ServerStopOutcome(was_running=False)
        if plan.action is StopAction.CONFIRM and not confirmed:
            raise ServerOwnedByApp(
                plan.reason or "LM Studio runs this server.",
                question=plan.question or "Stop it anyway?",
                port=plan.port,
            )
        if self._before_stop is not None:
            self._before_stop()
        return await self._runner.server_stop()

    async def restart(
        self,
        options: ServerStartOptions | None = None,
        *,
        confirmed: bool = False,
        on_stopped: Callable[[], None] | None = None,
    ) -> ServerStartOutcome:
        """Stop (asking as `stop` does) and start again with `options` (None: remembered).
        `on_stopped` is called between the two (the tray shows "starting" from then on)."""
        chosen = (options or await self.start_options()).model_copy()
        _check(chosen)  # before stopping: a bad option must not leave the server down
        await self.stop(confirmed=confirmed)
        if on_stopped is not None:
            on_stopped()
        return await self.start(chosen)

    # --- the port -----------------------------------------------------------------------

    async def port_in_use(self, port: int, bind: str | None) -> str | None:
        """What listens on `port` where a server bound to `bind` would be reached:
        `LM_STUDIO` when `/lmstudio-greeting` says so, `OTHER_PROGRAM` for anything
        else that accepts a connection, None when nothing does."""
        host = connect_host(bind)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                _, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError):
            return None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        async with self._client() as http:
            client = LmStudioClient(
                http, server_url(port, bind), timeouts=Timeouts(probe=GREETING_TIMEOUT)
            )
            try:
                greeting = await client.greeting()
            except AuthError:
                return LM_STUDIO  # an auth-protected LM Studio refuses with its own body
            except LmStudioError:
                return OTHER_PROGRAM
        return LM_STUDIO if greeting.lmstudio else OTHER_PROGRAM

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._http is not None:
            yield self._http
            return
        async with httpx.AsyncClient() as http:
            yield http

    async def _lms_default_port(self) -> int:
        """The port `lms server start` picks without `--port`: LM Studio's setting, else
        1234 (FORMATS §1.8)."""
        if self._home is None:
            return DEFAULT_PORT
        try:
            config = await asyncio.to_thread(read_server_config, self._home)
        except FileParseError:
            return DEFAULT_PORT
        return config.effective_port if config is not None else DEFAULT_PORT


def _check(options: ServerStartOptions) -> None:
    problems = validate_start_options(options)
    if problems:
        raise ConfigError(" ".join(problems), title="Invalid server options")
