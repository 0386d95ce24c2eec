"""A remote MCP server over Streamable HTTP, contacted for inspection.

Each message is a POST of one JSON-RPC message to the server's URL with the headers
`mcp.json` configures (they may hold credentials: they are sent, never shown or logged);
the reply is `application/json` or a `text/event-stream` whose events carry the messages,
read until the answer to the request arrives. The session id the server gives on
`initialize` (`Mcp-Session-Id`) and the negotiated protocol version go with every later
request; the session is ended with a DELETE. Redirects are not followed (the configured
headers must not go to another host), and a reply is read to at most `MAX_LINE_BYTES`.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from typing import Any

import httpx

from tray.core.mcp_config import redact_for_display
from tray.services.mcp_inspect.channel import MAX_LINE_BYTES, MAX_TOTAL_BYTES, InspectFailed

__all__ = ["HttpChannel"]

log = logging.getLogger(__name__)


class HttpChannel:
    def __init__(self, url: str, headers: dict[str, str], *, timeout: float) -> None:
        self._url = url
        self._shown = redact_for_display(url)
        self._headers = dict(headers)
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._inbox: deque[Any] = deque()
        self._session: str | None = None
        self.protocol_version: str | None = None
        self._received = 0

    def _request_headers(self) -> dict[str, str]:
        h = {
            **self._headers,
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        if self._session is not None:
            h["Mcp-Session-Id"] = self._session
        if self.protocol_version is not None:
            h["MCP-Protocol-Version"] = self.protocol_version
        return h

    def _count(self, n: int) -> None:
        self._received += n
        if self._received > MAX_TOTAL_BYTES:
            raise InspectFailed(
                f"The server sent more than {MAX_TOTAL_BYTES // (1024 * 1024)} MiB; inspection "
                "stopped (a flood)."
            )

    async def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        want = message.get("id") if "method" in message else None
        try:
            async with self._client.stream(
                "POST", self._url, content=body, headers=self._request_headers()
            ) as response:
                if (sid := response.headers.get("mcp-session-id")) is not None:
                    self._session = sid
                status = response.status_code
                if status == 202 or (want is None and status < 300):
                    return
                if status in {401, 403}:
                    raise InspectFailed(
                        f"{self._shown} refused the request (HTTP {status}): the headers in "
                        "mcp.json do not authorise this client."
                    )
                if status >= 300:
                    raise InspectFailed(f"{self._shown} answered HTTP {status}.")
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind == "text/event-stream":
                    await self._read_events(response, want)
                else:
                    data = await self._read_body(response)
                    try:
                        self._inbox.append(json.loads(data))
                    except ValueError:
                        raise InspectFailed(
                            f"{self._shown} answered something that is not JSON "
                            f"({kind or 'no type'})."
                        ) from None
        except httpx.TimeoutException:
            raise InspectFailed(f"{self._shown} did not answer in time.") from None
        except httpx.HTTPError as exc:
            raise InspectFailed(
                f"{self._shown} could not be reached: {type(exc).__name__}."
            ) from None

    async def _read_body(self, response: httpx.Response) -> bytes:
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data += chunk
            self._count(len(chunk))
            if len(data) > MAX_LINE_BYTES:
                raise InspectFailed(
                    f"{self._shown} sent a reply larger than "
                    f"{MAX_LINE_BYTES // (1024 * 1024)} MiB; inspection stopped."
                )
        return bytes(data)

    async def _read_events(self, response: httpx.Response, want: Any) -> None:
        """SSE framing: `data:` lines make one event; a blank line ends it. Stop once the
        answer to `want` has arrived (the server may keep the stream open)."""
        buffer = b""
        data_lines: list[bytes] = []
        async for chunk in response.aiter_bytes():
            self._count(len(chunk))
            buffer += chunk
            if len(buffer) > MAX_LINE_BYTES:
                raise InspectFailed(f"{self._shown} sent an event line that is too long.")
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.rstrip(b"\r")
                if line.startswith(b"data:"):
                    data_lines.append(line[5:].removeprefix(b" "))
                elif not line and data_lines:
                    payload = b"\n".join(data_lines)
                    data_lines = []
                    try:
                        message = json.loads(payload)
                    except ValueError:
                        raise InspectFailed(
                            f"{self._shown} sent an event that is not JSON."
                        ) from None
                    self._inbox.append(message)
                    if (
                        isinstance(message, dict)
                        and "method" not in message
                        and (message.get("id") == want)
                    ):
                        return

    async def receive(self) -> Any:
        if not self._inbox:
            raise InspectFailed(f"{self._shown} ended its reply without answering.")
        return self._inbox.popleft()

    async def close(self) -> None:
        try:
            if self._session is not None:
                await self._client.request("DELETE", self._url, headers=self._request_headers())
        except httpx.HTTPError as exc:
            log.debug("ending the MCP session at %s: %s", self._shown, type(exc).__name__)
        finally:
            await self._client.aclose()
