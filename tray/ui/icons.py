"""Tray icons: one SVG per server state, rendered crisp at tray sizes, with badges.

Each `ServerState` has a colour icon (`resources/icons/<state>.svg`: coloured tile with a
dark outline so it reads on light and dark panels, plus a glyph) and a monochrome
template variant (`icons/template/<state>.svg`) for the macOS menu bar, which tints by
alpha. Badges are stamped on at render time, so every state has every look without
another set of files: demo mode puts `demo-badge.svg` on the bottom-right corner, and a
server that serves the network with authentication off gets `warning-badge.svg` (an
orange "!" triangle) on the top-right one.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

# Not `Qt` here: PySide6 builds that namespace (hundreds of enums) on first import, 25-90 ms
# of start-up before the icon could show; only the badges need it (imported in _clear).
from PySide6.QtCore import QByteArray, QPointF, QRectF
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap, QPolygonF
from PySide6.QtSvg import QSvgRenderer

from tray.core.errors import ConfigError
from tray.ui.resources import read_resource

if TYPE_CHECKING:
    # Only for the annotations: the start-up icon is drawn before pydantic (which
    # tray.core.status needs) is imported, so this module must not import it at run time.
    from tray.core.status import ServerState

__all__ = ["ICON_SIZES", "render_state_image", "starting_icon", "state_icon"]

# Logical sizes trays ask for (GNOME 16, KDE 22/24, Windows 16/24/32, macOS 22, large 48);
# each is also rendered at twice the pixels for HiDPI panels.
ICON_SIZES = (16, 22, 24, 32, 48)

_BADGE_FRACTION = 0.5  # of the icon's edge: large enough to read at 16 px
_WARNING_FRACTION = 0.5625  # a triangle has less area than a disc: 9 of 16 px
_BADGE_GAP = 0.06  # transparent ring around the badge so it stands off the tile


@cache
def _renderer(name: str) -> QSvgRenderer:
    renderer = QSvgRenderer(QByteArray(read_resource(f"icons/{name}.svg")))
    if not renderer.isValid():
        raise ConfigError(
            f"The icon icons/{name}.svg is damaged. Reinstall LM Studio Tray.",
            title="Installation incomplete",
        )
    return renderer


def _folder(template: bool) -> str:
    return "template/" if template else ""


def render_state_image(
    state: ServerState,
    pixels: int,
    *,
    demo: bool = False,
    warning: bool = False,
    template: bool = False,
) -> QImage:
    """The icon for `state` as a `pixels`-square image with a transparent background;
    `warning` adds the network-exposure badge, `demo` the demo badge."""
    image = QImage(pixels, pixels, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor(0, 0, 0, 0))  # transparent
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    _renderer(f"{_folder(template)}{state}").render(painter, QRectF(0, 0, pixels, pixels))
    edge = pixels * _BADGE_FRACTION
    gap = pixels * _BADGE_GAP
    if demo:
        badge = QRectF(pixels - edge, pixels - edge, edge, edge)
        _clear(painter, badge.adjusted(-gap, -gap, gap, gap), triangle=False)
        _renderer(f"{_folder(template)}demo-badge").render(painter, badge)
    if warning:
        edge = pixels * _WARNING_FRACTION
        badge = QRectF(pixels - edge, 0, edge, edge)
        _clear(painter, badge.adjusted(-gap, -gap, gap, gap), triangle=True)
        _renderer(f"{_folder(template)}warning-badge").render(painter, badge)
    painter.end()
    return image


def _clear(painter: QPainter, area: QRectF, *, triangle: bool) -> None:
    """Punch a transparent hole of the badge's shape (plus a ring) so it stands off the
    tile on any panel colour."""
    from PySide6.QtCore import Qt

    painter.save()
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(Qt.GlobalColor.black)
    if triangle:
        painter.drawPolygon(
            QPolygonF(
                [
                    QPointF(area.center().x(), area.top()),
                    QPointF(area.right(), area.bottom()),
                    QPointF(area.left(), area.bottom()),
                ]
            )
        )
    else:
        painter.drawEllipse(area)
    painter.restore()


@cache
def state_icon(
    state: ServerState, *, demo: bool = False, warning: bool = False, template: bool = False
) -> QIcon:
    """A QIcon for `state` holding pixmaps for every tray size at 1x and 2x."""
    icon = QIcon()
    for size in ICON_SIZES:
        for scale in (1, 2):
            pixmap = QPixmap.fromImage(
                render_state_image(
                    state, size * scale, demo=demo, warning=warning, template=template
                )
            )
            pixmap.setDevicePixelRatio(scale)
            icon.addPixmap(pixmap)
    # macOS tints template images to match the menu bar; elsewhere the flag is ignored.
    icon.setIsMask(template)
    return icon


def starting_icon(*, demo: bool = False, template: bool = False) -> QIcon:
    """The "starting" icon, drawn before `ServerState` (and pydantic with it) is imported:
    `render_state_image` only needs the state's value, which "starting" is."""
    return state_icon("starting", demo=demo, template=template)
