"""Eject, Eject all, Restore and load on a server whose own API does it (Ollama): the
model manager's flows and restore point, with the backend's `unload`/`load` underneath.

LM Studio's load profiles do not apply here: Ollama loads a model with what its Modelfile
says and keeps it for `keep_alive` (default 5 minutes), which is what Restore asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tray.core.errors import TrayError
from tray.core.instances import LiveInstance, instances_from_rows
from tray.core.restore import RestoreModel, RestoreOutcome
from tray.services.backends import Backend
from tray.services.model_manager import ModelManager

__all__ = ["BackendModels"]


class BackendModels(ModelManager):
    """`ModelManager`'s eject and restore flows over a `Backend` (no `lms`, no profiles)."""

    def __init__(
        self,
        backend: Backend,
        *,
        state_dir: Path,
        profile_id: str,
        on_user_unload: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            backend.client,
            None,
            state_dir=state_dir,
            profile_id=profile_id,
            on_user_unload=on_user_unload,
        )
        self.backend = backend

    async def eject(self, identifier: str) -> None:
        self._user_unloads(identifier)
        await self.backend.unload(identifier)

    async def load_keep_alive(self, model: str, keep_alive: str | int | None = None) -> None:
        """Load `model` and keep it `keep_alive` ("30m", seconds, -1 = until ejected)."""
        await self.backend.load(model, keep_alive=keep_alive)

    async def live_instances(self) -> list[LiveInstance]:
        rows, _ = await self.backend.poll()
        return instances_from_rows(rows)

    async def _restore_one(self, model: RestoreModel) -> RestoreOutcome:
        try:
            await self.backend.load(model.identifier)
        except TrayError as exc:
            return RestoreOutcome(
                model_key=model.model_key, identifier=model.identifier, error=exc.message
            )
        return RestoreOutcome(
            model_key=model.model_key, identifier=model.identifier, loaded_as=model.identifier
        )
