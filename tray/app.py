"""Composition root: the only place that wires services, views and the event loop together.

`lmstudio-tray` with a command runs the CLI (no Qt is imported); without one it starts the
tray: one qasync loop drives Qt and all I/O (DESIGN.md §2). `--demo` starts the bundled
LM Studio simulator in a throwaway home and points everything at it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tray import APP_NAME
from tray.cli import build_parser, run

if TYPE_CHECKING:
    import httpx
    from pydantic import SecretStr

    from tray.core.api import ModelInfo
    from tray.core.settings import Settings
    from tray.core.status import ServerStatus
    from tray.core.tokens import TokenCheck
    from tray.platform.autostart import Autostart
    from tray.services.environment import Environment
    from tray.services.gpu import GpuProbe
    from tray.services.lms_runner import LmsRunner
    from tray.services.lmstudio_client import LmStudioClient
    from tray.services.model_manager import ModelManager
    from tray.services.server_controller import ServerController
    from tray.services.status_monitor import StatusMonitor
    from tray.services.token_vault import TokenVault
    from tray.ui.models_section import ModelsSection
    from tray.ui.settings_dialog import SettingsDialog
    from tray.ui.tokens_dialog import TokensDialog
    from tray.ui.tray_icon import TrayIcon

__all__ = ["DemoLmStudio", "main"]

log = logging.getLogger(__name__)

DEMO_MODEL = "qwen/qwen3-4b"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.subcommand is not None:
        return run(args)
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
        from PySide6.QtGui import QGuiApplication

        from tray.core.auth_prompt import AuthPromptGate
        from tray.core.notifications import NotificationRules
        from tray.services.settings_store import SettingsService, SettingsStore
        from tray.ui.clipboard import ClipboardGuard
        from tray.ui.notifier import TrayNotifier
        from tray.ui.profiles_section import ProfilesSection
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
        # The demo keeps its own settings unless told otherwise: it must not change the user's.
        settings_path = args.settings or (
            self.demo.user_home / "settings.json" if self.demo else None
        )
        self.settings = SettingsService(SettingsStore(settings_path))
        self.monitor: StatusMonitor | None = None
        self.client: LmStudioClient | None = None
        self.models: ModelManager | None = None
        self.gpu: GpuProbe | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.env = self._discover()
        self.rules = NotificationRules(self.settings.settings.notifications)
        self.notifier = TrayNotifier(tray.tray, demo=demo)
        set_error_reporter(self._report_error)

        self.server_section = ServerSection(
            self._server_controller,
            on_starting=self._starting,
            refresh=self._refresh,
            demo=demo,
        )
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
        )
        self.profiles_section = ProfilesSection(
            self.settings, open_settings=self._open_settings, report_error=self._report_error
        )
        self.sections = (
            self.server_section,
            self.models_section,
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

    async def run(self) -> None:
        from tray.services.gpu import select_gpu_probe

        try:
            if self.demo is not None:
                await self._start_demo()
            # Once: NVML's start-up blocks; reading afterwards is cheap (in a thread per poll).
            self.gpu = await asyncio.to_thread(select_gpu_probe)
            self._connect()
            self.tray.show()
            await self.quit.wait()
        finally:
            from tray.ui.tasks import cancel_all

            await cancel_all()
            if self.monitor is not None:
                await self.monitor.stop()
            await self.http.aclose()
            if self.demo is not None:
                await self.demo.stop()

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
        import platformdirs

        from tray.core.status import PollPolicy
        from tray.core.tokens import FirstToken, NoToken
        from tray.services.environment import token_from_environment
        from tray.services.lmstudio_client import LmStudioClient
        from tray.services.model_manager import ModelManager
        from tray.services.status_monitor import StatusMonitor

        # The tray's own home for tokens (the keyring) first, then LM_API_TOKEN.
        token = FirstToken(self.vault.provider(self.env.profile.id), token_from_environment())
        env, polling = self.env, self.settings.settings.polling
        url = env.server_url
        client = self.client = LmStudioClient(self.http, url, token_provider=token)
        runner = self._runner()
        state_dir = (
            self.demo.user_home / "state"
            if self.demo is not None
            else Path(platformdirs.user_state_dir("lmstudio-tray", appauthor=False))
        )
        self.models = (
            ModelManager(
                client,
                runner,
                state_dir=state_dir,
                profile_id=env.profile.id,
                on_user_unload=self.rules.expect_unload,
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
            beyond_loopback=lambda: _serves_beyond_loopback(env.home.path),
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

    async def _reconnect(self) -> None:
        """Settings changed (active profile, polling…): watch what they now say."""
        if self.monitor is not None:
            await self.monitor.stop()
        self.env = self._discover()
        self._connect()

    def _settings_changed(self, settings: Settings) -> None:
        self.rules.settings = settings.notifications
        self._spawn(self._reconnect(), doing="Applying the new settings")

    def _render(self, status: ServerStatus) -> None:
        caps = self.env.capabilities
        self.tray.render(status, lmstudio_found=self.env.lmstudio_found or self.demo is not None)
        for section in self.sections:
            section.render(status, caps)
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

    def _report_error(self, title: str, message: str) -> None:
        log.warning("%s: %s", title, message)
        self.notifier.show_error(title, message)

    def _restart_as_demo(self) -> None:
        """Start the demo as its own process and leave: no state crosses over."""
        subprocess.Popen(
            [sys.executable, "-m", "tray", "--demo"],
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
        lambda: app.models, refresh=app._refresh, list_downloaded=list_downloaded, demo=demo
    )


def _vault(*, demo: bool) -> TokenVault:
    """The OS keyring; the demo keeps tokens for its session only, never in the keyring."""
    from tray.services.token_vault import TokenVault

    if not demo:
        return TokenVault()
    import keyring.backends.fail

    return TokenVault(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]


def _autostart(demo: DemoLmStudio | None) -> Autostart:
    """The OS's start-at-login entry; in the demo, one inside the throw-away home."""
    from tray.platform.autostart import LaunchAgentAutostart, XdgAutostart, select_autostart

    if demo is None:
        return select_autostart()
    if sys.platform.startswith("linux"):
        return XdgAutostart(config_home=demo.user_home / ".config")
    return LaunchAgentAutostart(home=demo.user_home)


def _window_has_focus() -> bool:
    from PySide6.QtGui import QGuiApplication

    window = QGuiApplication.focusWindow()
    return window is not None and window.isVisible()


def _serves_beyond_loopback(home: Path) -> bool | None:
    """Read LM Studio's server settings afresh: the user may flip "Serve on Local Network"
    in LM Studio at any time. A small local file; unreadable means unknown."""
    from tray.core.errors import FileParseError
    from tray.services.lmstudio_home import read_server_config

    try:
        config = read_server_config(home)
    except FileParseError:
        return None
    return config.beyond_loopback if config is not None else None


def run_tray(args: argparse.Namespace) -> int:
    from tray.services.logs import configure_logging, install_crash_redaction

    configure_logging(args.log_level)  # every line redacted: no token reaches a log
    install_crash_redaction()
    os.environ.setdefault("QT_API", "pyside6")
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME + (" — Demo" if args.demo else ""))
    app.setQuitOnLastWindowClosed(False)  # a tray app lives without windows

    import httpx

    from tray.ui.tray_icon import TrayIcon

    tray_app = TrayApp(
        args, httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0)), TrayIcon()
    )

    _quit_on_signals(tray_app.quit.set)
    qasync.run(tray_app.run())
    return 0


def _quit_on_signals(quit_: Callable[[], None]) -> None:
    """Quit cleanly on SIGTERM/SIGINT (Ctrl-C), even while Qt sleeps in C++.

    Python runs signal handlers only when it gets control; a wake-up socket watched by a
    QSocketNotifier hands it control at once, without a polling timer.
    """
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
