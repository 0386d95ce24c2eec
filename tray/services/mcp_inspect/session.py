"""The MCP conversation an inspection holds with one server, over any `Channel`:
`initialize` (protocol version, client info, no capabilities offered), the `initialized`
notification, then `tools/list`, `prompts/list` and `resources/list`, each page by page
(`nextCursor`). A list the server does not support (method not found, or a capability it
did not declare) is simply empty. Requests the server makes of us (`ping`, `roots/list`, …)
are answered: `ping` with an empty result, anything else with "method not found" — an
inspection grants nothing.

Hand-written, not the official `mcp` SDK: inspection needs exact control of the child's
environment, its process group and every byte limit (floods, garbage, hangs are findings,
not crashes), and the SDK would add a dozen dependencies (anyio task groups, starlette,
pydantic-settings …) for four requests.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

from tray.core.mcp_inspect.model import DeclaredItem, ItemKind
from tray.services.mcp_inspect.channel import Channel, InspectFailed

__all__ = ["CLIENT_INFO", "PROTOCOL_VERSION", "McpSession", "RpcError"]

log = logging.getLogger(__name__)

PROTOCOL_VERSION = "2025-06-18"
CLIENT_INFO = {"name": "lmstudio-tray-inspect", "version": "1"}
_METHOD_NOT_FOUND = -32601
_MAX_PAGES = 100
_MAX_STRAY = 1000


class RpcError(InspectFailed):
    """The server answered a request with a JSON-RPC error."""

    def __init__(self, method: str, code: Any, text: str) -> None:
        super().__init__(f"The server answered {method} with an error ({code}): {text[:200]}")
        self.code = code


class McpSession:
    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._ids = itertools.count(1)
        self.step = "starting"
        self.server_info = ""
        self.capabilities: dict[str, Any] = {}

    async def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.step = method
        rid = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            message["params"] = params
        await self._channel.send(message)
        for _ in range(_MAX_STRAY):
            reply = await self._channel.receive()
            if not isinstance(reply, dict):
                raise InspectFailed(
                    f"The server answered {method} with JSON that is not a JSON-RPC message."
                )
            if "method" in reply:
                if "id" in reply:
                    await self._answer(reply)
                continue  # a notification (logging, progress): not ours to act on
            if reply.get("id") != rid:
                continue
            if "error" in reply:
                err = reply["error"] if isinstance(reply["error"], dict) else {}
                raise RpcError(method, err.get("code"), str(err.get("message", "")))
            result = reply.get("result")
            if not isinstance(result, dict):
                raise InspectFailed(f"The server's answer to {method} has no result object.")
            return result
        raise InspectFailed(f"The server sent {_MAX_STRAY} messages without answering {method}.")

    async def _answer(self, request: dict[str, Any]) -> None:
        if request.get("method") == "ping":
            reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request["id"], "result": {}}
        else:
            reply = {
                "jsonrpc": "2.0",
                "id": request["id"],
                "error": {"code": _METHOD_NOT_FOUND, "message": "not offered by an inspection"},
            }
        await self._channel.send(reply)

    async def initialize(self) -> str:
        """Handshake; returns the protocol version the server chose."""
        result = await self.request(
            "initialize",
            {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO},
        )
        info = result.get("serverInfo")
        if isinstance(info, dict):
            name, version = str(info.get("name", "")), str(info.get("version", ""))
            self.server_info = f"{name} {version}".strip()[:120]
        caps = result.get("capabilities")
        self.capabilities = caps if isinstance(caps, dict) else {}
        chosen = result.get("protocolVersion")
        self.step = "notifications/initialized"
        await self._channel.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return chosen if isinstance(chosen, str) else PROTOCOL_VERSION

    async def list_all(self, kind: ItemKind) -> list[DeclaredItem]:
        """Every tool, prompt or resource the server declares, page by page."""
        method, key = f"{kind}s/list", f"{kind}s"
        if kind != "tool" and f"{kind}s" not in self.capabilities:
            return []
        out: list[DeclaredItem] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            try:
                result = await self.request(method, {"cursor": cursor} if cursor else None)
            except RpcError as exc:
                if exc.code == _METHOD_NOT_FOUND or kind != "tool":
                    log.info("%s not supported: %s", method, exc.message)
                    return out
                raise
            entries = result.get(key)
            if not isinstance(entries, list):
                raise InspectFailed(f"The server's answer to {method} has no {key} list.")
            out.extend(_item(kind, e) for e in entries if isinstance(e, dict))
            nxt: Any = result.get("nextCursor")
            if not isinstance(nxt, str) or not nxt or nxt == cursor:
                return out
            cursor = nxt
        raise InspectFailed(f"The server's {method} went on for more than {_MAX_PAGES} pages.")


def _item(kind: ItemKind, entry: dict[str, Any]) -> DeclaredItem:
    name = entry.get("name") if kind != "resource" else entry.get("uri") or entry.get("name")
    schema = entry.get("inputSchema") if kind == "tool" else entry.get("arguments")
    if kind == "prompt" and isinstance(schema, list):
        schema = {"arguments": schema}
    annotations = entry.get("annotations")
    return DeclaredItem(
        kind=kind,
        name=str(name) if name is not None else "(no name)",
        description=str(entry.get("description") or ""),
        input_schema=schema if isinstance(schema, dict) else {},
        annotations=annotations if isinstance(annotations, dict) else None,
    )
