"""`server start|stop|restart`: LM Studio's API server through `lms`, as the tray does it.

Options not given are the ones remembered in the server profile (the tray's Server
options), and the ones used are remembered for next time. Stopping a server that the
LM Studio app runs is refused (exit 1) unless `--yes` says the user means it.
"""

from __future__ import annotations

import argparse
from typing import Any

from tray.cli._common import EXIT_OK, Command, Context, Result, UsageError, add_command
from tray.core.errors import ServerOwnedByApp
from tray.core.server_control import (
    server_url,
    start_message,
    stop_message,
    validate_start_options,
)
from tray.core.settings import ServerStartOptions
from tray.services.lms_runner import lms_not_found
from tray.services.server_controller import ServerController

__all__ = ["ORDER", "register"]

ORDER = 30


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        sub,
        "server",
        "start, stop or restart LM Studio's API server (through lms)",
        Command(cmd_server, _text_server),
    )
    parser.add_argument("action", choices=("start", "stop", "restart"))
    parser.add_argument(
        "--port", type=int, metavar="N", help="port to listen on (default: as last time)"
    )
    parser.add_argument(
        "--bind",
        metavar="ADDR",
        help="address to listen on: 127.0.0.1 (this computer only) or 0.0.0.0 (the network)",
    )
    parser.add_argument(
        "--cors",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="allow cross-origin requests from web pages (default: as last time)",
    )
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="stop the server even when the LM Studio app runs it",
    )


def _given(args: argparse.Namespace) -> dict[str, Any]:
    return {
        k: v
        for k, v in (("port", args.port), ("bind", args.bind), ("cors", args.cors))
        if v is not None
    }


async def _options(controller: ServerController, given: dict[str, Any]) -> ServerStartOptions:
    """The remembered options (until the user has chosen: LM Studio's own CORS and network
    settings) with what the command line gives; checked before anything is stopped."""
    options = (await controller.start_options()).model_copy(update=given)
    problems = validate_start_options(options)
    if problems:
        raise UsageError(" ".join(problems))
    return options


async def cmd_server(ctx: Context, args: argparse.Namespace) -> Result:
    if ctx.runner is None:
        raise lms_not_found(configured=ctx.env.lms_configured, home=ctx.env.home.path)
    controller = ServerController(
        ctx.runner, ctx.settings_service, ctx.env.profile.id, home=ctx.env.home.path
    )
    given = _given(args)
    options = await _options(controller, given) if args.action != "stop" else None
    doc: dict[str, Any] = {"action": args.action, "profile": ctx.env.profile.id}
    try:
        if args.action in ("stop", "restart"):
            stopped = await controller.stop(confirmed=args.yes)
            doc["stopped"] = {**stopped.model_dump(mode="json"), "message": stop_message(stopped)}
    except ServerOwnedByApp as exc:
        raise ServerOwnedByApp(
            f"{exc.message} Add --yes to {args.action} it anyway.",
            question=exc.question,
            port=exc.port,
        ) from None
    if options is not None:
        # Options given on the command line are remembered; none: as Start in the tray.
        started = await controller.start(options if given else None)
        doc["started"] = {
            **started.model_dump(mode="json"),
            "url": server_url(started.port, options.bind),
            "options": options.model_dump(mode="json", exclude={"remembered"}),
            "message": start_message(started),
        }
    return doc, EXIT_OK


def _text_server(doc: dict[str, Any]) -> str:
    lines: list[str] = []
    if "stopped" in doc:
        lines.append(doc["stopped"]["message"])
    if "started" in doc:
        started = doc["started"]
        lines.append(f"{started['message']} ({started['url']})")
        lines += [f"warning: {w}" for w in started["warnings"]]
    return "\n".join(lines)
