"""Looking at the real X screen from tests: grab it, find colours, send input with xdotool."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QLabel, QStyle, QWidget

_MESSAGE_ICONS = {
    "information": QStyle.StandardPixmap.SP_MessageBoxInformation,
    "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
    "critical": QStyle.StandardPixmap.SP_MessageBoxCritical,
}

__all__ = [
    "balloon_icon",
    "balloons",
    "count_close",
    "crop_around",
    "grab_screen",
    "shows",
    "x11",
]


def x11(*args: str) -> None:
    subprocess.run(args, check=True, timeout=30)


def crop_around(image: QImage, rect: QRect, margin: int) -> QImage:
    return image.copy(rect.adjusted(-margin, -margin, margin, margin).intersected(image.rect()))


def count_close(image: QImage, rect: QRect, colour: QColor, tolerance: int = 40) -> int:
    """Pixels of `rect` within `tolerance` of `colour` (parts of `rect` off the image count
    as no match: PySide6's out-of-range `pixelColor` corrupts a refcount and crashes the
    interpreter at exit)."""
    rect = rect.intersected(image.rect())
    return sum(
        max(
            abs(c.red() - colour.red()),
            abs(c.green() - colour.green()),
            abs(c.blue() - colour.blue()),
        )
        <= tolerance
        for y in range(rect.top(), rect.bottom() + 1)
        for x in range(rect.left(), rect.right() + 1)
        for c in [image.pixelColor(x, y)]
    )


def grab_screen(path: Path) -> QImage:
    x11("import", "-window", "root", str(path))
    return QImage(str(path))


def shows(path: Path, rect: QRect, colour: QColor) -> bool:
    """Whether the screen shows `colour` over at least a fifth of `rect`: Qt has painted and
    the X server has drawn it (a mapped window is black until then)."""
    return count_close(grab_screen(path), rect, colour) * 5 >= rect.width() * rect.height()


def balloons() -> list[QWidget]:
    """The tray messages on screen: on an XEmbed tray host (trayer) Qt draws each itself,
    as a QBalloonTip window."""
    return [
        w
        for w in QApplication.topLevelWidgets()
        if w.metaObject().className() == "QBalloonTip" and w.isVisible()
    ]


def balloon_icon(balloon: QWidget) -> str | None:
    """Which message icon a balloon shows ("information", "warning", "critical"): its icon
    label's pixels compared with the style's icons at the balloon's size."""
    shown = [
        label.pixmap().toImage()
        for label in balloon.findChildren(QLabel)
        if not label.pixmap().isNull()
    ]
    if not shown:
        return None
    image = shown[0]
    style = QApplication.style()
    for name, pixmap in _MESSAGE_ICONS.items():
        candidate = style.standardIcon(pixmap).pixmap(QSize(18, 18), balloon.devicePixelRatio())
        if candidate.toImage().convertToFormat(image.format()) == image:
            return name
    return "other"
