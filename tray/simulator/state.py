"""The simulated LM Studio's state: downloaded models, loaded instances, auth, switches,
stored conversations, download jobs and a log of requests — shared by the HTTP API, the
internal control server (what `lms` talks to) and tests, under one lock.

Tests wait on state changes with `wait_until` instead of sleeping.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from tray.simulator.catalog import SEED_MODELS, CatalogModel, downloaded_model_from_name
from tray.simulator.log_events import LogBook, server_log

logger = logging.getLogger(__name__)

__all__ = ["DownloadJob", "Instance", "Reply", "SimError", "SimState", "v1_error"]

GUARDRAIL_BYTES = 48 * 1024**3  # "high" guardrails on a simulated 64 GB machine
DOWNLOAD_SECONDS = 1.0
JIT_TTL_SECONDS = 3600.0  # LM Studio's default "Auto Unload Unused JIT Models" TTL
VERSION = "0.4.6-sim"


def v1_error(
    message: str, *, type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """A native v1 error object (FORMATS §3.7)."""
    error: dict[str, Any] = {"type": type, "message": message}
    if code is not None:
        error["code"] = code
    if param is not None:
        error["param"] = param
    return {"error": error}


class SimError(Exception):
    """A request the simulated LM Studio refuses: HTTP status + JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body

    @property
    def message(self) -> str:
        error = self.body.get("error")
        return str(error.get("message")) if isinstance(error, dict) else str(error)


def model_not_found(model: str) -> SimError:
    return SimError(
        404,
        v1_error(
            f'Model "{model}" not found. Check the key with GET /api/v1/models or "lms ls".',
            type="model_not_found",
            code="model_not_found",
            param="model",
        ),
    )


def require_model(body: dict[str, Any]) -> str:
    """The request's `model`, or the documented 400 when it is missing."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise SimError(
            400,
            v1_error(
                '"model" is required',
                type="invalid_request",
                code="missing_required_parameter",
                param="model",
            ),
        )
    return model


class Reply(BaseModel):
    """What the next chat answers (used once). `text=None` keeps the default text."""

    text: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    fail_tool: str | None = None


@dataclass
class Instance:
    """One loaded model instance."""

    identifier: str
    model: CatalogModel
    context_length: int
    parallel: int | None
    ttl_seconds: float | None
    gpu_ratio: float = 1.0
    flash_attention: bool = True
    eval_batch_size: int = 512
    offload_kv_cache_to_gpu: bool = True
    status: str = "idle"
    queued: int = 0
    last_used: float = field(default_factory=time.monotonic)
    last_used_unix_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def touch(self) -> None:
        self.last_used = time.monotonic()
        self.last_used_unix_ms = int(time.time() * 1000)

    def ttl_left(self, now: float) -> float | None:
        if self.ttl_seconds is None:
            return None
        return max(0.0, self.ttl_seconds - (now - self.last_used))

    def load_config(self) -> dict[str, Any]:
        """The applied keys, as `loaded_instances[].config` and `echo_load_config` show."""
        if not self.model.is_llm:
            return {"context_length": self.context_length}
        if self.model.format == "mlx":  # observed: MLX echoes only these two
            return {"context_length": self.context_length, "parallel": self.parallel}
        config: dict[str, Any] = {
            "context_length": self.context_length,
            "eval_batch_size": self.eval_batch_size,
            "parallel": self.parallel,
            "flash_attention": self.flash_attention,
        }
        if self.model.num_experts is not None:
            config["num_experts"] = self.model.num_experts
        config["offload_kv_cache_to_gpu"] = self.offload_kv_cache_to_gpu
        return config

    def lms_json(self) -> dict[str, Any]:
        """One element of `lms ps --json` (FORMATS §1.4)."""
        info = self.model.lms_json()
        max_context = info.pop("maxContextLength")
        info |= {
            "identifier": self.identifier,
            "ttlMs": None if self.ttl_seconds is None else int(self.ttl_seconds * 1000),
            "lastUsedTime": self.last_used_unix_ms,
            "maxContextLength": max_context,
            "contextLength": self.context_length,
            "status": self.status,
            "queued": self.queued,
            "parallel": self.parallel,
        }
        return info


@dataclass
class DownloadJob:
    job_id: str
    model: str
    total_size_bytes: int
    started: float
    started_at: str
    completed_at: str | None = None

    def progress(self, now: float) -> float:
        return min(1.0, (now - self.started) / DOWNLOAD_SECONDS)


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Conversation:
    turns: list[tuple[str, str]]  # (user text, assistant text)


class SimState:
    """Everything the simulated LM Studio knows. All public methods are thread-safe."""

    def __init__(
        self,
        *,
        seed_models: bool = True,
        tokens_per_second: float = 200.0,
        load_seconds: float = 0.2,
        auth_token: str | None = None,
    ) -> None:
        self._cond = threading.Condition(threading.RLock())
        self.catalog: dict[str, CatalogModel] = (
            {m.key: m for m in SEED_MODELS} if seed_models else {}
        )
        self.instances: dict[str, Instance] = {}
        self.tokens_per_second = tokens_per_second
        self.load_seconds = load_seconds
        self._auth_token = auth_token
        self.jit = True
        # The demo's showroom: answers chosen by the question (simulator/answers.py),
        # paced like a real model (a first-token delay, tens of tokens per second).
        self.showroom = False
        self.greeting_requires_auth = False
        self.openai_reasoning_field: Literal["reasoning", "reasoning_content", "think_tags"] = (
            "reasoning"
        )
        self.estimate_units: Literal["GiB", "GB"] = "GiB"
        # When set, loads get at most this much context whatever they ask for, without a
        # word — as LM Studio does when memory runs short (DESIGN.md §3, "allocated vs
        # requested").
        self.context_cap: int | None = None
        self.next_reply: Reply | None = None
        self._requests: list[tuple[str, str, bool]] = []
        # Every chat body accepted (path, body), so a test sees what the client sent.
        self.chat_bodies: list[tuple[str, dict[str, Any]]] = []
        self.cancelled_streams = 0
        self.conversations: dict[str, Conversation] = {}
        self.downloads: dict[str, DownloadJob] = {}
        self._job_ids = itertools.count(1)
        self.log = LogBook()  # what `lms log stream` shows (FORMATS §1.10)

    # --- locking and waiting ----------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state lock; waiters are woken when the block ends."""
        with self._cond:
            yield
            self._cond.notify_all()

    def wait_until(self, predicate: Callable[[SimState], bool], timeout: float = 10.0) -> bool:
        """Block until `predicate(state)` holds (re-checked on every change); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # Changes made by plain attribute assignment do not notify: re-check often.
                self._cond.wait(min(left, 0.05))
            return True

    # --- auth and request log -----------------------------------------------------------

    @property
    def auth_token(self) -> str | None:
        return self._auth_token

    def set_auth(self, token: str | None) -> None:
        with self.locked():
            self._auth_token = token

    def record_request(self, method: str, path: str, had_authorization: bool) -> None:
        with self.locked():
            self._requests.append((method, path, had_authorization))
        self.log.add(server_log("debug", f"Received request: {method} to {path}"))

    @property
    def requests(self) -> list[tuple[str, str, bool]]:
        with self._cond:
            return list(self._requests)

    def stream_cancelled(self) -> None:
        with self.locked():
            self.cancelled_streams += 1

    def take_reply(self) -> Reply | None:
        with self.locked():
            reply, self.next_reply = self.next_reply, None
            return reply

    # --- models -------------------------------------------------------------------------

    def loaded_identifiers(self) -> list[str]:
        with self._cond:
            self._evict_expired()
            return list(self.instances)

    def model(self, key: str) -> CatalogModel | None:
        with self._cond:
            return self.catalog.get(key)

    def next_identifier(self, model_key: str) -> str:
        """`key`, then `key:2`, `key:3`… for repeated loads (observed, FORMATS §3.2)."""
        with self._cond:
            if model_key not in self.instances:
                return model_key
            for n in itertools.count(2):
                if f"{model_key}:{n}" not in self.instances:
                    return f"{model_key}:{n}"
        raise AssertionError("unreachable")

    def load(
        self,
        model_key: str,
        *,
        identifier: str | None = None,
        context_length: int | None = None,
        parallel: int | None = None,
        ttl_seconds: float | None = None,
        gpu_ratio: float = 1.0,
        flash_attention: bool | None = None,
        eval_batch_size: int | None = None,
        offload_kv_cache_to_gpu: bool | None = None,
    ) -> str:
        """Load at once (tests); the API and `lms` wait `load_seconds` before calling this."""
        with self.locked():
            model = self.catalog.get(model_key)
            if model is None:
                raise model_not_found(model_key)
            if identifier is None:
                identifier = self.next_identifier(model_key)
            elif identifier in self.instances:
                raise SimError(
                    400,
                    v1_error(
                        f'A model with the identifier "{identifier}" is already loaded.',
                        type="invalid_request",
                        code="identifier_in_use",
                        param="identifier",
                    ),
                )
            if context_length is not None and not 1 <= context_length <= model.max_context_length:
                raise SimError(
                    400,
                    v1_error(
                        f"context_length must be between 1 and {model.max_context_length} "
                        f'for "{model_key}".',
                        type="invalid_request",
                        param="context_length",
                    ),
                )
            context = context_length or model.default_context_length
            if self.context_cap is not None:
                context = min(context, self.context_cap)
            instance = Instance(
                identifier=identifier,
                model=model,
                context_length=context,
                parallel=(parallel or 4) if model.is_llm else None,
                ttl_seconds=ttl_seconds,
                gpu_ratio=gpu_ratio,
            )
            if flash_attention is not None:
                instance.flash_attention = flash_attention
            if eval_batch_size is not None:
                instance.eval_batch_size = eval_batch_size
            if offload_kv_cache_to_gpu is not None:
                instance.offload_kv_cache_to_gpu = offload_kv_cache_to_gpu
            self.instances[identifier] = instance
            logger.debug("loaded %s as %s", model_key, identifier)
            return identifier

    def unload(self, identifier: str) -> None:
        with self.locked():
            if self.instances.pop(identifier, None) is None:
                raise SimError(
                    404,
                    v1_error(
                        f'No loaded model instance with the id "{identifier}".',
                        type="model_not_found",
                        code="model_not_found",
                        param="instance_id",
                    ),
                )

    def unload_all(self) -> list[str]:
        with self.locked():
            gone = list(self.instances)
            self.instances.clear()
            return gone

    def resolve(self, model: str) -> tuple[CatalogModel, Instance | None]:
        """What a request's `model` names: a loaded instance, or else a downloaded model
        (whose first instance serves it if one is loaded)."""
        with self._cond:
            self._evict_expired()
            instance = self.instances.get(model)
            if instance is not None:
                return instance.model, instance
            catalog_model = self.catalog.get(model)
            if catalog_model is None:
                raise model_not_found(model)
            for candidate in self.instances.values():
                if candidate.model.key == model:
                    return catalog_model, candidate
            return catalog_model, None

    @contextmanager
    def busy(self, identifier: str) -> Iterator[Instance | None]:
        """Count a request in the instance's queue for as long as it runs."""
        with self.locked():
            instance = self.instances.get(identifier)
            if instance is not None:
                instance.queued += 1
                instance.status = "processingPrompt"
                instance.touch()
        try:
            yield instance
        finally:
            with self.locked():
                if instance is not None:
                    instance.queued = max(0, instance.queued - 1)
                    if instance.queued == 0:
                        instance.status = "idle"
                    instance.touch()

    def set_status(self, instance: Instance | None, status: str) -> None:
        if instance is not None:
            with self.locked():
                instance.status = status

    # --- TTL and downloads ----------------------------------------------------------------

    def tick(self) -> None:
        """Evict idle instances past their TTL and finish download jobs."""
        with self.locked():
            self._evict_expired()
            now = time.monotonic()
            for job in self.downloads.values():
                if job.completed_at is None and job.progress(now) >= 1.0:
                    job.completed_at = iso_now()
                    added = downloaded_model_from_name(job.model, job.total_size_bytes)
                    self.catalog.setdefault(added.key, added)

    def _evict_expired(self) -> None:
        now = time.monotonic()
        for identifier, instance in list(self.instances.items()):
            left = instance.ttl_left(now)
            if left is not None and left <= 0 and instance.queued == 0:
                del self.instances[identifier]
                logger.debug("TTL evicted %s", identifier)
                self._cond.notify_all()

    def start_download(self, model: str) -> DownloadJob | None:
        """A new download job, or None when the model is already downloaded."""
        with self.locked():
            self.tick()
            key = downloaded_model_from_name(model, 0).key
            if model in self.catalog or key in self.catalog:
                return None
            for job in self.downloads.values():
                if job.model == model and job.completed_at is None:
                    return job
            # Deterministic but different sizes per model, in the range of small GGUFs.
            size = 1_500_000_000 + (sum(model.encode()) * 7919) % 3_000_000_000
            job = DownloadJob(
                job_id=f"job_{secrets.token_hex(5)}",
                model=model,
                total_size_bytes=size,
                started=time.monotonic(),
                started_at=iso_now(),
            )
            self.downloads[job.job_id] = job
            return job

    def download_status(self, job_id: str) -> dict[str, Any]:
        with self.locked():
            self.tick()
            job = self.downloads.get(job_id)
            if job is None:
                raise SimError(
                    404,
                    v1_error(
                        f'No download job with the id "{job_id}".',
                        type="job_not_found",
                        code="job_not_found",
                        param="job_id",
                    ),
                )
            return download_json(job, time.monotonic())

    # --- views ------------------------------------------------------------------------------

    def v1_models(self) -> dict[str, Any]:
        with self._cond:
            self._evict_expired()
            return {
                "models": [
                    m.v1_json(
                        [
                            {"id": i.identifier, "config": i.load_config()}
                            for i in self.instances.values()
                            if i.model.key == m.key
                        ]
                    )
                    for m in self.catalog.values()
                ]
            }

    def v0_model(self, model: CatalogModel) -> dict[str, Any]:
        with self._cond:
            contexts = [i.context_length for i in self.instances.values() if i.model is model]
            return model.v0_json(contexts[0] if contexts else None)

    def openai_model_ids(self) -> list[str]:
        """`/v1/models`: loaded identifiers, plus every downloaded model while JIT is on."""
        with self._cond:
            self._evict_expired()
            ids = list(self.instances)
            if self.jit:
                ids += [key for key in self.catalog if key not in ids]
            return ids

    def ps_json(self) -> list[dict[str, Any]]:
        with self._cond:
            self._evict_expired()
            ordered = sorted(self.instances.values(), key=lambda i: not i.model.is_llm)
            return [i.lms_json() for i in ordered]

    def ls_json(self) -> list[dict[str, Any]]:
        with self._cond:
            ordered = sorted(self.catalog.values(), key=lambda m: not m.is_llm)
            return [m.lms_json() for m in ordered]

    def estimate(
        self, model_key: str, *, context_length: int | None, gpu_ratio: float | None
    ) -> dict[str, Any]:
        """`EstimatedResourcesUsage` (FORMATS §1.6) for loading `model_key`."""
        with self._cond:
            model = self.catalog.get(model_key)
            if model is None:
                raise model_not_found(model_key)
            ratio = 1.0 if gpu_ratio is None else gpu_ratio
            context_bytes = model.kv_bytes_per_token * (
                context_length or model.default_context_length
            )
            model_vram = int(model.size_bytes * ratio)
            context_vram = context_bytes if ratio > 0 else 0
            total = model.size_bytes + context_bytes
            return {
                "memory": {
                    "confidence": "low" if model.format == "mlx" else "high",
                    "modelVramBytes": model_vram,
                    "contextVramBytes": context_vram,
                    "totalVramBytes": model_vram + context_vram,
                    "modelBytes": model.size_bytes,
                    "contextBytes": context_bytes,
                    "totalBytes": total,
                },
                "passesGuardrails": total <= GUARDRAIL_BYTES,
            }


def download_json(job: DownloadJob, now: float) -> dict[str, Any]:
    """Download status as `GET /api/v1/models/download/status/:job_id` returns it (§3.4)."""
    done = int(job.total_size_bytes * job.progress(now))
    out: dict[str, Any] = {"job_id": job.job_id}
    if job.completed_at is not None:
        out["status"] = "completed"
    else:
        left = max(0.0, DOWNLOAD_SECONDS - (now - job.started))
        out |= {
            "status": "downloading",
            "bytes_per_second": int(job.total_size_bytes / DOWNLOAD_SECONDS),
            "estimated_completion": datetime.fromtimestamp(time.time() + left, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
    out |= {
        "total_size_bytes": job.total_size_bytes,
        "downloaded_bytes": done if job.completed_at is None else job.total_size_bytes,
        "started_at": job.started_at,
    }
    if job.completed_at is not None:
        out["completed_at"] = job.completed_at
    return out
