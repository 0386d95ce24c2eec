"""The REST payload models read LM Studio's official samples, tolerate what newer versions
add, send only what is set, and map status + body to the documented error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tray.core.api import (
    ChatCompletion,
    ChatRequest,
    ChatResponse,
    DownloadJob,
    DownloadRequest,
    EphemeralMcpIntegration,
    InvalidToolCallOutput,
    LoadRequest,
    LoadResult,
    MessageOutput,
    ModelInfo,
    ModelList,
    OpenAIModelList,
    ReasoningOutput,
    ToolCallOutput,
    UnknownOutputItem,
    UnloadRequest,
    UnloadResult,
    V0Model,
    V0ModelList,
)
from tray.core.api_errors import error_from_response, server_of
from tray.core.errors import (
    ApiError,
    AuthError,
    AuthRequired,
    EndpointNotSupported,
    HttpStatusError,
    InvalidToken,
    ModelNotFound,
)
from tray.core.inventory import kind_label

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lmstudio"
URL = "http://127.0.0.1:1234/api/v1/models"
SERVER = "http://127.0.0.1:1234"
TOKEN = "sk-lm-AbCd1234:AbCdEfGhIj0123456789"


def sample(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_models_list_sample() -> None:
    models = ModelList.model_validate(sample("rest-v1-models-response.json")).models
    gemma, deepseek, embed = models
    assert gemma.key == "google/gemma-4-26b-a4b"
    assert gemma.is_loaded
    assert gemma.loaded_instances[0].config.parallel == 4
    assert gemma.capabilities is not None and gemma.capabilities.vision
    assert gemma.capabilities.reasoning is not None
    assert gemma.capabilities.reasoning.allowed_options == ("off", "on")
    assert gemma.selected_variant == "google/gemma-4-26b-a4b@q4_k_m"
    assert not deepseek.is_loaded and deepseek.variants == ()
    # Embedding models lack architecture, capabilities and description.
    assert embed.is_embedding
    assert embed.capabilities is None and embed.architecture is None
    assert embed.quantization is not None and embed.quantization.bits_per_weight == 16


def test_model_info_tolerates_new_and_null_fields() -> None:
    item = {
        "key": "x/y",
        "type": "llm",
        "format": None,
        "quantization": None,
        "a_field_from_the_future": {"nested": [1, 2]},
        "loaded_instances": [{"id": "x/y", "config": {"context_length": 8192, "new_knob": 1}}],
    }
    model = ModelList.model_validate({"models": [item, {**item, "format": "mlx"}]}).models
    assert model[0].format is None and model[0].quantization is None
    assert model[0].loaded_instances[0].config.context_length == 8192
    assert model[1].format == "mlx"


def test_load_request_sample_round_trips_and_omits_unset() -> None:
    request = LoadRequest.model_validate(sample("rest-v1-models-load-request.json"))
    assert json.loads(request.to_body()) == sample("rest-v1-models-load-request.json")
    assert json.loads(LoadRequest(model="m").to_body()) == {"model": "m"}


def test_request_models_reject_unknown_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        LoadRequest.model_validate({"model": "m", "gpu_ratio": 0.5})


def test_load_response_sample() -> None:
    result = LoadResult.model_validate(sample("rest-v1-models-load-response.json"))
    assert result.instance_id == "openai/gpt-oss-20b"
    assert result.load_config is not None and result.load_config.num_experts == 4
    bare = LoadResult.model_validate({"instance_id": "m", "type": "embedding"})
    assert bare.load_config is None


def test_unload_samples() -> None:
    request = UnloadRequest.model_validate(sample("rest-v1-models-unload-request.json"))
    assert json.loads(request.to_body()) == sample("rest-v1-models-unload-request.json")
    result = UnloadResult.model_validate(sample("rest-v1-models-unload-response.json"))
    assert result.instance_id == "openai/gpt-oss-20b"


def test_download_samples() -> None:
    request = DownloadRequest.model_validate(sample("rest-v1-models-download-request.json"))
    assert json.loads(request.to_body()) == {"model": "ibm/granite-4-micro"}
    started = DownloadJob.model_validate(sample("rest-v1-models-download-response.json"))
    assert started.job_id == "job_493c7c9ded" and not started.finished
    assert started.started_at is not None and started.started_at.year == 2025
    done = DownloadJob.model_validate(sample("rest-v1-models-download-status-response.json"))
    assert done.finished and done.downloaded_bytes == done.total_size_bytes
    already = DownloadJob.model_validate({"status": "already_downloaded"})
    assert already.job_id is None and already.finished


@pytest.mark.parametrize(
    "name", ["rest-v1-chat-request-image.json", "rest-v1-chat-request-mcp.json"]
)
def test_chat_request_samples_round_trip(name: str) -> None:
    request = ChatRequest.model_validate(sample(name))
    assert json.loads(request.to_body()) == sample(name)


def test_chat_request_keeps_mcp_header_secrets_out_of_repr() -> None:
    integration = EphemeralMcpIntegration(
        server_label="hf",
        server_url="https://huggingface.co/mcp",
        headers={"Authorization": SecretStr("Bearer hf_secret")},
    )
    request = ChatRequest(model="m", input="hi", integrations=["mcp/playwright", integration])
    assert "hf_secret" not in repr(request)
    body = json.loads(request.to_body())
    assert body["integrations"][0] == "mcp/playwright"
    assert body["integrations"][1]["headers"] == {"Authorization": "Bearer hf_secret"}


def test_chat_response_samples() -> None:
    image = ChatResponse.model_validate(sample("rest-v1-chat-response-image.json"))
    assert image.text.startswith("This image is a solid")
    assert image.stats is not None and image.stats.model_load_time_seconds is None
    mcp = ChatResponse.model_validate(sample("rest-v1-chat-response-mcp.json"))
    kinds = [type(item) for item in mcp.output]
    assert kinds == [ToolCallOutput, MessageOutput, ToolCallOutput, MessageOutput]
    first = mcp.output[0]
    assert isinstance(first, ToolCallOutput)
    assert first.arguments["sort"] == "trendingScore"
    assert first.provider_info is not None and first.provider_info.server_label == "huggingface"
    assert mcp.stats is not None and mcp.stats.model_load_time_seconds == 2.656


def test_chat_response_reasoning_invalid_and_unknown_items() -> None:
    response = ChatResponse.model_validate(
        {
            "output": [
                {"type": "reasoning", "content": "hmm"},
                {
                    "type": "invalid_tool_call",
                    "reason": "Cannot find tool",
                    "metadata": {"type": "invalid_name", "tool_name": "open_browser"},
                },
                {"type": "image_generation", "url": "x"},
                {"type": "message", "content": "ok"},
            ]
        }
    )
    reasoning, invalid, unknown, _ = response.output
    assert isinstance(reasoning, ReasoningOutput)
    assert isinstance(invalid, InvalidToolCallOutput)
    assert invalid.metadata is not None and invalid.metadata.tool_name == "open_browser"
    assert isinstance(unknown, UnknownOutputItem) and unknown.type == "image_generation"
    assert (response.reasoning, response.text) == ("hmm", "ok")


def test_v0_samples() -> None:
    models = V0ModelList.model_validate(sample("rest-v0-models-response.json")).data
    assert [m.type for m in models] == ["vlm", "llm", "embeddings"]
    assert all(m.loaded_context_length is None and m.capabilities == () for m in models)
    single = V0Model.model_validate(sample("rest-v0-model-single-response.json"))
    assert (single.compatibility_type, single.quantization) == ("mlx", "4bit")


def test_openai_samples() -> None:
    completion = ChatCompletion.model_validate(sample("rest-v0-chat-completions-response.json"))
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content is not None
    assert completion.usage is not None and completion.usage.total_tokens == 77
    listing = OpenAIModelList.model_validate(
        {"object": "list", "data": [{"id": "qwen/qwen3-4b", "object": "model", "owned_by": "o"}]}
    )
    assert listing.data[0].id == "qwen/qwen3-4b"


# --- error_from_response -----------------------------------------------------------------

UNEXPECTED = {"error": "Unexpected endpoint or method. (GET /api/v1/models)"}
AUTH_BODY = {
    "error": {
        "type": "invalid_request",
        "code": "invalid_api_key",
        "message": "An LM Studio API token is required to make requests to this server",
    }
}


def test_success_is_no_error() -> None:
    assert error_from_response(200, {"models": []}, url=URL, sent_token=False) is None


@pytest.mark.parametrize("status", [200, 404])
def test_unexpected_endpoint_body_whatever_the_status(status: int) -> None:
    error = error_from_response(status, UNEXPECTED, url=URL, sent_token=False)
    assert isinstance(error, EndpointNotSupported)
    assert SERVER in error.message
    assert error.url == URL  # the endpoint stays on the error, for the log


def test_bare_404_is_unsupported_endpoint() -> None:
    assert isinstance(
        error_from_response(404, None, url=URL, sent_token=False), EndpointNotSupported
    )


@pytest.mark.parametrize(("sent", "kind"), [(False, AuthRequired), (True, InvalidToken)])
def test_invalid_api_key(sent: bool, kind: type[AuthError]) -> None:
    for status in (401, 200):
        error = error_from_response(status, AUTH_BODY, url=URL, sent_token=sent)
        assert type(error) is kind


# What other servers say when a key is missing (OpenAI's shape, which Ollama-style and
# proxy servers copy), and a bare 401 from a proxy: neither is LM Studio.
OTHER_AUTH_BODY = {
    "error": {
        "message": "Incorrect API key provided.",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
}


@pytest.mark.parametrize("sent", [False, True])
@pytest.mark.parametrize("body", [AUTH_BODY, None])
def test_a_refusal_known_to_be_lm_studios_names_its_token_page(
    sent: bool, body: dict[str, object] | None
) -> None:
    # LM Studio's own 401 words, or a bare 401 from a server whose greeting said LM Studio.
    error = error_from_response(401, body, url=URL, sent_token=sent, lm_studio=True)
    assert isinstance(error, AuthError) and error.lm_studio
    assert "Developer → Server Settings → Manage Tokens" in error.message
    said = error_from_response(401, AUTH_BODY, url=URL, sent_token=sent)
    assert isinstance(said, AuthError) and said.lm_studio
    assert "Manage Tokens" in said.message


@pytest.mark.parametrize("sent", [False, True])
@pytest.mark.parametrize("body", [OTHER_AUTH_BODY, None, {"detail": "Unauthorized"}])
@pytest.mark.parametrize("greeting", [None, False])
def test_a_refusal_from_another_server_does_not_send_the_user_to_lm_studio(
    sent: bool, body: dict[str, object] | None, greeting: bool | None
) -> None:
    error = error_from_response(401, body, url=URL, sent_token=sent, lm_studio=greeting)
    assert isinstance(error, InvalidToken if sent else AuthRequired)
    assert not error.lm_studio
    assert "Developer" not in error.message and "Manage Tokens" not in error.message
    assert SERVER in error.message
    assert "the key that server expects" in error.message


def test_other_auth_statuses() -> None:
    assert type(error_from_response(401, None, url=URL, sent_token=True)) is InvalidToken
    assert type(error_from_response(403, {"x": 1}, url=URL, sent_token=True)) is AuthError


def test_v1_error_objects_carry_their_fields_even_on_200() -> None:
    body = {
        "error": {
            "type": "invalid_request",
            "message": '"model" is required',
            "code": "missing_required_parameter",
            "param": "model",
        }
    }
    error = error_from_response(200, body, url=URL, sent_token=False)
    assert type(error) is ApiError
    assert (error.error_type, error.code, error.param) == (
        "invalid_request",
        "missing_required_parameter",
        "model",
    )
    assert '"model" is required' in error.message


def test_model_not_found() -> None:
    body = {"error": {"type": "model_not_found", "message": "No model found: nope"}}
    error = error_from_response(404, body, url=URL, sent_token=False)
    assert isinstance(error, ModelNotFound)
    assert error.status_code == 404
    assert error.message == (
        f"LM Studio at {SERVER} does not know that model. It said: No model found: nope. "
        "Check the name against the loaded and downloaded models."
    )


@pytest.mark.parametrize(
    ("status", "body", "sent"),
    [
        (200, UNEXPECTED, False),
        (404, None, False),
        (401, AUTH_BODY, False),
        (401, AUTH_BODY, True),
        (403, None, True),
        (500, None, False),
        (404, {"error": {"type": "model_not_found", "message": "No model found: nope"}}, False),
        (400, {"error": {"type": "invalid_request", "message": "bad"}}, False),
    ],
)
def test_error_sentences_name_the_server_never_the_endpoint(
    status: int, body: dict[str, object] | None, sent: bool
) -> None:
    error = error_from_response(status, body, url=URL, sent_token=sent)
    assert error is not None
    assert SERVER in error.message
    assert "/api/" not in error.message and "/v1" not in error.message
    assert "(GET" not in error.message and ".);" not in error.message


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("http://127.0.0.1:1234/api/v1/models/unload", "http://127.0.0.1:1234"),
        ("http://h:1/proxy/lm/v1/chat/completions", "http://h:1/proxy/lm"),
        ("http://v1.example:1234/lmstudio-greeting", "http://v1.example:1234"),
        ("http://h:1234", "http://h:1234"),
    ],
)
def test_server_of_drops_the_endpoint_path(url: str, server: str) -> None:
    assert server_of(url) == server


def test_server_messages_never_echo_a_token() -> None:
    body = {"error": {"type": "unknown", "message": f"bad token {TOKEN}"}}
    error = error_from_response(500, body, url=URL, sent_token=True)
    assert error is not None
    assert TOKEN not in error.message and "sk-lm-********" in error.message


def test_other_statuses() -> None:
    error = error_from_response(500, None, url=URL, sent_token=False)
    assert isinstance(error, HttpStatusError) and error.status_code == 500
    assert "500" in error.message


def test_unknown_v1_path_404_with_error_object_is_unsupported_endpoint() -> None:
    body = {"error": {"type": "invalid_request", "message": "Unexpected endpoint or method."}}
    assert isinstance(
        error_from_response(404, body, url=URL, sent_token=False), EndpointNotSupported
    )


def test_string_error_on_other_routes_is_an_api_error() -> None:
    error = error_from_response(400, {"error": "Bad thing"}, url=URL, sent_token=False)
    assert type(error) is ApiError and "Bad thing" in error.message


# --- vision ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "vision"),
    [
        ({"key": "g", "type": "llm", "capabilities": {"vision": True}}, True),  # REST v1
        ({"key": "q", "type": "llm", "capabilities": {"vision": False}}, False),
        ({"key": "g", "type": "llm", "vision": True}, True),  # lms ls/ps, the SDK
        ({"key": "g", "type": "llm", "capabilities": ["tool_use", "vision"]}, True),  # names
        ({"key": "q", "type": "llm", "capabilities": ["tool_use"]}, False),
        ({"key": "g", "type": "vlm"}, True),  # REST v0
        ({"key": "e", "type": "embedding"}, False),  # no capabilities at all
    ],
)
def test_vision_is_read_in_every_shape_lm_studio_sends(
    item: dict[str, object], vision: bool
) -> None:
    model = ModelInfo.model_validate(item)
    assert model.supports_vision is vision
    assert kind_label(model) == (
        "Embedding" if model.is_embedding else "Vision LLM" if vision else "LLM"
    )


def test_the_simulator_lists_a_vision_model_as_lm_studio_does() -> None:
    from tray.simulator.catalog import SEED_MODELS

    rendered = [ModelInfo.model_validate(m.v1_json([])) for m in SEED_MODELS]
    assert [m.key for m in rendered if m.supports_vision] == ["google/gemma-3-12b"]
    assert ModelInfo.model_validate(
        next(m for m in SEED_MODELS if m.vision).lms_json() | {"key": "g"}
    ).supports_vision
