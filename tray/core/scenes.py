"""Scenes: a name and the model instances it wants loaded, applied in one go.

A scene lists models (each a model key and the load settings this scene gives it, its
identifier among them) and says whether models outside it are unloaded (the default) or
left alone, and whether the server should be running. Applying one is planned here, pure:
the difference against the live instance list — keep what already matches, unload what
the scene does not want, load what is missing — so that applying a scene that already
holds changes nothing and nothing is ever loaded twice. The pre-flight for the whole
scene adds the estimates of what will be loaded and holds them against the GPU memory
free once the unloads are done.

"Free GPU" is built in: no models, everything else unloaded (with the restore point that
Restore already uses).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tray.core.gpu import format_bytes
from tray.core.instances import LiveInstance
from tray.core.load_profiles import FIELD_LABELS, LoadProfile
from tray.core.words import plural, quoted

__all__ = [
    "FREE_GPU",
    "SCENES_SCHEMA",
    "Scene",
    "SceneModel",
    "ScenePlan",
    "ScenePreflight",
    "SceneResult",
    "ScenesFile",
    "current_scene",
    "find_scene",
    "parse_scene",
    "plan_scene",
    "scene_from_instances",
    "scene_preflight",
    "unique_scene_name",
]

SCENES_SCHEMA = 1
FREE_GPU = "Free GPU"
Others = Literal["unload", "keep"]


class SceneModel(BaseModel):
    """One instance a scene wants: the model and the settings this scene loads it with
    (over the model's load profile; `settings.identifier` names the instance)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_key: str = Field(min_length=1)
    settings: LoadProfile = LoadProfile()

    @property
    def identifier(self) -> str | None:
        return self.settings.identifier

    @property
    def shown(self) -> str:
        """How the instance is named to the user: its identifier, or its model key."""
        return self.identifier or self.model_key


class Scene(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    models: tuple[SceneModel, ...] = ()
    others: Others = "unload"  # models outside the scene: unloaded, or left alone
    start_server: bool = False  # make sure the API server runs (after the models)

    @field_validator("name")
    @classmethod
    def _trimmed(cls, name: str) -> str:
        name = name.strip()
        if not name:
            raise ValueError("a scene needs a name")
        return name

    @field_validator("models")
    @classmethod
    def _distinct(cls, models: tuple[SceneModel, ...]) -> tuple[SceneModel, ...]:
        seen: set[str] = set()
        for model in models:
            name = model.identifier or f"model {model.model_key}"
            if name in seen:
                raise ValueError(
                    f"{quoted(model.shown)} is in the scene twice: a second instance of a "
                    "model needs an identifier of its own"
                )
            seen.add(name)
        return models

    def summary(self) -> str:
        """ "qwen/qwen3-4b, gemma-vision (16,384 tokens); others unloaded"."""
        parts = []
        for model in self.models:
            extra = (
                f" ({model.settings.context_length:,} tokens)"
                if model.settings.context_length
                else ""
            )
            parts.append(model.shown + extra)
        what = ", ".join(parts) if parts else "no models"
        return f"{what}; others {'unloaded' if self.others == 'unload' else 'left loaded'}"


def parse_scene(data: Mapping[str, Any]) -> Scene:
    """The scene a form's values describe; `ValueError` with one sentence a user can act
    on when they cannot be one (no name, a model in it twice, a value out of range)."""
    if not str(data.get("name") or "").strip():
        raise ValueError("Give the scene a name.")
    try:
        return Scene.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        detail = str(first["msg"]).removeprefix("Value error, ")
        where = first["loc"]
        if where and where[0] == "name":
            limit = (first.get("ctx") or {}).get("max_length")
            detail = f"the name is longer than {limit} characters" if limit else detail
        elif len(where) > 1 and where[0] == "models" and isinstance(where[1], int):
            field = next((str(p) for p in where[2:] if isinstance(p, str) and p != "settings"), "")
            label = FIELD_LABELS.get(field, field.replace("_", " "))
            detail = f"model {where[1] + 1}" + (f", {label}" if label else "") + f": {detail}"
        sentence = detail[:1].upper() + detail[1:]
        raise ValueError(sentence if sentence.endswith(".") else sentence + ".") from None


def unique_scene_name(wanted: str, taken: Iterable[str]) -> str:
    """`wanted`, or `wanted 2`, `wanted 3`… — free among `taken` and "Free GPU", ignoring
    case (for a new scene or a copy)."""
    used = {t.casefold() for t in taken} | {FREE_GPU.casefold()}
    name, n = wanted, 2
    while name.casefold() in used:
        name, n = f"{wanted} {n}", n + 1
    return name


class ScenesFile(BaseModel):
    """What the scenes file holds."""

    model_config = ConfigDict(extra="ignore")

    version: int = SCENES_SCHEMA
    scenes: tuple[Scene, ...] = ()

    @field_validator("scenes")
    @classmethod
    def _unique_names(cls, scenes: tuple[Scene, ...]) -> tuple[Scene, ...]:
        names = [s.name.casefold() for s in scenes]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two scenes are called {quoted(name)}")
        return scenes


def find_scene(scenes: Iterable[Scene], name: str) -> Scene | None:
    """The scene called `name` (case does not matter); "Free GPU" is always there."""
    wanted = name.strip().casefold()
    for scene in scenes:
        if scene.name.casefold() == wanted:
            return scene
    if wanted == FREE_GPU.casefold():
        return Scene(name=FREE_GPU)
    return None


class ScenePlan(BaseModel):
    """What applying a scene does: `keep` the instances that already match, `unload`
    those it does not want, `load` what is missing. Empty `load` and `unload`: the scene
    already holds."""

    model_config = ConfigDict(frozen=True)

    scene: str
    keep: tuple[LiveInstance, ...] = ()
    unload: tuple[LiveInstance, ...] = ()
    load: tuple[SceneModel, ...] = ()

    @property
    def changes_nothing(self) -> bool:
        return not self.load and not self.unload

    def describe(self) -> str:
        if self.changes_nothing:
            return f"{self.scene} already holds: nothing to load or unload."
        parts = []
        if self.unload:
            parts.append("unload " + ", ".join(i.identifier for i in self.unload))
        if self.load:
            parts.append("load " + ", ".join(m.shown for m in self.load))
        if self.keep:
            parts.append("keep " + ", ".join(i.identifier for i in self.keep))
        return f"{self.scene}: " + "; ".join(parts) + "."


def _matches(model: SceneModel, instance: LiveInstance) -> bool:
    """Whether `instance` is what `model` asks for: the same model, under the scene's
    identifier when it names one, with the scene's context length when it sets one."""
    if instance.model_key != model.model_key:
        return False
    if model.identifier is not None and instance.identifier != model.identifier:
        return False
    wanted = model.settings.context_length
    return wanted is None or instance.context_length in (None, wanted)


def plan_scene(scene: Scene, live: Sequence[LiveInstance]) -> ScenePlan:
    """The difference between `scene` and what is loaded. An instance that matches no
    scene model is unloaded when the scene unloads others; an instance that holds a
    scene's identifier with the wrong model or context is unloaded first, so the scene's
    own load can take the identifier."""
    keep: list[LiveInstance] = []
    load: list[SceneModel] = []
    taken: set[str] = set()
    for model in scene.models:
        found = next(
            (i for i in live if i.identifier not in taken and _matches(model, i)),
            None,
        )
        if found is None:
            load.append(model)
        else:
            keep.append(found)
            taken.add(found.identifier)
    wanted_ids = {m.identifier for m in load if m.identifier is not None}
    unload = [
        i
        for i in live
        if i.identifier not in taken and (scene.others == "unload" or i.identifier in wanted_ids)
    ]
    return ScenePlan(scene=scene.name, keep=tuple(keep), unload=tuple(unload), load=tuple(load))


def current_scene(scenes: Iterable[Scene], live: Sequence[LiveInstance]) -> Scene | None:
    """The scene that matches what is loaded (the menu's check mark): the first whose
    plan changes nothing. "Free GPU" only when nothing is loaded."""
    for scene in scenes:
        if plan_scene(scene, live).changes_nothing:
            return scene
    return None


def scene_from_instances(
    name: str, live: Sequence[LiveInstance], *, others: Others = "unload"
) -> Scene:
    """A scene of what is loaded now: each instance with its identifier (when it is not
    just the model key) and its context length."""
    models = []
    for instance in live:
        identifier = instance.identifier if instance.identifier != instance.model_key else None
        models.append(
            SceneModel(
                model_key=instance.model_key,
                settings=LoadProfile(identifier=identifier, context_length=instance.context_length),
            )
        )
    return Scene(name=name, models=tuple(models), others=others)


class ScenePreflight(BaseModel):
    """Will the whole scene fit? `fits` None: no GPU numbers to tell."""

    model_config = ConfigDict(frozen=True)

    fits: bool | None
    needed_bytes: int
    free_bytes: int | None
    sentence: str


def scene_preflight(
    plan: ScenePlan, estimates: Sequence[int | None], free_now: int | None
) -> ScenePreflight:
    """`estimates`: the GPU memory each of `plan.load` takes (None: not known); `free_now`:
    free GPU memory before the unloads. What the unloads give back is their size."""
    needed = sum(e for e in estimates if e is not None)
    unknown = sum(1 for e in estimates if e is None)
    freed = sum(i.size_bytes or 0 for i in plan.unload)
    if free_now is None:
        return ScenePreflight(
            fits=None,
            needed_bytes=needed,
            free_bytes=None,
            sentence=f"{plan.scene} loads about {format_bytes(needed)}; free GPU memory is "
            "not known here, so whether it fits cannot be told.",
        )
    free = free_now + freed
    fits = needed <= free
    sentence = (
        f"{plan.scene} loads about {format_bytes(needed)} and {format_bytes(free)} will be "
        f"free after the unloads: "
        + ("it fits." if fits else f"{format_bytes(needed - free)} more than the GPU has.")
    )
    if unknown:
        sentence += f" ({plural(unknown, 'model')} without an estimate not counted.)"
    return ScenePreflight(fits=fits, needed_bytes=needed, free_bytes=free, sentence=sentence)


class SceneResult(BaseModel):
    """What applying did: identifiers loaded, unloaded and kept, and what failed (a
    sentence each); a failure leaves the rest applied."""

    model_config = ConfigDict(frozen=True)

    scene: str
    loaded: tuple[str, ...] = ()
    unloaded: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    server_started: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed

    def describe(self) -> str:
        if not (self.loaded or self.unloaded or self.failed):
            return f"{self.scene} already held: nothing changed."
        parts = []
        for verb, items in (
            ("loaded", self.loaded),
            ("unloaded", self.unloaded),
            ("kept", self.kept),
        ):
            if items:
                parts.append(f"{verb} {', '.join(items)}")
        text = f"{self.scene}: " + "; ".join(parts) + "."
        if self.failed:
            text += " Not done: " + " ".join(self.failed)
        return text
