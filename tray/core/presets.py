"""LM Studio config presets (`<home>/config-presets/*.preset.json`, FORMATS §2.3–2.4) as
documents we can edit without losing anything.

A `Preset` keeps the parsed JSON document as it was read: key order, unknown top-level
keys, unknown fields and their value shapes. The fields the tray edits (system prompt,
sampling, stop strings, overflow policy, reasoning, seed) are read and written through
`FIELDS`, each changing only its own `{key, value}` item, in place, or appending it when the
preset does not set it yet. `to_bytes()` gives back the exact bytes that were read while
nothing changed, and otherwise re-serialises with the style it read (UTF-8 BOM, indentation,
CRLF, final newline). Pure: bytes in, bytes out; the store does the I/O.

Also here: validation with one sentence per field, the `ChatOptions` a preset gives a chat
request, a field-level three-way merge for outside changes, the text of a history message
("temperature 0.7 → 0.2"), and `KEY=VALUE` parsing for the CLI.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from tray.core.chat_options import ChatOptions
from tray.core.errors import FileParseError
from tray.core.words import quoted

__all__ = [
    "FIELDS",
    "OVERFLOW_POLICIES",
    "PRESET_SUFFIX",
    "Checkbox",
    "FieldKind",
    "FieldSpec",
    "MergeConflict",
    "MergeResult",
    "Preset",
    "PresetProblem",
    "describe_changes",
    "edited_fields",
    "field_by_key_or_name",
    "identifier_for",
    "merge",
    "parse_assignment",
    "preset_file_name",
    "sha256_of",
    "unique_name",
    "validate",
]

PRESET_SUFFIX = ".preset.json"
OVERFLOW_POLICIES = ("stopAtLimit", "truncateMiddle", "rollingWindow")
_BOM = b"\xef\xbb\xbf"
# LM Studio writes prediction fields under "operation"; one third-party writer uses
# "prediction" (FORMATS §2.3, probably wrong). We read either and write where we read.
_PREDICTION_SECTIONS = ("operation", "prediction")


class FieldKind(StrEnum):
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    CHECKBOX = "checkbox"  # {"checked": bool, "value": number}
    STRINGS = "strings"
    BOOLEAN = "boolean"
    CHOICE = "choice"


class Checkbox(BaseModel):
    """A `checkboxNumeric` value: `checked` False means the feature is off (value kept)."""

    model_config = ConfigDict(frozen=True)

    checked: bool
    value: float | int


@dataclass(frozen=True)
class FieldSpec:
    """One field the tray edits: our friendly name, LM Studio's KV key, its value shape
    and LM Studio's default when a preset leaves it out (FORMATS §2.4/§4)."""

    name: str
    key: str
    kind: FieldKind
    label: str
    default: Any
    integer: bool = False  # a checkbox whose number must be whole


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "system_prompt", "llm.prediction.systemPrompt", FieldKind.STRING, "system prompt", ""
    ),
    FieldSpec("temperature", "llm.prediction.temperature", FieldKind.NUMBER, "temperature", 0.8),
    # `numeric` in schema.ts; a checkbox form is tolerated on reading (hand-written files).
    FieldSpec("top_k", "llm.prediction.topKSampling", FieldKind.INTEGER, "top-k", 40),
    FieldSpec(
        "top_p",
        "llm.prediction.topPSampling",
        FieldKind.CHECKBOX,
        "top-p",
        Checkbox(checked=True, value=0.95),
    ),
    FieldSpec(
        "min_p",
        "llm.prediction.minPSampling",
        FieldKind.CHECKBOX,
        "min-p",
        Checkbox(checked=True, value=0.05),
    ),
    FieldSpec(
        "repeat_penalty",
        "llm.prediction.repeatPenalty",
        FieldKind.CHECKBOX,
        "repeat penalty",
        Checkbox(checked=True, value=1.1),
    ),
    FieldSpec(
        "max_tokens",
        "llm.prediction.maxPredictedTokens",
        FieldKind.CHECKBOX,
        "max tokens",
        Checkbox(checked=False, value=1000),
        integer=True,
    ),
    FieldSpec("stop", "llm.prediction.stopStrings", FieldKind.STRINGS, "stop strings", []),
    FieldSpec(
        "context_overflow",
        "llm.prediction.contextOverflowPolicy",
        FieldKind.CHOICE,
        "context overflow",
        "truncateMiddle",
    ),
    FieldSpec(
        "reasoning", "llm.prediction.reasoning.enableThinking", FieldKind.BOOLEAN, "thinking", True
    ),
    FieldSpec(
        "reasoning_budget",
        "llm.prediction.reasoning.budgetTokens",
        FieldKind.CHECKBOX,
        "thinking budget",
        Checkbox(checked=False, value=1024),
        integer=True,
    ),
    FieldSpec(
        "seed",
        "llm.prediction.seed",
        FieldKind.CHECKBOX,
        "seed",
        Checkbox(checked=False, value=-1),
        integer=True,
    ),
)
_BY_NAME = {f.name: f for f in FIELDS}
_BY_KEY = {f.key: f for f in FIELDS}


def field_by_key_or_name(text: str) -> FieldSpec | None:
    """`temperature`, `top-p` or `llm.prediction.temperature` → its spec; None if not ours."""
    name = text.strip().replace("-", "_").lower()
    return _BY_NAME.get(name) or _BY_KEY.get(text.strip())


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- names ---------------------------------------------------------------------------


def _slug(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).strip().lower()
    text = re.sub(r"[^\w]+", "-", text, flags=re.UNICODE).strip("-_")
    return text or "preset"


def identifier_for(name: str) -> str:
    """`@local:<slug>` — the shape of local preset identifiers (FORMATS §2.3; the exact
    slug rule LM Studio uses is not published)."""
    return f"@local:{_slug(name)}"


def preset_file_name(name: str) -> str:
    """`<name>.preset.json` as LM Studio names them (observed: `deepred testing.preset.json`),
    with the characters no file system accepts replaced, so any name has a file."""
    text = re.sub(r'[<>:"/\\|?*\x00-\x1f]', "_", name.strip())
    text = text.rstrip(". ")  # Windows drops trailing dots and spaces
    if not text or text in (".", ".."):
        text = _slug(name)
    return f"{text}{PRESET_SUFFIX}"


def unique_name(wanted: str, taken: Iterable[str]) -> str:
    """`wanted`, or `wanted 2`, `wanted 3`… — unique ignoring case, as file names are on
    Windows and macOS."""
    used = {t.casefold() for t in taken}
    if wanted.casefold() not in used and preset_file_name(wanted).casefold() not in used:
        return wanted
    n = 2
    while (
        f"{wanted} {n}".casefold() in used or preset_file_name(f"{wanted} {n}").casefold() in used
    ):
        n += 1
    return f"{wanted} {n}"


# --- the document ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    """How the file was written, so a re-serialised file looks like the one we read."""

    bom: bool = False
    indent: str | None = "  "  # None: one line
    compact: bool = False  # one line without spaces after , and :
    newline: str = "\n"
    final_newline: bool = False


def _detect_style(raw: bytes, text: str) -> _Style:
    bom = raw.startswith(_BOM)
    newline = "\r\n" if "\r\n" in text else "\n"
    final = text.endswith(("\n", "\r"))
    body = text.strip()
    if "\n" not in body:
        return _Style(
            bom=bom,
            indent=None,
            compact='": ' not in body and '", ' not in body,
            newline=newline,
            final_newline=final,
        )
    indent = "  "
    for line in body.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) != len(line):
            indent = line[: len(line) - len(stripped)]
            break
    return _Style(bom=bom, indent=indent, newline=newline, final_newline=final)


def _dump(doc: dict[str, Any], style: _Style) -> bytes:
    if style.indent is None:
        separators = (",", ":") if style.compact else (", ", ": ")
        text = json.dumps(doc, ensure_ascii=False, separators=separators)
    else:
        text = json.dumps(doc, ensure_ascii=False, indent=style.indent)
        if style.newline != "\n":
            text = text.replace("\n", style.newline)  # json escapes newlines inside strings
    if style.final_newline:
        text += style.newline
    return (_BOM if style.bom else b"") + text.encode("utf-8")


def _problem(message: str, *, line: int | None = None, column: int | None = None) -> FileParseError:
    return FileParseError(message, line=line, column=column)


def _check_structure(doc: Any) -> None:
    if not isinstance(doc, dict):
        raise _problem("This is not an LM Studio preset: the file must hold one JSON object.")
    for section in ("operation", "prediction", "load"):
        if section not in doc:
            continue
        part = doc[section]
        if not isinstance(part, dict):
            raise _problem(
                f'This preset\'s "{section}" is not an object, so its fields cannot be read.'
            )
        fields = part.get("fields", [])
        if not isinstance(fields, list):
            raise _problem(f'This preset\'s "{section}.fields" is not a list.')
        for i, item in enumerate(fields):
            if not isinstance(item, dict) or not isinstance(item.get("key"), str):
                raise _problem(
                    f'Item {i + 1} of "{section}.fields" is not a {{"key": …, "value": …}} object.'
                )


def _as_checkbox(value: Any) -> Checkbox | None:
    """Lenient: `{checked, value}`, `{value}` (checked), a bare number (checked)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Checkbox(checked=True, value=value)
    if isinstance(value, dict) and isinstance(value.get("value"), int | float):
        number = value["value"]
        if isinstance(number, bool):
            return None
        checked = value.get("checked", True)
        return Checkbox(checked=bool(checked), value=number)
    return None


class Preset:
    """One preset document. Build with `Preset.parse(bytes)` or `Preset.new(name)`."""

    def __init__(
        self, doc: dict[str, Any], *, raw: bytes | None, style: _Style, origin: str | None
    ) -> None:
        self._doc = doc
        self._raw = raw
        self._original = copy.deepcopy(doc)
        self._style = style
        # The file name this was read from (the store sets it), and the hash of its bytes.
        self.origin = origin
        self.sha256: str | None = sha256_of(raw) if raw is not None else None

    # --- building -----------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes, *, origin: str | None = None) -> Preset:
        """Raises `FileParseError` (without a path; the caller adds it) for what is not a
        preset at all; anything else unknown is kept."""
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _problem(f"This preset is not UTF-8 text (byte {exc.start}).") from exc
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _problem(
                f"This preset is not valid JSON: {exc.msg} "
                f"at line {exc.lineno}, column {exc.colno}.",
                line=exc.lineno,
                column=exc.colno,
            ) from exc
        _check_structure(doc)
        return cls(doc, raw=data, style=_detect_style(data, text), origin=origin)

    @classmethod
    def new(cls, name: str) -> Preset:
        """What LM Studio writes for a fresh local preset: identifier, name, no fields."""
        doc: dict[str, Any] = {
            "identifier": identifier_for(name),
            "name": name,
            "operation": {"fields": []},
            "load": {"fields": []},
        }
        return cls(doc, raw=None, style=_Style(), origin=None)

    def copy(self) -> Preset:
        twin = Preset(
            copy.deepcopy(self._doc), raw=self._raw, style=self._style, origin=self.origin
        )
        twin._original = copy.deepcopy(self._original)
        return twin

    def as_new(self) -> Preset:
        """This content as a document that has no file yet (duplicate, import)."""
        return Preset(copy.deepcopy(self._doc), raw=None, style=self._style, origin=None)

    # --- bytes --------------------------------------------------------------------------

    @property
    def document(self) -> dict[str, Any]:
        """A copy of the whole document (for display and tests)."""
        return copy.deepcopy(self._doc)

    @property
    def changed(self) -> bool:
        return self._raw is None or self._doc != self._original

    def to_bytes(self) -> bytes:
        if self._raw is not None and self._doc == self._original:
            return self._raw
        return _dump(self._doc, self._style)

    def original(self) -> Preset:
        """The document as it was read (for history messages and merges)."""
        if self._raw is not None:
            return Preset.parse(self._raw, origin=self.origin)
        return Preset(
            copy.deepcopy(self._original), raw=None, style=self._style, origin=self.origin
        )

    # --- identity -----------------------------------------------------------------------

    @property
    def name(self) -> str:
        value = self._doc.get("name")
        if isinstance(value, str):
            return value
        if self.origin and self.origin.endswith(PRESET_SUFFIX):
            return self.origin[: -len(PRESET_SUFFIX)]
        return ""

    @name.setter
    def name(self, value: str) -> None:
        self._doc["name"] = value

    @property
    def identifier(self) -> str | None:
        value = self._doc.get("identifier")
        return value if isinstance(value, str) else None

    @identifier.setter
    def identifier(self, value: str) -> None:
        self._doc["identifier"] = value

    def rename(self, new_name: str) -> None:
        """Name and (for a local preset) identifier follow the new name; a Hub identifier
        (owner/name) is left alone."""
        self.name = new_name
        ident = self.identifier
        if ident is None or ident.startswith("@local:"):
            self.identifier = identifier_for(new_name)

    # --- raw fields ---------------------------------------------------------------------

    def _section_name(self, key: str) -> str:
        if key.startswith(("llm.load.", "load.", "embedding.load.")):
            return "load"
        for section in _PREDICTION_SECTIONS:
            if isinstance(self._doc.get(section), dict):
                return section
        return "operation"

    def _items(self, section: str) -> list[dict[str, Any]]:
        part = self._doc.get(section)
        if not isinstance(part, dict):
            return []
        items = part.get("fields")
        return items if isinstance(items, list) else []

    def _find(self, key: str) -> dict[str, Any] | None:
        found = None
        for section in (*_PREDICTION_SECTIONS, "load"):
            for item in self._items(section):
                if item.get("key") == key:
                    found = item  # a repeated key: the last one wins, as in an object
        return found

    def fields(self) -> Iterator[tuple[str, str, Any]]:
        """Every `(section, key, value)` in file order."""
        for section in (*_PREDICTION_SECTIONS, "load"):
            for item in self._items(section):
                yield section, item["key"], item.get("value")

    def has_key(self, key: str) -> bool:
        return self._find(key) is not None

    def get_key(self, key: str) -> Any:
        item = self._find(key)
        return None if item is None else copy.deepcopy(item.get("value"))

    def set_key(self, key: str, value: Any) -> None:
        """Set a KV field's value in place, or append it to its section."""
        item = self._find(key)
        if item is not None:
            item["value"] = value
            return
        section = self._section_name(key)
        part = self._doc.setdefault(section, {})
        part.setdefault("fields", []).append({"key": key, "value": value})

    def remove_key(self, key: str) -> None:
        """Leave the field out: LM Studio's default applies again."""
        for section in (*_PREDICTION_SECTIONS, "load"):
            items = self._items(section)
            items[:] = [i for i in items if i.get("key") != key]

    # --- typed fields -------------------------------------------------------------------

    def get(self, name: str) -> Any:
        """The typed value of one of `FIELDS` (str, number, `Checkbox`, list[str], bool),
        or None when the preset leaves it to LM Studio's default or holds an unusable shape."""
        spec = _BY_NAME[name]
        item = self._find(spec.key)
        if item is None:
            return None
        return _typed(spec, item.get("value"))

    def effective(self, name: str) -> Any:
        """`get`, or LM Studio's default when the preset does not set it."""
        value = self.get(name)
        return _BY_NAME[name].default if value is None else value

    def is_set(self, name: str) -> bool:
        return self._find(_BY_NAME[name].key) is not None

    def set(self, name: str, value: Any) -> None:
        """Change one field; other keys of a checkbox object and unknown fields stay."""
        spec = _BY_NAME[name]
        item = self._find(spec.key)
        current = None if item is None else item.get("value")
        if spec.kind is FieldKind.CHECKBOX or (
            spec.kind is FieldKind.INTEGER and isinstance(current, dict)
        ):
            box = value if isinstance(value, Checkbox) else Checkbox(checked=True, value=value)
            number: float | int = _plain_number(box.value)
            new: Any
            if isinstance(current, dict):
                new = dict(current)
                new["checked"] = box.checked
                new["value"] = number
            elif isinstance(current, int | float) and not isinstance(current, bool) and box.checked:
                new = number  # a bare number stays a bare number
            elif spec.kind is FieldKind.INTEGER:
                new = number
            else:
                new = {"checked": box.checked, "value": number}
            self.set_key(spec.key, new)
        elif spec.kind in (FieldKind.NUMBER, FieldKind.INTEGER):
            self.set_key(spec.key, _plain_number(value))
        elif spec.kind is FieldKind.STRINGS:
            self.set_key(spec.key, [str(s) for s in value])
        elif spec.kind is FieldKind.BOOLEAN:
            self.set_key(spec.key, bool(value))
        else:
            self.set_key(spec.key, str(value))

    def unset(self, name: str) -> None:
        self.remove_key(_BY_NAME[name].key)

    # --- what it gives a chat -----------------------------------------------------------

    def chat_options(self) -> ChatOptions:
        """The preset's system prompt and sampling for a chat request. Fields the preset
        leaves out are None (the model's own defaults). A checkbox that is off means the
        feature is off: top-p 1, min-p 0, repeat penalty 1, no token limit, a random seed.
        Values LM Studio would refuse (see `validate`) are left out rather than sent."""
        opts: dict[str, Any] = {"source": self.name or None}
        prompt = self.get("system_prompt")
        if isinstance(prompt, str) and prompt.strip():
            opts["system_prompt"] = prompt
        temperature = self.get("temperature")
        if _number_ok(temperature) and temperature >= 0:
            opts["temperature"] = float(temperature)
        top_k = self.get("top_k")
        if isinstance(top_k, Checkbox):
            top_k = top_k.value if top_k.checked else None
        if _number_ok(top_k) and top_k >= 0 and float(top_k).is_integer():
            opts["top_k"] = int(top_k)
        for name, off in (("top_p", 1.0), ("min_p", 0.0), ("repeat_penalty", 1.0)):
            box = self.get(name)
            if isinstance(box, Checkbox):
                number = float(box.value) if box.checked else off
                usable = number > 0 if name == "repeat_penalty" else 0 <= number <= 1
                if usable:
                    opts[name] = number
        box = self.get("max_tokens")
        if (
            isinstance(box, Checkbox)
            and box.checked
            and float(box.value).is_integer()
            and box.value > 0
        ):
            opts["max_tokens"] = int(box.value)
        stop = self.get("stop")
        if stop:
            opts["stop"] = tuple(s for s in stop if s)
        box = self.get("seed")
        if isinstance(box, Checkbox) and box.checked and float(box.value).is_integer():
            opts["seed"] = int(box.value)
        thinking = self.get("reasoning")
        if isinstance(thinking, bool):
            opts["reasoning"] = "on" if thinking else "off"
        return ChatOptions(**opts)


def _plain_number(value: Any) -> float | int:
    """Whole floats are written as integers (LM Studio's JSON has no 1.0)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, int | float):
        return value
    return float(value)


def _number_ok(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _typed(spec: FieldSpec, value: Any) -> Any:
    kind = spec.kind
    if kind is FieldKind.CHECKBOX:
        return _as_checkbox(value)
    if kind is FieldKind.INTEGER:
        if isinstance(value, dict):
            return _as_checkbox(value)
        return value if _number_ok(value) else None
    if kind is FieldKind.NUMBER:
        return value if _number_ok(value) else None
    if kind is FieldKind.STRINGS:
        if isinstance(value, list):
            return [s for s in value if isinstance(s, str)]
        return [value] if isinstance(value, str) else None
    if kind is FieldKind.BOOLEAN:
        return value if isinstance(value, bool) else None
    return value if isinstance(value, str) else None


# --- validation ------------------------------------------------------------------------


class PresetProblem(BaseModel):
    """One invalid field: `field` is a `FIELDS` name or "name"; `message` a sentence."""

    model_config = ConfigDict(frozen=True)

    field: str
    message: str


def _fmt(value: Any) -> str:
    if isinstance(value, Checkbox):
        return _fmt(value.value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _field_problem(spec: FieldSpec, raw: Any) -> str | None:
    value = _typed(spec, raw)
    label = spec.label.capitalize()
    if value is None:
        return f"{label} has a value LM Studio does not understand: {json.dumps(raw)[:60]}."
    name = spec.name
    if isinstance(value, Checkbox):
        if not value.checked:
            return None  # off: the kept number does not matter
        number: Any = value.value
    else:
        number = value
    if not isinstance(number, int | float) or isinstance(number, bool) or not math.isfinite(number):
        if name in ("system_prompt", "stop", "context_overflow", "reasoning"):
            number = None
        else:
            return f"{label} must be a number."
    if name == "temperature" and number < 0:
        return f"Temperature must be 0 or more (it is {_fmt(number)})."
    if name in ("top_p", "min_p") and not 0 <= number <= 1:
        return f"{label} must be between 0 and 1 (it is {_fmt(number)})."
    if name == "top_k" and (number < 0 or not float(number).is_integer()):
        return f"Top-k must be a whole number, 0 or more (it is {_fmt(number)})."
    if name == "repeat_penalty" and number <= 0:
        return f"Repeat penalty must be more than 0 (it is {_fmt(number)})."
    if name in ("max_tokens", "reasoning_budget") and (
        number <= 0 or not float(number).is_integer()
    ):
        return f"{label} must be a whole number above 0, or no limit (it is {_fmt(number)})."
    if name == "seed" and not float(number).is_integer():
        return f"The seed must be a whole number, or random (it is {_fmt(number)})."
    if name == "stop" and any(not s for s in value):
        return "Stop strings must not be empty: remove the empty line."
    if name == "context_overflow" and value not in OVERFLOW_POLICIES:
        return (
            f"Context overflow must be one of {', '.join(OVERFLOW_POLICIES)} "
            f"(it is {quoted(str(value))})."
        )
    return None


def validate(
    preset: Preset, *, taken_names: Iterable[str] = (), only: Iterable[str] | None = None
) -> list[PresetProblem]:
    """Every problem, one sentence per field. `taken_names`: the other presets' names (and
    file names); `only`: check just these field names (what an edit touched)."""
    wanted = set(only) if only is not None else None
    problems: list[PresetProblem] = []
    if wanted is None or "name" in wanted:
        name = preset.name.strip()
        taken = {t.casefold() for t in taken_names}
        if not name:
            problems.append(PresetProblem(field="name", message="Give the preset a name."))
        elif name.casefold() in taken or preset_file_name(name).casefold() in taken:
            problems.append(
                PresetProblem(
                    field="name", message=f"There is already a preset named {quoted(name)}."
                )
            )
    for spec in FIELDS:
        if wanted is not None and spec.name not in wanted:
            continue
        if not preset.is_set(spec.name):
            continue
        message = _field_problem(spec, preset.get_key(spec.key))
        if message:
            problems.append(PresetProblem(field=spec.name, message=message))
    return problems


def edited_fields(before: Preset, after: Preset) -> list[str]:
    """The `FIELDS` names (and "name") whose stored value differs."""
    names = [
        s.name
        for s in FIELDS
        if before.get_key(s.key) != after.get_key(s.key)
        or before.is_set(s.name) != after.is_set(s.name)
    ]
    if before.name != after.name:
        names.insert(0, "name")
    return names


# --- describing a change (history messages) ---------------------------------------------


def _show(spec: FieldSpec | None, value: Any, present: bool) -> str:
    if not present:
        return "default"
    if spec is None:
        return json.dumps(value, ensure_ascii=False)[:40]
    typed = _typed(spec, value)
    if isinstance(typed, Checkbox):
        if typed.checked:
            return _fmt(typed.value)
        return {"max_tokens": "no limit", "seed": "random"}.get(spec.name, "off")
    if isinstance(typed, bool):
        return "on" if typed else "off"
    if isinstance(typed, list):
        return json.dumps(typed, ensure_ascii=False)[:40]
    if typed is None:
        return json.dumps(value, ensure_ascii=False)[:40]
    return _fmt(typed)


def describe_changes(before: Preset, after: Preset) -> list[str]:
    """`["temperature 0.7 → 0.2", "system prompt changed"]` — what a save changed, for the
    history message. The prompt's text is not repeated (it can be long)."""
    lines: list[str] = []
    if before.name != after.name:
        lines.append(f"renamed {quoted(before.name)} → {quoted(after.name)}")
    keys: list[str] = []
    for _, key, _ in (*before.fields(), *after.fields()):
        if key not in keys:
            keys.append(key)
    for key in keys:
        old, new = before.get_key(key), after.get_key(key)
        had, has = before.has_key(key), after.has_key(key)
        if had == has and old == new:
            continue
        spec = _BY_KEY.get(key)
        label = spec.label if spec else key
        if spec is not None and spec.name == "system_prompt":
            lines.append(
                "system prompt " + ("changed" if has else "removed") if had else "system prompt set"
            )
            continue
        lines.append(f"{label} {_show(spec, old, had)} → {_show(spec, new, has)}")
    doc_before, doc_after = before.document, after.document
    for key in dict.fromkeys([*doc_before, *doc_after]):
        if key in ("name", "identifier", "operation", "prediction", "load"):
            continue
        if doc_before.get(key) != doc_after.get(key):
            lines.append(f"{key} changed")
    return lines


# --- three-way merge -------------------------------------------------------------------

_ABSENT: Any = object()


class MergeConflict(BaseModel):
    """A field both sides changed differently. Values are the raw JSON values (None for a
    side that removed the field: see `*_present`)."""

    model_config = ConfigDict(frozen=True)

    key: str  # KV key, or a top-level key such as "name"
    label: str
    mine: Any
    theirs: Any
    mine_present: bool = True
    theirs_present: bool = True
    mine_text: str = ""
    theirs_text: str = ""


class MergeResult(BaseModel):
    """`merged` holds every change from both sides; for each conflict it holds *theirs*
    (what is on disk) and `resolve` puts *mine* back for the conflicts the user picks."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    merged: Preset
    conflicts: list[MergeConflict]

    def resolve(self, take_mine: Iterable[str]) -> Preset:
        result = self.merged.copy()
        chosen = set(take_mine)
        for conflict in self.conflicts:
            if conflict.key not in chosen:
                continue
            _apply(result, conflict.key, conflict.mine if conflict.mine_present else _ABSENT)
        return result


def _top_level(preset: Preset) -> dict[str, Any]:
    doc = preset.document
    return {k: v for k, v in doc.items() if k not in ("operation", "prediction", "load")}


def _field_values(preset: Preset) -> dict[str, Any]:
    return {key: copy.deepcopy(value) for _, key, value in preset.fields()}


def _apply(preset: Preset, key: str, value: Any) -> None:
    if key.startswith("doc:"):
        top = key[4:]
        if value is _ABSENT:
            preset._doc.pop(top, None)
        else:
            preset._doc[top] = copy.deepcopy(value)
        return
    if value is _ABSENT:
        preset.remove_key(key)
    else:
        preset.set_key(key, copy.deepcopy(value))


def merge(base: Preset, mine: Preset, theirs: Preset) -> MergeResult:
    """Three-way merge at field level: start from `theirs` (the file on disk now, with its
    order and unknown keys), bring in every change `mine` made since `base`; a field both
    changed differently is a conflict. Nothing is dropped: conflicts keep both values."""
    merged = theirs.as_new()
    merged.origin = theirs.origin
    merged.sha256 = theirs.sha256
    conflicts: list[MergeConflict] = []
    for prefix, b_map, m_map, t_map in (
        ("doc:", _top_level(base), _top_level(mine), _top_level(theirs)),
        ("", _field_values(base), _field_values(mine), _field_values(theirs)),
    ):
        for key in dict.fromkeys([*b_map, *m_map, *t_map]):
            b = b_map.get(key, _ABSENT)
            m = m_map.get(key, _ABSENT)
            t = t_map.get(key, _ABSENT)
            if _same(m, b) or _same(m, t):
                continue  # mine did not change it, or both made the same change
            if _same(t, b):
                _apply(merged, prefix + key, m)
                continue
            spec = _BY_KEY.get(key)
            label = spec.label if spec else key
            conflicts.append(
                MergeConflict(
                    key=prefix + key,
                    label=label,
                    mine=None if m is _ABSENT else m,
                    theirs=None if t is _ABSENT else t,
                    mine_present=m is not _ABSENT,
                    theirs_present=t is not _ABSENT,
                    mine_text=_show(spec, None if m is _ABSENT else m, m is not _ABSENT),
                    theirs_text=_show(spec, None if t is _ABSENT else t, t is not _ABSENT),
                )
            )
    return MergeResult(merged=merged, conflicts=conflicts)


def _same(a: Any, b: Any) -> bool:
    if a is _ABSENT or b is _ABSENT:
        return a is b
    return bool(a == b)


# --- KEY=VALUE (CLI) -------------------------------------------------------------------

_OFF_WORDS = {"off", "none", "no", "false", "no-limit", "nolimit", "unlimited", "random"}


def parse_assignment(text: str) -> tuple[str, Any, FieldSpec | None]:
    """`temperature=0.2` → ("temperature", 0.2, spec); `llm.prediction.x=[1]` → (key, [1],
    None); VALUE `default` → (…, None, …) meaning "leave it to LM Studio's default".
    Raises ValueError with a sentence."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"{quoted(text)} is not KEY=VALUE (for example temperature=0.7).")
    spec = field_by_key_or_name(key)
    if value.strip().lower() == "default":
        return (spec.name if spec else key), None, spec
    if spec is None:
        if "." not in key:
            names = ", ".join(f.name for f in FIELDS)
            raise ValueError(
                f"Unknown setting {quoted(key)}. Use one of {names}, "
                "or an LM Studio key such as llm.prediction.temperature."
            )
        try:
            return key, json.loads(value), None
        except json.JSONDecodeError:
            return key, value, None
    return spec.name, _parse_value(spec, value), spec


def _parse_number(spec: FieldSpec, value: str) -> float | int:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(
            f"{spec.label.capitalize()} must be a number, not {quoted(str(value))}."
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"{spec.label.capitalize()} must be a finite number.")
    return _plain_number(number)


def _parse_value(spec: FieldSpec, value: str) -> Any:
    stripped = value.strip()
    if spec.kind is FieldKind.STRING:
        return value.replace("\\n", "\n")
    if spec.kind is FieldKind.STRINGS:
        if not stripped:
            return []
        if stripped.startswith("["):
            try:
                parsed = json.loads(stripped)
            except json.JSONDecodeError:
                raise ValueError(
                    'Stop strings: write a JSON list such as ["###","User:"].'
                ) from None
            if not isinstance(parsed, list) or not all(isinstance(s, str) for s in parsed):
                raise ValueError("Stop strings must be a list of strings.")
            return parsed
        return [value.replace("\\n", "\n")]
    if spec.kind is FieldKind.BOOLEAN:
        word = stripped.lower()
        if word in ("on", "true", "yes", "1"):
            return True
        if word in ("off", "false", "no", "0"):
            return False
        raise ValueError(f"{spec.label.capitalize()} is on or off, not {quoted(str(value))}.")
    if spec.kind is FieldKind.CHOICE:
        for choice in OVERFLOW_POLICIES:
            if stripped.lower() == choice.lower():
                return choice
        raise ValueError(
            f"Context overflow is one of {', '.join(OVERFLOW_POLICIES)}, not {quoted(str(value))}."
        )
    if spec.kind is FieldKind.CHECKBOX:
        default = spec.default
        if stripped.lower() in _OFF_WORDS:
            return Checkbox(checked=False, value=default.value)
        return Checkbox(checked=True, value=_parse_number(spec, stripped))
    return _parse_number(spec, stripped)
