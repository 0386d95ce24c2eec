"""`models`: loaded models (with status, queue and TTL from `lms ps`) and downloaded ones;
`models load|unload|restore` load a model, eject one or all (saving a restore point, as
the tray does), and bring the set back."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import time
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
)
from tray.core.errors import EndpointNotSupported, LmsError, NotFound, TrayError
from tray.core.inventory import DownloadedModelRow, LoadedModelRow, build_inventory
from tray.core.load_profiles import FIELD_LABELS, LoadProfile, Preflight, effective
from tray.core.restore import (
    LoadedResult,
    RestoreOutcome,
    format_duration,
    restore_outcome_text,
)
from tray.core.words import plural, quoted
from tray.services.backend_models import BackendModels
from tray.services.lms_runner import GpuOffload
from tray.services.model_manager import ModelManager

__all__ = ["ORDER", "model_manager", "register"]

ORDER = 20

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    actions = add_group(
        sub,
        "models",
        "loaded models (status, queue, TTL) and downloaded models; load, unload and restore models",
        Command(cmd_models, _text_models),
    )
    load = add_command(
        actions,
        "load",
        "load a downloaded model (with lms: progress, identifier, parallel, TTL, GPU offload)",
        Command(cmd_load, _text_message),
    )
    load.add_argument("model", metavar="MODEL", help="the model key (see `models`)")
    load.add_argument("-c", "--context-length", type=_positive, metavar="N")
    load.add_argument(
        "--gpu", type=_gpu, metavar="off|max|0-1", help="GPU offload ratio (needs lms)"
    )
    load.add_argument("--ttl", type=_positive, metavar="S", help="idle TTL in seconds (needs lms)")
    load.add_argument("--parallel", type=_positive, metavar="N", help="parallel slots (needs lms)")
    load.add_argument("--identifier", metavar="ID", help="instance identifier (needs lms)")
    load.add_argument(
        "--load-profile",
        metavar="NAME",
        help="the load profile to start from: a model key (its profile over the default), "
        "`default`, or `none` (default: MODEL's own, see `profiles`); the flags above win",
    )
    load.add_argument(
        "--keep-alive",
        metavar="TIME",
        help="Ollama: how long the model stays loaded when idle (e.g. 30m, 2h, -1 = until "
        "ejected; default: Ollama's own, 5m)",
    )
    load.add_argument(
        "--no-check",
        action="store_true",
        help="skip the pre-flight memory check (`lms load --estimate-only` against free VRAM)",
    )

    unload = add_command(
        actions,
        "unload",
        "eject a loaded model, or all of them (--all saves them for `models restore`)",
        Command(cmd_unload, _text_message),
    )
    which = unload.add_mutually_exclusive_group(required=True)
    which.add_argument("identifier", nargs="?", metavar="ID", help="the loaded instance")
    which.add_argument("--all", action="store_true", help="eject every loaded model")

    add_command(
        actions,
        "restore",
        "load again the models the last `unload --all` (or the tray's Eject all) ejected",
        Command(cmd_restore, _text_message),
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _gpu(text: str) -> GpuOffload:
    if text in ("off", "max"):
        return "off" if text == "off" else "max"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not off, max or a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{value:g} is not between 0 and 1")
    return value


def _manager(ctx: Context) -> ModelManager:
    manager = model_manager(ctx)
    if manager is None:
        raise EndpointNotSupported(ctx.env.capabilities.why_not("Loading and ejecting models"))
    return manager


def model_manager(ctx: Context) -> ModelManager | None:
    """What loads and ejects on this server (None: it cannot, e.g. OpenAI-compatible)."""
    return ctx.workspace.model_manager(
        ctx.env, ctx.client, ctx.runner, gpu_probe=lambda: ctx.gpu_probe().read()
    )


def _load_profile(ctx: Context, args: argparse.Namespace) -> LoadProfile:
    """The profile named by --load-profile (default: the model's effective one), with the
    explicit flags over it."""
    name = args.load_profile
    store = ctx.workspace.load_profiles
    if name == "none":
        base = LoadProfile()
    elif name == "default":
        base = effective(store.default(), None)
    else:
        if name is not None and store.for_model(name) is None:
            # Named on purpose, so a typo must not quietly load with the default profile.
            own = ", ".join(e.model_key for e in store.list() if e.model_key) or "none yet"
            raise NotFound(
                f"There is no load profile for {quoted(name)} (models with one: {own}); "
                "name one of them, `default` or `none`."
            )
        base = store.effective(name or args.model)
    flags = {
        "context_length": args.context_length,
        "gpu_offload": args.gpu,
        "ttl_seconds": args.ttl,
        "parallel": args.parallel,
        "identifier": args.identifier,
    }
    given = {k: v for k, v in flags.items() if v is not None}
    return base.model_copy(update=given) if given else base


def _text_message(doc: dict[str, Any]) -> str:
    check = doc.get("preflight")
    if check is not None and check.get("fits") is False:
        return f"Warning: {check['text']}\n{doc['message']}"
    return str(doc["message"])


def _loaded_json(result: LoadedResult) -> dict[str, Any]:
    return {**result.model_dump(mode="json"), "context_short": result.context_short}


async def cmd_load(ctx: Context, args: argparse.Namespace) -> Result:
    await ctx.detect()
    manager = _manager(ctx)
    if isinstance(manager, BackendModels):  # Ollama: its own API and keep_alive
        keep = _keep_alive(args.keep_alive)
        await manager.load_keep_alive(args.model, keep)
        kept = f", kept for {args.keep_alive} when idle" if args.keep_alive else ""
        doc: dict[str, Any] = {
            "loaded": {"model_key": args.model, "identifier": args.model},
            "keep_alive": keep,
            "message": f"Loaded {args.model} on {ctx.env.assumed_kind.label}{kept}.",
        }
        return doc, EXIT_OK
    if args.keep_alive is not None:
        raise UsageError("--keep-alive is Ollama's; for LM Studio give --ttl SECONDS.")
    show = not args.json and sys.stderr.isatty()

    def progress(fraction: float) -> None:
        sys.stderr.write(f"\rLoading {args.model} {fraction:.0%}")
        sys.stderr.flush()

    profile = await asyncio.to_thread(_load_profile, ctx, args)
    check: Preflight | None = None
    if not args.no_check:
        try:
            check = await manager.preflight(args.model, profile)
        except TrayError as exc:
            # The load itself says it better (a missing model, lms failing).
            log.info("pre-flight skipped: %s", exc.message)
    result = await manager.load_with_profile(
        args.model, profile, progress=progress if show else None
    )
    if show:
        sys.stderr.write("\n")
    loaded = result.loaded.model_copy(
        update={"not_applied": tuple(FIELD_LABELS[u.field] for u in result.unapplied)}
    )
    doc = {
        "loaded": _loaded_json(loaded),
        "profile": result.profile.model_dump(mode="json", exclude_none=True),
        "path": result.path,
        "unapplied": [u.model_dump(mode="json") for u in result.unapplied],
        "mismatches": [m.model_dump(mode="json") for m in result.mismatches],
        "via_lmstudio_defaults": list(result.via_defaults),
        "lmstudio_defaults_written": list(result.defaults_written),
        "preflight": check.model_dump(mode="json") if check is not None else None,
        "message": result.text(),
    }
    return doc, EXIT_OK


async def cmd_unload(ctx: Context, args: argparse.Namespace) -> Result:
    await ctx.detect()
    manager = _manager(ctx)
    if not args.all:
        await manager.eject(args.identifier)
        doc: dict[str, Any] = {"unloaded": [args.identifier], "restore_point": None}
        return doc | {"message": f"Ejected {args.identifier}."}, EXIT_OK
    ps = None
    if manager.uses_lms and ctx.runner is not None:
        # For TTL and parallel in the restore point; the server answers, so nothing wakes.
        try:
            ps = await ctx.runner.ps()
        except LmsError as exc:
            log.info("lms ps failed; the restore point lacks TTLs: %s", exc.message)
    backend = ctx.backend()
    if backend is not None:
        rows = (await backend.poll())[0]
    else:
        rows = build_inventory(await ctx.client.list_models(), ps).loaded
    point = await manager.eject_all(rows)
    ids = [m.identifier for m in point.models]
    if ids:
        message = (
            f"Ejected {plural(len(ids), 'model')}: {', '.join(ids)}. "
            f"Run lmstudio-tray models restore to load {'it' if len(ids) == 1 else 'them'} again."
        )
    else:
        message = "No models were loaded."
    doc = {
        "unloaded": ids,
        "restore_point": point.model_dump(mode="json") if ids else None,
        "message": message,
    }
    return doc, EXIT_OK


async def cmd_restore(ctx: Context, args: argparse.Namespace) -> Result:
    await ctx.detect()
    manager = _manager(ctx)
    if manager.restore_point() is None:
        doc: dict[str, Any] = {
            "restored": [],
            "message": "There is nothing to restore: no `models unload --all` (or Eject all) "
            "has saved a set of models for this server profile since the last restore.",
        }
        return doc, EXIT_FAILED
    outcomes: list[RestoreOutcome] = await manager.restore()
    doc = {
        "restored": [{**o.model_dump(mode="json"), "ok": o.ok} for o in outcomes],
        "message": restore_outcome_text(outcomes),
    }
    return doc, EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED


async def cmd_models(ctx: Context, args: argparse.Namespace) -> Result:
    await ctx.detect()
    if (backend := ctx.backend()) is not None:  # another kind's own API
        (loaded, served), downloaded = await backend.poll(), await backend.downloaded()
        doc: dict[str, Any] = {
            "loaded": [
                r.model_dump(mode="json", exclude={"requested_context_length"}) for r in loaded
            ],
            "downloaded": [r.model_dump(mode="json") for r in downloaded],
            "served": list(served),
            "kind": ctx.env.assumed_kind.value,
        }
        return doc, EXIT_OK
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


def _keep_alive(text: str | None) -> str | int | None:
    """Ollama's keep_alive as given: a duration ("30m"), or a number of seconds (-1)."""
    if text is None:
        return None
    t = text.strip()
    if re.fullmatch(r"-?\d+", t):
        return int(t)
    if not re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", t):
        raise UsageError(
            f"--keep-alive {quoted(text)} is not a duration; give e.g. 30m, 2h, 90s or -1."
        )
    return t


def _text_models(doc: dict[str, Any]) -> str:
    loaded = [LoadedModelRow.model_validate(r) for r in doc["loaded"]]
    downloaded = [DownloadedModelRow.model_validate(r) for r in doc["downloaded"]]
    if not loaded and doc.get("served") and doc.get("kind") == "openai":
        lines = [f"Served ({len(doc['served'])}): " + ", ".join(doc["served"])]
        return "\n".join(lines)
    lines = [f"Loaded ({len(loaded)}):" if loaded else "No models loaded."]
    for m in loaded:
        ctx_text = f"ctx {m.context_length or '?'}/{m.max_context_length or '?'}"
        if m.vram_bytes is not None and m.size_bytes:
            ctx_text += f"  {round(100 * m.vram_bytes / m.size_bytes)}% VRAM"
        extra = [m.status or "status unknown"]
        if m.status is None and m.ttl_remaining_seconds is not None:
            extra = [f"unloads in {format_duration(m.ttl_remaining_seconds)} if idle"]
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
