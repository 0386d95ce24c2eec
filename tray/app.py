"""Start-up: the tray's options, its one-per-user check, the starting icon, the event loop.

`lmstudio-tray` with a command runs the CLI (no Qt is imported); without one it starts the
tray: one qasync loop drives Qt and all I/O (DESIGN.md §2). The session's wiring is
`tray.ui.tray_app.TrayApp`; `--demo` points it at the bundled LM Studio simulator in a
throwaway home.

Start-up order is a budget (DESIGN.md §5, docs/benchmarks.md): the tray's own options are
parsed without importing any command, the "starting" icon is shown with Qt alone, and only
then are httpx, pydantic, keyring and the rest imported (with `tray.ui.tray_app`) and the
app built.
"""

from __future__ import annotations

# Only what `main` and the icon need is imported here: everything else comes with
# tray.ui.tray_app, after the icon shows (see run_tray).
import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from tray import APP_NAME
from tray.cli import refuse_bad_options, tray_arguments

if TYPE_CHECKING:
    from tray.platform.single_instance import InstanceOwner

__all__ = ["main", "run_tray"]

log = logging.getLogger(__name__)


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


def run_tray(args: argparse.Namespace) -> int:
    from tray.services.logs import configure_logging, install_crash_redaction

    configure_logging(args.log_level)  # every line redacted: no token reaches a log
    install_crash_redaction()
    os.environ.setdefault("QT_API", "pyside6")
    from PySide6.QtWidgets import QApplication

    # Before anything else is imported: else PySide6 keeps each later module's source in
    # memory (≈ 17 MB; see tray/ui/qt_imports.py).
    from tray.ui.qt_imports import keep_sources_out_of_memory

    keep_sources_out_of_memory()

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
    # Garbage holding Qt objects must be freed on the Qt thread: see main_thread_gc.
    from tray.ui.main_thread_gc import MainThreadCollector

    MainThreadCollector(app)

    # httpx's own command-line client (httpx._main), which the tray never uses, imports
    # click, rich and pygments whenever they happen to be installed: 8 MB for nothing.
    # None in sys.modules makes that import fail, and httpx then skips its CLI.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    import httpx
    import qasync

    from tray.ui.tray_app import TrayApp
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
