"""The rule that turns an HTTP status plus body into one error of `tray.core.errors`, for
every kind of server the tray talks to, and how those errors name the server.

LM Studio reports errors in the body whatever the status (an unknown route is HTTP 200
with a string `error`); other servers use their own shapes (llama.cpp's integer `code`,
FastAPI's `detail`, Ollama's plain text). Read leniently: a server's own words reach the
user, with any token in them masked.
"""

from __future__ import annotations

import re

from pydantic import JsonValue, ValidationError

from tray.core.api import ApiErrorBody
from tray.core.errors import (
    ApiError,
    AuthError,
    AuthRequired,
    EndpointNotSupported,
    HttpStatusError,
    InvalidToken,
    LmStudioError,
    ModelNotFound,
)
from tray.core.tokens import TOKEN_PATTERN

__all__ = ["error_from_response", "server_of"]


def _redacted(text: str) -> str:
    # A server message is quoted to the user; make sure it can never echo a token back.
    return TOKEN_PATTERN.sub("sk-lm-********", text).strip()


_ENDPOINT = re.compile(r"/(api/v\d+|v1|lmstudio-greeting)(/|$)")


def server_of(url: str) -> str:
    """The server an endpoint URL belongs to, as a sentence names it: the base address
    (`http://127.0.0.1:1234`, with any prefix a proxy adds) without the endpoint path,
    which means nothing to a user. The exception keeps the full URL for the log."""
    match = _ENDPOINT.search(url, url.find("//") + 2 if "//" in url else 0)
    return (url[: match.start()] if match else url).rstrip("/")


def _sentence(text: str) -> str:
    """A server's own words, ending like a sentence."""
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _said_by_lm_studio(message: str) -> bool:
    """Whether a refusal is in LM Studio's own words: its 401 reads "An LM Studio API token
    is required to make requests to this server, …" (FORMATS §3.7). OpenAI, Ollama and
    proxies use `invalid_api_key` too, so the code alone does not tell."""
    return "lm studio" in message.lower()


def _auth_error(url: str, *, sent_token: bool, lm_studio: bool) -> AuthError:
    server = server_of(url)
    if not lm_studio:
        # Ollama, llama.cpp's server, a proxy in front of anything: LM Studio's token page
        # is no help there, and its key need not look like an LM Studio token.
        if sent_token:
            return InvalidToken(
                f"The server at {server} rejected the API key or token the tray sent; it did "
                "not answer as LM Studio, so check that it is the key that server expects "
                "and enter it again.",
                url=url,
                lm_studio=False,
            )
        return AuthRequired(
            f"The server at {server} requires an API key or token; it did not answer as "
            "LM Studio, so enter the key that server expects (it is sent as "
            "'Authorization: Bearer …').",
            url=url,
            lm_studio=False,
        )
    if sent_token:
        return InvalidToken(
            f"The server at {server} rejected the API token; check that the token is still "
            "valid in LM Studio (Developer → Server Settings → Manage Tokens) and enter it again.",
            url=url,
        )
    return AuthRequired(
        f"The server at {server} requires an API token; create one in LM Studio "
        "(Developer → Server Settings → Manage Tokens) and add it for this server.",
        url=url,
    )


def _api_error(
    body: ApiErrorBody, status_code: int, url: str, *, lm_studio: bool | None
) -> ApiError:
    said = _sentence(_redacted(body.message) or body.type or "no details")
    server = server_of(url)
    who = "The server" if lm_studio is False else "LM Studio"
    if body.type == "model_not_found":
        return ModelNotFound(
            f"{who} at {server} does not know that model. It said: {said} Check the name "
            "against the loaded and downloaded models.",
            error_type=body.type,
            code=body.code,
            param=body.param,
            status_code=status_code,
            url=url,
        )
    return ApiError(
        f"{who} at {server} refused the request. It said: {said}",
        error_type=body.type,
        code=body.code,
        param=body.param,
        status_code=status_code,
        url=url,
    )


def _names_a_missing_thing(error: object) -> bool:
    """LM Studio's 404s for a missing model or job: `{"type": "model_not_found", "param":
    "model", …}`; llama.cpp's unknown route is `{"type": "not_found_error", …}`."""
    if not isinstance(error, dict):
        return False
    kind = error.get("type")
    return bool(error.get("param")) or (isinstance(kind, str) and kind.endswith("_not_found"))


def error_from_response(
    status_code: int,
    body: JsonValue,
    *,
    url: str,
    sent_token: bool,
    lm_studio: bool | None = None,
) -> LmStudioError | None:
    """The error an HTTP answer stands for, or None when it is a success.

    `body` is the parsed JSON (None when the body was empty or not JSON). LM Studio
    reports errors in the body whatever the status: an unknown route is HTTP 200 with
    `{"error": "Unexpected endpoint or method. (…)"}`, v1 errors are `{"error": {…}}`.
    `lm_studio` is what the server's greeting said (None: not asked); a refusal speaks
    of LM Studio's tokens only when the greeting or the refusal's own words say it is
    LM Studio.
    """
    error = body.get("error") if isinstance(body, dict) else None
    if error is None and isinstance(body, dict) and isinstance(body.get("detail"), str):
        error = body["detail"]  # FastAPI's shape (llama-cpp-python, vLLM): {"detail": "…"}
    if status_code == 404 and not _names_a_missing_thing(error):
        # A 404 that names no missing model or job means "not on this server", whatever
        # its body says (llama.cpp's `{"error": {"code": 404, …}}`, Ollama's "404 page not
        # found", FastAPI's `{"detail": "Not Found"}`): the caller falls back elsewhere.
        return EndpointNotSupported(
            f"The server at {server_of(url)} does not offer what the tray asked for (404); it "
            "may be an older LM Studio or another kind of server, so update LM Studio or pick "
            "another server.",
            url=url,
        )
    if isinstance(error, str | dict):
        try:
            parsed = ApiErrorBody.model_validate(error if isinstance(error, dict) else {})
        except ValidationError:
            parsed = ApiErrorBody()
        message = error if isinstance(error, str) else parsed.message
        # The unknown-route answer: a bare string on HTTP 200, or (unknown /api/v1 paths)
        # a 404 that may carry the same text in an error object.
        unknown_route = isinstance(error, str) and status_code == 404
        if unknown_route or "unexpected endpoint" in message.lower():
            return EndpointNotSupported(
                f"The server at {server_of(url)} does not offer what the tray asked for; it "
                "may be an older LM Studio, so update LM Studio or pick another server.",
                url=url,
            )
        if parsed.code == "invalid_api_key" or status_code == 401:
            known = lm_studio is True or _said_by_lm_studio(message)
            return _auth_error(url, sent_token=sent_token, lm_studio=known)
        return _api_error(
            parsed.model_copy(update={"message": message}), status_code, url, lm_studio=lm_studio
        )
    if status_code == 401:
        return _auth_error(url, sent_token=sent_token, lm_studio=lm_studio is True)
    if status_code == 403:
        return AuthError(
            f"The server at {server_of(url)} refused this request (403 Forbidden); the API "
            "token may lack the permission for it, so check its permissions in LM Studio.",
            url=url,
        )
    if status_code == 404:
        return EndpointNotSupported(
            f"The server at {server_of(url)} does not offer what the tray asked for (404); it "
            "may be an older LM Studio or another kind of server, so update LM Studio or pick "
            "another server.",
            url=url,
        )
    if not 200 <= status_code < 300:
        return HttpStatusError(
            f"The server at {server_of(url)} answered HTTP {status_code}; see LM Studio's "
            "server log (Developer tab) for the cause, then try again.",
            status_code=status_code,
            url=url,
        )
    return None
