"""`scenes list|show NAME|save NAME|apply NAME|delete NAME`: the sets of models you switch
between, applied in one go (unload what the scene does not want, load what is missing,
keep what matches). "Free GPU" is built in. Every change to the scenes file is recorded
in the file history."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from tray.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    Command,
    Context,
    Result,
    add_command,
    add_group,
    text_message,
)
from tray.cli.models import model_manager
from tray.core.errors import EndpointNotSupported
from tray.core.scenes import FREE_GPU, Scene, ScenePlan
from tray.services.scene_runner import SceneRunner
from tray.services.server_controller import ServerController

__all__ = ["ORDER", "register"]

ORDER = 23


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    actions = add_group(
        sub,
        "scenes",
        "scenes: the sets of models you switch between, applied in one go",
        Command(cmd_list, _text_list),
    )
    add_command(actions, "list", "the saved scenes (and Free GPU)", Command(cmd_list, _text_list))
    p = add_command(
        actions, "show", "one scene: its models and settings", Command(cmd_show, _text_show)
    )
    p.add_argument("name", metavar="NAME")
    p = add_command(
        actions,
        "save",
        "save what is loaded now (identifiers and context lengths) as scene NAME "
        "(over the scene of that name, if there is one)",
        Command(cmd_save, text_message),
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "--keep-others",
        action="store_true",
        help="when applied, leave models outside the scene loaded (default: unload them)",
    )
    p = add_command(
        actions,
        "apply",
        "load what scene NAME wants, unload what it does not, keep what matches",
        Command(cmd_apply, _text_apply),
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--yes", action="store_true", help="unload models even while they answer")
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p = add_command(actions, "delete", "delete scene NAME", Command(cmd_delete, text_message))
    p.add_argument("name", metavar="NAME")


def _scene_doc(scene: Scene) -> dict[str, Any]:
    return {**scene.model_dump(mode="json", exclude_none=True), "summary": scene.summary()}


async def cmd_list(ctx: Context, args: argparse.Namespace) -> Result:
    scenes = await asyncio.to_thread(ctx.workspace.scenes.list)
    return {"scenes": [_scene_doc(s) for s in scenes], "built_in": [FREE_GPU]}, EXIT_OK


def _text_list(doc: dict[str, Any]) -> str:
    lines = [f"  {s['name']:<20} {s['summary']}" for s in doc["scenes"]]
    lines.append(f"  {FREE_GPU:<20} no models; every model unloaded (built in)")
    return "\n".join(lines)


async def cmd_show(ctx: Context, args: argparse.Namespace) -> Result:
    scene = await asyncio.to_thread(ctx.workspace.scenes.get, args.name)
    return _scene_doc(scene), EXIT_OK


def _text_show(doc: dict[str, Any]) -> str:
    lines = [doc["name"]]
    for model in doc.get("models", []):
        settings = {k: v for k, v in model.get("settings", {}).items() if v is not None}
        settings.pop("write_lmstudio_defaults", None)
        said = ", ".join(f"{k} {v}" for k, v in settings.items())
        lines.append(f"  {model['model_key']}" + (f"  ({said})" if said else ""))
    if not doc.get("models"):
        lines.append("  (no models)")
    others = "unloaded" if doc.get("others", "unload") == "unload" else "left loaded"
    lines.append(f"Models outside the scene: {others}")
    if doc.get("start_server"):
        lines.append("Starts the server")
    return "\n".join(lines)


async def _runner(ctx: Context) -> SceneRunner:
    await ctx.detect()
    manager = model_manager(ctx)
    if manager is None or not ctx.env.capabilities.load_profiles:
        raise EndpointNotSupported(ctx.env.capabilities.why_not("Scenes"))
    runner = ctx.runner

    async def start_server() -> None:
        if runner is not None:
            controller = ServerController(
                runner, ctx.settings_service, ctx.env.profile.id, home=ctx.env.home.path
            )
            await controller.start(None)

    return ctx.workspace.scene_runner(
        ctx.env,
        manager,
        runner,
        gpu_probe=lambda: ctx.gpu_probe().read(),
        start_server=start_server,
    )


async def cmd_save(ctx: Context, args: argparse.Namespace) -> Result:
    scene = await (await _runner(ctx)).current(args.name)
    if args.keep_others:
        scene = scene.model_copy(update={"others": "keep"})
    await asyncio.to_thread(ctx.workspace.scenes.save, scene)
    return {
        "message": f"Saved scene {scene.name}: {scene.summary()}.",
        "scene": _scene_doc(scene),
    }, EXIT_OK


def _plan_doc(plan: ScenePlan) -> dict[str, Any]:
    return {
        "load": [m.shown for m in plan.load],
        "unload": [i.identifier for i in plan.unload],
        "keep": [i.identifier for i in plan.keep],
        "changes_nothing": plan.changes_nothing,
        "message": plan.describe(),
    }


async def cmd_apply(ctx: Context, args: argparse.Namespace) -> Result:
    scene = await asyncio.to_thread(ctx.workspace.scenes.get, args.name)
    runner = await _runner(ctx)
    plan = await runner.plan(scene)
    preflight = await runner.preflight(plan)
    check = preflight.model_dump(mode="json") if preflight is not None else None
    if args.dry_run:
        return {"dry_run": True, "plan": _plan_doc(plan), "preflight": check}, EXIT_OK
    if preflight is not None and preflight.fits is False and not args.json:
        print(f"warning: {preflight.sentence}", file=sys.stderr)

    def step(what: str, fraction: float | None) -> None:
        if not args.json and fraction in (None, 0.0):
            print(what, file=sys.stderr)

    result = await runner.apply(
        scene, unload_busy=args.yes, how_to_insist="Add --yes to unload them anyway.", step=step
    )
    doc = {
        "loaded": list(result.loaded),
        "unloaded": list(result.unloaded),
        "kept": list(result.kept),
        "failed": list(result.failed),
        "preflight": check,
        "message": result.describe(),
    }
    return doc, EXIT_OK if result.ok else EXIT_FAILED


def _text_apply(doc: dict[str, Any]) -> str:
    if doc.get("dry_run"):
        plan, check = doc["plan"], doc.get("preflight")
        return str(plan["message"]) + (f"\n{check['sentence']}" if check else "")
    return str(doc["message"])


async def cmd_delete(ctx: Context, args: argparse.Namespace) -> Result:
    await asyncio.to_thread(ctx.workspace.scenes.delete, args.name)
    return {"message": f"Deleted scene {args.name}."}, EXIT_OK
