"""`ModelManager` against the simulator's HTTP API and the fake `lms` on the same state:
eject, eject all and restore (identifiers and load settings), load with progress, load
through REST without lms, and LM Studio allocating less context than asked."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tray.core.errors import (
    IdentifierInUse,
    LmsLoadedAnotherModel,
    LmsModelNotFound,
    LmStudioError,
)
from tray.core.inventory import LoadedModelRow, build_inventory
from tray.core.load_profiles import LmsLoadArgs, LoadProfile
from tray.core.restore import RestorePoint
from tray.services.lms_runner import LmsRunner
from tray.services.lmstudio_client import LmStudioClient
from tray.services.model_manager import ModelManager
from tray.simulator import Simulator

SMALL = "qwen/qwen3-4b"
GEMMA = "google/gemma-3-12b"
EMBEDDING = "text-embedding-nomic-embed-text-v1.5"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", load_seconds=0.3) as simulator:
        yield simulator


@pytest.fixture
def runner(sim: Simulator, tmp_path: Path) -> LmsRunner:
    return LmsRunner(sim.install_fake_lms(), env={**os.environ, "HOME": str(tmp_path)})


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def unloads() -> list[str]:
    return []


@pytest.fixture
def manager(
    client: LmStudioClient, runner: LmsRunner, state_dir: Path, unloads: list[str]
) -> ModelManager:
    return ModelManager(
        client,
        runner,
        state_dir=state_dir,
        profile_id="this-machine",
        on_user_unload=unloads.append,
    )


async def loaded_rows(
    client: LmStudioClient, runner: LmsRunner | None = None
) -> list[LoadedModelRow]:
    ps = await runner.ps() if runner is not None else None
    return list(build_inventory(await client.list_models(), ps).loaded)


def settings_of(sim: Simulator) -> dict[str, tuple[str, int, int | None, float | None, float]]:
    with sim.state.locked():
        return {
            i.identifier: (i.model.key, i.context_length, i.parallel, i.ttl_seconds, i.gpu_ratio)
            for i in sim.state.instances.values()
        }


# --- eject -----------------------------------------------------------------------------


async def test_eject_unloads_through_the_api_and_says_the_user_did_it(
    manager: ModelManager, sim: Simulator, unloads: list[str]
) -> None:
    sim.state.load(SMALL)
    sim.state.load(EMBEDDING)
    await manager.eject(SMALL)
    assert sim.state.loaded_identifiers() == [EMBEDDING]
    assert unloads == [SMALL]
    assert ("POST", "/api/v1/models/unload", False) in sim.state.requests


async def test_eject_of_an_unknown_identifier_is_an_error(manager: ModelManager) -> None:
    with pytest.raises(LmStudioError):
        await manager.eject("nothing-here")


# --- eject all and restore -------------------------------------------------------------


async def test_eject_all_then_restore_brings_back_the_same_set(
    manager: ModelManager,
    client: LmStudioClient,
    runner: LmsRunner,
    sim: Simulator,
    unloads: list[str],
) -> None:
    sim.state.load(SMALL, identifier="fast", context_length=8192, parallel=2, ttl_seconds=600)
    sim.state.load(GEMMA, context_length=16384, parallel=1)
    sim.state.load(EMBEDDING)
    before = settings_of(sim)

    # Rows as the tray has them while the menu is closed: no `lms ps` facts (TTL) in them.
    point = await manager.eject_all(await loaded_rows(client))

    assert sim.state.loaded_identifiers() == []
    assert sorted(unloads) == sorted(before)
    assert [m.identifier for m in point.models] == ["fast", GEMMA, EMBEDDING]
    assert manager.restore_point() == point

    outcomes = await manager.restore()
    assert [(o.identifier, o.loaded_as, o.ok) for o in outcomes] == [
        ("fast", "fast", True),
        (GEMMA, GEMMA, True),
        (EMBEDDING, EMBEDDING, True),
    ]
    assert settings_of(sim) == before  # identifiers, context, parallel, TTL
    assert manager.restore_point() is None  # done: the menu stops offering it


async def test_restore_keeps_the_gpu_ratio_the_tray_loaded_with(
    manager: ModelManager, client: LmStudioClient, sim: Simulator
) -> None:
    await manager.load(SMALL, LmsLoadArgs(gpu=0.5, identifier="half"))
    await manager.eject_all(await loaded_rows(client))
    assert manager.restore_point().models[0].gpu_ratio == 0.5  # type: ignore[union-attr]
    await manager.restore()
    assert settings_of(sim)["half"][4] == 0.5


async def test_the_restore_point_survives_a_new_manager(
    manager: ModelManager,
    client: LmStudioClient,
    runner: LmsRunner,
    sim: Simulator,
    state_dir: Path,
) -> None:
    sim.state.load(SMALL, identifier="a", context_length=8192, ttl_seconds=300)
    point = await manager.eject_all(await loaded_rows(client, runner))

    again = ModelManager(client, runner, state_dir=state_dir, profile_id="this-machine")
    assert again.restore_point() == point
    other = ModelManager(client, runner, state_dir=state_dir, profile_id="lan-box")
    assert other.restore_point() is None  # per profile

    saved = json.loads(manager.restore_point_path.read_text(encoding="utf-8"))
    assert saved["models"][0]["ttl_seconds"] == 300
    assert manager.restore_point_path.stat().st_mode & 0o777 == 0o600

    await again.restore()
    assert settings_of(sim)["a"][:4] == (SMALL, 8192, 4, 300)


async def test_restore_skips_what_is_loaded_and_keeps_the_point_when_a_model_fails(
    manager: ModelManager, client: LmStudioClient, sim: Simulator
) -> None:
    sim.state.load(SMALL)
    sim.state.load(GEMMA)
    await manager.eject_all(await loaded_rows(client))
    sim.state.load(SMALL)  # someone loaded it meanwhile
    with sim.state.locked():
        del sim.state.catalog[GEMMA]  # and deleted the other one

    outcomes = await manager.restore()
    assert outcomes[0].already_loaded and outcomes[0].ok
    assert not outcomes[1].ok and outcomes[1].error
    assert manager.restore_point() is not None  # another try stays possible


async def test_a_broken_restore_point_file_counts_as_none(manager: ModelManager) -> None:
    manager.restore_point_path.parent.mkdir(parents=True)
    manager.restore_point_path.write_text("{not json", encoding="utf-8")
    assert manager.restore_point() is None
    assert await manager.restore() == []


async def test_eject_all_with_nothing_loaded_saves_nothing(manager: ModelManager) -> None:
    point = await manager.eject_all([])
    assert point.models == ()
    assert not manager.restore_point_path.exists()


# --- load --------------------------------------------------------------------------------


async def test_load_with_lms_reports_increasing_progress(
    manager: ModelManager, sim: Simulator
) -> None:
    seen: list[float] = []
    result = await manager.load(
        SMALL,
        LmsLoadArgs(context_length=8192, parallel=2, ttl_seconds=120, identifier="x"),
        progress=seen.append,
    )
    assert seen[-1] == 1.0
    assert len(seen) >= 2
    assert seen == sorted(set(seen))  # strictly increasing
    assert (result.identifier, result.via, result.context_length) == ("x", "lms", 8192)
    assert result.size_bytes and result.load_seconds is not None
    assert not result.context_short
    assert settings_of(sim)["x"] == (SMALL, 8192, 2, 120, 1.0)
    assert manager.requested_context("x") == 8192


async def test_load_of_an_unknown_model_with_lms(manager: ModelManager) -> None:
    with pytest.raises(LmsModelNotFound):
        await manager.load("nope/nothing")


async def test_load_without_lms_goes_through_rest_and_says_what_it_could_not_set(
    client: LmStudioClient, sim: Simulator, state_dir: Path
) -> None:
    manager = ModelManager(client, None, state_dir=state_dir, profile_id="p")
    seen: list[float] = []
    result = await manager.load(
        SMALL,
        LmsLoadArgs(context_length=8192, ttl_seconds=60, identifier="mine"),
        progress=seen.append,
    )
    assert (result.via, result.identifier, result.context_length) == ("rest", SMALL, 8192)
    assert result.not_applied == ("TTL", "identifier")
    assert seen == []  # REST has no progress
    assert ("POST", "/api/v1/models/load", False) in sim.state.requests


async def test_restore_without_lms_says_what_was_not_restored(
    client: LmStudioClient, runner: LmsRunner, sim: Simulator, state_dir: Path
) -> None:
    sim.state.load(SMALL, identifier="named", context_length=8192, parallel=2, ttl_seconds=60)
    with_lms = ModelManager(client, runner, state_dir=state_dir, profile_id="p")
    await with_lms.eject_all(await loaded_rows(client, runner))

    without = ModelManager(client, None, state_dir=state_dir, profile_id="p")
    (outcome,) = await without.restore()
    assert outcome.ok and outcome.loaded_as == SMALL
    assert outcome.not_restored == ("TTL", "parallel", "identifier")
    assert settings_of(sim)[SMALL][1] == 8192  # the context length did come back


@pytest.mark.parametrize("with_lms", [True, False])
async def test_less_context_than_asked_is_detected(
    client: LmStudioClient, runner: LmsRunner, sim: Simulator, state_dir: Path, with_lms: bool
) -> None:
    sim.state.context_cap = 4096
    manager = ModelManager(
        client, runner if with_lms else None, state_dir=state_dir, profile_id="p"
    )
    result = await manager.load(SMALL, LmsLoadArgs(context_length=16384))
    assert (result.context_length, result.requested_context_length) == (4096, 16384)
    assert result.context_short

    # The status monitor fills rows' requested context from the manager.
    (row,) = await loaded_rows(client)
    row = row.model_copy(
        update={"requested_context_length": manager.requested_context(row.identifier)}
    )
    assert row.context_short


async def test_eject_all_reports_what_it_could_not_eject_and_ejects_the_rest(
    manager: ModelManager, client: LmStudioClient, sim: Simulator
) -> None:
    sim.state.load(SMALL)
    rows = [*await loaded_rows(client), LoadedModelRow(identifier="ghost", model_key="g/g")]
    with pytest.raises(LmStudioError, match="1 of 2"):
        await manager.eject_all(rows)
    assert sim.state.loaded_identifiers() == []
    point = RestorePoint.model_validate_json(manager.restore_point_path.read_text("utf-8"))
    assert [m.identifier for m in point.models] == [SMALL, "ghost"]


async def test_eject_all_saves_nothing_and_ejects_nothing_when_the_file_cannot_be_written(
    client: LmStudioClient, runner: LmsRunner, sim: Simulator, tmp_path: Path
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be", encoding="utf-8")
    manager = ModelManager(client, runner, state_dir=blocked / "state", profile_id="p")
    sim.state.load(SMALL)
    with pytest.raises(Exception, match="Could not save"):
        await manager.eject_all(await loaded_rows(client))
    assert sim.state.loaded_identifiers() == [SMALL]


# --- never load twice ----------------------------------------------------------------------


def instances_of(sim: Simulator, key: str) -> list[str]:
    with sim.state.locked():
        return sorted(i.identifier for i in sim.state.instances.values() if i.model.key == key)


@pytest.mark.parametrize("with_lms", [True, False])
async def test_loading_a_loaded_model_uses_it_instead_of_a_second_copy(
    client: LmStudioClient, runner: LmsRunner, sim: Simulator, state_dir: Path, with_lms: bool
) -> None:
    sim.state.load(SMALL, context_length=4096)
    manager = ModelManager(
        client, runner if with_lms else None, state_dir=state_dir, profile_id="p"
    )
    result = await manager.load(SMALL, LmsLoadArgs(context_length=8192))
    assert result.already_loaded and result.identifier == SMALL
    assert result.context_length == 4096  # what is loaded, not what was asked
    profiled = await manager.load_with_profile(SMALL, LoadProfile(context_length=8192))
    assert profiled.loaded.already_loaded and profiled.path is None
    assert "not loaded again" in profiled.text()
    assert instances_of(sim, SMALL) == [SMALL]


async def test_with_the_http_server_off_lms_ps_tells_what_is_loaded(
    manager: ModelManager, sim: Simulator
) -> None:
    # LM Studio keeps its models loaded when its server stops, and `lms load` works
    # without the server: the guard must not take "no HTTP answer" for "nothing loaded".
    sim.state.load(GEMMA)
    sim.stop_api_server()
    result = await manager.load(GEMMA)
    assert result.already_loaded
    assert instances_of(sim, GEMMA) == [GEMMA]


async def test_a_second_copy_needs_its_own_identifier(
    manager: ModelManager, sim: Simulator
) -> None:
    sim.state.load(SMALL)
    same = await manager.load(SMALL, LmsLoadArgs(identifier=SMALL))
    assert same.already_loaded
    second = await manager.load(SMALL, LmsLoadArgs(identifier="small-2"))
    assert not second.already_loaded and second.identifier == "small-2"
    assert instances_of(sim, SMALL) == sorted([SMALL, "small-2"])


async def test_an_identifier_held_by_another_model_is_refused(
    manager: ModelManager, sim: Simulator
) -> None:
    sim.state.load(GEMMA, identifier="mine")
    with pytest.raises(IdentifierInUse):
        await manager.load(SMALL, LmsLoadArgs(identifier="mine"))
    assert instances_of(sim, SMALL) == []


async def test_asking_uses_any_instance_of_the_model(manager: ModelManager, sim: Simulator) -> None:
    sim.state.load(SMALL, identifier="fast")
    result = await manager.use_or_load(SMALL, LoadProfile(identifier="other"))
    assert result.loaded.already_loaded and result.loaded.identifier == "fast"
    by_identifier = await manager.use_or_load("fast", LoadProfile())
    assert by_identifier.loaded.identifier == "fast"
    loaded = await manager.use_or_load(GEMMA, LoadProfile())
    assert not loaded.loaded.already_loaded
    assert instances_of(sim, SMALL) == ["fast"] and instances_of(sim, GEMMA) == [GEMMA]


async def test_restore_without_lms_does_not_copy_a_model_loaded_under_another_name(
    client: LmStudioClient, runner: LmsRunner, sim: Simulator, state_dir: Path
) -> None:
    sim.state.load(SMALL, identifier="named")
    with_lms = ModelManager(client, runner, state_dir=state_dir, profile_id="p")
    await with_lms.eject_all(await loaded_rows(client, runner))
    sim.state.load(SMALL)  # loaded again meanwhile, under its key, from elsewhere
    without = ModelManager(client, None, state_dir=state_dir, profile_id="p")
    (outcome,) = await without.restore()
    assert outcome.already_loaded
    assert instances_of(sim, SMALL) == [SMALL]


# --- loading exactly the model asked for -------------------------------------------------

NEWER = "qwen/qwen3-4b-2507"  # its key and its path both contain SMALL's


def add_newer_qwen(sim: Simulator) -> None:
    with sim.state.locked():
        sim.state.catalog[NEWER] = sim.state.catalog[SMALL].model_copy(
            update={
                "key": NEWER,
                "display_name": "Qwen3 4B Instruct 2507",
                "path": "lmstudio-community/Qwen3-4B-Instruct-2507-GGUF/"
                "Qwen3-4B-Instruct-2507-Q4_K_M.gguf",
            }
        )


@pytest.fixture
def older_runner(sim: Simulator, tmp_path: Path) -> LmsRunner:
    """An lms from before 2026-02: `lms load <key>` matches model paths (FORMATS §1.6)."""
    env = {**os.environ, "HOME": str(tmp_path), "LMSTUDIO_SIM_LMS": "older"}
    return LmsRunner(sim.install_fake_lms(), env=env)


async def test_lms_by_key_alone_can_load_another_model(
    older_runner: LmsRunner, sim: Simulator
) -> None:
    """Why the app never loads by key: lms loads the most recently loaded fuzzy match."""
    add_newer_qwen(sim)
    await older_runner.load(NEWER)
    await older_runner.unload(NEWER)
    outcome = await older_runner.load(SMALL)
    assert outcome.identifier == NEWER


async def test_load_loads_exactly_the_model_asked_for(
    client: LmStudioClient, older_runner: LmsRunner, sim: Simulator, state_dir: Path
) -> None:
    add_newer_qwen(sim)
    await older_runner.load(NEWER)  # the most recently loaded match for SMALL's key
    manager = ModelManager(client, older_runner, state_dir=state_dir, profile_id="p")
    result = await manager.load(SMALL)
    assert (result.model_key, result.identifier) == (SMALL, SMALL)
    assert sorted(settings_of(sim)) == [SMALL, NEWER]


@pytest.mark.parametrize("older", [False, True])
async def test_a_load_that_brings_another_model_is_undone_and_named(
    client: LmStudioClient, sim: Simulator, state_dir: Path, tmp_path: Path, older: bool
) -> None:
    """A key lms ls does not list is given to lms as is; its loose match loads another
    model, which the app ejects again and names."""
    env = {**os.environ, "HOME": str(tmp_path)} | ({"LMSTUDIO_SIM_LMS": "older"} if older else {})
    manager = ModelManager(
        client, LmsRunner(sim.install_fake_lms(), env=env), state_dir=state_dir, profile_id="p"
    )
    with pytest.raises(LmsLoadedAnotherModel) as caught:
        await manager.load("qwen/qwen3")
    assert caught.value.message.startswith(
        "lms loaded “qwen/qwen3-4b” when “qwen/qwen3” was asked for, so it was ejected again."
    )
    assert sim.state.loaded_identifiers() == []
