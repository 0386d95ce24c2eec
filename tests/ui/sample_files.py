"""Realistic LM Studio files for the whole-app tests: an mcp.json with a risky server and a
config preset."""

from __future__ import annotations

from typing import Any

MCP: dict[str, Any] = {
    "mcpServers": {
        "filesystem": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-filesystem", "/"],
        },
        "fetch": {"command": "uvx", "args": ["mcp-server-fetch"]},
    }
}

PRESET: dict[str, Any] = {
    "identifier": "@local:coding",
    "name": "Coding",
    "changed": True,
    "operation": {
        "fields": [
            {"key": "llm.prediction.systemPrompt", "value": "You write Python."},
            {"key": "llm.prediction.temperature", "value": 0.2},
        ]
    },
    "load": {"fields": []},
}
