"""Readable differences between two versions of a tracked file (pure: bytes in, model out).

A preset (or LM Studio's per-model default) is compared field by field by its
`operation.fields` / `load.fields` keys ("temperature 0.7 → 0.2", fields added or
removed, identifier and name); `mcp.json` by server (added, removed, changed, and which
keys of a changed server); any other JSON (our load profiles) by key path. Everything else
— and any version that does not parse — falls back to a unified text diff, so a broken
file never breaks the history view. Values of secret-looking keys (`API_KEY`,
`Authorization`) are shown as changed without their values, and every shown value goes
through `redact`.
"""

from __future__ import annotations

import difflib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tray.core.redact import redact
from tray.core.secrets_scan import is_secret_key

__all__ = [
    "DiffLine",
    "FieldChange",
    "FileDiff",
    "diff_contents",
    "format_value",
    "short_key",
]

Kind = Literal["preset", "mcp", "json", "text"]
_SECTIONS = ("operation", "load")
_PREFIXES = ("llm.prediction.", "llm.load.", "embedding.load.", "load.")
_MAX_VALUE = 120
_HIDDEN = "(hidden)"
_SIGNS: dict[str, Literal["+", "-", "~"]] = {"added": "+", "removed": "-", "changed": "~"}


class FieldChange(BaseModel):
    """One field (or key path) that differs. `old`/`new` are display strings; None means
    the field is absent on that side."""

    model_config = ConfigDict(frozen=True)

    path: str  # full key or JSON key path: "operation/llm.prediction.temperature"
    label: str  # what a person reads: "temperature"
    change: Literal["added", "removed", "changed"]
    old: str | None = None
    new: str | None = None

    @property
    def text(self) -> str:
        if self.change == "added":
            return f"{self.label} added: {self.new}"
        if self.change == "removed":
            return f"{self.label} removed (was {self.old})"
        return f"{self.label} {self.old} → {self.new}"


class DiffLine(BaseModel):
    """A line of the rendered diff: `+` added, `-` removed, `~` changed, `@` a heading
    (hunk or section), ` ` context."""

    model_config = ConfigDict(frozen=True)

    sign: Literal["+", "-", "~", "@", " "]
    text: str


class FileDiff(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: Kind
    old_label: str
    new_label: str
    old_exists: bool
    new_exists: bool
    changes: list[FieldChange] = []  # field-level kinds
    text_lines: list[str] = []  # unified diff (text kind, or as a complement)
    note: str | None = None  # why we fell back to text, etc.

    @property
    def same(self) -> bool:
        if self.old_exists != self.new_exists:
            return False
        return not self.changes and not self.text_lines

    def lines(self) -> list[DiffLine]:
        """The diff as coloured lines for a view or the CLI."""
        out: list[DiffLine] = []
        if not self.old_exists and self.new_exists:
            out.append(DiffLine(sign="@", text=f"{self.name} created"))
        elif self.old_exists and not self.new_exists:
            out.append(DiffLine(sign="@", text=f"{self.name} deleted"))
        if self.note:
            out.append(DiffLine(sign="@", text=self.note))
        for c in self.changes:
            out.append(DiffLine(sign=_SIGNS[c.change], text=c.text))
        for line in self.text_lines:
            if line.startswith(("+++", "---")):
                continue
            if line.startswith("@@"):
                out.append(DiffLine(sign="@", text=line))
            elif line[:1] in ("+", "-"):
                out.append(DiffLine(sign="+" if line[0] == "+" else "-", text=line[1:]))
            else:
                out.append(DiffLine(sign=" ", text=line[1:] if line[:1] == " " else line))
        if self.same:
            out.append(DiffLine(sign="@", text="No difference."))
        return out


def short_key(key: str) -> str:
    """`llm.prediction.temperature` → `temperature`; `llm.load.llama.flashAttention` →
    `llama.flashAttention`."""
    for prefix in _PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return key[len(prefix) :]
    return key


def format_value(value: Any) -> str:
    """A field value as a person reads it: checkbox values as "on, 0.95"/"off (0.95)"."""
    if isinstance(value, dict) and set(value) == {"checked", "value"}:
        inner = format_value(value["value"])
        return inner if value["checked"] else f"off ({inner})"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=False)
    text = redact(text)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _decode(data: bytes) -> str:
    return data.decode("utf-8-sig", errors="replace")


def _parse(data: bytes | None) -> tuple[bool, Any]:
    """(ok, value); a missing side parses as None."""
    if data is None:
        return True, None
    try:
        return True, json.loads(_decode(data))
    except ValueError:
        return False, None


def _is_preset(doc: Any) -> bool:
    return isinstance(doc, dict) and any(
        isinstance(doc.get(s), dict) and isinstance(doc[s].get("fields"), list) for s in _SECTIONS
    )


def _is_mcp(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("mcpServers"), dict)


def _fields(doc: Any) -> dict[str, Any]:
    """`{"operation/llm.prediction.temperature": 0.7, …}` of a preset; later duplicates win."""
    out: dict[str, Any] = {}
    if not isinstance(doc, dict):
        return out
    for section in _SECTIONS:
        block = doc.get(section)
        if not isinstance(block, dict) or not isinstance(block.get("fields"), list):
            continue
        for item in block["fields"]:
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                out[f"{section}/{item['key']}"] = item.get("value")
    return out


# Keys that read like secrets to `is_secret_key` but name a model in our own files.
_NOT_SECRET_PATHS = frozenset({"model_key"})  # a load profile's model (load_profile_store)


def _change(path: str, label: str, old: Any, new: Any, *, missing: object) -> FieldChange:
    last = path.rsplit("/", 1)[-1].rsplit(".", 1)[-1]
    secret = path not in _NOT_SECRET_PATHS and is_secret_key(last)

    def shown(v: Any) -> str:
        return _HIDDEN if secret else format_value(v)

    if old is missing:
        return FieldChange(path=path, label=label, change="added", new=shown(new))
    if new is missing:
        return FieldChange(path=path, label=label, change="removed", old=shown(old))
    return FieldChange(path=path, label=label, change="changed", old=shown(old), new=shown(new))


def _compare_maps(
    old: dict[str, Any], new: dict[str, Any], label_of: Any = lambda k: k
) -> list[FieldChange]:
    missing = object()
    changes = []
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(key, missing), new.get(key, missing)
        if a != b:
            changes.append(_change(key, label_of(key), a, b, missing=missing))
    return changes


def _preset_changes(old: Any, new: Any) -> list[FieldChange]:
    changes: list[FieldChange] = []
    top_old = old if isinstance(old, dict) else {}
    top_new = new if isinstance(new, dict) else {}
    for key in ("identifier", "name", "preset"):
        if key in top_old or key in top_new:
            changes += _compare_maps(
                {key: top_old[key]} if key in top_old else {},
                {key: top_new[key]} if key in top_new else {},
            )
    old_fields, new_fields = _fields(old), _fields(new)
    keys = [k.split("/", 1)[1] for k in [*old_fields, *new_fields]]
    ambiguous = {k for k in keys if keys.count(k) > 1 and not _in_one_section(k, old, new)}

    def label(path: str) -> str:
        section, key = path.split("/", 1)
        return f"{short_key(key)} ({section})" if key in ambiguous else short_key(key)

    changes += _compare_maps(old_fields, new_fields, label)
    # other top-level keys (e.g. "changed") by JSON path
    rest_old = {
        k: v for k, v in top_old.items() if k not in (*_SECTIONS, "identifier", "name", "preset")
    }
    rest_new = {
        k: v for k, v in top_new.items() if k not in (*_SECTIONS, "identifier", "name", "preset")
    }
    changes += _json_changes(rest_old, rest_new)
    return changes


def _in_one_section(key: str, old: Any, new: Any) -> bool:
    sections = {p.split("/", 1)[0] for p in [*_fields(old), *_fields(new)] if p.endswith("/" + key)}
    return len(sections) == 1


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    """Key paths of dicts ("a.b.c"); lists, scalars and empty dicts inside are leaves (an
    empty document has no key at all: a created file is its keys added, nothing removed)."""
    if isinstance(value, dict) and (value or not prefix):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix or "(whole file)"] = value
    return out


def _json_changes(old: Any, new: Any) -> list[FieldChange]:
    return _compare_maps(_flatten(old, "", {}), _flatten(new, "", {}))


def _mcp_changes(old: Any, new: Any) -> list[FieldChange]:
    servers_old = old.get("mcpServers", {}) if isinstance(old, dict) else {}
    servers_new = new.get("mcpServers", {}) if isinstance(new, dict) else {}
    changes: list[FieldChange] = []
    for name in [*servers_old, *(n for n in servers_new if n not in servers_old)]:
        a, b = servers_old.get(name), servers_new.get(name)
        if a == b:
            continue
        label = f"server {name}"
        if a is None:
            what = (b or {}).get("url") or (b or {}).get("command") if isinstance(b, dict) else b
            changes.append(
                FieldChange(
                    path=f"mcpServers.{name}", label=label, change="added", new=_short(what)
                )
            )
        elif b is None:
            what = a.get("url") or a.get("command") if isinstance(a, dict) else a
            changes.append(
                FieldChange(
                    path=f"mcpServers.{name}", label=label, change="removed", old=_short(what)
                )
            )
        else:
            for c in _json_changes(a, b):
                changes.append(
                    c.model_copy(
                        update={
                            "path": f"mcpServers.{name}.{c.path}",
                            "label": f"{label}: {c.label}",
                        }
                    )
                )
    rest_old = (
        {k: v for k, v in (old or {}).items() if k != "mcpServers"} if isinstance(old, dict) else {}
    )
    rest_new = (
        {k: v for k, v in (new or {}).items() if k != "mcpServers"} if isinstance(new, dict) else {}
    )
    return changes + _json_changes(rest_old, rest_new)


def _short(value: Any) -> str:
    return "(no url or command)" if value is None else format_value(value)


def _text_diff(old: bytes | None, new: bytes | None, old_label: str, new_label: str) -> list[str]:
    a = _decode(old).splitlines() if old is not None else []
    b = _decode(new).splitlines() if new is not None else []
    return [
        redact(line)
        for line in difflib.unified_diff(
            a, b, fromfile=old_label, tofile=new_label, lineterm="", n=2
        )
    ]


def diff_contents(
    name: str,
    old: bytes | None,
    new: bytes | None,
    *,
    old_label: str = "before",
    new_label: str = "after",
) -> FileDiff:
    """Compare two versions of the file `name`; None is a side where the file is absent."""

    def make(kind: Kind, changes: list[FieldChange], text: list[str], note: str | None) -> FileDiff:
        if kind != "text" and not changes and old is not None and new is not None and old != new:
            note = "Only formatting or the order of keys changed."
        return FileDiff(
            name=name,
            kind=kind,
            old_label=old_label,
            new_label=new_label,
            old_exists=old is not None,
            new_exists=new is not None,
            changes=changes,
            text_lines=text,
            note=note,
        )

    ok_old, doc_old = _parse(old)
    ok_new, doc_new = _parse(new)
    if not (ok_old and ok_new):
        note = None
        if name.endswith(".json"):
            which = "this version" if not ok_new else "the earlier version"
            if not ok_old and not ok_new:
                which = "neither version"
            note = f"Compared as text: {which} is not valid JSON."
            if which == "neither version":
                note = "Compared as text: neither version is valid JSON."
        return make("text", [], _text_diff(old, new, old_label, new_label), note)
    docs = [d for d in (doc_old, doc_new) if d is not None]
    if docs and all(_is_preset(d) for d in docs):
        return make("preset", _preset_changes(doc_old, doc_new), [], None)
    if docs and all(_is_mcp(d) for d in docs):
        return make("mcp", _mcp_changes(doc_old, doc_new), [], None)
    if docs and all(isinstance(d, dict) for d in docs):
        return make("json", _json_changes(doc_old or {}, doc_new or {}), [], None)
    return make("text", [], _text_diff(old, new, old_label, new_label), None)
