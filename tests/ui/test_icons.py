"""The state icons: present for every state, distinct, visible on light and dark panels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSize
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication

from tray.core.status import ServerState
from tray.ui.icons import ICON_SIZES, render_state_image, state_icon
from tray.ui.resources import read_resource

TRAY_PIXELS = (16, 22, 32)
LIGHT_PANEL = QColor("#f2f2f2")
DARK_PANEL = QColor("#303030")


def _opaque_pixels(image: QImage) -> int:
    return sum(
        image.pixelColor(x, y).alpha() > 0
        for y in range(image.height())
        for x in range(image.width())
    )


def _on(background: QColor, image: QImage) -> QImage:
    panel = QImage(image.size(), QImage.Format.Format_RGB32)
    panel.fill(background)
    painter = QPainter(panel)
    painter.drawImage(QPoint(0, 0), image)
    painter.end()
    return panel


def _max_contrast(background: QColor, image: QImage) -> int:
    """The largest per-channel difference the icon makes against the panel colour."""
    panel = _on(background, image)
    return max(
        max(
            abs(c.red() - background.red()),
            abs(c.green() - background.green()),
            abs(c.blue() - background.blue()),
        )
        for y in range(panel.height())
        for x in range(panel.width())
        for c in [panel.pixelColor(x, y)]
    )


@pytest.mark.parametrize("template", [False, True], ids=["colour", "template"])
def test_every_state_has_an_svg(template: bool) -> None:
    folder = "icons/template/" if template else "icons/"
    for state in ServerState:
        assert read_resource(f"{folder}{state.value}.svg").startswith(b"<svg")
    assert read_resource(f"{folder}demo-badge.svg").startswith(b"<svg")


@pytest.mark.parametrize("pixels", TRAY_PIXELS)
def test_states_render_to_distinct_visible_images(qapp: QApplication, pixels: int) -> None:
    images = {state: render_state_image(state, pixels) for state in ServerState}
    for state, image in images.items():
        assert not image.isNull(), state
        assert image.size() == QSize(pixels, pixels)
        assert _opaque_pixels(image) > pixels * pixels // 2, f"{state} is mostly empty"
    assert len({bytes(image.constBits()) for image in images.values()}) == len(ServerState)


@pytest.mark.parametrize("state", list(ServerState))
def test_icon_reads_on_light_and_dark_panels(qapp: QApplication, state: ServerState) -> None:
    image = render_state_image(state, 16)
    # The dark outline carries light panels, the tile colour dark ones.
    assert _max_contrast(LIGHT_PANEL, image) >= 160, "too faint on a light panel"
    assert _max_contrast(DARK_PANEL, image) >= 100, "too faint on a dark panel"


@pytest.mark.parametrize("state", list(ServerState))
def test_demo_badge_and_template_variants_differ(qapp: QApplication, state: ServerState) -> None:
    plain = render_state_image(state, 22)
    demo = render_state_image(state, 22, demo=True)
    template = render_state_image(state, 22, template=True)
    assert demo != plain
    assert template != plain
    # A template image is tinted by the menu bar: only its alpha may carry information.
    colours = {
        template.pixelColor(x, y).rgb() & 0xFFFFFF
        for y in range(22)
        for x in range(22)
        if template.pixelColor(x, y).alpha() > 0
    }
    assert colours == {0x000000}


def test_qicon_has_every_tray_size_at_1x_and_2x(qapp: QApplication) -> None:
    icon = state_icon(ServerState.RUNNING, demo=True)
    assert not icon.isNull()
    for size in ICON_SIZES:
        pixmap = icon.pixmap(QSize(size, size), 2.0)
        assert pixmap.deviceIndependentSize().toSize() == QSize(size, size)
        assert pixmap.size() == QSize(2 * size, 2 * size)
    assert state_icon(ServerState.RUNNING, template=True).isMask()


def test_icon_sheet(
    qapp: QApplication, tmp_path: Path, publish_screenshot: Callable[..., Path]
) -> None:
    """Every state at tray sizes on light and dark panels, kept as tray-icons.png."""
    label_w, cell_w, cell_h, head_h = 96, 96, 40, 24
    rows = [
        (name, panel, demo, pixels)
        for name, panel, demo in [
            ("light", LIGHT_PANEL, False),
            ("dark", DARK_PANEL, False),
            ("demo", DARK_PANEL, True),
        ]
        for pixels in TRAY_PIXELS
    ]
    sheet = QImage(
        label_w + cell_w * len(ServerState), head_h + cell_h * len(rows), QImage.Format.Format_RGB32
    )
    sheet.fill(QColor("white"))
    painter = QPainter(sheet)
    for column, state in enumerate(ServerState):
        painter.drawText(label_w + column * cell_w + 6, 16, state.value)
    centres = []
    for row, (name, panel, demo, pixels) in enumerate(rows):
        top = head_h + row * cell_h
        painter.fillRect(0, top, sheet.width(), cell_h, panel)
        painter.setPen(QColor("black") if panel == LIGHT_PANEL else QColor("white"))
        painter.drawText(6, top + 25, f"{name} {pixels} px")
        for column, state in enumerate(ServerState):
            corner = QPoint(
                label_w + column * cell_w + (cell_w - pixels) // 2, top + (cell_h - pixels) // 2
            )
            painter.drawImage(corner, render_state_image(state, pixels, demo=demo))
            centres.append((corner + QPoint(pixels // 2, pixels // 2), panel))
    painter.end()

    for centre, panel in centres:
        assert sheet.pixelColor(centre) != panel, f"no icon drawn at {centre}"
    shot = tmp_path / "tray-icons.png"
    assert sheet.save(str(shot))
    publish_screenshot(shot)
