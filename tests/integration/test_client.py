"""`LmStudioClient` against the real simulator on loopback: every non-streaming endpoint,
and every failure mapped to its one documented error."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path

import httpx
import pytest

from tray.core.api import (
    ChatCompletionRequest,
    ChatMessage,
    ChatRequest,
    DownloadRequest,
    LoadRequest,
)
from tray.core.errors import (
    ApiError,
    AuthRequired,
    BadResponse,
    EndpointNotSupported,
    HttpStatusError,
    InvalidToken,
    MalformedJson,
    ModelNotFound,
    RequestTimeout,
    ResponseTooLarge,
    ServerUnreachable,
)
from tray.core.openai_stream import split_message
from tray.core.tokens import StaticToken
from tray.services import lmstudio_client
from tray.services.lmstudio_client import LmStudioClient, Timeouts
from tray.services.lmstudio_version import local_lmstudio_version
from tray.simulator import Fault, Reply, Simulator
from tray.simulator.state import VERSION

TOKEN = "sk-lm-AbCd1234:QwErTyUiOp1234567890"
WRONG = "sk-lm-ZzZz9999:AaAaAaAaAaAaAaAaAaAa"
SHORT = Timeouts(probe=0.5, call=0.5, stream_idle=0.5)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


# --- endpoints ---------------------------------------------------------------------------


def test_public_surface() -> None:
    assert lmstudio_client.__all__ == ["LmStudioClient", "Timeouts"]


async def test_greeting(client: LmStudioClient, http: httpx.AsyncClient, sim: Simulator) -> None:
    # All LM Studio documents, and all lms reads (createClient.ts checkHttpServer).
    assert (await http.get(sim.base_url + "/lmstudio-greeting")).json() == {"lmstudio": True}
    greeting = await client.greeting()
    assert greeting.lmstudio is True and greeting.version is None
    assert client.lm_studio is True


async def test_lm_studios_version_comes_from_its_local_status(
    http: httpx.AsyncClient, sim: Simulator
) -> None:
    # `<home>/.internal/http-server.json` names the local API server; `/lms-status` there
    # tells the version, as lms finds it (lmstudio-js findOrStartLlmster.ts).
    assert await local_lmstudio_version(http, sim.home) == VERSION


async def test_no_local_status_means_no_version(http: httpx.AsyncClient, tmp_path: Path) -> None:
    (tmp_path / ".internal").mkdir()
    (tmp_path / ".internal" / "http-server.json").write_text(json.dumps({"port": closed_port()}))
    assert await local_lmstudio_version(http, tmp_path, seconds=0.5) is None


async def test_list_models(client: LmStudioClient, sim: Simulator) -> None:
    sim.state.load("qwen/qwen3-4b")
    models = {m.key: m for m in await client.list_models()}
    assert {"qwen/qwen3-4b", "google/gemma-3-12b", "openai/gpt-oss-20b"} <= models.keys()
    qwen = models["qwen/qwen3-4b"]
    assert [i.id for i in qwen.loaded_instances] == ["qwen/qwen3-4b"]
    assert qwen.capabilities is not None and qwen.capabilities.reasoning is not None
    gemma = models["google/gemma-3-12b"]
    assert not gemma.is_loaded
    assert gemma.capabilities is not None and gemma.capabilities.vision
    embedding = models["text-embedding-nomic-embed-text-v1.5"]
    assert embedding.is_embedding and embedding.capabilities is None


async def test_load_and_unload(client: LmStudioClient, sim: Simulator) -> None:
    request = LoadRequest(model="openai/gpt-oss-20b", context_length=8192, echo_load_config=True)
    loaded = await client.load_model(request)
    assert loaded.instance_id == "openai/gpt-oss-20b" and loaded.status == "loaded"
    assert loaded.load_config is not None and loaded.load_config.context_length == 8192
    second = await client.load_model(LoadRequest(model="openai/gpt-oss-20b"))
    assert second.instance_id == "openai/gpt-oss-20b:2" and second.load_config is None
    assert sim.state.loaded_identifiers() == ["openai/gpt-oss-20b", "openai/gpt-oss-20b:2"]

    assert (await client.unload_model("openai/gpt-oss-20b:2")).instance_id.endswith(":2")
    assert sim.state.loaded_identifiers() == ["openai/gpt-oss-20b"]


async def test_load_unknown_model(client: LmStudioClient) -> None:
    with pytest.raises(ModelNotFound) as caught:
        await client.load_model(LoadRequest(model="nobody/nothing"))
    assert caught.value.error_type == "model_not_found"
    assert caught.value.param == "model" and caught.value.status_code == 404


async def test_download_and_status(client: LmStudioClient) -> None:
    job = await client.download_model(DownloadRequest(model="ibm/granite-4-micro"))
    assert job.status == "downloading" and job.job_id is not None
    assert job.started_at is not None and job.total_size_bytes
    status = await client.download_status(job.job_id)
    for _ in range(200):  # the simulated download takes about a second
        if status.finished:
            break
        await asyncio.sleep(0.05)
        status = await client.download_status(job.job_id)
    assert status.status == "completed" and status.completed_at is not None
    again = await client.download_model(DownloadRequest(model="ibm/granite-4-micro"))
    assert again.status == "already_downloaded" and again.job_id is None


async def test_chat(client: LmStudioClient, sim: Simulator) -> None:
    sim.state.load("qwen/qwen3-4b")
    sim.state.next_reply = Reply(text="Hello there.", reasoning="User greets me.")
    answer = await client.chat(ChatRequest(model="qwen/qwen3-4b", input="Hi"))
    assert (answer.reasoning, answer.text) == ("User greets me.", "Hello there.")
    assert answer.stats is not None and answer.stats.input_tokens
    assert answer.stats.model_load_time_seconds is None  # was loaded already
    assert answer.response_id is not None and answer.response_id.startswith("resp_")

    follow_up = ChatRequest(
        model="qwen/qwen3-4b", input="And?", previous_response_id=answer.response_id, store=False
    )
    assert (await client.chat(follow_up)).response_id is None


async def test_chat_tool_calls(client: LmStudioClient, sim: Simulator) -> None:
    sim.state.load("openai/gpt-oss-20b")
    request = ChatRequest.model_validate(
        {
            "model": "openai/gpt-oss-20b",
            "input": "What is trending?",
            "integrations": [
                {
                    "type": "ephemeral_mcp",
                    "server_label": "huggingface",
                    "server_url": "https://huggingface.co/mcp",
                    "allowed_tools": ["model_search"],
                }
            ],
        }
    )
    answer = await client.chat(request)
    calls = [item for item in answer.output if item.type == "tool_call"]
    assert len(calls) == 1 and getattr(calls[0], "tool", None) == "model_search"


async def test_list_models_v0(client: LmStudioClient, sim: Simulator) -> None:
    sim.state.load("qwen/qwen3-4b", context_length=8192)
    models = {m.id: m for m in await client.list_models_v0()}
    assert models["qwen/qwen3-4b"].state == "loaded"
    assert models["qwen/qwen3-4b"].loaded_context_length == 8192
    assert models["google/gemma-3-12b"].type == "vlm"
    assert models["text-embedding-nomic-embed-text-v1.5"].type == "embeddings"


async def test_list_models_openai(client: LmStudioClient, sim: Simulator) -> None:
    ids = {m.id for m in await client.list_models_openai()}
    assert "google/gemma-3-12b" in ids  # JIT on: every downloaded model
    sim.state.jit = False
    sim.state.load("qwen/qwen3-4b")
    assert [m.id for m in await client.list_models_openai()] == ["qwen/qwen3-4b"]


@pytest.mark.parametrize("encoding", ["reasoning", "reasoning_content", "think_tags"])
async def test_chat_completion(client: LmStudioClient, sim: Simulator, encoding: str) -> None:
    sim.state.openai_reasoning_field = encoding  # type: ignore[assignment]
    sim.state.next_reply = Reply(text="Four.", reasoning="2+2 is 4.")
    request = ChatCompletionRequest(
        model="qwen/qwen3-4b", messages=[ChatMessage(role="user", content="2+2?")]
    )
    completion = await client.chat_completion(request)
    reasoning, content = split_message(completion.choices[0].message)
    assert (reasoning, content.strip()) == ("2+2 is 4.", "Four.")
    assert completion.usage is not None and completion.usage.total_tokens


# --- tokens ------------------------------------------------------------------------------


async def test_token_is_sent_on_every_request(
    http: httpx.AsyncClient, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim.state.set_auth(TOKEN)
    client = LmStudioClient(http, sim.base_url, token_provider=StaticToken(TOKEN))
    await client.list_models()
    await client.list_models_openai()
    assert [r[2] for r in sim.state.requests] == [True, True]
    assert TOKEN not in repr(client) and TOKEN not in caplog.text


async def test_auth_required_without_token(client: LmStudioClient, sim: Simulator) -> None:
    sim.state.set_auth(TOKEN)
    assert (await client.greeting()).lmstudio  # the liveness probe stays open
    with pytest.raises(AuthRequired) as caught:
        await client.list_models()
    assert sim.base_url in caught.value.message


async def test_wrong_token_is_invalid(
    http: httpx.AsyncClient, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim.state.set_auth(TOKEN)
    client = LmStudioClient(http, sim.base_url, token_provider=StaticToken(WRONG))
    with pytest.raises(InvalidToken) as caught:
        await client.list_models()
    assert WRONG not in caught.value.message and WRONG not in caplog.text


async def test_lm_studios_refusal_names_its_token_page(
    client: LmStudioClient, sim: Simulator
) -> None:
    sim.state.set_auth(TOKEN)
    with pytest.raises(AuthRequired) as caught:
        await client.list_models_openai()
    assert caught.value.lm_studio
    assert "Developer → Server Settings → Manage Tokens" in caught.value.message


@pytest.mark.parametrize("token", [None, WRONG])
async def test_another_servers_refusal_does_not_send_the_user_to_lm_studio(
    http: httpx.AsyncClient, sim: Simulator, token: str | None
) -> None:
    # Not LM Studio (Ollama, llama.cpp's server, a proxy): no greeting, and an
    # OpenAI-style 401 that does not speak of LM Studio.
    sim.faults.add(
        Fault(
            kind="status",
            path="/lmstudio-greeting",
            status=404,
            body=b"404 page not found",
            content_type="text/plain",
        )
    )
    refusal = json.dumps(
        {
            "error": {
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        }
    ).encode()
    sim.faults.add(Fault(kind="status", path="/v1/models", status=401, body=refusal))
    provider = StaticToken(token) if token else None
    client = LmStudioClient(http, sim.base_url, token_provider=provider)
    with pytest.raises(EndpointNotSupported):
        await client.greeting()
    assert client.lm_studio is False
    with pytest.raises(InvalidToken if token else AuthRequired) as caught:
        await client.list_models_openai()
    assert not caught.value.lm_studio
    assert "Developer" not in caught.value.message
    assert "Manage Tokens" not in caught.value.message
    assert f"The server at {sim.base_url}" in caught.value.message
    assert "the key that server expects" in caught.value.message


# --- failures ----------------------------------------------------------------------------


async def test_closed_port_is_unreachable(http: httpx.AsyncClient) -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ServerUnreachable) as caught:
        await LmStudioClient(http, base).greeting()
    assert type(caught.value) is ServerUnreachable
    assert caught.value.message == f"Nothing answers at {base}; is the LM Studio server started?"


@pytest.mark.parametrize(
    ("base", "says"),
    [
        ("ftp://127.0.0.1:1", "start the address with http:// or https:// (not ftp:)"),
        ("http://[::1", "close the bracket around the IPv6 address"),  # was a ValueError
        ("http://127.0.0.1:99999", "the port must be a number from 1 to 65535"),  # OverflowError
    ],
)
async def test_an_address_that_is_not_one_fails_every_request_with_the_rules_sentence(
    http: httpx.AsyncClient, base: str, says: str
) -> None:
    with pytest.raises(ServerUnreachable) as caught:
        await LmStudioClient(http, base).greeting()
    message = caught.value.message
    assert message.startswith(f"The server address “{base}” is not usable: {says}")
    assert message.endswith("Correct it in Settings.")


async def test_an_address_without_a_scheme_is_http(http: httpx.AsyncClient) -> None:
    client = LmStudioClient(http, f"localhost:{closed_port()}/v1/")
    assert client.base_url.startswith("http://localhost:")
    with pytest.raises(ServerUnreachable, match="Nothing answers at http://localhost:"):
        await client.greeting()


async def test_reset_before_reply_is_unreachable(client: LmStudioClient, sim: Simulator) -> None:
    sim.faults.add(Fault(kind="reset", path="/api/v1/models", times=1))
    with pytest.raises(ServerUnreachable):
        await client.list_models()
    assert await client.list_models()  # the fault was used up; the next call works


@pytest.mark.parametrize("kind", ["hang", "trickle"])
async def test_silence_and_trickle_time_out(
    http: httpx.AsyncClient, sim: Simulator, kind: str
) -> None:
    sim.faults.add(Fault(kind=kind, path="/api/v1/models"))  # type: ignore[arg-type]
    client = LmStudioClient(http, sim.base_url, timeouts=SHORT)
    with pytest.raises(RequestTimeout) as caught:
        await client.list_models()
    assert "0.5 s" in caught.value.message


async def test_unexpected_endpoint_on_http_200(http: httpx.AsyncClient, sim: Simulator) -> None:
    # The simulator answers unknown routes as LM Studio does: 200 with an error string.
    client = LmStudioClient(http, sim.base_url + "/not-lmstudio")
    with pytest.raises(EndpointNotSupported):
        await client.greeting()
    with pytest.raises(EndpointNotSupported):  # unknown /api/v1 paths: a real 404
        await LmStudioClient(http, sim.base_url + "/api/v1/x").greeting()


async def test_older_lm_studio_without_v1(client: LmStudioClient, sim: Simulator) -> None:
    body = b'{"error":"Unexpected endpoint or method. (GET /api/v1/models)"}'
    sim.faults.add(Fault(kind="status", path="/api/v1/models", status=200, body=body))
    with pytest.raises(EndpointNotSupported, match="older LM Studio"):
        await client.list_models()


async def test_v1_error_object_on_http_200(client: LmStudioClient, sim: Simulator) -> None:
    body = json.dumps(
        {"error": {"type": "unknown", "message": "Something broke", "code": "x_code"}}
    ).encode()
    sim.faults.add(Fault(kind="status", path="/api/v1/models", status=200, body=body))
    with pytest.raises(ApiError) as caught:
        await client.list_models()
    assert type(caught.value) is ApiError
    assert (caught.value.error_type, caught.value.code) == ("unknown", "x_code")
    assert caught.value.status_code == 200 and "Something broke" in caught.value.message


async def test_missing_parameter_error(client: LmStudioClient) -> None:
    with pytest.raises(ApiError) as caught:
        await client.chat(ChatRequest(model="", input="Hi"))
    assert (caught.value.code, caught.value.param) == ("missing_required_parameter", "model")


async def test_500_with_v1_error_object(client: LmStudioClient, sim: Simulator) -> None:
    sim.faults.add(Fault(kind="status", path="/api/v1/models"))
    with pytest.raises(ApiError) as caught:
        await client.list_models()
    assert caught.value.error_type == "internal_error" and caught.value.status_code == 500


async def test_500_without_error_body(client: LmStudioClient, sim: Simulator) -> None:
    fault = Fault(
        kind="status",
        path="/api/v1/models",
        body=b"Internal Server Error",
        content_type="text/plain",
    )
    sim.faults.add(fault)
    with pytest.raises(HttpStatusError) as caught:
        await client.list_models()
    assert caught.value.status_code == 500


async def test_html_page(client: LmStudioClient, sim: Simulator) -> None:
    sim.faults.add(Fault(kind="html", path="/api/v1/models", times=1))
    with pytest.raises(MalformedJson):
        await client.list_models()
    sim.faults.add(Fault(kind="html", path="/api/v1/models", status=502, times=1))
    with pytest.raises(HttpStatusError) as caught:
        await client.list_models()
    assert caught.value.status_code == 502


async def test_wrong_shape(
    client: LmStudioClient, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"models": [{"display_name": "no key"}]}'
    sim.faults.add(Fault(kind="status", path="/api/v1/models", status=200, body=body))
    with pytest.raises(BadResponse) as caught:
        await client.list_models()
    assert type(caught.value) is BadResponse
    # The user reads which server; the log keeps where the answer went wrong.
    assert caught.value.message.startswith(f"The answer from the server at {sim.base_url} is")
    assert "models.0.key" in caplog.text


async def test_oversize_body_stops_reading(client: LmStudioClient, sim: Simulator) -> None:
    sim.faults.add(Fault(kind="oversize", path="/api/v1/models", times=1))
    with pytest.raises(ResponseTooLarge) as caught:
        await client.list_models()
    assert caught.value.limit_bytes == 8 * 1024 * 1024
    assert await client.list_models()  # the client and its pool still work
