"""`servers add|list|remove|use` and `status --all` through the real executable, against
the LM Studio simulator, the Ollama simulator and a server that answers slowly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.cli_runner import Cli
from tray.simulator.daemon import Simulator
from tray.simulator.ollama import OLLAMA_VERSION, OllamaSimulator


class _Slow:
    """An OpenAI-compatible server that takes `delay` seconds per answer and counts how
    many requests it holds at once (across every instance sharing `gauge`)."""

    def __init__(self, gauge: dict[str, int], lock: threading.Lock, delay: float) -> None:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with lock:
                    gauge["now"] += 1
                    gauge["most"] = max(gauge["most"], gauge["now"])
                time.sleep(sim.delay)
                with lock:
                    gauge["now"] -= 1
                body = b'{"object":"list","data":[{"id":"slow-model","owned_by":"x"}]}'
                if self.path != "/v1/models":
                    body = b'{"detail":"Not Found"}'
                self.send_response(200 if self.path == "/v1/models" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.delay = delay
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ollama() -> Iterator[OllamaSimulator]:
    with OllamaSimulator() as sim:
        yield sim


def test_add_list_use_remove(cli: Cli, sim: Simulator, ollama: OllamaSimulator) -> None:
    r = cli("servers", "add", "Ollama box", ollama.base_url + "/v1")
    assert r.returncode == 0, r.stderr
    assert "Saved “Ollama box”" in r.stdout
    cli.json("servers", "add", "LAN", sim.base_url, "--kind", "lmstudio")
    listed = cli.json("servers", "list")["servers"]
    assert [(s["name"], s["url"], s["kind"], s["active"]) for s in listed] == [
        ("This machine", None, "auto", True),
        ("Ollama box", ollama.base_url, "auto", False),  # the pasted /v1 is dropped
        ("LAN", sim.base_url, "lmstudio", False),
    ]
    # A second server of the same name, a typo in the address, a kind nobody knows.
    assert cli("servers", "add", "ollama BOX", ollama.base_url).returncode == 2
    bad = cli("servers", "add", "Typo", "htp//127.0.0.1:11434 x")
    assert bad.returncode == 2 and "address" in bad.stderr
    assert cli("servers", "add", "V", "http://h", "--kind", "vllm").returncode == 2
    assert cli("servers", "use", "nobody").returncode != 0

    assert cli.json("servers", "use", "ollama box")["active"] == "Ollama box"
    status = cli.json("status")["server"]
    assert (status["kind"], status["version"], status["url"]) == (
        "ollama",
        OLLAMA_VERSION,
        ollama.base_url,
    )
    text = cli("status").stdout
    assert f"Ollama {OLLAMA_VERSION} at {ollama.base_url}" in text

    removed = cli.json("servers", "remove", "Ollama box")
    assert removed["active"] == "This machine"
    names = [s["name"] for s in cli.json("servers", "list")["servers"]]
    assert names == ["This machine", "LAN"]
    cli.json("servers", "remove", "LAN")
    last = cli("servers", "remove", "This machine")
    assert last.returncode != 0 and "at least one server" in last.stderr


def test_status_all_probes_every_server_at_once(
    cli: Cli, sim: Simulator, ollama: OllamaSimulator, tmp_path: Path
) -> None:
    gauge, lock = {"now": 0, "most": 0}, threading.Lock()
    slow = [_Slow(gauge, lock, delay=0.4) for _ in range(3)]
    try:
        cli.json("servers", "add", "Ollama", ollama.base_url)
        cli.json("servers", "add", "Sim", sim.base_url)
        for i, s in enumerate(slow):
            cli.json("servers", "add", f"Slow {i}", s.url)
        cli.json("servers", "add", "Gone", "http://127.0.0.1:9")
        doc = cli.json("status", "--all", code=1)  # "This machine" and "Gone" are down
    finally:
        for s in slow:
            s.close()
    by_name = {e["name"]: e["server"] for e in doc["servers"]}
    assert list(by_name) == ["This machine", "Ollama", "Sim", "Slow 0", "Slow 1", "Slow 2", "Gone"]
    assert by_name["Ollama"]["kind"] == "ollama"
    assert by_name["Sim"]["kind"] == "lmstudio"
    assert by_name["Slow 1"]["kind"] == "openai"
    assert by_name["Slow 1"]["served_models"] == ["slow-model"]
    assert by_name["Gone"]["state"] == "stopped" and by_name["Gone"]["kind"] is None
    assert [e["active"] for e in doc["servers"]].count(True) == 1
    # Concurrent: the slow servers were asked at the same time, not one after another.
    assert gauge["most"] >= 2, gauge
