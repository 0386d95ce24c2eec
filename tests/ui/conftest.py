"""UI test set-up: a Qt platform for every test, a real desktop for tests marked `ui`.

Tests marked `ui` need an X display with a system tray host (Xvfb + trayer from
`installers/desktop-session.sh`) and the X tools they drive it with. Inside that session
(`LMSTRAY_DESKTOP=1`) a missing piece is a failure, since the session promised it;
elsewhere those tests skip and say why. Unmarked tests here only render, so without a
display they run on Qt's offscreen platform.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from tray.ui.main_thread_gc import MainThreadCollector
from tray.ui.tasks import finalize_async_generators_on
from tray.ui.tray_icon import TrayIcon

IN_DESKTOP_SESSION = os.environ.get("LMSTRAY_DESKTOP") == "1"
REPO_ROOT = Path(__file__).resolve().parents[2]
X_TOOLS = ("xdotool", "import")

# Creating a QApplication with no display and no platform aborts the whole run.
if not os.environ.get("DISPLAY") and not IN_DESKTOP_SESSION:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A UI test past its timeout is stopped by pytest-timeout's "thread" method (stacks
    dumped, the process killed): a hang inside Qt's event loop, or one in a tear-down that
    waits on a thread, is out of reach of the "signal" method the other tiers use."""
    here = Path(__file__).parent
    for item in items:
        if not item.path.is_relative_to(here):
            continue
        given = item.get_closest_marker("timeout")  # a test's own limit is kept
        kwargs = {"method": "thread", **(given.kwargs if given else {})}
        item.add_marker(pytest.mark.timeout(*(given.args if given else ()), **kwargs), append=False)


def _desktop_problem(request: pytest.FixtureRequest) -> str | None:
    if not os.environ.get("DISPLAY"):
        return "no X display (DISPLAY is unset); run through installers/desktop-session.sh"
    missing = [tool for tool in X_TOOLS if shutil.which(tool) is None]
    if missing:
        return f"missing X tools: {', '.join(missing)} (apt packages xdotool, imagemagick)"
    request.getfixturevalue("qapp")
    if QApplication.platformName() != "xcb":
        return f"Qt runs on the '{QApplication.platformName()}' platform, not X11 (xcb)"
    if not QSystemTrayIcon.isSystemTrayAvailable():
        return "no system tray host on this display (start trayer, or use desktop-session.sh)"
    return None


@pytest.fixture(autouse=True)
def _real_desktop_for_ui_tests(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("ui") is None:
        return
    problem = _desktop_problem(request)
    if problem is None:
        return
    if IN_DESKTOP_SESSION:
        pytest.fail(f"the desktop session is broken: {problem}")
    pytest.skip(problem)


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """The app's kind of loop: qasync, driving Qt and asyncio together."""
    qapp.setQuitOnLastWindowClosed(False)  # as in the app: closing a box must not quit
    event_loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(event_loop)
    finalize_async_generators_on(event_loop)  # as the app does (qasync lacks the hooks)
    yield event_loop
    event_loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture(scope="session", autouse=True)
def _collect_garbage_on_the_qt_thread(qapp: QApplication) -> Iterator[None]:
    """As the app does (tray/ui/main_thread_gc.py): a cycle holding a Qt object, freed by a
    collection that happened to run in a worker thread, is destroyed on the wrong thread."""
    collector = MainThreadCollector(qapp)
    yield
    collector.stop()


@pytest.fixture(autouse=True)
def _no_windows_outlive_a_test() -> Iterator[None]:
    """Close what a test left open (dialogs, message boxes): a stale window answering for
    a finished test's loop crashes a later one."""
    yield
    app = QApplication.instance()
    if app is None:
        return
    for widget in QApplication.topLevelWidgets():
        if widget.isVisible() and widget.isWindow() and not isinstance(widget, QMenu):
            widget.close()
            widget.deleteLater()
    app.processEvents()
    gc.collect()  # a finished test's garbage goes now, on this thread


@pytest.fixture
def make_tray(qapp: QApplication) -> Iterator[Callable[..., TrayIcon]]:
    """Build TrayIcons that are hidden and released after the test, window included."""
    made: list[TrayIcon] = []

    def make(**kwargs: object) -> TrayIcon:
        icon = TrayIcon(**kwargs)  # type: ignore[arg-type]
        made.append(icon)
        return icon

    yield make
    for icon in made:
        icon.tray.hide()
        if icon.no_tray_window is not None:
            icon.no_tray_window.hide()
            icon.no_tray_window.deleteLater()
        icon.menu.deleteLater()
        icon.deleteLater()


@pytest.fixture
def publish_screenshot() -> Callable[..., Path]:
    """Keep a screenshot: always under test-artifacts/; for the docs (`docs=True`) also in
    docs/screenshots/, but only when LMSTRAY_UPDATE_SCREENSHOTS=1, so that the committed
    images change only on purpose."""

    def publish(image: Path, *, docs: bool = True) -> Path:
        artifacts = REPO_ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        kept = Path(shutil.copyfile(image, artifacts / image.name))
        if docs and os.environ.get("LMSTRAY_UPDATE_SCREENSHOTS") == "1":
            docs = REPO_ROOT / "docs" / "screenshots"
            docs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(image, docs / image.name)
        return kept

    return publish


@pytest.fixture(autouse=True)
def _private_home() -> None:
    """No per-test environment here (this overrides tests/conftest.py's): changing the
    process environment while Qt and its threads run made PySide6 crash at random — a timer
    event delivered to a freed object, reproduced in test_load_model_dialog.py in 60-100 %
    of runs and gone without the change. Each UI file already runs in a process of its own
    (installers/run_tests.py) whose HOME and XDG folders pytest_configure made private
    before Qt started; tests that need another home pass it explicitly."""
