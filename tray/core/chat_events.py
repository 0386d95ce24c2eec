"""The server-sent events of a streaming `/api/v1/chat` (FORMATS.md §3.6), typed.

One model per documented event type (19), joined in `ChatEvent`, a union discriminated on
`type`. A newer LM Studio may add event types: those parse as `UnknownChatEvent` (with
their fields kept) so a consumer can skip them; they never end a stream.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    TypeAdapter,
    ValidationError,
)

from tray.core.api import (
    ApiErrorBody,
    ChatResponse,
    InvalidToolCallMetadata,
    ProviderInfo,
    ResponseModel,
)
from tray.core.errors import BadResponse, MalformedJson
from tray.core.words import quoted

__all__ = [
    "ChatEndEvent",
    "ChatEvent",
    "ChatStartEvent",
    "ErrorEvent",
    "MessageDeltaEvent",
    "MessageEndEvent",
    "MessageStartEvent",
    "ModelLoadEndEvent",
    "ModelLoadProgressEvent",
    "ModelLoadStartEvent",
    "PromptProcessingEndEvent",
    "PromptProcessingProgressEvent",
    "PromptProcessingStartEvent",
    "ReasoningDeltaEvent",
    "ReasoningEndEvent",
    "ReasoningStartEvent",
    "ToolCallArgumentsEvent",
    "ToolCallFailureEvent",
    "ToolCallStartEvent",
    "ToolCallSuccessEvent",
    "UnknownChatEvent",
    "parse_chat_event",
]


class ChatStartEvent(ResponseModel):
    type: Literal["chat.start"] = "chat.start"
    model_instance_id: str | None = None


class ModelLoadStartEvent(ResponseModel):
    """Only sent when the request had to load (JIT) the model."""

    type: Literal["model_load.start"] = "model_load.start"
    model_instance_id: str | None = None


class ModelLoadProgressEvent(ResponseModel):
    type: Literal["model_load.progress"] = "model_load.progress"
    model_instance_id: str | None = None
    progress: float = 0.0  # 0–1


class ModelLoadEndEvent(ResponseModel):
    type: Literal["model_load.end"] = "model_load.end"
    model_instance_id: str | None = None
    load_time_seconds: float | None = None


class PromptProcessingStartEvent(ResponseModel):
    type: Literal["prompt_processing.start"] = "prompt_processing.start"


class PromptProcessingProgressEvent(ResponseModel):
    type: Literal["prompt_processing.progress"] = "prompt_processing.progress"
    progress: float = 0.0  # 0–1


class PromptProcessingEndEvent(ResponseModel):
    type: Literal["prompt_processing.end"] = "prompt_processing.end"


class ReasoningStartEvent(ResponseModel):
    type: Literal["reasoning.start"] = "reasoning.start"


class ReasoningDeltaEvent(ResponseModel):
    type: Literal["reasoning.delta"] = "reasoning.delta"
    content: str = ""


class ReasoningEndEvent(ResponseModel):
    type: Literal["reasoning.end"] = "reasoning.end"


class ToolCallStartEvent(ResponseModel):
    type: Literal["tool_call.start"] = "tool_call.start"
    tool: str | None = None
    provider_info: ProviderInfo | None = None


class ToolCallArgumentsEvent(ResponseModel):
    type: Literal["tool_call.arguments"] = "tool_call.arguments"
    tool: str | None = None
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    provider_info: ProviderInfo | None = None


class ToolCallSuccessEvent(ResponseModel):
    type: Literal["tool_call.success"] = "tool_call.success"
    tool: str | None = None
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    output: str | None = None
    provider_info: ProviderInfo | None = None


class ToolCallFailureEvent(ResponseModel):
    type: Literal["tool_call.failure"] = "tool_call.failure"
    reason: str | None = None
    metadata: InvalidToolCallMetadata | None = None


class MessageStartEvent(ResponseModel):
    type: Literal["message.start"] = "message.start"


class MessageDeltaEvent(ResponseModel):
    type: Literal["message.delta"] = "message.delta"
    content: str = ""


class MessageEndEvent(ResponseModel):
    type: Literal["message.end"] = "message.end"


class ErrorEvent(ResponseModel):
    """An error inside the stream; LM Studio still ends the stream with `chat.end`."""

    type: Literal["error"] = "error"
    error: ApiErrorBody


class ChatEndEvent(ResponseModel):
    """The last event: `result` is the whole non-streaming answer."""

    type: Literal["chat.end"] = "chat.end"
    result: ChatResponse


class UnknownChatEvent(ResponseModel):
    """An event type this version does not know; its fields are kept as extras."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str


_KNOWN: tuple[type[ResponseModel], ...] = (
    ChatStartEvent,
    ModelLoadStartEvent,
    ModelLoadProgressEvent,
    ModelLoadEndEvent,
    PromptProcessingStartEvent,
    PromptProcessingProgressEvent,
    PromptProcessingEndEvent,
    ReasoningStartEvent,
    ReasoningDeltaEvent,
    ReasoningEndEvent,
    ToolCallStartEvent,
    ToolCallArgumentsEvent,
    ToolCallSuccessEvent,
    ToolCallFailureEvent,
    MessageStartEvent,
    MessageDeltaEvent,
    MessageEndEvent,
    ErrorEvent,
    ChatEndEvent,
)
_KNOWN_TYPES = frozenset(str(model.model_fields["type"].default) for model in _KNOWN)


def _event_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    # A `type` that is not a string (a list, an object) is unknown, not a crash.
    return kind if isinstance(kind, str) and kind in _KNOWN_TYPES else "unknown"


ChatEvent = Annotated[
    Annotated[ChatStartEvent, Tag("chat.start")]
    | Annotated[ModelLoadStartEvent, Tag("model_load.start")]
    | Annotated[ModelLoadProgressEvent, Tag("model_load.progress")]
    | Annotated[ModelLoadEndEvent, Tag("model_load.end")]
    | Annotated[PromptProcessingStartEvent, Tag("prompt_processing.start")]
    | Annotated[PromptProcessingProgressEvent, Tag("prompt_processing.progress")]
    | Annotated[PromptProcessingEndEvent, Tag("prompt_processing.end")]
    | Annotated[ReasoningStartEvent, Tag("reasoning.start")]
    | Annotated[ReasoningDeltaEvent, Tag("reasoning.delta")]
    | Annotated[ReasoningEndEvent, Tag("reasoning.end")]
    | Annotated[ToolCallStartEvent, Tag("tool_call.start")]
    | Annotated[ToolCallArgumentsEvent, Tag("tool_call.arguments")]
    | Annotated[ToolCallSuccessEvent, Tag("tool_call.success")]
    | Annotated[ToolCallFailureEvent, Tag("tool_call.failure")]
    | Annotated[MessageStartEvent, Tag("message.start")]
    | Annotated[MessageDeltaEvent, Tag("message.delta")]
    | Annotated[MessageEndEvent, Tag("message.end")]
    | Annotated[ErrorEvent, Tag("error")]
    | Annotated[ChatEndEvent, Tag("chat.end")]
    | Annotated[UnknownChatEvent, Tag("unknown")],
    Discriminator(_event_tag),
]

_EVENT_ADAPTER: TypeAdapter[ChatEvent] = TypeAdapter(ChatEvent)


def parse_chat_event(event: str, data: str) -> ChatEvent:
    """One SSE event (its `event:` name and `data:` text) as a typed event.

    The data's own `type` wins; the SSE name fills in when a server leaves it out.
    Raises `MalformedJson` when `data` is not JSON and `BadResponse` when it is JSON of
    the wrong shape.
    """
    try:
        payload = json.loads(data)
    except ValueError as exc:
        raise MalformedJson(
            f"LM Studio sent a '{event}' stream event that is not JSON; the server may be "
            "misbehaving, so try again or restart the LM Studio server."
        ) from exc
    if not isinstance(payload, dict):
        raise BadResponse(
            f"LM Studio sent a '{event}' stream event that is not a JSON object; the server "
            "may be misbehaving, so try again or restart the LM Studio server."
        )
    payload.setdefault("type", event)
    try:
        return _EVENT_ADAPTER.validate_python(payload)
    except ValidationError as exc:
        raise BadResponse(
            f"LM Studio sent the stream event {quoted(str(payload['type']))} in an unexpected "
            "shape, so this LM Studio version may be newer than the app understands. The first "
            f"problem: {exc.errors()[0]['msg']}."
        ) from exc
