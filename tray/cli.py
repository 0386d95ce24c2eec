"""The command line: the same services as the tray, for scripts and headless checks.

Text by default, exactly one JSON document on stdout with `--json`. Exit codes:
0 success; 1 the server or LM Studio cannot do it (unreachable, auth, not found);
2 usage errors or unreadable input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from tray import __version__
from tray.core.errors import ConfigError, LmsError, TrayError
from tray.core.inventory import DownloadedModelRow, LoadedModelRow, build_inventory
from tray.core.settings import Settings
from tray.core.status import ServerState
from tray.core.tokens import NoToken, TokenProvider
from tray.services.environment import Environment, discover, token_from_environment
from tray.services.lms_runner import LmsProbe, LmsRunner, lms_not_found
from tray.services.lmstudio_client import LmStudioClient
from tray.services.lmstudio_home import count_model_default_configs, count_presets
from tray.services.settings_store import SettingsStore
from tray.services.status_monitor import StatusMonitor

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "run"]

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
LMS_TIMEOUT = 20.0


# --- arguments -------------------------------------------------------------------------


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # Subcommands re-declare the global options with SUPPRESS defaults so that an option
    # given before the subcommand is not reset by the subparser: both positions work.
    def d(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    g = parser.add_argument_group("global options")
    g.add_argument(
        "--server",
        metavar="URL",
        default=d(None),
        help="LM Studio server URL (default: from settings, else LM Studio's own)",
    )
    g.add_argument(
        "--home",
        metavar="DIR",
        type=Path,
        default=d(None),
        help="LM Studio home folder (default: found as LM Studio finds it)",
    )
    g.add_argument(
        "--lms",
        metavar="PATH",
        type=Path,
        default=d(None),
        help="the lms executable (default: settings, PATH, <home>/bin/lms)",
    )
    g.add_argument(
        "--json", action="store_true", default=d(False), help="print one JSON document on stdout"
    )
    g.add_argument(
        "--log-level",
        default=d("warning"),
        choices=["debug", "info", "warning", "error"],
        help="log to stderr",
    )
    g.add_argument(
        "--settings", metavar="FILE", type=Path, default=d(None), help=argparse.SUPPRESS
    )  # tests and power users: another settings file


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lmstudio-tray",
        description="LM Studio Tray: a system-tray companion for LM Studio. "
        "Without a command it starts the tray; commands print text or --json.",
        epilog="API tokens are read from LM_API_TOKEN (or LMSTUDIO_API_TOKEN) when set.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start the tray with a built-in simulated LM Studio (no LM Studio needed)",
    )
    _add_global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in (
        ("status", "is the server up, does it need a token, where are LM Studio and lms"),
        ("models", "loaded models (with status, queue, TTL) and downloaded models"),
        ("doctor", "everything needed to report a problem, with a warning for each one found"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        _add_global_options(p, suppress=True)
    return parser


# --- the commands ----------------------------------------------------------------------


class Context:
    """What every command needs, built once from arguments, settings and the machine."""

    def __init__(self, args: argparse.Namespace, http: httpx.AsyncClient) -> None:
        store = SettingsStore(args.settings) if args.settings else SettingsStore()
        self.settings: Settings = store.load()
        self.settings_problem = store.problem
        self.env: Environment = discover(
            self.settings, server=args.server, home=args.home, lms=args.lms
        )
        self.token: TokenProvider = token_from_environment()
        self.client = LmStudioClient(http, self.env.server_url, token_provider=self.token)
        self.anonymous = LmStudioClient(http, self.env.server_url, token_provider=NoToken())
        self.runner = (
            LmsRunner(self.env.lms_path, timeout=LMS_TIMEOUT) if self.env.lms_path else None
        )

    async def probe_server(self) -> StatusMonitor:
        monitor = StatusMonitor(
            self.client,
            url=self.env.server_url,
            anonymous=self.anonymous,
            has_token=not isinstance(self.token, NoToken),
        )
        await monitor.probe()
        return monitor


async def _lms_facts(ctx: Context) -> dict[str, Any]:
    """What `lms` says without waking LM Studio: path, server running, port."""
    facts: dict[str, Any] = {
        "path": str(ctx.env.lms_path) if ctx.env.lms_path else None,
        "server_running": None,
        "port": None,
        "error": None,
    }
    if ctx.runner is None:
        return facts
    try:
        st = await LmsProbe(ctx.runner).server_status()
        facts["server_running"], facts["port"] = st.running, st.port
    except LmsError as exc:
        facts["error"] = exc.message
    return facts


async def cmd_status(ctx: Context) -> tuple[dict[str, Any], int]:
    monitor, lms = await asyncio.gather(ctx.probe_server(), _lms_facts(ctx))
    st = monitor.status
    reachable = st.state.is_up
    doc = {
        "server": {
            "url": st.url,
            "state": st.state.value,
            "reachable": reachable,
            "auth_required": st.auth_required,
            "version": st.version,
            "loaded_models": len(st.loaded) if reachable else None,
            "error": st.error,
        },
        "lms": lms,
        "home": {
            "path": str(ctx.env.home.path),
            "source": ctx.env.home.source.value,
            "exists": ctx.env.home.exists,
        },
    }
    ok = st.state in (ServerState.RUNNING, ServerState.RUNNING_AUTH)
    return doc, EXIT_OK if ok else EXIT_FAILED


def _text_status(doc: dict[str, Any]) -> str:
    s, lms, home = doc["server"], doc["lms"], doc["home"]
    lines = [f"Server:  {s['url']} — {ServerState(s['state']).label}"]
    if s["reachable"]:
        auth = {True: "required", False: "off", None: "unknown"}[s["auth_required"]]
        lines.append(
            f"         version {s['version'] or 'unknown'}, auth {auth}, "
            f"{s['loaded_models']} model(s) loaded"
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


async def cmd_models(ctx: Context) -> tuple[dict[str, Any], int]:
    models = await ctx.client.list_models()
    ps = None
    if ctx.runner is not None:
        # The HTTP API answered, so LM Studio is running: `lms ps` wakes nothing.
        try:
            ps = await ctx.runner.ps()
        except LmsError as exc:
            log.info("lms ps failed, status/queue/TTL unknown: %s", exc.message)
    inventory = build_inventory(models, ps, now_ms=int(time.time() * 1000))
    doc = {
        "loaded": [
            row.model_dump(mode="json", exclude={"requested_context_length"})
            for row in inventory.loaded
        ],
        "downloaded": [row.model_dump(mode="json") for row in inventory.downloaded],
    }
    return doc, EXIT_OK


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def _text_models(doc: dict[str, Any]) -> str:
    loaded = [LoadedModelRow.model_validate(r) for r in doc["loaded"]]
    downloaded = [DownloadedModelRow.model_validate(r) for r in doc["downloaded"]]
    lines = [f"Loaded ({len(loaded)}):"]
    if not loaded:
        lines.append("  none")
    for m in loaded:
        ctx_text = f"ctx {m.context_length or '?'}/{m.max_context_length or '?'}"
        extra = [m.status or "status unknown"]
        if m.queued:
            extra.append(f"{m.queued} queued")
        if m.ttl_seconds is not None:
            extra.append(f"TTL {m.ttl_seconds}s")
        lines.append(
            f"  {m.identifier:<40} {_size(m.size_bytes):>9}  {ctx_text:<18} {', '.join(extra)}"
        )
    lines.append(f"Downloaded ({len(downloaded)}):")
    for d in downloaded:
        quant = d.quantization or "?"
        lines.append(
            f"  {d.model_key:<40} {_size(d.size_bytes):>9}  {d.type:<9} {d.format or '?':<5} "
            f"{quant:<7} max ctx {d.max_context_length or '?'}"
        )
    return "\n".join(lines)


async def cmd_doctor(ctx: Context) -> tuple[dict[str, Any], int]:
    env = ctx.env
    warnings: list[str] = []
    home = env.home
    if not home.exists:
        warnings.append(
            f"The LM Studio home {home.path} does not exist: is LM Studio installed "
            "and has it been run once? (Use --home if it lives elsewhere.)"
        )
    if ctx.settings_problem is not None:
        warnings.append(ctx.settings_problem.message)

    lms_version = None
    if env.lms_path is None:
        warnings.append(lms_not_found(configured=env.lms_configured, home=home.path).message)
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

    monitor, lms = await asyncio.gather(ctx.probe_server(), _lms_facts(ctx))
    st = monitor.status
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
            "url_source": env.server_url_source,
            "state": st.state.value,
            "reachable": st.state.is_up,
            "auth_required": st.auth_required,
            "version": st.version,
            "error": st.error,
        },
        "presets": count_presets(home.path) if home.exists else 0,
        "model_default_configs": count_model_default_configs(home.path) if home.exists else 0,
        "warnings": warnings,
    }
    return doc, EXIT_OK if not warnings else EXIT_FAILED


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
            f"CORS {cfg['cors']}, JIT {cfg['jit']}"
            + (", listens beyond loopback" if cfg["beyond_loopback"] else "")
        )
    else:
        lines.append("Server settings: none saved by LM Studio yet")
    auth = {True: "required", False: "off", None: "unknown"}[srv["auth_required"]]
    lines.append(
        f"Server:          {srv['url']} ({srv['url_source']}) — "
        f"{ServerState(srv['state']).label}, auth {auth}"
    )
    lines.append(
        f"Presets:         {doc['presets']}; per-model defaults: {doc['model_default_configs']}"
    )
    for w in doc["warnings"]:
        lines.append(f"warning: {w}")
    if not doc["warnings"]:
        lines.append("No problems found.")
    return "\n".join(lines)


COMMANDS: dict[
    str,
    tuple[
        Callable[[Context], Awaitable[tuple[dict[str, Any], int]]], Callable[[dict[str, Any]], str]
    ],
] = {
    "status": (cmd_status, _text_status),
    "models": (cmd_models, _text_models),
    "doctor": (cmd_doctor, _text_doctor),
}


async def _run(args: argparse.Namespace) -> int:
    command, render = COMMANDS[args.command]
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
        ctx = Context(args, http)
        try:
            doc, code = await command(ctx)
        except TrayError as exc:
            code = EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILED
            doc = {
                "error": {"title": exc.title, "message": exc.message, "kind": type(exc).__name__}
            }
            if not args.json:
                print(f"{exc.title}: {exc.message}", file=sys.stderr)
                return code
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(render(doc))
    return code


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return EXIT_USAGE
    return run(args)
