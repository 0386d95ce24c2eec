"""Load profiles for real: our profile files with their history, LM Studio's per-model
default files (both naming schemes, BOM), and loads with a profile through the simulator's
REST API and the fake `lms` (which path, which settings arrived, what was not applied, the
warning when LM Studio allocates less context), plus the pre-flight over `lms`'s estimate."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tray.core.errors import ConfigError, FileParseError
from tray.core.gpu import GpuDevice, GpuReport
from tray.core.load_profiles import LoadProfile
from tray.services.history import FileHistory
from tray.services.lms_runner import LmsRunner
from tray.services.lmstudio_client import LmStudioClient
from tray.services.load_profile_store import LoadProfileStore
from tray.services.model_defaults import DEFAULTS_DIR, LmStudioDefaults
from tray.services.model_manager import ModelManager
from tray.simulator import Simulator

SMALL = "qwen/qwen3-4b"
SMALL_PATH = "lmstudio-community/Qwen3-4B-GGUF/Qwen3-4B-Q4_K_M.gguf"
GiB = 1024**3


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(tmp_path / ".lmstudio", load_seconds=0.05) as simulator:
        yield simulator


@pytest.fixture
def runner(sim: Simulator, tmp_path: Path) -> LmsRunner:
    return LmsRunner(sim.install_fake_lms(), env={**os.environ, "HOME": str(tmp_path)})


@pytest.fixture
def history(tmp_path: Path) -> FileHistory:
    return FileHistory(tmp_path / "history")


@pytest.fixture
def store(tmp_path: Path, history: FileHistory) -> LoadProfileStore:
    return LoadProfileStore(tmp_path / "config" / "load-profiles", history)


def _gpu(free_gib: float) -> GpuReport:
    return GpuReport(
        devices=(
            GpuDevice(
                name="Sim GPU",
                total_bytes=24 * GiB,
                used_bytes=int((24 - free_gib) * GiB),
                source="nvml",
            ),
        )
    )


def _manager(
    client: LmStudioClient,
    runner: LmsRunner | None,
    tmp_path: Path,
    *,
    free_gib: float = 20,
    defaults: LmStudioDefaults | None = None,
) -> ModelManager:
    return ModelManager(
        client,
        runner,
        state_dir=tmp_path / "state",
        profile_id="this-machine",
        gpu_probe=lambda: _gpu(free_gib),
        defaults=defaults,
    )


# --- our profile files ------------------------------------------------------------------


def test_store_saves_reads_merges_and_records_what_changed(
    store: LoadProfileStore, history: FileHistory
) -> None:
    assert store.default() == LoadProfile()
    assert store.list()[0].model_key is None
    store.save(LoadProfile(context_length=4096, flash_attention=True))
    store.save(LoadProfile(context_length=16384, parallel=2), SMALL)
    assert store.effective(SMALL) == LoadProfile(
        context_length=16384, flash_attention=True, parallel=2
    )
    assert store.effective("other/model") == LoadProfile(context_length=4096, flash_attention=True)
    assert [e.model_key for e in store.list()] == [None, SMALL]

    store.save(LoadProfile(context_length=8192, parallel=2), SMALL)
    versions = history.versions(store.path_for(SMALL))
    assert versions[0].message.startswith(f"Load profile of {SMALL}: context length 16,384 → 8,192")
    assert versions[-1].message.startswith(f"Load profile of {SMALL}: created")
    # a version can be restored, and the store reads it back
    history.restore(store.path_for(SMALL), versions[-1].commit)
    assert store.for_model(SMALL) == LoadProfile(context_length=16384, parallel=2)


def test_store_delete_keeps_the_last_version_in_history(
    store: LoadProfileStore, history: FileHistory
) -> None:
    store.save(LoadProfile(ttl_seconds=600), SMALL)
    store.delete(SMALL)
    assert store.for_model(SMALL) is None
    path = store.path_for(SMALL)
    versions = history.versions(path)
    assert versions[0].message.startswith(f"Load profile of {SMALL}: deleted")
    kept = next(v for v in versions if not v.deleted)
    assert json.loads(history.read(path, kept.commit))["profile"]["ttl_seconds"] == 600


def test_store_refuses_bad_profiles_and_names_a_broken_file(store: LoadProfileStore) -> None:
    with pytest.raises(ConfigError, match="every model would get the same"):
        store.save(LoadProfile(identifier="same"))
    store.folder.mkdir(parents=True)
    store.path_for(SMALL).write_text('{"model_key": "x", "profile": {"parallel": 0}}')
    with pytest.raises(FileParseError, match=r"profile\.parallel"):
        store.for_model(SMALL)
    assert [e.model_key for e in store.list()] == [None]  # skipped, not fatal


# --- LM Studio's per-model default files ------------------------------------------------


def _lmstudio_file(home: Path, name: str, document: dict[str, object], *, bom: bool) -> Path:
    path = home / DEFAULTS_DIR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


ORIGINAL = {
    "preset": "",
    "operation": {"fields": [{"key": "llm.prediction.temperature", "value": 0.3}]},
    "load": {
        "fields": [
            {"key": "llm.load.contextLength", "value": 4096},
            {"key": "llm.load.llama.tryMmap", "value": False},
        ]
    },
    "somethingNew": 1,
}


@pytest.mark.parametrize(
    ("name", "bom"),
    [(f"{SMALL}.json", False), (f"{SMALL_PATH}.json", True)],
    ids=["model-key-scheme", "file-path-scheme-with-bom"],
)
def test_defaults_round_trip_in_either_scheme(
    tmp_path: Path, history: FileHistory, name: str, bom: bool
) -> None:
    home = tmp_path / ".lmstudio"
    path = _lmstudio_file(home, name, ORIGINAL, bom=bom)
    defaults = LmStudioDefaults(home, history, windows=False)
    assert defaults.read(SMALL, SMALL_PATH) == LoadProfile(context_length=4096)

    written = defaults.write(
        SMALL, LoadProfile(context_length=8192, gpu_offload=0.5), model_path=SMALL_PATH
    )
    assert written == [path]  # only the file that exists; no second scheme invented
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") is bom
    document = json.loads(raw.decode("utf-8-sig"))
    assert document["operation"] == ORIGINAL["operation"]
    assert document["somethingNew"] == 1
    assert document["load"]["fields"] == [
        {"key": "llm.load.contextLength", "value": 8192},
        {"key": "llm.load.llama.tryMmap", "value": False},
        {"key": "llm.load.llama.acceleration.offloadRatio", "value": 0.5},
    ]
    versions = history.versions(path)
    assert len(versions) == 2
    assert "before this app changed it" in versions[1].message
    assert json.loads(history.read(path, versions[1].commit).decode("utf-8-sig")) == ORIGINAL


def test_defaults_without_a_file_create_one_named_after_the_model_file(
    tmp_path: Path, history: FileHistory
) -> None:
    """LM Studio names the file after the model file: one file, with a BOM on Windows."""
    home = tmp_path / ".lmstudio"
    defaults = LmStudioDefaults(home, history, windows=True)
    written = defaults.write(SMALL, LoadProfile(parallel=2), model_path=SMALL_PATH)
    assert written == [home / DEFAULTS_DIR / f"{SMALL_PATH}.json"]
    assert written[0].read_bytes().startswith(b"\xef\xbb\xbf")
    assert not (home / DEFAULTS_DIR / f"{SMALL}.json").exists()  # no second scheme
    assert defaults.read(SMALL, SMALL_PATH) == LoadProfile(parallel=2)
    assert defaults.read(SMALL) == LoadProfile(parallel=2)  # found without lms too


NEWER_PATH = "lmstudio-community/Qwen3-4B-Instruct-2507-GGUF/Qwen3-4B-Instruct-2507-Q4_K_M.gguf"
GEMMA_PATH = "lmstudio-community/gemma-3-12b-it-GGUF/gemma-3-12b-it-Q4_K_M.gguf"


def test_without_lms_the_file_named_after_the_model_file_is_found_and_no_other_made(
    tmp_path: Path, history: FileHistory
) -> None:
    home = tmp_path / ".lmstudio"
    mine = _lmstudio_file(home, f"{SMALL_PATH}.json", ORIGINAL, bom=False)
    other = _lmstudio_file(home, f"{NEWER_PATH}.json", ORIGINAL, bom=False)  # another model
    gemma = _lmstudio_file(home, f"{GEMMA_PATH}.json", ORIGINAL, bom=False)
    defaults = LmStudioDefaults(home, history, windows=False)

    assert defaults.write(SMALL, LoadProfile(parallel=3)) == [mine]
    assert defaults.write("google/gemma-3-12b", LoadProfile(parallel=2)) == [gemma]
    assert defaults.read(SMALL) == LoadProfile(context_length=4096, parallel=3)
    assert json.loads(other.read_text()) == ORIGINAL
    assert sorted(p.name for p in (home / DEFAULTS_DIR).rglob("*.json")) == sorted(
        p.name for p in (mine, other, gemma)
    )


def test_without_lms_two_files_that_could_be_the_model_are_not_guessed_between(
    tmp_path: Path, history: FileHistory
) -> None:
    home = tmp_path / ".lmstudio"
    q4 = _lmstudio_file(home, f"{SMALL_PATH}.json", ORIGINAL, bom=False)
    q8 = _lmstudio_file(home, f"{SMALL_PATH.replace('Q4_K_M', 'Q8_0')}.json", ORIGINAL, bom=False)
    defaults = LmStudioDefaults(home, history, windows=False)
    with pytest.raises(ConfigError, match="Several of LM Studio's per-model default files"):
        defaults.write(SMALL, LoadProfile(parallel=3))
    assert json.loads(q4.read_text()) == json.loads(q8.read_text()) == ORIGINAL
    # with the path lms gives, the one file is written
    assert defaults.write(SMALL, LoadProfile(parallel=3), model_path=SMALL_PATH) == [q4]


def test_defaults_refuse_paths_outside_the_folder(tmp_path: Path) -> None:
    defaults = LmStudioDefaults(tmp_path, None)
    with pytest.raises(ConfigError):
        defaults.write("../../evil", LoadProfile(parallel=2))
    assert not (tmp_path.parent / "evil.json").exists()


# --- loading with a profile -------------------------------------------------------------


async def test_rest_fields_go_through_rest(
    sim: Simulator, client: LmStudioClient, runner: LmsRunner, tmp_path: Path
) -> None:
    manager = _manager(client, runner, tmp_path)
    profile = LoadProfile(context_length=8192, flash_attention=False, eval_batch_size=256)
    result = await manager.load_with_profile(SMALL, profile)
    assert result.path == "rest"
    assert result.ok, result.text()
    instance = sim.state.instances[result.loaded.identifier]
    assert (instance.context_length, instance.flash_attention, instance.eval_batch_size) == (
        8192,
        False,
        256,
    )


async def test_lms_flags_carry_gpu_ttl_parallel_and_identifier(
    sim: Simulator, client: LmStudioClient, runner: LmsRunner, tmp_path: Path
) -> None:
    manager = _manager(client, runner, tmp_path)
    profile = LoadProfile(
        context_length=8192, gpu_offload=0.5, ttl_seconds=900, parallel=2, identifier="mine"
    )
    seen: list[float] = []
    result = await manager.load_with_profile(SMALL, profile, progress=seen.append)
    assert result.path == "lms"
    assert result.ok, result.text()
    assert result.loaded.identifier == "mine"
    instance = sim.state.instances["mine"]
    assert (
        instance.gpu_ratio,
        instance.ttl_seconds,
        instance.parallel,
        instance.context_length,
    ) == (
        0.5,
        900,
        2,
        8192,
    )


async def test_what_the_chosen_path_cannot_carry_is_named(
    sim: Simulator, client: LmStudioClient, runner: LmsRunner, tmp_path: Path
) -> None:
    manager = _manager(client, runner, tmp_path)
    profile = LoadProfile(gpu_offload="max", ttl_seconds=300, flash_attention=False)
    result = await manager.load_with_profile(SMALL, profile)
    assert result.path == "lms"
    assert [u.field for u in result.unapplied] == ["flash_attention"]
    assert "Flash attention was not applied" in result.text()
    assert sim.state.instances[result.loaded.identifier].flash_attention is True


async def test_without_lms_the_rest_api_loads_and_says_what_it_could_not_set(
    sim: Simulator, client: LmStudioClient, tmp_path: Path
) -> None:
    manager = _manager(client, None, tmp_path)
    result = await manager.load_with_profile(
        SMALL, LoadProfile(context_length=4096, ttl_seconds=60)
    )
    assert result.path == "rest"
    assert [u.field for u in result.unapplied] == ["ttl_seconds"]
    assert sim.state.instances[result.loaded.identifier].ttl_seconds is None
    assert await manager.preflight(SMALL, LoadProfile()) is None  # the estimate needs lms


@pytest.mark.parametrize("use_lms", [True, False], ids=["lms", "rest"])
async def test_less_context_than_asked_is_a_mismatch(
    sim: Simulator, client: LmStudioClient, runner: LmsRunner, tmp_path: Path, use_lms: bool
) -> None:
    sim.state.context_cap = 4096
    manager = _manager(client, runner if use_lms else None, tmp_path)
    result = await manager.load_with_profile(
        SMALL, LoadProfile(context_length=16384, parallel=2 if use_lms else None)
    )
    assert not result.ok
    assert [m.field for m in result.mismatches] == ["context_length"]
    assert "LM Studio gave 4,096 tokens of context, not the 16,384 asked for" in result.text()


async def test_writing_lm_studio_defaults_lets_lms_apply_flash_attention(
    sim: Simulator, client: LmStudioClient, runner: LmsRunner, tmp_path: Path, history: FileHistory
) -> None:
    defaults = LmStudioDefaults(sim.home, history, windows=False)
    manager = _manager(client, runner, tmp_path, defaults=defaults)
    profile = LoadProfile(gpu_offload="max", flash_attention=True, write_lmstudio_defaults=True)
    result = await manager.load_with_profile(SMALL, profile)
    assert result.path == "lms"
    assert result.unapplied == ()
    assert result.via_defaults == ("flash_attention",)
    assert result.defaults_written == (str(sim.home / DEFAULTS_DIR / f"{SMALL_PATH}.json"),)
    assert defaults.read(SMALL) == LoadProfile(gpu_offload="max", flash_attention=True)


async def test_preflight_warns_with_numbers_when_parallel_slots_do_not_fit(
    sim: Simulator, client: LmStudioClient, runner: LmsRunner, tmp_path: Path
) -> None:
    # qwen3-4b: 147,456 KV bytes per token. 32,768 tokens = 4.5 GiB per slot, and 3 more
    # slots add 13.5 GiB that lms's estimate leaves out.
    manager = _manager(client, runner, tmp_path, free_gib=12)
    profile = LoadProfile(context_length=32768, parallel=4)
    check = await manager.preflight(SMALL, profile)
    assert check is not None
    assert check.fits is False
    assert abs(check.parallel_extra_bytes - 3 * 32768 * 147456) / (3 * 32768 * 147456) < 0.02
    assert check.free_bytes == 12 * GiB
    assert check.sentence.startswith("It needs about ") and "short" in check.details[1]
    single = await manager.preflight(SMALL, profile.model_copy(update={"parallel": 1}))
    assert single is not None
    assert single.fits is True
    assert single.parallel_extra_bytes == 0
