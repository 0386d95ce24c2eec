"""`presets list|show|set|export|import`: LM Studio's config presets
(`<home>/config-presets`), edited in place with every change kept in the tray's history.

`set NAME KEY=VALUE…` takes our names (`temperature`, `top_p`, `max_tokens=none`,
`stop='["###"]'`, `system_prompt=…`, `seed=random`, `reasoning=off`) or LM Studio's KV keys
(`llm.prediction.temperature=0.7`, VALUE read as JSON when it parses); `KEY=default` takes
the field out so LM Studio's default applies. Invalid values exit 2 with the sentence.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from tray.cli._common import (
    EXIT_OK,
    EXIT_USAGE,
    Command,
    Context,
    Result,
    UsageError,
    add_command,
    add_group,
    text_message,
)
from tray.core.errors import HomeNotFound, InvalidPreset
from tray.core.presets import FIELDS, Checkbox, Preset, parse_assignment
from tray.core.words import quoted
from tray.services.preset_store import PresetStore

__all__ = ["ORDER", "register"]

ORDER = 40


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    actions = add_group(
        sub,
        "presets",
        "LM Studio config presets: list, show, set fields, export, import",
        Command(cmd_list, _text_list),
    )
    add_command(
        actions,
        "list",
        "every preset file (and why one cannot be read)",
        Command(cmd_list, _text_list),
    )
    p = add_command(actions, "show", "a preset's fields", Command(cmd_show, _text_show))
    p.add_argument("name", metavar="NAME", help="preset name, file name or identifier")
    p = add_command(
        actions,
        "set",
        "change fields: KEY=VALUE… (temperature, top_k, top_p, min_p, repeat_penalty, "
        "max_tokens, stop, system_prompt, context_overflow, reasoning, reasoning_budget, seed, "
        "or an LM Studio key); KEY=default removes it",
        Command(cmd_set, text_message),
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("assignments", metavar="KEY=VALUE", nargs="+")
    p = add_command(actions, "export", "copy a preset to a file", Command(cmd_export, text_message))
    p.add_argument("name", metavar="NAME")
    p.add_argument("file", metavar="FILE", type=Path)
    p = add_command(
        actions,
        "import",
        "add a preset file to LM Studio's presets",
        Command(cmd_import, text_message),
    )
    p.add_argument("file", metavar="FILE", type=Path)


def _store(ctx: Context) -> PresetStore:
    home = ctx.env.home
    if not home.exists:
        raise HomeNotFound(
            f"LM Studio's home folder {home.path} does not exist, so there are no presets. "
            "Start LM Studio once, or point --home at its folder.",
            path=home.path,
        )
    return ctx.workspace.presets(ctx.env)


def _summary_doc(preset: Preset) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for spec in FIELDS:
        if not preset.is_set(spec.name):
            continue
        value = preset.get(spec.name)
        fields[spec.name] = value.model_dump() if isinstance(value, Checkbox) else value
    return fields


# --- list / show -----------------------------------------------------------------------


async def cmd_list(ctx: Context, args: argparse.Namespace) -> Result:
    store = _store(ctx)
    rows = await asyncio.to_thread(store.list)
    return {
        "folder": str(store.folder),
        "presets": [r.model_dump(mode="json", exclude={"sha256"}) for r in rows],
    }, EXIT_OK


def _text_list(doc: dict[str, Any]) -> str:
    rows = doc["presets"]
    if not rows:
        return f"No presets in {doc['folder']}."
    lines = []
    for r in rows:
        if r["error"]:
            lines.append(f"! {r['name']:<28} {r['file_name']}: {r['error']}")
        else:
            lines.append(f"  {r['name']:<28} {r['identifier'] or ''}")
    return "\n".join(lines)


async def cmd_show(ctx: Context, args: argparse.Namespace) -> Result:
    store = _store(ctx)
    preset = await asyncio.to_thread(store.load, args.name)
    others = [
        {"section": section, "key": key, "value": value}
        for section, key, value in preset.fields()
        if key not in {f.key for f in FIELDS}
    ]
    return {
        "name": preset.name,
        "identifier": preset.identifier,
        "file": str(store.folder / (preset.origin or "")),
        "fields": _summary_doc(preset),
        "other_fields": others,
        "chat_options": preset.chat_options().model_dump(mode="json"),
    }, EXIT_OK


def _text_show(doc: dict[str, Any]) -> str:
    lines = [f"{doc['name']}  ({doc['identifier']})", f"file: {doc['file']}"]
    for name, value in doc["fields"].items():
        if isinstance(value, dict) and "checked" in value:
            shown = str(value["value"]) if value["checked"] else f"off ({value['value']})"
        elif name == "system_prompt":
            shown = quoted(value if len(value) <= 60 else value[:57] + "…")
        else:
            shown = str(value)
        lines.append(f"  {name:<18} {shown}")
    for item in doc["other_fields"]:
        lines.append(f"  {item['key']} = {json.dumps(item['value'], ensure_ascii=False)}")
    if not doc["fields"] and not doc["other_fields"]:
        lines.append("  (no fields: LM Studio's defaults)")
    return "\n".join(lines)


# --- set -------------------------------------------------------------------------------


async def cmd_set(ctx: Context, args: argparse.Namespace) -> Result:
    store = _store(ctx)
    preset = await asyncio.to_thread(store.load, args.name)
    expected = preset.sha256
    for text in args.assignments:
        try:
            name, value, spec = parse_assignment(text)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if spec is None:
            if value is None:
                preset.remove_key(name)
            else:
                preset.set_key(name, value)
        elif value is None:
            preset.unset(name)
        else:
            if isinstance(value, Checkbox) and not value.checked:
                # "off" keeps the number the preset had, as LM Studio's checkbox does.
                current = preset.effective(name)
                kept = current.value if isinstance(current, Checkbox) else value.value
                value = Checkbox(checked=False, value=kept)
            preset.set(name, value)
    try:
        saved = await asyncio.to_thread(store.save, preset, expected_sha256=expected)
    except InvalidPreset as exc:
        return {
            "error": {"title": exc.title, "message": exc.message, "kind": "InvalidPreset"},
            "problems": [{"field": f, "message": m} for f, m in exc.problems],
        }, EXIT_USAGE
    return {
        "message": f"Saved preset {quoted(saved.name)}.",
        "name": saved.name,
        "fields": _summary_doc(saved),
    }, EXIT_OK


# --- export / import -------------------------------------------------------------------


async def cmd_export(ctx: Context, args: argparse.Namespace) -> Result:
    store = _store(ctx)
    target = await asyncio.to_thread(store.export, args.name, args.file)
    return {"message": f"Exported {quoted(args.name)} to {target}.", "file": str(target)}, EXIT_OK


async def cmd_import(ctx: Context, args: argparse.Namespace) -> Result:
    store = _store(ctx)
    preset = await asyncio.to_thread(store.import_file, args.file)
    return {
        "message": f"Imported {quoted(preset.name)} as {store.folder / (preset.origin or '')}.",
        "name": preset.name,
        "identifier": preset.identifier,
    }, EXIT_OK
