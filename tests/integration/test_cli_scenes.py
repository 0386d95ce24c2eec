"""Scenes end to end through the real `lmstudio-tray` executable against the simulated
LM Studio and its fake `lms`: save what is loaded, apply from empty, over a different set
and again (no change), a dry run, a model that is answering, Free GPU, and the history."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import Cli  # tests/integration/cli_runner.py

from tray.simulator import Simulator


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", tokens_per_second=2000) as s:
        s.install_fake_lms()
        yield s


def loaded(sim: Simulator) -> dict[str, tuple[str, int]]:
    """identifier → (model key, context length)."""
    with sim.state.locked():
        return {i: (inst.model.key, inst.context_length) for i, inst in sim.state.instances.items()}


def test_save_apply_from_empty_reapply_and_apply_over_another_set(cli: Cli, sim: Simulator) -> None:
    sim.state.load("qwen/qwen3-4b")
    sim.state.load("google/gemma-3-12b", identifier="vision", context_length=8192)
    saved = cli.json("scenes", "save", "Coding")
    assert saved["scene"]["name"] == "Coding"
    want = loaded(sim)

    listed = cli.json("scenes", "list")
    assert [s["name"] for s in listed["scenes"]] == ["Coding"]
    assert "vision (8,192 tokens)" in listed["scenes"][0]["summary"]
    assert "Free GPU" in cli("scenes").stdout

    # from empty: both come back with the scene's identifier and context
    sim.state.unload_all()
    doc = cli.json("scenes", "apply", "Coding")
    assert sorted(doc["loaded"]) == ["qwen/qwen3-4b", "vision"] and doc["failed"] == []
    assert loaded(sim) == want

    # again: nothing changes, nothing is loaded twice
    again = cli.json("scenes", "apply", "Coding")
    assert (again["loaded"], again["unloaded"]) == ([], [])
    assert sorted(again["kept"]) == ["qwen/qwen3-4b", "vision"]
    assert loaded(sim) == want
    assert "already held" in cli("scenes", "apply", "Coding").stdout

    # over another set: what the scene does not want goes, what it wants comes
    sim.state.unload("vision")
    sim.state.load("meta-llama-3.1-8b-instruct")
    plan = cli.json("scenes", "apply", "Coding", "--dry-run")["plan"]
    assert plan == {
        "load": ["vision"],
        "unload": ["meta-llama-3.1-8b-instruct"],
        "keep": ["qwen/qwen3-4b"],
        "changes_nothing": False,
        "message": plan["message"],
    }
    assert "meta-llama-3.1-8b-instruct" in loaded(sim)  # a dry run changes nothing
    doc = cli.json("scenes", "apply", "Coding")
    assert (doc["loaded"], doc["unloaded"], doc["kept"]) == (
        ["vision"],
        ["meta-llama-3.1-8b-instruct"],
        ["qwen/qwen3-4b"],
    )
    assert loaded(sim) == want

    # the scenes file is in the history, under its own name
    files = cli.json("history", "files")
    assert any(f.get("label") == "Scenes" or "scenes.json" in str(f) for f in files["files"])


def test_a_model_that_is_answering_is_not_unloaded_without_yes(cli: Cli, sim: Simulator) -> None:
    (cli.user_home / ".config" / "lmstudio-tray").mkdir(parents=True, exist_ok=True)
    sim.state.load("qwen/qwen3-4b")
    cli.json("scenes", "save", "Small")
    sim.state.load("meta-llama-3.1-8b-instruct")
    release = threading.Event()

    def answering() -> None:
        with sim.state.busy("meta-llama-3.1-8b-instruct") as instance:
            sim.state.set_status(instance, "generating")
            release.wait(30)

    worker = threading.Thread(target=answering)
    worker.start()
    try:
        refused = cli("scenes", "apply", "Small")
        assert refused.returncode == 1
        assert "meta-llama-3.1-8b-instruct is answering a request" in refused.stderr
        assert "--yes" in refused.stderr
        assert "meta-llama-3.1-8b-instruct" in loaded(sim)  # nothing changed
        release.set()
        worker.join()
        doc = cli.json("scenes", "apply", "Small", "--yes")
        assert doc["unloaded"] == ["meta-llama-3.1-8b-instruct"]
    finally:
        release.set()
        worker.join()


def test_free_gpu_unloads_everything_with_a_restore_point_and_scenes_can_be_deleted(
    cli: Cli, sim: Simulator
) -> None:
    sim.state.load("qwen/qwen3-4b", identifier="q", context_length=8192)
    doc = cli.json("scenes", "apply", "free gpu")
    assert doc["unloaded"] == ["q"] and loaded(sim) == {}
    restored = cli.json("models", "restore")
    assert "q" in json.dumps(restored)
    assert loaded(sim) == {"q": ("qwen/qwen3-4b", 8192)}

    cli.json("scenes", "save", "One")
    sim.state.load("meta-llama-3.1-8b-instruct")
    cli.json("scenes", "save", "one")  # the same scene (any case): saved over
    (scene,) = cli.json("scenes", "list")["scenes"]
    assert scene["name"] == "one" and len(scene["models"]) == 2
    assert cli("scenes", "save", "Free GPU").returncode == 2  # built in
    assert cli.json("scenes", "delete", "ONE")["message"] == "Deleted scene ONE."
    missing = cli("scenes", "show", "one")
    assert missing.returncode == 1 and "There is no scene" in missing.stderr
