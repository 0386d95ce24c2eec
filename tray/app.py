"""Composition root: the only place that wires services, views and the event loop together.

`lmstudio-tray` with a command runs the CLI (no Qt is imported); without one it starts the
tray: one qasync loop drives Qt and all I/O (DESIGN.md §2). `--demo` starts the bundled
LM Studio simulator in a throwaway home and points everything at it.

Start-up order is a budget (DESIGN.md §5, docs/benchmarks.md): the tray's own options are
parsed without importing any command, the "starting" icon is shown with Qt alone, and only
then are httpx, pydantic, keyring and the rest imported and the app built.
"""

from __future__ import annotations

# Only what `main` and the icon need is imported here (asyncio, subprocess, socket and
# json are imported where used, after the icon shows: see run_tray).
import argparse
import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tray import APP_NAME
from tray.cli import refuse_bad_options, tray_arguments

if TYPE_CHECKING:
    import asyncio

    import httpx
    from pydantic import SecretStr

    from tray.core.api import ModelInfo
    from tray.core.hotkeys import RegisterResult
    from tray.core.mcp_audit import AuditReport
    from tray.core.mcp_config import McpDocument
    from tray.core.settings import Settings
    from tray.core.status import ServerStatus
    from tray.core.tokens import TokenCheck
    from tray.platform.autostart import Autostart
    from tray.platform.hotkeys import HotkeyManager
    from tray.platform.single_instance import InstanceOwner
    from tray.services.environment import Environment
    from tray.services.file_watch import FileChange
    from tray.services.gpu import GpuProbe
    from tray.services.lms_runner import LmsRunner
    from tray.services.lmstudio_client import LmStudioClient
    from tray.services.load_profile_store import LoadProfileStore
    from tray.services.model_manager import ModelManager
    from tray.services.preset_store import PresetStore
    from tray.services.server_controller import ServerController
    from tray.services.status_monitor import StatusMonitor
    from tray.services.token_vault import TokenVault
    from tray.ui.history_window import HistoryWindow
    from tray.ui.load_profiles_dialog import LoadProfilesDialog
    from tray.ui.models_section import ModelsSection
    from tray.ui.preset_dialog import PresetDialog
    from tray.ui.quick_chat_window import QuickChatWindow
    from tray.ui.settings_dialog import SettingsDialog
    from tray.ui.tokens_dialog import TokensDialog
    from tray.ui.tray_icon import TrayIcon

__all__ = ["DemoLmStudio", "main"]

log = logging.getLogger(__name__)

DEMO_MODEL = "qwen/qwen3-4b"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--self-test" in argv:  # checks the installation itself, before any start-up work
        from tray.selftest import main as self_test

        return self_test(argv)
    args = tray_arguments(argv)  # cheap: just the tray's options
    if args is None:  # a command, --help, --version or a usage error: the full CLI
        from tray.cli import build_parser, run

        args = build_parser().parse_args(argv)
        if args.subcommand is not None:
            return run(args)
    refuse_bad_options(args)  # a bad --server or --profile: exit with a sentence, show nothing
    return run_tray(args)


# --- the demo: a simulated LM Studio in a throwaway home ----------------------------------


class DemoLmStudio:
    """The bundled simulator as a child process, with its own fake user home.

    Layout: `<tmp>/` plays the user's home and `<tmp>/.lmstudio` LM Studio's home, so the
    fake `lms` (which, like the real one, looks under $HOME) finds the simulated daemon.
    """

    def __init__(self) -> None:
        self.user_home = Path(tempfile.mkdtemp(prefix="lmstudio-tray-demo-"))
        self.home = self.user_home / ".lmstudio"
        self.base_url = ""
        self.lms_path: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        import asyncio
        import json

        from tray.simulator import install_fake_lms

        self.home.mkdir(parents=True)
        self.lms_path = install_fake_lms(self.home)
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tray.simulator",
            "serve",
            "--home",
            str(self.home),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "HOME": str(self.user_home)},
        )
        assert self._proc.stdout is not None
        line = await asyncio.wait_for(self._proc.stdout.readline(), timeout=20)
        if not line:
            raise RuntimeError("the LM Studio simulator did not start (see the log above)")
        self.base_url = json.loads(line)["base_url"]
        log.info("demo: simulated LM Studio at %s (home %s)", self.base_url, self.home)

    @property
    def env(self) -> dict[str, str]:
        """Environment for running the demo's `lms`."""
        return {**os.environ, "HOME": str(self.user_home)}

    async def stop(self) -> None:
        import asyncio

        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()  # SIGTERM; TerminateProcess on Windows
            try:
                await asyncio.wait_for(self._proc.wait(), timeout=5)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        shutil.rmtree(self.user_home, ignore_errors=True)


# --- the tray app ------------------------------------------------------------------------


class TrayApp:
    """Owns the long-lived objects of one tray session and connects their signals.

    Whether this is a demo is fixed for the life of the process: "Try the demo" starts a
    new `--demo` process, so nothing of the demo (settings, autostart) leaks into the
    user's real ones and back.
    """

    def __init__(self, args: argparse.Namespace, http: httpx.AsyncClient, tray: TrayIcon) -> None:
        import asyncio

        from PySide6.QtGui import QGuiApplication

        from tray.core.auth_prompt import AuthPromptGate
        from tray.core.notifications import NotificationRules
        from tray.services.app_paths import AppPaths
        from tray.services.file_watch import FileWatcher
        from tray.services.history import FileHistory
        from tray.services.history_recorder import OutsideChangeRecorder
        from tray.services.mcp_lockdown import McpLockdown
        from tray.services.quick_chat import QuickChat
        from tray.services.settings_store import SettingsService, SettingsStore
        from tray.ui.clipboard import ClipboardGuard
        from tray.ui.config_section import ConfigSection
        from tray.ui.mcp_section import McpSection
        from tray.ui.notifier import TrayNotifier
        from tray.ui.profiles_section import ProfilesSection
        from tray.ui.quick_chat_section import QuickChatSection
        from tray.ui.server_section import ServerSection
        from tray.ui.tasks import set_error_reporter, spawn
        from tray.ui.tokens_section import TokensSection

        self.args = args
        self.http = http
        self.tray = tray
        self.quit = asyncio.Event()
        self._menu_open = False
        self.demo = DemoLmStudio() if args.demo else None
        demo = self.demo is not None
        # The demo keeps its own files (settings unless told otherwise): not the user's.
        self.paths = AppPaths.demo(self.demo.user_home) if self.demo else AppPaths.default()
        self.settings = SettingsService(SettingsStore(args.settings or self.paths.settings_file))
        self.monitor: StatusMonitor | None = None
        self.client: LmStudioClient | None = None
        self.models: ModelManager | None = None
        self.gpu: GpuProbe | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.env = self._discover()
        # Files we keep a history of, and who else changes them.
        self.history = FileHistory(self.paths.history_dir)
        self.rules = NotificationRules(self.settings.settings.notifications)
        self.notifier = TrayNotifier(tray.tray, demo=demo)
        set_error_reporter(self._report_error)

        self.server_section = ServerSection(
            self._server_controller,
            on_starting=self._starting,
            refresh=self._refresh,
            demo=demo,
        )
        self.load_profiles = _load_profile_store(self)
        self.load_profiles_dialog: LoadProfilesDialog | None = None
        self.models_section = _models_section(self, demo=demo)
        self.vault = _vault(demo=demo)
        self.auth_gate = AuthPromptGate()
        self.tokens_dialog: TokensDialog | None = None
        self.clipboard = ClipboardGuard(lambda: self.settings.settings.clipboard_clear_seconds)
        self.tokens_section = TokensSection(
            self.vault,
            self.settings,
            open_dialog=lambda: self._open_tokens(None),
            base_url=lambda: self.env.server_url,
            clipboard=self.clipboard,
            notify=self.notifier.show_message,
        )
        self.profiles_section = ProfilesSection(
            self.settings, open_settings=self._open_settings, report_error=self._report_error
        )

        self.watcher = FileWatcher()
        self.settings.watch(self.watcher)  # changes the CLI (or an editor) saves, taken live
        self.recorder = OutsideChangeRecorder(
            self.history, self.watcher, on_recorded=self._file_recorded
        )
        self._watched_home: Path | None = None
        self._unwatch_presets: Callable[[], None] | None = None
        self.presets_dialog: PresetDialog | None = None
        self._preset_folder_of_dialog: Path | None = None
        self.history_window: HistoryWindow | None = None
        self.config_section = ConfigSection(
            open_presets=self._open_presets,
            open_profiles=self._open_profiles,
            open_history=self._open_history,
            home_found=lambda: self.env.home.exists,
        )
        self.lockdown = McpLockdown(
            history=self.history,
            state_dir=self.paths.state_dir,
            keep_locked=lambda: self.settings.settings.mcp.keep_locked,
        )
        self.mcp_section = McpSection(
            self.lockdown,
            mcp_file=self._mcp_file,
            audit=self._audit_mcp,
            settings=self.settings,
            notify=self.notifier.show_message,
            demo=demo,
        )

        # Quick chat: the popup is built once the icon shows; the hotkey opens it.
        self.quick_chat = QuickChat(
            client=lambda: self.client,
            capabilities=lambda: self.env.capabilities,
            models=lambda: self.models,
            load_profiles=self.load_profiles,
            presets=self._preset_store,
            start_server=lambda: self.server_section.start.trigger(),
            open_tokens=lambda: self._open_tokens(self.env.profile.id),
        )
        self.chat_window: QuickChatWindow | None = None
        self.hotkeys: HotkeyManager | None = None
        self._hotkey_told: tuple[str, str] | None = None
        self.quick_chat_section = QuickChatSection(self._open_quick_chat)

        self.sections = (
            self.server_section,
            self.models_section,
            self.quick_chat_section,
            self.config_section,
            self.mcp_section,
            self.tokens_section,
            self.profiles_section,
        )
        for section in self.sections:
            tray.insert_section(section.actions())

        self.settings.subscribe(self._settings_changed)
        tray.quit_requested.connect(self.quit.set)
        # The user looks while the menu is open or one of our windows has the focus: a
        # window getting the focus asks for a look at once; each wait re-checks.
        tray.menu_about_to_show.connect(lambda: self._interactive(True))
        tray.menu_about_to_hide.connect(lambda: self._interactive(False))
        QGuiApplication.instance().focusWindowChanged.connect(  # type: ignore[union-attr]
            lambda window: self._refresh() if window is not None else None
        )
        tray.demo_requested.connect(self._restart_as_demo)
        self._spawn = spawn
        self.instance: InstanceOwner | None = None  # this user's one tray (run_tray sets it)

    async def run(self) -> None:
        import asyncio

        from tray.core.errors import TrayError
        from tray.services.gpu import select_gpu_probe
        from tray.ui.tasks import finalize_async_generators_on

        finalize_async_generators_on(asyncio.get_running_loop())
        try:
            if self.demo is not None:
                await self._start_demo()
            # Once: NVML's start-up blocks; reading afterwards is cheap (in a thread per poll).
            self.gpu = await asyncio.to_thread(select_gpu_probe)
            self._connect()
            self.tray.show()
            self._build_quick_chat()
            self._start_hotkeys()
            try:
                await self._watch_files()
            except TrayError as exc:  # the tray works without; say why history is missing
                self._report_error(exc.title, exc.message)
            await self.quit.wait()
        finally:
            from tray.ui.tasks import cancel_all

            await cancel_all()
            if self.hotkeys is not None:
                self.hotkeys.stop()
                await self.hotkeys.wait_closed()
            await self.lockdown.stop_watching()
            await self.watcher.stop()
            if self.monitor is not None:
                await self.monitor.stop()
            await self.http.aclose()
            if self.demo is not None:
                await self.demo.stop()
            self._release_instance()

    # --- wiring ------------------------------------------------------------------------

    def _discover(self) -> Environment:
        from tray.services.environment import discover

        settings = self.settings.settings
        if self.demo is not None:
            return discover(
                settings, server=self.demo.base_url, home=self.demo.home, lms=self.demo.lms_path
            )
        return discover(
            settings,
            server=self.args.server,
            home=self.args.home,
            lms=self.args.lms,
            profile=self.args.profile,
        )

    def _runner(self) -> LmsRunner | None:
        from tray.services.lms_runner import LmsRunner

        if self.env.lms_path is None or not self.env.capabilities.lms:
            return None
        return LmsRunner(self.env.lms_path, env=self.demo.env if self.demo else None)

    def _server_controller(self) -> ServerController | None:
        from tray.services.server_controller import ServerController

        runner = self._runner()
        if runner is None:
            return None
        return ServerController(
            runner,
            self.settings,
            self.env.profile.id,
            home=self.env.home.path,
            http=self.http,
            before_stop=self.rules.expect_stop,
        )

    def _connect(self) -> None:
        """Watch the server the settings (or --demo) name, with everything that needs it."""
        from tray.core.status import PollPolicy
        from tray.core.tokens import FirstToken, NoToken, WhenAsked
        from tray.services.environment import token_from_environment
        from tray.services.lmstudio_client import LmStudioClient
        from tray.services.lmstudio_home import current_server_config
        from tray.services.model_defaults import LmStudioDefaults
        from tray.services.model_manager import ModelManager
        from tray.services.status_monitor import StatusMonitor

        # The tray's own home for tokens (the keyring) first, then LM_API_TOKEN; only once
        # the server asks for a token (the keyring may hang on an unlock prompt).
        token = WhenAsked(
            FirstToken(self.vault.provider(self.env.profile.id), token_from_environment())
        )
        env, polling = self.env, self.settings.settings.polling
        url = env.server_url
        client = self.client = LmStudioClient(self.http, url, token_provider=token)
        runner = self._runner()
        self.models = (
            ModelManager(
                client,
                runner,
                state_dir=self.paths.state_dir,
                profile_id=env.profile.id,
                on_user_unload=self.rules.expect_unload,
                gpu_probe=self.gpu.read if self.gpu is not None else None,
                defaults=(
                    LmStudioDefaults(env.home.path, self.history) if env.home.exists else None
                ),
            )
            if env.capabilities.load_unload
            else None
        )
        self.monitor = StatusMonitor(
            client,
            url=url,
            anonymous=LmStudioClient(self.http, url, token_provider=NoToken()),
            has_token=token,
            kind=env.profile.kind,
            profile_name=env.profile.name,
            ps_source=runner.ps if runner is not None else None,
            gpu_source=self.gpu.read if self.gpu is not None else None,
            server_config=lambda: current_server_config(env.home.path),
            requested_context=self.models.requested_context if self.models else None,
            looking=_window_has_focus,
            policy=PollPolicy(
                interactive=polling.interactive_seconds,
                idle=polling.idle_seconds,
                down_max=polling.down_max_seconds,
            ),
            on_update=self._render,
            demo=self.demo is not None,
        )
        self.monitor.set_interactive(self._menu_open)
        self._render(self.monitor.status)
        self.monitor.start()
        self._spawn(self.quick_chat.refresh_downloaded(), doing="Listing downloaded models")

    async def _reconnect(self) -> None:
        """Settings changed (active profile, polling…): watch what they now say."""
        if self.monitor is not None:
            await self.monitor.stop()
        self.env = self._discover()
        self._connect()
        if self.env.home.path != self._watched_home and self._watched_home is not None:
            await self._watch_files()

    def _settings_changed(self, settings: Settings) -> None:
        self.rules.settings = settings.notifications
        self._spawn(self._reconnect(), doing="Applying the new settings")

    def _render(self, status: ServerStatus) -> None:
        caps = self.env.capabilities
        self.tray.render(status, lmstudio_found=self.env.lmstudio_found or self.demo is not None)
        for section in self.sections:
            section.render(status, caps)
        self.quick_chat.set_status(status)
        for notice in self.rules.observe(status):
            self.notifier.show(notice)
        if self.auth_gate.should_prompt(status):
            self._open_tokens(self.env.profile.id, reason=status.error)
        log.info(
            "status: %s %s (%d loaded)%s",
            status.state.value,
            status.url,
            len(status.loaded),
            " [demo]" if status.demo else "",
        )

    # --- gestures ----------------------------------------------------------------------

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

    def _open_settings(self) -> None:
        from tray.ui.settings_dialog import SettingsDialog

        if self.settings_dialog is None:
            self.settings_dialog = SettingsDialog(
                self.settings,
                _autostart(self.demo),
                demo=self.demo is not None,
                open_tokens=self._open_tokens,
                hotkeys=self.hotkeys,
            )
        self.settings_dialog.present()

    def _open_tokens(self, profile_id: str | None, reason: str | None = None) -> None:
        from tray.ui.tokens_dialog import TokensDialog

        if self.tokens_dialog is None:
            self.tokens_dialog = TokensDialog(
                self.vault,
                self.settings,
                check=self._check_token,
                demo=self.demo is not None,
                on_change=lambda _profile: self.auth_gate.token_changed(),
            )
        self.tokens_dialog.present(profile_id, reason)

    async def _check_token(self, profile_id: str, token: SecretStr) -> TokenCheck:
        """Try `token` against the server of `profile_id` (one authenticated request)."""
        from tray.core.tokens import StaticToken
        from tray.services.lmstudio_client import LmStudioClient
        from tray.services.token_vault import check_token

        url = self.env.server_url if profile_id == self.env.profile.id else None
        if url is None:
            from tray.services.environment import discover

            url = discover(self.settings.settings, profile=profile_id).server_url
        return await check_token(LmStudioClient(self.http, url, token_provider=StaticToken(token)))

    # --- files: history, outside changes, presets, mcp.json -----------------------------

    def _mcp_file(self) -> Path:
        return self.env.home.path / "mcp.json"

    def _presets_folder(self) -> Path:
        return self.env.home.path / "config-presets"

    async def _audit_mcp(self, path: Path) -> tuple[AuditReport, McpDocument | None]:
        from tray.services.mcp_audit import audit_file

        status = self.monitor.status if self.monitor is not None else None
        return await audit_file(
            path,
            lmstudio_home=self.env.home.path,
            server_auth=status.auth_required if status is not None else None,
        )

    async def _watch_files(self) -> None:
        """Keep the history of LM Studio's presets and mcp.json (and the per-model default
        files we touched), and hear about changes made behind our back."""
        import asyncio

        home = self.env.home.path
        self.recorder.untrack_all()
        if self._unwatch_presets is not None:
            self._unwatch_presets()
        self._watched_home = home
        self.recorder.track_folder(self._presets_folder(), ".preset.json")
        self.recorder.track(self._mcp_file())
        self.recorder.track_folder(self.load_profiles.folder, ".json")
        for tracked in await asyncio.to_thread(self.history.tracked):
            if _is_within(tracked.path, home / ".internal") and not tracked.deleted:
                self.recorder.track(tracked.path)
        self._unwatch_presets = self.watcher.watch_folder(
            self._presets_folder(), self._preset_file_changed, suffix=".preset.json"
        )
        await self.watcher.start()
        await self.lockdown.watch(self._mcp_file(), self.mcp_section.on_drift, watcher=self.watcher)
        self._spawn(self.recorder.catch_up(), doing="Recording changes made while the tray was off")
        self._spawn(self.mcp_section.check_now(), doing="Checking mcp.json")
        self._spawn(self.quick_chat.refresh_presets(), doing="Reading the presets")

    def _preset_file_changed(self, change: FileChange) -> None:
        if self.presets_dialog is not None:
            self.presets_dialog.file_changed(change.path)
        self._spawn(self.quick_chat.refresh_presets(), doing="Reading the presets")

    def _file_recorded(self, path: Path) -> None:
        if self.history_window is not None and self.history_window.isVisible():
            self.history_window.refresh()

    def _preset_store(self) -> PresetStore:
        from tray.services.preset_store import PresetStore

        return PresetStore(self._presets_folder(), self.history)

    def _open_presets(self) -> None:
        from tray.ui.preset_dialog import PresetDialog

        if self.presets_dialog is None or self._preset_folder_of_dialog != self._presets_folder():
            if self.presets_dialog is not None:
                self.presets_dialog.deleteLater()
            self.presets_dialog = PresetDialog(self._preset_store(), demo=self.demo is not None)
            self._preset_folder_of_dialog = self._presets_folder()
        self.presets_dialog.present()

    def _open_profiles(self) -> None:
        from tray.ui.load_profiles_dialog import LoadProfilesDialog

        async def list_models() -> list[ModelInfo]:
            assert self.client is not None
            return await self.client.list_models()

        if self.load_profiles_dialog is None:
            self.load_profiles_dialog = LoadProfilesDialog(
                self.load_profiles, list_models, demo=self.demo is not None
            )
        self.load_profiles_dialog.open()
        self.load_profiles_dialog.reload()
        self.load_profiles_dialog.raise_()
        self.load_profiles_dialog.activateWindow()

    def _open_history(self) -> None:
        from tray.ui.history_window import HistoryWindow

        if self.history_window is None:
            self.history_window = HistoryWindow(
                self.history, settings=self.settings, demo=self.demo is not None
            )
        self.history_window.present()

    def _notify(self, title: str, text: str) -> None:
        self.notifier.warn(title, text)

    # --- quick chat ------------------------------------------------------------------------

    def _build_quick_chat(self) -> None:
        """Built once, right after the icon shows, so that the hotkey shows it at once."""
        from tray.ui.quick_chat_window import QuickChatWindow

        self.chat_window = QuickChatWindow(self.quick_chat, demo=self.demo is not None)

    def _open_quick_chat(self) -> None:
        if self.chat_window is None:
            self._build_quick_chat()
        assert self.chat_window is not None
        self.chat_window.show_near_pointer()
        self._spawn(self.quick_chat.refresh_downloaded(), doing="Listing downloaded models")

    def _start_hotkeys(self) -> None:
        from tray.platform.hotkeys import HotkeyManager, select_backend

        self.hotkeys = HotkeyManager(select_backend(), self.settings)
        self.hotkeys.activated.connect(self._open_quick_chat)
        self.hotkeys.state_changed.connect(self._hotkey_state)
        self._hotkey_state(self.hotkeys.start())

    def _hotkey_state(self, result: RegisterResult) -> None:
        self.quick_chat_section.set_hotkey(result.sequence if result.ok else None)
        if result.kind in ("conflict", "unavailable"):
            told = (result.kind, result.sequence or "")
            if told != self._hotkey_told:  # once per problem, not at every settings change
                self._hotkey_told = told
                self._notify("Quick chat hotkey", result.message)
        else:
            self._hotkey_told = None

    def _report_error(self, title: str, message: str) -> None:
        log.warning("%s: %s", title, message)
        self.notifier.show_error(title, message)

    def second_start(self, request: dict[str, object]) -> dict[str, object]:
        """Another `lmstudio-tray` was started: show where this one is, and tell it."""
        shown = self.tray.present()
        log.info("another start handed over to this tray: shown its %s", shown)
        return {"demo": self.demo is not None, "shown": shown, "said": self.tray.headline}

    def _release_instance(self) -> None:
        if self.instance is not None:
            self.instance.close()
            self.instance = None

    def _restart_as_demo(self) -> None:
        """Start the demo as its own process and leave: no state crosses over."""
        import subprocess

        self._release_instance()  # the demo is this user's tray from now on
        subprocess.Popen(
            [sys.executable, "-m", "tray", "--demo", "--log-level", self.args.log_level],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
        self.quit.set()

    async def _start_demo(self) -> None:
        from tray.core.api import LoadRequest
        from tray.core.errors import TrayError
        from tray.core.tokens import NoToken
        from tray.services.lmstudio_client import LmStudioClient

        assert self.demo is not None
        await self.demo.start()
        self.env = self._discover()
        try:
            demo_client = LmStudioClient(self.http, self.demo.base_url, token_provider=NoToken())
            await demo_client.load_model(LoadRequest(model=DEMO_MODEL))
        except TrayError as exc:  # the demo still works without a loaded model
            log.warning("demo: could not preload %s: %s", DEMO_MODEL, exc)


def _models_section(app: TrayApp, *, demo: bool) -> ModelsSection:
    from tray.ui.models_section import ModelsSection

    async def list_downloaded() -> list[ModelInfo]:
        assert app.client is not None
        return await app.client.list_models()

    return ModelsSection(
        lambda: app.models,
        refresh=app._refresh,
        list_downloaded=list_downloaded,
        demo=demo,
        profiles=app.load_profiles,
        inform=app.notifier.show_message,
    )


def _load_profile_store(app: TrayApp) -> LoadProfileStore:
    """Our load profiles (the demo keeps its own, in its throw-away home)."""
    from tray.services.load_profile_store import LoadProfileStore

    return LoadProfileStore(app.paths.load_profiles_dir, app.history)


def _vault(*, demo: bool) -> TokenVault:
    """The OS keyring; the demo keeps tokens for its session only, never in the keyring."""
    from tray.services.token_vault import TokenVault

    return TokenVault(memory_only=demo)


def _autostart(demo: DemoLmStudio | None) -> Autostart:
    """The OS's start-at-login entry; in the demo, one inside the throw-away home."""
    from tray.platform.autostart import LaunchAgentAutostart, XdgAutostart, select_autostart

    if demo is None:
        return select_autostart()
    if sys.platform.startswith("linux"):
        return XdgAutostart(config_home=demo.user_home / ".config")
    return LaunchAgentAutostart(home=demo.user_home)


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _window_has_focus() -> bool:
    from PySide6.QtGui import QGuiApplication

    window = QGuiApplication.focusWindow()
    return window is not None and window.isVisible()


def run_tray(args: argparse.Namespace) -> int:
    from tray.services.logs import configure_logging, install_crash_redaction

    configure_logging(args.log_level)  # every line redacted: no token reaches a log
    install_crash_redaction()
    os.environ.setdefault("QT_API", "pyside6")
    from PySide6.QtWidgets import QApplication

    if sys.platform == "win32":  # notifications and the taskbar name the app, not python.exe
        import ctypes

        from tray import APP_ID

        ctypes.windll.shell32.SetCurrentProcessExplicitAppUserModelID(APP_ID)
    app = QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME + (" — Demo" if args.demo else ""))
    app.setQuitOnLastWindowClosed(False)  # a tray app lives without windows

    # One tray per user: a second start hands over to the first before any icon shows.
    from tray.platform.single_instance import ask_running, claim, hand_over_text

    owner: InstanceOwner | None = None
    try:
        owner = claim()
    except OSError as exc:
        log.warning("cannot make sure only one tray runs (%s); starting anyway", exc)
    else:
        if owner is None:
            reply = ask_running({"want": "show", "demo": args.demo})
            sys.stdout.write(hand_over_text(reply, demo=args.demo) + "\n")
            return 0

    # The icon first (Qt only), then everything else: see tray/ui/startup_icon.py.
    from tray.ui.startup_icon import show_starting_icon

    early = show_starting_icon(demo=args.demo)

    # httpx's own command-line client (httpx._main), which the tray never uses, imports
    # click, rich and pygments whenever they happen to be installed: 8 MB for nothing.
    # None in sys.modules makes that import fail, and httpx then skips its CLI.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    import httpx
    import qasync

    from tray.ui.tray_icon import TrayIcon

    tray_app = TrayApp(
        args, httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0)), TrayIcon(tray=early)
    )
    if owner is not None:
        tray_app.instance = owner
        owner.serve(tray_app.second_start)

    _quit_on_signals(tray_app.quit.set)
    qasync.run(tray_app.run())
    return 0


def _quit_on_signals(quit_: Callable[[], None]) -> None:
    """Quit cleanly on SIGTERM/SIGINT (Ctrl-C), even while Qt sleeps in C++.

    Python runs signal handlers only when it gets control; a wake-up socket watched by a
    QSocketNotifier hands it control at once, without a polling timer.
    """
    import signal
    import socket

    from PySide6.QtCore import QSocketNotifier

    def on_signal(*_: object) -> None:
        quit_()

    rsock, wsock = socket.socketpair()
    rsock.setblocking(False)
    wsock.setblocking(False)
    signal.set_wakeup_fd(wsock.fileno())
    notifier = QSocketNotifier(rsock.fileno(), QSocketNotifier.Type.Read)

    def drain() -> None:
        with contextlib.suppress(OSError):
            rsock.recv(64)

    notifier.activated.connect(drain)
    _keep_alive.extend([rsock, wsock, notifier])
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(sig, on_signal)


_keep_alive: list[object] = []
