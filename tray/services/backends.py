"""One backend per kind of server: find out what answers (`identify`), then ask it what is
loaded and downloaded, and load or eject where its API can (`backend_for`).

LM Studio 0.4+ is the `LmStudioClient`'s own REST API v1 (with `lms` where the profile may
use it) and keeps its richer path in the status monitor and the model manager; every other
kind is here. All HTTP goes through the one `LmStudioClient` of the connection, so tokens,
timeouts, size caps and error sentences are the same for every kind.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from tray.core.api import OpenAIModelList, RequestModel, ResponseModel
from tray.core.backends import BackendKind, Capabilities, capabilities_for
from tray.core.errors import AuthError, EndpointNotSupported, ModelNotFound
from tray.core.inventory import DownloadedModelRow, LoadedModelRow
from tray.core.kind_payloads import (
    LlamaCppProps,
    OllamaPs,
    OllamaTags,
    llamacpp_rows,
    ollama_downloaded_rows,
    ollama_loaded_rows,
    read_slots,
    v0_downloaded_rows,
    v0_loaded_rows,
)
from tray.core.server_kinds import DETECTION, ServerIdentity
from tray.services.lmstudio_client import LmStudioClient

__all__ = [
    "Backend",
    "LlamaCppBackend",
    "LmStudioLegacyBackend",
    "OllamaBackend",
    "OpenAIBackend",
    "backend_for",
    "identify",
]

log = logging.getLogger(__name__)

Polled = tuple[tuple[LoadedModelRow, ...], tuple[str, ...]]


async def identify(client: LmStudioClient, pinned: BackendKind | None = None) -> ServerIdentity:
    """What kind of server answers at the client's address (`tray.core.server_kinds`).

    `pinned`: the profile says what it is; only that kind's steps run (LM Studio 0.3 or
    0.4, Ollama's version), and the kind is believed whatever they find.
    Raises when nothing answers (`ServerUnreachable`, `RequestTimeout`), `AuthError` when
    the server wants a token first (LM Studio's own words make it LM Studio even then), and
    `EndpointNotSupported` when it answers none of the APIs the tray knows."""
    steps = [s for s in DETECTION if pinned is None or pinned in s.kinds]
    for step in steps:
        try:
            status, body = await client.probe(step.path)
        except AuthError as exc:
            if exc.lm_studio:
                return ServerIdentity(kind=BackendKind.LMSTUDIO)
            raise
        found = step.read(status, body)
        if found is not None and pinned is not None:
            found = found.model_copy(update={"kind": pinned})
        if found is not None:
            log.info("%s is %s", client.base_url, found.kind.value)
            if found.kind is not BackendKind.LMSTUDIO:
                client.lm_studio = False  # errors then speak of "the server", not LM Studio
            return found
    if pinned is not None:
        return ServerIdentity(kind=pinned)  # its own poll says what is wrong, in its words
    raise EndpointNotSupported(
        f"The server at {client.base_url} answers as none of the servers the tray knows (LM "
        "Studio, Ollama, llama.cpp, or any OpenAI-compatible one); check the address.",
        url=client.base_url,
    )


class Backend:
    """What the tray asks of a server that is not LM Studio 0.4+ (whose REST API v1 the
    status monitor and the model manager speak themselves)."""

    def __init__(self, client: LmStudioClient, identity: ServerIdentity) -> None:
        self.client = client
        self.identity = identity

    def capabilities(self, *, lms_available: bool = False) -> Capabilities:
        return capabilities_for(
            self.identity.kind, lms_available=lms_available, legacy=self.identity.legacy
        )

    async def learn(self) -> None:
        """Facts that change only when the server restarts (asked on each up-transition)."""

    async def poll(self) -> Polled:
        """(loaded rows, served model ids): one GET."""
        raise NotImplementedError

    async def downloaded(self) -> tuple[DownloadedModelRow, ...]:
        """The models on the server's disk, where its API lists them."""
        return ()

    async def unload(self, identifier: str) -> None:
        raise EndpointNotSupported(
            self.capabilities().why_not("Ejecting models"), url=self.client.base_url
        )

    async def load(self, model: str, *, keep_alive: str | int | None = None) -> None:
        raise EndpointNotSupported(
            self.capabilities().why_not("Loading models"), url=self.client.base_url
        )


class OpenAIBackend(Backend):
    """Any OpenAI-compatible server: the models it serves, nothing of what is loaded."""

    async def poll(self) -> Polled:
        served = await self.client.list_models_openai()
        return (), tuple(m.id for m in served)


class LmStudioLegacyBackend(Backend):
    """LM Studio 0.3.x: REST API v0 (`state` and `loaded_context_length` per model)."""

    async def poll(self) -> Polled:
        return v0_loaded_rows(await self.client.list_models_v0()), ()

    async def downloaded(self) -> tuple[DownloadedModelRow, ...]:
        return v0_downloaded_rows(await self.client.list_models_v0())


class LlamaCppBackend(Backend):
    """llama.cpp's server: the one model it serves, with context and slots from `/props`
    where it has them (llama-cpp-python's server has no `/props`)."""

    props: LlamaCppProps | None = None
    served: tuple[str, ...] = ()

    async def learn(self) -> None:
        """`/props` (llama-server only) and the model it serves, once per start."""
        status, body = await self.client.probe("/props")
        self.props = LlamaCppProps.read(body) if 200 <= status < 300 else None
        self.served = await self._served()
        if self.props is not None and self.props.build_info:
            self.identity = self.identity.model_copy(update={"version": self.props.build_info})

    async def poll(self) -> Polled:
        """llama-server: one `GET /slots` (busy or idle; its model is known since start);
        without slots (llama-cpp-python, `--no-slots`): one `GET /v1/models`. What it
        serves is loaded: rows only, so a picker offers each model once."""
        if self.props is not None and self.served:
            status, body = await self.client.probe("/slots")
            slots = read_slots(body) if status == 200 else None
            if slots is not None:
                return llamacpp_rows(self.served, self.props, slots), ()
        self.served = await self._served()
        return llamacpp_rows(self.served, self.props), ()

    async def _served(self) -> tuple[str, ...]:
        listed = await self.client.get_json("/v1/models", OpenAIModelList)
        return tuple(m.id for m in listed.data)

    async def downloaded(self) -> tuple[DownloadedModelRow, ...]:
        rows, _ = await self.poll()
        return tuple(DownloadedModelRow(model_key=r.model_key, type="llm") for r in rows)


class _Generate(RequestModel):
    """`POST /api/generate` without a prompt: loads (or with keep_alive 0, unloads)."""

    model: str
    keep_alive: str | int | None = None


class _GenerateDone(ResponseModel):
    model: str | None = None
    done: bool = False
    done_reason: str | None = None


class OllamaBackend(Backend):
    """Ollama (docs.ollama.com/api): `/api/ps` and `/api/tags`; a model is loaded and
    ejected with `/api/generate` and its `keep_alive` (0 = now)."""

    async def learn(self) -> None:
        status, body = await self.client.probe("/api/version")
        version = body.get("version") if isinstance(body, dict) and status == 200 else None
        if isinstance(version, str):
            self.identity = self.identity.model_copy(update={"version": version})

    async def poll(self) -> Polled:
        ps = await self.client.get_json("/api/ps", OllamaPs)
        return ollama_loaded_rows(ps, now=datetime.now(UTC)), ()

    async def downloaded(self) -> tuple[DownloadedModelRow, ...]:
        return ollama_downloaded_rows(await self.client.get_json("/api/tags", OllamaTags))

    async def unload(self, identifier: str) -> None:
        await self._generate(identifier, 0)

    async def load(self, model: str, *, keep_alive: str | int | None = None) -> None:
        await self._generate(model, keep_alive)

    async def _generate(self, model: str, keep_alive: str | int | None) -> None:
        try:
            await self.client.post_json(
                "/api/generate", _Generate(model=model, keep_alive=keep_alive), _GenerateDone
            )
        except EndpointNotSupported as exc:
            # Ollama answers 404 `{"error": "model 'x' not found"}` for a model it lacks.
            raise ModelNotFound(
                f"Ollama at {self.client.base_url} has no model “{model}”; download it with "
                f"`ollama pull {model}` first.",
                url=exc.url,
            ) from exc


_BACKENDS: dict[BackendKind, type[Backend]] = {
    BackendKind.OLLAMA: OllamaBackend,
    BackendKind.LLAMACPP: LlamaCppBackend,
    BackendKind.OPENAI: OpenAIBackend,
}


def backend_for(identity: ServerIdentity, client: LmStudioClient) -> Backend | None:
    """The backend for `identity`; None for LM Studio 0.4+ (its own REST API v1)."""
    if identity.kind is BackendKind.LMSTUDIO:
        return LmStudioLegacyBackend(client, identity) if identity.legacy else None
    return _BACKENDS[identity.kind](client, identity)
