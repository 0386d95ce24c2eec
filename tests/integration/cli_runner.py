"""Running the real `lmstudio-tray` executable in a throw-away home, as a user would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["EXE", "Cli", "free_port"]

EXE = Path(sys.executable).with_name("lmstudio-tray")
TOKEN_VARS = ("LM_API_TOKEN", "LMSTUDIO_API_TOKEN")


class Cli:
    """`cli("status", "--json")`: HOME and the XDG config, data, state and cache folders
    inside `user_home` (the runtime folder is the test's own, from tests/conftest.py), no
    token from the developer's environment, and no real `lms` from their PATH."""

    def __init__(self, user_home: Path) -> None:
        self.user_home = user_home
        self.settings = user_home / ".config" / "lmstudio-tray" / "settings.json"

    def __call__(
        self, *args: str, token: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run it; `env` adds to (or replaces) the throw-away environment."""
        run_env = {k: v for k, v in os.environ.items() if k not in (*TOKEN_VARS, "PATH")}
        run_env.update(
            HOME=str(self.user_home),
            XDG_CONFIG_HOME=str(self.user_home / ".config"),
            XDG_DATA_HOME=str(self.user_home / ".local" / "share"),
            XDG_STATE_HOME=str(self.user_home / ".state"),
            XDG_CACHE_HOME=str(self.user_home / ".cache"),
            PATH="/usr/bin:/bin",
        )
        if token:
            run_env["LM_API_TOKEN"] = token
        run_env.update(env or {})
        return subprocess.run(
            [str(EXE), *args], capture_output=True, text=True, env=run_env, timeout=90, check=False
        )

    def json(self, *args: str, token: str | None = None, code: int = 0) -> dict[str, Any]:
        r = self(*args, "--json", token=token)
        assert r.returncode == code, r.stdout + r.stderr
        doc: dict[str, Any] = json.loads(r.stdout)  # exactly one JSON document
        return doc

    def remembered(self) -> dict[str, Any]:
        """The server options saved for the first server profile."""
        raw = json.loads(self.settings.read_text(encoding="utf-8"))
        start: dict[str, Any] = raw["profiles"][0]["server_start"]
        return start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
