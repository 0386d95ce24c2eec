"""Which kind of server answers at an address, and what each kind's own API says.

Detection is a short, ordered list of GETs, stopping at the first that tells (`DETECTION`):

1. `GET /api/v1/models` — LM Studio 0.4 and later (`{"models": [...]}`);
2. `GET /api/v0/models` — LM Studio 0.3.x (`{"object": "list", "data": [...]}` whose items
   carry `state`);
3. `GET /api/version` — Ollama (`{"version": "0.12.6"}`; docs.ollama.com/api/version);
4. `GET /props` — llama.cpp's own server (`default_generation_settings`, `total_slots`,
   `model_path`; ggml-org/llama.cpp tools/server/README.md);
5. `GET /v1/models` — any OpenAI-compatible server; llama.cpp's server says
   `"owned_by": "llamacpp"` there and llama-cpp-python's `"owned_by": "me"`, so both are
   still known as llama.cpp.

LM Studio answers the first, so it costs one GET as before; a plain OpenAI-compatible
server costs five, once — on first contact and when it comes back after being down.

Everything here is pure: the services side sends the requests (`tray.services.backends`);
each kind's own payloads are `tray.core.kind_payloads`, read only once such a server answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from tray.core.backends import BackendKind

__all__ = ["DETECTION", "DetectionStep", "ServerIdentity"]


class ServerIdentity(BaseModel):
    """What answers at an address: its kind, its version when it tells it, and for LM
    Studio whether only the 0.3 API (v0) is there."""

    model_config = ConfigDict(frozen=True)

    kind: BackendKind
    version: str | None = None
    legacy: bool = False


# --- the detection steps --------------------------------------------------------------


class DetectionStep(BaseModel):
    """One GET and how to read its answer: `read(status, json)` gives the identity, or
    None when this answer does not tell (go on to the next step)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    path: str
    read: Callable[[int, Any], ServerIdentity | None]
    kinds: tuple[BackendKind, ...]  # what this step can find


def _ok_dict(status: int, body: Any) -> dict[str, Any] | None:
    return body if 200 <= status < 300 and isinstance(body, dict) and "error" not in body else None


def _lmstudio_v1(status: int, body: Any) -> ServerIdentity | None:
    d = _ok_dict(status, body)
    if d is not None and isinstance(d.get("models"), list):
        return ServerIdentity(kind=BackendKind.LMSTUDIO)
    return None


def _lmstudio_v0(status: int, body: Any) -> ServerIdentity | None:
    d = _ok_dict(status, body)
    data = d.get("data") if d is not None else None
    if isinstance(data, list) and all(isinstance(m, dict) and "state" in m for m in data):
        # An empty list says little, but /api/v0 is LM Studio's own prefix.
        return ServerIdentity(kind=BackendKind.LMSTUDIO, legacy=True)
    return None


def _ollama(status: int, body: Any) -> ServerIdentity | None:
    d = _ok_dict(status, body)
    if d is not None and isinstance(d.get("version"), str) and len(d) <= 2:
        return ServerIdentity(kind=BackendKind.OLLAMA, version=d["version"])
    return None


def _llamacpp_props(status: int, body: Any) -> ServerIdentity | None:
    d = _ok_dict(status, body)
    markers = ("default_generation_settings", "total_slots", "model_path")
    if d is not None and any(k in d for k in markers):
        build = d.get("build_info")
        return ServerIdentity(
            kind=BackendKind.LLAMACPP, version=build if isinstance(build, str) else None
        )
    return None


def _openai(status: int, body: Any) -> ServerIdentity | None:
    d = _ok_dict(status, body)
    data = d.get("data") if d is not None else None
    if not isinstance(data, list):
        return None
    owners = {m.get("owned_by") for m in data if isinstance(m, dict)}
    if owners & {"llamacpp", "me"}:  # llama.cpp's server, llama-cpp-python's server
        return ServerIdentity(kind=BackendKind.LLAMACPP)
    return ServerIdentity(kind=BackendKind.OPENAI)


_LM, _ALL = (BackendKind.LMSTUDIO,), tuple(BackendKind)
DETECTION: tuple[DetectionStep, ...] = (
    DetectionStep(path="/api/v1/models", read=_lmstudio_v1, kinds=_LM),
    DetectionStep(path="/api/v0/models", read=_lmstudio_v0, kinds=_LM),
    DetectionStep(path="/api/version", read=_ollama, kinds=(BackendKind.OLLAMA,)),
    DetectionStep(path="/props", read=_llamacpp_props, kinds=(BackendKind.LLAMACPP,)),
    DetectionStep(
        path="/v1/models", read=_openai, kinds=(BackendKind.LLAMACPP, BackendKind.OPENAI)
    ),
)
