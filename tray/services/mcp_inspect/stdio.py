"""A stdio MCP server, started for inspection and ended with everything it started.

The child gets exactly the environment `child_env` builds: what `mcp.json` gives it plus a
minimal base (PATH, HOME, LANG, the user's name and temporary folder; on Windows what
programs need to start at all) — never this process's own variables, such as
`LM_API_TOKEN`. It runs in its own session (POSIX) or process group (Windows), so that
ending it ends whatever it started (`npx` → node, `uvx` → python): stdin closed, then
SIGTERM to the group, then SIGKILL to whatever is left.

Messages are newline-delimited JSON (the MCP stdio transport: no embedded newlines). A line
longer than `MAX_LINE_BYTES`, more than `MAX_TOTAL_BYTES` in all, output that is not JSON,
or an exit, ends the inspection of this server with a sentence saying so; stderr is drained
all along (a server blocked on a full stderr pipe would look hung) and only its tail kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from tray.core.redact import redact
from tray.core.words import quoted
from tray.services.mcp_inspect.channel import (
    MAX_LINE_BYTES,
    MAX_STDERR_BYTES,
    MAX_TOTAL_BYTES,
    InspectFailed,
)

__all__ = ["BASE_ENV_POSIX", "BASE_ENV_WINDOWS", "StdioChannel", "child_env", "resolve_program"]

log = logging.getLogger(__name__)

_WINDOWS = sys.platform == "win32"

BASE_ENV_POSIX = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "USER", "LOGNAME")
BASE_ENV_WINDOWS = (
    "PATH", "PATHEXT", "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "TEMP", "TMP",
    "USERPROFILE", "HOMEDRIVE", "HOMEPATH", "APPDATA", "LOCALAPPDATA", "PROGRAMDATA",
    "PROGRAMFILES", "USERNAME", "PROCESSOR_ARCHITECTURE", "NUMBER_OF_PROCESSORS", "LANG",
)  # fmt: skip
_TERM_GRACE = 2.0
_STDIN_GRACE = 0.5


def child_env(
    server_env: Mapping[str, str],
    *,
    base: Mapping[str, str] | None = None,
    windows: bool = _WINDOWS,
) -> dict[str, str]:
    """The environment a server is started with: the minimal base taken from `base` (this
    process's environment by default), then `mcp.json`'s `env` over it. Values are passed
    as written (`${VAR}` is not expanded: LM Studio's handling of it is not documented)."""
    source = os.environ if base is None else base
    names = BASE_ENV_WINDOWS if windows else BASE_ENV_POSIX
    env: dict[str, str] = {}
    for name in names:
        value = (
            next((v for k, v in source.items() if k.upper() == name), None)
            if windows
            else (source.get(name))
        )
        if value is not None:
            env[name] = value
    env.update(server_env)
    return env


def resolve_program(command: str, env: Mapping[str, str]) -> str | None:
    """`command` found on the child's PATH (or as a path), else None."""
    return shutil.which(command, path=env.get("PATH", ""))


def _tail(data: bytes, limit: int = 300) -> str:
    lines = [ln.strip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    if not lines:
        return ""
    last = lines[-1]
    return redact(last if len(last) <= limit else last[: limit - 1] + "…")


class StdioChannel:
    """One running server: `start`, then `send`/`receive`, then `close` (always)."""

    def __init__(self, proc: asyncio.subprocess.Process, label: str) -> None:
        self._proc = proc
        self._label = label
        self._received = 0
        self._stderr_total = 0
        self._stderr_tail = b""
        self._drain = asyncio.create_task(self._drain_stderr())

    @classmethod
    async def start(
        cls, argv: list[str], env: dict[str, str], cwd: str | None, label: str
    ) -> StdioChannel:
        program = resolve_program(argv[0], env)
        if program is None:
            raise InspectFailed(
                f"{quoted(argv[0])} was not found on PATH, so the server cannot start."
            )
        kwargs: dict[str, Any] = {}
        if _WINDOWS:
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        else:
            kwargs["start_new_session"] = True
        try:
            proc = await asyncio.create_subprocess_exec(
                program,
                *argv[1:],
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=cwd,
                limit=MAX_LINE_BYTES,
                **kwargs,
            )
        except OSError as exc:
            raise InspectFailed(
                f"The server could not be started: {exc.strerror or exc}."
            ) from None
        log.info("started MCP server %s for inspection (pid %d)", label, proc.pid)
        return cls(proc, label)

    @property
    def pid(self) -> int:
        return self._proc.pid

    async def _drain_stderr(self) -> None:
        stream = self._proc.stderr
        if stream is None:
            return
        with contextlib.suppress(OSError, ValueError):
            while chunk := await stream.read(65536):
                self._stderr_total += len(chunk)
                if self._stderr_total <= MAX_STDERR_BYTES:
                    self._stderr_tail = (self._stderr_tail + chunk)[-4096:]

    def _stderr_says(self) -> str:
        tail = _tail(self._stderr_tail)
        return f" Its last words on stderr: {quoted(tail)}." if tail else ""

    async def _exit_failure(self) -> InspectFailed:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._proc.wait(), 1.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._drain), 0.5)
        code = self._proc.returncode
        how = f"exited with code {code}" if code is not None else "closed its output"
        return InspectFailed(f"The server {how} before answering.{self._stderr_says()}")

    async def send(self, message: dict[str, Any]) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n"
        try:
            stdin.write(data.encode("utf-8"))
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise await self._exit_failure() from None

    async def receive(self) -> Any:
        stdout = self._proc.stdout
        assert stdout is not None
        while True:
            try:
                line = await stdout.readline()
            except (ValueError, asyncio.LimitOverrunError):
                raise InspectFailed(
                    f"The server wrote a line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB "
                    "on its output; inspection stopped (a flood)."
                ) from None
            if not line:
                raise await self._exit_failure()
            self._received += len(line)
            if self._received > MAX_TOTAL_BYTES:
                raise InspectFailed(
                    f"The server wrote more than {MAX_TOTAL_BYTES // (1024 * 1024)} MiB on its "
                    "output; inspection stopped (a flood)."
                )
            text = line.strip()
            if not text:
                continue
            try:
                return json.loads(text)
            except ValueError:
                shown = redact(text[:60].decode("utf-8", "replace"))
                raise InspectFailed(
                    f"The server wrote something that is not JSON on its output: {quoted(shown)}. "
                    "An MCP server's output holds MCP messages only."
                ) from None

    async def close(self) -> None:
        """Close stdin, then end the whole process group: SIGTERM, then SIGKILL."""
        proc = self._proc
        if proc.stdin is not None:
            with contextlib.suppress(OSError, RuntimeError):
                proc.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), _STDIN_GRACE)
        await asyncio.to_thread(_end_group, proc.pid)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        # What is left in the pipe is read and dropped: a reader paused by a flood would
        # never see the end of the pipe, and (before Python 3.12) wait() waits for it.
        discard = asyncio.create_task(_discard(proc.stdout))
        try:
            await asyncio.wait_for(proc.wait(), _TERM_GRACE * 2)
        except TimeoutError:
            log.warning("MCP server %s: its output stays open after it ended", self._label)
        discard.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await discard
        self._drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._drain
        log.info("ended MCP server %s (exit %s)", self._label, proc.returncode)


async def _discard(stream: asyncio.StreamReader | None) -> None:
    if stream is None:
        return
    with contextlib.suppress(OSError, ValueError):
        while await stream.read(65536):
            pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _end_group(pid: int) -> None:
    """Blocking: end the process group `pid` leads (SIGTERM, a grace, SIGKILL)."""
    if _WINDOWS:
        subprocess.run(
            ["taskkill", "/T", "/F", "/PID", str(pid)],
            capture_output=True,
            check=False,
            timeout=10,
        )
        return
    import time

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + _TERM_GRACE
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
