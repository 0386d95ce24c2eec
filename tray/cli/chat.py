"""`chat [--model M] [--preset P] "question"`: ask the server one question, the answer
streamed to stdout as it arrives.

The same `QuickChat` as the popup (a loaded instance of the model is used, never a second
copy; a model that is not loaded is loaded with its load profile first, as the popup
does) and its `QuickChatService` (native `/api/v1/chat`; `/v1/chat/completions` for
older LM Studio, OpenAI-compatible servers and presets with stop strings or a seed). Stdout
gets only the answer; reasoning is hidden unless `--reasoning` sends it to stderr, and the
stats line, what of the preset was not applied, and any error sentence go to stderr.
With `--json` nothing streams: one document with the answer, reasoning, stats, the API
used and any `notices`. Exit 1 when the answer
failed or was cut off (what arrived is still printed), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from tray.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    Command,
    Context,
    Result,
    UsageError,
    add_command,
)
from tray.cli.models import model_manager
from tray.core.chat_options import ChatOptions
from tray.core.chat_view import (
    AnswerDelta,
    ChatUpdate,
    Failed,
    Finished,
    Notice,
    ReasoningDelta,
    Stopped,
    ToolLine,
    view_error,
)
from tray.core.conversation import ModelChoice, order_models
from tray.core.errors import HomeNotFound, TrayError
from tray.core.words import quoted
from tray.services.quick_chat import QuickChat

__all__ = ["ORDER", "register"]

ORDER = 15


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "chat",
        "ask the loaded model one question; the answer streams to stdout",
        Command(cmd_chat, _text),
    )
    p.add_argument("question", help="the question (quote it)")
    p.add_argument("--model", metavar="KEY", help="model key (default: the first loaded model)")
    p.add_argument("--preset", metavar="NAME", help="a config preset's system prompt and sampling")
    p.add_argument(
        "--reasoning", action="store_true", help="also show the model's reasoning (on stderr)"
    )


async def _choices(ctx: Context) -> list[ModelChoice]:
    if (backend := ctx.backend()) is not None:
        # Another kind's own API: what is loaded (or served) first, then what is on disk.
        loaded, served = await backend.poll()
        keys = [r.model_key for r in loaded] or list(served)
        on_disk = [d.model_key for d in await backend.downloaded() if d.model_key not in keys]
        return [ModelChoice(key=k, loaded=True) for k in keys] + [
            ModelChoice(key=k, loaded=False) for k in on_disk
        ]
    return [
        ModelChoice(key=m.key, label=m.display_name or "", loaded=m.is_loaded)
        for m in await ctx.client.list_models()
        if not m.is_embedding
    ]


def preset_options(ctx: Context, name: str) -> ChatOptions:
    """A preset's system prompt and sampling (LM Studio's `<home>/config-presets`)."""
    home = ctx.env.home
    if not home.exists:
        raise HomeNotFound(
            f"LM Studio's home folder {home.path} does not exist, so there is no preset "
            f"{quoted(name)}; leave out --preset or point --home at LM Studio's folder.",
            path=home.path,
        )
    return ctx.workspace.presets(ctx.env).load(name).chat_options()


async def cmd_chat(ctx: Context, args: argparse.Namespace) -> Result:
    question = args.question.strip()
    if not question:
        raise UsageError("The question is empty; write it in quotes after `chat`.")
    options = preset_options(ctx, args.preset) if args.preset else None
    await ctx.detect()
    model = args.model
    if model is None:
        ordered = order_models(await _choices(ctx))
        if not ordered or not ordered[0].loaded:
            raise TrayError(
                "No model is loaded; load one (lmstudio-tray models load KEY) or name one "
                "with --model KEY.",
                title="No model",
            )
        model = ordered[0].key
    stream = not args.json
    # The popup's own path: a loaded instance of the model is used (never a second copy);
    # a model that is not loaded is loaded with its load profile first.
    manager = model_manager(ctx)
    chat = QuickChat(
        client=lambda: ctx.client,
        capabilities=lambda: ctx.env.capabilities,
        models=lambda: manager,
        load_profiles=ctx.workspace.load_profiles,
        presets=lambda: ctx.workspace.presets(ctx.env),
    )
    doc: dict[str, Any] = {"model": model, "question": question, "answer": "", "reasoning": ""}

    async def updates() -> AsyncGenerator[ChatUpdate, None]:
        try:
            ready = await chat.prepare(model)
        except TrayError as exc:  # the server is down, a token is needed, no such model…
            yield Failed(error=view_error(exc))
            return
        doc["model"] = ready.model
        if ready.note:
            doc["load_note"] = ready.note
            if stream:
                print(ready.note, file=sys.stderr)
        async with aclosing(chat.service.ask(question, ready.model, options)) as answer:
            async for update in answer:
                yield update

    code = EXIT_OK
    try:
        async with aclosing(updates()) as answer:
            async for update in answer:
                code = max(code, _take(update, doc, stream=stream, reasoning=args.reasoning))
    except BrokenPipeError:
        # The reader stopped early (`chat … | head -1`): leaving the loop closed the
        # stream, so the server stops generating; `_run` then ends quietly.
        doc["reader_gone"] = True
    doc["api"] = chat.service.last_api
    doc["streamed"] = stream
    return doc, code


def _take(update: ChatUpdate, doc: dict[str, Any], *, stream: bool, reasoning: bool) -> int:
    """Add one update to the document, and stream it; EXIT_FAILED when the answer failed or
    was stopped."""
    if isinstance(update, AnswerDelta):
        doc["answer"] += update.text
        if stream and update.text:
            sys.stdout.write(update.text)
            sys.stdout.flush()
    elif isinstance(update, ReasoningDelta):
        doc["reasoning"] += update.text
        if stream and reasoning:
            sys.stderr.write(update.text)
            sys.stderr.flush()
    elif isinstance(update, Notice):
        # What of the preset was not applied: never dropped silently.
        doc.setdefault("notices", []).append(update.text)
        if stream:
            print(update.text, file=sys.stderr)
    elif isinstance(update, ToolLine) and update.state != "running" and stream:
        print(f"[tool] {update.text}", file=sys.stderr)
    elif isinstance(update, Finished):
        doc["stats"] = update.stats.model_dump()
        doc["response_id"] = update.response_id
        if stream:
            print(update.stats.text, file=sys.stderr)
    elif isinstance(update, Failed):
        doc["error"] = update.error.model_dump(mode="json")
        doc["truncated"] = update.truncated
        if stream:
            print(
                f"{update.error.title}: {update.error.message} {update.error.fix}", file=sys.stderr
            )
        return EXIT_FAILED
    elif isinstance(update, Stopped):
        return EXIT_FAILED
    return EXIT_OK


def _text(doc: dict[str, Any]) -> str:
    # The answer already streamed to stdout; printing "" ends its line.
    if doc.get("streamed"):
        return ""
    return str(doc.get("answer", ""))
