"""The parsers of `lms` output against recorded outputs (tests/fixtures/lms/), and the
rule that decides success from lms's text before its exit code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray.core.errors import (
    LmsCommandFailed,
    LmsError,
    LmsModelNotFound,
    LmsOutputError,
    LmStudioNotRunning,
)
from tray.core.lms_output import (
    WAKES_LM_STUDIO,
    DaemonState,
    LmsCommand,
    LmsResult,
    LoadProgressReader,
    ModelStatus,
    ModelType,
    clean_output,
    parse_elapsed,
    parse_size,
    read_daemon_status,
    read_estimate,
    read_load,
    read_ls,
    read_ls_variants,
    read_ps,
    read_server_start,
    read_server_status,
    read_server_stop,
    read_unload,
    read_version,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "lms"
GIB = 1024**3
TOKEN = "sk-lm-Ab3dEf7h:Zq8xWv2bNm4kLp6rTs1u"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def stdout(name: str, exit_code: int = 0) -> LmsResult:
    return LmsResult(command=("test",), exit_code=exit_code, stdout=fixture(name))


def stderr(name: str, exit_code: int = 0) -> LmsResult:
    return LmsResult(command=("test",), exit_code=exit_code, stderr=fixture(name))


# --- JSON commands ---------------------------------------------------------------------


def test_ps_reads_llms_and_embeddings() -> None:
    llm, mlx, embedding = read_ps(stdout("ps-populated.json"))

    assert (llm.identifier, llm.model_key, llm.type) == ("qwen/qwen3-4b", "qwen/qwen3-4b", "llm")
    assert (llm.status, llm.queued, llm.parallel) == (ModelStatus.GENERATING, 2, 4)
    assert (llm.context_length, llm.max_context_length, llm.ttl_ms) == (16384, 40960, None)
    assert llm.quantization is not None and llm.quantization.bits == 4
    assert llm.trained_for_tool_use and not llm.vision
    assert (mlx.identifier, mlx.ttl_ms, mlx.last_used_time) == ("coder", 3_600_000, None)
    assert mlx.status is ModelStatus.PROCESSING_PROMPT
    assert mlx.format == "safetensors" and mlx.selected_variant == "qwen/qwen3.5-35b-a3b@4bit"
    assert embedding.type is ModelType.EMBEDDING
    assert (embedding.status, embedding.parallel) == (ModelStatus.COMPUTING_EMBEDDING, None)
    assert embedding.params_string is None


def test_ps_empty() -> None:
    assert read_ps(stdout("ps-empty.json")) == []


def test_ps_tolerates_a_status_it_does_not_know() -> None:
    text = fixture("ps-populated.json").replace('"generating"', '"warmingUp"')
    loaded = read_ps(LmsResult(command=("ps",), exit_code=0, stdout=text))
    assert loaded[0].status is ModelStatus.UNKNOWN


def test_ps_without_a_required_field_is_an_output_error() -> None:
    text = fixture("ps-populated.json").replace('"identifier":', '"renamed":')
    with pytest.raises(LmsOutputError, match="did not print a JSON list of loaded models"):
        read_ps(LmsResult(command=("ps", "--json"), exit_code=0, stdout=text))


def test_ls_reads_local_and_lm_link_models() -> None:
    models = read_ls(stdout("ls-populated.json"))
    assert [m.model_key for m in models] == [
        "qwen/qwen3-4b",
        "qwen/qwen3.5-35b-a3b",
        "google/gemma-3-12b",
        "text-embedding-nomic-embed-text-v1.5",
    ]
    assert [m.device_identifier for m in models] == [None, None, "lmlink-7f3a9c", None]
    assert models[1].variants == ("qwen/qwen3.5-35b-a3b@4bit", "qwen/qwen3.5-35b-a3b@8bit")
    assert models[3].type is ModelType.EMBEDDING and models[3].max_context_length == 2048
    assert read_ls(stdout("ls-empty.json")) == []


def test_ls_variants() -> None:
    (entry,) = read_ls_variants(stdout("ls-variants.json"))
    assert entry.model.model_key == "qwen/qwen3.5-35b-a3b"
    assert [v.size_bytes for v in entry.variants] == [19735285760, 37580963840]


@pytest.mark.parametrize(
    ("name", "running", "port"),
    [
        ("server-status-running.json", True, 1234),
        ("server-status-running-compact.json", True, 1234),
        ("server-status-no-config.json", False, None),
    ],
)
def test_server_status(name: str, running: bool, port: int | None) -> None:
    status = read_server_status(stdout(name))
    assert (status.running, status.port) == (running, port)


@pytest.mark.parametrize(
    ("name", "state", "pid", "is_daemon", "version"),
    [
        ("daemon-status-not-running.json", DaemonState.NOT_RUNNING, None, None, None),
        ("daemon-status-running.json", DaemonState.RUNNING, 12345, True, None),
        ("daemon-up.json", DaemonState.RUNNING, 26754, True, "0.4.4+1"),
    ],
)
def test_daemon_status(
    name: str, state: DaemonState, pid: int | None, is_daemon: bool | None, version: str | None
) -> None:
    status = read_daemon_status(stdout(name))
    assert (status.status, status.pid, status.is_daemon, status.version) == (
        state,
        pid,
        is_daemon,
        version,
    )
    assert status.running is (state is DaemonState.RUNNING)


def test_json_command_that_failed_says_why() -> None:
    result = stderr("not-running-no-install.txt", exit_code=1)
    with pytest.raises(LmStudioNotRunning, match="no valid installation could be found"):
        read_ps(result)


def test_json_command_with_prose_on_stdout_is_an_output_error() -> None:
    result = LmsResult(command=("ps", "--json"), exit_code=0, stdout="LOADED MODELS\n")
    with pytest.raises(LmsOutputError, match=r"`lms ps --json` did not print.*LOADED MODELS"):
        read_ps(result)


def test_version() -> None:
    assert read_version(stdout("version.txt")) == "07b7252"


# --- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4.68 GiB", round(4.68 * GIB)),
        ("512.00 MiB", 512 * 1024**2),
        ("1.00 KiB", 1024),
        ("2.00 TiB", 2 * 1024**4),
        ("65.68 GB", 65_680_000_000),
        ("12.50 MB", 12_500_000),
        ("7 KB", 7000),
        ("812 Bytes", 812),
        ("3 B", 3),
    ],
)
def test_size_binary_and_decimal_units(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("850.00ms", 0.85),
        ("9.10s", 9.1),
        ("1m 2.34s", 62.34),
        ("1h 0m 5.00s", 3605.0),
    ],
)
def test_elapsed_time_formats(text: str, seconds: float) -> None:
    assert parse_elapsed(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "4.68", "GiB", "4,68 GiB", "4.68 GiBs", "-1 GB"])
def test_size_rejects_what_it_does_not_know(bad: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(bad)


@pytest.mark.parametrize("bad", ["", "9.10", "1x 2s", "2s 1m", "-3s"])
def test_elapsed_rejects_what_it_does_not_know(bad: str) -> None:
    with pytest.raises(ValueError, match="not an elapsed time"):
        parse_elapsed(bad)


# --- estimate --------------------------------------------------------------------------


def test_estimate_older_build_in_decimal_gb() -> None:
    estimate = read_estimate(stderr("load-estimate-only-gb.txt"))
    assert estimate.model == "openai/gpt-oss-120b"
    assert estimate.gpu_memory_bytes == estimate.total_memory_bytes == 65_680_000_000
    assert (estimate.context_length, estimate.gpu_offload_ratio) == (None, None)
    assert (estimate.confidence, estimate.passes_guardrails) == ("high", True)


def test_estimate_current_build_in_gib_that_will_fail() -> None:
    estimate = read_estimate(stderr("load-estimate-only-gib-fails.txt"))
    assert estimate.model == "qwen/qwen3.5-35b-a3b"
    assert estimate.context_length == 131072
    assert estimate.gpu_offload_ratio == pytest.approx(0.5)
    assert estimate.gpu_memory_bytes == round(27.54 * GIB)
    assert estimate.total_memory_bytes == round(51.38 * GIB)
    assert (estimate.confidence, estimate.passes_guardrails) == ("low", False)


def test_estimate_in_mib_with_dotted_thousands() -> None:
    estimate = read_estimate(stderr("load-estimate-only-gib-fits.txt"))
    assert estimate.context_length == 2048
    assert estimate.gpu_memory_bytes == round(96.5 * 1024**2)
    assert estimate.passes_guardrails


def test_estimate_of_unknown_model() -> None:
    with pytest.raises(LmsModelNotFound, match='matches model key "nope/nothing"'):
        read_estimate(stderr("load-model-not-found.txt", exit_code=1))


def test_estimate_without_sizes_is_an_output_error() -> None:
    text = fixture("load-estimate-only-gb.txt").replace("Estimated GPU Memory", "GPU Memory")
    result = LmsResult(command=("load",), exit_code=0, stderr=text)
    with pytest.raises(LmsOutputError, match="did not print an estimate"):
        read_estimate(result)


# --- load ------------------------------------------------------------------------------


def test_load_success_with_the_spinner_on_stdout() -> None:
    result = LmsResult(
        command=("load",),
        exit_code=0,
        stdout=fixture("load-success.stdout.txt"),
        stderr=fixture("load-success.txt"),
    )
    outcome = read_load(result)
    assert outcome.identifier == "qwen/qwen3-4b"
    assert outcome.elapsed_seconds == pytest.approx(9.1)
    assert outcome.size_bytes == round(2.33 * GIB)
    assert outcome.device is None


def test_load_success_over_several_lines_after_a_warning() -> None:
    outcome = read_load(stderr("load-success-long.txt"))
    assert (outcome.identifier, outcome.elapsed_seconds) == ("my model:2", 3605.0)
    assert outcome.size_bytes == 19_740_000_000


def test_load_success_on_an_lm_link_device() -> None:
    """lms names the device when the model loaded on another machine (LM Link)."""
    outcome = read_load(stderr("load-success-link.txt"))
    assert (outcome.identifier, outcome.device) == ("openai/gpt-oss-20b", "Studio Mac")
    assert outcome.elapsed_seconds == pytest.approx(62.34)
    assert outcome.size_bytes == round(11.27 * GIB)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("load-success.stdout.txt", [0.0, 0.12, 0.57, 1.0]),
        ("load-success-older.stdout.txt", []),  # older lms shows no percentage
    ],
)
def test_progress_from_lms_spinner_on_stdout(name: str, expected: list[float]) -> None:
    assert LoadProgressReader().feed(fixture(name)) == expected


@pytest.mark.parametrize(
    ("name", "error", "title", "sentence"),
    [
        (
            "load-model-not-found.txt",
            LmsModelNotFound,
            "Model not found",
            'No model found that matches model key "nope/nothing".',
        ),
        (
            "load-model-not-found-exact.txt",
            LmsModelNotFound,
            "Model not found",
            'No model found with path being exactly "nope/nothing.gguf".',
        ),
        (
            "load-model-not-found-boxed.txt",
            LmsModelNotFound,
            "Model not found",
            'No model found that matches path "nope/nothing".',
        ),
        (
            "load-gpu-not-a-number.txt",
            LmsCommandFailed,
            "Invalid load option",
            "option '--gpu <offload-ratio>' argument 'lots' is invalid. Not a number",
        ),
        (
            "load-gpu-out-of-range.txt",
            LmsCommandFailed,
            "Invalid load option",
            "option '--gpu <offload-ratio>' argument '1.5' is invalid. "
            "Number out of range, must be between 0 and 1",
        ),
        ("load-cancelled.txt", LmsCommandFailed, "Load cancelled", "Load cancelled."),
    ],
)
def test_load_failures_carry_what_lms_said(
    name: str, error: type[LmsError], title: str, sentence: str
) -> None:
    with pytest.raises(error) as caught:
        read_load(stderr(name, exit_code=1))
    assert type(caught.value) is error
    assert (caught.value.title, caught.value.message) == (title, sentence)
    assert caught.value.exit_code == 1
    assert "\x1b" not in caught.value.stderr


def test_load_failure_lms_did_not_explain() -> None:
    result = LmsResult(command=("load", "x"), exit_code=1, stderr="")
    with pytest.raises(LmsCommandFailed, match=r"`lms load x` failed \(exit code 1\)"):
        read_load(result)


def test_uncaught_error_keeps_the_message_not_the_stack() -> None:
    with pytest.raises(LmsCommandFailed) as caught:
        read_load(stderr("uncaught-error.txt", exit_code=1))
    assert caught.value.message == "`lms test` failed: connect ECONNREFUSED 127.0.0.1:41343"


# --- unload ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "exit_code", "identifiers", "count"),
    [
        ("unload-one.txt", 0, ("qwen/qwen3-4b",), 1),
        ("unload-one-remote.txt", 0, ("google/gemma-3-12b",), 1),
        (
            "unload-all.txt",
            0,
            ("qwen/qwen3-4b", "coder", "text-embedding-nomic-embed-text-v1.5"),
            3,
        ),
        ("unload-all-one.txt", 0, ("coder",), 1),
        ("unload-all-none.txt", 0, (), 0),
        ("unload-nothing-loaded.txt", 1, (), 0),  # exit 1, yet nothing is left loaded
    ],
)
def test_unload_outcomes(
    name: str, exit_code: int, identifiers: tuple[str, ...], count: int
) -> None:
    outcome = read_unload(stderr(name, exit_code))
    assert (outcome.identifiers, outcome.count) == (identifiers, count)


def test_unload_of_unknown_identifier_fails_although_lms_exits_0() -> None:
    with pytest.raises(LmsModelNotFound) as caught:
        read_unload(stderr("unload-not-found.txt", exit_code=0))
    assert caught.value.message == 'Cannot find a model with the identifier "ghost".'
    assert caught.value.exit_code == 0


def test_unload_invalid_usage_fails_although_lms_exits_0() -> None:
    with pytest.raises(LmsCommandFailed, match="You cannot provide"):
        read_unload(stderr("unload-invalid-usage.txt", exit_code=0))


# --- server ----------------------------------------------------------------------------


def test_server_start() -> None:
    outcome = read_server_start(stderr("server-start.txt"))
    assert (outcome.port, outcome.accepts_network, outcome.warnings) == (1234, False, ())


def test_server_start_on_the_network_warns() -> None:
    outcome = read_server_start(stderr("server-start-network.txt"))
    assert (outcome.port, outcome.accepts_network) == (8080, True)
    assert outcome.warnings == (
        "Server will accept connections from the network. "
        "Only use this if you know what you are doing!",
        "CORS is enabled. This means any website you visit can use the LM Studio server.",
    )


def test_server_start_on_a_busy_port() -> None:
    with pytest.raises(LmsCommandFailed) as caught:
        read_server_start(stderr("server-start-failed.txt", exit_code=1))
    assert caught.value.title == "Server did not start"
    assert caught.value.message == (
        "Failed to verify the server is running. Please try to use another port."
    )


def test_server_stop() -> None:
    outcome = read_server_stop(stderr("server-stop.txt"))
    assert (outcome.was_running, outcome.port) == (True, 1234)


def test_server_stop_when_not_running_is_nothing_to_do_despite_exit_1() -> None:
    outcome = read_server_stop(stderr("server-stop-not-running.txt", exit_code=1))
    assert (outcome.was_running, outcome.port) == (False, None)


# --- LM Studio not running -------------------------------------------------------------

READERS: list[Callable[[LmsResult], Any]] = [
    read_ps,
    read_ls,
    read_ls_variants,
    read_server_status,
    read_daemon_status,
    read_version,
    read_estimate,
    read_load,
    read_unload,
    read_server_start,
    read_server_stop,
]


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("not-running-no-install.txt", "no valid installation could be found or installed."),
        ("not-running-timeout.txt", "Timed out waiting for LM Studio daemon to start."),
    ],
)
def test_lm_studio_not_running(read: Callable[[LmsResult], Any], name: str, sentence: str) -> None:
    with pytest.raises(LmStudioNotRunning) as caught:
        read(stderr(name, exit_code=1))
    assert sentence in caught.value.message
    assert "Failed to start or connect to local LM Studio API server." in caught.value.message
    assert caught.value.message.endswith("and try again.")


# --- cleaning --------------------------------------------------------------------------


def test_clean_output_removes_terminal_decoration() -> None:
    assert clean_output(fixture("load-model-not-found-boxed.txt")) == (
        'Model not found\n\nNo model found that matches path "nope/nothing".'
    )
    assert clean_output("\x1b[33mWarning:\x1b[39m Load cancelled.\r\n") == "Load cancelled."
    # lms's logger prefixes warnings with `W ` (coloured on a terminal), errors `Error:`
    assert clean_output("\x1b[93mW\x1b[39m Load cancelled.\n") == "Load cancelled."
    assert clean_output("W Load cancelled.\nError: x\nWe keep this.") == (
        "Load cancelled.\nx\nWe keep this."
    )


def test_clean_output_never_keeps_a_token() -> None:
    cleaned = clean_output(f"Error: bad header Authorization: Bearer {TOKEN}\n")
    assert TOKEN not in cleaned
    assert "sk-lm-********" in cleaned


def test_failure_messages_never_carry_a_token() -> None:
    result = LmsResult(command=("ps",), exit_code=1, stderr=f"Error: rejected {TOKEN}\n")
    with pytest.raises(LmsCommandFailed) as caught:
        read_ps(result)
    assert TOKEN not in caught.value.message
    assert TOKEN not in caught.value.stderr


# --- the command table -----------------------------------------------------------------


def test_only_status_commands_never_wake_lm_studio() -> None:
    assert not LmsCommand.SERVER_STATUS.wakes_lm_studio
    assert not LmsCommand.DAEMON_STATUS.wakes_lm_studio
    assert {LmsCommand.PS, LmsCommand.LS, LmsCommand.LOAD, LmsCommand.UNLOAD} <= WAKES_LM_STUDIO
    assert LmsCommand.SERVER_START.wakes_lm_studio
    assert LmsCommand.SERVER_STATUS.words == ("server", "status")


# --- arbitrary text --------------------------------------------------------------------

# Text that looks a bit like lms output, so hypothesis reaches past the first regex.
lms_like = st.one_of(
    st.text(),
    st.sampled_from([fixture(p.name) for p in sorted(FIXTURES.iterdir()) if p.suffix != ".md"]),
    st.lists(
        st.sampled_from(
            [
                "Model: x",
                "Context Length: 1,2,3",
                "GPU Offload: abc%",
                "Estimated GPU Memory: 99999999999999999999 GiB",
                "Estimated Total Memory: 1 GB",
                "Estimate: This model may be loaded based on your resource guardrails settings.",
                "Model loaded successfully in 1h 2m 3.00s. (nan GiB)",
                'use the identifier ""',
                "Unloaded 99999999999999999999999 models.",
                'Model "" unloaded.',
                "Success! Server is now running on port 99999",
                "Stopped the server on port 0.",
                "Model not found",
                "[",
                '[{"type":"llm"}]',
                '{"running": "yes"}',
                '{"status": "running", "pid": 1e400}',
                "\x1b[2K\r⠋",
            ]
        )
    ).map("\n".join),
)


@given(out=lms_like, err=lms_like, exit_code=st.integers(-255, 255))
def test_readers_raise_only_our_errors(out: str, err: str, exit_code: int) -> None:
    result = LmsResult(command=("x",), exit_code=exit_code, stdout=out, stderr=err)
    messages = []
    for read in READERS:
        try:
            read(result)
        except LmsError as error:
            messages.append(error.message)
    assert all(messages)  # every error carries a sentence for the user
