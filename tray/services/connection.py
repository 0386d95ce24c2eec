"""The tray's connection to the server the settings name: its HTTP client (with the token
asked of the keyring only when the server wants one), the `lms` runner, the model manager
and the status monitor, built together from one `Environment` — and built anew when the
settings change.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tray.core.gpu import GpuReport
from tray.core.settings import PollingSettings
from tray.core.status import PollPolicy, ServerStatus
from tray.core.tokens import FirstToken, NoToken, WhenAsked
from tray.services.environment import Environment, token_from_environment
from tray.services.lmstudio_client import LmStudioClient
from tray.services.lmstudio_home import current_server_config
from tray.services.lmstudio_version import local_lmstudio_version
from tray.services.model_manager import ModelManager
from tray.services.server_controller import ServerController
from tray.services.settings_store import SettingsService
from tray.services.status_monitor import StatusMonitor
from tray.services.token_vault import TokenVault
from tray.services.workspace import Workspace

__all__ = ["ServerConnection"]


class ServerConnection:
    """One server watched. `gpu` reads the GPU (blocking; in a thread), `looking()` says
    whether the user looks (a window of ours has the focus), `on_update(status)` gets each
    new status, `on_user_unload(identifier)` each eject the user asked for."""

    def __init__(
        self,
        workspace: Workspace,
        env: Environment,
        http: httpx.AsyncClient,
        *,
        vault: TokenVault,
        polling: PollingSettings,
        on_update: Callable[[ServerStatus], None],
        gpu: Callable[[], GpuReport] | None = None,
        looking: Callable[[], bool] | None = None,
        on_user_unload: Callable[[str], None] | None = None,
        demo: bool = False,
    ) -> None:
        self._env = env
        self._workspace = workspace
        self._on_user_unload = on_user_unload
        self._gpu = gpu
        self._http = http
        # The tray's home for tokens (the keyring) first, then LM_API_TOKEN; only once the
        # server asks for a token (the keyring may hang on an unlock prompt).
        token = WhenAsked(FirstToken(vault.provider(env.profile.id), token_from_environment()))
        url = env.server_url
        self.client = LmStudioClient(http, url, token_provider=token)
        self.runner = workspace.runner(env) if env.capabilities.lms else None
        self._models_for: tuple[Environment, ModelManager | None] | None = None
        runner = self.runner
        self.monitor = StatusMonitor(
            self.client,
            url=url,
            anonymous=LmStudioClient(http, url, token_provider=NoToken()),
            has_token=token,
            kind=env.kind_choice,
            profile_name=env.profile.name,
            ps_source=runner.ps if runner is not None else None,
            gpu_source=gpu,
            server_config=lambda: current_server_config(env.home.path),
            version_source=lambda: local_lmstudio_version(http, env.home.path),
            requested_context=self._requested_context,
            looking=looking,
            policy=PollPolicy(
                interactive=polling.interactive_seconds,
                idle=polling.idle_seconds,
                down_max=polling.down_max_seconds,
            ),
            on_update=on_update,
            demo=demo,
        )

    @property
    def env(self) -> Environment:
        """The environment, with what the server said it is once it answered."""
        monitor = getattr(self, "monitor", None)
        identity = monitor.identity if monitor is not None else None
        return self._env.with_identity(identity) if identity is not None else self._env

    @property
    def models(self) -> ModelManager | None:
        """What loads and ejects on this server, for the kind it turned out to be (None:
        it cannot); the same object for as long as the server stays the same kind."""
        env = self.env
        if self._models_for is None or self._models_for[0] != env:
            manager = self._workspace.model_manager(
                env,
                self.client,
                self.runner,
                on_user_unload=self._on_user_unload,
                gpu_probe=self._gpu,
            )
            self._models_for = (env, manager)
        return self._models_for[1]

    def _requested_context(self, identifier: str) -> int | None:
        models = self.models
        return models.requested_context(identifier) if models is not None else None

    @property
    def status(self) -> ServerStatus:
        return self.monitor.status

    def server_controller(
        self, settings: SettingsService, *, before_stop: Callable[[], None] | None = None
    ) -> ServerController | None:
        """Start / stop / restart through `lms` (None: no `lms` for this profile)."""
        if self.runner is None:
            return None
        return ServerController(
            self.runner,
            settings,
            self.env.profile.id,
            home=self.env.home.path,
            http=self._http,
            before_stop=before_stop,
        )

    def start(self, *, interactive: bool) -> None:
        self.monitor.set_interactive(interactive)
        self.monitor.start()

    async def stop(self) -> None:
        await self.monitor.stop()
