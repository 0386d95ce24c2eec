"""The "never load a model twice" rule, pure: which live instance a load would duplicate.

LM Studio loads a model again whenever asked, as `key:2`, `key:3`… (FORMATS.md §3.2) —
twice the memory, and nothing in its UI says so. Every load the tray or the CLI makes is
decided at the moment of acting against the live instance list (`GET /api/v1/models`
`loaded_instances`, or `lms ps` when the HTTP server is off), never against a picture
taken earlier: the picker, the status poll and the restore point can all be stale.

Two questions, two rules:

* *Using* a model (the quick chat, `chat --model KEY`): any instance of the model will do,
  whatever its identifier — asking a question never loads a second copy.
* *Loading* a model (Load model…, `models load`, restore): an instance matches when the
  model key matches and, if an identifier is asked for, the identifier too; a second copy
  of a loaded model needs an identifier of its own. An identifier held by another model
  is a conflict, not a match.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from tray.core.api import ModelInfo
from tray.core.errors import IdentifierInUse
from tray.core.inventory import LoadedModelRow
from tray.core.lms_output import LmsLoadedModel

__all__ = [
    "LiveInstance",
    "instance_for_load",
    "instance_for_use",
    "instances_from_models",
    "instances_from_ps",
    "instances_from_rows",
]


class LiveInstance(BaseModel):
    """One loaded instance, as LM Studio lists it right now."""

    model_config = ConfigDict(frozen=True)

    model_key: str
    identifier: str
    context_length: int | None = None
    size_bytes: int | None = None


def instances_from_models(models: Iterable[ModelInfo]) -> list[LiveInstance]:
    """The instances of `GET /api/v1/models` (each model's `loaded_instances`)."""
    return [
        LiveInstance(
            model_key=m.key,
            identifier=inst.id,
            context_length=inst.config.context_length,
            size_bytes=m.size_bytes,
        )
        for m in models
        for inst in m.loaded_instances
    ]


def instances_from_rows(rows: Iterable[LoadedModelRow]) -> list[LiveInstance]:
    """The instances of a status's loaded rows (any kind of server)."""
    return [
        LiveInstance(
            model_key=r.model_key,
            identifier=r.identifier,
            context_length=r.context_length,
            size_bytes=r.size_bytes,
        )
        for r in rows
    ]


def instances_from_ps(ps: Iterable[LmsLoadedModel]) -> list[LiveInstance]:
    """The instances of `lms ps --json` (the list when the HTTP server is off)."""
    return [
        LiveInstance(
            model_key=p.model_key,
            identifier=p.identifier,
            context_length=p.context_length,
            size_bytes=p.size_bytes,
        )
        for p in ps
    ]


def instance_for_use(instances: Sequence[LiveInstance], name: str) -> LiveInstance | None:
    """The instance a request naming `name` (a model key or an instance identifier) would
    use: the instance with that identifier, else the first instance of that model."""
    for inst in instances:
        if inst.identifier == name:
            return inst
    return next((inst for inst in instances if inst.model_key == name), None)


def instance_for_load(
    instances: Sequence[LiveInstance], model_key: str, identifier: str | None = None
) -> LiveInstance | None:
    """The instance that loading `model_key` (as `identifier`, if given) would duplicate,
    or None when the load is wanted. Raises `IdentifierInUse` when another model holds
    the identifier."""
    if identifier is None:
        return next((inst for inst in instances if inst.model_key == model_key), None)
    for inst in instances:
        if inst.identifier == identifier:
            if inst.model_key != model_key:
                raise IdentifierInUse(identifier, inst.model_key)
            return inst
    return None
