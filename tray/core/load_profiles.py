"""Per-model load profiles: what to ask LM Studio for when the tray loads a model, and the
pure rules around it.

A `LoadProfile` holds load settings (context length, GPU offload, flash attention, …); a
field left as None means "not set: LM Studio decides". There is one default profile and
optional per-model overrides; `effective(default, override)` merges them.

LM Studio has two ways in and neither carries everything (FORMATS.md §1.6, §3.2):
`POST /api/v1/models/load` takes context length, eval batch size, flash attention, number
of experts and KV-cache offload; `lms load` takes GPU ratio, context length, parallel
slots, TTL and identifier. `plan_load` picks, per load, the path that carries every field
the profile sets (else the one that carries most) and names what could not be applied.
When the profile also writes LM Studio's own per-model default file (§2.5), the fields that
file can hold are applied by LM Studio itself on any path.

After a load, `check_loaded` compares what LM Studio reports with what was asked.
Before a load, `preflight` (`tray.core.preflight`, re-exported here) compares
`lms load --estimate-only` (corrected for parallel slots, which the estimate ignores) with
the free VRAM.

The mapping to LM Studio's `load.fields` keys (§2.4) keeps every field we do not know.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tray.core.api import LoadConfig, LoadRequest
from tray.core.errors import EndpointNotSupported
from tray.core.preflight import KvShape, Preflight, kv_bytes_per_token_from_estimates, preflight
from tray.core.restore import LoadedResult, load_outcome_text
from tray.core.words import plural, quoted

__all__ = [
    "DEFAULTS_FILE_FIELDS",
    "FIELD_KEYS",
    "FIELD_LABELS",
    "FIELD_WORDS",
    "LMS_FIELDS",
    "PROFILE_FIELDS",
    "REST_FIELDS",
    "GpuSetting",
    "KvShape",
    "LmsLoadArgs",
    "LoadPlan",
    "LoadProfile",
    "Mismatch",
    "Preflight",
    "ProfileLoadResult",
    "Unapplied",
    "check_loaded",
    "describe_profile",
    "effective",
    "format_gpu",
    "kv_bytes_per_token_from_estimates",
    "merge_default_config",
    "parse_assignment",
    "parse_gpu",
    "plan_load",
    "preflight",
    "profile_file_name",
    "profile_from_fields",
    "validate_profile",
]

GpuSetting = float | Literal["max", "off"]
LoadPath = Literal["rest", "lms"]

# Order is the order of forms, lists and CLI output.
PROFILE_FIELDS: tuple[str, ...] = (
    "context_length",
    "gpu_offload",
    "flash_attention",
    "offload_kv_cache_to_gpu",
    "eval_batch_size",
    "num_experts",
    "parallel",
    "ttl_seconds",
    "identifier",
)
FIELD_LABELS: Mapping[str, str] = {
    "context_length": "Context length",
    "gpu_offload": "GPU offload",
    "flash_attention": "Flash attention",
    "offload_kv_cache_to_gpu": "KV cache on GPU",
    "eval_batch_size": "Eval batch size",
    "num_experts": "Number of experts",
    "parallel": "Parallel slots",
    "ttl_seconds": "TTL",
    "identifier": "Identifier",
}
# The same, inside a sentence.
FIELD_WORDS: Mapping[str, str] = {
    "context_length": "context length",
    "gpu_offload": "GPU offload",
    "flash_attention": "flash attention",
    "offload_kv_cache_to_gpu": "KV cache on GPU",
    "eval_batch_size": "eval batch size",
    "num_experts": "experts",
    "parallel": "parallel slots",
    "ttl_seconds": "TTL",
    "identifier": "identifier",
}
# What each path carries (FORMATS.md §3.2 for REST, §1.6 for `lms load`).
REST_FIELDS: frozenset[str] = frozenset(
    {
        "context_length",
        "eval_batch_size",
        "flash_attention",
        "num_experts",
        "offload_kv_cache_to_gpu",
    }
)
LMS_FIELDS: frozenset[str] = frozenset(
    {"context_length", "gpu_offload", "parallel", "ttl_seconds", "identifier"}
)
# LM Studio's per-model default `load.fields` key of each field (§2.4); TTL and identifier
# are per load only, they have no key.
FIELD_KEYS: Mapping[str, str] = {
    "context_length": "llm.load.contextLength",
    "gpu_offload": "llm.load.llama.acceleration.offloadRatio",
    "flash_attention": "llm.load.llama.flashAttention",
    "offload_kv_cache_to_gpu": "llm.load.offloadKVCacheToGpu",
    "eval_batch_size": "llm.load.llama.evalBatchSize",
    "num_experts": "llm.load.numExperts",
    "parallel": "llm.load.numParallelSessions",
}
DEFAULTS_FILE_FIELDS: frozenset[str] = frozenset(FIELD_KEYS)


class LoadProfile(BaseModel):
    """Load settings; None everywhere means "LM Studio decides"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    context_length: int | None = Field(default=None, gt=0)
    gpu_offload: GpuSetting | None = None
    flash_attention: bool | None = None
    offload_kv_cache_to_gpu: bool | None = None
    eval_batch_size: int | None = Field(default=None, gt=0)
    num_experts: int | None = Field(default=None, gt=0)
    parallel: int | None = Field(default=None, ge=1)
    ttl_seconds: int | None = Field(default=None, ge=1)
    identifier: str | None = Field(default=None, min_length=1, max_length=200)
    write_lmstudio_defaults: bool = False

    @field_validator("gpu_offload")
    @classmethod
    def _ratio(cls, value: GpuSetting | None) -> GpuSetting | None:
        if isinstance(value, float | int) and not isinstance(value, bool):
            if not 0 <= value <= 1:
                raise ValueError("GPU offload must be between 0 and 1, max or off")
            return float(value)
        return value

    def set_fields(self) -> list[str]:
        """The fields this profile sets, in form order."""
        return [f for f in PROFILE_FIELDS if getattr(self, f) is not None]

    @property
    def is_empty(self) -> bool:
        return not self.set_fields() and not self.write_lmstudio_defaults

    def value_text(self, field: str) -> str:
        value = getattr(self, field)
        if value is None:
            return "not set"
        if field == "gpu_offload":
            return format_gpu(value)
        if isinstance(value, bool):
            return "on" if value else "off"
        if field == "ttl_seconds":
            return f"{value:,} s"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)


def format_gpu(value: GpuSetting) -> str:
    if value == "max" or value == "off":
        return str(value)
    return f"{float(value):.0%}"


def parse_gpu(text: str) -> GpuSetting:
    """`max`, `off`, a ratio 0–1 or a percentage (`75%`), as `lms load --gpu` reads it."""
    t = text.strip().lower()
    if t in ("max", "off"):
        return "max" if t == "max" else "off"
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise ValueError(f"{quoted(text)} is not max, off or a number between 0 and 1") from None
    if not 0 <= value <= 1:
        raise ValueError(f"{quoted(text)} is not between 0 and 1 (or 0% and 100%)")
    return value


def effective(default: LoadProfile, override: LoadProfile | None) -> LoadProfile:
    """The override's set fields over the default's. The default's identifier is never
    inherited (two models cannot share one); writing LM Studio's defaults is the
    override's choice when there is one."""
    base = default.model_dump(exclude={"identifier"})
    if override is None:
        return LoadProfile.model_validate(base)
    merged = {**base, **{f: getattr(override, f) for f in override.set_fields()}}
    merged["write_lmstudio_defaults"] = override.write_lmstudio_defaults
    return LoadProfile.model_validate(merged)


def validate_profile(
    values: Mapping[str, Any], *, is_default: bool, max_context: int | None = None
) -> dict[str, str]:
    """Field → sentence for each value that cannot be saved (empty: fine). For inline
    messages in forms and for the CLI. `max_context` is the model's longest context, when
    known (LM Studio refuses a load that asks for more)."""
    problems: dict[str, str] = {}
    for name in PROFILE_FIELDS:
        value = values.get(name)
        if value is None:
            continue
        try:
            LoadProfile.model_validate({name: value})
        except ValidationError as exc:
            detail = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            problems[name] = f"{FIELD_LABELS[name]}: {detail}."
    context = values.get("context_length")
    if (
        max_context is not None
        and "context_length" not in problems
        and isinstance(context, int)
        and context > max_context
    ):
        problems["context_length"] = (
            f"{FIELD_LABELS['context_length']}: this model takes at most {max_context:,} "
            "tokens; LM Studio would refuse to load it with more."
        )
    if is_default and values.get("identifier") is not None:
        problems["identifier"] = (
            "The default profile cannot set an identifier: every model would get the same "
            "one. Set it in a model's own profile."
        )
    return problems


def parse_assignment(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` of the CLI → (field, value); `KEY=` or `KEY=unset` clears the field.
    Keys are the field names (dashes allowed) or short forms (`context`, `gpu`, `ttl`)."""
    if "=" not in text:
        raise ValueError(f"{quoted(text)} is not KEY=VALUE")
    key, raw = (part.strip() for part in text.split("=", 1))
    name = _ALIASES.get(key.lower().replace("-", "_"), key.lower().replace("-", "_"))
    if name not in (*PROFILE_FIELDS, "write_lmstudio_defaults"):
        known = ", ".join((*PROFILE_FIELDS, "write_lmstudio_defaults"))
        raise ValueError(f"{quoted(key)} is not a load profile field (known: {known})")
    if raw.lower() in ("", "unset", "none", "default"):
        return name, None
    if name == "gpu_offload":
        return name, parse_gpu(raw)
    if name in ("flash_attention", "offload_kv_cache_to_gpu", "write_lmstudio_defaults"):
        if raw.lower() in ("on", "true", "yes", "1"):
            return name, True
        if raw.lower() in ("off", "false", "no", "0"):
            return name, False
        raise ValueError(f"{key}: {quoted(raw)} is not on or off")
    if name == "identifier":
        return name, raw
    try:
        return name, int(raw.replace(",", "").replace("_", ""))
    except ValueError:
        raise ValueError(f"{key}: {quoted(raw)} is not a whole number") from None


_ALIASES = {
    "context": "context_length",
    "ctx": "context_length",
    "gpu": "gpu_offload",
    "flash": "flash_attention",
    "kv_on_gpu": "offload_kv_cache_to_gpu",
    "kv_cache_on_gpu": "offload_kv_cache_to_gpu",
    "batch": "eval_batch_size",
    "experts": "num_experts",
    "ttl": "ttl_seconds",
    "write_defaults": "write_lmstudio_defaults",
}


def describe_profile(profile: LoadProfile) -> str:
    """One line: the fields a profile sets ("LM Studio decides everything" when none)."""
    parts = [f"{FIELD_WORDS[f]} {profile.value_text(f)}" for f in profile.set_fields()]
    text = ", ".join(parts) if parts else "LM Studio decides everything"
    if profile.write_lmstudio_defaults:
        text += "; also written as LM Studio's own default"
    return text


def profile_file_name(model_key: str | None) -> str:
    """Our file for a model's profile: readable, safe on every OS, and unique (a short
    hash of the key, since `a/b` and `a_b` would otherwise collide)."""
    if model_key is None:
        return "default.json"
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", model_key).strip("._")[:80] or "model"
    digest = hashlib.sha256(model_key.encode("utf-8")).hexdigest()[:8]
    return f"model-{readable}-{digest}.json"


# --- planning a load -------------------------------------------------------------------


class Unapplied(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    reason: str

    @property
    def sentence(self) -> str:
        return f"{FIELD_LABELS[self.field]} was not applied: {self.reason}"


class LmsLoadArgs(BaseModel):
    """The settings of one load, as they travel from a profile, a dialog, a restore point
    or the command line to `lms load` (all of them) or the REST API (context length
    only). Not validated here: `lms` itself refuses what it cannot take, in its words."""

    model_config = ConfigDict(frozen=True)

    gpu: GpuSetting | None = None
    context_length: int | None = None
    parallel: int | None = None
    ttl_seconds: int | None = None
    identifier: str | None = None

    def flags(self) -> list[str]:
        out: list[str] = []
        if self.gpu is not None:
            out += ["--gpu", self.gpu if isinstance(self.gpu, str) else f"{self.gpu:g}"]
        if self.context_length is not None:
            out += ["--context-length", str(self.context_length)]
        if self.parallel is not None:
            out += ["--parallel", str(self.parallel)]
        if self.ttl_seconds is not None:
            out += ["--ttl", str(self.ttl_seconds)]
        if self.identifier is not None:
            out += ["--identifier", self.identifier]
        return out

    def set_names(self) -> tuple[str, ...]:
        """The settings given, in the words a user knows (for "not applied: …")."""
        names = {
            "gpu": "GPU offload",
            "ttl_seconds": "TTL",
            "parallel": "parallel",
            "identifier": "identifier",
            "context_length": "context length",
        }
        return tuple(name for field, name in names.items() if getattr(self, field) is not None)


class LoadPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: LoadPath
    rest_request: LoadRequest | None = None
    lms_args: LmsLoadArgs | None = None
    via_defaults: tuple[str, ...] = ()  # applied through LM Studio's per-model default file
    unapplied: tuple[Unapplied, ...] = ()


def plan_load(
    profile: LoadProfile,
    *,
    model_key: str,
    rest_available: bool,
    lms_available: bool,
) -> LoadPlan:
    """Choose the path that carries every field `profile` sets; when none does, the one
    that carries most (`lms` on a tie: it shows progress), and say what is left out."""
    wanted = set(profile.set_fields())
    by_file = wanted & DEFAULTS_FILE_FIELDS if profile.write_lmstudio_defaults else set()
    paths: dict[LoadPath, frozenset[str]] = {}
    if lms_available:
        paths["lms"] = LMS_FIELDS
    if rest_available:
        paths["rest"] = REST_FIELDS
    if not paths:
        raise EndpointNotSupported(
            "This server can load models neither through its REST API nor through lms."
        )

    def left_out(path: LoadPath) -> set[str]:
        return wanted - paths[path] - by_file

    path: LoadPath = min(paths, key=lambda p: (len(left_out(p)), p != "lms"))
    carried = wanted & paths[path]
    unapplied = [
        Unapplied(field=f, reason=_why_not(f, path, paths))
        for f in PROFILE_FIELDS
        if f in left_out(path)
    ]
    values = {f: getattr(profile, f) for f in carried}
    if path == "rest":
        request = LoadRequest(model=model_key, echo_load_config=True, **values)
        return LoadPlan(
            path="rest",
            rest_request=request,
            via_defaults=tuple(f for f in PROFILE_FIELDS if f in by_file - carried),
            unapplied=tuple(unapplied),
        )
    args = LmsLoadArgs(
        gpu=values.get("gpu_offload"),
        context_length=values.get("context_length"),
        parallel=values.get("parallel"),
        ttl_seconds=values.get("ttl_seconds"),
        identifier=values.get("identifier"),
    )
    return LoadPlan(
        path="lms",
        lms_args=args,
        via_defaults=tuple(f for f in PROFILE_FIELDS if f in by_file - carried),
        unapplied=tuple(unapplied),
    )


def _why_not(field: str, path: LoadPath, paths: Mapping[LoadPath, frozenset[str]]) -> str:
    in_file = field in DEFAULTS_FILE_FIELDS
    hint = (
        ' Turn on "Also write LM Studio\'s own default for this model" to have LM Studio apply it.'
        if in_file
        else ""
    )
    if path == "lms":
        if "rest" in paths:
            return (
                "`lms load` has no flag for it, and the REST API (which has) cannot carry the "
                f"other settings of this profile.{hint}"
            )
        return f"`lms load` has no flag for it and the REST API is not available.{hint}"
    if "lms" in paths:
        return (
            "the REST API cannot set it, and `lms load` (which can) cannot carry the other "
            f"settings of this profile.{hint}"
        )
    return f"the REST API cannot set it and `lms` is not available here.{hint}"


# --- after a load ----------------------------------------------------------------------


class Mismatch(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    asked: Any
    got: Any
    sentence: str


def check_loaded(asked: LoadProfile, reported: LoadConfig | None) -> list[Mismatch]:
    """Differences between what we asked for and what LM Studio says it applied (only for
    fields both sides name)."""
    if reported is None:
        return []
    out: list[Mismatch] = []
    pairs = (
        ("context_length", reported.context_length),
        ("parallel", reported.parallel),
        ("eval_batch_size", reported.eval_batch_size),
        ("flash_attention", reported.flash_attention),
        ("num_experts", reported.num_experts),
        ("offload_kv_cache_to_gpu", reported.offload_kv_cache_to_gpu),
    )
    for name, got in pairs:
        want = getattr(asked, name)
        if want is None or got is None or want == got:
            continue
        out.append(Mismatch(field=name, asked=want, got=got, sentence=_mismatch(name, want, got)))
    return out


def _mismatch(name: str, want: Any, got: Any) -> str:
    if name == "context_length":
        why = (
            " (it lowers the context when the model's maximum or the free memory is smaller)"
            if got < want
            else ""
        )
        return f"LM Studio gave {got:,} tokens of context, not the {want:,} asked for{why}."
    if name == "parallel":
        return f"LM Studio runs {plural(got, 'parallel slot')}, not the {want} asked for."
    label = FIELD_LABELS[name]

    def show(v: Any) -> str:
        return ("on" if v else "off") if isinstance(v, bool) else f"{v:,}"

    return f"{label} is {show(got)}, not {show(want)} as asked."


# --- LM Studio's per-model default file ------------------------------------------------


def profile_from_fields(fields: Sequence[Any]) -> LoadProfile:
    """The profile a per-model default's `load.fields` describes (keys we do not map, and
    values of a shape we do not expect, are ignored)."""
    by_key = {FIELD_KEYS[f]: f for f in FIELD_KEYS}
    values: dict[str, Any] = {}
    for item in fields:
        # A key that is not a string (LM Studio never writes one) is skipped, not a crash.
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            continue
        if item["key"] not in by_key:
            continue
        name = by_key[item["key"]]
        value = item.get("value")
        if isinstance(value, dict) and "value" in value:  # checkbox shape, tolerated
            value = value["value"] if value.get("checked", True) else None
        try:
            values[name] = getattr(LoadProfile.model_validate({name: value}), name)
        except ValidationError:
            continue
    return LoadProfile.model_validate(values)


def merge_default_config(
    document: Mapping[str, Any] | None, profile: LoadProfile
) -> dict[str, Any]:
    """LM Studio's per-model default document with the profile's set fields written into
    `load.fields`: existing items keep their place (values replaced), new ones are
    appended, and everything else — `preset`, `operation`, unknown keys and fields, fields
    the profile leaves unset — is kept as it was."""
    doc: dict[str, Any] = (
        dict(document) if document else {"preset": "", "operation": {"fields": []}}
    )
    load = doc.get("load")
    load = dict(load) if isinstance(load, dict) else {}
    items = load.get("fields")
    items = list(items) if isinstance(items, list) else []
    wanted = {FIELD_KEYS[f]: getattr(profile, f) for f in profile.set_fields() if f in FIELD_KEYS}
    out: list[Any] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("key"), str) and item["key"] in wanted:
            out.append({**item, "value": wanted.pop(item["key"])})
        else:
            out.append(item)
    out.extend({"key": key, "value": value} for key, value in wanted.items())
    load["fields"] = out
    doc["load"] = load
    return doc


# --- the outcome of a load with a profile ----------------------------------------------


class ProfileLoadResult(BaseModel):
    """How a load with a profile went: the load itself, which path carried it, and what
    did not come out as asked."""

    model_config = ConfigDict(frozen=True)

    loaded: LoadedResult
    profile: LoadProfile
    path: LoadPath | None  # None: the model was loaded already, nothing was loaded
    via_defaults: tuple[str, ...] = ()
    unapplied: tuple[Unapplied, ...] = ()
    mismatches: tuple[Mismatch, ...] = ()
    defaults_written: tuple[str, ...] = ()  # LM Studio default files we wrote
    defaults_error: str | None = None  # why writing them failed

    @property
    def ok(self) -> bool:
        """Everything asked for was applied as asked."""
        return not self.unapplied and not self.mismatches and self.defaults_error is None

    def sentences(self) -> list[str]:
        # The mismatch sentences say the context shortfall, so the base text does not.
        base = self.loaded.model_copy(update={"requested_context_length": None, "not_applied": ()})
        out = [load_outcome_text(base)]
        out += [m.sentence for m in self.mismatches]
        out += [u.sentence for u in self.unapplied]
        if self.via_defaults:
            names = ", ".join(FIELD_WORDS[f] for f in self.via_defaults)
            out.append(f"Applied through LM Studio's own default for this model: {names}.")
        if self.defaults_error is not None:
            out.append(f"LM Studio's own default was not written: {self.defaults_error}")
        return out

    def text(self) -> str:
        return " ".join(self.sentences())
