"""`ActivityStream` and `lmstudio-tray activity` against the simulated LM Studio and its
fake `lms log stream`: chat traffic becomes records with the right numbers, the child
stops as a group (no `lms` left in /proc), a child that dies is started again, and no
child is started while the server is down (it would wake LM Studio)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_runner import Cli  # tests/integration/cli_runner.py

from tray.core.activity import ActivityEvent, ActivityLog, ActivitySource, LogLine
from tray.services.activity_stream import ActivityStream, log_stream_argv
from tray.services.lms_runner import LmsRunner
from tray.simulator import Simulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from process_facts import lms_log_streams  # tests/process_facts.py

MODEL = "qwen/qwen3-4b"
PLAIN = "meta-llama-3.1-8b-instruct"  # answers without reasoning first


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=1000, load_seconds=0.0) as s:
        s.install_fake_lms()
        yield s


@pytest.fixture
def runner(sim: Simulator, tmp_path: Path) -> LmsRunner:
    return LmsRunner(sim.home / "bin" / "lms", env={**os.environ, "HOME": str(tmp_path)})


def chat(sim: Simulator, text: str = "hello there", model: str = MODEL) -> dict[str, Any]:
    body = json.dumps({"model": model, "input": text, "stream": False}).encode()
    request = urllib.request.Request(
        sim.base_url + "/api/v1/chat", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


async def until(predicate: Any, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


class Collector:
    def __init__(self) -> None:
        self.log = ActivityLog()

    def __call__(self, events: list[ActivityEvent]) -> None:
        self.log.extend(events)


async def yes() -> bool:
    return True


async def test_chat_traffic_becomes_records_and_the_group_stops(
    sim: Simulator, runner: LmsRunner, tmp_path: Path
) -> None:
    got = Collector()
    stream = ActivityStream(runner, on_events=got, may_start=yes)
    server = Collector()
    lines = ActivityStream(runner, source=ActivitySource.SERVER, on_events=server, may_start=yes)
    stream.start()
    lines.start()
    await until(lambda: stream.pid is not None and lines.pid is not None)
    assert len(lms_log_streams(str(tmp_path))) == 2
    await asyncio.sleep(1.0)  # the fake lms has asked where the log ends
    answer = await asyncio.to_thread(chat, sim)
    await until(lambda: len(got.log.predictions) == 1)
    p = got.log.predictions[0]
    stats = answer["stats"]
    assert p.model == MODEL
    assert p.prompt_tokens == stats["input_tokens"]
    assert p.output_tokens == stats["total_output_tokens"]
    assert p.tokens_per_second == stats["tokens_per_second"]
    assert p.stop_reason == "eosFound" and p.input is None and p.output is None
    assert p.input_chars and p.output_chars == len(answer["output"][-1]["content"])
    await until(lambda: any("Running chat completion" in x.message for x in server.log.lines))
    assert all(isinstance(x, LogLine) for x in server.log.lines)
    assert stream.skipped == 0
    await stream.stop()
    await lines.stop()
    assert lms_log_streams(str(tmp_path)) == []
    assert not stream.running


async def test_show_text_and_context_full(sim: Simulator, runner: LmsRunner) -> None:
    sim.state.unload_all()
    sim.state.load(PLAIN, context_length=12)
    got = Collector()
    stream = ActivityStream(runner, on_events=got, may_start=yes, keep_text=True)
    stream.start()
    try:
        await until(lambda: stream.pid is not None)
        await asyncio.sleep(1.0)
        answer = await asyncio.to_thread(chat, sim, "one two three", PLAIN)
        await until(lambda: len(got.log.predictions) == 1)
    finally:
        await stream.stop()
    p = got.log.predictions[0]
    assert p.stop_reason == "contextLengthReached"
    assert (p.prompt_tokens or 0) + (p.output_tokens or 0) == 12
    assert p.input is not None and "one two three" in p.input
    assert p.output == answer["output"][-1]["content"]


async def test_a_child_that_dies_is_started_again(runner: LmsRunner, tmp_path: Path) -> None:
    stream = ActivityStream(runner, on_events=Collector(), may_start=yes)
    stream.start()
    try:
        await until(lambda: stream.pid is not None)
        first = stream.pid
        assert first is not None
        os.killpg(first, signal.SIGKILL)
        await until(lambda: stream.starts == 2 and stream.pid not in (None, first))
        assert len(lms_log_streams(str(tmp_path))) == 1
    finally:
        await stream.stop()
    assert lms_log_streams(str(tmp_path)) == []


async def test_nothing_is_started_while_the_server_is_down(runner: LmsRunner) -> None:
    asked = []

    async def server_up() -> bool:
        asked.append(True)
        return False

    ended = asyncio.Event()
    stream = ActivityStream(runner, on_events=Collector(), may_start=server_up, on_ended=ended.set)
    stream.start()
    await asyncio.wait_for(ended.wait(), 5)
    assert asked == [True] and stream.starts == 0 and not stream.running


def test_cli_activity_json_lines(sim: Simulator, cli: Cli, tmp_path: Path) -> None:
    def traffic() -> None:
        time.sleep(3.0)  # the command has started its lms child
        chat(sim, "first")
        chat(sim, "second")

    thread = threading.Thread(target=traffic)
    thread.start()
    run = cli("activity", "--json", "--duration", "6")
    thread.join()
    assert run.returncode == 0, run.stderr
    docs = [json.loads(x) for x in run.stdout.splitlines()]
    assert len(docs) == 2, run.stdout
    assert set(docs[0]) == {
        "time",
        "model",
        "prompt_tokens",
        "output_tokens",
        "tokens_per_second",
        "time_to_first_token_s",
        "total_time_s",
        "stop_reason",
    }
    assert docs[0]["model"] == MODEL and docs[0]["tokens_per_second"] == 1000.0
    assert lms_log_streams(str(tmp_path)) == []


def test_cli_activity_refuses_when_the_server_is_down(sim: Simulator, cli: Cli) -> None:
    sim.stop_api_server()
    run = cli("activity", "--duration", "1")
    assert run.returncode == 1
    assert "would start LM Studio" in run.stderr


def test_fake_lms_log_stream_flags_and_sigterm(sim: Simulator, tmp_path: Path) -> None:
    lms = str(sim.home / "bin" / "lms")
    env = {**os.environ, "HOME": str(tmp_path)}
    bad = subprocess.run(
        [lms, "log", "stream", "-s", "server", "--stats"], capture_output=True, text=True, env=env
    )
    assert bad.returncode == 1 and "--stats can only be used with --source model" in bad.stderr
    # As lms (src/subcommands/log.ts): without --filter the model source shows prompts
    # only, with a warning; the tray asks for both (services/activity_stream.py).
    children = [
        subprocess.Popen(
            [lms, "log", "stream", "--json", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for extra in ([], ["--filter", "input,output"])
    ]
    time.sleep(1.5)
    chat(sim)
    time.sleep(1.0)
    seen = []
    for child in children:
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=10)
        assert child.returncode == 0
        assert err.endswith(b"Streaming logs from LM Studio\n\n")
        seen.append(([json.loads(x)["data"]["type"] for x in out.splitlines()], err))
    (plain, plain_err), (both, both_err) = seen
    assert plain == ["llm.prediction.input"] and b"WARNING" in plain_err
    assert both == ["llm.prediction.input", "llm.prediction.output"] and b"WARNING" not in both_err
    assert log_stream_argv(ActivitySource.MODEL)[-2:] == ("--filter", "input,output")
    assert "--filter" not in log_stream_argv(ActivitySource.SERVER)


async def test_an_lms_without_filter_is_streamed_without_it(tmp_path: Path) -> None:
    """An lms from before --filter (LM Studio < 0.3.26) refuses the option, as commander
    does; the stream is started again without it and its events arrive."""
    old = tmp_path / "old-lms"
    event = json.dumps(
        {
            "timestamp": 1764806400000,
            "data": {
                "type": "llm.prediction.output",
                "modelIdentifier": "old-model",
                "output": "hi",
                "stats": {"stopReason": "eosFound", "predictedTokensCount": 1},
            },
        }
    )
    old.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do [ "$a" = "--filter" ] && '
        "{ echo \"error: unknown option '--filter'\" >&2; exit 1; }; done\n"
        f"echo '{event}'\nexec sleep 30\n"
    )
    old.chmod(0o755)
    got = Collector()
    stream = ActivityStream(LmsRunner(old, env=dict(os.environ)), on_events=got, may_start=yes)
    stream.start()
    try:
        await until(lambda: len(got.log.predictions) == 1, within=20)
    finally:
        await stream.stop()
    assert stream.with_filter is False and stream.starts == 2
    assert next(iter(got.log.predictions)).model == "old-model"
