"""`gpu`: the GPU's own memory reading next to what LM Studio says its loaded models take.

No GPU found is an answer (exit 0) that says why; the device figures come from NVML, AMD
sysfs or Apple unified memory only (`tray.services.gpu`), never from an estimate.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from tray.cli._common import EXIT_OK, Command, Context, Result, add_command
from tray.core.backends import BackendKind
from tray.core.gpu import GpuDevice, format_bytes
from tray.core.status import ServerState, ServerStatus

__all__ = ["ORDER", "register"]

ORDER = 40


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_command(
        sub,
        "gpu",
        "GPU memory used/total per device, next to the size of LM Studio's loaded models",
        Command(cmd_gpu, _text_gpu),
    )


def _read_gpu(ctx: Context) -> dict[str, Any]:
    report = ctx.gpu_probe().read()
    return {
        "devices": [d.model_dump(mode="json") for d in report.devices],
        "unavailable_reason": report.unavailable_reason,
    }


def models_bytes(status: ServerStatus, *, lists_loaded: bool) -> int | None:
    """LM Studio's own figure: the sum of its loaded models' sizes, or None when unknown
    (server not answering with its list, a size missing, or a server that cannot list)."""
    if not lists_loaded or status.state not in (ServerState.RUNNING, ServerState.RUNNING_AUTH):
        return None
    return status.models_bytes if status.loaded else 0


async def cmd_gpu(ctx: Context, args: argparse.Namespace) -> Result:
    # The probes block briefly (file reads, NVML calls): off the event loop, alongside the
    # HTTP probe of the server.
    gpu, monitor = await asyncio.gather(asyncio.to_thread(_read_gpu, ctx), ctx.probe_server())
    status = monitor.status
    lists_loaded = ctx.env.capabilities.lists_loaded
    listed = lists_loaded and status.state in (ServerState.RUNNING, ServerState.RUNNING_AUTH)
    doc = {
        **gpu,
        "lmstudio_models_bytes": models_bytes(status, lists_loaded=lists_loaded),
        "lmstudio_models": len(status.loaded) if listed else None,
        "server": {
            "url": status.url,
            "state": status.state.value,
            "kind": status.kind.value if status.kind_known else None,
            "error": status.error,
        },
    }
    return doc, EXIT_OK


def _text_gpu(doc: dict[str, Any]) -> str:
    devices = [GpuDevice.model_validate(d) for d in doc["devices"]]
    lines: list[str] = []
    if devices:
        width = max(len("Device"), *(len(d.name) for d in devices))
        lines.append(f"{'Device':<{width}}  {'Used':>10}  {'Total':>10}  {'Used %':>6}  Source")
        for d in devices:
            fraction = d.used_fraction
            percent = f"{fraction * 100:.0f}%" if fraction is not None else "?"
            lines.append(
                f"{d.name:<{width}}  {format_bytes(d.used_bytes):>10}  "
                f"{format_bytes(d.total_bytes):>10}  {percent:>6}  {d.source}"
            )
    else:
        lines.append(f"GPU memory: unknown. {doc['unavailable_reason'] or ''}".rstrip())
    server = doc["server"]
    who = BackendKind(server["kind"]).label if server.get("kind") else "LM Studio"
    if doc["lmstudio_models_bytes"] is not None:
        n = doc["lmstudio_models"]
        lines.append(
            f"{who}: {n} loaded model{'s take' if n != 1 else ' takes'} "
            f"{format_bytes(doc['lmstudio_models_bytes'])} (by {who}'s own figures)"
        )
    elif server["state"] in (ServerState.RUNNING.value, ServerState.RUNNING_AUTH.value):
        lines.append(f"{who}: the size of its loaded models is unknown ({server['url']})")
    else:
        label = ServerState(server["state"]).label
        lines.append(f"{who}: {label.lower()} at {server['url']}, loaded models unknown")
    return "\n".join(lines)
