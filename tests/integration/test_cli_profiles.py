"""`lmstudio-tray profiles …` and `models load` with load profiles, through the real
executable against the simulator and its fake `lms`: profiles are saved (with history),
a load uses the model's effective profile, explicit flags win, and what a path cannot carry
is named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli_runner import Cli
from tray.simulator import Simulator

SMALL = "qwen/qwen3-4b"


@pytest.fixture
def sim(tmp_path: Path, cli: Cli) -> Iterator[Simulator]:
    home = cli.user_home / ".lmstudio"
    with Simulator(home, load_seconds=0.05) as s:
        s.install_fake_lms()
        yield s


def _instance(sim: Simulator, identifier: str) -> tuple[int, int | None, float | None, float]:
    with sim.state.locked():
        i = sim.state.instances[identifier]
        return i.context_length, i.parallel, i.ttl_seconds, i.gpu_ratio


def test_set_show_list_delete(cli: Cli, sim: Simulator) -> None:
    doc = cli.json("profiles", "set", "context=4096", "flash=on")
    assert doc["profile"] == {
        "context_length": 4096,
        "flash_attention": True,
        "write_lmstudio_defaults": False,
    }
    doc = cli.json("profiles", "set", SMALL, "parallel=2", "ttl=600")
    assert doc["effective"]["context_length"] == 4096
    assert doc["effective"]["parallel"] == 2
    r = cli("profiles", "show", SMALL)
    assert r.returncode == 0, r.stderr
    assert "Parallel slots:" in r.stdout and "600" in r.stdout
    doc = cli.json("profiles", "list")
    assert [p["model"] for p in doc["profiles"]] == [None, SMALL]
    assert cli.json("profiles", "delete", SMALL)["deleted"] == SMALL
    assert [p["model"] for p in cli.json("profiles")["profiles"]] == [None]
    cli.json("profiles", "delete", SMALL, code=1)


@pytest.mark.parametrize(
    "bad", [["gpu=2"], ["colour=red"], ["identifier=shared"], [SMALL]], ids=str
)
def test_bad_settings_are_usage_errors(cli: Cli, sim: Simulator, bad: list[str]) -> None:
    r = cli("profiles", "set", *bad)
    assert r.returncode == 2, r.stdout + r.stderr


def test_a_context_past_the_models_longest_is_refused_when_the_server_says(
    cli: Cli, sim: Simulator, tmp_path: Path
) -> None:
    r = cli("profiles", "set", SMALL, "context=40000")  # qwen3-4b takes 32,768 at most
    assert r.returncode == 2, r.stdout + r.stderr
    assert "this model takes at most 32,768 tokens" in r.stderr
    assert [p["model"] for p in cli.json("profiles")["profiles"]] == [None]  # nothing saved
    assert cli.json("profiles", "set", SMALL, "context=32768")["profile"]["context_length"] == 32768
    # No server to ask: the limit is unknown, so nothing is refused.
    stopped = "http://127.0.0.1:9"
    doc = cli.json("profiles", "set", SMALL, "context=40000", "--server", stopped)
    assert doc["profile"]["context_length"] == 40000


def test_models_load_uses_the_models_profile_and_flags_win(cli: Cli, sim: Simulator) -> None:
    cli.json("profiles", "set", SMALL, "context=8192", "parallel=2", "ttl=900", "gpu=0.5")
    doc = cli.json("models", "load", SMALL, "--parallel", "3", "--identifier", "a")
    assert doc["path"] == "lms"
    assert doc["profile"]["parallel"] == 3
    assert doc["unapplied"] == [] and doc["mismatches"] == []
    assert doc["preflight"] is not None  # lms estimated it (no GPU here: fits unknown)
    assert _instance(sim, "a") == (8192, 3, 900, 0.5)
    # --load-profile none: LM Studio decides
    doc = cli.json("models", "load", SMALL, "--load-profile", "none", "--identifier", "b")
    assert doc["profile"] == {"identifier": "b", "write_lmstudio_defaults": False}
    assert _instance(sim, "b")[2] is None


def test_models_load_takes_rest_for_rest_fields_and_warns_of_less_context(
    cli: Cli, sim: Simulator
) -> None:
    sim.state.context_cap = 4096
    cli.json("profiles", "set", SMALL, "context=16384", "flash=off", "batch=256")
    doc = cli.json("models", "load", SMALL, "--no-check")
    assert doc["path"] == "rest"
    assert doc["preflight"] is None
    assert [m["field"] for m in doc["mismatches"]] == ["context_length"]
    assert cli("models", "unload", SMALL).returncode == 0  # else it is used, not loaded
    r = cli("models", "load", SMALL, "--no-check")
    assert r.returncode == 0
    assert "not the 16,384 asked for" in r.stdout


def test_writing_lm_studios_default_from_the_cli(cli: Cli, sim: Simulator) -> None:
    cli.json("profiles", "set", SMALL, "gpu=max", "flash=on", "write_defaults=yes")
    doc = cli.json("models", "load", SMALL, "--no-check")
    assert doc["path"] == "lms"
    assert doc["unapplied"] == []
    assert doc["via_lmstudio_defaults"] == ["flash_attention"]
    written = [Path(p) for p in doc["lmstudio_defaults_written"]]
    assert written and all(p.is_relative_to(sim.home) for p in written)
    fields = json.loads(written[0].read_text("utf-8-sig"))["load"]["fields"]
    assert {"key": "llm.load.llama.flashAttention", "value": True} in fields
    shown = cli.json("profiles", "show", SMALL)
    assert shown["lmstudio_default"] == {
        "gpu_offload": "max",
        "flash_attention": True,
        "write_lmstudio_defaults": False,
    }
