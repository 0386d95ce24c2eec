"""What the demo's LM Studio holds besides its models: config presets in LM Studio's own
format (FORMATS §2.3, §2.4) and an `mcp.json` of the kinds of servers people really
configure (FORMATS §2.8), risky ones included, so the audit, lockdown, drift and restore
have something to show. Also the models the demo loads at start.

The secret in `mcp.json` is made up: token-shaped (so the audit finds it) and built at run
time, so no scanner mistakes this file for a leak. Files are written only where none is:
a demo never overwrites what the user changed in it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["PRESETS", "DemoLoad", "demo_loads", "mcp_config", "write_showroom_files"]


def _preset(slug: str, name: str, fields: list[tuple[str, Any]]) -> dict[str, Any]:
    return {
        "identifier": f"@local:{slug}",
        "name": name,
        "changed": True,
        "operation": {"fields": [{"key": key, "value": value} for key, value in fields]},
        "load": {"fields": []},
    }


PRESETS: dict[str, dict[str, Any]] = {
    "Coding": _preset(
        "coding",
        "Coding",
        [
            (
                "llm.prediction.systemPrompt",
                "You are a senior software engineer. Answer with working code first, in "
                "fenced blocks with the language named, then a short explanation. Prefer the "
                "standard library; point out edge cases.",
            ),
            ("llm.prediction.temperature", 0.2),
            ("llm.prediction.topPSampling", {"checked": True, "value": 0.9}),
            ("llm.prediction.repeatPenalty", {"checked": True, "value": 1.05}),
        ],
    ),
    "Concise": _preset(
        "concise",
        "Concise",
        [
            (
                "llm.prediction.systemPrompt",
                "Answer in at most three sentences. No preamble, no summary at the end.",
            ),
            ("llm.prediction.temperature", 0.5),
            ("llm.prediction.maxPredictedTokens", {"checked": True, "value": 256}),
        ],
    ),
    "Creative": _preset(
        "creative",
        "Creative",
        [
            (
                "llm.prediction.systemPrompt",
                "You are a playful writer. Use vivid images and surprising turns.",
            ),
            ("llm.prediction.temperature", 1.1),
            ("llm.prediction.topKSampling", 80),
            ("llm.prediction.minPSampling", {"checked": True, "value": 0.02}),
        ],
    ),
}


def _fake_github_token() -> str:
    # Token-shaped for the audit's provider patterns (ghp_ + 36 characters) but made up:
    # derived from a phrase at run time, so this file holds no token-shaped text.
    return "ghp_" + hashlib.sha256(b"lmstudio-tray demo, not a real token").hexdigest()[:36]


def mcp_config(user_home: Path) -> dict[str, Any]:
    """An `mcp.json` like many on real machines: a safe pinned server, and the risks the
    audit explains (a literal token, unpinned launches, a Docker socket, a whole home)."""
    return {
        "mcpServers": {
            "filesystem": {
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-filesystem", str(user_home)],
            },
            "github": {
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-github@latest"],
                "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": _fake_github_token()},
            },
            "docker": {
                "command": "docker",
                "args": [
                    "run",
                    "-i",
                    "--rm",
                    "-v",
                    "/var/run/docker.sock:/var/run/docker.sock",
                    "mcp/docker:latest",
                ],
            },
            "fetch": {"command": "uvx", "args": ["mcp-server-fetch==2025.4.7"]},
            "time": {"command": "uvx", "args": ["mcp-server-time"]},
            "docs": {"url": "https://gitmcp.io/lmstudio-ai/docs"},
        }
    }


class DemoLoad(NamedTuple):
    """A model the demo loads at start, as `lms load` would be told to."""

    key: str
    identifier: str | None = None
    context_length: int | None = None
    ttl_seconds: int | None = None


def demo_loads() -> tuple[DemoLoad, ...]:
    """Two models loaded at start: one plain, one with its own identifier, a longer
    context and an idle timeout that counts down."""
    return (
        DemoLoad("qwen/qwen3-4b"),
        DemoLoad(
            "google/gemma-3-12b", identifier="gemma-vision", context_length=16384, ttl_seconds=1800
        ),
    )


def write_showroom_files(home: Path, user_home: Path) -> list[Path]:
    """Write the presets and `mcp.json` into the LM Studio home `home` where absent; the
    files written."""
    wanted: dict[Path, Any] = {
        home / "config-presets" / f"{name}.preset.json": preset for name, preset in PRESETS.items()
    }
    wanted[home / "mcp.json"] = mcp_config(user_home)
    written = []
    for path, content in wanted.items():
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    return written
