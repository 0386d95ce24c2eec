"""Settings shared by several processes (the tray and the CLI): put only what this process
changed onto what the file holds now, field by field.

A three-way merge of the settings as this process last read or wrote them (`base`), as it
wants them (`mine`) and as the file holds them now (`theirs`, after another process wrote):

* a field only one side changed takes that side's value;
* a field both changed to different values is a conflict: this process's value wins for that
  field (it is the change being saved now), and nothing else of the other's is lost;
* objects (notifications, polling, …, and keys a newer version wrote) merge key by key;
* the server profiles merge by id: a profile one side added or removed is added or removed,
  one both kept merges field by field, and the order follows whoever changed it;
* any other list is one value.

Pure: works on the settings' JSON form, returns validated `Settings`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from tray.core.settings import Settings

__all__ = ["SettingsMerge", "merge_settings"]


class _Absent:
    """A key one side does not have (distinct from a JSON null)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


class SettingsMerge(BaseModel):
    model_config = ConfigDict(frozen=True)

    settings: Settings
    # Fields both sides changed to different values, where this process's value was kept
    # ("polling.idle_seconds", "profiles[lan].name").
    conflicts: tuple[str, ...] = ()


def merge_settings(base: Settings, mine: Settings, theirs: Settings) -> SettingsMerge:
    """`theirs` with what changed from `base` to `mine` applied to it (see the module)."""
    conflicts: list[str] = []
    merged = _merge(
        base.model_dump(mode="json"),
        mine.model_dump(mode="json"),
        theirs.model_dump(mode="json"),
        "",
        conflicts,
    )
    return SettingsMerge(settings=Settings.model_validate(merged), conflicts=tuple(conflicts))


def _merge(base: Any, mine: Any, theirs: Any, where: str, conflicts: list[str]) -> Any:
    if mine == base:
        return theirs
    if theirs in (base, mine):
        return mine
    if all(isinstance(v, dict) for v in (mine, theirs)):
        return _merge_objects(
            base if isinstance(base, dict) else {}, mine, theirs, where, conflicts
        )
    if all(_by_id(v) for v in (mine, theirs)) and (base is ABSENT or _by_id(base)):
        return _merge_by_id([] if base is ABSENT else base, mine, theirs, where, conflicts)
    conflicts.append(where or "(all settings)")
    return mine


def _merge_objects(
    base: dict[str, Any],
    mine: dict[str, Any],
    theirs: dict[str, Any],
    where: str,
    conflicts: list[str],
) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in [*theirs, *(k for k in mine if k not in theirs)]:
        value = _merge(
            base.get(key, ABSENT),
            mine.get(key, ABSENT),
            theirs.get(key, ABSENT),
            f"{where}.{key}" if where else key,
            conflicts,
        )
        if value is not ABSENT:
            merged[key] = value
    return merged


def _by_id(value: Any) -> bool:
    """A list of objects that each have a distinct string `id` (the server profiles)."""
    if not isinstance(value, list) or not all(
        isinstance(item, dict) and isinstance(item.get("id"), str) for item in value
    ):
        return False
    return len({item["id"] for item in value}) == len(value)


def _merge_by_id(
    base: list[dict[str, Any]],
    mine: list[dict[str, Any]],
    theirs: list[dict[str, Any]],
    where: str,
    conflicts: list[str],
) -> list[dict[str, Any]]:
    sides = [{item["id"]: item for item in side} for side in (base, mine, theirs)]
    b, m, t = sides
    merged: dict[str, dict[str, Any]] = {}
    for ident in [*t, *(i for i in m if i not in t)]:
        value = _merge(
            b.get(ident, ABSENT),
            m.get(ident, ABSENT),
            t.get(ident, ABSENT),
            f"{where}[{ident}]",
            conflicts,
        )
        if value is not ABSENT:
            merged[ident] = value
    # The order: mine if I reordered the ones that were there, else theirs; then new ones.
    kept_mine, kept_base = [i for i in m if i in b], [i for i in b if i in m]
    ranked: dict[str, int] = {}
    for ident in [*(kept_mine if kept_mine != kept_base else []), *t, *m]:
        ranked.setdefault(ident, len(ranked))
    return sorted(merged.values(), key=lambda item: ranked[item["id"]])
