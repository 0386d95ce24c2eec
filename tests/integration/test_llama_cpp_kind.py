"""The tray against a real llama.cpp server (llama-cpp-python's, on the suite's tiny model):
found by itself, its model shown as loaded, what it cannot do said, and a question answered
through its OpenAI-compatible chat — by the real `lmstudio-tray` executable."""

from __future__ import annotations

import json

import httpx

from tests.integration.cli_runner import Cli
from tray.core.backends import BackendKind
from tray.core.status import ServerState
from tray.services.backends import LlamaCppBackend, identify
from tray.services.lmstudio_client import LmStudioClient
from tray.services.status_monitor import StatusMonitor


async def test_found_and_watched(http: httpx.AsyncClient, llama_cpp_url: str) -> None:
    client = LmStudioClient(http, llama_cpp_url)
    assert (await identify(client)).kind is BackendKind.LLAMACPP
    monitor = StatusMonitor(LmStudioClient(http, llama_cpp_url), url=llama_cpp_url)
    status = await monitor.probe()
    assert (status.state, status.kind, status.kind_known) == (
        ServerState.RUNNING,
        BackendKind.LLAMACPP,
        True,
    )
    assert [row.identifier for row in status.loaded] == ["tiny"]
    assert status.where == f"llama.cpp server at {llama_cpp_url}"
    assert isinstance(monitor._backend, LlamaCppBackend)
    assert monitor._backend.props is None  # llama-cpp-python has no /props


def test_status_models_and_chat_from_the_command_line(cli: Cli, llama_cpp_url: str) -> None:
    doc = cli.json("status", "--server", llama_cpp_url)["server"]
    assert (doc["kind"], doc["state"], doc["loaded_models"]) == ("llama.cpp", "running", 1)
    assert f"llama.cpp server at {llama_cpp_url}" in cli("status", "--server", llama_cpp_url).stdout

    models = cli.json("models", "--server", llama_cpp_url)
    assert [m["identifier"] for m in models["loaded"]] == ["tiny"]
    refused = cli("models", "unload", "tiny", "--server", llama_cpp_url)
    assert refused.returncode == 1
    assert "serves the model it was started with" in refused.stderr

    # Before, `chat` worked but the error of its native-route probe was dropped; now the
    # OpenAI-compatible route is chosen from the start and the answer streams.
    r = cli("chat", "Say something", "--server", llama_cpp_url, "--json")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["model"] == "tiny"
    assert len(answer["answer"]) > 0
