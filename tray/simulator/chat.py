"""Simulated generation: one chat request becomes the ordered, paced events of LM Studio's
native stream (FORMATS §3.6), whose last event carries the non-stream body (§3.5).

The HTTP layer writes these events as v1 SSE, maps them to OpenAI chunks (§3.9), or just
drains them for a non-stream answer, so every API path times and counts the same way.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tray.simulator.answers import demo_answer
from tray.simulator.catalog import CatalogModel
from tray.simulator.log_events import prediction_input, prediction_output, server_log
from tray.simulator.state import (
    JIT_TTL_SECONDS,
    Conversation,
    Instance,
    Reply,
    SimError,
    SimState,
    require_model,
    v1_error,
)

__all__ = [
    "ChatJob",
    "prepare_openai_chat",
    "prepare_v1_chat",
    "run_chat",
    "showroom_pace",
    "tokenize",
]

Event = tuple[str, dict[str, Any]]
_TOKEN = re.compile(r"\S+\s*|\s+")


def tokenize(text: str) -> list[str]:
    """Word-sized "tokens" that concatenate back to the text."""
    return _TOKEN.findall(text)


@dataclass
class ChatJob:
    """A validated chat request, ready to run."""

    model: CatalogModel
    identifier: str
    needs_load: bool
    context_length: int | None
    ttl_seconds: float | None
    prompt: str
    input_tokens: int
    reasoning: str | None
    tool_calls: list[dict[str, Any]]
    failed_tool: str | None
    text: str
    max_output_tokens: int | None
    history: list[tuple[str, str]] = field(default_factory=list)
    store: bool = True
    # OpenAI-compatible API only: the answer ends before the first stop string.
    stop: tuple[str, ...] = ()
    seed: int | None = None


def _content_text(content: Any) -> str:
    """Text of a v1 `input` or an OpenAI message `content` (string or parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("content") or p.get("text") for p in content if isinstance(p, dict)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def _integration_calls(integrations: list[Any], prompt: str) -> list[dict[str, Any]]:
    """One plausible tool call per requested integration (MCP servers, plugins)."""
    calls = []
    for item in integrations:
        if isinstance(item, str):
            provider: dict[str, Any] = {"type": "plugin", "plugin_id": item}
            allowed: list[Any] = []
        elif isinstance(item, dict) and item.get("type") == "ephemeral_mcp":
            provider = {"type": "ephemeral_mcp", "server_label": item.get("server_label", "")}
            allowed = item.get("allowed_tools") or []
        elif isinstance(item, dict):
            provider = {"type": "plugin", "plugin_id": item.get("id", "")}
            allowed = item.get("allowed_tools") or []
        else:
            continue
        tool = str(allowed[0]) if allowed else "search"
        calls.append(
            {
                "tool": tool,
                "arguments": {"query": prompt},
                "output": f'[{{"type":"text","text":"Simulated result of {tool}."}}]',
                "provider_info": provider,
            }
        )
    return calls


def _prepare(
    state: SimState,
    *,
    model_name: str,
    prompt: str,
    context_tokens: int,
    reasoning_choice: str | None,
    integrations: list[Any],
    history: list[tuple[str, str]],
    ttl_seconds: float | None,
    context_length: int | None,
    max_output_tokens: int | None,
    store: bool,
) -> ChatJob:
    model, instance = state.resolve(model_name)
    if instance is None and not state.jit:
        raise SimError(
            404,
            v1_error(
                f'Model "{model_name}" is not loaded and just-in-time model loading is off. '
                f"Load it first (lms load {model_name}) or turn on JIT loading.",
                type="model_not_found",
                code="model_not_loaded",
                param="model",
            ),
        )
    if not model.is_llm:
        raise SimError(
            400,
            v1_error(
                f'"{model_name}" is an embedding model and cannot chat.',
                type="invalid_request",
                param="model",
            ),
        )
    reply = state.take_reply() or Reply()
    turn = len(history) + 1
    text = reply.text
    reasoning = reply.reasoning
    thinks = (
        bool(model.reasoning_options) and (reasoning_choice or model.reasoning_default) != "off"
    )
    if text is None and state.showroom:
        text, reasoning = demo_answer(prompt, reasoning_model=thinks)
    elif text is None:
        shown = prompt if len(prompt) <= 60 else prompt[:57] + "..."
        text = f'Hello from the LM Studio simulator. You said: "{shown}".'
        if turn > 1:
            text += f" This is turn {turn} of our conversation."
    if reply == Reply() and thinks and not state.showroom:
        reasoning = f'The user wrote "{prompt[:40]}". A short, friendly answer will do.'
    return ChatJob(
        model=model,
        identifier=instance.identifier if instance else state.next_identifier(model.key),
        needs_load=instance is None,
        context_length=context_length,
        ttl_seconds=ttl_seconds,
        prompt=prompt,
        input_tokens=context_tokens + sum(len(tokenize(u)) + len(tokenize(a)) for u, a in history),
        reasoning=reasoning,
        tool_calls=reply.tool_calls or _integration_calls(integrations, prompt),
        failed_tool=reply.fail_tool,
        text=text,
        max_output_tokens=max_output_tokens,
        history=history,
        store=store,
    )


# Keys `/api/v1/chat` refuses. Its docs (lmstudio-ai/docs `1_developer/2_rest/chat.md`)
# list neither, and LM Studio 0.4 validates the body strictly: "Unrecognized key(s) in
# object: 'stop'" (observed, Merserk/Caption-Creator#4, 2026-05) and the same for 'seed'
# (vrgamegirl19/comfyui-vrgamedevgirl#124, 2026-08). Only these two are refused here —
# the full schema is not published, so other keys are not guessed at. The HTTP status was
# not captured; 400 is assumed.
V1_REFUSED_KEYS = ("stop", "seed")


def prepare_v1_chat(state: SimState, body: dict[str, Any]) -> ChatJob:
    """Validate a `POST /api/v1/chat` body (FORMATS §3.5)."""
    refused = [key for key in V1_REFUSED_KEYS if key in body]
    if refused:
        raise SimError(
            400,
            v1_error(
                "Unrecognized key(s) in object: " + ", ".join(f"'{k}'" for k in refused),
                type="invalid_request",
            ),
        )
    model = require_model(body)
    history: list[tuple[str, str]] = []
    previous = body.get("previous_response_id")
    if previous is not None:
        with state.locked():
            conversation = state.conversations.get(str(previous))
        if conversation is None:
            raise SimError(
                400,
                v1_error(
                    f'No stored response with the id "{previous}". It may have expired, '
                    "or it was created with store=false.",
                    type="invalid_request",
                    param="previous_response_id",
                ),
            )
        history = list(conversation.turns)
    prompt = _content_text(body.get("input"))
    system = body.get("system_prompt")
    context = len(tokenize(prompt)) + (len(tokenize(system)) if isinstance(system, str) else 0)
    integrations = body.get("integrations")
    max_tokens = body.get("max_output_tokens")
    context_length = body.get("context_length")
    return _prepare(
        state,
        model_name=model,
        prompt=prompt,
        context_tokens=context,
        reasoning_choice=body.get("reasoning") if isinstance(body.get("reasoning"), str) else None,
        integrations=integrations if isinstance(integrations, list) else [],
        history=history,
        ttl_seconds=JIT_TTL_SECONDS,
        context_length=context_length if isinstance(context_length, int) else None,
        max_output_tokens=max_tokens if isinstance(max_tokens, int) else None,
        store=body.get("store", True) is not False,
    )


def prepare_openai_chat(state: SimState, body: dict[str, Any]) -> ChatJob:
    """Validate a `POST /v1/chat/completions` body (FORMATS §3.9)."""
    model = require_model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise SimError(
            400,
            v1_error(
                '"messages" must be a non-empty array',
                type="invalid_request",
                code="missing_required_parameter",
                param="messages",
            ),
        )
    texts = [_content_text(m.get("content")) for m in messages if isinstance(m, dict)]
    users = [
        _content_text(m.get("content"))
        for m in messages
        if isinstance(m, dict) and m.get("role") == "user"
    ]
    ttl = body.get("ttl")
    max_tokens = body.get("max_tokens")
    stop = body.get("stop")  # OpenAI: a string or a list of strings (FORMATS §3.9)
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    if not all(isinstance(s, str) for s in stops):
        raise SimError(
            400,
            v1_error(
                '"stop" must be a string or an array of strings',
                type="invalid_request",
                param="stop",
            ),
        )
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise SimError(
            400, v1_error('"seed" must be an integer', type="invalid_request", param="seed")
        )
    job = _prepare(
        state,
        model_name=model,
        prompt=users[-1] if users else "",
        context_tokens=sum(len(tokenize(t)) for t in texts),
        reasoning_choice=None,
        integrations=[],
        history=[],
        ttl_seconds=float(ttl) if isinstance(ttl, int | float) else JIT_TTL_SECONDS,
        context_length=None,
        max_output_tokens=max_tokens if isinstance(max_tokens, int) else None,
        store=False,
    )
    job.stop = tuple(s for s in stops if s)
    job.seed = seed
    return job


def _until_stop(text: str, stops: tuple[str, ...]) -> str:
    """The text up to (without) the first stop string in it, as a model stops there."""
    cuts = [i for i in (text.find(s) for s in stops) if i >= 0]
    return text[: min(cuts)] if cuts else text


def showroom_pace(model: CatalogModel) -> float:
    """Tokens per second for the demo: smaller models are faster (about 75 for a 2.5 GB
    model, 35 for a 12 GB one), as on a mid-range graphics card."""
    return round(max(15.0, min(90.0, 120.0 / math.sqrt(model.size_bytes / 1e9))), 1)


def run_chat(state: SimState, job: ChatJob) -> Iterator[Event]:
    """The events of one chat, paced like a model at `state.tokens_per_second`.

    Closing the generator early (client gone, stream cut) stops generation and leaves the
    instance idle again.
    """
    began = time.monotonic()
    yield "chat.start", {"model_instance_id": job.identifier}
    load_time: float | None = None
    if job.needs_load:
        yield "model_load.start", {"model_instance_id": job.identifier}
        for progress in (0.25, 0.5, 0.75):
            time.sleep(state.load_seconds / 4)
            yield (
                "model_load.progress",
                {
                    "model_instance_id": job.identifier,
                    "progress": progress,
                },
            )
        time.sleep(state.load_seconds / 4)
        job.identifier = state.load(
            job.model.key,
            identifier=job.identifier,
            context_length=job.context_length,
            ttl_seconds=job.ttl_seconds,
        )
        load_time = round(time.monotonic() - began, 3)
        yield (
            "model_load.end",
            {
                "model_instance_id": job.identifier,
                "load_time_seconds": load_time,
            },
        )
    tps = showroom_pace(job.model) if state.showroom else state.tokens_per_second
    delay = 1.0 / tps
    # The showroom's prompt takes a believable moment (a real model's time to first token).
    prompt_step = max(delay * max(1, job.input_tokens) / 20, 0.2 if state.showroom else 0.0)
    with state.busy(job.identifier) as instance:
        started = time.monotonic()
        _log_input(state, job)
        yield "prompt_processing.start", {}
        for progress in (0.5, 1.0):
            time.sleep(prompt_step)
            yield "prompt_processing.progress", {"progress": progress}
        yield "prompt_processing.end", {}
        state.set_status(instance, "generating")
        first_token: float | None = None
        output: list[dict[str, Any]] = []
        reasoning_tokens = 0
        if job.reasoning:
            yield "reasoning.start", {}
            for token in tokenize(job.reasoning):
                time.sleep(delay)
                first_token = first_token or time.monotonic()
                reasoning_tokens += 1
                yield "reasoning.delta", {"content": token}
            yield "reasoning.end", {}
            output.append({"type": "reasoning", "content": job.reasoning})
        for call in job.tool_calls:
            provider = call.get("provider_info", {"type": "plugin", "plugin_id": "mcp/sim"})
            tool, arguments = call.get("tool", "search"), call.get("arguments", {})
            tool_output = str(call.get("output", "[]"))
            yield "tool_call.start", {"tool": tool, "provider_info": provider}
            time.sleep(delay)
            yield (
                "tool_call.arguments",
                {
                    "tool": tool,
                    "arguments": arguments,
                    "provider_info": provider,
                },
            )
            yield (
                "tool_call.success",
                {
                    "tool": tool,
                    "arguments": arguments,
                    "output": tool_output,
                    "provider_info": provider,
                },
            )
            output.append(
                {
                    "type": "tool_call",
                    "tool": tool,
                    "arguments": arguments,
                    "output": tool_output,
                    "provider_info": provider,
                }
            )
        if job.failed_tool:
            failure = {
                "reason": f"Cannot find tool with name {job.failed_tool}.",
                "metadata": {"type": "invalid_name", "tool_name": job.failed_tool},
            }
            yield "tool_call.failure", failure
            output.append({"type": "invalid_tool_call", **failure})
        tokens, stop_reason = _answer_tokens(job, instance, reasoning_tokens)
        yield "message.start", {}
        sent: list[str] = []
        try:
            for token in tokens:
                time.sleep(delay)
                first_token = first_token or time.monotonic()
                yield "message.delta", {"content": token}
                sent.append(token)
        finally:  # the client gone (Stop) is LM Studio's userStopped
            reason = stop_reason if len(sent) == len(tokens) else "userStopped"
            _log_output(state, job, sent, reason, reasoning_tokens, started, first_token, tps)
        yield "message.end", {}
        text = "".join(tokens)
        output.append({"type": "message", "content": text})
        stats: dict[str, Any] = {
            "input_tokens": job.input_tokens,
            "total_output_tokens": reasoning_tokens + len(tokens),
            "reasoning_output_tokens": reasoning_tokens,
            "tokens_per_second": tps,
            "time_to_first_token_seconds": round((first_token or time.monotonic()) - started, 3),
        }
        if load_time is not None:
            stats["model_load_time_seconds"] = load_time
        result: dict[str, Any] = {
            "model_instance_id": job.identifier,
            "output": output,
            "stats": stats,
        }
        if job.store:
            response_id = "resp_" + secrets.token_hex(24)
            with state.locked():
                state.conversations[response_id] = Conversation([*job.history, (job.prompt, text)])
            result["response_id"] = response_id
    yield "chat.end", {"result": result}


# --- what `lms log stream` sees of this chat (FORMATS §1.10) -----------------------------


def _answer_tokens(
    job: ChatJob, instance: Instance | None, reasoning_tokens: int
) -> tuple[list[str], str]:
    """The answer's tokens and why it stops: at a stop string, at the token limit, or
    where the instance's context is full (prompt + reasoning + answer = its context)."""
    text = _until_stop(job.text, job.stop)
    tokens = tokenize(text)
    reason = "stopStringFound" if text != job.text else "eosFound"
    if job.max_output_tokens is not None and len(tokens) > job.max_output_tokens:
        tokens, reason = tokens[: job.max_output_tokens], "maxPredictedTokensReached"
    context = instance.context_length if instance is not None else None
    used = job.input_tokens + reasoning_tokens
    if context is not None and used + len(tokens) > context:
        tokens, reason = tokens[: max(0, context - used)], "contextLengthReached"
    return tokens, reason


def _log_input(state: SimState, job: ChatJob) -> None:
    messages = 2 * len(job.history) + 1
    state.log.add(
        server_log(
            "info",
            f"[{job.identifier}] Running chat completion on conversation with {messages} messages.",
        )
    )
    state.log.add(prediction_input(job.identifier, job.model.path, job.history, job.prompt))


def _log_output(
    state: SimState,
    job: ChatJob,
    sent: list[str],
    stop_reason: str,
    reasoning_tokens: int,
    started: float,
    first_token: float | None,
    tps: float,
) -> None:
    now = time.monotonic()
    ttft = round((first_token or now) - started, 3)
    state.log.add(
        prediction_output(
            job.identifier,
            "".join(sent),
            stop_reason=stop_reason,
            prompt_tokens=job.input_tokens,
            predicted_tokens=reasoning_tokens + len(sent),
            tokens_per_second=tps,
            time_to_first_token=ttft,
            total_time=round(now - started, 3),
        )
    )
    if stop_reason == "contextLengthReached":
        state.log.add(
            server_log(
                "warn",
                f"[{job.identifier}] Stopped: the context length "
                f"({job.input_tokens + reasoning_tokens + len(sent)} tokens) was reached.",
            )
        )
    state.log.add(server_log("info", f"[{job.identifier}] Finished streaming response"))
