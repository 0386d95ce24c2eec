"""Notices on the real desktop: shown from the tray icon, marked Demo, remembered; logged
instead where the desktop cannot show them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QLabel, QSystemTrayIcon, QWidget
from pytestqt.qtbot import QtBot
from screen import balloon_icon, crop_around, shows  # tests/ui/screen.py
from screen import balloons as shared_balloons

from tray.core.notifications import Notice, NoticeKind, NotificationRules, Severity
from tray.core.settings import NotificationSettings
from tray.core.status import ServerState, ServerStatus
from tray.ui.notifier import RECENT_MAX, TrayNotifier
from tray.ui.tray_icon import TrayIcon

MakeTray = Callable[..., TrayIcon]

EVICTED = Notice(
    kind=NoticeKind.MODEL_EVICTED,
    key="model_evicted:qwen/qwen3-4b",
    title="Model unloaded by LM Studio",
    message="LM Studio unloaded qwen/qwen3-4b. It had an idle time-to-live of 10 minutes.",
)
EXPOSED = Notice(
    kind=NoticeKind.EXPOSED,
    key="exposed",
    title="LM Studio server open to the network",
    message="The server listens beyond this machine with authentication off.",
    severity=Severity.WARNING,
)


def balloons() -> list[QWidget]:
    # On an XEmbed tray host (trayer) Qt draws the message itself, as a QBalloonTip window.
    return [
        w
        for w in QApplication.topLevelWidgets()
        if w.metaObject().className() == "QBalloonTip" and w.isVisible()
    ]


def embedded(icon: TrayIcon) -> bool:
    geometry = icon.tray.geometry()
    return geometry.isValid() and geometry.topLeft() != QPoint(0, 0)


@pytest.mark.ui
def test_a_notice_appears_next_to_the_real_tray_icon_marked_demo(
    make_tray: MakeTray, qtbot: QtBot, tmp_path: Path, publish_screenshot: Callable[..., Path]
) -> None:
    icon = make_tray()
    icon.render(ServerStatus(url="http://127.0.0.1:1234", state=ServerState.RUNNING, demo=True))
    icon.show()
    qtbot.waitUntil(lambda: embedded(icon), timeout=10_000)
    assert QSystemTrayIcon.supportsMessages()

    notifier = TrayNotifier(icon.tray, demo=True)
    notifier.show(EVICTED)
    assert list(notifier.recent) == [EVICTED]

    qtbot.waitUntil(lambda: len(balloons()) == 1, timeout=10_000)
    (balloon,) = balloons()
    texts = [label.text() for label in balloon.findChildren(QLabel)]
    assert "Model unloaded by LM Studio — Demo" in texts
    assert EVICTED.message in texts

    # What the screen shows: the balloon by the icon, once the X server has drawn it.
    def screenshot(name: str) -> None:
        (balloon,) = balloons()
        shot = tmp_path / "notification-full.png"
        rect = balloon.geometry()
        background = balloon.palette().window().color()
        qtbot.waitUntil(lambda: shows(shot, rect, background), timeout=10_000)
        closeup = tmp_path / name
        area = rect.united(icon.tray.geometry())
        assert crop_around(QImage(str(shot)), area, 16).save(str(closeup))
        publish_screenshot(closeup)

    screenshot("notification-model-evicted.png")

    # A newer notice replaces the balloon; the notifier remembers both, oldest first. This
    # one as the rules word it for a server on 0.0.0.0 without authentication.
    rules = NotificationRules(NotificationSettings())
    (exposed,) = rules.observe(
        ServerStatus(url="http://0.0.0.0:1234", state=ServerState.RUNNING, exposed=True)
    )
    notifier.show(exposed)
    qtbot.waitUntil(
        lambda: any(
            label.text() == "LM Studio server open to the network — Demo"
            for b in balloons()
            for label in b.findChildren(QLabel)
        ),
        timeout=10_000,
    )
    screenshot("notification-exposed.png")
    assert list(notifier.recent) == [EVICTED, exposed]


def test_titles_say_demo_only_in_demo_mode(make_tray: MakeTray) -> None:
    icon = make_tray()
    assert TrayNotifier(icon.tray, demo=True).title_for(EXPOSED).endswith(" — Demo")
    assert TrayNotifier(icon.tray, demo=False).title_for(EXPOSED) == EXPOSED.title


def test_recent_keeps_the_last_few(make_tray: MakeTray) -> None:
    notifier = TrayNotifier(make_tray().tray, demo=False)
    notices = [EVICTED.model_copy(update={"key": f"k{i}"}) for i in range(RECENT_MAX + 5)]
    for n in notices:
        notifier.show(n)
    assert list(notifier.recent) == notices[-RECENT_MAX:]


def test_without_a_visible_tray_notices_are_logged_and_handed_on(
    make_tray: MakeTray, caplog: pytest.LogCaptureFixture
) -> None:
    icon = make_tray(tray_available=lambda: False)  # never shown: nowhere to show a message
    handed: list[Notice] = []
    notifier = TrayNotifier(icon.tray, demo=False, fallback=handed.append)
    with caplog.at_level(logging.INFO, logger="tray.ui.notifier"):
        notifier.show(EVICTED)
        notifier.show(EXPOSED)
    assert handed == [EVICTED, EXPOSED]
    assert list(notifier.recent) == [EVICTED, EXPOSED]
    assert balloons() == []
    logged = [r.getMessage() for r in caplog.records]
    assert sum("cannot show tray notifications" in m for m in logged) == 1  # said once
    assert any(EXPOSED.message in m for m in logged)


@pytest.mark.ui
@pytest.mark.parametrize(
    ("how", "icon_shown"),
    [
        ("done as asked", "information"),
        ("news", "information"),
        ("attention", "warning"),
        ("failed", "critical"),
    ],
)
def test_the_icon_says_how_serious_it_is(
    make_tray: MakeTray, qtbot: QtBot, how: str, icon_shown: str
) -> None:
    """A lockdown that worked is not a warning: the balloon's icon follows the severity
    the caller gave (seen in the balloon Qt draws on this tray host)."""
    icon = make_tray()
    icon.render(ServerStatus(url="http://127.0.0.1:1234", state=ServerState.RUNNING))
    icon.show()
    qtbot.waitUntil(lambda: embedded(icon), timeout=10_000)
    notifier = TrayNotifier(icon.tray, demo=False)
    if how == "done as asked":
        notifier.show_message("mcp.json locked down", "Kept: no servers.", Severity.INFO)
    elif how == "news":
        notifier.show(EVICTED)
    elif how == "attention":
        notifier.show_message("mcp.json changed while locked", "Added: x.", Severity.WARNING)
    else:
        notifier.show_error("Could not eject", "LM Studio did not answer.")
    qtbot.waitUntil(lambda: len(shared_balloons()) == 1, timeout=10_000)
    (balloon,) = shared_balloons()
    assert balloon_icon(balloon) == icon_shown
    assert (
        notifier.shown[-1][2]
        is {
            "done as asked": Severity.INFO,
            "news": Severity.INFO,
            "attention": Severity.WARNING,
            "failed": Severity.ERROR,
        }[how]
    )
