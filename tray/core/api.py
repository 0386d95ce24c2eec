"""Typed payloads of LM Studio's HTTP APIs (FORMATS.md §3); the rule that turns an HTTP
status plus body into an error is `tray.core.api_errors`.

Lenient in, strict out: LM Studio adds fields between versions, so response models
ignore unknown fields and make everything the docs do not guarantee optional (enum-like
strings stay `str`, so a new value is data, not a crash). Request models forbid unknown
fields and serialise only what is set (`to_body`), so we never send a default the server
would read as a choice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    SecretStr,
    Tag,
    field_serializer,
    field_validator,
    model_validator,
)

__all__ = [
    "ApiErrorBody",
    "ChatCompletion",
    "ChatCompletionChoice",
    "ChatCompletionMessage",
    "ChatCompletionRequest",
    "ChatInputPart",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "ChatStats",
    "DownloadJob",
    "DownloadRequest",
    "EphemeralMcpIntegration",
    "Greeting",
    "ImageInput",
    "Integration",
    "InvalidToolCallMetadata",
    "InvalidToolCallOutput",
    "LmsStatus",
    "LoadConfig",
    "LoadRequest",
    "LoadResult",
    "LoadedInstance",
    "MessageOutput",
    "ModelCapabilities",
    "ModelInfo",
    "ModelList",
    "OpenAIModel",
    "OpenAIModelList",
    "OutputItem",
    "PluginIntegration",
    "ProviderInfo",
    "Quantization",
    "ReasoningCapability",
    "ReasoningOutput",
    "ReasoningSetting",
    "RequestModel",
    "ResponseModel",
    "StreamOptions",
    "TextInput",
    "ToolCallOutput",
    "UnknownOutputItem",
    "UnloadRequest",
    "UnloadResult",
    "Usage",
    "V0Model",
    "V0ModelList",
]


class ResponseModel(BaseModel):
    """Something LM Studio sends: unknown fields are ignored, values are immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class RequestModel(BaseModel):
    """Something we send: typos fail here, not as a silently ignored field on the server."""

    model_config = ConfigDict(extra="forbid")

    def to_body(self) -> bytes:
        """The JSON body, with only the fields that were set."""
        return self.model_dump_json(exclude_none=True).encode()


# --- liveness ----------------------------------------------------------------------------


class Greeting(ResponseModel):
    """`GET /lmstudio-greeting`: `{"lmstudio": true}` is all LM Studio documents (lms's
    `checkHttpServer` reads only that). A `version` is tolerated and shown when a server
    sends one, but nothing relies on it: LM Studio's version comes from `LmsStatus`."""

    lmstudio: bool = False
    version: str | None = None


class LmsStatus(ResponseModel):
    """`GET http://127.0.0.1:<port>/lms-status` on LM Studio's local API server (the port
    from `<home>/.internal/http-server.json`): `{"package", "version"}`, both strings, as
    lmstudio-js's `getLocalAPIServerStatusAtPortOrThrow` requires (FORMATS §2.7) — the
    running LM Studio's (or llmster's) version, on this machine only."""

    package: str
    version: str


# --- /api/v1/models --------------------------------------------------------------------


class Quantization(ResponseModel):
    name: str | None = None
    bits_per_weight: float | None = None


class ReasoningCapability(ResponseModel):
    allowed_options: tuple[str, ...] = ()
    default: str | None = None


class ModelCapabilities(ResponseModel):
    """What a model can do. REST v1 sends an object (`{"vision": true,
    "trained_for_tool_use": false}`, documented in lmstudio-ai/docs
    1_developer/2_rest/list.md: "vision — Whether the model supports vision/image inputs");
    REST v0 and some servers send a list of names (`["tool_use", "vision"]`), read here too."""

    vision: bool = False
    trained_for_tool_use: bool = False
    reasoning: ReasoningCapability | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_names(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            names = {str(v).lower() for v in value}
            return {"vision": "vision" in names, "trained_for_tool_use": "tool_use" in names}
        return value


class LoadConfig(ResponseModel):
    """The load settings LM Studio applied; only the keys that apply appear."""

    context_length: int | None = None
    eval_batch_size: int | None = None
    parallel: int | None = None
    flash_attention: bool | None = None
    num_experts: int | None = None
    offload_kv_cache_to_gpu: bool | None = None


class LoadedInstance(ResponseModel):
    id: str
    config: LoadConfig = LoadConfig()


class ModelInfo(ResponseModel):
    """One downloaded model (`type` is "llm" or "embedding"; vision models are "llm")."""

    key: str
    type: str | None = None
    publisher: str | None = None
    display_name: str | None = None
    architecture: str | None = None
    quantization: Quantization | None = None
    size_bytes: int | None = None
    params_string: str | None = None
    loaded_instances: tuple[LoadedInstance, ...] = ()
    max_context_length: int | None = None
    format: str | None = None  # "gguf" | "mlx" | null
    capabilities: ModelCapabilities | None = None  # absent for embedding models
    description: str | None = None
    variants: tuple[str, ...] = ()
    selected_variant: str | None = None
    # `lms ls/ps --json` (the SDK's ModelInfo) say it at the top level (FORMATS §1.4–1.5).
    vision: bool | None = None

    @property
    def is_loaded(self) -> bool:
        return bool(self.loaded_instances)

    @property
    def supports_vision(self) -> bool:
        """Reads images as well as text, in whichever shape the server said it:
        `capabilities.vision` (REST v1), a top-level `vision` (lms, the SDK) or v0's type
        "vlm"."""
        by_capabilities = self.capabilities is not None and self.capabilities.vision
        return bool(by_capabilities or self.vision or self.type == "vlm")

    @property
    def is_embedding(self) -> bool:
        return self.type == "embedding"


class ModelList(ResponseModel):
    models: tuple[ModelInfo, ...] = ()


# --- load / unload / download ----------------------------------------------------------


class LoadRequest(RequestModel):
    """`POST /api/v1/models/load`; only `model` is required."""

    model: str
    context_length: int | None = Field(default=None, gt=0)
    eval_batch_size: int | None = Field(default=None, gt=0)
    flash_attention: bool | None = None
    num_experts: int | None = Field(default=None, gt=0)
    offload_kv_cache_to_gpu: bool | None = None
    echo_load_config: bool | None = None


class LoadResult(ResponseModel):
    instance_id: str
    type: str | None = None
    load_time_seconds: float | None = None
    status: str | None = None
    load_config: LoadConfig | None = None  # only with echo_load_config


class UnloadRequest(RequestModel):
    instance_id: str


class UnloadResult(ResponseModel):
    instance_id: str


class DownloadRequest(RequestModel):
    """A catalog id or a Hugging Face URL; `quantization` only applies to the latter."""

    model: str
    quantization: str | None = None


class DownloadJob(ResponseModel):
    """A download job, as both the start and the status endpoint describe it.

    `status` is "downloading", "paused", "completed", "failed" or (start only)
    "already_downloaded", which comes without a `job_id`.
    """

    status: str
    job_id: str | None = None
    total_size_bytes: int | None = None
    downloaded_bytes: int | None = None
    bytes_per_second: float | None = None
    started_at: datetime | None = None
    estimated_completion: datetime | None = None
    completed_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "already_downloaded")


# --- /api/v1/chat ----------------------------------------------------------------------

ReasoningSetting = Literal["off", "low", "medium", "high", "on"]


class TextInput(RequestModel):
    # The doc's table says "message", its own example sends "text" (FORMATS §3.5).
    type: Literal["text"] = "text"
    content: str


class ImageInput(RequestModel):
    type: Literal["image"] = "image"
    data_url: str  # data:image/png;base64,…


ChatInputPart = Annotated[TextInput | ImageInput, Field(discriminator="type")]


class PluginIntegration(RequestModel):
    type: Literal["plugin"] = "plugin"
    id: str  # e.g. "mcp/playwright"
    allowed_tools: list[str] | None = None


class EphemeralMcpIntegration(RequestModel):
    type: Literal["ephemeral_mcp"] = "ephemeral_mcp"
    server_label: str
    server_url: str
    allowed_tools: list[str] | None = None
    # Headers usually carry the MCP server's credentials: kept secret in reprs and logs.
    headers: dict[str, SecretStr] | None = None

    @field_serializer("headers", when_used="unless-none")
    def _reveal_headers(self, headers: dict[str, SecretStr]) -> dict[str, str]:
        return {name: value.get_secret_value() for name, value in headers.items()}


# A bare string is the short form "mcp/<label>" of an mcp.json server.
Integration = Annotated[
    str | PluginIntegration | EphemeralMcpIntegration, Field(union_mode="left_to_right")
]


class ChatRequest(RequestModel):
    """`POST /api/v1/chat`. The client sets `stream` itself."""

    model: str
    input: str | list[ChatInputPart]
    system_prompt: str | None = None
    integrations: list[Integration] | None = None
    stream: bool | None = None
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0, le=1)
    repeat_penalty: float | None = None
    max_output_tokens: int | None = Field(default=None, gt=0)
    reasoning: ReasoningSetting | None = None
    context_length: int | None = Field(default=None, gt=0)
    store: bool | None = None
    previous_response_id: str | None = None


class ProviderInfo(ResponseModel):
    type: str | None = None  # "plugin" | "ephemeral_mcp"
    plugin_id: str | None = None
    server_label: str | None = None


class MessageOutput(ResponseModel):
    type: Literal["message"] = "message"
    content: str = ""


class ReasoningOutput(ResponseModel):
    type: Literal["reasoning"] = "reasoning"
    content: str = ""


class ToolCallOutput(ResponseModel):
    type: Literal["tool_call"] = "tool_call"
    tool: str
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    output: str | None = None
    provider_info: ProviderInfo | None = None


class InvalidToolCallMetadata(ResponseModel):
    type: str | None = None  # "invalid_name" | "invalid_arguments"
    tool_name: str | None = None
    arguments: JsonValue = None
    provider_info: ProviderInfo | None = None


class InvalidToolCallOutput(ResponseModel):
    type: Literal["invalid_tool_call"] = "invalid_tool_call"
    reason: str | None = None
    metadata: InvalidToolCallMetadata | None = None


class UnknownOutputItem(ResponseModel):
    """An output item type this version does not know; kept, never fatal."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str


_OUTPUT_TYPES = frozenset({"message", "reasoning", "tool_call", "invalid_tool_call"})


def _output_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in _OUTPUT_TYPES else "unknown"


OutputItem = Annotated[
    Annotated[MessageOutput, Tag("message")]
    | Annotated[ReasoningOutput, Tag("reasoning")]
    | Annotated[ToolCallOutput, Tag("tool_call")]
    | Annotated[InvalidToolCallOutput, Tag("invalid_tool_call")]
    | Annotated[UnknownOutputItem, Tag("unknown")],
    Discriminator(_output_tag),
]


class ChatStats(ResponseModel):
    input_tokens: int | None = None
    total_output_tokens: int | None = None
    reasoning_output_tokens: int | None = None
    tokens_per_second: float | None = None
    time_to_first_token_seconds: float | None = None
    model_load_time_seconds: float | None = None  # only when this request loaded the model


class ChatResponse(ResponseModel):
    """The complete answer of `/api/v1/chat` (also the `result` of a stream's `chat.end`)."""

    model_instance_id: str | None = None
    output: tuple[OutputItem, ...] = ()
    stats: ChatStats | None = None
    response_id: str | None = None  # absent with store=false

    @property
    def text(self) -> str:
        return "".join(item.content for item in self.output if isinstance(item, MessageOutput))

    @property
    def reasoning(self) -> str:
        return "".join(item.content for item in self.output if isinstance(item, ReasoningOutput))


# --- /api/v0 ---------------------------------------------------------------------------


class V0Model(ResponseModel):
    """One item of `GET /api/v0/models` (`type` "llm" | "vlm" | "embeddings")."""

    id: str
    object: str | None = None
    type: str | None = None
    publisher: str | None = None
    arch: str | None = None
    compatibility_type: str | None = None
    quantization: str | None = None
    state: str | None = None  # "loaded" | "not-loaded"
    max_context_length: int | None = None
    loaded_context_length: int | None = None  # only when loaded
    capabilities: tuple[str, ...] = ()


class V0ModelList(ResponseModel):
    data: tuple[V0Model, ...] = ()


# --- OpenAI-compatible /v1 -------------------------------------------------------------


class OpenAIModel(ResponseModel):
    id: str
    object: str | None = None
    owned_by: str | None = None


class OpenAIModelList(ResponseModel):
    data: tuple[OpenAIModel, ...] = ()


class ChatMessage(RequestModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class StreamOptions(RequestModel):
    include_usage: bool | None = None


class ChatCompletionRequest(RequestModel):
    """`POST /v1/chat/completions` with the parameters LM Studio documents (§3.9)."""

    model: str
    messages: list[ChatMessage]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    max_tokens: int | None = None  # LM Studio reads -1 as "no limit"
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    repeat_penalty: float | None = None
    seed: int | None = None
    ttl: int | None = Field(default=None, gt=0)  # seconds a JIT-loaded model stays


class Usage(ResponseModel):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class ChatCompletionMessage(ResponseModel):
    role: str | None = None
    content: str | None = None
    # Reasoning moved from `reasoning_content` (0.3.9) to `reasoning` (0.3.23); a third
    # encoding is `<think>…</think>` inside `content` (see tray.core.openai_stream).
    reasoning: str | None = None
    reasoning_content: str | None = None


class ChatCompletionChoice(ResponseModel):
    index: int = 0
    message: ChatCompletionMessage = ChatCompletionMessage()
    finish_reason: str | None = None


class ChatCompletion(ResponseModel):
    """A non-streaming `/v1/chat/completions` answer (`stats` of /v1 is observed empty)."""

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    choices: tuple[ChatCompletionChoice, ...] = ()
    usage: Usage | None = None


# --- errors ----------------------------------------------------------------------------


class ApiErrorBody(ResponseModel):
    """The v1 error object `{"type", "message", "code"?, "param"?}` (also OpenAI's shape).

    Read leniently: llama.cpp's server sends an integer `code` (`{"code": 404, "message":
    "File Not Found", "type": "not_found_error"}`), others a number for `param`."""

    message: str = ""
    type: str | None = None
    code: str | None = None
    param: str | None = None

    @field_validator("message", "type", "code", "param", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value if value is None or isinstance(value, str) else None
