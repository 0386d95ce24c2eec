"""The scene planner: the difference against what is loaded, never a second copy, the
check mark, the whole-scene pre-flight, and the settings a scene loads a model with."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tray.core.errors import ConfigError
from tray.core.instances import LiveInstance
from tray.core.load_profiles import LoadProfile
from tray.core.scenes import (
    FREE_GPU,
    Scene,
    SceneModel,
    ScenesFile,
    current_scene,
    find_scene,
    parse_scene,
    plan_scene,
    scene_from_instances,
    scene_preflight,
    unique_scene_name,
)
from tray.services.history import FileHistory
from tray.services.scene_runner import scene_profile
from tray.services.scene_store import SceneStore

GB = 10**9


def live(key: str, identifier: str | None = None, context: int = 4096) -> LiveInstance:
    return LiveInstance(
        model_key=key, identifier=identifier or key, context_length=context, size_bytes=2 * GB
    )


CODING = Scene(
    name="Coding",
    models=(
        SceneModel(model_key="coder", settings=LoadProfile(context_length=32768)),
        SceneModel(model_key="embed", settings=LoadProfile(identifier="e")),
    ),
)


def test_from_empty_everything_is_loaded() -> None:
    plan = plan_scene(CODING, [])
    assert [m.model_key for m in plan.load] == ["coder", "embed"]
    assert plan.unload == () and plan.keep == ()


def test_a_scene_that_holds_changes_nothing_and_gets_the_check_mark() -> None:
    now = [live("coder", context=32768), live("embed", "e")]
    plan = plan_scene(CODING, now)
    assert plan.changes_nothing and len(plan.keep) == 2
    assert "already holds" in plan.describe()
    assert current_scene([Scene(name="Chat"), CODING], now) is CODING


def test_what_the_scene_does_not_want_goes_and_a_wrong_context_is_reloaded() -> None:
    now = [live("coder", context=4096), live("chat"), live("embed", "e")]
    plan = plan_scene(CODING, now)
    assert [i.identifier for i in plan.unload] == ["coder", "chat"]
    assert [m.model_key for m in plan.load] == ["coder"]
    assert [i.identifier for i in plan.keep] == ["e"]


def test_left_alone_others_stay_but_an_identifier_the_scene_needs_is_freed() -> None:
    keep_others = CODING.model_copy(update={"others": "keep"})
    now = [live("chat"), live("other-model", "e")]  # "e" is held by the wrong model
    plan = plan_scene(keep_others, now)
    assert [i.identifier for i in plan.unload] == ["e"]
    assert {m.model_key for m in plan.load} == {"coder", "embed"}


def test_free_gpu_is_built_in_and_wants_nothing() -> None:
    free = find_scene([CODING], "free gpu")
    assert free is not None and free.name == FREE_GPU and free.models == ()
    assert len(plan_scene(free, [live("a"), live("b")]).unload) == 2
    assert current_scene([free], []) is free
    assert find_scene([CODING], "coding") is CODING
    assert find_scene([CODING], "nope") is None


def test_a_scene_cannot_hold_two_unnamed_copies_or_share_a_name() -> None:
    with pytest.raises(ValidationError, match="needs an identifier of its own"):
        Scene(name="Twice", models=(SceneModel(model_key="m"), SceneModel(model_key="m")))
    Scene(
        name="Two named",
        models=(
            SceneModel(model_key="m", settings=LoadProfile(identifier="a")),
            SceneModel(model_key="m", settings=LoadProfile(identifier="b")),
        ),
    )
    with pytest.raises(ValidationError, match="two scenes are called"):
        ScenesFile(scenes=(Scene(name="A"), Scene(name="a")))
    with pytest.raises(ValidationError):
        Scene(name="   ")


def test_saving_what_is_loaded_keeps_identifiers_and_contexts() -> None:
    scene = scene_from_instances("Now", [live("coder", context=8192), live("embed", "e")])
    assert [(m.model_key, m.identifier, m.settings.context_length) for m in scene.models] == [
        ("coder", None, 8192),
        ("embed", "e", 4096),
    ]
    assert plan_scene(scene, [live("coder", context=8192), live("embed", "e")]).changes_nothing


def test_the_preflight_counts_what_the_unloads_free() -> None:
    plan = plan_scene(CODING, [live("chat")])  # unloads chat (2 GB), loads two
    fits = scene_preflight(plan, [3 * GB, 1 * GB], free_now=3 * GB)
    assert fits.fits is True and fits.free_bytes == 5 * GB and fits.needed_bytes == 4 * GB
    tight = scene_preflight(plan, [3 * GB, 3 * GB], free_now=3 * GB)
    assert tight.fits is False and "1.00 GB more than the GPU has" in tight.sentence
    partly = scene_preflight(plan, [3 * GB, None], free_now=3 * GB)
    assert "1 model without an estimate" in partly.sentence
    unknown = scene_preflight(plan, [3 * GB, 1 * GB], free_now=None)
    assert unknown.fits is None and "cannot be told" in unknown.sentence


def test_a_scene_sets_its_fields_over_the_load_profile() -> None:
    base = LoadProfile(context_length=4096, flash_attention=True, identifier="ignored")
    model = SceneModel(model_key="m", settings=LoadProfile(context_length=16384, identifier="x"))
    merged = scene_profile(base, model)
    assert (merged.context_length, merged.flash_attention, merged.identifier) == (16384, True, "x")
    assert scene_profile(base, SceneModel(model_key="m")).identifier is None


def test_a_form_that_is_no_scene_is_said_in_one_sentence() -> None:
    with pytest.raises(ValueError, match=r"^Give the scene a name\.$"):
        parse_scene({"name": "  "})
    with pytest.raises(ValueError, match=r"^The name is longer than 80 characters\.$"):
        parse_scene({"name": "x" * 81})
    twice = {"name": "T", "models": [{"model_key": "m"}, {"model_key": "m"}]}
    with pytest.raises(ValueError, match=r"^“m” is in the scene twice: .* of its own\.$"):
        parse_scene(twice)
    bad = {"name": "T", "models": [{"model_key": "m", "settings": {"ttl_seconds": 0}}]}
    with pytest.raises(ValueError, match=r"^Model 1, TTL: Input should be greater"):
        parse_scene(bad)
    assert parse_scene({"name": " Coding ", "others": "keep"}).name == "Coding"
    assert unique_scene_name("New scene", ["new scene", "New scene 2"]) == "New scene 3"
    assert unique_scene_name("Free GPU", []) == "Free GPU 2"


def test_the_store_renames_replaces_and_refuses_a_new_scene_that_clashes(
    tmp_path: Path,
) -> None:
    store = SceneStore(tmp_path / "scenes.json", FileHistory(tmp_path / "history"))
    store.save(Scene(name="Coding"))
    store.save(Scene(name="Chat"))
    with pytest.raises(ConfigError, match="A scene called “Coding” exists already"):
        store.save(Scene(name="coding"), new=True)
    with pytest.raises(ConfigError, match="A scene called “Chat” exists already"):
        store.save(Scene(name="Chat"), replacing="Coding")
    store.save(Scene(name="Code", others="keep"), replacing="Coding")
    assert [s.name for s in store.list()] == ["Code", "Chat"]
    with pytest.raises(ConfigError, match="built in"):
        store.save(Scene(name="free gpu"), new=True)
