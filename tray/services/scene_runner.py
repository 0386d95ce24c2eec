"""Applying a scene to a server: the plan from `tray.core.scenes` against the live instance
list (the model manager's, the same list every load decides on), a pre-flight for the
whole scene, then the unloads and the loads through the model manager — so a scene can
never load a model twice — and a result that says what was loaded, unloaded, kept and
what failed. A failure leaves the rest applied.

A model that is answering a request (`lms ps` says generating or processing a prompt) is
not unloaded unless the caller insists (`unload_busy`); without `lms` that cannot be
told, and the scene goes ahead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from tray.core.errors import ModelsBusy, TrayError
from tray.core.gpu import GpuReport
from tray.core.instances import LiveInstance
from tray.core.inventory import LoadedModelRow
from tray.core.lms_output import ModelStatus
from tray.core.load_profiles import LoadProfile
from tray.core.scenes import (
    FREE_GPU,
    Scene,
    SceneModel,
    ScenePlan,
    ScenePreflight,
    SceneResult,
    plan_scene,
    scene_from_instances,
    scene_preflight,
)
from tray.services.lms_runner import LmsRunner
from tray.services.load_profile_store import LoadProfileStore
from tray.services.model_manager import ModelManager

__all__ = ["SceneRunner", "SceneStep", "scene_profile"]

log = logging.getLogger(__name__)

SceneStep = Callable[[str, float | None], None]  # (what is being done, load fraction)
_BUSY = (ModelStatus.GENERATING, ModelStatus.PROCESSING_PROMPT)


def scene_profile(base: LoadProfile, model: SceneModel) -> LoadProfile:
    """The settings a scene loads `model` with: its load profile (`base`), with what the
    scene sets for it on top (the identifier only ever from the scene)."""
    merged = base.model_dump(exclude={"identifier"})
    merged.update({f: getattr(model.settings, f) for f in model.settings.set_fields()})
    return LoadProfile.model_validate(merged)


class SceneRunner:
    """Plans and applies scenes on one server."""

    def __init__(
        self,
        manager: ModelManager,
        profiles: LoadProfileStore,
        runner: LmsRunner | None,
        *,
        gpu_probe: Callable[[], GpuReport] | None = None,
        start_server: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._manager = manager
        self._profiles = profiles
        self._runner = runner
        self._gpu_probe = gpu_probe
        self._start_server = start_server

    async def live(self) -> list[LiveInstance]:
        return await self._manager.live_instances()

    async def plan(self, scene: Scene) -> ScenePlan:
        return plan_scene(scene, await self.live())

    async def current(self, name: str) -> Scene:
        """A scene called `name` of what is loaded now (for "save current as scene")."""
        return scene_from_instances(name, await self.live())

    async def busy(self, instances: Sequence[LiveInstance]) -> list[str]:
        """Which of `instances` are answering a request now (empty without `lms`)."""
        if self._runner is None or not instances:
            return []
        try:
            statuses = {p.identifier: p.status for p in await self._runner.ps()}
        except TrayError as exc:
            log.info("lms ps failed; cannot tell which models are busy: %s", exc.message)
            return []
        return [i.identifier for i in instances if statuses.get(i.identifier) in _BUSY]

    async def preflight(self, plan: ScenePlan) -> ScenePreflight | None:
        """Will the loads fit in the GPU memory free after the unloads? None without `lms`
        (its estimate) or with nothing to load."""
        if self._runner is None or not plan.load:
            return None
        estimates: list[int | None] = []
        for model in plan.load:
            profile = scene_profile(
                await asyncio.to_thread(self._profiles.effective, model.model_key), model
            )
            try:
                estimate = await self._runner.estimate(
                    model.model_key, gpu=profile.gpu_offload, context_length=profile.context_length
                )
                estimates.append(estimate.gpu_memory_bytes)
            except TrayError as exc:
                log.info("no estimate for %s: %s", model.model_key, exc.message)
                estimates.append(None)
        free: int | None = None
        if self._gpu_probe is not None:
            report = await asyncio.to_thread(self._gpu_probe)
            if report.used_bytes is not None and report.total_bytes is not None:
                free = max(0, report.total_bytes - report.used_bytes)
        return scene_preflight(plan, estimates, free)

    async def apply(
        self,
        scene: Scene,
        *,
        unload_busy: bool = False,
        how_to_insist: str = "Apply it again to unload them anyway.",
        step: SceneStep | None = None,
    ) -> SceneResult:
        """Make the server hold `scene`. Raises `ModelsBusy` (before changing anything)
        when a model to unload is answering and `unload_busy` is off."""
        say = step or (lambda _what, _fraction: None)
        failed: list[str] = []
        started = False
        if scene.start_server and self._start_server is not None:
            # First: a load through REST (no `lms`) needs the server up.
            say("Starting the server…", None)
            try:
                await self._start_server()
                started = True
            except TrayError as exc:
                failed.append(f"The server was not started: {exc.message}")
        plan = await self.plan(scene)
        busy = await self.busy(plan.unload)
        if busy and not unload_busy:
            raise ModelsBusy(busy, how_to_insist=how_to_insist)
        unloaded: list[str] = []
        if scene.name == FREE_GPU and plan.unload:
            unloaded, failed = await self._free_gpu(plan.unload, say)
        else:
            for instance in plan.unload:
                say(f"Unloading {instance.identifier}…", None)
                try:
                    await self._manager.eject(instance.identifier)
                    unloaded.append(instance.identifier)
                except TrayError as exc:
                    failed.append(f"{instance.identifier} was not unloaded: {exc.message}")
        loaded: list[str] = []
        kept = [i.identifier for i in plan.keep]
        for model in plan.load:
            outcome = await self._load(model, say)
            if isinstance(outcome, tuple):
                # A model loaded otherwise and left alone is used, never loaded twice.
                (kept if outcome[1] else loaded).append(outcome[0])
            else:
                failed.append(f"{model.shown} was not loaded: {outcome.message}")
        result = SceneResult(
            scene=scene.name,
            loaded=tuple(loaded),
            unloaded=tuple(unloaded),
            kept=tuple(kept),
            failed=tuple(failed),
            server_started=started,
        )
        log.info("%s", result.describe())
        return result

    async def _load(self, model: SceneModel, say: SceneStep) -> tuple[str, bool] | TrayError:
        """(the identifier it is loaded as, whether it was there already), or why not."""
        try:
            base = await asyncio.to_thread(self._profiles.effective, model.model_key)
            profile = scene_profile(base, model)
            say(f"Loading {model.shown}…", 0.0)
            loaded = await self._manager.load_with_profile(
                model.model_key,
                profile,
                progress=lambda fraction: say(f"Loading {model.shown}…", fraction),
            )
        except TrayError as exc:
            return exc
        return loaded.loaded.identifier, loaded.loaded.already_loaded

    async def _free_gpu(
        self, instances: Sequence[LiveInstance], say: SceneStep
    ) -> tuple[list[str], list[str]]:
        """Eject all, with the restore point Restore uses."""
        say("Ejecting every model…", None)
        rows = [
            LoadedModelRow(
                identifier=i.identifier,
                model_key=i.model_key,
                size_bytes=i.size_bytes,
                context_length=i.context_length,
            )
            for i in instances
        ]
        try:
            await self._manager.eject_all(rows)
        except TrayError as exc:
            still = {i.identifier for i in await self.live()}
            done = [i.identifier for i in instances if i.identifier not in still]
            return done, [exc.message]
        return [i.identifier for i in instances], []
