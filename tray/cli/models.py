"""`models`: loaded models (with status, queue and TTL from `lms ps`) and downloaded ones."""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from tray.cli._common import EXIT_OK, Command, Context, Result, add_command
from tray.core.errors import LmsError
from tray.core.inventory import DownloadedModelRow, LoadedModelRow, build_inventory

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_command(
        sub,
        "models",
        "loaded models (status, queue, TTL) and downloaded models",
        Command(cmd_models, _text_models),
    )


async def cmd_models(ctx: Context, args: argparse.Namespace) -> Result:
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
