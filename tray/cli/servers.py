"""`servers add|list|remove|use` and `status --all`: every server the tray knows.

A saved server is a server profile of the settings (the Settings window's Servers page
edits the same list); its API token stays in the OS keyring under the profile's id.
`status --all` probes every saved server at once, so it takes about as long as the
slowest one, not the sum.
"""

from __future__ import annotations

import argparse
import asyncio
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
from tray.cli.info import server_json, server_where
from tray.core.backends import KIND_CHOICES, choice_label, parse_kind_choice
from tray.core.errors import ConfigError, NotFound, TokenError
from tray.core.profiles import ProfileFields, check_profile, removal_problem
from tray.core.settings import ServerProfile, Settings
from tray.core.status import ServerState, ServerStatus
from tray.core.words import quoted
from tray.services.server_watch import profile_monitor

__all__ = ["ORDER", "register", "status_all", "text_status_all"]

ORDER = 12


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    actions = add_group(
        sub,
        "servers",
        "the saved servers (LM Studio, Ollama, llama.cpp, any OpenAI-compatible): add, "
        "list, remove, use",
        Command(cmd_list, _text_list),
    )
    p = add_command(actions, "add", "save a server under a name", Command(cmd_add, text_message))
    p.add_argument("name", metavar="NAME")
    p.add_argument("url", metavar="URL", help="its address, e.g. http://127.0.0.1:11434")
    p.add_argument(
        "--kind",
        default="auto",
        type=_kind,
        metavar="|".join(KIND_CHOICES),
        help="what it is (default: auto, found out at first contact)",
    )
    p.add_argument("--use", action="store_true", help="also make it the active server")
    add_command(actions, "list", "every saved server", Command(cmd_list, _text_list))
    p = add_command(
        actions,
        "remove",
        "forget a saved server (and its API token in the keyring)",
        Command(cmd_remove, text_message),
    )
    p.add_argument("name", metavar="NAME")
    p = add_command(
        actions,
        "use",
        "make a saved server the active one (the tray's and every command's)",
        Command(cmd_use, text_message),
    )
    p.add_argument("name", metavar="NAME")


def _kind(text: str) -> str:
    try:
        return str(parse_kind_choice(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{quoted(text)} is not a kind of server; choose {', '.join(KIND_CHOICES)}"
        ) from None


def _find(settings: Settings, name: str) -> ServerProfile:
    """A saved server by its name (any case) or id."""
    wanted = " ".join(name.split()).casefold()
    for p in settings.profiles:
        if p.name.casefold() == wanted or p.id == name:
            return p
    known = ", ".join(quoted(p.name) for p in settings.profiles)
    raise NotFound(f"There is no saved server called {quoted(name)} (saved: {known}).")


def _profile_json(p: ServerProfile, active: str) -> dict[str, Any]:
    return {
        "name": p.name,
        "id": p.id,
        "url": p.base_url,
        "kind": str(p.kind),
        "active": p.id == active,
    }


async def cmd_list(ctx: Context, args: argparse.Namespace) -> Result:
    s = ctx.settings
    return {"servers": [_profile_json(p, s.active_profile) for p in s.profiles]}, EXIT_OK


def _text_list(doc: dict[str, Any]) -> str:
    lines = []
    for s in doc["servers"]:
        mark = "*" if s["active"] else " "
        url = s["url"] or "this machine's LM Studio"
        kind = "" if s["kind"] == "auto" else f"  ({choice_label(parse_kind_choice(s['kind']))})"
        lines.append(f"{mark} {s['name']:<24} {url}{kind}")
    return "\n".join(lines) + "\n(* = active)"


async def cmd_add(ctx: Context, args: argparse.Namespace) -> Result:
    if not args.url.strip():
        raise UsageError("Give the server's address, e.g. http://127.0.0.1:11434.")
    settings = ctx.settings
    check = check_profile(
        ProfileFields(name=args.name, base_url=args.url, kind=parse_kind_choice(args.kind)),
        other_names=[p.name for p in settings.profiles],
        taken_ids=[p.id for p in settings.profiles],
    )
    if check.profile is None:
        raise UsageError(" ".join(check.errors.values()))
    profile = check.profile

    def change(s: Settings) -> None:
        s.profiles.append(profile)
        if args.use:
            s.active_profile = profile.id

    ctx.settings_service.update(change)
    active = " It is now the active server." if args.use else ""
    doc = {
        "server": _profile_json(profile, profile.id if args.use else ""),
        "message": f"Saved {quoted(profile.name)} ({profile.base_url}).{active}",
    }
    return doc, EXIT_OK


async def cmd_remove(ctx: Context, args: argparse.Namespace) -> Result:
    settings = ctx.settings
    profile = _find(settings, args.name)
    problem = removal_problem(len(settings.profiles) - 1)
    if problem:
        raise ConfigError(problem)

    def change(s: Settings) -> None:
        s.profiles[:] = [p for p in s.profiles if p.id != profile.id]
        if s.active_profile == profile.id:
            s.active_profile = s.profiles[0].id

    ctx.settings_service.update(change)
    note = ""
    try:
        if await ctx.vault.delete(profile.id):
            note = " Its API token was removed from the keyring."
    except TokenError as exc:
        note = f" Its API token could not be removed from the keyring: {exc.message}"
    now = ctx.settings_service.settings
    active = _find(now, now.active_profile).name
    doc = {
        "removed": profile.name,
        "active": active,
        "message": f"Removed {quoted(profile.name)}.{note} The active server is {quoted(active)}.",
    }
    return doc, EXIT_OK


async def cmd_use(ctx: Context, args: argparse.Namespace) -> Result:
    profile = _find(ctx.settings, args.name)

    def change(s: Settings) -> None:
        s.active_profile = profile.id

    ctx.settings_service.update(change)
    where = profile.base_url or "this machine's LM Studio"
    doc = {"active": profile.name, "message": f"Using {quoted(profile.name)} ({where})."}
    return doc, EXIT_OK


# --- status --all ------------------------------------------------------------------------


async def _probe_one(ctx: Context, profile: ServerProfile) -> dict[str, Any]:
    env = ctx.discover(profile.id, own_address=True)
    if env.server_url_error is not None:
        status = ServerStatus(url=env.server_url, state=ServerState.ERROR)
        status = status.model_copy(update={"error": env.server_url_error.message})
        return {"name": profile.name, "active": False, "server": server_json(status)}
    status = await profile_monitor(ctx.http, ctx.vault, env).probe()
    return {"name": profile.name, "active": False, "server": server_json(status)}


async def status_all(ctx: Context) -> Result:
    """Every saved server, probed concurrently."""
    profiles = ctx.settings.profiles
    found = await asyncio.gather(*(_probe_one(ctx, p) for p in profiles))
    for entry, p in zip(found, profiles, strict=True):
        entry["active"] = p.id == ctx.settings.active_profile
    up = all(e["server"]["reachable"] for e in found)
    return {"servers": list(found)}, EXIT_OK if up else EXIT_FAILED


def text_status_all(doc: dict[str, Any]) -> str:
    lines = []
    for e in doc["servers"]:
        s = e["server"]
        mark = "*" if e["active"] else " "
        lines.append(
            f"{mark} {e['name']:<20} {ServerState(s['state']).label:<24} {server_where(s)}"
        )
        if s["reachable"] and s["loaded_models"] is not None and not s.get("served_models"):
            lines.append(f"  {'':<20} {s['loaded_models']} loaded")
        if s["error"] and not s["reachable"]:
            lines.append(f"  {'':<20} {s['error']}")
    return "\n".join(lines)
