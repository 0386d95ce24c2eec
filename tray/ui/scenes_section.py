"""The tray menu's Scenes submenu: each saved scene (the one that matches what is loaded
has the check mark), the built-in Free GPU, "Save current as scene…" and "Manage
scenes…".

Choosing a scene applies it (`tray.services.scene_runner`): first the whole-scene
pre-flight (a warning in numbers asks before going on), then the unloads and loads,
with the submenu's title saying what is being done; a model that is answering is not
unloaded without asking. The result — what was loaded, unloaded, kept, what failed — is
a notification. Scenes are read from disk in a thread, never on the Qt thread: the menu
shows the list as last read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from tray.core.backends import Capabilities
from tray.core.errors import ModelsBusy, TrayError
from tray.core.instances import LiveInstance, instances_from_rows
from tray.core.notifications import Severity
from tray.core.scenes import FREE_GPU, Scene, current_scene, find_scene
from tray.core.status import ServerStatus
from tray.core.words import quoted
from tray.services.scene_runner import SceneRunner
from tray.services.scene_store import SceneStore
from tray.ui.dialogs import ask_text, confirm
from tray.ui.notifier import Notify
from tray.ui.tasks import spawn

__all__ = ["MANAGE_TEXT", "SAVE_CURRENT_TEXT", "SCENES_TEXT", "ScenesSection"]

log = logging.getLogger(__name__)

SCENES_TEXT = "Scenes"
SAVE_CURRENT_TEXT = "Save current as scene…"
MANAGE_TEXT = "Manage scenes…"


class ScenesSection:
    """Owns the Scenes submenu; `actions()` is inserted once into the tray menu."""

    def __init__(
        self,
        store: SceneStore,
        runner: Callable[[], SceneRunner | None],
        *,
        notify: Notify,
        open_manager: Callable[[], None],
        refresh: Callable[[], None],
        demo: bool,
    ) -> None:
        self._store = store
        self._runner = runner
        self._notify = notify
        self._refresh = refresh
        self._demo = demo
        self._scenes: list[Scene] = []
        self._live: list[LiveInstance] = []
        self._can_load = False
        self.applying: str | None = None  # the scene being applied
        self.last_task: asyncio.Task[None] | None = None
        self.menu = QMenu(SCENES_TEXT)
        self.menu.aboutToShow.connect(self.reload)
        self._group = QActionGroup(self.menu)
        self._group.setExclusive(False)
        self.scene_actions: list[QAction] = []
        self.free_gpu = QAction(FREE_GPU)
        self.free_gpu.setCheckable(True)
        self.free_gpu.setToolTip("Eject every model (Restore brings them back)")
        self.free_gpu.triggered.connect(lambda: self.apply(FREE_GPU))
        self.save_current = QAction(SAVE_CURRENT_TEXT)
        self.save_current.triggered.connect(
            lambda: spawn(self._save_current(), doing="Saving the scene")
        )
        self.manage = QAction(MANAGE_TEXT)
        self.manage.triggered.connect(lambda: open_manager())
        self._rebuild()

    def actions(self) -> list[QAction]:
        return [self.menu.menuAction()]

    # --- the list ------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the scenes again (in a thread); the menu follows when they are in."""
        spawn(self.read(), doing="Reading the scenes")

    async def read(self) -> None:
        try:
            scenes = await asyncio.to_thread(self._store.list)
        except TrayError as exc:
            log.warning("scenes unreadable: %s", exc.message)
            scenes = []
        if scenes != self._scenes:
            self._scenes = scenes
            self._rebuild()

    @property
    def scene_names(self) -> list[str]:
        return [s.name for s in self._scenes]

    def render(self, status: ServerStatus, caps: Capabilities) -> None:
        self._live = instances_from_rows(status.loaded)
        self._can_load = caps.load_profiles and status.state.is_up  # scenes load with profiles
        self._mark()

    def _rebuild(self) -> None:
        self.menu.clear()
        for action in self.scene_actions:
            self._group.removeAction(action)
        self.scene_actions = []
        for scene in self._scenes:
            action = QAction(scene.name, self.menu)
            action.setCheckable(True)
            action.setToolTip(scene.summary())
            action.triggered.connect(lambda _=False, name=scene.name: self.apply(name))
            self._group.addAction(action)
            self.scene_actions.append(action)
            self.menu.addAction(action)
        if not self._scenes:
            hint = self.menu.addAction("No scenes yet: save what is loaded as one")
            hint.setEnabled(False)
        self.menu.addSeparator()
        self.menu.addAction(self.free_gpu)
        self.menu.addSeparator()
        self.menu.addAction(self.save_current)
        self.menu.addAction(self.manage)
        self._mark()

    def _mark(self) -> None:
        """The check mark on the scene that matches what is loaded; nothing to act on
        while a scene is being applied or the server cannot load."""
        current = current_scene(self._scenes, self._live) if self._live else None
        for action, scene in zip(self.scene_actions, self._scenes, strict=True):
            action.setChecked(scene is current)
            action.setEnabled(self._can_load and self.applying is None)
        self.free_gpu.setChecked(self._can_load and not self._live)
        self.free_gpu.setEnabled(self._can_load and self.applying is None and bool(self._live))
        self.save_current.setEnabled(self._can_load and bool(self._live))
        title = (
            SCENES_TEXT if self.applying is None else f"{SCENES_TEXT}: applying {self.applying}…"
        )
        self.menu.setTitle(title)

    # --- applying ------------------------------------------------------------------------

    def apply(self, name: str) -> asyncio.Task[None]:
        self.last_task = spawn(self._apply(name), doing=f"Applying the scene {name}")
        return self.last_task

    async def _apply(self, name: str) -> None:
        runner = self._runner()
        scene = find_scene(self._scenes, name)
        if scene is None:
            self._notify(
                f"Scene {name} not applied",
                f"There is no scene {quoted(name)} any more (Manage scenes… lists them).",
                Severity.ERROR,
            )
            return
        if runner is None:
            self._notify(
                f"Scene {name} not applied",
                "The tray cannot load models on this server (it is not LM Studio, or not "
                "connected yet).",
                Severity.ERROR,
            )
            return
        if self.applying is not None:
            return
        self.applying = scene.name
        self._mark()
        try:
            plan = await runner.plan(scene)
            if plan.changes_nothing and not scene.start_server:
                self._notify(scene.name, plan.describe(), Severity.INFO)
                return
            check = await runner.preflight(plan)
            if (
                check is not None
                and check.fits is False
                and not await confirm(
                    f"Apply {scene.name}",
                    f"{scene.name} may not fit in GPU memory.",
                    informative=check.sentence + " LM Studio may refuse a load or be slow.",
                    yes="Apply anyway",
                    demo=self._demo,
                )
            ):
                return
            try:
                result = await runner.apply(scene, step=self._step)
            except ModelsBusy as exc:
                if not await confirm(
                    f"Apply {scene.name}",
                    exc.message.split(";")[0] + ".",
                    informative="Unloading it cuts its answer off.",
                    yes="Unload anyway",
                    demo=self._demo,
                ):
                    return
                result = await runner.apply(scene, unload_busy=True, step=self._step)
        except TrayError as exc:
            self._notify(f"Scene {scene.name} not applied", exc.message, Severity.ERROR)
            return
        finally:
            self.applying = None
            self._mark()
            self._refresh()
        severity = Severity.INFO if result.ok else Severity.WARNING
        self._notify(f"Scene {scene.name}", result.describe(), severity)

    def _step(self, what: str, fraction: float | None) -> None:
        shown = what if fraction is None else f"{what} {round(fraction * 100)}%"
        self.menu.setTitle(f"{SCENES_TEXT}: {shown}")

    # --- saving --------------------------------------------------------------------------

    async def _save_current(self) -> None:
        runner = self._runner()
        if runner is None:
            return
        name = await ask_text(
            "Save current as scene",
            "A name for the models loaded now:",
            ok="Save",
            demo=self._demo,
        )
        if name is None:
            return
        existing = next((s for s in self._scenes if s.name.casefold() == name.casefold()), None)
        if existing is not None and not await confirm(
            "Save current as scene",
            f"Replace the scene {quoted(existing.name)}?",
            informative=f"It holds {existing.summary()}.",
            yes="Replace",
            demo=self._demo,
        ):
            return
        try:
            scene = await runner.current(name)
            if existing is not None:
                scene = scene.model_copy(
                    update={"others": existing.others, "start_server": existing.start_server}
                )
            await asyncio.to_thread(
                self._store.save, scene, replacing=existing.name if existing else None
            )
        except TrayError as exc:
            self._notify("Scene not saved", exc.message, Severity.ERROR)
            return
        await self.read()
        self._notify(f"Scene {scene.name} saved", scene.summary(), Severity.INFO)
