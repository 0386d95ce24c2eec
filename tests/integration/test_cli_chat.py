"""`lmstudio-tray chat`: the real executable against the simulator — the answer streams to
stdout, reasoning only on request (stderr), the fallback for older LM Studio, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cli_runner import Cli, free_port  # tests/integration/cli_runner.py

from tray.simulator import Fault, Simulator
from tray.simulator.state import Reply

QWEN = "qwen/qwen3-4b"


def test_the_answer_streams_to_stdout_and_the_stats_to_stderr(cli: Cli, sim: Simulator) -> None:
    sim.state.load(QWEN)
    sim.state.next_reply = Reply(text="Four, of course.", reasoning="Two plus two is four.")
    r = cli("chat", "What is 2+2?", "--server", sim.base_url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Four, of course.\n"
    assert "tok/s" in r.stderr and "Two plus two" not in r.stderr


def test_reasoning_goes_to_stderr_when_asked(cli: Cli, sim: Simulator) -> None:
    sim.state.load(QWEN)
    sim.state.next_reply = Reply(text="Four.", reasoning="Two plus two is four.")
    r = cli("chat", "2+2?", "--reasoning", "--server", sim.base_url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Four.\n"
    assert "Two plus two is four." in r.stderr


def test_json_names_the_model_api_and_stats(cli: Cli, sim: Simulator) -> None:
    sim.state.load(QWEN)
    sim.state.next_reply = Reply(text="Hi there.")
    doc = cli.json("chat", "Hello", "--server", sim.base_url)
    assert doc["answer"] == "Hi there." and doc["model"] == QWEN and doc["api"] == "native"
    assert doc["stats"]["tokens"] == 2 and doc["response_id"].startswith("resp_")


def test_an_older_lm_studio_is_asked_through_chat_completions(cli: Cli, sim: Simulator) -> None:
    sim.faults.add(
        Fault(
            kind="status",
            path="/api/v1/chat",
            status=404,
            body=b'{"error":"Unexpected endpoint or method. (POST /api/v1/chat)"}',
        )
    )
    sim.state.next_reply = Reply(text="Via OpenAI.")
    doc = cli.json("chat", "Hello", "--model", QWEN, "--server", sim.base_url)
    assert doc["answer"] == "Via OpenAI." and doc["api"] == "openai"


def test_no_loaded_model_fails_with_the_sentence(cli: Cli, sim: Simulator) -> None:
    r = cli("chat", "Hello", "--server", sim.base_url)
    assert r.returncode == 1
    assert "No model is loaded" in r.stderr and r.stdout == ""


def test_a_cut_off_answer_keeps_what_arrived_and_exits_1(cli: Cli, sim: Simulator) -> None:
    sim.state.load(QWEN)
    sim.state.next_reply = Reply(text="one two three four five six seven eight")
    sim.faults.add(Fault(kind="truncate", path="/api/v1/chat", after_events=10))
    r = cli("chat", "Count", "--server", sim.base_url)
    assert r.returncode == 1
    assert r.stdout.startswith("one")
    assert "cut off" in r.stderr


def test_server_down_exits_1_with_the_fix(cli: Cli) -> None:
    r = cli("chat", "Hello", "--model", QWEN, "--server", f"http://127.0.0.1:{free_port()}")
    assert r.returncode == 1
    assert "Start the LM Studio server" in r.stderr


def test_a_401_says_to_enter_the_token(cli: Cli, sim: Simulator) -> None:
    sim.state.set_auth("sk-lm-Abcdefgh:Ijklmnopqrstuvwxyz12")
    r = cli("chat", "Hello", "--model", QWEN, "--server", sim.base_url, "--json")
    assert r.returncode == 1
    assert json.loads(r.stdout)["error"]["kind"] == "auth"


def test_an_empty_question_is_a_usage_error(cli: Cli, sim: Simulator) -> None:
    assert cli("chat", "  ", "--server", sim.base_url).returncode == 2


def test_a_preset_is_read_from_lm_studios_presets(cli: Cli, sim: Simulator) -> None:
    presets = sim.home / "config-presets"
    presets.mkdir(exist_ok=True)
    fixture = Path(__file__).parents[1] / "fixtures" / "presets" / "coding-assistant.preset.json"
    shutil.copyfile(fixture, presets / fixture.name)
    sim.state.load(QWEN)
    args = ("--server", sim.base_url, "--home", str(sim.home))
    r = cli("chat", "Hi", "--preset", "coding-assistant", *args)
    assert r.returncode == 0, r.stderr
    # Its stop strings need the OpenAI-compatible API, which has no min-p or thinking:
    # that is said on stderr, never dropped silently.
    [(path, body)] = sim.state.chat_bodies
    assert path == "/v1/chat/completions"
    assert body["stop"] == ["<|im_end|>", "\n\nUser:"]
    assert "min-p and thinking of preset Coding assistant are not applied" in r.stderr
    doc = cli.json("chat", "Hi", "--preset", "coding-assistant", *args)
    assert doc["api"] == "openai" and "min-p" in doc["notices"][0]
    missing = cli("chat", "Hi", "--preset", "no-such-preset", *args)
    assert missing.returncode == 1, missing.stderr  # not found


def test_asking_a_model_loaded_under_another_identifier_does_not_load_it_again(
    cli: Cli, sim: Simulator
) -> None:
    sim.install_fake_lms()
    sim.state.load(QWEN, identifier="fast")
    sim.state.next_reply = Reply(text="From the loaded instance.")
    doc = cli.json("chat", "Hi", "--model", QWEN, "--server", sim.base_url, "--home", str(sim.home))
    assert doc["answer"] == "From the loaded instance." and doc["model"] == "fast"
    with sim.state.locked():
        assert [i.identifier for i in sim.state.instances.values()] == ["fast"]


def test_asking_a_model_that_is_not_loaded_loads_it_once_with_its_profile(
    cli: Cli, sim: Simulator
) -> None:
    sim.install_fake_lms()
    args = ("--server", sim.base_url, "--home", str(sim.home))
    assert cli("profiles", "set", QWEN, "context_length=8192").returncode == 0
    for _ in range(2):
        r = cli("chat", "Hi", "--model", QWEN, *args)
        assert r.returncode == 0, r.stderr
    with sim.state.locked():
        loaded = [(i.identifier, i.context_length) for i in sim.state.instances.values()]
    assert loaded == [(QWEN, 8192)]
