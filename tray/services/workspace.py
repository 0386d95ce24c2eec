"""The one place that builds the services a command and the tray share, so that a command
and a menu item do the same thing by construction: the file history, our load profiles,
LM Studio's presets and `mcp.json` lockdown, the `lms` runner and the model manager (with
its never-load-twice guard), the scenes and what applies them.

A `Workspace` is built once per process over the app's folders (`AppPaths`: the user's,
or the demo's); what depends on the server profile takes the `Environment` it works for.
Constructing it does no I/O: the history opens its repository on first use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from tray.core.backends import BackendKind
from tray.core.gpu import GpuReport
from tray.services.app_paths import AppPaths
from tray.services.environment import Environment
from tray.services.history import FileHistory
from tray.services.lms_runner import LmsRunner
from tray.services.lmstudio_client import LmStudioClient
from tray.services.lmstudio_home import mcp_file, presets_dir
from tray.services.load_profile_store import LoadProfileStore
from tray.services.mcp_lockdown import McpLockdown
from tray.services.model_defaults import LmStudioDefaults
from tray.services.model_manager import ModelManager
from tray.services.preset_store import PresetStore
from tray.services.scene_runner import SceneRunner
from tray.services.scene_store import SceneStore

__all__ = ["Workspace"]


class Workspace:
    """The app's services over one set of folders. `lms_env` is the environment `lms` runs
    in (the demo's points HOME at its simulated LM Studio; None: this process's)."""

    def __init__(self, paths: AppPaths, *, lms_env: Mapping[str, str] | None = None) -> None:
        self.paths = paths
        self._lms_env = dict(lms_env) if lms_env is not None else None
        self.history = FileHistory(paths.history_dir)
        self.load_profiles = LoadProfileStore(paths.load_profiles_dir, self.history)
        self.scenes = SceneStore(paths.scenes_file, self.history)

    # --- LM Studio's files ------------------------------------------------------------------

    def presets(self, env: Environment) -> PresetStore:
        """LM Studio's config presets of `env`'s home, with our history."""
        return PresetStore(presets_dir(env.home.path), self.history)

    @staticmethod
    def mcp_file(env: Environment) -> Path:
        return mcp_file(env.home.path)

    def lockdown(self, keep_locked: Callable[[], bool] | None = None) -> McpLockdown:
        """`mcp.json` lockdown over our history and state folder (its lock record)."""
        return McpLockdown(
            history=self.history, state_dir=self.paths.state_dir, keep_locked=keep_locked
        )

    # --- lms and models ---------------------------------------------------------------------

    def runner(self, env: Environment, *, timeout: float = 30.0) -> LmsRunner | None:
        """`lms` as found for `env` (None: not found). Whether the profile may use it for
        loading and server control is `env.capabilities.lms`."""
        if env.lms_path is None:
            return None
        return LmsRunner(env.lms_path, env=self._lms_env, timeout=timeout)

    def model_manager(
        self,
        env: Environment,
        client: LmStudioClient,
        runner: LmsRunner | None,
        *,
        on_user_unload: Callable[[str], None] | None = None,
        gpu_probe: Callable[[], GpuReport] | None = None,
    ) -> ModelManager | None:
        """What loads, ejects and restores on `env`'s server (None: it cannot, e.g. an
        OpenAI-compatible one). `runner` is used only where the profile may use `lms`."""
        caps = env.capabilities
        if not caps.load_unload:
            return None
        if env.identity is not None and env.identity.kind is not BackendKind.LMSTUDIO:
            # Another kind's own API loads and ejects (Ollama's keep_alive).
            from tray.services.backend_models import BackendModels
            from tray.services.backends import backend_for

            backend = backend_for(env.identity, client)
            assert backend is not None

            return BackendModels(
                backend,
                state_dir=self.paths.state_dir,
                profile_id=env.profile.id,
                on_user_unload=on_user_unload,
            )
        home = env.home
        return ModelManager(
            client,
            runner if caps.lms else None,
            state_dir=self.paths.state_dir,
            profile_id=env.profile.id,
            on_user_unload=on_user_unload,
            gpu_probe=gpu_probe,
            defaults=LmStudioDefaults(home.path, self.history) if home.exists else None,
        )

    def scene_runner(
        self,
        env: Environment,
        manager: ModelManager,
        runner: LmsRunner | None,
        *,
        gpu_probe: Callable[[], GpuReport] | None = None,
        start_server: Callable[[], Awaitable[None]] | None = None,
    ) -> SceneRunner:
        """What applies scenes on `env`'s server, through `manager` (its guard)."""
        return SceneRunner(
            manager,
            self.load_profiles,
            runner if env.capabilities.lms else None,
            gpu_probe=gpu_probe,
            start_server=start_server,
        )
