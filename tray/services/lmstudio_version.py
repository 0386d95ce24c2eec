"""Which version of LM Studio runs on this machine, asked where LM Studio really tells it.

`/lmstudio-greeting` documents only `{"lmstudio": true}`. The running app (or llmster)
reports `{"package", "version"}` at `GET http://127.0.0.1:<port>/lms-status` on its local
API server, whose port it publishes in `<home>/.internal/http-server.json`; `lms` finds it
that way, falling back to five fixed ports (lmstudio-js `lms-common-server/src/
findOrStartLlmster.ts`, lms `src/localAPIServer.ts`; FORMATS §1.2, §2.7). This module does
the same, once per server start, on loopback only: a remote server's version stays unknown.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx

from tray.core.errors import LmStudioError, TrayError
from tray.core.server_config import API_SERVER_PORTS, api_server_port
from tray.core.tokens import NoToken
from tray.services.files import read_json
from tray.services.lmstudio_client import LmStudioClient, Timeouts

__all__ = ["local_lmstudio_version"]

log = logging.getLogger(__name__)

# lms waits 3 s; the tray asks only when its server has just answered, so LM Studio runs.
STATUS_TIMEOUT = 2.0


def _published_port(home: Path) -> int | None:
    try:
        return api_server_port(read_json(home / ".internal" / "http-server.json"))
    except (OSError, TrayError):  # missing or unreadable: no hint, as for lms
        return None


async def local_lmstudio_version(
    http: httpx.AsyncClient, home: Path, *, seconds: float = STATUS_TIMEOUT
) -> str | None:
    """The version LM Studio's local API server reports, or None when none answers: the
    published port first, then (as lms does, all at once) the fixed ones."""
    published = await asyncio.to_thread(_published_port, home)
    if published is not None and (version := await _version_at(http, published, seconds)):
        return version
    found = await asyncio.gather(
        *(_version_at(http, port, seconds) for port in API_SERVER_PORTS if port != published)
    )
    return next((v for v in found if v), None)


async def _version_at(http: httpx.AsyncClient, port: int, seconds: float) -> str | None:
    client = LmStudioClient(
        http,
        f"http://127.0.0.1:{port}",
        token_provider=NoToken(),
        timeouts=Timeouts(probe=seconds),
    )
    try:
        status = await client.lms_status()
    except LmStudioError as exc:
        log.debug("no LM Studio status on port %d: %s", port, type(exc).__name__)
        return None
    return status.version.strip() or None
