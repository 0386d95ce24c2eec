"""`status` and `doctor`: is the server up, and everything needed to report a problem."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from tray import __version__
from tray.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    Command,
    Context,
    Result,
    add_command,
    lms_facts,
)
from tray.core.backends import BackendKind
from tray.core.errors import LmsError
from tray.core.gpu import memory_line
from tray.core.status import ServerState, ServerStatus
from tray.core.words import on_off, plural
from tray.services.known_packages import load_known_packages
from tray.services.lms_runner import lms_not_found
from tray.services.lmstudio_home import count_model_default_configs, count_presets

__all__ = ["ORDER", "register", "server_json", "server_where"]

ORDER = 10


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "status",
        "is the server up (and what kind: LM Studio, Ollama, llama.cpp…), does it need a "
        "token, where are LM Studio and lms",
        Command(cmd_status, _text_status),
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="every saved server (`servers list`), probed at once",
    )
    add_command(
        sub,
        "doctor",
        "everything needed to report a problem, with a warning for each one found",
        Command(cmd_doctor, _text_doctor),
    )


def server_json(st: ServerStatus) -> dict[str, Any]:
    """The `server` object of `status --json` (and of each server in `status --all`)."""
    reachable = st.state.is_up
    return {
        "url": st.url,
        "state": st.state.value,
        "reachable": reachable,
        # What answers, once it did (None: not known — it never answered).
        "kind": st.kind.value if st.kind_known else None,
        "title": st.title if st.kind_known else None,
        "legacy_api": st.legacy if st.kind_known else None,
        "auth_required": st.auth_required,
        "version": st.version,
        "loaded_models": len(st.loaded) if reachable else None,
        "served_models": list(st.served_models) if reachable and st.served_models else None,
        "error": st.error,
    }


async def cmd_status(ctx: Context, args: argparse.Namespace) -> Result:
    if args.all:
        from tray.cli.servers import status_all

        return await status_all(ctx)
    # An address that is not one stops here, before `lms` starts: cancelling a subprocess
    # while asyncio is still spawning it never returns (CPython 3.11).
    _ = ctx.server_url
    monitor, lms = await asyncio.gather(ctx.probe_server(), lms_facts(ctx))
    st = monitor.status
    doc = {
        "server": server_json(st),
        "lms": lms,
        "home": {
            "path": str(ctx.env.home.path),
            "source": ctx.env.home.source.value,
            "exists": ctx.env.home.exists,
        },
    }
    ok = st.state in (ServerState.RUNNING, ServerState.RUNNING_AUTH)
    return doc, EXIT_OK if ok else EXIT_FAILED


def server_where(s: dict[str, Any]) -> str:
    """ "http://…", or "Ollama 0.12.6 at http://…" for a server that is not LM Studio 0.4+."""
    plain = s["kind"] in (None, "lmstudio") and not s.get("legacy_api")
    return s["url"] if plain else f"{s['title']} at {s['url']}"


def _text_status(doc: dict[str, Any]) -> str:
    if "servers" in doc:
        from tray.cli.servers import text_status_all

        return text_status_all(doc)
    s, lms, home = doc["server"], doc["lms"], doc["home"]
    lines = [f"Server:  {server_where(s)} — {ServerState(s['state']).label}"]
    if s["reachable"]:
        auth = {True: "required", False: "off", None: "unknown"}[s["auth_required"]]
        lines.append(
            f"         version {s['version'] or 'unknown'}, auth {auth}, "
            f"{plural(s['loaded_models'], 'model') if s['loaded_models'] else 'no models'} loaded"
        )
    if s["error"]:
        lines.append(f"         {s['error']}")
    if lms["path"]:
        running = {True: "running", False: "not running", None: "unknown"}[lms["server_running"]]
        port = f" on port {lms['port']}" if lms["port"] else ""
        lines.append(f"lms:     {lms['path']} (server {running}{port})")
    else:
        lines.append("lms:     not found")
    if lms.get("error"):
        lines.append(f"         {lms['error']}")
    lines.append(
        f"Home:    {home['path']} ({home['source']}{'' if home['exists'] else ', does not exist'})"
    )
    return "\n".join(lines)


async def cmd_doctor(ctx: Context, args: argparse.Namespace) -> Result:
    env = ctx.env
    warnings: list[str] = []
    # What matters only when the server is LM Studio (its home, `lms`): for another kind
    # of server these become notes, not warnings.
    lmstudio_only: list[str] = []
    home = env.home
    if not home.exists:
        lmstudio_only.append(
            f"The LM Studio home {home.path} does not exist: is LM Studio installed "
            "and has it been run once? (Use --home if it lives elsewhere.)"
        )
    if ctx.settings_problem is not None:
        warnings.append(ctx.settings_problem.message)

    lms_version = None
    if env.lms_path is None:
        lmstudio_only.append(lms_not_found(configured=env.lms_configured, home=home.path).message)
    elif ctx.runner is not None:
        try:
            lms_version = await ctx.runner.version()
        except LmsError as exc:
            warnings.append(exc.message)

    cfg = env.server_config
    server_settings: dict[str, Any] | None = None
    if env.server_config_error:
        warnings.append(env.server_config_error)
    elif cfg is not None:
        server_settings = {
            "port": cfg.effective_port,
            "bind": cfg.network_interface,
            "cors": cfg.cors,
            "jit": cfg.jit,
            "beyond_loopback": cfg.beyond_loopback,
        }

    _ = ctx.server_url  # see cmd_status
    monitor, lms, gpu = await asyncio.gather(
        ctx.probe_server(), lms_facts(ctx), asyncio.to_thread(lambda: ctx.gpu_probe().read())
    )
    st = monitor.status
    another_kind = st.kind_known and st.kind is not BackendKind.LMSTUDIO
    notes = lmstudio_only if another_kind else []
    warnings[:0] = [] if another_kind else lmstudio_only
    if not st.state.is_up:
        warnings.append(f"The server at {st.url} is not reachable: {st.error}")
    elif st.state is ServerState.AUTH_REQUIRED:
        warnings.append(
            f"The server at {st.url} requires an API token: set LM_API_TOKEN "
            "(the tray keeps it in the OS keyring)."
        )
    if cfg is not None and cfg.beyond_loopback and st.auth_required is False:
        warnings.append(
            f"The server listens on {cfg.network_interface} (beyond this machine) "
            "with authentication off: anyone on the network can use it. Turn on "
            "'Require Authentication' in LM Studio's Developer › Server Settings."
        )

    doc = {
        "version": __version__,
        "home": {
            "path": str(home.path),
            "source": home.source.value,
            "how": home.describe(),
            "exists": home.exists,
        },
        "lms": {**lms, "version": lms_version},
        "server_settings": server_settings,
        "server": {
            "url": st.url,
            **server_json(st),
            "url_source": env.server_url_source,
        },
        "gpu": {
            "devices": [d.model_dump(mode="json") for d in gpu.devices],
            "unavailable_reason": gpu.unavailable_reason,
            "line": memory_line(gpu),
        },
        "presets": count_presets(home.path) if home.exists else 0,
        "model_default_configs": count_model_default_configs(home.path) if home.exists else 0,
        "mcp_known_packages": _known_packages(),
        "warnings": warnings,
        "notes": notes,
    }
    return doc, EXIT_OK if not warnings else EXIT_FAILED


def _known_packages() -> dict[str, Any] | None:
    """The date and size of the well-known MCP packages list the audit uses (C5)."""
    known = load_known_packages()
    if known is None:
        return None
    return {"date": known.date, "npm": len(known.npm), "pypi": len(known.pypi)}


def _text_doctor(doc: dict[str, Any]) -> str:
    lms, srv, cfg = doc["lms"], doc["server"], doc["server_settings"]
    lines = [
        f"LM Studio Tray {doc['version']}",
        f"Home:            {doc['home']['how']}",
        f"lms:             {lms['path'] or 'not found'}"
        + (f" ({lms['version']})" if lms.get("version") else ""),
    ]
    if cfg:
        lines.append(
            f"Server settings: port {cfg['port']}, bind {cfg['bind'] or '?'}, "
            f"CORS {on_off(cfg['cors'])}, JIT {on_off(cfg['jit'])}"
            + (", listens beyond loopback" if cfg["beyond_loopback"] else "")
        )
    else:
        lines.append("Server settings: none saved by LM Studio yet")
    auth = {True: "required", False: "off", None: "unknown"}[srv["auth_required"]]
    lines.append(
        f"Server:          {server_where(srv)} ({srv['url_source']}) — "
        f"{ServerState(srv['state']).label}, auth {auth}"
    )
    gpu = doc["gpu"]
    names = ", ".join(d["name"] for d in gpu["devices"])
    memory = str(gpu["line"]).split(": ", 1)[-1]  # "18.32 GB of 25.77 GB used", "unknown — …"
    lines.append(f"GPU:             {names + ': ' if names else ''}{memory}")
    lines.append(
        f"Presets:         {doc['presets']}; per-model defaults: {doc['model_default_configs']}"
    )
    known = doc.get("mcp_known_packages")
    lines.append(
        f"MCP packages:    list of {known['npm']} npm and {known['pypi']} PyPI packages "
        f"from {known['date']}"
        if known
        else "MCP packages:    the known-packages list cannot be read (typosquat check off)"
    )
    for w in doc["warnings"]:
        lines.append(f"warning: {w}")
    for n in doc.get("notes", ()):
        lines.append(f"note (matters only for LM Studio): {n}")
    if not doc["warnings"]:
        lines.append("No problems found.")
    return "\n".join(lines)
