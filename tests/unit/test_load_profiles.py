"""Load profiles: merging, planning the path, mismatches, the pre-flight, and LM Studio's
per-model default fields (pure rules of `tray.core.load_profiles`)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tray.core.api import LoadConfig
from tray.core.errors import EndpointNotSupported
from tray.core.gpu import GpuDevice, GpuReport
from tray.core.lms_output import LmsResult, read_estimate
from tray.core.load_profiles import (
    KvShape,
    LoadProfile,
    check_loaded,
    describe_profile,
    effective,
    kv_bytes_per_token_from_estimates,
    merge_default_config,
    parse_assignment,
    parse_gpu,
    plan_load,
    preflight,
    profile_file_name,
    profile_from_fields,
    validate_profile,
)

GiB = 1024**3


def test_every_field_is_optional_and_validated() -> None:
    assert LoadProfile().set_fields() == []
    p = LoadProfile(context_length=8192, gpu_offload=0.5, parallel=2)
    assert p.set_fields() == ["context_length", "gpu_offload", "parallel"]
    for bad in ({"context_length": 0}, {"gpu_offload": 1.5}, {"parallel": 0}, {"x": 1}):
        with pytest.raises(ValidationError):
            LoadProfile.model_validate(bad)
    assert LoadProfile(gpu_offload="max").gpu_offload == "max"


def test_effective_takes_the_override_over_the_default_but_never_the_default_identifier() -> None:
    default = LoadProfile(context_length=4096, flash_attention=True, identifier="shared")
    override = LoadProfile(context_length=16384, parallel=2, write_lmstudio_defaults=True)
    merged = effective(default, override)
    assert merged.context_length == 16384
    assert merged.flash_attention is True
    assert merged.parallel == 2
    assert merged.identifier is None
    assert merged.write_lmstudio_defaults is True
    assert effective(default, None).identifier is None


def test_validation_speaks_per_field() -> None:
    problems = validate_profile({"context_length": -1, "identifier": "x"}, is_default=True)
    assert set(problems) == {"context_length", "identifier"}
    assert problems["context_length"].startswith("Context length:")
    assert "every model would get the same" in problems["identifier"]
    assert validate_profile({"identifier": "x"}, is_default=False) == {}


def test_a_context_past_the_models_longest_is_refused_only_when_that_is_known() -> None:
    too_long = {"context_length": 40_000}
    problems = validate_profile(too_long, is_default=False, max_context=32_768)
    assert problems == {
        "context_length": "Context length: this model takes at most 32,768 tokens; LM Studio "
        "would refuse to load it with more."
    }
    assert validate_profile({"context_length": 32_768}, is_default=False, max_context=32_768) == {}
    assert validate_profile(too_long, is_default=False) == {}  # unknown: not refused
    assert validate_profile({"context_length": None}, is_default=False, max_context=8) == {}


def test_rest_carries_a_profile_of_rest_fields() -> None:
    p = LoadProfile(context_length=8192, flash_attention=True, eval_batch_size=256)
    plan = plan_load(p, model_key="m", rest_available=True, lms_available=True)
    assert plan.path == "rest"
    assert plan.rest_request is not None
    assert json.loads(plan.rest_request.to_body()) == {
        "model": "m",
        "context_length": 8192,
        "flash_attention": True,
        "eval_batch_size": 256,
        "echo_load_config": True,
    }
    assert plan.unapplied == ()


def test_lms_carries_gpu_ttl_parallel_identifier() -> None:
    p = LoadProfile(context_length=8192, gpu_offload=0.75, ttl_seconds=600, parallel=2)
    plan = plan_load(p, model_key="m", rest_available=True, lms_available=True)
    assert plan.path == "lms"
    assert plan.lms_args is not None
    assert plan.lms_args.flags() == [
        "--gpu",
        "0.75",
        "--context-length",
        "8192",
        "--parallel",
        "2",
        "--ttl",
        "600",
    ]
    assert plan.unapplied == ()


def test_an_empty_or_context_only_profile_prefers_lms_for_its_progress() -> None:
    for p in (LoadProfile(), LoadProfile(context_length=4096)):
        assert plan_load(p, model_key="m", rest_available=True, lms_available=True).path == "lms"
    assert (
        plan_load(LoadProfile(), model_key="m", rest_available=True, lms_available=False).path
        == "rest"
    )


def test_a_mixed_profile_takes_the_path_that_carries_most_and_says_what_is_left() -> None:
    p = LoadProfile(gpu_offload="max", ttl_seconds=60, flash_attention=True)
    plan = plan_load(p, model_key="m", rest_available=True, lms_available=True)
    assert plan.path == "lms"
    assert [u.field for u in plan.unapplied] == ["flash_attention"]
    assert "`lms load` has no flag for it" in plan.unapplied[0].sentence
    assert "Also write LM Studio's own default" in plan.unapplied[0].reason


def test_without_lms_gpu_and_ttl_are_unapplied() -> None:
    p = LoadProfile(context_length=2048, gpu_offload="off", ttl_seconds=60, identifier="a")
    plan = plan_load(p, model_key="m", rest_available=True, lms_available=False)
    assert plan.path == "rest"
    assert [u.field for u in plan.unapplied] == ["gpu_offload", "ttl_seconds", "identifier"]
    ttl = next(u for u in plan.unapplied if u.field == "ttl_seconds")
    assert "`lms` is not available" in ttl.reason
    assert "Also write" not in ttl.reason  # TTL has no per-model default key


def test_lms_defaults_file_carries_what_the_flags_cannot() -> None:
    p = LoadProfile(gpu_offload=0.5, flash_attention=True, write_lmstudio_defaults=True)
    plan = plan_load(p, model_key="m", rest_available=True, lms_available=True)
    assert plan.path == "lms"
    assert plan.unapplied == ()
    assert plan.via_defaults == ("flash_attention",)


def test_no_path_at_all_is_an_error() -> None:
    with pytest.raises(EndpointNotSupported):
        plan_load(LoadProfile(), model_key="m", rest_available=False, lms_available=False)


def test_check_loaded_names_a_shorter_context_and_other_parallel() -> None:
    asked = LoadProfile(context_length=32768, parallel=4, flash_attention=True)
    got = LoadConfig(context_length=8192, parallel=2, flash_attention=True)
    found = check_loaded(asked, got)
    assert [m.field for m in found] == ["context_length", "parallel"]
    assert found[0].sentence.startswith("LM Studio gave 8,192 tokens of context, not the 32,768")
    assert "2 parallel slots, not the 4" in found[1].sentence
    assert check_loaded(asked, None) == []
    assert check_loaded(LoadProfile(), got) == []


# --- estimates and the pre-flight -------------------------------------------------------


def _estimate(
    context: int | None, gpu_gib: float, total_gib: float, verdict: str = "may be loaded"
):
    lines = ["Model: qwen/qwen3-4b"]
    if context is not None:
        lines.append(f"Context Length: {context:,}")
    lines += [
        f"Estimated GPU Memory:   {gpu_gib:.2f} GiB",
        f"Estimated Total Memory: {total_gib:.2f} GiB",
        "",
        f"Estimate: This model {verdict} based on your resource guardrails settings.",
    ]
    return read_estimate(
        LmsResult(command=("load",), exit_code=0, stdout="", stderr="\n".join(lines))
    )


def _gpu(total_gib: float, used_gib: float) -> GpuReport:
    return GpuReport(
        devices=(
            GpuDevice(
                name="Test GPU",
                total_bytes=int(total_gib * GiB),
                used_bytes=int(used_gib * GiB),
                source="nvml",
            ),
        )
    )


def test_kv_per_token_from_two_estimates() -> None:
    # 128 KiB per token: 8192 tokens = 1 GiB, 4096 tokens = 0.5 GiB over a 3 GiB model.
    low, high = _estimate(4096, 3.5, 3.5), _estimate(8192, 4.0, 4.0)
    per_token = kv_bytes_per_token_from_estimates(low, high)
    assert per_token is not None
    assert abs(per_token - 131072) / 131072 < 0.02  # two decimals of GiB in the text
    assert kv_bytes_per_token_from_estimates(high, low) is None
    assert kv_bytes_per_token_from_estimates(_estimate(None, 1, 1), high) is None


def test_kv_shape_bytes_per_token() -> None:
    # 36 layers, 8 KV heads of 128, f16: 2 * 36 * 8 * 128 * 2 = 147,456 bytes per token.
    assert KvShape(layers=36, kv_heads=8, head_dim=128).bytes_per_token == 147456


def test_preflight_adds_the_kv_cache_of_extra_slots_and_says_it_does_not_fit() -> None:
    estimate = _estimate(8192, 4.0, 4.0)
    profile = LoadProfile(context_length=8192, parallel=4)
    result = preflight(estimate, profile=profile, gpu=_gpu(8, 3), kv_bytes_per_token=131072)
    # 3 more slots × 8192 tokens × 128 KiB = 3 GiB on top of lms's 4 GiB; 5 GiB free.
    assert result.parallel_extra_bytes == 3 * GiB
    assert result.estimate_bytes == 7 * GiB
    assert result.free_bytes == 5 * GiB
    assert result.fits is False
    # one sentence with the numbers; how they were made, and what to do, behind it
    assert result.sentence == "It needs about 7.52 GB of GPU memory and only 5.37 GB is free."
    assert result.details[0].startswith("lms estimates 4.29 GB; the tray adds 3.22 GB of KV")
    assert "for 3 more parallel slots" in result.details[0]
    assert result.details[1] == (
        "That is 2.15 GB short: lower the context length, parallel slots or GPU offload, or "
        "eject another model."
    )
    assert result.details[2] == "GPU memory now: 3.22 GB of 8.59 GB used."
    assert result.text == " ".join((result.sentence, *result.details))
    fits = preflight(estimate, profile=profile, gpu=_gpu(24, 3), kv_bytes_per_token=131072)
    assert fits.fits is True


def test_preflight_scales_extra_kv_by_gpu_ratio_and_skips_it_when_kv_stays_in_ram() -> None:
    estimate = _estimate(8192, 2.0, 4.0)
    half = LoadProfile(context_length=8192, parallel=2, gpu_offload=0.5)
    assert (
        preflight(estimate, profile=half, gpu=None, kv_bytes_per_token=131072).parallel_extra_bytes
        == GiB // 2
    )
    in_ram = half.model_copy(update={"offload_kv_cache_to_gpu": False})
    assert (
        preflight(
            estimate, profile=in_ram, gpu=None, kv_bytes_per_token=131072
        ).parallel_extra_bytes
        == 0
    )


def test_preflight_without_gpu_numbers_cannot_tell_and_says_why() -> None:
    estimate = _estimate(8192, 4.0, 4.0)
    result = preflight(
        estimate,
        profile=LoadProfile(parallel=2),
        gpu=GpuReport(unavailable_reason="no NVIDIA or AMD GPU found"),
        kv_bytes_per_token=None,
    )
    assert result.fits is None
    assert result.sentence == (
        "It needs about 4.29 GB of GPU memory; how much is free is unknown "
        "(no NVIDIA or AMD GPU found)."
    )
    assert result.details == (
        "Not corrected for 2 parallel slots: the size of the KV cache per token is unknown, "
        "so it may need more than this.",
    )


def test_preflight_trusts_lms_guardrails_when_they_say_no() -> None:
    estimate = _estimate(8192, 4.0, 4.0, verdict="will fail to load")
    result = preflight(estimate, profile=LoadProfile(), gpu=_gpu(24, 0), kv_bytes_per_token=None)
    assert result.fits is False
    assert result.sentence == (
        "LM Studio expects this load to fail, although it needs only about 4.29 GB of GPU "
        "memory and 25.77 GB is free."
    )
    assert "guardrails" in result.details[0]


# --- LM Studio's per-model default fields -----------------------------------------------


def test_merge_keeps_unknown_fields_in_place_and_appends_new_ones() -> None:
    document = {
        "preset": "@local:my-preset",
        "operation": {"fields": [{"key": "llm.prediction.temperature", "value": 0.2}]},
        "load": {
            "fields": [
                {
                    "key": "llm.load.llama.kCacheQuantizationType",
                    "value": {"checked": True, "value": "q8_0"},
                },
                {"key": "llm.load.contextLength", "value": 4096},
                {"key": "some.future.key", "value": [1, 2]},
            ],
            "futureSection": True,
        },
        "unknownTop": {"a": 1},
    }
    profile = LoadProfile(
        context_length=16384, gpu_offload="max", flash_attention=True, ttl_seconds=5
    )
    merged = merge_default_config(document, profile)
    assert merged["preset"] == "@local:my-preset"
    assert merged["operation"] == document["operation"]
    assert merged["unknownTop"] == {"a": 1}
    assert merged["load"]["futureSection"] is True
    keys = [f["key"] for f in merged["load"]["fields"]]
    assert keys == [
        "llm.load.llama.kCacheQuantizationType",
        "llm.load.contextLength",
        "some.future.key",
        "llm.load.llama.acceleration.offloadRatio",
        "llm.load.llama.flashAttention",
    ]
    assert merged["load"]["fields"][1]["value"] == 16384
    assert document["load"]["fields"][1]["value"] == 4096  # the input is not changed
    back = profile_from_fields(merged["load"]["fields"])
    assert back == LoadProfile(context_length=16384, gpu_offload="max", flash_attention=True)


def test_profile_from_fields_tolerates_odd_values() -> None:
    fields = [
        {"key": "llm.load.contextLength", "value": "big"},
        {"key": "llm.load.numParallelSessions", "value": 2},
        {"key": "llm.load.llama.acceleration.offloadRatio", "value": 0.25},
        "not an item",
    ]
    assert profile_from_fields(fields) == LoadProfile(parallel=2, gpu_offload=0.25)


def test_merge_into_nothing_makes_lm_studios_shape() -> None:
    merged = merge_default_config(None, LoadProfile(parallel=2))
    assert merged == {
        "preset": "",
        "operation": {"fields": []},
        "load": {"fields": [{"key": "llm.load.numParallelSessions", "value": 2}]},
    }


# --- small helpers ----------------------------------------------------------------------


def test_file_names_are_safe_and_unique() -> None:
    a, b = profile_file_name("qwen/qwen3-4b"), profile_file_name("qwen_qwen3-4b")
    assert a != b
    assert a.startswith("model-qwen_qwen3-4b-") and a.endswith(".json")
    assert "/" not in profile_file_name("../../etc/passwd")
    assert profile_file_name(None) == "default.json"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("context=8192", ("context_length", 8192)),
        ("context-length=8,192", ("context_length", 8192)),
        ("gpu=max", ("gpu_offload", "max")),
        ("gpu=75%", ("gpu_offload", 0.75)),
        ("flash=on", ("flash_attention", True)),
        ("kv-on-gpu=off", ("offload_kv_cache_to_gpu", False)),
        ("ttl=", ("ttl_seconds", None)),
        ("identifier=my-model", ("identifier", "my-model")),
        ("write-defaults=yes", ("write_lmstudio_defaults", True)),
    ],
)
def test_parse_assignment(text: str, expected: tuple[str, object]) -> None:
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["nothing", "colour=red", "parallel=two", "flash=maybe", "gpu=2"])
def test_parse_assignment_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        parse_assignment(text)


def test_parse_gpu_and_describe() -> None:
    assert parse_gpu("off") == "off"
    assert parse_gpu("0.5") == 0.5
    assert describe_profile(LoadProfile()) == "LM Studio decides everything"
    text = describe_profile(LoadProfile(context_length=8192, gpu_offload=0.5, flash_attention=True))
    assert text == "context length 8,192, GPU offload 50%, flash attention on"
