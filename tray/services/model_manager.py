"""Loading, ejecting and restoring models on one server, for the tray and the CLI alike.

Ejecting goes through the REST API (it needs no `lms`). "Eject all" first saves the set
that was loaded as a restore point (atomically, one JSON file per server profile, so it
survives a restart), then ejects. Loading and restoring prefer `lms load`, the only way
to set an identifier, parallel slots, TTL and GPU offload (FORMATS.md §1.6) and to see
progress; without `lms` the REST API loads with a context length and we say what it
could not carry.

No load ever duplicates a loaded model: every load first reads the live instance list and
returns the instance that is already there (`core/instances.py` has the rule), so the
Load model dialog, the quick chat, `chat`, `models load` and restore all share it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from tray.core.api import LoadConfig, LoadRequest, ModelInfo
from tray.core.errors import (
    FileParseError,
    LmsLoadedAnotherModel,
    LmStudioError,
    ServerUnreachable,
    TrayError,
)
from tray.core.gpu import GpuReport
from tray.core.instances import (
    LiveInstance,
    instance_for_load,
    instance_for_use,
    instances_from_models,
    instances_from_ps,
)
from tray.core.inventory import LoadedModelRow
from tray.core.lms_output import LmsLoadedModel
from tray.core.load_profiles import (
    LmsLoadArgs,
    LoadProfile,
    Preflight,
    ProfileLoadResult,
    check_loaded,
    kv_bytes_per_token_from_estimates,
    plan_load,
)
from tray.core.load_profiles import (
    preflight as compute_preflight,
)
from tray.core.restore import LoadedResult, RestoreModel, RestoreOutcome, RestorePoint
from tray.core.words import plural, quoted
from tray.services.files import atomic_write, read_json
from tray.services.lms_runner import GpuOffload, LmsRunner, LoadProgress
from tray.services.lmstudio_client import LmStudioClient
from tray.services.model_defaults import LmStudioDefaults

__all__ = ["ModelManager"]

log = logging.getLogger(__name__)


def _gpu_ratio(gpu: GpuOffload | None) -> float | None:
    if gpu is None:
        return None
    if gpu == "off":
        return 0.0
    if gpu == "max":
        return 1.0
    return float(gpu)


class ModelManager:
    """Eject, eject all, restore and load on the server `client` talks to.

    `runner` is None when `lms` is missing or the profile may not use it (a remote
    server): then loads go through REST. `on_user_unload(identifier)` is called before
    each unload the user asked for, so that a model vanishing is not taken for an
    eviction. `gpu_probe` (blocking, run in a thread) gives the free VRAM for the
    pre-flight; `defaults` writes LM Studio's own per-model defaults for profiles that ask.
    """

    def __init__(
        self,
        client: LmStudioClient,
        runner: LmsRunner | None,
        *,
        state_dir: Path,
        profile_id: str,
        on_user_unload: Callable[[str], None] | None = None,
        gpu_probe: Callable[[], GpuReport] | None = None,
        defaults: LmStudioDefaults | None = None,
    ) -> None:
        self._client = client
        self._gpu_probe = gpu_probe
        self._defaults = defaults
        self._runner = runner
        self._profile_id = profile_id
        self._on_user_unload = on_user_unload
        self._requested: dict[str, int] = {}  # identifier -> context length we asked for
        self._gpu: dict[str, float] = {}  # identifier -> GPU ratio we asked for
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", profile_id) or "default"
        self.restore_point_path = state_dir / f"restore-point-{safe}.json"

    @property
    def uses_lms(self) -> bool:
        return self._runner is not None

    def requested_context(self, identifier: str) -> int | None:
        """The context length we asked for when we loaded `identifier` (None: unknown)."""
        return self._requested.get(identifier)

    # --- eject --------------------------------------------------------------------------

    def _user_unloads(self, identifier: str) -> None:
        if self._on_user_unload is not None:
            try:
                self._on_user_unload(identifier)
            except Exception:
                log.exception("on_user_unload failed for %s", identifier)

    async def eject(self, identifier: str) -> None:
        self._user_unloads(identifier)
        await self._client.unload_model(identifier)
        self._forget(identifier)

    async def eject_all(self, rows: Sequence[LoadedModelRow]) -> RestorePoint:
        """Save `rows` as the restore point, then eject each. Raises (after trying every
        model) when some could not be ejected; the restore point is saved regardless."""
        rows = await self._with_lms_facts(rows)
        point = RestorePoint.from_rows(
            rows, profile_id=self._profile_id, taken_at=datetime.now(UTC), gpu_ratios=self._gpu
        )
        if point.models:
            # Save first: if saving fails nothing is ejected, so nothing is lost.
            await asyncio.to_thread(self._save, point)
        failures: list[tuple[str, TrayError]] = []
        for row in rows:
            try:
                await self.eject(row.identifier)
            except TrayError as exc:
                log.info("eject all: %s: %s", row.identifier, exc.message)
                failures.append((row.identifier, exc))
        if failures:
            said = " ".join(f"{ident}: {exc.message}" for ident, exc in failures)
            raise LmStudioError(
                f"Could not eject {len(failures)} of {plural(len(rows), 'model')}. {said} "
                "The others were ejected; Restore brings all of them back.",
                title="Eject all incomplete",
            )
        return point

    async def _with_lms_facts(self, rows: Sequence[LoadedModelRow]) -> list[LoadedModelRow]:
        """Rows with TTL and parallel from `lms ps` where the status lacked them (it has
        them only while the menu is open). LM Studio runs (the rows came from its HTTP
        API), so `lms ps` wakes nothing."""
        if self._runner is None or not rows or all(r.status is not None for r in rows):
            return list(rows)
        try:
            ps: dict[str, LmsLoadedModel] = {p.identifier: p for p in await self._runner.ps()}
        except TrayError as exc:
            log.info("lms ps failed; restoring without TTL/parallel: %s", exc.message)
            return list(rows)
        out = []
        for row in rows:
            p = ps.get(row.identifier)
            if p is not None and row.status is None:
                row = row.model_copy(
                    update={
                        "ttl_seconds": p.ttl_ms / 1000 if p.ttl_ms is not None else None,
                        "parallel": row.parallel if row.parallel is not None else p.parallel,
                        "status": p.status.value,
                    }
                )
            out.append(row)
        return out

    # --- restore point -------------------------------------------------------------------

    def restore_point(self) -> RestorePoint | None:
        """The restore point still to be restored, if any (an unreadable file counts as
        none, and is logged)."""
        point = self._read()
        return point if point is not None and point.pending else None

    def _read(self) -> RestorePoint | None:
        try:
            raw = read_json(self.restore_point_path)
            return RestorePoint.model_validate(raw)
        except FileNotFoundError:
            return None
        except (FileParseError, ValidationError) as exc:
            log.warning("ignoring the restore point %s: %s", self.restore_point_path, exc)
            return None

    def _save(self, point: RestorePoint) -> None:
        data = json.dumps(point.model_dump(mode="json"), indent=2) + "\n"
        atomic_write(self.restore_point_path, data.encode("utf-8"), mode=0o600)

    async def restore(self) -> list[RestoreOutcome]:
        """Load the restore point's models again, each with its identifier and settings.
        Models already loaded under their identifier are left alone. The point is marked
        done when every model is back; otherwise it stays for another try."""
        point = self.restore_point()
        if point is None:
            return []
        live = await self.live_instances()
        outcomes = []
        for model in point.models:
            try:
                there = instance_for_load(live, model.model_key, self._settable(model.identifier))
            except TrayError as exc:
                outcomes.append(
                    RestoreOutcome(
                        model_key=model.model_key, identifier=model.identifier, error=exc.message
                    )
                )
                continue
            if there is not None:
                outcomes.append(
                    RestoreOutcome(
                        model_key=model.model_key,
                        identifier=model.identifier,
                        loaded_as=model.identifier,
                        already_loaded=True,
                    )
                )
                continue
            outcomes.append(await self._restore_one(model))
        if all(o.ok for o in outcomes):
            done = point.model_copy(update={"restored_at": datetime.now(UTC)})
            await asyncio.to_thread(self._save, done)
        return outcomes

    async def _restore_one(self, model: RestoreModel) -> RestoreOutcome:
        try:
            result = await self._load(
                model.model_key,
                LmsLoadArgs(
                    context_length=model.context_length,
                    gpu=model.gpu_ratio,
                    ttl_seconds=model.ttl_seconds,
                    parallel=model.parallel,
                    identifier=model.identifier,
                ),
            )
        except TrayError as exc:
            return RestoreOutcome(
                model_key=model.model_key, identifier=model.identifier, error=exc.message
            )
        return RestoreOutcome(
            model_key=model.model_key,
            identifier=model.identifier,
            loaded_as=result.identifier,
            not_restored=result.not_applied,
        )

    # --- the live instance list: what every load decides on -----------------------------

    async def live_instances(self) -> list[LiveInstance]:
        """The instances loaded right now: the HTTP API's list, or `lms ps` when the HTTP
        server is off (LM Studio keeps models loaded with its server stopped, and `lms`
        loads without it). Raises when neither can tell."""
        try:
            return instances_from_models(await self._client.list_models())
        except ServerUnreachable:
            if self._runner is None:
                raise
            log.info("the HTTP API is off; reading the loaded models with lms ps")
            return instances_from_ps(await self._runner.ps())

    def _settable(self, identifier: str | None) -> str | None:
        """The identifier a load here would really get: only `lms` sets one (REST names
        the instance itself), so without it any instance of the model is a match."""
        return identifier if self._runner is not None else None

    async def use_or_load(
        self,
        name: str,
        profile: LoadProfile,
        *,
        progress: LoadProgress | None = None,
    ) -> ProfileLoadResult:
        """Make `name` (a model key or a loaded identifier) ready to answer: any loaded
        instance of it is used as it is; only a model with no instance is loaded, with
        `profile`. For asking a question, where a second copy is never wanted."""
        found = instance_for_use(await self._client_instances(), name)
        if found is not None:
            return self._already(found, profile)
        return await self.load_with_profile(name, profile, progress=progress)

    async def _client_instances(self) -> list[LiveInstance]:
        # Asking needs the HTTP server, so its list is the one that counts here.
        return instances_from_models(await self._client.list_models())

    def _already(self, instance: LiveInstance, profile: LoadProfile) -> ProfileLoadResult:
        log.info(
            "%s is already loaded as %s: not loading it again",
            instance.model_key,
            instance.identifier,
        )
        return ProfileLoadResult(loaded=LoadedResult.existing(instance), profile=profile, path=None)

    # --- load ---------------------------------------------------------------------------

    async def load(
        self,
        model_key: str,
        args: LmsLoadArgs | None = None,
        *,
        progress: LoadProgress | None = None,
    ) -> LoadedResult:
        """Load a downloaded model: `lms load` (all settings, progress) when we have lms,
        else `POST /api/v1/models/load` (context length only, no progress). A model that
        is loaded already (as `args.identifier`, if given) is not loaded again."""
        args = args or LmsLoadArgs()
        there = instance_for_load(
            await self.live_instances(), model_key, self._settable(args.identifier)
        )
        if there is not None:
            log.info(
                "%s is already loaded as %s: not loading it again", model_key, there.identifier
            )
            return LoadedResult.existing(there)
        return await self._load(model_key, args, progress=progress)

    async def _load(
        self, model_key: str, args: LmsLoadArgs, *, progress: LoadProgress | None = None
    ) -> LoadedResult:
        """Load without looking first: the caller has just checked the live list."""
        if self._runner is not None:
            result = await self._load_with_lms(self._runner, model_key, args, progress)
        else:
            rest_only = args.model_copy(update={"context_length": None})
            result, _ = await self._load_rest(
                LoadRequest(
                    model=model_key, context_length=args.context_length, echo_load_config=True
                ),
                not_applied=rest_only.set_names(),
            )
        if args.context_length is not None:
            self._requested[result.identifier] = args.context_length
        if (ratio := _gpu_ratio(args.gpu)) is not None and result.via == "lms":
            self._gpu[result.identifier] = ratio
        log.info("loaded %s as %s via %s", model_key, result.identifier, result.via)
        return result

    async def _load_rest(
        self, request: LoadRequest, *, not_applied: tuple[str, ...] = ()
    ) -> tuple[LoadedResult, LoadConfig | None]:
        response = await self._client.load_model(request)
        config = response.load_config
        result = LoadedResult(
            model_key=request.model,
            identifier=response.instance_id,
            via="rest",
            context_length=config.context_length if config else None,
            requested_context_length=request.context_length,
            load_seconds=response.load_time_seconds,
            not_applied=not_applied,
        )
        return result, config

    # --- load with a profile -----------------------------------------------------------

    async def preflight(self, model_key: str, profile: LoadProfile) -> Preflight | None:
        """Will loading `model_key` with `profile` fit in free VRAM? None without `lms`
        (the estimate is an `lms` feature). With parallel slots and a context length,
        a second estimate at half the context gives the KV cache per token."""
        if self._runner is None:
            return None
        gpu, context = profile.gpu_offload, profile.context_length
        estimate = await self._runner.estimate(model_key, gpu=gpu, context_length=context)
        per_token: int | None = None
        if (profile.parallel or 1) > 1 and context is not None and context >= 2:
            half = await self._runner.estimate(model_key, gpu=gpu, context_length=context // 2)
            per_token = kv_bytes_per_token_from_estimates(half, estimate)
        report = await asyncio.to_thread(self._gpu_probe) if self._gpu_probe else None
        return compute_preflight(
            estimate, profile=profile, gpu=report, kv_bytes_per_token=per_token
        )

    async def load_with_profile(
        self,
        model_key: str,
        profile: LoadProfile,
        *,
        progress: LoadProgress | None = None,
    ) -> ProfileLoadResult:
        """Load with a profile: write LM Studio's own default first when the profile asks,
        take the path that carries the most of it, then compare what LM Studio reports
        with what was asked. A model already loaded (as the profile's identifier, if it
        names one) is not loaded again: the result says so."""
        there = instance_for_load(
            await self.live_instances(), model_key, self._settable(profile.identifier)
        )
        if there is not None:
            return self._already(there, profile)
        written: tuple[str, ...] = ()
        defaults_error: str | None = None
        planned = profile
        if profile.write_lmstudio_defaults:
            try:
                written = await self._write_defaults(model_key, profile)
            except TrayError as exc:
                defaults_error = exc.message
            if not written:
                planned = profile.model_copy(update={"write_lmstudio_defaults": False})
        plan = plan_load(
            planned,
            model_key=model_key,
            rest_available=True,
            lms_available=self._runner is not None,
        )
        reported: LoadConfig | None
        if plan.path == "lms" and plan.lms_args is not None:
            loaded = await self._load(model_key, plan.lms_args, progress=progress)
            reported = await self._instance_config(loaded.identifier)
        else:
            assert plan.rest_request is not None
            loaded, reported = await self._load_rest(plan.rest_request)
            if plan.rest_request.context_length is not None:
                self._requested[loaded.identifier] = plan.rest_request.context_length
            if reported is None or reported.parallel is None:
                reported = await self._instance_config(loaded.identifier) or reported
        skipped = {u.field for u in plan.unapplied}
        asked = LoadProfile.model_validate(
            {f: getattr(profile, f) for f in profile.set_fields() if f not in skipped}
        )
        result = ProfileLoadResult(
            loaded=loaded,
            profile=profile,
            path=plan.path,
            via_defaults=plan.via_defaults,
            unapplied=plan.unapplied,
            mismatches=tuple(check_loaded(asked, reported)),
            defaults_written=written,
            defaults_error=defaults_error,
        )
        log.info("loaded %s with a profile via %s (ok: %s)", model_key, plan.path, result.ok)
        return result

    async def _write_defaults(self, model_key: str, profile: LoadProfile) -> tuple[str, ...]:
        if self._defaults is None:
            raise TrayError(
                "LM Studio's home folder is not known here, so its per-model defaults cannot "
                "be written.",
                title="LM Studio defaults not written",
            )
        model_path: str | None = None
        if self._runner is not None:
            try:
                model_path = next(
                    (m.path for m in await self._runner.ls() if m.model_key == model_key), None
                )
            except TrayError as exc:
                log.info("lms ls failed; writing the model-key default only: %s", exc.message)
        defaults = self._defaults
        paths = await asyncio.to_thread(defaults.write, model_key, profile, model_path=model_path)
        return tuple(str(p) for p in paths)

    async def _instance_config(self, identifier: str) -> LoadConfig | None:
        """The load config the HTTP API lists for a loaded instance (None: not found)."""
        try:
            models = await self._client.list_models()
        except LmStudioError as exc:
            log.info("could not read the loaded config of %s: %s", identifier, exc.message)
            return None
        for m in models:
            for inst in m.loaded_instances:
                if inst.id == identifier:
                    return inst.config
        return None

    async def _load_with_lms(
        self,
        runner: LmsRunner,
        model_key: str,
        args: LmsLoadArgs,
        progress: LoadProgress | None,
    ) -> LoadedResult:
        started = time.monotonic()
        path = await self._path_of(runner, model_key)
        outcome = await runner.load(model_key, args, path=path, progress=progress)
        ident = outcome.identifier or args.identifier
        # lms does not say what context it allocated; the HTTP API's instance list does.
        allocated: int | None = None
        key = model_key
        size = outcome.size_bytes
        try:
            models = await self._client.list_models()
        except LmStudioError as exc:
            log.info("could not read the loaded context length: %s", exc.message)
            models = []
        found = _find_instance(models, ident, model_key)
        if found is not None:
            model, instance_id, allocated = found
            key, ident = model.key, instance_id
            size = size if size is not None else model.size_bytes
        elif ident is not None:
            key = await self._key_of(runner, ident) or key
        if _base_key(key) != _base_key(model_key) and ident is not None:
            await self._undo_wrong_load(runner, asked=model_key, loaded=key, identifier=ident)
        return LoadedResult(
            model_key=key,
            identifier=ident or model_key,
            via="lms",
            context_length=allocated,
            requested_context_length=args.context_length,
            size_bytes=size,
            load_seconds=outcome.elapsed_seconds or time.monotonic() - started,
        )

    async def _path_of(self, runner: LmsRunner, model_key: str) -> str | None:
        """The model's path for `lms load --exact` (None: not listed, or `lms ls` failed;
        then lms gets the key, and what it loads is checked afterwards)."""
        try:
            models = await runner.ls()
        except TrayError as exc:
            log.info("lms ls failed; loading %s by its key: %s", model_key, exc.message)
            return None
        mine = [m for m in models if _base_key(m.model_key) == _base_key(model_key) and m.path]
        # A model on this computer before the same model on an LM Link device.
        mine.sort(key=lambda m: m.device_identifier is not None)
        return mine[0].path if mine else None

    async def _key_of(self, runner: LmsRunner, identifier: str) -> str | None:
        """Which model the instance `identifier` is, from `lms ps` (the HTTP API is off)."""
        try:
            loaded = await runner.ps()
        except TrayError as exc:
            log.info("lms ps failed; cannot check what was loaded: %s", exc.message)
            return None
        return next((m.model_key for m in loaded if m.identifier == identifier), None)

    async def _undo_wrong_load(
        self, runner: LmsRunner, *, asked: str, loaded: str, identifier: str
    ) -> None:
        """lms loaded another model than `asked`: eject it again (we loaded it, nobody
        asked for it) and say so with both names."""
        said = f"lms loaded {quoted(loaded)} when {quoted(asked)} was asked for"
        try:
            await runner.unload(identifier)
        except TrayError as exc:
            raise LmsLoadedAnotherModel(
                f"{said}. It is still loaded as {quoted(identifier)} ({exc.message}): eject "
                "it from the tray menu if you do not need it."
            ) from exc
        raise LmsLoadedAnotherModel(
            f"{said}, so it was ejected again. Check that {quoted(asked)} is downloaded "
            "(`lmstudio-tray models`), then load it again."
        )

    def _forget(self, identifier: str) -> None:
        self._requested.pop(identifier, None)
        self._gpu.pop(identifier, None)


def _base_key(key: str) -> str:
    """A model key without its variant (`qwen/qwen3-4b@q4_k_m` → `qwen/qwen3-4b`)."""
    return key.split("@", 1)[0].casefold()


def _find_instance(
    models: Sequence[ModelInfo], identifier: str | None, model_key: str
) -> tuple[ModelInfo, str, int | None] | None:
    """The loaded instance lms just made: by identifier, or (when lms did not print one)
    the newest instance of the model."""
    for m in models:
        for inst in m.loaded_instances:
            if identifier is not None and inst.id == identifier:
                return m, inst.id, inst.config.context_length
    if identifier is None:
        for m in models:
            if m.key == model_key and m.loaded_instances:
                inst = m.loaded_instances[-1]
                return m, inst.id, inst.config.context_length
    return None
