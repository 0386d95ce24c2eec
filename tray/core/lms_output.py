"""What LM Studio's `lms` CLI prints, read into typed models — and what it means.

`lms` exit codes lie (FORMATS.md §1.13): `lms unload <unknown>` fails with exit 0, `lms
server stop` on a stopped server "fails" with exit 1. So every `read_*` function decides
from the text first (the sentences lms writes to stderr, the JSON it writes to stdout)
and from the exit code second, and turns failures into `tray.core.errors` that carry the
sentence lms printed, cleaned of colour codes, spinners and `Error:` prefixes.

The runner (`tray.services.lms_runner`) runs the process and hands over an `LmsResult`;
everything here is pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from tray.core.errors import (
    LmsCommandFailed,
    LmsError,
    LmsModelNotFound,
    LmsOutputError,
    LmStudioNotRunning,
)
from tray.core.tokens import TOKEN_PATTERN
from tray.core.words import quoted

__all__ = [
    "WAKES_LM_STUDIO",
    "DaemonState",
    "LmsCommand",
    "LmsDaemonStatus",
    "LmsLoadedModel",
    "LmsModel",
    "LmsModelVariants",
    "LmsResult",
    "LmsServerStatus",
    "LoadEstimate",
    "LoadOutcome",
    "LoadProgressReader",
    "ModelStatus",
    "ModelType",
    "Quantization",
    "ServerStartOutcome",
    "ServerStopOutcome",
    "UnloadOutcome",
    "clean_output",
    "parse_elapsed",
    "parse_size",
    "read_daemon_status",
    "read_estimate",
    "read_load",
    "read_ls",
    "read_ls_variants",
    "read_ps",
    "read_server_start",
    "read_server_status",
    "read_server_stop",
    "read_unload",
    "read_version",
]


# --- commands --------------------------------------------------------------------------


class LmsCommand(StrEnum):
    """The `lms` commands the tray runs; the value is the words after `lms`."""

    VERSION = "--version"
    SERVER_STATUS = "server status"
    DAEMON_STATUS = "daemon status"
    PS = "ps"
    LS = "ls"
    LOAD = "load"  # also `load --estimate-only`
    UNLOAD = "unload"
    SERVER_START = "server start"
    SERVER_STOP = "server stop"

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.value.split())

    @property
    def wakes_lm_studio(self) -> bool:
        return self in WAKES_LM_STUDIO


# Commands that create an API client and so launch LM Studio when it is not running
# (FORMATS.md §1.2). `server status` and `daemon status` never do, which is why they are
# the only ones status polling may use. `server stop` creates a client only after the
# HTTP server answered, i.e. when LM Studio is already up; `--version` needs no client.
WAKES_LM_STUDIO: frozenset[LmsCommand] = frozenset(
    {LmsCommand.PS, LmsCommand.LS, LmsCommand.LOAD, LmsCommand.UNLOAD, LmsCommand.SERVER_START}
)


class LmsResult(BaseModel):
    """One finished `lms` run, as the runner saw it."""

    model_config = ConfigDict(frozen=True)

    command: tuple[str, ...] = Field(description="argv after the executable")
    exit_code: int
    stdout: str = ""
    stderr: str = ""

    @property
    def display(self) -> str:
        return " ".join(("lms", *self.command))


# --- models ----------------------------------------------------------------------------


class _LmsJson(BaseModel):
    """camelCase JSON in, snake_case attributes out; fields we do not know are ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class ModelType(StrEnum):
    LLM = "llm"
    EMBEDDING = "embedding"


class ModelStatus(StrEnum):
    IDLE = "idle"
    PROCESSING_PROMPT = "processingPrompt"
    GENERATING = "generating"
    COMPUTING_EMBEDDING = "computingEmbedding"
    UNKNOWN = "unknown"  # a status a newer LM Studio reports that we do not know yet


class Quantization(_LmsJson):
    name: str
    bits: int | None = None


class LmsModel(_LmsJson):
    """A downloaded model, as `lms ls --json` lists it (FORMATS.md §1.5)."""

    type: ModelType
    model_key: str
    path: str
    size_bytes: int
    format: str | None = None
    display_name: str | None = None
    publisher: str | None = None
    indexed_model_identifier: str | None = None
    device_identifier: str | None = None  # None = this machine; else an LM Link device
    params_string: str | None = None
    architecture: str | None = None
    quantization: Quantization | None = None
    variants: tuple[str, ...] | None = None
    selected_variant: str | None = None
    vision: bool = False
    trained_for_tool_use: bool = False
    max_context_length: int | None = None


class LmsLoadedModel(LmsModel):
    """A loaded model instance, as `lms ps --json` lists it (FORMATS.md §1.4)."""

    identifier: str
    context_length: int | None = None
    ttl_ms: int | None = None
    last_used_time: int | None = None
    status: ModelStatus = ModelStatus.IDLE
    queued: int = 0
    parallel: int | None = None  # None for embedding models

    @field_validator("status", mode="before")
    @classmethod
    def _known_status(cls, value: object) -> object:
        # One unknown status must not make the whole list unreadable.
        return value if value in set(ModelStatus) else ModelStatus.UNKNOWN


class LmsModelVariants(_LmsJson):
    """One multi-variant model of `lms ls --variants --json`."""

    model: LmsModel
    variants: tuple[LmsModel, ...]


class LmsServerStatus(_LmsJson):
    """`lms server status --json`; `port` is absent when LM Studio has no server config."""

    running: bool
    port: int | None = None


class DaemonState(StrEnum):
    RUNNING = "running"
    NOT_RUNNING = "not-running"


class LmsDaemonStatus(_LmsJson):
    """`lms daemon status --json` (and `daemon up --json`, which adds `version`)."""

    status: DaemonState
    pid: int | None = None
    is_daemon: bool | None = None  # False: the LM Studio app itself, not llmster
    version: str | None = None

    @property
    def running(self) -> bool:
        return self.status is DaemonState.RUNNING


class LoadEstimate(BaseModel):
    """What `lms load --estimate-only` predicts (FORMATS.md §1.6)."""

    model_config = ConfigDict(frozen=True)

    model: str
    context_length: int | None = None  # only when -c was given
    gpu_offload_ratio: float | None = None  # only when --gpu was given
    gpu_memory_bytes: int
    total_memory_bytes: int
    confidence: Literal["high", "low"] = "high"
    passes_guardrails: bool


class LoadOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    identifier: str | None  # what the API's `model` field takes; None if lms did not say
    elapsed_seconds: float
    size_bytes: int | None = None
    device: str | None = None  # the LM Link device it loaded on; None: this computer


class UnloadOutcome(BaseModel):
    """What `lms unload` removed; empty when nothing was loaded."""

    model_config = ConfigDict(frozen=True)

    identifiers: tuple[str, ...] = ()
    count: int = 0


class ServerStartOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    port: int
    accepts_network: bool = False  # lms warned it listens beyond loopback
    warnings: tuple[str, ...] = ()


class ServerStopOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    was_running: bool
    port: int | None = None


# --- cleaning text ---------------------------------------------------------------------

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_BOX_EDGES = re.compile(r"^[\s\u2500-\u257f]+|[\s\u2500-\u257f]+$")
_SPINNER_LINE = re.compile(
    r"^[\u2800-\u28ff]|^Loading \S.*(?: [0-9]{1,3}(?:\.[0-9]+)?%| [\u2800-\u28ff])$"
)
# lms's logger (lmstudio-js SimpleLogger as lms's createLogger sets it up, lms
# src/logLevel.ts @ 07b7252d): warnings as `W <text>`, errors as `Error: <text>`, info
# without a prefix. `Warning:` is what older notes show; tolerate both.
_PREFIX = re.compile(r"^(?:(?i:error|warning|warn)\s*:\s*|W (?=\S))")
_STACK_LINE = re.compile(r"^at \S")
_MAX_MESSAGE = 600


def clean_output(text: str) -> str:
    """lms's human text as plain lines: no colour codes, spinner frames, error boxes,
    `Error:` prefixes, stack frames or token-shaped secrets."""
    lines: list[str] = []
    for raw in _ANSI.sub("", text).replace("\r\n", "\n").split("\n"):
        line = raw.rsplit("\r", 1)[-1]  # a spinner redraws its line after each \r
        line = _PREFIX.sub("", _BOX_EDGES.sub("", line))
        if _SPINNER_LINE.search(line) or _STACK_LINE.match(line) or line == "Error":
            continue
        if line or (lines and lines[-1]):
            lines.append(line)
    return TOKEN_PATTERN.sub("sk-lm-********", "\n".join(lines).strip())


def _compact(text: str) -> str:
    """Cleaned text as one paragraph short enough for a notification."""
    flat = " ".join(clean_output(text).split())
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 1].rstrip() + "…"


# --- numbers in text -------------------------------------------------------------------

_UNITS = {
    "B": 1, "BYTE": 1, "BYTES": 1,
    "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
    "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4,
}  # fmt: skip
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(Bytes?|B|[KMGT]i?B)\b", re.IGNORECASE)
_ELAPSED = re.compile(
    r"(?:(?P<h>[0-9]+)h\s*)?(?:(?P<m>[0-9]+)m\s*)?(?P<v>[0-9]+(?:\.[0-9]+)?)(?P<u>ms|s)"
)


def parse_size(text: str) -> int:
    """`4.68 GiB` (lms ≥ binary units) or `65.68 GB` (older, decimal) → bytes."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a size: {quoted(text)}")
    return round(float(match[1]) * _UNITS[match[2].upper()])


def parse_elapsed(text: str) -> float:
    """lms's `formatElapsedTime` (`850.00ms`, `9.10s`, `1m 2.34s`, `1h 0m 5.00s`) → seconds."""
    match = _ELAPSED.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an elapsed time: {quoted(text)}")
    value = float(match["v"]) / (1000 if match["u"] == "ms" else 1)
    return int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + value


# --- failure sentences -----------------------------------------------------------------

_E = TypeVar("_E", bound=LmsError)
_Rule = tuple[re.Pattern[str], type[LmsError], str | None]


def _rule(pattern: str, error: type[LmsError], title: str | None = None) -> _Rule:
    return re.compile(pattern, re.IGNORECASE | re.MULTILINE), error, title


# lms could not find or start LM Studio (FORMATS.md §1.2); any command may print these.
_NOT_RUNNING = re.compile(
    r"LM Studio daemon is not running and no valid installation could be found or installed\."
    r"|Timed out waiting for LM Studio daemon to start\."
    r"|Failed to start or connect to local LM Studio API server\."
    r"|Failed to connect to a local app\.",
    re.IGNORECASE,
)
_NOT_RUNNING_HINT = "Open LM Studio (or run `lms daemon up`) and try again."

_LOAD_FAILURES = (
    # `that matches model key "…"` (lms ≥ 2026-02), `that matches path "…"` (older),
    # `with path being exactly "…"` (--exact)
    _rule(r"^No model found (?:that matches|with) (?:model key|path).*$", LmsModelNotFound),
    _rule(r"^Model not found$", LmsModelNotFound),
    _rule(r"^.*\bNot a number\b.*$", LmsCommandFailed, "Invalid load option"),
    _rule(r"^.*Number out of range.*$", LmsCommandFailed, "Invalid load option"),
    _rule(r"^Load cancelled\.$", LmsCommandFailed, "Load cancelled"),
)
_UNLOAD_FAILURES = (
    _rule(r"^Cannot find a model with the identifier.*$", LmsModelNotFound),
    _rule(r"^Model Not Found$", LmsModelNotFound),
)
_START_FAILURES = (
    _rule(
        r"^Failed to verify the server is running\. Please try to use another port\.$",
        LmsCommandFailed,
        "Server did not start",
    ),
)


def _error(kind: type[_E], message: str, result: LmsResult, *, title: str | None = None) -> _E:
    return kind(
        message,
        title=title,
        command=result.command,
        stderr=clean_output(result.stderr),
        exit_code=result.exit_code,
    )


def _failure(result: LmsResult, rules: Iterable[_Rule] = ()) -> LmsError:
    """The error a failed run stands for: LM Studio unreachable, a known sentence, or
    whatever lms printed."""
    cleaned = clean_output(result.stderr)
    not_running = [m[0] for m in _NOT_RUNNING.finditer(cleaned)]
    if not_running:
        return _error(LmStudioNotRunning, " ".join([*not_running, _NOT_RUNNING_HINT]), result)
    for pattern, kind, title in rules:
        if match := pattern.search(cleaned):
            line = " ".join(match[0].split())
            if not line.endswith((".", "!", "?")):
                # A titled error's title ("Model not found") says little; its body says more.
                line = _compact(cleaned.replace(match[0], "", 1)) or line
            return _error(kind, line, result, title=title)
    said = _compact(cleaned) or _compact(result.stdout)
    if not said:
        return _error(
            LmsCommandFailed,
            f"`{result.display}` failed (exit code {result.exit_code}) and printed nothing.",
            result,
        )
    return _error(LmsCommandFailed, f"`{result.display}` failed: {said}", result)


def _unexpected(result: LmsResult, what: str) -> LmsOutputError:
    said = _compact(result.stdout) or _compact(result.stderr) or "nothing"
    return _error(
        LmsOutputError,
        f"`{result.display}` did not print {what} as expected (it printed: {said}). "
        "Your lms may be newer or older than this app supports.",
        result,
    )


# --- JSON commands ---------------------------------------------------------------------

_T = TypeVar("_T")

_PS = TypeAdapter(list[LmsLoadedModel])
_LS = TypeAdapter(list[LmsModel])
_LS_VARIANTS = TypeAdapter(list[LmsModelVariants])
_SERVER_STATUS = TypeAdapter(LmsServerStatus)
_DAEMON_STATUS = TypeAdapter(LmsDaemonStatus)


def _read_json(result: LmsResult, adapter: TypeAdapter[_T], what: str) -> _T:
    """stdout as the documented JSON (whatever the exit code), or the error the run
    stands for."""
    try:
        return adapter.validate_json(result.stdout.strip())
    except ValidationError:
        if result.exit_code != 0 or _NOT_RUNNING.search(clean_output(result.stderr)):
            raise _failure(result) from None
        raise _unexpected(result, what) from None


def read_ps(result: LmsResult) -> list[LmsLoadedModel]:
    """`lms ps --json`: the loaded models, LLMs first."""
    return _read_json(result, _PS, "a JSON list of loaded models")


def read_ls(result: LmsResult) -> list[LmsModel]:
    """`lms ls --json` (or `lms ls <key> --json`): downloaded models."""
    return _read_json(result, _LS, "a JSON list of models")


def read_ls_variants(result: LmsResult) -> list[LmsModelVariants]:
    """`lms ls --variants --json`: multi-variant models with their variants."""
    return _read_json(result, _LS_VARIANTS, "a JSON list of model variants")


def read_server_status(result: LmsResult) -> LmsServerStatus:
    """`lms server status --json`."""
    return _read_json(result, _SERVER_STATUS, "the server status as JSON")


def read_daemon_status(result: LmsResult) -> LmsDaemonStatus:
    """`lms daemon status --json` or `lms daemon up --json`."""
    return _read_json(result, _DAEMON_STATUS, "the daemon status as JSON")


def read_version(result: LmsResult) -> str:
    """`lms --version` → the CLI commit (or whatever version line a build prints)."""
    text = clean_output(f"{result.stdout}\n{result.stderr}")
    if match := re.search(r"CLI commit:\s*(\S+)", text):
        return match[1]
    if result.exit_code != 0:
        raise _failure(result)
    first = text.split("\n", 1)[0].strip()
    if not first:
        raise _unexpected(result, "a version")
    return first


# --- text commands ---------------------------------------------------------------------

_ESTIMATE_VERDICT = re.compile(
    r"This model (?P<verdict>may be loaded|will fail to load) based on your resource guardrails"
)
_ESTIMATE_FIELD = re.compile(r"^(?P<key>[A-Za-z][A-Za-z ]*?):\s*(?P<value>.+?)\s*$", re.MULTILINE)
_THOUSANDS = re.compile(r"[,.'’ \u00a0\u202f]")


def read_estimate(result: LmsResult) -> LoadEstimate:
    """`lms load --estimate-only`: exit 0 whether or not the model would fit, so the
    verdict sentence decides."""
    cleaned = clean_output(result.stderr)
    verdict = _ESTIMATE_VERDICT.search(cleaned)
    if verdict is None:
        if result.exit_code != 0 or not cleaned.startswith("Model:"):
            raise _failure(result, _LOAD_FAILURES)
        raise _unexpected(result, "an estimate")
    fields = {m["key"].strip(): m["value"] for m in _ESTIMATE_FIELD.finditer(cleaned)}
    try:
        context = fields.get("Context Length")
        gpu = fields.get("GPU Offload")
        return LoadEstimate(
            model=fields["Model"],
            context_length=int(_THOUSANDS.sub("", context)) if context else None,
            gpu_offload_ratio=float(gpu.rstrip("% ")) / 100 if gpu else None,
            gpu_memory_bytes=parse_size(fields["Estimated GPU Memory"]),
            total_memory_bytes=parse_size(fields["Estimated Total Memory"]),
            confidence="low" if fields.get("Confidence", "").upper() == "LOW" else "high",
            passes_guardrails=verdict["verdict"] == "may be loaded",
        )
    except (KeyError, ValueError, ValidationError):
        raise _unexpected(result, "an estimate") from None


_LOADED = re.compile(
    r"Model loaded successfully (?:on (?P<device>.+?) )?"  # `on <device>`: LM Link
    rf"in (?P<elapsed>{_ELAPSED.pattern})\.(?:\s*\((?P<size>[^)\n]*)\))?"
)
_IDENTIFIER = re.compile(r'use the identifier "(?P<id>.+)"')


# lms's Spinner (src/Spinner.ts @ 07b7252d) redraws `\r<text> <frame>` on stdout, the frame
# last; <text> is `Loading <key>[ on <device>] NN%` (lms ≥ 2026-02) or `Loading <path>`
# with no percentage (older). Older notes show the frame first; accept both.
_PROGRESS = re.compile(
    r"Loading \S.*? (?P<pct>[0-9]{1,3}(?:\.[0-9]+)?)%(?:\s*[\u2800-\u28ff])?\s*$"
)
_FRAME_END = re.compile(r"[\r\n]")


class LoadProgressReader:
    """Reads `lms load`'s spinner (`Loading <key> 57% ⠋`, redrawn after each `\\r`) as it
    arrives, in pieces that may split a frame anywhere.

    `feed` returns the new progress fractions (0–1) of the frames the text completed,
    only ever increasing: a frame is complete once the next `\\r` or newline arrives, so a
    half-written `1` of `100%` is never read as 1%.
    """

    def __init__(self) -> None:
        self._pending = ""
        self.last: float | None = None

    def feed(self, text: str) -> list[float]:
        *frames, self._pending = _FRAME_END.split(self._pending + text)
        found: list[float] = []
        for frame in frames:
            match = _PROGRESS.search(_ANSI.sub("", frame))
            if match is None:
                continue
            value = min(1.0, float(match["pct"]) / 100)
            if self.last is None or value > self.last:
                self.last = value
                found.append(value)
        return found


def read_load(result: LmsResult) -> LoadOutcome:
    """`lms load -y …`: `Model loaded successfully [on <device> ]in 9.10s.`, the size on the
    next line, and the identifier (src/subcommands/load.ts @ 07b7252d)."""
    cleaned = clean_output(result.stderr)
    loaded = _LOADED.search(" ".join(cleaned.split()))
    if loaded is None:
        raise _failure(result, _LOAD_FAILURES)
    identifier = _IDENTIFIER.search(cleaned)
    size = loaded["size"]
    try:
        size_bytes = parse_size(size) if size else None
    except ValueError:
        size_bytes = None  # the model loaded; an odd size string is no reason to fail
    return LoadOutcome(
        identifier=identifier["id"] if identifier else None,
        elapsed_seconds=parse_elapsed(loaded["elapsed"]),
        size_bytes=size_bytes,
        device=loaded["device"],
    )


_TARGET = r'"(?P<id>[^"\n]*)"(?: on [^\n]+?)?'  # `"<id>"`, or `"<id>" on <LM Link device>`
_UNLOADED_ONE = re.compile(rf"^Model {_TARGET} unloaded\.$", re.MULTILINE)
_UNLOADING = re.compile(rf"^Unloading {_TARGET}\.\.\.$", re.MULTILINE)
_UNLOADED_N = re.compile(r"^Unloaded (?P<n>[0-9]+) models?\.$", re.MULTILINE)
_NOTHING_LOADED = re.compile(
    r"^(?:No models to unload\.|You don't have any models loaded\..*)$", re.MULTILINE
)


def read_unload(result: LmsResult) -> UnloadOutcome:
    """`lms unload <id>` / `lms unload --all`.

    "Nothing was loaded" is a success with nothing unloaded, whichever way lms says it
    (`No models to unload.` exits 0, `You don't have any models loaded…` exits 1). An
    unknown identifier is an error although lms exits 0.
    """
    cleaned = clean_output(result.stderr)
    if match := _UNLOADED_ONE.search(cleaned):
        return UnloadOutcome(identifiers=(match["id"],), count=1)
    if match := _UNLOADED_N.search(cleaned):
        ids = tuple(m["id"] for m in _UNLOADING.finditer(cleaned))
        return UnloadOutcome(identifiers=ids, count=int(match["n"]))
    if _NOTHING_LOADED.search(cleaned) and not _NOT_RUNNING.search(cleaned):
        return UnloadOutcome()
    raise _failure(result, _UNLOAD_FAILURES)


_STARTED = re.compile(r"Success! Server is now running on port (?P<port>[0-9]{1,5})")
_NETWORK_WARNING = re.compile(r"^Server will accept connections from the network\..*$", re.M)
_CORS_WARNING = re.compile(r"^CORS is enabled\..*$", re.MULTILINE)


def read_server_start(result: LmsResult) -> ServerStartOutcome:
    """`lms server start`: `Success! Server is now running on port N`, plus its warnings."""
    cleaned = clean_output(result.stderr)
    started = _STARTED.search(cleaned)
    if started is None:
        raise _failure(result, _START_FAILURES)
    network = _NETWORK_WARNING.search(cleaned)
    warnings = tuple(m[0] for w in (_NETWORK_WARNING, _CORS_WARNING) for m in w.finditer(cleaned))
    return ServerStartOutcome(
        port=int(started["port"]), accepts_network=network is not None, warnings=warnings
    )


_STOPPED = re.compile(r"Stopped the server on port (?P<port>[0-9]{1,5})\.")
_NOT_STARTED = re.compile(r"^The server is not running\.$", re.MULTILINE)


def read_server_stop(result: LmsResult) -> ServerStopOutcome:
    """`lms server stop`: a server that was not running is no failure to the user (lms
    exits 1 for it), just nothing to do."""
    cleaned = clean_output(result.stderr)
    if match := _STOPPED.search(cleaned):
        return ServerStopOutcome(was_running=True, port=int(match["port"]))
    if _NOT_STARTED.search(cleaned) and not _NOT_RUNNING.search(cleaned):
        return ServerStopOutcome(was_running=False)
    raise _failure(result)
