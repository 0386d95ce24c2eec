"""`lmstudio-tray models [load|unload|restore]`: the real executable against a simulated
LM Studio (HTTP + fake `lms`), in text and --json, with its exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import Cli  # tests/integration/cli_runner.py

from tray.simulator import Simulator

SMALL = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-12b"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", load_seconds=0.05) as s:
        s.install_fake_lms()
        yield s


def instances(sim: Simulator) -> dict[str, tuple[str, int, int | None, float | None]]:
    with sim.state.locked():
        return {
            i.identifier: (i.model.key, i.context_length, i.parallel, i.ttl_seconds)
            for i in sim.state.instances.values()
        }


def test_models_with_nothing_loaded_says_so(cli: Cli, sim: Simulator) -> None:
    r = cli("models")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("No models loaded.\nDownloaded (7):\n")


def test_models_without_an_action_still_lists(cli: Cli, sim: Simulator) -> None:
    sim.state.load(SMALL)
    doc = cli.json("models")
    assert set(doc) == {"loaded", "downloaded"}
    assert [m["identifier"] for m in doc["loaded"]] == [SMALL]


def test_load_with_every_flag_through_lms(cli: Cli, sim: Simulator) -> None:
    doc = cli.json(
        "models", "load", SMALL, "-c", "8192", "--gpu", "0.5", "--ttl", "300",
        "--parallel", "2", "--identifier", "mine",
    )  # fmt: skip
    loaded = doc["loaded"]
    assert (loaded["identifier"], loaded["via"], loaded["context_length"]) == ("mine", "lms", 8192)
    assert loaded["context_short"] is False
    assert "Loaded qwen/qwen3-4b as “mine” with 8,192 tokens" in doc["message"]
    assert instances(sim) == {"mine": (SMALL, 8192, 2, 300)}
    with sim.state.locked():
        assert sim.state.instances["mine"].gpu_ratio == 0.5


def test_load_text_says_when_lm_studio_gave_less_context(cli: Cli, sim: Simulator) -> None:
    sim.state.context_cap = 4096
    r = cli("models", "load", SMALL, "--context-length", "16384")
    assert r.returncode == 0, r.stderr
    assert "with 4,096 tokens of context" in r.stdout
    assert "LM Studio gave 4,096 tokens of context, not the 16,384 asked for" in r.stdout


def test_loading_a_loaded_model_again_uses_it_and_says_so(cli: Cli, sim: Simulator) -> None:
    first = cli.json("models", "load", SMALL)
    assert first["loaded"]["already_loaded"] is False
    again = cli("models", "load", SMALL, "-c", "8192")
    assert again.returncode == 0, again.stderr
    assert "already loaded as “qwen/qwen3-4b”" in again.stdout
    assert "not loaded again" in again.stdout
    # a second copy takes an identifier of its own
    assert cli.json("models", "load", SMALL, "--identifier", "second")["loaded"]["identifier"] == (
        "second"
    )
    assert sorted(instances(sim)) == sorted([SMALL, "second"])


def test_loading_as_an_identifier_another_model_holds_is_refused(cli: Cli, sim: Simulator) -> None:
    sim.state.load(GEMMA, identifier="mine")
    r = cli("models", "load", SMALL, "--identifier", "mine")
    assert r.returncode == 1
    assert "already used by a loaded instance of google/gemma-3-12b" in r.stderr
    assert list(instances(sim)) == ["mine"]


def test_load_of_an_unknown_model_fails_with_exit_1(cli: Cli, sim: Simulator) -> None:
    doc = cli.json("models", "load", "nope/nothing", code=1)
    assert doc["error"]["kind"] == "LmsModelNotFound"
    r = cli("models", "load", "nope/nothing")
    assert r.returncode == 1 and r.stdout == ""
    assert "Model not found" in r.stderr


@pytest.mark.parametrize(
    "bad",
    [["--gpu", "1.5"], ["--gpu", "lots"], ["--ttl", "0"], ["-c", "many"], ["--parallel", "-1"]],
)
def test_bad_load_options_are_usage_errors(cli: Cli, sim: Simulator, bad: list[str]) -> None:
    r = cli("models", "load", SMALL, *bad)
    assert r.returncode == 2
    assert "error:" in r.stderr
    assert instances(sim) == {}


def test_load_without_lms_goes_through_rest_and_says_what_it_could_not_set(
    cli: Cli, sim: Simulator, tmp_path: Path
) -> None:
    missing = tmp_path / "no-lms"
    doc = cli.json(
        "models", "load", SMALL, "--ttl", "60", "--server", sim.base_url, "--lms", str(missing)
    )
    assert doc["loaded"]["via"] == "rest"
    assert doc["loaded"]["not_applied"] == ["TTL"]
    assert "TTL was not applied: the REST API cannot set it" in doc["message"]
    assert instances(sim) == {SMALL: (SMALL, 4096, 4, None)}


def test_unload_one(cli: Cli, sim: Simulator) -> None:
    sim.state.load(SMALL)
    sim.state.load(GEMMA)
    r = cli("models", "unload", SMALL)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"Ejected {SMALL}."
    assert list(instances(sim)) == [GEMMA]


def test_unload_of_an_unknown_identifier_fails(cli: Cli, sim: Simulator) -> None:
    doc = cli.json("models", "unload", "ghost", code=1)
    assert doc["error"]["kind"] == "ModelNotFound"


def test_unload_of_an_unknown_identifier_says_so_in_a_sentence(cli: Cli, sim: Simulator) -> None:
    """The server by its address, LM Studio's own words, and what to check — no endpoint
    path, no "(…).);" pile-up."""
    sim.state.load(SMALL)
    r = cli("models", "unload", "nope")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == (
        f"Model not found: LM Studio at {sim.base_url} does not know that model. It said: "
        'No loaded model instance with the id "nope". Check the name against the loaded and '
        "downloaded models.\n"
    )


def test_unload_needs_an_identifier_or_all(cli: Cli, sim: Simulator) -> None:
    assert cli("models", "unload").returncode == 2
    assert cli("models", "unload", SMALL, "--all").returncode == 2


def test_unload_all_then_restore_brings_back_the_same_set(cli: Cli, sim: Simulator) -> None:
    sim.state.load(SMALL, identifier="fast", context_length=8192, parallel=2, ttl_seconds=600)
    sim.state.load(GEMMA, context_length=16384, parallel=1)
    before = instances(sim)

    doc = cli.json("models", "unload", "--all")
    assert doc["unloaded"] == ["fast", GEMMA]
    assert [m["ttl_seconds"] for m in doc["restore_point"]["models"]] == [600, None]
    assert instances(sim) == {}

    r = cli("models", "restore")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Restored 2 of 2 models.")
    assert instances(sim) == before

    # Done once: a second restore has nothing to do.
    again = cli.json("models", "restore", code=1)
    assert again["restored"] == []
    assert "nothing to restore" in again["message"]


def test_restore_is_per_server_profile(cli: Cli, sim: Simulator, tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(
        json.dumps(
            {
                "schema_version": 2,
                "profiles": [
                    {"id": "this-machine", "name": "This machine"},
                    {"id": "other", "name": "Other", "base_url": sim.base_url},
                ],
            }
        ),
        encoding="utf-8",
    )
    sim.state.load(SMALL)
    cli.json("models", "unload", "--all", "--settings", str(settings))
    other = cli.json("models", "restore", "--settings", str(settings), "--profile", "other", code=1)
    assert other["restored"] == []
    doc = cli.json("models", "restore", "--settings", str(settings))
    assert [o["loaded_as"] for o in doc["restored"]] == [SMALL]


def test_unload_all_with_nothing_loaded(cli: Cli, sim: Simulator) -> None:
    r = cli("models", "unload", "--all")
    assert (r.returncode, r.stdout.strip()) == (0, "No models were loaded.")
    assert cli.json("models", "restore", code=1)["restored"] == []


def test_a_server_that_is_down_is_exit_1(cli: Cli, sim: Simulator) -> None:
    sim.stop_api_server()
    doc = cli.json("models", "unload", "--all", code=1)
    assert doc["error"]["kind"] == "ServerUnreachable"
