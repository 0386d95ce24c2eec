"""API tokens in the OS keyring (Secret Service, Keychain, Credential Manager), one entry per
server profile, or in memory for this session only — never in a file.

Every keyring call runs in a thread of its own and is waited for at most `timeout` seconds:
an unlock prompt nobody sees (a locked keyring in a remote session, a KWallet dialog behind
other windows) would otherwise block for ever. A call that does not answer in time is
abandoned — its thread is a daemon that nothing waits for, not the loop's executor, whose
shutdown would wait on it — and `KeyringNotAnswering` says so; while it still hangs, later
calls fail at once instead of piling up threads. keyring's exceptions become `TokenError`s
with a sentence
that says what to do; backends that would keep the token in plain text (keyrings.alt's file
backends) or drop it silently (`null`) are refused, never used as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import keyring
import keyring.backend
import keyring.errors
from pydantic import SecretStr

from tray.core.errors import (
    AuthError,
    EndpointNotSupported,
    KeyringLocked,
    KeyringNotAnswering,
    KeyringUnavailable,
    KeyringWriteRefused,
    LmStudioError,
    RequestTimeout,
    ServerUnreachable,
    TokenError,
    TokenTooLong,
)
from tray.core.tokens import (
    CheckOutcome,
    StaticToken,
    TokenCheck,
    TokenProvider,
    TokenState,
    validate_token,
)
from tray.services.lmstudio_client import LmStudioClient

__all__ = ["TokenVault", "VaultTokenProvider", "check_token", "secret_limit_bytes"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Windows Credential Manager: CRED_MAX_CREDENTIAL_BLOB_SIZE (5 * 512 bytes); keyring's
# WinVault backend stores the password as UTF-16.
WINDOWS_LIMIT_BYTES = 2560

_INSTALL_HINT = (
    "Install and start a Secret Service such as gnome-keyring or KWallet (on Windows and "
    "macOS the system keyring is built in), or choose \u201ckeep in memory for this "
    "session only\u201d."
)


def secret_limit_bytes(backend: keyring.backend.KeyringBackend) -> int | None:
    """How many bytes (in the backend's encoding) a secret may have, when the OS says."""
    if type(backend).__module__.endswith("keyring.backends.Windows"):
        return WINDOWS_LIMIT_BYTES
    return None


def _encoded_size(backend: keyring.backend.KeyringBackend, value: str) -> int:
    if type(backend).__module__.endswith("keyring.backends.Windows"):
        return len(value.encode("utf-16-le"))
    return len(value.encode("utf-8"))


def _refusal(backend: keyring.backend.KeyringBackend) -> str | None:
    """Why we will not keep a token in `backend`, or None when it is a real OS keyring."""
    cls = type(backend)
    name = f"{cls.__module__}.{cls.__qualname__}"
    if cls.__module__.startswith("keyring.backends.fail"):
        return f"No OS keyring answers on this machine. {_INSTALL_HINT}"
    if cls.__module__.startswith("keyring.backends.null"):
        return (
            "The keyring is switched off (the null backend, which forgets what it is "
            f"given), so the token would be lost. {_INSTALL_HINT}"
        )
    if cls.__module__.startswith("keyrings.alt") or "plaintext" in name.lower():
        return (
            f"The configured keyring ({name}) keeps passwords in a file, not in the OS "
            f"keyring, so the token is not kept there. {_INSTALL_HINT}"
        )
    return None


def _usable_backend(backend: keyring.backend.KeyringBackend) -> keyring.backend.KeyringBackend:
    """The one backend we write to. A chainer falls through to the next backend when one
    fails, possibly a plaintext one: we pick its first real keyring and use only that."""
    members = getattr(backend, "backends", None)
    if isinstance(members, list) and members:
        for member in members:
            if _refusal(member) is None:
                return member  # type: ignore[no-any-return]
        reason = _refusal(members[0])
        raise KeyringUnavailable(reason or f"No OS keyring answers. {_INSTALL_HINT}")
    reason = _refusal(backend)
    if reason is not None:
        raise KeyringUnavailable(reason)
    return backend


def _not_answering() -> KeyringNotAnswering:
    return KeyringNotAnswering(
        "The keyring did not answer in time (it may be locked and waiting for its password "
        "prompt). Unlock it — log in to your desktop keyring, or answer its prompt — and "
        "try again."
    )


def _map_error(exc: Exception, *, writing: bool) -> TokenError:
    """keyring's (and its D-Bus libraries') exceptions as sentences; never the value."""
    text = str(exc)
    if isinstance(exc, TokenError):
        return exc
    if isinstance(exc, keyring.errors.NoKeyringError):
        return KeyringUnavailable(f"No OS keyring answers on this machine. {_INSTALL_HINT}")
    if (
        isinstance(exc, keyring.errors.KeyringLocked | keyring.errors.InitError)
        or "dismissed" in text.lower()
        or "locked" in text.lower()
    ):
        return KeyringLocked(
            "The keyring is locked, or its unlock prompt was dismissed. Unlock it (log in "
            "to your desktop keyring, or accept the prompt) and try again, or choose "
            "\u201ckeep in memory for this session only\u201d."
        )
    if isinstance(exc, keyring.errors.PasswordSetError | keyring.errors.PasswordDeleteError):
        what = "store" if isinstance(exc, keyring.errors.PasswordSetError) else "remove"
        return KeyringWriteRefused(
            f"The keyring refused to {what} the token ({type(exc).__name__}). Check that "
            "it is unlocked and not read-only, or choose \u201ckeep in memory for this "
            "session only\u201d."
        )
    if writing:
        return KeyringWriteRefused(
            f"The keyring failed to save the token ({type(exc).__name__}). {_INSTALL_HINT}"
        )
    return KeyringUnavailable(
        f"The keyring could not be read ({type(exc).__name__}). {_INSTALL_HINT}"
    )


class TokenVault:
    """One token per server profile: in the OS keyring, or in memory for this session."""

    SERVICE = "ai.lmstudio-tray.api-token"  # stable reverse-DNS id; username = profile id

    def __init__(
        self,
        backend: keyring.backend.KeyringBackend | None = None,
        *,
        timeout: float = 10.0,
        memory_only: bool = False,
    ) -> None:
        """`memory_only`: never touch the keyring — every token is kept for this session
        only (the demo, which must leave the user's keyring alone)."""
        self._given = backend
        self.memory_only = memory_only
        self._timeout = timeout
        self._hanging = 0  # keyring calls still running past their time
        self._backend: keyring.backend.KeyringBackend | None = None
        self._lock = threading.Lock()  # resolve the backend once, in whichever worker
        self._session: dict[str, SecretStr] = {}
        self._generation = 0  # bumped on every change, so providers drop their cache
        self._listeners: list[Callable[[str], None]] = []

    def __repr__(self) -> str:
        return f"TokenVault(session={sorted(self._session)})"

    @property
    def generation(self) -> int:
        return self._generation

    def subscribe(self, fn: Callable[[str], None]) -> Callable[[], None]:
        """`fn(profile_id)` after every set/delete; returns the unsubscribe call."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn)

    # --- the keyring, in a worker thread ------------------------------------------------

    def _resolve(self) -> keyring.backend.KeyringBackend:
        with self._lock:
            if self._backend is None:
                chosen = self._given if self._given is not None else keyring.get_keyring()
                self._backend = _usable_backend(chosen)
                log.debug("token vault uses %s", type(self._backend).__name__)
            return self._backend

    async def _run(self, fn: Callable[[keyring.backend.KeyringBackend], T], *, writing: bool) -> T:
        if self._hanging:
            raise _not_answering()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        waited = {"for": True, "late": False}  # touched on the loop's thread only

        def deliver(result: T | None, error: TokenError | None) -> None:
            if waited["late"]:
                self._hanging -= 1  # it answered after all: later calls may try again
            if not waited["for"] or done.done():
                return  # nobody listens any more (timed out, or the caller gave up)
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)  # type: ignore[arg-type]

        def call() -> None:
            result: T | None = None
            error: TokenError | None = None
            try:
                result = fn(self._resolve())
            except Exception as exc:
                error = _map_error(exc, writing=writing)
            with contextlib.suppress(RuntimeError):  # the loop is gone: the app quit
                loop.call_soon_threadsafe(deliver, result, error)

        threading.Thread(target=call, name="keyring-call", daemon=True).start()
        try:
            return await asyncio.wait_for(asyncio.shield(done), self._timeout)
        except TimeoutError:
            waited["late"] = True
            self._hanging += 1
            log.warning("the keyring did not answer within %g s; call abandoned", self._timeout)
            raise _not_answering() from None
        finally:
            waited["for"] = False

    async def backend_name(self) -> str:
        """E.g. "SecretService Keyring" for a status line; raises like any keyring call."""
        if self.memory_only:
            return "memory (this session only)"
        return await self._run(lambda b: str(getattr(b, "name", type(b).__name__)), writing=False)

    # --- the public calls ----------------------------------------------------------------

    async def get(self, profile_id: str) -> SecretStr | None:
        if profile_id in self._session or self.memory_only:
            return self._session.get(profile_id)
        value = await self._run(lambda b: b.get_password(self.SERVICE, profile_id), writing=False)
        return SecretStr(value) if value else None

    async def set(
        self, profile_id: str, token: str | SecretStr, *, session_only: bool = False
    ) -> None:
        """Validate, then keep: in the keyring, or (session_only) in this process only."""
        secret = validate_token(token)
        if session_only or self.memory_only:
            self._session[profile_id] = secret
            self._changed(profile_id)
            return

        def write(b: keyring.backend.KeyringBackend) -> None:
            limit = secret_limit_bytes(b)
            value = secret.get_secret_value()
            if limit is not None and _encoded_size(b, value) > limit:
                raise TokenTooLong(
                    f"The token is longer than this keyring holds ({limit} bytes). Choose "
                    "\u201ckeep in memory for this session only\u201d.",
                    limit_bytes=limit,
                )
            b.set_password(self.SERVICE, profile_id, value)

        await self._run(write, writing=True)
        self._session.pop(profile_id, None)  # the stored one is now the one to use
        self._changed(profile_id)
        log.info("token for profile %s stored in the keyring", profile_id)

    async def delete(self, profile_id: str) -> bool:
        """Forget the profile's token everywhere; False when there was none."""
        had_session = self._session.pop(profile_id, None) is not None
        if self.memory_only:
            if had_session:
                self._changed(profile_id)
            return had_session

        def remove(b: keyring.backend.KeyringBackend) -> bool:
            # Backends raise PasswordDeleteError for a missing entry: look first.
            if b.get_password(self.SERVICE, profile_id) is None:
                return False
            b.delete_password(self.SERVICE, profile_id)
            return True

        try:
            removed = await self._run(remove, writing=True)
        except KeyringUnavailable:
            if not had_session:
                raise
            removed = False
        if had_session or removed:
            self._changed(profile_id)
        return had_session or removed

    async def status(self, profile_id: str) -> TokenState:
        """STORED / SESSION / MISSING; REJECTED needs a server check (`combine_state`)."""
        if profile_id in self._session:
            return TokenState.SESSION
        if self.memory_only:
            return TokenState.MISSING
        return TokenState.STORED if await self.get(profile_id) else TokenState.MISSING

    def session_only(self, profile_id: str) -> bool:
        return profile_id in self._session

    async def test(
        self,
        token: str | SecretStr,
        client_factory: Callable[[TokenProvider], LmStudioClient],
    ) -> TokenCheck:
        """Ask the server (through a client built with this token) whether it takes it."""
        return await check_token(client_factory(StaticToken(validate_token(token))))

    def provider(self, profile_id: str) -> VaultTokenProvider:
        return VaultTokenProvider(self, profile_id)

    def _changed(self, profile_id: str) -> None:
        self._generation += 1
        for fn in list(self._listeners):
            fn(profile_id)


class VaultTokenProvider:
    """`TokenProvider` for `LmStudioClient`: reads the vault once and remembers the answer
    until the vault changes, so polling never asks the keyring (or the user, for an
    unlock prompt) again and again; requests that ask at the same moment share one read.
    A keyring error is remembered too (`.error`, for the UI) and raised again at each ask —
    the client then sends no token, and says why if the server wants one. It is asked
    again after a change — or, for a keyring that did not answer, at the next ask (the
    user may have unlocked it meanwhile; the vault fails at once while a call still hangs).
    """

    def __init__(self, vault: TokenVault, profile_id: str) -> None:
        self._vault = vault
        self.profile_id = profile_id
        self._seen = -1
        self._token: SecretStr | None = None
        self.error: TokenError | None = None
        self._reading: tuple[int, asyncio.Future[None]] | None = None  # (generation, read)

    def __repr__(self) -> str:
        return f"VaultTokenProvider({self.profile_id!r})"

    async def get_token(self) -> SecretStr | None:
        generation = self._vault.generation
        if generation != self._seen:
            if self._reading is None or self._reading[0] != generation:
                self._reading = (generation, asyncio.ensure_future(self._read(generation)))
            await asyncio.shield(self._reading[1])  # a caller that gives up stops no one
        if self.error is not None:
            raise self.error.with_traceback(None)  # the same error, not a growing traceback
        return self._token

    async def _read(self, generation: int) -> None:
        try:
            token, error = await self._vault.get(self.profile_id), None
        except TokenError as exc:
            token, error = None, exc
        if self._reading is None or self._reading[0] != generation:
            return  # a newer read (after a change) owns the answer
        self._token, self.error = token, error
        if error is not None:
            # No keyring at all is a normal setup (tokens from the environment);
            # a locked one is worth a line.
            quiet = isinstance(error, KeyringUnavailable)
            log.log(
                logging.DEBUG if quiet else logging.WARNING,
                "no token for profile %s: %s",
                self.profile_id,
                error.message,
            )
        if isinstance(error, KeyringNotAnswering):
            self._reading = None  # passing: ask again next time (it fails at once meanwhile)
        else:
            # Settled until the vault changes — a locked keyring too: asking again would
            # put its unlock prompt up at every poll.
            self._seen = generation


async def _model_list(client: LmStudioClient) -> Callable[[LmStudioClient], Awaitable[object]]:
    """Ask for the model list as LM Studio does, else as any OpenAI-compatible server
    (Ollama, llama.cpp, a proxy) does; the way that answered, to ask again without a token."""
    try:
        await client.list_models()
        return LmStudioClient.list_models
    except EndpointNotSupported:
        await client.list_models_openai()
        return LmStudioClient.list_models_openai


async def check_token(client: LmStudioClient) -> TokenCheck:
    """One authenticated request: 401 → REJECTED; an answer → ACCEPTED only if the server
    refuses the same request without a token — with "Require Authentication" off, LM Studio
    answers any request, so a good answer says nothing about the token (UNKNOWN then)."""
    try:
        ask = await _model_list(client)
    except AuthError as exc:
        return TokenCheck(
            outcome=CheckOutcome.REJECTED,
            message=(
                f"The server at {client.base_url} rejected this token ({exc.message}). "
                + (
                    "Check that you copied the whole token and that it was not revoked in "
                    "LM Studio's Developer page."
                    if exc.lm_studio
                    else "Check that it is the key that server expects."
                )
            ),
            auth_required=True,
        )
    except (ServerUnreachable, RequestTimeout) as exc:
        return TokenCheck(
            outcome=CheckOutcome.UNKNOWN,
            message=f"Could not check the token: {exc.message}",
        )
    except EndpointNotSupported:
        return TokenCheck(
            outcome=CheckOutcome.UNKNOWN,
            message=(
                f"Could not check the token: the server at {client.base_url} lists no "
                "models, neither as LM Studio nor as an OpenAI-compatible server does."
            ),
        )
    except LmStudioError as exc:
        return TokenCheck(
            outcome=CheckOutcome.UNKNOWN, message=f"Could not check the token: {exc.message}"
        )
    try:
        await ask(client.with_token(None))
    except AuthError:
        return TokenCheck(
            outcome=CheckOutcome.ACCEPTED,
            message=f"The server at {client.base_url} accepts this token.",
            auth_required=True,
        )
    except LmStudioError as exc:  # the token worked; whether it is needed stays open
        log.info("token check: the request without a token failed: %s", exc.message)
        return TokenCheck(
            outcome=CheckOutcome.ACCEPTED,
            message=f"The server at {client.base_url} accepts this token.",
        )
    return TokenCheck(
        outcome=CheckOutcome.UNKNOWN,
        message=(
            f"The token could not be checked: the server at {client.base_url} does not "
            "require authentication, so it answers with any token or none. It is kept, and "
            "used once you turn on Require Authentication in LM Studio's Developer page."
        ),
        auth_required=False,
    )
