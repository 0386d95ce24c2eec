"""Which kind of server answers, read from what each kind really sends; each kind's
payloads as model rows; the kinds' capabilities; settings v2 → v3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tray.core.api import V0Model
from tray.core.api_errors import error_from_response
from tray.core.backends import (
    AUTO,
    BackendKind,
    capabilities_for,
    config_items,
    parse_kind_choice,
    server_title,
)
from tray.core.errors import ApiError, EndpointNotSupported, ModelNotFound
from tray.core.kind_payloads import (
    LlamaCppProps,
    OllamaPs,
    OllamaTags,
    llamacpp_rows,
    ollama_downloaded_rows,
    ollama_loaded_rows,
    v0_loaded_rows,
)
from tray.core.restore import row_lines
from tray.core.server_kinds import DETECTION, ServerIdentity
from tray.core.settings import Settings, migrate


def _detect(answers: dict[str, tuple[int, Any]]) -> ServerIdentity | None:
    """Run the detection steps over canned answers (a missing path is a 404)."""
    for step in DETECTION:
        status, body = answers.get(step.path, (404, None))
        found = step.read(status, body)
        if found is not None:
            return found
    return None


LLAMA_404 = {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}}
LMSTUDIO_UNKNOWN = {"error": "Unexpected endpoint or method. (GET /api/v1/models)"}


def test_lm_studio_0_4_is_found_with_one_get() -> None:
    assert DETECTION[0].path == "/api/v1/models"
    found = _detect({"/api/v1/models": (200, {"models": []})})
    assert found == ServerIdentity(kind=BackendKind.LMSTUDIO)


def test_lm_studio_0_3_answers_v0_only() -> None:
    v0 = {"object": "list", "data": [{"id": "qwen", "state": "not-loaded", "type": "llm"}]}
    found = _detect({"/api/v1/models": (200, LMSTUDIO_UNKNOWN), "/api/v0/models": (200, v0)})
    assert found == ServerIdentity(kind=BackendKind.LMSTUDIO, legacy=True)


def test_ollama_by_its_version() -> None:
    found = _detect({"/api/version": (200, {"version": "0.12.6"})})
    assert found == ServerIdentity(kind=BackendKind.OLLAMA, version="0.12.6")


def test_llama_cpp_server_by_its_props() -> None:
    props = {
        "default_generation_settings": {"n_ctx": 4096},
        "total_slots": 4,
        "build_info": "b6000",
    }
    found = _detect({"/api/v1/models": (404, LLAMA_404), "/props": (200, props)})
    assert found == ServerIdentity(kind=BackendKind.LLAMACPP, version="b6000")


@pytest.mark.parametrize(
    ("owner", "kind"),
    [
        ("llamacpp", BackendKind.LLAMACPP),  # llama.cpp's server without /props
        ("me", BackendKind.LLAMACPP),  # llama-cpp-python's server
        ("organization_owner", BackendKind.OPENAI),
        ("vllm", BackendKind.OPENAI),
    ],
)
def test_any_openai_compatible_server_last(owner: str, kind: BackendKind) -> None:
    listed = {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": owner}]}
    assert _detect({"/v1/models": (200, listed)}) == ServerIdentity(kind=kind)


def test_nothing_known_answers() -> None:
    assert _detect({"/api/version": (200, {"version": "1", "name": "x", "more": 1})}) is None
    assert _detect({"/v1/models": (200, {"error": "nope"})}) is None


def test_a_lm_studio_error_string_is_not_a_model_list() -> None:
    # LM Studio 0.3 answers unknown routes with HTTP 200 and an error string.
    assert DETECTION[0].read(200, LMSTUDIO_UNKNOWN) is None
    assert DETECTION[2].read(200, LMSTUDIO_UNKNOWN) is None


# --- each kind's rows ----------------------------------------------------------------------


def test_ollama_ps_rows_carry_vram_share_context_and_time_left() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    ps = OllamaPs.model_validate(
        {
            "models": [
                {
                    "name": "gemma3",
                    "model": "gemma3",
                    "size": 6591830464,
                    "size_vram": 5333539264,
                    "context_length": 4096,
                    "expires_at": (now + timedelta(minutes=4)).isoformat(),
                    "details": {"format": "gguf", "quantization_level": "Q4_K_M"},
                },
                {
                    "name": "forever",
                    "size": 100,
                    "size_vram": 100,
                    "expires_at": "2318-01-01T00:00:00Z",  # keep_alive -1
                },
            ]
        }
    )
    first, second = ollama_loaded_rows(ps, now=now)
    assert (first.identifier, first.size_bytes, first.vram_bytes) == (
        "gemma3",
        6591830464,
        5333539264,
    )
    assert first.context_length == 4096
    assert first.ttl_remaining_seconds == pytest.approx(240)
    assert second.ttl_remaining_seconds is None  # kept loaded until ejected
    assert row_lines(first)[0].startswith("6.59 GB (81% in VRAM)")
    assert "all in VRAM" in row_lines(second)[0]


def test_ollama_tags_are_downloaded_rows() -> None:
    tags = OllamaTags.model_validate(
        {"models": [{"name": "llama3.2:3b", "size": 2019393189, "details": {"format": "gguf"}}]}
    )
    (row,) = ollama_downloaded_rows(tags)
    assert (row.model_key, row.size_bytes, row.format) == ("llama3.2:3b", 2019393189, "gguf")


def test_v0_rows_are_the_loaded_ones() -> None:
    models = [
        V0Model(id="a", state="loaded", loaded_context_length=8192, max_context_length=32768),
        V0Model(id="b", state="not-loaded", max_context_length=4096),
    ]
    (row,) = v0_loaded_rows(models)
    assert (row.identifier, row.context_length, row.max_context_length) == ("a", 8192, 32768)


def test_llama_cpp_rows_from_props_or_without() -> None:
    props = LlamaCppProps.read({"default_generation_settings": {"n_ctx": 2048}, "total_slots": 2})
    assert props is not None
    (row,) = llamacpp_rows(("tiny",), props)
    assert (row.context_length, row.parallel) == (2048, 2)
    (bare,) = llamacpp_rows(("tiny",), None)
    assert bare.context_length is None
    assert LlamaCppProps.read(["not", "a", "dict"]) is None


# --- errors read leniently -----------------------------------------------------------------


def test_llama_cpp_integer_error_code_keeps_its_message() -> None:
    body = {"error": {"code": 500, "message": "the context is full", "type": "server_error"}}
    error = error_from_response(
        500, body, url="http://h:8080/v1/chat/completions", sent_token=False, lm_studio=False
    )
    assert isinstance(error, ApiError)
    assert "the context is full" in error.message
    assert "no details" not in error.message
    assert error.message.startswith("The server at http://h:8080")  # not "LM Studio at"


@pytest.mark.parametrize(
    "body",
    [LLAMA_404, {"detail": "Not Found"}, None, {"error": "model 'x' not found"}],
)
def test_any_404_naming_no_model_means_not_here(body: Any) -> None:
    error = error_from_response(404, body, url="http://h/api/v1/chat", sent_token=False)
    assert isinstance(error, EndpointNotSupported)


def test_lm_studio_404_for_a_missing_model_stays_that() -> None:
    body = {"error": {"type": "model_not_found", "message": "No model x", "param": "model"}}
    error = error_from_response(404, body, url="http://h/api/v1/chat", sent_token=False)
    assert isinstance(error, ModelNotFound)


def test_fastapi_detail_is_read_as_the_message() -> None:
    error = error_from_response(
        400, {"detail": "bad prompt"}, url="http://h/v1/x", sent_token=False
    )
    assert isinstance(error, ApiError)
    assert "bad prompt" in error.message


# --- kinds and capabilities ----------------------------------------------------------------


def test_kind_choices_parse_as_typed() -> None:
    assert parse_kind_choice("AUTO") == AUTO
    assert parse_kind_choice("llamacpp") is BackendKind.LLAMACPP
    assert parse_kind_choice("ollama") is BackendKind.OLLAMA
    with pytest.raises(ValueError, match="vllm"):
        parse_kind_choice("vllm")


def test_what_each_kind_can_do() -> None:
    ollama = capabilities_for(BackendKind.OLLAMA, lms_available=True)
    assert ollama.load_unload and ollama.lists_loaded
    assert not (ollama.server_control or ollama.lms or ollama.load_profiles)
    llama = capabilities_for(BackendKind.LLAMACPP, lms_available=False)
    assert llama.lists_loaded and not llama.load_unload
    assert "llama.cpp" in llama.why_not("Ejecting models")
    legacy = capabilities_for(BackendKind.LMSTUDIO, lms_available=False, legacy=True)
    assert legacy.lists_loaded and not legacy.load_unload and not legacy.native_chat
    assert "0.4" in legacy.why_not("Loading models")
    assert config_items(ollama, home_found=True)["profiles"] is not None
    v1 = capabilities_for(BackendKind.LMSTUDIO, lms_available=True)
    assert config_items(v1, home_found=True)["profiles"] is None


def test_titles() -> None:
    assert server_title(BackendKind.OLLAMA, "0.12.6") == "Ollama 0.12.6"
    assert server_title(BackendKind.LMSTUDIO, None, legacy=True) == "LM Studio 0.3"
    assert server_title(BackendKind.OPENAI, None) == "OpenAI-compatible"


# --- settings v3 ----------------------------------------------------------------------------


def test_v2_profiles_find_out_their_kind() -> None:
    v2 = {
        "schema_version": 2,
        "profiles": [
            {"id": "this-machine", "name": "This machine", "kind": "lmstudio"},
            {"id": "gpu", "name": "Ollama", "base_url": "http://h:11434", "kind": "openai"},
        ],
        "active_profile": "gpu",
    }
    settings = Settings.model_validate(migrate(v2))
    assert [p.kind for p in settings.profiles] == [AUTO, AUTO]
    assert settings.active_profile == "gpu"
    pinned = Settings.model_validate(
        migrate({"schema_version": 3, "profiles": [{"id": "o", "name": "O", "kind": "ollama"}]})
    )
    assert pinned.profiles[0].kind is BackendKind.OLLAMA
