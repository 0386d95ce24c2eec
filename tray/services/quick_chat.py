"""What the quick-chat popup works with, in one object: the models to offer, the presets,
how a model that is not loaded would be loaded, and getting a model ready to answer.

The popup (`tray.ui.quick_chat_window`) renders this and turns gestures into calls on it;
the app hands it each new server status. No Qt here.

Getting a model ready goes through `ModelManager.use_or_load`, the "never load twice"
guard: whatever the picker showed, the live instance list decides at the moment of asking,
so a model that is loaded (under any identifier) is used and never loaded again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tray.core.backends import Capabilities
from tray.core.errors import LmStudioError, ServerUnreachable, TrayError
from tray.core.load_profiles import describe_profile
from tray.core.status import ServerState, ServerStatus
from tray.services.lmstudio_client import LmStudioClient
from tray.services.load_profile_store import LoadProfileStore
from tray.services.model_manager import ModelManager
from tray.services.preset_store import PresetStore

if TYPE_CHECKING:  # the chat itself is imported when the popup first opens
    from tray.core.chat_options import ChatOptions
    from tray.core.conversation import ModelChoice
    from tray.services.chat_service import QuickChatService
    from tray.services.stream_worker import StreamWorker

__all__ = ["QuickChat", "Ready"]

log = logging.getLogger(__name__)

Listener = Callable[[], None]


@dataclass(frozen=True)
class Ready:
    """A model ready to answer: what to ask for, and what to tell about its load."""

    model: str
    note: str = ""


class QuickChat:
    """The popup's model of the world. Getters are read at each use, so a switch of server
    profile (a new client, manager or preset folder) takes effect at once.

    `start_server()` and `open_tokens()` are the fixes the popup offers under an error.
    """

    def __init__(
        self,
        *,
        client: Callable[[], LmStudioClient | None],
        capabilities: Callable[[], Capabilities],
        models: Callable[[], ModelManager | None],
        load_profiles: LoadProfileStore,
        presets: Callable[[], PresetStore],
        start_server: Callable[[], None] = lambda: None,
        open_tokens: Callable[[], None] = lambda: None,
        worker: StreamWorker | None = None,
    ) -> None:
        """`worker`: where answers stream (off the caller's thread); None: on its loop."""
        self._client = client
        self._caps = capabilities
        self._models = models
        self._load_profiles = load_profiles
        self._presets_store = presets
        self.start_server = start_server
        self.open_tokens = open_tokens
        self._worker = worker
        self._service: QuickChatService | None = None
        self.status: ServerStatus | None = None
        self._downloaded: list[str] = []
        self._descriptions: dict[str, str] = {}
        self._presets: list[tuple[str, ChatOptions]] = []
        self._listeners: list[Listener] = []

    def _require_client(self) -> LmStudioClient:
        client = self._client()
        if client is None:
            raise LmStudioError("The tray is not connected to a server yet; try again.")
        return client

    # --- what the popup shows -------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """`listener()` runs after each change of what `choices()` or `server_up` say."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def set_status(self, status: ServerStatus) -> None:
        self.status = status
        self._changed()

    @property
    def server_up(self) -> bool | None:
        """Does the server answer (None: not known yet)?"""
        if self.status is None or self.status.state is ServerState.UNKNOWN:
            return None
        return self.status.state.is_up

    def down_error(self) -> ServerUnreachable:
        """The error of a question asked while the server is known to be down."""
        url = self.status.url if self.status is not None else None
        return ServerUnreachable(
            "The LM Studio server is not running, so nothing can answer yet.", url=url
        )

    @property
    def server_starting(self) -> bool:
        return self.status is not None and self.status.state is ServerState.STARTING

    @property
    def service(self) -> QuickChatService:
        """The conversation, made at first use (the popup's, or `lmstudio-tray chat`'s)."""
        if self._service is None:
            from tray.services.chat_service import QuickChatService

            self._service = QuickChatService(self._require_client, self._caps, worker=self._worker)
        return self._service

    def choices(self) -> list[ModelChoice]:
        from tray.core.conversation import chat_choices

        status = self.status
        if status is None:
            return chat_choices((), (), self._downloaded)
        return chat_choices(status.loaded, status.served_models, self._downloaded)

    def presets(self) -> list[tuple[str, ChatOptions]]:
        return list(self._presets)

    def describe_load(self, model_key: str) -> str:
        """How a model that is not loaded would be loaded (read with the downloaded list,
        so nothing touches the disk when the user picks a model)."""
        return self._descriptions.get(model_key, "with its load profile")

    # --- refreshing -----------------------------------------------------------------------

    async def refresh_downloaded(self) -> None:
        client = self._client()
        if client is None or not self._caps().rest_models:
            self._downloaded = []
            return
        try:
            models = await client.list_models()
        except TrayError as exc:  # keep what was known: the popup offers that
            log.debug("listing downloaded models failed: %s", exc.message)
            return
        self._downloaded = [m.key for m in models if m.type == "llm"]
        self._descriptions = await asyncio.to_thread(self._read_descriptions, self._downloaded)
        self._changed()

    def _read_descriptions(self, keys: list[str]) -> dict[str, str]:
        """In a thread: each model's effective load profile, in words."""
        found = {}
        for key in keys:
            try:
                profile = self._load_profiles.effective(key)
                found[key] = f"load profile: {describe_profile(profile)}"
            except TrayError as exc:
                found[key] = f"its load profile cannot be read: {exc.message}"
        return found

    async def refresh_presets(self) -> None:
        store = self._presets_store()

        def read() -> list[tuple[str, ChatOptions]]:
            found = []
            for summary in store.list():
                if summary.error is None:
                    try:
                        found.append((summary.name, store.load_path(summary.path).chat_options()))
                    except Exception:  # an unreadable preset is not offered
                        log.debug("preset %s unreadable", summary.path, exc_info=True)
            return found

        self._presets = await asyncio.to_thread(read)
        self._changed()

    # --- asking ---------------------------------------------------------------------------

    async def prepare(self, name: str) -> Ready:
        """Make `name` (a model key or a loaded identifier) ready to answer: a loaded
        instance of it is used as it is, else the model is loaded with its load profile
        (the popup said so beforehand). Raises `ServerUnreachable` when the server is
        down — nothing is loaded then. Without load control (an OpenAI-compatible
        server), or with a server that loads by itself what is asked (Ollama), the server
        decides."""
        manager = self._models()
        if manager is None or not self._caps().load_profiles:
            return Ready(model=name)
        profile = await asyncio.to_thread(self._load_profiles.effective, name)
        result = await manager.use_or_load(name, profile)
        loaded = result.loaded
        # A load that did not come out as the profile asked (less context, a setting the
        # path cannot carry) still answers; the popup says what differs.
        note = "" if loaded.already_loaded or result.ok else result.text()
        return Ready(model=loaded.identifier, note=note)
