"""The "Load" submenu for a server that loads through its own API (Ollama): its downloaded
models, read when the submenu opens; a click loads one with the server's own keep-alive.

LM Studio has the Load model… window instead (load profiles, context, GPU offload).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMenu

from tray.core.errors import TrayError
from tray.core.gpu import format_bytes
from tray.core.inventory import DownloadedModelRow
from tray.services.model_manager import ModelManager
from tray.ui.tasks import spawn

if TYPE_CHECKING:  # imported when a server that loads by itself is first used
    from tray.services.backend_models import BackendModels

__all__ = ["LOAD_MENU_TEXT", "LoadMenu"]

log = logging.getLogger(__name__)

LOAD_MENU_TEXT = "Load model"


class LoadMenu:
    def __init__(
        self,
        manager_factory: Callable[[], ModelManager | None],
        *,
        loaded: Callable[[], set[str]],
        done: Callable[[], None],
    ) -> None:
        """`loaded()` gives the identifiers loaded now; `done()` after a load (a probe)."""
        self._manager_factory = manager_factory
        self._loaded = loaded
        self._done = done
        self.menu = QMenu(LOAD_MENU_TEXT)
        self.action = self.menu.menuAction()
        self._placeholder = self.menu.addAction("Reading the downloaded models…")
        self._placeholder.setEnabled(False)
        self.menu.aboutToShow.connect(self._opening)
        self.action.setVisible(False)

    def _manager(self) -> BackendModels | None:
        from tray.services.backend_models import BackendModels

        manager = self._manager_factory()
        return manager if isinstance(manager, BackendModels) else None

    def _opening(self) -> None:
        manager = self._manager()
        if manager is not None:
            spawn(self._fill(manager), doing="Listing the downloaded models")

    async def _fill(self, manager: BackendModels) -> None:
        try:
            rows = await manager.backend.downloaded()
        except TrayError as exc:
            self._show_only(f"Could not list the models: {exc.message}")
            raise
        if not rows:
            self._show_only("No models downloaded")
            return
        self.menu.clear()
        loaded = self._loaded()
        for row in rows:
            action = self.menu.addAction(_label(row, loaded=row.model_key in loaded))
            action.setEnabled(row.model_key not in loaded)
            action.triggered.connect(
                lambda _=False, key=row.model_key: spawn(self._load(key), doing=f"Loading {key}")
            )

    def _show_only(self, text: str) -> None:
        self.menu.clear()
        line = self.menu.addAction(text)
        line.setEnabled(False)

    async def _load(self, model: str) -> None:
        manager = self._manager()
        if manager is None:
            return
        await manager.load_keep_alive(model)
        self._done()


def _label(row: DownloadedModelRow, *, loaded: bool) -> str:
    size = f" ({format_bytes(row.size_bytes)})" if row.size_bytes else ""
    return f"{row.model_key}{size}" + (" — loaded" if loaded else "")
