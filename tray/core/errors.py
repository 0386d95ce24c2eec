"""Every error the app reports, as one typed hierarchy with a sentence a user can act on.

    TrayError                      .title, .message (a full sentence), str() = message
    ├── LmStudioError              talking HTTP to an LM Studio (or OpenAI-compatible) server
    │   ├── ServerUnreachable      nothing answers at the URL (refused, DNS, reset before reply)
    │   ├── RequestTimeout         connected, but no (complete) answer in time
    │   ├── AuthError              401 / `invalid_api_key`
    │   │   ├── AuthRequired       the server wants a token and none was sent
    │   │   └── InvalidToken       a token was sent and the server refused it
    │   ├── EndpointNotSupported   HTTP 200 `{"error": "Unexpected endpoint or method…"}` or 404:
    │   │                          this server (version) lacks the endpoint
    │   ├── ApiError               a v1 error object `{"error": {"type", "message", …}}`
    │   │   └── ModelNotFound      `model_not_found`
    │   ├── HttpStatusError        any other non-2xx status without a known error body
    │   ├── IdentifierInUse        a load asks for an identifier another model holds
    │   ├── ModelsBusy             models to unload are answering a request
    │   └── BadResponse            the body is not what the endpoint documents
    │       ├── MalformedJson      not JSON at all (HTML error page, truncated body)
    │       ├── ResponseTooLarge   the body passed our size cap (we stop reading)
    │       └── StreamTruncated    an SSE stream ended before its final event
    ├── LmsError                   running LM Studio's `lms` CLI
    │   ├── LmsNotFound            no `lms` in settings, PATH or <home>/bin
    │   ├── LmsTimeout             `lms` did not finish in time (it was killed)
    │   ├── LmStudioNotRunning     `lms` could not start or reach LM Studio
    │   ├── ServerOwnedByApp       stopping a server the LM Studio app runs needs a yes
    │   └── LmsCommandFailed       `lms` said it failed (stderr sentence; exit codes lie)
    │       ├── LmsModelNotFound   no downloaded model / loaded instance matches
    │       ├── LmsOutputError     stdout was not the documented shape
    │       └── PortInUse          another program listens on the server's port
    ├── InputError                 a value the user typed, passed or set cannot be used
    │   └── InvalidServerUrl       not an http(s) address with a host and a port 1-65535
    ├── ConfigError                a file we read or write
    │   ├── NotFound               what was named is not there: a preset, a server profile, a
    │   │   │                      file's version in the history, a server in mcp.json, a file
    │   │   └── HomeNotFound       no LM Studio home on this machine
    │   ├── FileParseError         a file we cannot parse (path, line, column)
    │   ├── FileWriteError         a write that did not happen (old file intact)
    │   ├── PresetChanged          a preset changed on disk since it was read (not saved)
    │   └── InvalidPreset          a preset edit breaks a rule (.problems, one per field)
    └── TokenError                 API tokens and the OS keyring that keeps them
        ├── InvalidTokenShape      not `sk-lm-` + 8 + `:` + 20 letters/digits
        ├── TokenTooLong           more than the keyring (or any sane token) holds
        ├── KeyringUnavailable     no keyring, or one that would store it in plain text
        ├── KeyringLocked          locked, or its unlock prompt was dismissed
        ├── KeyringNotAnswering    no answer in time (an unlock prompt nobody sees)
        └── KeyringWriteRefused    the keyring refused to store or remove it

Errors carry data, never secrets: a message must never contain a token or a header value.

The command line's exit codes follow the branches: 2 for an `InputError` and any other
`ConfigError` (usage errors, unreadable input), 1 for everything else — `NotFound` included,
like LM Studio's own `ModelNotFound` and `LmsModelNotFound`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ApiError",
    "AuthError",
    "AuthRequired",
    "BadResponse",
    "ConfigError",
    "EndpointNotSupported",
    "FileParseError",
    "FileWriteError",
    "HomeNotFound",
    "HttpStatusError",
    "IdentifierInUse",
    "InputError",
    "InvalidPreset",
    "InvalidServerUrl",
    "InvalidToken",
    "InvalidTokenShape",
    "KeyringLocked",
    "KeyringNotAnswering",
    "KeyringUnavailable",
    "KeyringWriteRefused",
    "LmStudioError",
    "LmStudioNotRunning",
    "LmsCommandFailed",
    "LmsError",
    "LmsModelNotFound",
    "LmsNotFound",
    "LmsOutputError",
    "LmsTimeout",
    "MalformedJson",
    "ModelNotFound",
    "ModelsBusy",
    "NotFound",
    "PortInUse",
    "PresetChanged",
    "RequestTimeout",
    "ResponseTooLarge",
    "ServerOwnedByApp",
    "ServerUnreachable",
    "StreamTruncated",
    "TokenError",
    "TokenTooLong",
    "TrayError",
]


class TrayError(Exception):
    """Base of every error the app reports to a user."""

    title: str = "Something went wrong"

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


# --- HTTP ------------------------------------------------------------------------------


class LmStudioError(TrayError):
    """A request to an LM Studio (or OpenAI-compatible) server failed."""

    title = "LM Studio server error"

    def __init__(self, message: str, *, url: str | None = None, title: str | None = None) -> None:
        super().__init__(message, title=title)
        self.url = url


class ServerUnreachable(LmStudioError):
    title = "LM Studio server unreachable"


class RequestTimeout(LmStudioError):
    title = "LM Studio server timed out"


class AuthError(LmStudioError):
    """`lm_studio`: the refusal is known to come from LM Studio (its own words, or its
    greeting), so LM Studio's token page is the fix; else the server is something else
    (Ollama, llama.cpp, a proxy) and wants whatever key it expects."""

    title = "API token needed"

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        title: str | None = None,
        lm_studio: bool = True,
    ) -> None:
        super().__init__(message, url=url, title=title)
        self.lm_studio = lm_studio


class AuthRequired(AuthError):
    """The server requires a token and the request carried none."""


class InvalidToken(AuthError):
    """The request carried a token and the server rejected it."""

    title = "API token rejected"


class EndpointNotSupported(LmStudioError):
    """The server does not implement the endpoint (older LM Studio, or another server)."""

    title = "Not supported by this server"


class ApiError(LmStudioError):
    """LM Studio answered with a v1 error object."""

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        status_code: int | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, url=url)
        self.error_type = error_type
        self.code = code
        self.param = param
        self.status_code = status_code


class ModelNotFound(ApiError):
    title = "Model not found"


class ModelsBusy(LmStudioError):
    """Models that are answering would be unloaded: not without asking."""

    title = "Models are busy"

    def __init__(self, identifiers: list[str], *, how_to_insist: str) -> None:
        names = ", ".join(identifiers)
        verb = "is" if len(identifiers) == 1 else "are"
        super().__init__(
            f"{names} {verb} answering a request right now; unloading cuts the answer off. "
            f"{how_to_insist}"
        )
        self.identifiers = identifiers


class HttpStatusError(LmStudioError):
    def __init__(self, message: str, *, status_code: int, url: str | None = None) -> None:
        super().__init__(message, url=url)
        self.status_code = status_code


class IdentifierInUse(LmStudioError):
    """A load asks for an instance identifier that another model's instance holds."""

    title = "Identifier in use"

    def __init__(self, identifier: str, held_by: str) -> None:
        super().__init__(
            f"The identifier “{identifier}” is already used by a loaded instance of {held_by}. "
            "Eject that instance first, or choose another identifier."
        )
        self.identifier = identifier
        self.held_by = held_by


class BadResponse(LmStudioError):
    title = "Unexpected answer from the server"


class MalformedJson(BadResponse):
    pass


class ResponseTooLarge(BadResponse):
    def __init__(self, message: str, *, limit_bytes: int, url: str | None = None) -> None:
        super().__init__(message, url=url)
        self.limit_bytes = limit_bytes


class StreamTruncated(BadResponse):
    title = "The answer was cut off"


# --- lms -------------------------------------------------------------------------------


class LmsError(TrayError):
    """Running `lms` failed."""

    title = "lms failed"

    def __init__(
        self,
        message: str,
        *,
        command: tuple[str, ...] = (),
        stderr: str = "",
        exit_code: int | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(message, title=title)
        self.command = command
        self.stderr = stderr
        self.exit_code = exit_code


class LmsNotFound(LmsError):
    title = "lms not found"


class LmsTimeout(LmsError):
    title = "lms timed out"


class LmStudioNotRunning(LmsError):
    title = "LM Studio is not running"


class LmsCommandFailed(LmsError):
    pass


class LmsModelNotFound(LmsCommandFailed):
    title = "Model not found"


class LmsOutputError(LmsCommandFailed):
    title = "Unexpected output from lms"


class LmsLoadedAnotherModel(LmsCommandFailed):
    """`lms load` loaded a model other than the one asked for (it matches names loosely)."""

    title = "Another model was loaded"


class ServerOwnedByApp(LmsError):
    """The LM Studio app (not the headless daemon) runs the server: stopping it from here
    stops it under the user's feet in LM Studio, so we ask first. `message` states it as
    a fact; `question` asks it."""

    title = "The server belongs to LM Studio"

    def __init__(self, message: str, *, question: str, port: int | None = None) -> None:
        super().__init__(message)
        self.question = question
        self.port = port


class PortInUse(LmsCommandFailed):
    title = "Port in use"

    def __init__(self, message: str, *, port: int, stderr: str = "") -> None:
        super().__init__(message, stderr=stderr)
        self.port = port


# --- what the user typed ------------------------------------------------------------------


class InputError(TrayError):
    """A value the user typed, passed on the command line or set in a file cannot be used."""

    title = "Invalid input"


class InvalidServerUrl(InputError):
    """`problem` says what to fix (for a message next to the field it was typed in);
    `message` also quotes the address (`shown`, without any password) and, when known,
    where it came from (`source` completes "The server address “…” …")."""

    title = "Invalid server address"

    def __init__(self, problem: str, *, shown: str, source: str | None = None) -> None:
        where = f" {source}" if source else ""
        lowered = problem[:1].lower() + problem[1:]
        super().__init__(f"The server address “{shown}”{where} is not usable: {lowered}")
        self.problem = problem
        self.shown = shown
        self.source = source


# --- files -----------------------------------------------------------------------------


class ConfigError(TrayError):
    title = "File problem"

    def __init__(self, message: str, *, path: Path | None = None, title: str | None = None) -> None:
        super().__init__(message, title=title)
        self.path = path


class NotFound(ConfigError):
    """What the user named is not there (the command line exits 1, not 2: the request was
    well formed, the thing is missing)."""

    title = "Not found"


class HomeNotFound(NotFound):
    title = "LM Studio not found"


class FileParseError(ConfigError):
    title = "File cannot be read"

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self.line = line
        self.column = column


class FileWriteError(ConfigError):
    title = "File not saved"


class PresetChanged(ConfigError):
    """The preset file is no longer what the editor read: saving would overwrite an
    outside change (LM Studio's, or another tray's), so nothing was written."""

    title = "Preset changed outside LM Studio Tray"


class InvalidPreset(ConfigError):
    """`problems` holds `(field, sentence)` pairs; `message` joins the sentences."""

    title = "Preset not saved"

    def __init__(self, problems: list[tuple[str, str]], *, path: Path | None = None) -> None:
        super().__init__(" ".join(m for _, m in problems), path=path)
        self.problems = problems


# --- tokens and the keyring ------------------------------------------------------------


class TokenError(TrayError):
    """Keeping an API token failed; the message never holds the token."""

    title = "API token not kept"


class InvalidTokenShape(TokenError):
    title = "That is not an LM Studio token"


class TokenTooLong(TokenError):
    title = "Token too long"

    def __init__(self, message: str, *, limit_bytes: int) -> None:
        super().__init__(message)
        self.limit_bytes = limit_bytes


class KeyringUnavailable(TokenError):
    """No OS keyring answers, or the only one would keep secrets in plain text."""

    title = "No keyring to keep the token"


class KeyringLocked(TokenError):
    title = "Keyring locked"


class KeyringNotAnswering(TokenError):
    """A keyring call did not return in time: it is abandoned, not awaited."""

    title = "Keyring not answering"


class KeyringWriteRefused(TokenError):
    title = "Keyring refused the change"
