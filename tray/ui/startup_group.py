"""Settings › General › "When the tray starts": start the server, apply a scene. Together
with start-at-login this gives a machine that is ready after login."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QGroupBox, QHBoxLayout, QVBoxLayout

from tray.core.settings import Settings, StartupSettings

__all__ = ["NO_SCENE_TEXT", "StartupGroup"]

NO_SCENE_TEXT = "(no scene)"


class StartupGroup(QGroupBox):
    def __init__(self) -> None:
        super().__init__("When the tray starts")
        self.start_server = QCheckBox("Start the server (when it is not running)")
        self.start_server.setObjectName("on-start-server")
        self.apply_scene = QCheckBox("Apply the scene")
        self.apply_scene.setObjectName("on-start-scene")
        self.scene = QComboBox()
        self.scene.setObjectName("on-start-scene-name")
        self.apply_scene.toggled.connect(self.scene.setEnabled)
        row = QHBoxLayout()
        row.addWidget(self.apply_scene)
        row.addWidget(self.scene, 1)
        column = QVBoxLayout(self)
        column.setSpacing(6)
        column.addWidget(self.start_server)
        column.addLayout(row)

    def load(self, settings: StartupSettings, scene_names: list[str]) -> None:
        """Show `settings`; the scenes to choose from are `scene_names` (a chosen scene that
        is gone stays shown, marked, so saving does not drop the choice silently)."""
        self.start_server.setChecked(settings.start_server)
        self.scene.clear()
        names = list(scene_names)
        if settings.scene is not None and settings.scene not in names:
            names.append(settings.scene)
        for name in names:
            shown = name if name in scene_names else f"{name} (no longer saved)"
            self.scene.addItem(shown, name)
        if not names:
            self.scene.addItem(NO_SCENE_TEXT, None)
        self.apply_scene.setEnabled(bool(names))
        self.apply_scene.setChecked(settings.scene is not None)
        self.scene.setEnabled(settings.scene is not None)
        if settings.scene is not None:
            self.scene.setCurrentIndex(names.index(settings.scene))

    def apply_to(self, settings: Settings) -> None:
        settings.on_start.start_server = self.start_server.isChecked()
        chosen = self.scene.currentData()
        wanted = self.apply_scene.isChecked() and isinstance(chosen, str)
        settings.on_start.scene = chosen if wanted else None
