"""Presets as documents: every official example and edge case round-trips without loss, an
edit touches only its field, validation speaks per field, `chat_options` maps a preset to a
chat request, and the three-way merge never drops a change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tray.core.errors import FileParseError
from tray.core.presets import (
    FIELDS,
    Checkbox,
    Preset,
    describe_changes,
    identifier_for,
    merge,
    parse_assignment,
    preset_file_name,
    unique_name,
    validate,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "presets"
GOOD = sorted(p for p in FIXTURES.glob("*.preset.json") if p.name != "broken.preset.json")


def load(name: str) -> Preset:
    return Preset.parse((FIXTURES / name).read_bytes(), origin=name)


def json_of(data: bytes) -> Any:
    return json.loads(data.decode("utf-8-sig"))


def field_items(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        i for s in ("operation", "prediction", "load") for i in doc.get(s, {}).get("fields", [])
    ]


# --- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_unchanged_preset_is_written_back_byte_for_byte(path: Path) -> None:
    raw = path.read_bytes()
    preset = Preset.parse(raw, origin=path.name)
    assert not preset.changed
    assert preset.to_bytes() == raw


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_an_edit_changes_only_that_field_and_keeps_the_style(path: Path) -> None:
    raw = path.read_bytes()
    preset = Preset.parse(raw, origin=path.name)
    preset.set("temperature", 0.33)
    out = preset.to_bytes()
    assert out.startswith(b"\xef\xbb\xbf") == raw.startswith(b"\xef\xbb\xbf")
    assert (b"\r\n" in out) == (b"\r\n" in raw)
    assert out.endswith(b"\n") == raw.endswith(b"\n")
    before, after = json_of(raw), json_of(out)
    # Same top-level keys in the same order; every other field identical and in order.
    assert list(after) == list(before) or list(after) == [*before, "operation"]
    old_items = [i for i in field_items(before) if i["key"] != "llm.prediction.temperature"]
    new_items = [i for i in field_items(after) if i["key"] != "llm.prediction.temperature"]
    assert new_items == old_items
    temps = [i for i in field_items(after) if i["key"] == "llm.prediction.temperature"]
    assert [t["value"] for t in temps] == [0.33]
    for key in before:
        if key not in ("operation", "prediction"):
            assert after[key] == before[key]
    # In place: the temperature keeps its position when it was there.
    keys_before = [i["key"] for i in field_items(before)]
    keys_after = [i["key"] for i in field_items(after)]
    if "llm.prediction.temperature" in keys_before:
        assert keys_after == keys_before
    else:  # appended at the end of the prediction section
        section = after.get("operation") or after["prediction"]
        assert section["fields"][-1]["key"] == "llm.prediction.temperature"
        assert [k for k in keys_after if k != "llm.prediction.temperature"] == keys_before


def test_an_lm_studio_styled_file_differs_only_on_the_edited_line() -> None:
    raw = (FIXTURES / "coding-assistant.preset.json").read_bytes()
    preset = Preset.parse(raw)
    preset.set("temperature", 0.7)
    old_lines, new_lines = raw.decode().splitlines(), preset.to_bytes().decode().splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert changed == [('        "value": 0.2', '        "value": 0.7')]


def test_bom_crlf_and_indent_survive_an_edit_exactly() -> None:
    raw = (FIXTURES / "bom-crlf.preset.json").read_bytes()
    preset = Preset.parse(raw)
    assert preset.get("system_prompt") == "Réponds en français. ✓"
    preset.set("temperature", 0.1)
    expected = raw.replace(b'"value": 0.7', b'"value": 0.1')
    assert preset.to_bytes() == expected


def test_sdk_examples_read_as_lm_studio_means_them() -> None:
    p = load("sdk-prediction.preset.json")
    assert p.get("temperature") == 2.5
    assert p.get("top_k") == 3.5
    assert p.get("top_p") == Checkbox(checked=True, value=4.5)
    assert p.get("min_p") == Checkbox(checked=True, value=5.5)
    assert p.get("repeat_penalty") == Checkbox(checked=True, value=6.5)
    assert p.get("max_tokens") == Checkbox(checked=True, value=1234)
    assert p.get("stop") == ["Banana!"]
    assert p.get("context_overflow") == "rollingWindow"
    assert p.get("seed") is None and not p.is_set("seed")
    assert p.get_key("llm.prediction.structured") == {
        "jsonSchema": {"type": "string"},
        "type": "json",
    }
    load_preset = load("sdk-load.preset.json")
    assert load_preset.get_key("llm.load.contextLength") == 1978
    assert load_preset.get_key("load.gpuSplitConfig")["disabledGpus"] == [1, 2]


def test_lenient_shapes_unknown_keys_and_the_prediction_section() -> None:
    p = load("unknown-keys.preset.json")
    assert p.get("top_p") == Checkbox(checked=True, value=0.8)  # a bare number
    assert p.get("max_tokens") == Checkbox(checked=True, value=256)  # {value} alone
    p.set("top_p", Checkbox(checked=True, value=0.5))
    p.set("max_tokens", Checkbox(checked=False, value=256))
    doc = json_of(p.to_bytes())
    items = {i["key"]: i for i in field_items(doc)}
    assert items["llm.prediction.topPSampling"]["value"] == 0.5  # stays a bare number
    assert items["llm.prediction.maxPredictedTokens"]["value"] == {"value": 256, "checked": False}
    assert items["llm.prediction.someFutureKey"] == {
        "key": "llm.prediction.someFutureKey",
        "value": {"mode": "new", "weights": [1, 2.5]},
        "extra": "kept",
    }
    assert doc["operation"]["note"] == "unknown section key"
    assert list(doc) == ["identifier", "name", "author", "changed", "operation", "load", "zeta"]

    third = load("prediction-section.preset.json")
    assert third.get("temperature") == 0.4
    third.set("top_k", 20)
    doc = json_of(third.to_bytes())
    assert "operation" not in doc
    assert [i["key"] for i in doc["prediction"]["fields"]] == [
        "llm.prediction.temperature",
        "llm.prediction.topKSampling",
    ]


def test_missing_sections_are_added_only_when_a_field_is_set() -> None:
    p = load("missing-sections.preset.json")
    assert p.name == "Bare" and p.get("temperature") is None
    assert p.effective("temperature") == 0.8
    p.set("system_prompt", "Be brief.")
    doc = json_of(p.to_bytes())
    assert doc == {
        "name": "Bare",
        "identifier": "@local:bare",
        "operation": {"fields": [{"key": "llm.prediction.systemPrompt", "value": "Be brief."}]},
    }


def test_setting_back_the_same_value_gives_the_same_bytes() -> None:
    raw = (FIXTURES / "compact.preset.json").read_bytes()
    p = Preset.parse(raw)
    p.set("temperature", 0.9)
    assert b'"value":0.9' in p.to_bytes() and b"\n" not in p.to_bytes()
    p.set("temperature", 0.5)
    assert p.to_bytes() == raw


def test_unset_removes_only_that_field() -> None:
    p = load("coding-assistant.preset.json")
    p.unset("seed")
    keys = [k for _, k, _ in p.fields()]
    assert "llm.prediction.seed" not in keys
    assert len(keys) == 12


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[1, 2]",
        b"\xff\xfe{}",
        b'{"operation": []}',
        b'{"load": {"fields": {}}}',
        b'{"operation": {"fields": [42]}}',
        (FIXTURES / "broken.preset.json").read_bytes(),
    ],
)
def test_what_is_not_a_preset_is_a_parse_error_with_a_sentence(data: bytes) -> None:
    with pytest.raises(FileParseError) as caught:
        Preset.parse(data)
    assert caught.value.message.endswith(".")


def test_broken_json_names_line_and_column() -> None:
    with pytest.raises(FileParseError) as caught:
        Preset.parse((FIXTURES / "broken.preset.json").read_bytes())
    assert caught.value.line == 5


# --- names ---------------------------------------------------------------------------


def test_names_identifiers_and_file_names() -> None:
    assert identifier_for("deepred testing") == "@local:deepred-testing"
    assert identifier_for("Coding: Python/Rust!") == "@local:coding-python-rust"
    assert preset_file_name("deepred testing") == "deepred testing.preset.json"
    assert preset_file_name('a/b:c*"?') == "a_b_c___.preset.json"
    assert preset_file_name("trailing. ") == "trailing.preset.json"
    assert unique_name("Coding", ["coding", "Coding 2"]) == "Coding 3"
    assert unique_name("New", ["Old"]) == "New"
    fresh = Preset.new("My preset")
    assert json_of(fresh.to_bytes()) == {
        "identifier": "@local:my-preset",
        "name": "My preset",
        "operation": {"fields": []},
        "load": {"fields": []},
    }


def test_rename_keeps_a_hub_identifier() -> None:
    p = Preset.parse(b'{"identifier": "owner/cool", "name": "Cool"}')
    p.rename("Cooler")
    assert (p.name, p.identifier) == ("Cooler", "owner/cool")
    q = load("coding-assistant.preset.json")
    q.rename("Code")
    assert q.identifier == "@local:code"


# --- validation ----------------------------------------------------------------------


def problems_of(**values: Any) -> dict[str, str]:
    p = Preset.new("Check")
    for name, value in values.items():
        p.set(name, value)
    return {pr.field: pr.message for pr in validate(p)}


def test_valid_values_have_no_problem() -> None:
    assert (
        problems_of(
            temperature=0,
            top_p=Checkbox(checked=True, value=1),
            min_p=Checkbox(checked=True, value=0),
            top_k=0,
            max_tokens=Checkbox(checked=True, value=1),
            repeat_penalty=Checkbox(checked=True, value=0.5),
            seed=Checkbox(checked=True, value=-1),
            stop=["###"],
            context_overflow="stopAtLimit",
        )
        == {}
    )


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("temperature", -0.1, "0 or more"),
        ("top_p", Checkbox(checked=True, value=1.5), "between 0 and 1"),
        ("min_p", Checkbox(checked=True, value=-0.01), "between 0 and 1"),
        ("top_k", -1, "whole number"),
        ("top_k", 3.5, "whole number"),
        ("max_tokens", Checkbox(checked=True, value=0), "above 0"),
        ("repeat_penalty", Checkbox(checked=True, value=0), "more than 0"),
        ("seed", Checkbox(checked=True, value=1.5), "whole number"),
        ("stop", ["ok", ""], "must not be empty"),
        ("context_overflow", "dropAll", "one of"),
        ("reasoning_budget", Checkbox(checked=True, value=-5), "above 0"),
    ],
)
def test_each_rule_names_its_field(field: str, value: Any, words: str) -> None:
    found = problems_of(**{field: value})
    assert list(found) == [field]
    assert words in found[field]


def test_an_unchecked_checkbox_is_not_validated_and_names_must_be_unique() -> None:
    assert problems_of(max_tokens=Checkbox(checked=False, value=-1)) == {}
    p = Preset.new("Coding")
    assert [x.field for x in validate(p, taken_names=["coding"])] == ["name"]
    p.name = "  "
    assert validate(p)[0].message == "Give the preset a name."
    # `only` checks what an edit touched: the SDK example's min-p 5.5 does not block it.
    sdk = load("sdk-prediction.preset.json")
    assert {x.field for x in validate(sdk)} == {"min_p", "top_p", "top_k"}
    assert validate(sdk, only=["temperature"]) == []


# --- chat options --------------------------------------------------------------------


def test_chat_options_from_a_realistic_preset() -> None:
    opts = load("coding-assistant.preset.json").chat_options()
    assert opts.source == "Coding assistant"
    assert opts.system_prompt is not None and opts.system_prompt.startswith("You are")
    assert (opts.temperature, opts.top_k, opts.top_p, opts.min_p) == (0.2, 40, 0.9, 0.05)
    assert (opts.repeat_penalty, opts.max_tokens, opts.seed) == (1.1, 4096, None)
    assert opts.stop == ("<|im_end|>", "\n\nUser:")
    assert opts.reasoning == "on"


def test_chat_options_off_switches_and_unusable_values() -> None:
    p = Preset.new("x")
    assert p.chat_options().model_dump(exclude={"source"}) == {
        "system_prompt": None,
        "temperature": None,
        "top_k": None,
        "top_p": None,
        "min_p": None,
        "repeat_penalty": None,
        "max_tokens": None,
        "stop": (),
        "seed": None,
        "reasoning": None,
    }
    p.set("top_p", Checkbox(checked=False, value=0.9))
    p.set("min_p", Checkbox(checked=False, value=0.1))
    p.set("repeat_penalty", Checkbox(checked=False, value=1.3))
    p.set("seed", Checkbox(checked=True, value=42))
    p.set("reasoning", False)
    opts = p.chat_options()
    assert (opts.top_p, opts.min_p, opts.repeat_penalty, opts.seed, opts.reasoning) == (
        1.0,
        0.0,
        1.0,
        42,
        "off",
    )
    sdk = load("sdk-prediction.preset.json").chat_options()  # out-of-range values left out
    assert (sdk.temperature, sdk.top_k, sdk.top_p, sdk.min_p, sdk.max_tokens) == (
        2.5,
        None,
        None,
        None,
        1234,
    )


# --- describing and merging ----------------------------------------------------------


def test_describe_changes_for_history_messages() -> None:
    before = load("coding-assistant.preset.json")
    after = before.copy()
    after.set("temperature", 0.7)
    after.set("max_tokens", Checkbox(checked=False, value=4096))
    after.set("system_prompt", "Other")
    after.set("min_p", Checkbox(checked=True, value=0.1))
    after.set_key("llm.prediction.llama.cpuThreads", 4)
    assert describe_changes(before, after) == [
        "system prompt changed",
        "temperature 0.2 → 0.7",
        "min-p 0.05 → 0.1",
        "max tokens 4096 → no limit",
        "llm.prediction.llama.cpuThreads 8 → 4",
    ]
    assert "Other" not in " ".join(describe_changes(before, after))


def test_merge_takes_both_sides_and_reports_conflicts_with_both_values() -> None:
    base = load("coding-assistant.preset.json")
    mine, theirs = base.copy(), base.copy()
    mine.set("temperature", 0.5)  # only mine
    mine.set("top_k", 20)  # both, differently: conflict
    mine.set("stop", ["END"])  # both, the same
    theirs.set("top_k", 60)
    theirs.set("stop", ["END"])
    theirs.set("seed", Checkbox(checked=True, value=7))  # only theirs
    theirs.set_key("llm.prediction.newThing", True)  # only theirs, new key
    theirs.unset("min_p")  # theirs removed
    result = merge(base, mine, theirs)
    m = result.merged
    assert m.get("temperature") == 0.5
    assert m.get("seed") == Checkbox(checked=True, value=7)
    assert m.get_key("llm.prediction.newThing") is True
    assert not m.is_set("min_p")
    assert m.get("stop") == ["END"]
    assert [(c.label, c.mine_text, c.theirs_text) for c in result.conflicts] == [
        ("top-k", "20", "60")
    ]
    assert m.get("top_k") == 60  # theirs until the user picks
    assert result.resolve(["llm.prediction.topKSampling"]).get("top_k") == 20


def test_merge_conflict_on_a_removed_field_and_on_the_name() -> None:
    base = load("coding-assistant.preset.json")
    mine, theirs = base.copy(), base.copy()
    mine.set("temperature", 0.9)
    theirs.unset("temperature")
    mine.name = "Mine"
    theirs.name = "Theirs"
    result = merge(base, mine, theirs)
    by_key = {c.key: c for c in result.conflicts}
    assert set(by_key) == {"llm.prediction.temperature", "doc:name"}
    assert by_key["llm.prediction.temperature"].theirs_text == "default"
    resolved = result.resolve(by_key)
    assert resolved.get("temperature") == 0.9 and resolved.name == "Mine"


def test_merge_without_edits_is_theirs() -> None:
    base = load("coding-assistant.preset.json")
    theirs = base.copy()
    theirs.set("temperature", 1.0)
    result = merge(base, base.copy(), theirs)
    assert result.conflicts == []
    assert result.merged.to_bytes() == theirs.to_bytes()


# --- KEY=VALUE -----------------------------------------------------------------------


def test_parse_assignment() -> None:
    assert parse_assignment("temperature=0.2")[:2] == ("temperature", 0.2)
    assert parse_assignment("top-p=0.9")[:2] == ("top_p", Checkbox(checked=True, value=0.9))
    assert parse_assignment("max_tokens=none")[1].checked is False
    assert parse_assignment("llm.prediction.topKSampling=30")[:2] == ("top_k", 30)
    assert parse_assignment('stop=["a","b"]')[1] == ["a", "b"]
    assert parse_assignment("stop=###")[1] == ["###"]
    assert parse_assignment("reasoning=off")[1] is False
    assert parse_assignment("context_overflow=rollingwindow")[1] == "rollingWindow"
    assert parse_assignment("system_prompt=Line 1\\nLine 2")[1] == "Line 1\nLine 2"
    assert parse_assignment("seed=default")[:2] == ("seed", None)
    assert parse_assignment("llm.prediction.llama.cpuThreads=6")[:2] == (
        "llm.prediction.llama.cpuThreads",
        6,
    )
    for bad in ("temperature", "temperature=warm", "colour=red", "reasoning=maybe"):
        with pytest.raises(ValueError, match=r"\."):
            parse_assignment(bad)


def test_every_field_has_a_distinct_key_and_name() -> None:
    assert len({f.key for f in FIELDS}) == len({f.name for f in FIELDS}) == len(FIELDS)
