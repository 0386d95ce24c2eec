"""`profiles list|show [MODEL]|set [MODEL] KEY=VALUE…|delete MODEL`: per-model load
profiles (the default profile and each model's override), the ones `models load` and the
tray's Load model dialog use. Every change is recorded in the file history."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from tray.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    Command,
    Context,
    Result,
    UsageError,
    add_command,
    add_group,
    text_message,
)
from tray.core.errors import TrayError
from tray.core.load_profiles import (
    FIELD_LABELS,
    PROFILE_FIELDS,
    LoadProfile,
    describe_profile,
    parse_assignment,
    validate_profile,
)
from tray.services.load_profile_store import LoadProfileStore
from tray.services.model_defaults import LmStudioDefaults

__all__ = ["ORDER", "register"]

ORDER = 22

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    actions = add_group(
        sub,
        "profiles",
        "load profiles: the default and per-model load settings (list, show, set, delete)",
        Command(cmd_list, _text_list),
    )
    add_command(
        actions,
        "list",
        "the default profile and every model's override",
        Command(cmd_list, _text_list),
    )
    p = add_command(
        actions,
        "show",
        "one profile: the default, or MODEL's override and what a load of MODEL uses",
        Command(cmd_show, _text_show),
    )
    p.add_argument("model", nargs="?", metavar="MODEL", help="a model key (default: the default)")
    fields = ", ".join(PROFILE_FIELDS)
    p = add_command(
        actions,
        "set",
        "change fields of the default profile or of MODEL's override (KEY= clears one)",
        Command(cmd_set, _text_show),
    )
    p.add_argument(
        "items",
        nargs="+",
        metavar="[MODEL] KEY=VALUE",
        help=f"keys: {fields}, write_lmstudio_defaults (short: context, gpu, ttl, flash)",
    )
    p = add_command(
        actions,
        "delete",
        "remove MODEL's override (kept in the history)",
        Command(cmd_delete, text_message),
    )
    p.add_argument("model", metavar="MODEL")


def _profile_json(profile: LoadProfile) -> dict[str, Any]:
    return profile.model_dump(mode="json", exclude_none=True)


async def cmd_list(ctx: Context, args: argparse.Namespace) -> Result:
    store = ctx.workspace.load_profiles
    entries = await asyncio.to_thread(store.list)
    doc = {
        "profiles": [
            {
                "model": e.model_key,
                "profile": _profile_json(e.profile),
                "description": describe_profile(e.profile),
                "path": str(e.path),
            }
            for e in entries
        ]
    }
    return doc, EXIT_OK


async def cmd_show(ctx: Context, args: argparse.Namespace) -> Result:
    return await _show(ctx, ctx.workspace.load_profiles, args.model), EXIT_OK


async def _show(ctx: Context, store: LoadProfileStore, model: str | None) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        own = store.default() if model is None else store.for_model(model)
        doc: dict[str, Any] = {
            "model": model,
            "profile": _profile_json(own) if own is not None else None,
            "path": str(store.path_for(model)),
        }
        if model is not None:
            eff = store.effective(model)
            doc["effective"] = _profile_json(eff)
            doc["description"] = describe_profile(eff)
            doc["lmstudio_default"] = _lmstudio_default(ctx, model)
        else:
            doc["description"] = describe_profile(own or LoadProfile())
        return doc

    return await asyncio.to_thread(read)


def _lmstudio_default(ctx: Context, model: str) -> dict[str, Any] | None:
    home = ctx.env.home
    if not home.exists:
        return None
    try:
        found = LmStudioDefaults(home.path, None).read(model)
    except TrayError:
        return None
    return _profile_json(found) if found is not None else None


async def cmd_set(ctx: Context, args: argparse.Namespace) -> Result:
    items: list[str] = list(args.items)
    model = None if "=" in items[0] else items.pop(0)
    if not items:
        raise UsageError("Say what to set, as KEY=VALUE (e.g. context=8192 gpu=max).")
    changes: dict[str, Any] = {}
    for item in items:
        try:
            name, value = parse_assignment(item)
        except ValueError as exc:
            raise UsageError(f"{exc}.") from None
        changes[name] = value
    store = ctx.workspace.load_profiles
    longest = (
        await _longest_context(ctx, model)
        if model is not None and changes.get("context_length") is not None
        else None
    )

    def save() -> None:
        current = store.default() if model is None else store.for_model(model)
        values = {**(current or LoadProfile()).model_dump(), **changes}
        if values.get("write_lmstudio_defaults") is None:
            values["write_lmstudio_defaults"] = False
        problems = validate_profile(values, is_default=model is None, max_context=longest)
        if problems:
            raise UsageError(" ".join(problems.values()))
        store.save(LoadProfile.model_validate(values), model)

    await asyncio.to_thread(save)
    doc = await _show(ctx, store, model)
    return doc, EXIT_OK


async def _longest_context(ctx: Context, model: str) -> int | None:
    """The longest context `model` takes, from the server's model list; None when the
    server does not say (not running, another machine's model): then nothing is refused."""
    try:
        models = await ctx.client.list_models()
    except TrayError as exc:
        log.info("no model list to check the context length against: %s", exc.message)
        return None
    return next((m.max_context_length for m in models if m.key == model), None)


async def cmd_delete(ctx: Context, args: argparse.Namespace) -> Result:
    store = ctx.workspace.load_profiles
    commit = await asyncio.to_thread(store.delete, args.model)
    if commit is None and not store.path_for(args.model).exists():
        doc = {"deleted": None, "message": f"{args.model} has no load profile of its own."}
        return doc, EXIT_FAILED
    doc = {
        "deleted": args.model,
        "message": f"Deleted the load profile of {args.model}; the default profile applies to "
        "it now (`lmstudio-tray history log` keeps the old one).",
    }
    return doc, EXIT_OK


# --- text -------------------------------------------------------------------------------


def _text_list(doc: dict[str, Any]) -> str:
    lines = []
    for p in doc["profiles"]:
        name = p["model"] or "(default)"
        lines.append(f"{name:<40} {p['description']}")
    if len(doc["profiles"]) == 1:
        lines.append("No model has a profile of its own (`profiles set MODEL KEY=VALUE`).")
    return "\n".join(lines)


def _fields_text(profile: dict[str, Any] | None, indent: str = "  ") -> list[str]:
    if profile is None:
        return [f"{indent}(none)"]
    shown = LoadProfile.model_validate(profile)
    lines = [f"{indent}{FIELD_LABELS[f] + ':':<22} {shown.value_text(f)}" for f in PROFILE_FIELDS]
    lines.append(
        f"{indent}{'Write LM Studio default:':<22} "
        + ("yes" if shown.write_lmstudio_defaults else "no")
    )
    return lines


def _text_show(doc: dict[str, Any]) -> str:
    if doc["model"] is None:
        return "\n".join(["Default load profile:", *_fields_text(doc["profile"] or {})])
    lines = [f"Load profile of {doc['model']}:", *_fields_text(doc["profile"])]
    lines += ["A load of it uses (with the default):", f"  {doc['description']}"]
    if doc.get("lmstudio_default") is not None:
        own = describe_profile(LoadProfile.model_validate(doc["lmstudio_default"]))
        lines.append(f"LM Studio's own default for it: {own}")
    return "\n".join(lines)
