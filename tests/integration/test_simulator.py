"""The LM Studio simulator itself: wire order and framing of streams, cancellation, TTL,
auth, faults, and the fake `lms` waking (or not waking) the simulated daemon.

Raw sockets and http.client on purpose: these tests must not depend on our own client.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tray.simulator import Fault, Reply, Simulator, install_fake_lms, write_install_location

TOKEN = "sk-lm-Abcdefgh:ABCDEFGHIJklmnopqrst"
SERVE = (sys.executable, "-m", "tray.simulator", "serve")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / "home", load_seconds=0.05, tokens_per_second=500) as simulator:
        yield simulator


def request(
    sim: Simulator,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", sim.api_port, timeout=10)
    conn.request(
        method,
        path,
        body=None if body is None else json.dumps(body),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    response = conn.getresponse()
    return response, response.read()


def sse_events(raw: bytes) -> list[tuple[str | None, Any]]:
    """(event name, parsed data) per SSE frame; `[DONE]` stays a string."""
    events = []
    for frame in raw.decode().split("\n\n"):
        if not frame.strip():
            continue
        name, data = None, None
        for line in frame.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data = value if value == "[DONE]" else json.loads(value)
        events.append((name, data))
    return events


def collapse(names: list[str | None]) -> list[str | None]:
    return [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]


def test_jit_reasoning_stream_has_documented_order_and_framing(sim: Simulator) -> None:
    response, raw = request(
        sim, "POST", "/api/v1/chat", {"model": "qwen/qwen3-4b", "input": "Hi", "stream": True}
    )

    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("X-Powered-By") == "Express"
    events = sse_events(raw)
    assert all(data["type"] == name for name, data in events)
    assert collapse([name for name, _ in events]) == [
        "chat.start",
        "model_load.start",
        "model_load.progress",
        "model_load.end",
        "prompt_processing.start",
        "prompt_processing.progress",
        "prompt_processing.end",
        "reasoning.start",
        "reasoning.delta",
        "reasoning.end",
        "message.start",
        "message.delta",
        "message.end",
        "chat.end",
    ]
    result = events[-1][1]["result"]
    streamed = "".join(d["content"] for n, d in events if n == "message.delta")
    assert result["output"][-1] == {"type": "message", "content": streamed}
    assert result["output"][0]["type"] == "reasoning"
    assert "model_load_time_seconds" in result["stats"]
    assert result["response_id"].startswith("resp_")
    assert sim.state.loaded_identifiers() == ["qwen/qwen3-4b"]


def test_openai_stream_puts_reasoning_where_the_switch_says(sim: Simulator) -> None:
    sim.state.openai_reasoning_field = "reasoning_content"
    body = {
        "model": "openai/gpt-oss-20b",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    _, raw = request(sim, "POST", "/v1/chat/completions", body)

    events = [data for _, data in sse_events(raw)]
    assert events[-1] == "[DONE]"
    usage_chunk, final_chunk = events[-2], events[-3]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["total_tokens"] > 0
    assert final_chunk["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    deltas = [e["choices"][0]["delta"] for e in events[:-3]]
    assert any("reasoning_content" in d for d in deltas)
    assert not any("reasoning" in d for d in deltas)


def test_stop_and_seed_only_on_the_openai_api(sim: Simulator) -> None:
    # /v1/chat/completions takes both and ends the answer before a stop string...
    sim.state.next_reply = Reply(text="Keep this. STOP Not this.")
    body = {
        "model": "qwen/qwen3-4b",
        "messages": [{"role": "user", "content": "Hi"}],
        "stop": ["STOP"],
        "seed": 7,
    }
    response, raw = request(sim, "POST", "/v1/chat/completions", body)
    assert response.status == 200
    assert json.loads(raw)["choices"][0]["message"]["content"] == "Keep this. "
    # ...the native /api/v1/chat refuses them, as LM Studio 0.4 does.
    for key, value in (("stop", ["STOP"]), ("seed", 7)):
        native = {"model": "qwen/qwen3-4b", "input": "Hi", key: value}
        response, raw = request(sim, "POST", "/api/v1/chat", native)
        assert response.status == 400
        assert json.loads(raw)["error"]["message"] == f"Unrecognized key(s) in object: '{key}'"


def test_client_that_leaves_stops_generation(tmp_path: Path) -> None:
    with Simulator(tmp_path / "home", tokens_per_second=50) as sim:
        sim.state.load("meta-llama-3.1-8b-instruct")
        sim.state.next_reply = Reply(text="word " * 500)
        body = json.dumps(
            {"model": "meta-llama-3.1-8b-instruct", "input": "Go", "stream": True}
        ).encode()
        with socket.create_connection(("127.0.0.1", sim.api_port), timeout=10) as sock:
            sock.sendall(
                b"POST /api/v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            received = b""
            while b"message.delta" not in received:
                received += sock.recv(4096)

        assert sim.state.wait_until(lambda s: s.cancelled_streams == 1, timeout=5)
        assert sim.state.wait_until(lambda s: s.ps_json()[0]["queued"] == 0, timeout=5)
        assert sim.state.ps_json()[0]["status"] == "idle"
        assert sim.state.conversations == {}  # the answer never finished


def test_ttl_evicts_idle_instances_only(sim: Simulator) -> None:
    short = sim.state.load("qwen/qwen3-4b", ttl_seconds=0.3)
    kept = sim.state.load("google/gemma-3-12b")

    assert sim.state.wait_until(lambda s: short not in s.loaded_identifiers(), timeout=5)
    assert sim.state.loaded_identifiers() == [kept]


def test_auth_and_error_shapes(sim: Simulator) -> None:
    sim.state.set_auth(TOKEN)

    response, body = request(sim, "GET", "/api/v1/models")
    assert response.status == 401
    assert json.loads(body)["error"]["code"] == "invalid_api_key"
    wrong, _ = request(sim, "GET", "/v1/models", headers={"Authorization": "Bearer sk-lm-x:y"})
    assert wrong.status == 401
    greeting, body = request(sim, "GET", "/lmstudio-greeting")
    assert (greeting.status, json.loads(body)["lmstudio"]) == (200, True)
    sim.state.greeting_requires_auth = True
    assert request(sim, "GET", "/lmstudio-greeting")[0].status == 401

    auth = {"Authorization": f"Bearer {TOKEN}"}
    unknown, body = request(sim, "POST", "/chat/completions", {}, auth)
    assert unknown.status == 200
    assert json.loads(body) == {"error": "Unexpected endpoint or method. (POST /chat/completions)"}
    missing, body = request(sim, "POST", "/api/v1/chat", {"input": "x"}, auth)
    assert missing.status == 400
    assert json.loads(body)["error"]["param"] == "model"
    assert ("GET", "/api/v1/models", False) in sim.state.requests
    assert ("POST", "/api/v1/chat", True) in sim.state.requests


def test_keep_alive_reuses_the_connection(sim: Simulator) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", sim.api_port, timeout=10)
    conn.request("GET", "/api/v1/models")
    conn.getresponse().read()
    first_socket = conn.sock
    conn.request("GET", "/api/v0/models")
    response = conn.getresponse()

    assert json.loads(response.read())["object"] == "list"
    assert conn.sock is first_socket
    conn.close()


def test_stream_faults_cut_or_poison_the_stream(sim: Simulator) -> None:
    chat = {"model": "meta-llama-3.1-8b-instruct", "input": "Hi", "stream": True}
    sim.faults.add(Fault(kind="truncate", after_events=4, times=1))
    _, raw = request(sim, "POST", "/api/v1/chat", chat)
    assert [n for n, _ in sse_events(raw)][-1] != "chat.end"
    assert len(sse_events(raw)) == 4

    sim.faults.add(Fault(kind="error_event", after_events=2, times=1))
    _, raw = request(sim, "POST", "/api/v1/chat", chat)
    names = [n for n, _ in sse_events(raw)]
    assert names[2] == "error"
    assert names[-1] == "chat.end"


def test_reset_fault_applies_once(sim: Simulator) -> None:
    sim.faults.add(Fault(kind="reset", path="/api/v1/models", times=1))

    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        request(sim, "GET", "/api/v1/models")
    assert request(sim, "GET", "/api/v1/models")[0].status == 200


def run_lms(lms: Path, user_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(user_home), "USERPROFILE": str(user_home)}
    return subprocess.run(
        [str(lms), *args], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_fake_lms_wakes_the_daemon_but_status_commands_never_do(tmp_path: Path) -> None:
    user_home, home = tmp_path / "user", tmp_path / "lmstudio"
    user_home.mkdir()
    (user_home / ".lmstudio-home-pointer").write_text(str(home))
    lms = install_fake_lms(home)
    write_install_location(home)
    info = home / ".internal" / "http-server.json"

    status = run_lms(lms, user_home, "server", "status", "--json")
    daemon = run_lms(lms, user_home, "daemon", "status", "--json")
    assert (status.returncode, json.loads(status.stdout)) == (0, {"running": False})
    assert json.loads(daemon.stdout) == {"status": "not-running"}
    assert not info.exists()

    ps = run_lms(lms, user_home, "ps", "--json")
    try:
        assert ps.returncode == 0
        assert "Waking up LM Studio service..." in ps.stderr
        assert json.loads(ps.stdout) == []
        running = json.loads(run_lms(lms, user_home, "daemon", "status", "--json").stdout)
        assert running["status"] == "running"
        assert running["pid"] == json.loads(info.read_text())["pid"]
    finally:
        if info.exists():
            os.kill(json.loads(info.read_text())["pid"], signal.SIGTERM)


def test_serve_announces_itself_and_cleans_up_on_sigterm(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "SIM_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [*SERVE, "--home", str(home), "--auth-token-env", "SIM_TOKEN"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        conn = http.client.HTTPConnection("127.0.0.1", ready["api_port"], timeout=10)
        conn.request("GET", "/api/v1/models")
        assert conn.getresponse().status == 401
        info = json.loads((home / ".internal" / "http-server.json").read_text())
        assert info == {"host": "127.0.0.1", "pid": proc.pid, "port": ready["control_port"]}
        location = json.loads((home / ".internal" / "llmster-install-location.json").read_text())
        assert location["argv"][-1] == "--no-server"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not (home / ".internal" / "http-server.json").exists()


def test_the_showroom_answers_like_a_model_at_a_believable_pace(tmp_path: Path) -> None:
    """The demo's simulator: an answer chosen by the question (a code block for a code
    question), reasoning first for a reasoning model, a first token after a moment, then
    tens of tokens per second — and stats that match what was streamed."""
    with Simulator(tmp_path / "home", load_seconds=0.05, showroom=True) as sim:
        sim.state.load("qwen/qwen3-4b")
        ask = "Write a Python function that reverses a string"
        response, raw = request(
            sim, "POST", "/api/v1/chat", {"model": "qwen/qwen3-4b", "input": ask, "stream": True}
        )
        assert response.status == 200
        events = sse_events(raw)
        names = collapse([name for name, _ in events])
        assert names.index("reasoning.start") < names.index("message.start")
        streamed = "".join(d["content"] for n, d in events if n == "message.delta")
        assert "```python\ndef reverse_string(s: str) -> str:" in streamed
        assert ask not in streamed
        stats = events[-1][1]["result"]["stats"]
        deltas = sum(1 for n, _ in events if n in ("message.delta", "reasoning.delta"))
        assert stats["total_output_tokens"] == deltas
        assert 15 <= stats["tokens_per_second"] <= 90  # not the tests' 200+
        assert stats["time_to_first_token_seconds"] >= 0.3  # the prompt takes a moment

        # the OpenAI-compatible route answers the same way
        response, body = request(
            sim,
            "POST",
            "/v1/chat/completions",
            {"model": "qwen/qwen3-4b", "messages": [{"role": "user", "content": ask}]},
        )
        assert response.status == 200
        message = json.loads(body)["choices"][0]["message"]
        assert "```python" in message["content"]
