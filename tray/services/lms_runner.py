"""The one place that runs LM Studio's `lms` CLI.

Each call is one asyncio subprocess: no stdin (so nothing can prompt), stdout and stderr
captured up to a cap, a timeout that kills lms and everything it started, and the output
handed to `tray.core.lms_output`, which decides what it means (exit codes lie). Most
commands wake LM Studio when it is not running (`LmsCommand.wakes_lm_studio`); status
polling may hold only an `LmsProbe`, which cannot run those.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from tray.core.errors import LmsNotFound, LmsOutputError, LmsTimeout
from tray.core.lms_output import (
    LmsCommand,
    LmsDaemonStatus,
    LmsLoadedModel,
    LmsModel,
    LmsResult,
    LmsServerStatus,
    LoadEstimate,
    LoadOutcome,
    LoadProgressReader,
    ServerStartOutcome,
    ServerStopOutcome,
    UnloadOutcome,
    read_daemon_status,
    read_estimate,
    read_load,
    read_ls,
    read_ps,
    read_server_start,
    read_server_status,
    read_server_stop,
    read_unload,
    read_version,
)
from tray.core.load_profiles import GpuSetting, LmsLoadArgs

logger = logging.getLogger(__name__)

__all__ = [
    "LMS_WAKE_SECONDS",
    "GpuOffload",
    "LmsProbe",
    "LmsRunner",
    "LoadProgress",
    "find_lms",
    "process_group_options",
]

# lms itself waits up to 60 × 1 s for a woken LM Studio (FORMATS.md §1.2); a command that
# may wake it gets that long on top of its own timeout.
LMS_WAKE_SECONDS = 60.0
OUTPUT_CAP_BYTES = 8 * 1024 * 1024  # `ls --json` of a large library is well under 1 MiB
INSTALL_HINT = (
    "lms ships with LM Studio: run LM Studio once, or run `~/.lmstudio/bin/lms bootstrap`, "
    "or set its location in Settings."
)
# Plain text makes lms's sentences easier to read: no colours (chalk), no boxed errors.
_PLAIN_OUTPUT_ENV = {"FORCE_COLOR": "0", "NO_COLOR": "1", "LMS_NO_FANCY_ERRORS": "1"}

GpuOffload = GpuSetting  # what `--gpu` takes: a ratio 0–1, "off" or "max"
LoadProgress = Callable[[float], None]  # a fraction 0–1, only ever increasing
_T = TypeVar("_T")
# What sees lms's output as it arrives: (for stdout, for stderr).
_Feeds = tuple[Callable[[bytes], None] | None, Callable[[bytes], None] | None]


def _lms_names() -> tuple[str, ...]:
    # The Windows file name is not documented (FORMATS.md §5.6): lms.exe is assumed, and a
    # .cmd shim (as the simulator installs) is accepted too.
    return ("lms.exe", "lms.cmd") if sys.platform == "win32" else ("lms",)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_lms(*, configured: Path | None, home: Path | None) -> Path | None:
    """Where `lms` is: the configured path › PATH › `<home>/bin/lms`; None if nowhere.

    A configured path is taken at its word: if it is wrong we say so rather than quietly
    running some other `lms` from PATH.
    """
    if configured is not None:
        return configured if _is_executable(configured) else None
    on_path = shutil.which("lms")
    candidates = [Path(on_path)] if on_path else []
    if home is not None:
        candidates += [home / "bin" / name for name in _lms_names()]
    return next((c for c in candidates if _is_executable(c)), None)


def lms_not_found(*, configured: Path | None, home: Path | None) -> LmsNotFound:
    """The error for an `lms` that `find_lms` did not find, naming where it looked."""
    if configured is not None:
        places = [str(configured)]
    else:
        places = ["PATH", *(str(home / "bin" / name) for name in _lms_names() if home)]
    return LmsNotFound(f"lms was not found (looked in: {', '.join(places)}). {INSTALL_HINT}")


class LmsRunner:
    """Runs `lms` commands and returns what they printed as typed results."""

    def __init__(
        self,
        executable: Path,
        *,
        timeout: float = 30.0,
        load_timeout: float = 600.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.executable = executable
        self._timeout = timeout
        self._load_timeout = load_timeout  # big models take minutes to load
        self._env = {**(os.environ if env is None else env), **_PLAIN_OUTPUT_ENV}

    @classmethod
    def discover(
        cls,
        *,
        configured: Path | None,
        home: Path | None,
        env: Mapping[str, str] | None = None,
    ) -> LmsRunner:
        """A runner for the `lms` that `find_lms` finds, or `LmsNotFound` saying where we
        looked."""
        found = find_lms(configured=configured, home=home)
        if found is None:
            raise lms_not_found(configured=configured, home=home)
        return cls(found, env=env)

    def __repr__(self) -> str:
        return f"LmsRunner({str(self.executable)!r})"

    @property
    def env(self) -> Mapping[str, str]:
        """The environment `lms` runs with (plain output; the demo's HOME)."""
        return self._env

    # --- commands that never wake LM Studio ---------------------------------------------

    async def version(self) -> str:
        return await self._call(read_version, LmsCommand.VERSION)

    async def server_status(self) -> LmsServerStatus:
        return await self._call(read_server_status, LmsCommand.SERVER_STATUS, "--json")

    async def daemon_status(self) -> LmsDaemonStatus:
        return await self._call(read_daemon_status, LmsCommand.DAEMON_STATUS, "--json")

    async def server_stop(self) -> ServerStopOutcome:
        return await self._call(read_server_stop, LmsCommand.SERVER_STOP)

    # --- commands that may wake LM Studio -----------------------------------------------

    async def ps(self) -> list[LmsLoadedModel]:
        return await self._call(read_ps, LmsCommand.PS, "--json")

    async def ls(self) -> list[LmsModel]:
        return await self._call(read_ls, LmsCommand.LS, "--json")

    async def estimate(
        self, model_key: str, *, gpu: GpuOffload | None = None, context_length: int | None = None
    ) -> LoadEstimate:
        """What loading would take; lms ignores `--parallel` here, so callers add it."""
        flags = LmsLoadArgs(gpu=gpu, context_length=context_length).flags()
        return await self._call(
            read_estimate, LmsCommand.LOAD, "--estimate-only", "-y", *flags, "--", model_key
        )

    async def load(
        self,
        model_key: str,
        args: LmsLoadArgs | None = None,
        *,
        path: str | None = None,
        progress: LoadProgress | None = None,
    ) -> LoadOutcome:
        """Load a model with `args`; `progress` gets lms's spinner percentages as printed.

        With `path` (the model's `path` from `lms ls --json`) lms loads exactly that model
        (`--exact`). By key alone lms picks by a fuzzy match — against paths in older
        builds, keys in newer ones, the most recently loaded match first (FORMATS §1.6)
        — so a key can load another model whose name contains it; the caller checks."""
        flags = (args or LmsLoadArgs()).flags()
        target = ("--exact", "--", path) if path else ("--", model_key)
        # `-y`: without it lms opens an interactive picker on 0 or several fuzzy matches;
        # `--` so that a model key can never be read as an option.
        feeds = _progress_feeds(progress) if progress is not None else (None, None)
        return await self._call(
            read_load,
            LmsCommand.LOAD,
            "-y",
            *flags,
            *target,
            time_limit=self._load_timeout + LMS_WAKE_SECONDS,
            on_output=feeds,
        )

    async def unload(self, identifier: str) -> UnloadOutcome:
        # `--` so an identifier can never be read as an option.
        return await self._call(read_unload, LmsCommand.UNLOAD, "--", identifier)

    async def unload_all(self) -> UnloadOutcome:
        return await self._call(read_unload, LmsCommand.UNLOAD, "--all")

    async def server_start(
        self, *, port: int | None = None, bind: str | None = None, cors: bool = False
    ) -> ServerStartOutcome:
        args: list[str] = []
        if port is not None:
            args += ["--port", str(port)]
        if bind is not None:
            args += ["--bind", bind]
        if cors:
            args.append("--cors")
        return await self._call(read_server_start, LmsCommand.SERVER_START, *args)

    # --- running ------------------------------------------------------------------------

    async def _call(
        self,
        read: Callable[[LmsResult], _T],
        command: LmsCommand,
        *args: str,
        time_limit: float | None = None,
        on_output: _Feeds = (None, None),
    ) -> _T:
        if time_limit is None:
            time_limit = self._timeout + (LMS_WAKE_SECONDS if command.wakes_lm_studio else 0.0)
        result = await self._run(command, *args, time_limit=time_limit, on_output=on_output)
        try:
            return read(result)
        except Exception as exc:
            logger.debug("%s: %s: %s", result.display, type(exc).__name__, exc)
            raise

    async def _run(
        self,
        command: LmsCommand,
        *args: str,
        time_limit: float,
        on_output: _Feeds = (None, None),
    ) -> LmsResult:
        """Run `lms <command> <args>` to the end; the raw result, whatever it says.
        `on_output` (for stdout, for stderr) sees the bytes as they arrive (progress)."""
        argv = (*command.words, *args)
        display = " ".join(("lms", *argv))
        if not _is_executable(self.executable):
            raise LmsNotFound(
                f"lms was not found at {self.executable} (or is not executable). {INSTALL_HINT}",
                command=argv,
            )
        logger.debug("running %s (%s)", display, self.executable)
        started = time.monotonic()
        spawn = asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                self.executable,
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env,
                **_own_process_group(),
            )
        )
        try:
            proc = await asyncio.shield(spawn)
        except asyncio.CancelledError:
            # lms may be running already (asyncio would kill only lms, not its children):
            # let the spawn finish so the whole group can be stopped.
            with contextlib.suppress(OSError):
                await _stop(await spawn)
            raise
        except OSError as exc:
            raise LmsNotFound(
                f"lms at {self.executable} could not be started ({exc.strerror or exc}). "
                f"{INSTALL_HINT}",
                command=argv,
            ) from exc
        assert proc.stdout is not None  # PIPE above
        assert proc.stderr is not None
        try:
            async with asyncio.timeout(time_limit):
                (stdout, out_over), (stderr, err_over), code = await asyncio.gather(
                    _read_capped(proc.stdout, on_output[0]),
                    _read_capped(proc.stderr, on_output[1]),
                    proc.wait(),
                )
        except BaseException as exc:
            # Timed out or cancelled: leave nothing running behind us.
            await _stop(proc)
            if isinstance(exc, TimeoutError):
                logger.debug("%s timed out after %.1f s; killed", display, time_limit)
                raise LmsTimeout(
                    f"`{display}` did not finish within {time_limit:g} s and was stopped. "
                    "LM Studio may be busy or stuck; try again, or restart LM Studio.",
                    command=argv,
                ) from None
            raise
        logger.debug("%s exited %d after %.2f s", display, code, time.monotonic() - started)
        if out_over or err_over:
            raise LmsOutputError(
                f"`{display}` printed more than {OUTPUT_CAP_BYTES // 2**20} MiB; "
                "the output was not read.",
                command=argv,
                exit_code=code,
            )
        return LmsResult(
            command=argv,
            exit_code=code,
            stdout=stdout.decode("utf-8", errors="replace"),
            stderr=stderr.decode("utf-8", errors="replace"),
        )


class LmsProbe:
    """The part of `lms` status polling may use: the two commands that never wake
    LM Studio (FORMATS.md §1.2)."""

    def __init__(self, runner: LmsRunner) -> None:
        self._runner = runner

    async def server_status(self) -> LmsServerStatus:
        return await self._runner.server_status()

    async def daemon_status(self) -> LmsDaemonStatus:
        return await self._runner.daemon_status()


def _progress_feeds(progress: LoadProgress) -> _Feeds:
    """stdout and stderr bytes → the spinner's percentages → `progress`, only ever
    increasing. lms's spinner writes to stdout (FORMATS §1.3); stderr is read too, as
    older notes put it there. A failing callback (a view that went away) must not fail
    the load itself."""
    shown: list[float] = []

    def feed_for() -> Callable[[bytes], None]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        reader = LoadProgressReader()

        def feed(chunk: bytes) -> None:
            for value in reader.feed(decoder.decode(chunk)):
                if shown and value <= shown[-1]:
                    continue
                shown.append(value)
                try:
                    progress(value)
                except Exception:
                    logger.exception("the load progress callback failed")

        return feed

    return feed_for(), feed_for()


async def _read_capped(
    stream: asyncio.StreamReader, on_chunk: Callable[[bytes], None] | None = None
) -> tuple[bytes, bool]:
    """Everything the stream gives, keeping at most the cap; (data, went over the cap).
    Reading on past the cap keeps lms from blocking on a full pipe."""
    data = bytearray()
    over = False
    while chunk := await stream.read(65536):
        if on_chunk is not None:
            on_chunk(chunk)
        room = OUTPUT_CAP_BYTES - len(data)
        data += chunk[:room] if room > 0 else b""
        over = over or len(chunk) > room
    return bytes(data), over


# Win32 process creation flags (values from the Windows SDK, as in Python's subprocess).
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000


def _own_process_group(platform: str = sys.platform) -> dict[str, Any]:
    """lms (a Node/Bun program) may start helpers; its own session (process group on
    Windows) lets us kill them all. On Windows lms.exe is a console program: without
    CREATE_NO_WINDOW a tray with no console would flash a console window on every call."""
    if platform == "win32":
        return {"creationflags": CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW}
    return {"start_new_session": True}


def process_group_options() -> dict[str, Any]:
    """How to start a long-lived `lms` child (`lms log stream`, services/activity_stream)
    so that it and its helpers can be stopped together, without a console window."""
    return _own_process_group()


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Kill lms and everything it started, and reap it."""
    try:
        if sys.platform == "win32":
            proc.kill()
        else:
            # The group outlives its leader while children hold on, so kill it regardless.
            os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone
    await proc.wait()
