"""The tray session's wiring: which service each menu section and window gets, and where
each status, file change and gesture goes. Nothing else lives here — the services are
built by `Workspace` and `ServerConnection`, the files watched by `WatchedFiles`, the
quick chat's world is `QuickChat`, every window opens through a `WindowSlot`.

Imported after the starting icon shows (tray/app.py), so its imports are ordinary ones.
Whether this is a demo is fixed for the life of the process: "Try the demo" starts a new
`--demo` process, so nothing of the demo (settings, autostart) leaks into the user's real
ones and back.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx
from pydantic import SecretStr
from PySide6.QtGui import QAction, QGuiApplication

from tray.core.api import ModelInfo
from tray.core.auth_prompt import AuthPromptGate
from tray.core.backends import Capabilities
from tray.core.errors import TrayError
from tray.core.mcp_config import McpDocument
from tray.core.notifications import NotificationRules
from tray.core.settings import Settings
from tray.core.status import ServerState, ServerStatus
from tray.core.tokens import StaticToken, TokenCheck
from tray.platform.single_instance import InstanceOwner
from tray.services.app_paths import AppPaths
from tray.services.connection import ServerConnection
from tray.services.demo import WANT_DEMO, DemoLmStudio
from tray.services.environment import Environment, discover
from tray.services.file_watch import FileChange, FileWatcher
from tray.services.gpu import GpuProbe, SimulatedGpuProbe, select_gpu_probe
from tray.services.lmstudio_client import LmStudioClient
from tray.services.model_manager import ModelManager
from tray.services.quick_chat import QuickChat
from tray.services.scene_runner import SceneRunner
from tray.services.server_controller import ServerController
from tray.services.settings_store import SettingsService, SettingsStore
from tray.services.status_monitor import StatusMonitor
from tray.services.stream_worker import StreamWorker
from tray.services.token_vault import TokenVault, check_token
from tray.services.watched_files import WatchedFiles
from tray.services.workspace import Workspace
from tray.ui.activity_section import ActivitySection
from tray.ui.app_windows import AppWindows
from tray.ui.clipboard import ClipboardGuard
from tray.ui.config_section import ConfigSection
from tray.ui.mcp_section import McpSection
from tray.ui.models_section import ModelsSection
from tray.ui.notifier import TrayNotifier
from tray.ui.profiles_section import ProfilesSection
from tray.ui.quick_chat_section import QuickChatSection
from tray.ui.scenes_section import ScenesSection
from tray.ui.server_section import ServerSection
from tray.ui.tasks import cancel_all, finalize_async_generators_on, set_error_reporter, spawn
from tray.ui.tokens_section import TokensSection
from tray.ui.tray_icon import TrayIcon

if TYPE_CHECKING:
    from tray.core.mcp_audit import AuditReport
    from tray.platform.autostart import Autostart
    from tray.ui.other_servers import OtherServersWatch

__all__ = ["TrayApp"]

log = logging.getLogger(__name__)


STATUS_WAIT_SECONDS = 30.0  # for the first status before the start-up actions


class MenuSection(Protocol):
    """One capability's group of menu items: inserted once, rendered on every status."""

    def actions(self) -> list[QAction]: ...

    def render(self, status: ServerStatus, caps: Capabilities) -> None: ...


class TrayApp:
    """Owns the long-lived objects of one tray session and connects them."""

    def __init__(self, args: argparse.Namespace, http: httpx.AsyncClient, tray: TrayIcon) -> None:
        self.args, self.http, self.tray = args, http, tray
        self.quit = asyncio.Event()
        self._first_status = asyncio.Event()  # set by the first status that knows the state
        self.instance: InstanceOwner | None = None  # this user's one tray (run_tray sets it)
        self.demo = DemoLmStudio() if args.demo else None
        demo = self.demo is not None
        # The demo keeps its own files (settings unless told otherwise): not the user's.
        paths = AppPaths.demo(self.demo.user_home) if self.demo else AppPaths.default()
        self.workspace = Workspace(paths, lms_env=self.demo.env if self.demo else None)
        self.history, self.load_profiles = self.workspace.history, self.workspace.load_profiles
        self.settings = SettingsService(SettingsStore(args.settings or paths.settings_file))
        self.env = self._discover()
        self.connection: ServerConnection | None = None
        self.other_servers: OtherServersWatch | None = None
        self.gpu: GpuProbe | None = None
        self._menu_open = False
        self.vault = TokenVault(memory_only=demo)  # the demo never touches the keyring
        self.auth_gate = AuthPromptGate()
        self.rules = NotificationRules(self.settings.settings.notifications)
        self.notifier = TrayNotifier(tray.tray, demo=demo)
        self.clipboard = ClipboardGuard(lambda: self.settings.settings.clipboard_clear_seconds)
        set_error_reporter(self._report_error)

        self.windows = self._build_windows(demo)
        # The menu, section by section.
        self._build_live_sections(demo)
        self._build_file_sections(demo)
        self.sections: tuple[MenuSection, ...] = (
            self.server_section,
            self.models_section,
            self.scenes_section,
            self.activity_section,
            self.quick_chat_section,
            self.config_section,
            self.mcp_section,
            self.tokens_section,
            self.profiles_section,
            *self._build_demo_section(),
        )
        for section in self.sections:
            tray.insert_section(section.actions())
        self.files = self._build_file_watch()
        self._connect_signals(tray)

    def _build_windows(self, demo: bool) -> AppWindows:
        return AppWindows(
            settings=self.settings,
            vault=self.vault,
            workspace=self.workspace,
            env=lambda: self.env,
            autostart=lambda: _autostart(self.demo),
            hotkeys=lambda: self.quick_chat_section.hotkeys,
            list_models=self._list_models,
            check_token=self.check_token,
            on_token_change=self.auth_gate.token_changed,
            scene_names=lambda: self.scenes_section.scene_names,
            on_scenes_changed=lambda: self.scenes_section.reload(),
            demo=demo,
        )

    def _build_live_sections(self, demo: bool) -> None:
        """What follows the server: Start/Stop, the models, quick chat."""
        self.server_section = ServerSection(
            self._server_controller, on_starting=self._starting, refresh=self._refresh, demo=demo
        )
        self.models_section = ModelsSection(
            lambda: self.models,
            refresh=self._refresh,
            list_downloaded=self._list_models,
            demo=demo,
            profiles=self.load_profiles,
            inform=self.notifier.show_message,
        )
        self.scenes_section = ScenesSection(
            self.workspace.scenes,
            self._scene_runner,
            notify=self.notifier.show_message,
            open_manager=lambda: self.windows.scenes.present(),
            refresh=self._refresh,
            demo=demo,
        )
        self.activity_section = ActivitySection(
            self.settings,
            runner=lambda: self.connection.runner if self.connection is not None else None,
            set_live=self.tray.set_activity,
            show_notice=lambda notice, on_click: self.notifier.show(notice, on_click=on_click),
            admit=self.rules.admit,
            open_profile=self.open_load_profile,
            notify=self.notifier.show_message,
            demo=demo,
        )
        # Answers stream on a thread of their own, off the Qt thread (issue 20).
        self.stream_worker = StreamWorker(
            lambda: httpx.AsyncClient(timeout=self.http.timeout, trust_env=self.http.trust_env)
        )
        self.quick_chat = QuickChat(
            worker=self.stream_worker,
            client=lambda: self.client,
            capabilities=lambda: self.env.capabilities,
            models=lambda: self.models,
            load_profiles=self.load_profiles,
            presets=lambda: self.workspace.presets(self.env),
            start_server=lambda: self.server_section.start.trigger(),
            open_tokens=lambda: self.open_tokens(self.env.profile.id),
        )
        self.quick_chat_section = QuickChatSection(
            self.quick_chat, self.settings, warn=self.notifier.warn, demo=demo
        )

    def _build_file_sections(self, demo: bool) -> None:
        """What edits files and secrets: presets and profiles, mcp.json, tokens, servers."""
        self.config_section = ConfigSection(
            open_presets=self.windows.presets.present,
            open_profiles=self.windows.profiles.present,
            open_history=self.windows.history.present,
            home_found=lambda: self.env.home.exists,
        )
        self.lockdown = self.workspace.lockdown(lambda: self.settings.settings.mcp.keep_locked)
        self.mcp_section = McpSection(
            self.lockdown,
            mcp_file=lambda: self.workspace.mcp_file(self.env),
            audit=self._audit_mcp,
            settings=self.settings,
            notify=self.notifier.show_message,
            demo=demo,
            pins_file=lambda: self.workspace.paths.mcp_pins_file,
        )
        self.tokens_section = TokensSection(
            self.vault,
            self.settings,
            open_dialog=lambda: self.open_tokens(None),
            base_url=lambda: self.env.server_url,
            clipboard=self.clipboard,
            notify=self.notifier.show_message,
        )
        self.tray.menu.aboutToShow.connect(self.tokens_section.menu_opening)
        self.profiles_section = ProfilesSection(
            self.settings,
            open_settings=self.windows.settings.present,
            report_error=self._report_error,
        )

    def _build_demo_section(self) -> list[MenuSection]:
        """The demo's "make something happen" submenu (the demo only)."""
        demo = self.demo
        if demo is None:
            return []
        from tray.ui.demo_section import DemoSection

        return [
            DemoSection(
                lambda method: demo.act(self.http, method),
                notify=self.notifier.show_message,
                copy_secret=self.clipboard.copy_secret,
            )
        ]

    def _build_file_watch(self) -> WatchedFiles:
        """Files kept in history and changed by others; the settings the CLI saves, live."""
        watcher = FileWatcher()
        self.settings.watch(watcher)
        return WatchedFiles(
            self.workspace,
            watcher,
            self.lockdown,
            on_recorded=self._file_recorded,
            on_preset_changed=self._preset_file_changed,
            on_drift=self.mcp_section.on_drift,
        )

    def _connect_signals(self, tray: TrayIcon) -> None:
        """Settings, Quit, the demo, and looking more often while the user looks."""
        self._connection_settings = _connection_key(self.settings.settings)
        self.settings.subscribe(self._settings_changed)
        tray.quit_requested.connect(lambda: spawn(self._quit_when_settled(), doing="Quitting"))
        tray.demo_requested.connect(self._restart_as_demo)
        # The user looks while the menu is open or one of our windows has the focus: a
        # window getting the focus asks for a look at once; each wait re-checks.
        tray.menu_about_to_show.connect(lambda: self._interactive(True))
        tray.menu_about_to_hide.connect(lambda: self._interactive(False))
        QGuiApplication.instance().focusWindowChanged.connect(  # type: ignore[union-attr]
            lambda window: self._refresh() if window is not None else None
        )

    # --- what tests and sections look at ------------------------------------------------

    @property
    def monitor(self) -> StatusMonitor | None:
        return self.connection.monitor if self.connection is not None else None

    @property
    def client(self) -> LmStudioClient | None:
        return self.connection.client if self.connection is not None else None

    @property
    def models(self) -> ModelManager | None:
        return self.connection.models if self.connection is not None else None

    # --- the session --------------------------------------------------------------------

    async def run(self) -> None:
        finalize_async_generators_on(asyncio.get_running_loop())
        try:
            if self.demo is not None:
                await self.demo.start(self.http)
                self.settings.update(self.demo.add_servers)
                self.env = self._discover()
            # Once: NVML's start-up blocks; reading afterwards is cheap (in a thread per poll).
            self.gpu = (
                SimulatedGpuProbe(self.demo.gpu_root)
                if self.demo is not None and self.demo.gpu_root is not None
                else await asyncio.to_thread(select_gpu_probe)
            )
            self._connect()
            self._watch_other_servers(self.settings.settings)
            self.tray.show()
            self.scenes_section.reload()
            spawn(self._on_start(), doing="Getting ready as the settings say")
            self.quick_chat_section.start()
            await self._watch_files()
            await self.quit.wait()
        finally:
            await cancel_all()
            await self.activity_section.stop()
            await self.quick_chat_section.stop()
            await self.files.stop()
            if self.connection is not None:
                await self.connection.stop()
            if self.other_servers is not None:
                await self.other_servers.stop()
            await self.stream_worker.close()
            await self.http.aclose()
            self.workspace.history.close()
            if self.demo is not None:
                await self.demo.stop()
            self._release_instance()

    async def _on_start(self) -> None:
        """Settings › General › When the tray starts: start the server, apply a scene."""
        wanted = self.settings.settings.on_start
        monitor = self.monitor
        if monitor is None or not (wanted.start_server or wanted.scene):
            return
        try:  # the first status: is the server up already?
            await asyncio.wait_for(self._first_status.wait(), STATUS_WAIT_SECONDS)
        except TimeoutError:
            log.warning("no status after %s s: the start-up actions go ahead", STATUS_WAIT_SECONDS)
        controller = self._server_controller()
        if wanted.start_server and controller is not None and not monitor.status.state.is_up:
            self._starting()
            try:
                await controller.start(None)
            except TrayError as exc:
                self._report_error("The server did not start", exc.message)
        if wanted.scene is not None:
            await self.scenes_section.read()
            await self.scenes_section.apply(wanted.scene)

    def _discover(self, profile: str | None = None) -> Environment:
        """The environment of `profile` (default: the active one, or --profile)."""
        settings = self.settings.settings
        if self.demo is not None:
            # The demo's LM Studio stands in for this machine's; a server saved with an
            # address of its own (the demo's Ollama) is itself.
            local = settings.find_profile(profile).base_url is None
            return discover(
                settings,
                server=self.demo.base_url if local else None,
                home=self.demo.home,
                lms=self.demo.lms_path,
                profile=profile,
            )
        a = self.args
        return discover(
            settings, server=a.server, home=a.home, lms=a.lms, profile=profile or a.profile
        )

    def _connect(self) -> None:
        """Watch the server the settings (or --demo) name, with everything that needs it."""
        gpu = self.gpu.read if self.gpu is not None else None
        self.connection = ServerConnection(
            self.workspace,
            self.env,
            self.http,
            vault=self.vault,
            polling=self.settings.settings.polling,
            on_update=self._render,
            gpu=gpu,
            looking=_window_has_focus,
            on_user_unload=self.rules.expect_unload,
            demo=self.demo is not None,
        )
        self._render(self.connection.status)
        self.connection.start(interactive=self._menu_open)
        spawn(self.quick_chat.refresh_downloaded(), doing="Listing downloaded models")

    async def _reconnect(self) -> None:
        """Settings changed (active profile, polling…): watch what they now say."""
        if self.connection is not None:
            await self.connection.stop()
        self.env = self._discover()
        self._connect()
        if self.files.home is not None and self.env.home.path != self.files.home:
            await self._watch_files()

    def _settings_changed(self, settings: Settings) -> None:
        """Every section reads the settings it needs when it needs them; the connection
        (server, LM Studio's home, `lms`, polling) is rebuilt only when one of its own
        settings changed — not for a notification switch or the live-activity toggle."""
        self.rules.settings = settings.notifications
        self._watch_other_servers(settings)
        key = _connection_key(settings)
        if key == self._connection_settings:
            return
        self._connection_settings = key
        if self.connection is None:
            return  # not connected yet: the first connection reads the settings as they are
        spawn(self._reconnect(), doing="Applying the new settings")

    def _watch_other_servers(self, settings: Settings) -> None:
        """Once a second server is saved, watch the ones not in use (slowly), for their
        states in the Server submenu and their notices; a lone server costs nothing."""
        if self.other_servers is not None or len(settings.profiles) < 2:
            return
        from tray.ui.other_servers import OtherServersWatch

        self.other_servers = OtherServersWatch(
            self.http,
            self.vault,
            self.settings,
            self.profiles_section,
            discover=self._discover,
            notify=self.notifier.show,
        )
        self.tray.menu.aboutToShow.connect(self.other_servers.menu_opening)
        self.other_servers.start()

    def _render(self, status: ServerStatus) -> None:
        if status.state is not ServerState.UNKNOWN:
            self._first_status.set()
        if self.connection is not None:  # what the server turned out to be, once it said
            self.env = self.connection.env
        caps = self.env.capabilities
        self.tray.render(status, lmstudio_found=self.env.lmstudio_found or self.demo is not None)
        for section in self.sections:
            section.render(status, caps)
        self.quick_chat.set_status(status)
        for notice in self.rules.observe(status):
            self.notifier.show(notice)
        if self.auth_gate.should_prompt(status):
            self.open_tokens(self.env.profile.id, reason=status.error)
        demo = " [demo]" if status.demo else ""
        log.info("status: %s %s (%d loaded)%s", status.state.value, status.url,
                 len(status.loaded), demo)  # fmt: skip

    # --- gestures -----------------------------------------------------------------------

    def _interactive(self, on: bool) -> None:
        self._menu_open = on
        if self.monitor is not None:
            self.monitor.set_interactive(on)

    def _starting(self) -> None:
        if self.monitor is not None:
            self.monitor.set_starting()

    def _refresh(self) -> None:
        if self.monitor is not None:
            self.monitor.refresh_now()

    def _scene_runner(self) -> SceneRunner | None:
        connection, gpu = self.connection, self.gpu
        if connection is None or connection.models is None:
            return None
        controller = self._server_controller()

        async def start_server() -> None:
            if controller is not None:
                self._starting()
                await controller.start(None)

        return self.workspace.scene_runner(
            self.env,
            connection.models,
            connection.runner,
            gpu_probe=gpu.read if gpu is not None else None,
            start_server=start_server,
        )

    def _server_controller(self) -> ServerController | None:
        if self.connection is None:
            return None
        return self.connection.server_controller(self.settings, before_stop=self.rules.expect_stop)

    async def _list_models(self) -> list[ModelInfo]:
        if self.client is None:
            raise TrayError("The tray is not connected to a server yet; try again.")
        return await self.client.list_models()

    def open_load_profile(self, model_key: str) -> None:
        """The Load profiles window on `model_key`'s profile (a context-full notice)."""
        dialog = self.windows.profiles.get()
        dialog.present()

        async def select() -> None:
            await dialog.refresh()
            dialog.select(model_key)

        spawn(select(), doing="Opening the load profile")

    def open_tokens(self, profile_id: str | None, reason: str | None = None) -> None:
        self.windows.open_tokens(profile_id, reason)

    async def check_token(self, profile_id: str, token: SecretStr) -> TokenCheck:
        """Try `token` against the server of `profile_id` (one authenticated request)."""
        if profile_id == self.env.profile.id:
            url = self.env.server_url
        else:
            url = discover(self.settings.settings, profile=profile_id).server_url
        return await check_token(LmStudioClient(self.http, url, token_provider=StaticToken(token)))

    async def _audit_mcp(self, path: Path) -> tuple[AuditReport, McpDocument | None]:
        from tray.services.mcp_audit import audit_file  # the audit's rules: when asked for

        status = self.monitor.status if self.monitor is not None else None
        auth = status.auth_required if status is not None else None
        return await audit_file(
            path,
            lmstudio_home=self.env.home.path,
            server_auth=auth,
            data_dir=self.workspace.paths.data_dir,
        )

    def _report_error(self, title: str, message: str) -> None:
        log.warning("%s: %s", title, message)
        self.notifier.show_error(title, message)

    # --- files: history, outside changes, presets, mcp.json -----------------------------

    async def _watch_files(self) -> None:
        try:
            await self.files.watch(self.env.home.path)
        except TrayError as exc:  # the tray works without; say why history is missing
            self._report_error(exc.title, exc.message)
            return
        spawn(self.files.catch_up(), doing="Recording changes made while the tray was off")
        spawn(self.mcp_section.check_now(), doing="Checking mcp.json")
        spawn(self.quick_chat.refresh_presets(), doing="Reading the presets")

    def _preset_file_changed(self, change: FileChange) -> None:
        if (presets := self.windows.presets.window) is not None:
            presets.file_changed(change.path)
        spawn(self.quick_chat.refresh_presets(), doing="Reading the presets")

    def _file_recorded(self, path: Path) -> None:
        if (history := self.windows.history.window) is not None and history.isVisible():
            history.refresh()

    async def _quit_when_settled(self) -> None:
        """Quit from the menu: not over unsaved edits in an open window (it asks first)."""
        if await self.windows.settle_all():
            self.quit.set()

    # --- one tray per user, and the demo ------------------------------------------------

    def second_start(self, request: dict[str, object]) -> dict[str, object]:
        """Another `lmstudio-tray` was started: show where this one is, and tell it; or a
        command run with --demo asks where this demo is (nothing is shown for that)."""
        if request.get("want") == WANT_DEMO:
            place = self.demo.place().model_dump(mode="json") if self.demo else None
            return {"demo": self.demo is not None, "place": place}
        shown = self.tray.present()
        log.info("another start handed over to this tray: shown its %s", shown)
        return {"demo": self.demo is not None, "shown": shown, "said": self.tray.headline}

    def _release_instance(self) -> None:
        if self.instance is not None:
            self.instance.close()
            self.instance = None

    def _restart_as_demo(self) -> None:
        """Start the demo as its own process and leave: no state crosses over."""
        self._release_instance()  # the demo is this user's tray from now on
        subprocess.Popen(
            [sys.executable, "-m", "tray", "--demo", "--log-level", self.args.log_level],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
        self.quit.set()


def _autostart(demo: DemoLmStudio | None) -> Autostart:
    """The OS's start-at-login entry; in the demo, one inside the throw-away home. (Asked
    for when the Settings window opens: nothing of it is imported before.)"""
    from tray.platform.autostart import LaunchAgentAutostart, XdgAutostart, select_autostart

    if demo is None:
        return select_autostart()
    if sys.platform.startswith("linux"):
        return XdgAutostart(config_home=demo.user_home / ".config")
    return LaunchAgentAutostart(home=demo.user_home)


def _connection_key(settings: Settings) -> object:
    """What the connection is built from: a change elsewhere leaves it alone."""
    return settings.model_dump(
        mode="json", include={"profiles", "active_profile", "home", "lms_path", "polling"}
    )


def _window_has_focus() -> bool:
    window = QGuiApplication.focusWindow()
    return window is not None and window.isVisible()
