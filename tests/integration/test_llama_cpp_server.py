"""A real llama.cpp server (llama-cpp-python's `python -m llama_cpp.server`, on the tiny
model tests/fixtures/llama_cpp/make_gguf.py writes) answers as recorded here: the routes an
OpenAI client uses, and, exactly, what the routes a tray probes to tell server kinds apart
answer on it. docs/llama-cpp.md explains the findings and compares them with
the C++ `llama-server`.

The model decodes greedily (temperature 0) to printable ASCII and never to </s>, so a
request for N tokens gets N one-character tokens, the same for every request."""

from __future__ import annotations

import json
import socket
import string
from importlib.metadata import version
from pathlib import Path

import httpx
import llama_cpp_server
import pytest
from llama_cpp_server import MODEL_ALIAS, N_CTX, LlamaCppServer, start_llama_cpp_server

TIMEOUT = 30.0
PRINTABLE = set(string.printable) - set("\t\n\r\x0b\x0c")  # bytes 0x20..0x7E
NOT_FOUND = {"detail": "Not Found"}  # FastAPI's own 404 body, for every unknown route


def _chat(url: str, max_tokens: int, **extra: object) -> httpx.Response:
    body = {
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": max_tokens,
        "temperature": 0,
        **extra,
    }
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=TIMEOUT)


def test_models_lists_the_alias_and_nothing_more(llama_cpp_url: str) -> None:
    answer = httpx.get(f"{llama_cpp_url}/v1/models", timeout=TIMEOUT)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["server"] == "uvicorn"
    # No "created", no "meta" (llama-server has both): only these four keys.
    assert answer.json() == {
        "object": "list",
        "data": [{"id": MODEL_ALIAS, "object": "model", "owned_by": "me", "permissions": []}],
    }


def test_chat_completion_answers_with_the_tokens_asked_for(
    llama_cpp_server: LlamaCppServer,
) -> None:
    answer = _chat(llama_cpp_server.base_url, 8)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"id", "object", "created", "model", "choices", "usage"}
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    # Without "model" in the request, the answer names the model FILE, not the alias.
    assert body["model"] == str(llama_cpp_server.model_path)
    [choice] = body["choices"]
    content = choice["message"]["content"]
    assert choice == {
        "index": 0,
        "message": {"content": content, "role": "assistant"},
        "logprobs": None,
        "finish_reason": "length",
    }
    assert len(content) == 8 and set(content) <= PRINTABLE
    usage = body["usage"]
    assert usage["completion_tokens"] == 8
    assert usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + 8


def test_the_model_field_is_echoed_and_an_unknown_model_is_served_anyway(
    llama_cpp_url: str,
) -> None:
    """A single-model llama_cpp.server serves whatever "model" a request names (no 404,
    no error) and echoes that name back."""
    reference = _chat(llama_cpp_url, 4).json()["choices"][0]["message"]["content"]
    for name in (MODEL_ALIAS, "no-such-model"):
        answer = _chat(llama_cpp_url, 4, model=name)
        assert answer.status_code == 200
        assert answer.json()["model"] == name
        assert answer.json()["choices"][0]["message"]["content"] == reference


def test_streamed_chat_completion_is_server_sent_events_ending_in_done(
    llama_cpp_server: LlamaCppServer,
) -> None:
    url = llama_cpp_server.base_url
    expected = _chat(url, 5).json()["choices"][0]["message"]["content"]
    body = {
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 5,
        "temperature": 0,
        "stream": True,
    }
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=TIMEOUT) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        lines = list(r.iter_lines())
    # One "data: ..." line per event, each followed by a blank line; no "event:" or "id:".
    events = [line for line in lines if line]
    assert all(line.startswith("data: ") for line in events)
    assert lines[1::2] == [""] * (len(lines) // 2)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert {c["model"] for c in chunks} == {str(llama_cpp_server.model_path)}
    deltas = [c["choices"][0]["delta"] for c in chunks]
    finishes = [c["choices"][0]["finish_reason"] for c in chunks]
    # A role-only first chunk, one chunk per token, and an empty delta that finishes.
    assert deltas[0] == {"role": "assistant"}
    assert deltas[-1] == {}
    assert finishes == [None] * (len(chunks) - 1) + ["length"]
    assert [d["content"] for d in deltas[1:-1]] == list(expected)


# What the routes a tray may probe to tell LM Studio, Ollama, llama-server and others apart
# answer on llama-cpp-python's server: none of them exists. The C++ llama-server has
# /health, /props and /slots (see docs/llama-cpp.md).
PROBES = [
    "/health",
    "/v1/health",
    "/props",
    "/slots",
    "/metrics",
    "/models",
    "/api/v1/models",  # LM Studio's native REST API (v1)
    "/api/v0/models",  # LM Studio's native REST API (v0, beta)
    "/api/version",  # Ollama
    "/api/tags",  # Ollama
    "/",
    "/no/such/route",
]


@pytest.mark.parametrize("path", PROBES)
def test_probed_route_is_a_fastapi_404(llama_cpp_url: str, path: str) -> None:
    answer = httpx.get(f"{llama_cpp_url}{path}", timeout=TIMEOUT)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == NOT_FOUND


def test_openapi_document_names_the_server_and_lists_every_route(llama_cpp_url: str) -> None:
    """/openapi.json is the one GET that tells this server apart: FastAPI's schema, with
    the title and the llama-cpp-python version. /docs serves Swagger UI."""
    answer = httpx.get(f"{llama_cpp_url}/openapi.json", timeout=TIMEOUT)
    assert answer.status_code == 200
    schema = answer.json()
    assert schema["info"] == {
        "title": "🦙 llama.cpp Python API",
        "version": version("llama-cpp-python"),
    }
    assert {path: sorted(methods) for path, methods in schema["paths"].items()} == {
        "/v1/completions": ["post"],
        "/v1/embeddings": ["post"],
        "/v1/chat/completions": ["post"],
        "/v1/models": ["get"],
        "/extras/tokenize": ["post"],
        "/extras/tokenize/count": ["post"],
        "/extras/detokenize": ["post"],
    }
    docs = httpx.get(f"{llama_cpp_url}/docs", timeout=TIMEOUT)
    assert docs.status_code == 200
    assert "<title>🦙 llama.cpp Python API - Swagger UI</title>" in docs.text


def test_wrong_method_is_a_fastapi_405(llama_cpp_url: str) -> None:
    answer = httpx.post(f"{llama_cpp_url}/v1/models", timeout=TIMEOUT)
    assert answer.status_code == 405
    assert answer.json() == {"detail": "Method Not Allowed"}


def test_a_prompt_past_the_context_is_an_openai_style_400(llama_cpp_url: str) -> None:
    body = {"messages": [{"role": "user", "content": "a" * 600}], "max_tokens": 4}
    answer = httpx.post(f"{llama_cpp_url}/v1/chat/completions", json=body, timeout=TIMEOUT)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert set(answer.json()) == {"error"}
    assert {k: error[k] for k in ("type", "param", "code")} == {
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    assert error["message"].startswith(
        f"This model's maximum context length is {N_CTX} tokens. However, you requested "
    )


def test_an_invalid_request_body_is_a_500_not_a_422(llama_cpp_url: str) -> None:
    """llama-cpp-python's error wrapper turns FastAPI's validation error into a 500 with
    an OpenAI-style body (and a line of server-side traceback in the message)."""
    answer = httpx.post(
        f"{llama_cpp_url}/v1/chat/completions", json={"messages": "x"}, timeout=TIMEOUT
    )
    assert answer.status_code == 500
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "internal_server_error"
    assert error["param"] is None and error["code"] is None
    assert "validation error" in error["message"]


def test_a_server_with_an_api_key_and_its_stop_leaving_nothing(tmp_path: Path) -> None:
    """With --api_key, the API answers 401 in FastAPI's shape (no WWW-Authenticate) to a
    missing or wrong key, while FastAPI's own /openapi.json stays open. Then it stops."""
    key = {"Authorization": "Bearer sekrit"}
    server = start_llama_cpp_server(tmp_path, extra_args=["--api_key", "sekrit"], headers=key)
    port = int(server.base_url.rsplit(":", 1)[1])
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            answer = httpx.get(f"{server.base_url}/v1/models", headers=headers, timeout=TIMEOUT)
            assert answer.status_code == 401
            assert answer.json() == {"detail": "Invalid API key"}
            assert "www-authenticate" not in answer.headers
        ok = httpx.get(f"{server.base_url}/v1/models", headers=key, timeout=TIMEOUT)
        assert ok.status_code == 200
        assert httpx.get(f"{server.base_url}/openapi.json", timeout=TIMEOUT).status_code == 200
        assert httpx.get(f"{server.base_url}/health", timeout=TIMEOUT).status_code == 404
    finally:
        server.stop()
    assert server.process.returncode is not None  # reaped: no process, no zombie
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # nothing listens there any more
    assert "Finished server process" in server.log_tail()  # SIGTERM was a clean shutdown


def test_a_missing_module_fails_with_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        llama_cpp_server, "SERVER_MODULES", (*llama_cpp_server.SERVER_MODULES, "no_such_mod")
    )
    with pytest.raises(pytest.fail.Exception, match=r"no_such_mod cannot be imported"):
        start_llama_cpp_server(tmp_path)
    assert not list(tmp_path.iterdir())  # it failed before writing or starting anything
