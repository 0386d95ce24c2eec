"""`activity [--source model|server] [--duration S] [--show-text] [--json]`: what the
models do (or the server logs), printed as it happens until Ctrl+C or the duration ends.

Over the tray's own `ActivityStream` (one `lms log stream` child, ended with its whole
group when the command ends). Only while LM Studio's server is up: `lms log stream` would
start LM Studio otherwise, so the command says so and starts nothing. `--json`: one object
per line — a prediction `{"time", "model", "prompt_tokens", "output_tokens",
"tokens_per_second", "time_to_first_token_s", "total_time_s", "stop_reason"}` (plus
`"input"`/`"output"` with `--show-text`), a server line `{"time", "level", "message"}`.
Prompt and completion text is never printed without `--show-text`; tokens in it, and in
log lines, are redacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from typing import Any

from tray.cli._common import EXIT_FAILED, EXIT_OK, Command, Context, Result, add_command
from tray.core.activity import (
    NOT_RUNNING,
    ActivityEvent,
    ActivityLog,
    ActivitySource,
    LogLine,
    Prediction,
    activity_unavailable,
    line_json,
    prediction_json,
)
from tray.core.errors import TrayError
from tray.core.redact import redact
from tray.services.activity_stream import ActivityStream
from tray.services.lms_runner import LmsProbe

__all__ = ["ORDER", "register"]

ORDER = 35


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "activity",
        "what the models are doing, live (from `lms log stream`) until Ctrl+C",
        Command(cmd_activity, lambda doc: "", streams=True),
    )
    p.add_argument(
        "--source",
        choices=[s.value for s in ActivitySource],
        default=ActivitySource.MODEL.value,
        help="model: finished predictions (default); server: the server's log lines",
    )
    p.add_argument("--duration", type=_seconds, metavar="S", help="stop after S seconds")
    p.add_argument(
        "--show-text",
        action="store_true",
        help="also print each prompt and completion (hidden by default)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("more than 0 seconds")
    return value


async def _server_up(ctx: Context) -> bool:
    """`lms server status` never wakes LM Studio (FORMATS §1.2)."""
    if ctx.runner is None:
        return False
    try:
        return (await LmsProbe(ctx.runner).server_status()).running
    except TrayError:
        return False


async def cmd_activity(ctx: Context, args: argparse.Namespace) -> Result:
    why = activity_unavailable(ctx.env.capabilities)
    if why is not None or ctx.runner is None:
        raise TrayError(why or "Activity needs LM Studio's `lms`.", title="No activity")
    if not await _server_up(ctx):
        raise TrayError(NOT_RUNNING, title="No activity")
    source = ActivitySource(args.source)
    session = ActivityLog(capacity=64, log_capacity=64)
    printed = 0
    done = asyncio.Event()

    def take(events: list[ActivityEvent]) -> None:
        nonlocal printed
        for record in session.extend(events):
            _print(record, json_lines=args.json, show_text=args.show_text)
            printed += 1

    async def may_start() -> bool:
        return await _server_up(ctx)

    stream = ActivityStream(
        ctx.runner,
        source=source,
        on_events=take,
        may_start=may_start,
        keep_text=args.show_text,
        on_ended=done.set,
    )
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows
        loop.add_signal_handler(signal.SIGTERM, done.set)
    if not args.json:
        what = "predictions" if source is ActivitySource.MODEL else "server log lines"
        print(f"Watching {what} (Ctrl+C to stop)…", file=sys.stderr)
    stream.start()
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.duration):
                await done.wait()
    finally:
        await stream.stop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
    failed = stream.starts == 0 and stream.last_error is not None
    if failed and not args.json:
        print(f"lms log stream did not run: {stream.last_error}", file=sys.stderr)
    return {"records": printed, "error": stream.last_error}, EXIT_FAILED if failed else EXIT_OK


def _print(record: Prediction | LogLine, *, json_lines: bool, show_text: bool) -> None:
    if json_lines:
        doc: dict[str, Any] = (
            prediction_json(record, show_text=show_text)
            if isinstance(record, Prediction)
            else line_json(record)
        )
        print(json.dumps(doc, ensure_ascii=False), flush=True)
        return
    clock = time.strftime("%H:%M:%S", time.localtime(record.time))
    if isinstance(record, LogLine):
        print(f"{clock} {record.level:<5} {record.message}", flush=True)
        return
    print(f"{clock} {record.model}: {describe(record)}", flush=True)
    if show_text:
        for label, text in (("input", record.input), ("output", record.output)):
            if text is not None:
                print(f"  {label}: {redact(text)}", flush=True)


def describe(p: Prediction) -> str:
    """`12 → 21 tokens, 42.0 tok/s, first token 0.31 s, 0.80 s, eosFound`."""

    def num(value: float | None, fmt: str) -> str:
        return "?" if value is None else format(value, fmt)

    return (
        f"{num(p.prompt_tokens, 'd')} → {num(p.output_tokens, 'd')} tokens, "
        f"{num(p.tokens_per_second, '.1f')} tok/s, "
        f"first token {num(p.time_to_first_token_s, '.2f')} s, "
        f"{num(p.total_time_s, '.2f')} s, {p.stop_reason or 'stop reason unknown'}"
    )
