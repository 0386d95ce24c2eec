"""Property-based fuzzing of every parser of outside data: only typed errors escape.

Outside data is whatever another program controls: the LM Studio server's SSE streams and
error bodies, the `lms` CLI's output, LM Studio's preset and per-model default files, any
`mcp.json` dialect, our own settings and load-profile files (a user or a sync tool may
edit them), and two versions of a file compared in the history window. For each parser
the property is the same: on any input it returns, or raises a `TrayError` subclass (a
sentence the UI can show) — never another exception, never a stall (per-example deadline,
see `reliability_budget`).

Inputs come three ways: arbitrary bytes/text, arbitrary JSON with the keys the parser
looks for, and mutations of the real recorded files in `tests/fixtures/` (the nearest
misses are the ones that find bugs). Examples that broke a parser are pinned with
`@example` next to the property that found them.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from httpx_sse import EventSource
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError
from reliability_budget import FUZZ

from tray.core.api_errors import error_from_response
from tray.core.chat_events import UnknownChatEvent, parse_chat_event
from tray.core.errors import InvalidServerUrl, TrayError
from tray.core.history_diff import diff_contents
from tray.core.jsonc import JsoncError, parse_jsonc_positions
from tray.core.lms_output import (
    LmsResult,
    LoadProgressReader,
    clean_output,
    read_daemon_status,
    read_estimate,
    read_load,
    read_ls,
    read_ls_variants,
    read_ps,
    read_server_start,
    read_server_status,
    read_server_stop,
    read_unload,
    read_version,
)
from tray.core.load_profiles import LoadProfile, merge_default_config, profile_from_fields
from tray.core.mcp_audit import ExposureFacts, FileFacts, audit, render_text
from tray.core.mcp_config import McpParseError, parse_mcp
from tray.core.mcp_lockdown import locked_bytes
from tray.core.openai_stream import ChatCompletionChunk, CompletionStream, ThinkSplitter
from tray.core.presets import Preset
from tray.services.load_profile_store import LoadProfileStore
from tray.services.model_defaults import LmStudioDefaults
from tray.services.settings_store import SettingsStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
T = TypeVar("T")


def typed_only(call: Callable[[], T]) -> T | TrayError:
    """Run `call`; a TrayError is a fine answer, anything else fails the example."""
    try:
        return call()
    except TrayError as exc:
        caught = exc
    assert caught.message.strip(), f"{type(caught).__name__} without a message"
    return caught


# --- strategies --------------------------------------------------------------------------

_KEYS = [
    # mcp.json dialects
    "mcpServers",
    "servers",
    "mcp",
    "inputs",
    "command",
    "args",
    "env",
    "envFile",
    "url",
    "headers",
    "type",
    "cwd",
    "disabled",
    "transport",
    "serverUrl",
    "httpUrl",
    "name",
    # presets and per-model defaults
    "identifier",
    "operation",
    "load",
    "fields",
    "key",
    "value",
    "preset",
    "checked",
    "llm.prediction.temperature",
    "llm.prediction.systemPrompt",
    "llm.load.contextLength",
    "llm.load.llama.acceleration.offloadRatio",
    "llm.prediction.stopStrings",
    # settings
    "schema_version",
    "profiles",
    "quick_chat",
    "hotkey",
    "history",
    "remote_url",
    "notifications",
    "polling",
    "active_profile",
    "base_url",
    # load profiles
    "version",
    "model_key",
    "profile",
    "context_length",
    "gpu",
    "parallel",
    "ttl_seconds",
]
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["", "-1", "max", "off", "${input:x}", "sk-lm-abcdefgh:" + "a" * 20])
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=30,
)
JSON_OBJECTS = st.dictionaries(
    st.sampled_from(_KEYS) | st.text(max_size=12), JSON_VALUES, max_size=8
)


def _fixture_bytes(folder: str, pattern: str = "*.json") -> list[bytes]:
    return [p.read_bytes() for p in sorted((FIXTURES / folder).glob(pattern)) if p.is_file()]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A real file with a few bytes flipped, cut, duplicated or inserted."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert", "truncate", "dup"]))
        if op == "flip":
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "insert":
            data[at:at] = draw(
                st.sampled_from(
                    [
                        b",",
                        b"}",
                        b"]",
                        b"{",
                        b"[",
                        b'"',
                        b"/*",
                        b"//",
                        b"\\",
                        b"\xff",
                        b"null",
                        b"1e999",
                    ]
                )
            )
        elif op == "truncate":
            del data[at:]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 32))]
    return bytes(data)


@st.composite
def json_with_swapped_values(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A real file parsed, with some values replaced by arbitrary JSON (right keys, wrong
    shapes: what a newer or older LM Studio might write)."""
    doc = json.loads(draw(st.sampled_from([s for s in seeds if _parses(s)])).decode("utf-8-sig"))

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (draw(JSON_VALUES) if draw(st.integers(0, 5)) == 0 else walk(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [draw(JSON_VALUES) if draw(st.integers(0, 5)) == 0 else walk(v) for v in node]
        return node

    return json.dumps(walk(doc)).encode()


def _parses(data: bytes) -> bool:
    try:
        json.loads(data.decode("utf-8-sig"))
    except ValueError:
        return False
    return True


def file_inputs(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    return (
        st.binary(max_size=300)
        | st.text(max_size=300).map(str.encode)
        | JSON_VALUES.map(lambda v: json.dumps(v).encode())
        | mutated(seeds)
        | json_with_swapped_values(seeds)
    )


_MCP_SEEDS = _fixture_bytes("mcp")
_PRESET_SEEDS = _fixture_bytes("presets")


# --- native chat events and SSE framing -----------------------------------------------------

_EVENT_NAMES = st.sampled_from(
    [
        "chat.start",
        "message.delta",
        "reasoning.delta",
        "error",
        "chat.end",
        "tool_call.start",
        "model_load.progress",
        "prompt_processing.progress",
        "message.end",
        "x.unknown",
        "",
    ]
)


@FUZZ
@given(
    event=_EVENT_NAMES | st.text(max_size=20),
    data=st.text(max_size=200) | JSON_OBJECTS.map(json.dumps),
)
@example(event="chat.end", data='{"type": "chat.end", "result": null}')
@example(event="message.delta", data='{"type": 5}')
@example(event="error", data="NaN")
@example(event="chat.start", data='{"type":[]}')  # was a TypeError (unhashable list)
@example(event="chat.start", data='{"type":{"a":1}}')
def test_native_event_payloads(event: str, data: str) -> None:
    typed_only(lambda: parse_chat_event(event, data))


_STREAM = (FIXTURES / "lmstudio" / "rest-v1-chat-stream-event-examples.sse").read_bytes()


async def _sse_events(chunks: list[bytes]) -> list[tuple[str, str]]:
    """The (event, data) pairs the client's SSE framing (httpx-sse over httpx) reads from a
    body that arrives in these pieces."""
    response = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, stream=httpx.ByteStream(b"")
    )
    response.stream = _Chunks(chunks)
    return [(sse.event, sse.data) async for sse in EventSource(response).aiter_sse()]


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for chunk in self._chunks:
            yield chunk


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@FUZZ
@given(cuts=st.lists(st.integers(0, len(_STREAM)), max_size=40), crlf=st.booleans())
async def test_sse_framing_does_not_depend_on_chunking(cuts: list[int], crlf: bool) -> None:
    body = _STREAM.replace(b"\n", b"\r\n") if crlf else _STREAM
    whole = await _sse_events([body])
    pieces = await _sse_events(_split(body, cuts))
    assert pieces == whole
    assert len(whole) >= 18  # the recorded stream: every documented event
    for event, data in whole:
        typed_only(lambda e=event, d=data: parse_chat_event(e, d))


@FUZZ
@given(body=st.binary(max_size=400) | mutated([_STREAM]), cuts=st.lists(st.integers(0, 400)))
async def test_sse_framing_of_garbage(body: bytes, cuts: list[int]) -> None:
    for event, data in await _sse_events(_split(body, cuts)):
        parsed = typed_only(lambda e=event, d=data: parse_chat_event(e, d))
        if not isinstance(parsed, TrayError) and not isinstance(parsed, UnknownChatEvent):
            assert parsed.type  # a known event always says which


@FUZZ
@given(
    status=st.sampled_from([200, 400, 401, 403, 404, 500, 503]) | st.integers(100, 599),
    body=JSON_VALUES,
    sent_token=st.booleans(),
)
@example(status=200, body={"error": None}, sent_token=False)
@example(status=401, body={"error": {"message": 5}}, sent_token=True)
def test_error_bodies(status: int, body: Any, sent_token: bool) -> None:
    found = typed_only(
        lambda: error_from_response(status, body, url="http://127.0.0.1:1/x", sent_token=sent_token)
    )
    if status >= 400:
        assert found is not None, "an HTTP error status is always an error"


# --- OpenAI-compatible streams ----------------------------------------------------------


@FUZZ
@given(
    payload=JSON_OBJECTS
    | st.fixed_dictionaries(
        {
            "choices": st.lists(
                st.fixed_dictionaries(
                    {
                        "delta": st.fixed_dictionaries(
                            {},
                            optional=dict.fromkeys(
                                ["content", "reasoning", "reasoning_content", "role"],
                                JSON_VALUES,
                            ),
                        ),
                        "finish_reason": JSON_VALUES,
                    }
                ),
                max_size=2,
            )
        }
    )
)
def test_openai_chunks(payload: dict[str, Any]) -> None:
    """What the client does with a chunk: validate (a ValidationError becomes BadResponse
    in the client) and feed the stream."""
    try:
        chunk = ChatCompletionChunk.model_validate(payload)
    except ValidationError:
        return
    stream = CompletionStream()
    stream.feed(chunk)
    stream.finish()


_THINK_TEXT = st.lists(
    st.sampled_from(["<think>", "</think>", "<", ">", "<thi", "nk>", "/", "a", "é", " ", "\n"])
    | st.text(max_size=5),
    max_size=30,
).map("".join)


@FUZZ
@given(text=_THINK_TEXT, cuts=st.lists(st.integers(0, 200), max_size=20))
def test_think_tags_split_anywhere(text: str, cuts: list[int]) -> None:
    """However a `<think>` text is cut into chunks, reasoning and answer come out the same,
    and no character is invented."""

    def run(pieces: list[str]) -> tuple[str, str]:
        splitter = ThinkSplitter()
        reasoning = content = ""
        for piece in pieces:
            r, c = splitter.feed(piece)
            reasoning, content = reasoning + r, content + c
        r, c = splitter.flush()
        return reasoning + r, content + c

    points = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert run(pieces) == run([text])
    reasoning, content = run([text])
    assert len(reasoning) + len(content) <= len(text)
    if "<" not in text:
        assert (reasoning, content) == ("", text)


# --- lms output -------------------------------------------------------------------------

_LMS_SEEDS = [
    p.read_text() for p in sorted((FIXTURES / "lms").iterdir()) if p.suffix in (".json", ".txt")
]
_LMS_TEXT = (
    st.text(max_size=300)
    | st.sampled_from(_LMS_SEEDS)
    | mutated([s.encode() for s in _LMS_SEEDS]).map(lambda b: b.decode("utf-8", "replace"))
    | JSON_VALUES.map(json.dumps)
)
_READERS = [
    read_ps,
    read_ls,
    read_ls_variants,
    read_server_status,
    read_daemon_status,
    read_version,
    read_estimate,
    read_load,
    read_unload,
    read_server_start,
    read_server_stop,
]


@FUZZ
@given(
    reader=st.sampled_from(_READERS),
    stdout=_LMS_TEXT,
    stderr=_LMS_TEXT,
    exit_code=st.sampled_from([0, 1, 2, -9, 127]),
)
def test_lms_outputs(
    reader: Callable[[LmsResult], Any], stdout: str, stderr: str, exit_code: int
) -> None:
    result = LmsResult(command=("x",), exit_code=exit_code, stdout=stdout, stderr=stderr)
    typed_only(lambda: reader(result))
    clean_output(stdout)


@FUZZ
@given(
    pieces=st.lists(
        _LMS_TEXT | st.sampled_from(["\r", "⠋ Loading q 57%", "100%", "\x1b[2K"]), max_size=20
    )
)
def test_lms_load_progress(pieces: list[str]) -> None:
    reader = LoadProgressReader()
    seen: list[float] = []
    for piece in pieces:
        seen += reader.feed(piece)
    assert seen == sorted(seen) and all(0 <= v <= 1 for v in seen)


# --- presets and per-model configs ------------------------------------------------------


@FUZZ
@given(data=file_inputs(_PRESET_SEEDS))
def test_presets(data: bytes) -> None:
    preset = typed_only(lambda: Preset.parse(data, origin="x.preset.json"))
    if isinstance(preset, TrayError):
        return
    # What the editor does with a parsed preset: list its fields, write it back unchanged.
    for key, _name, _value in preset.fields():
        preset.get_key(key)
    again = Preset.parse(preset.to_bytes())
    assert list(again.fields()) == list(preset.fields())


@FUZZ
@given(fields=JSON_VALUES, document=JSON_OBJECTS)
@example(fields={"key": []}, document={"load": {"fields": [{"key": {}}]}})  # were TypeErrors
def test_per_model_default_fields(fields: Any, document: dict[str, Any]) -> None:
    typed_only(lambda: profile_from_fields(fields if isinstance(fields, list) else [fields]))
    typed_only(lambda: merge_default_config(document, LoadProfile(context_length=4096)))


_TMP = Path(tempfile.mkdtemp(prefix="lmstray-fuzz-"))


@FUZZ
@given(data=file_inputs(_PRESET_SEEDS))
def test_per_model_default_files(data: bytes) -> None:
    """`LmStudioDefaults.read` on whatever LM Studio (or anyone) left in the file."""
    home = _TMP / "home"
    target = home / ".internal" / "user-concrete-model-default-config" / "pub" / "model.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    typed_only(lambda: LmStudioDefaults(home, None).read("pub/model"))


@FUZZ
@given(
    data=st.binary(max_size=200)
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | st.fixed_dictionaries(
        {"version": JSON_VALUES, "model_key": JSON_VALUES, "profile": JSON_VALUES}
    ).map(lambda v: json.dumps(v).encode())
)
def test_load_profile_files(data: bytes) -> None:
    store = LoadProfileStore(_TMP / "profiles", None)
    store.folder.mkdir(exist_ok=True)
    store.path_for(None).write_bytes(data)
    (store.folder / "model-x.json").write_bytes(data)
    typed_only(store.default)
    typed_only(store.list)
    typed_only(lambda: store.effective("x"))


# --- mcp.json ---------------------------------------------------------------------------


@FUZZ
@given(text=st.text(max_size=300) | mutated(_MCP_SEEDS).map(lambda b: b.decode("utf-8", "replace")))
def test_jsonc(text: str) -> None:
    """The low-level JSONC parser's own typed error is `JsoncError` (`parse_mcp` turns it
    into McpParseError with line and column)."""
    with contextlib.suppress(JsoncError):
        parse_jsonc_positions(text)


def _facts(data: bytes) -> FileFacts:
    return FileFacts(
        path="/home/u/.lmstudio/mcp.json",
        mode=0o644,
        owner_is_user=True,
        dir_mode=0o755,
        size=len(data),
    )


@FUZZ
@given(data=file_inputs(_MCP_SEEDS))
@example(data=b'{"mcpServers": {"a": {"command": "npx", "args": [{"x": 1}]}}}')
@example(data=b'[null,{"name":null}]')  # the locked file renamed "server 2" to "server 1"
def test_mcp_json(data: bytes) -> None:
    doc = typed_only(lambda: parse_mcp(data))
    exposure = ExposureFacts(network_interface="0.0.0.0", auth_required=False)
    if isinstance(doc, TrayError):
        assert isinstance(doc, McpParseError)
        report = audit(
            None, _facts(data), exposure, lmstudio_home="/home/u/.lmstudio", parse_error=doc
        )
        render_text(report)
        return
    report = typed_only(
        lambda: audit(doc, _facts(data), exposure, lmstudio_home="/home/u/.lmstudio")
    )
    if not isinstance(report, TrayError):
        render_text(report)
    # Lockdown writes what it computed from the document: it must parse again.
    names = [s.name for s in doc.servers]
    for allowed in ([], names[:1], names):
        locked = typed_only(lambda a=allowed: locked_bytes(doc, a))
        if isinstance(locked, bytes):
            again = parse_mcp(locked)
            assert sorted(s.name for s in again.servers) == sorted(set(allowed))


# --- settings ---------------------------------------------------------------------------


@FUZZ
@given(
    data=st.binary(max_size=200)
    | JSON_OBJECTS.map(lambda v: json.dumps(v).encode())
    | st.fixed_dictionaries(
        {"schema_version": JSON_VALUES},
        optional={
            "profiles": JSON_VALUES,
            "quick_chat": JSON_VALUES,
            "history": JSON_VALUES,
            "mcp": JSON_VALUES,
            "notifications": JSON_VALUES,
            "polling": JSON_VALUES,
            "active_profile": JSON_VALUES,
            "base_url": JSON_VALUES,
            "lms_path": JSON_VALUES,
        },
    ).map(lambda v: json.dumps(v).encode())
)
@example(data=b'{"schema_version": "two"}')  # was a ValueError out of migrate()
@example(data=b'{"schema_version": 1e400}')  # was an OverflowError
@example(data=b'{"schema_version": -1}')  # was a KeyError (no migration from -1)
@example(data=b'{"schema_version": 99}')
def test_settings_file(data: bytes) -> None:
    """A settings file the app cannot use starts it on defaults with the problem said —
    it never stops the app from starting."""
    path = _TMP / "settings.json"
    path.write_bytes(data)
    store = SettingsStore(path)
    store.load()  # never raises: a problem is kept in store.problem
    if store.problem is not None:
        assert isinstance(store.problem, TrayError) and store.problem.message


# --- server addresses ---------------------------------------------------------------------

_URL_PIECES = st.tuples(
    st.sampled_from(["", "http://", "https://", "HTTP://", "ws://", "htp:/", "http:/", "//"]),
    st.sampled_from(["", "me:pw@", "@"]),
    st.sampled_from(
        ["localhost", "127.0.0.1", "[::1]", "[::1", "::1", "gpu-box", "1.2.3.999", "ünï", ""]
    )
    | st.text(max_size=12),
    st.sampled_from(["", ":", ":1234", ":0", ":65535", ":65536", ":99999", ":abc", ":+1"])
    | st.text(max_size=6).map(lambda t: ":" + t),
    st.sampled_from(["", "/", "/v1", "/api/v1/", "//x", "/a b", "?q=1", "#f"])
    | st.text(max_size=8),
).map("".join)


@FUZZ
@given(text=_URL_PIECES | st.text(max_size=40))
@example(text="http://127.0.0.1:99999")  # was an OverflowError deep in the socket layer
@example(text="http://[::1")  # was a ValueError out of urlsplit
@example(text="htp:/192.168.1.20:99999")  # was saved as http://htp/192.168.1.20:99999
@example(text="http://1.2.3.999")  # httpx refuses it as an IPv4 address
def test_server_addresses(text: str) -> None:
    """Whatever is typed is either an address the HTTP client takes as it is (port in
    range; normalising it again changes nothing) or an `InvalidServerUrl` with a sentence."""
    from tray.core.server_url import parse_server_url, server_host

    url = typed_only(lambda: parse_server_url(text, source="given with --server"))
    server_host(text)  # never raises
    if isinstance(url, TrayError):
        assert isinstance(url, InvalidServerUrl) and url.problem.endswith(".")
        return
    parsed = httpx.URL(url + "/v1/models")
    assert parsed.scheme in ("http", "https") and parsed.host
    assert parsed.port is None or 1 <= parsed.port <= 65535
    assert parse_server_url(url) == url


# --- history diffs ----------------------------------------------------------------------

_DIFF_SIDES = st.none() | file_inputs(_MCP_SEEDS + _PRESET_SEEDS)


@FUZZ
@given(
    name=st.sampled_from(["mcp.json", "x.preset.json", "settings.json", "notes.txt"]),
    old=_DIFF_SIDES,
    new=_DIFF_SIDES,
)
def test_history_diff(name: str, old: bytes | None, new: bytes | None) -> None:
    diff = typed_only(lambda: diff_contents(name, old, new))
    if not isinstance(diff, TrayError) and old == new:
        assert not diff.changes


@pytest.fixture(scope="module", autouse=True)
def _cleanup_tmp() -> Any:
    yield
    import shutil

    shutil.rmtree(_TMP, ignore_errors=True)
