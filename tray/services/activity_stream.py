"""The one owner of `lms log stream` (FORMATS §1.10): a long-lived child per source whose
NDJSON becomes Activity events as it arrives.

The child runs in its own session (process group on Windows) and is stopped as a group —
SIGTERM first (lms ends with exit 0), SIGKILL for what is left — when asked, when its
owner's task is cancelled, or when the app quits. It is (re)started only after
`may_start()` says yes: `lms log stream` wakes LM Studio when it is not running, so the
caller answers "is LM Studio's server up?" without running `lms` that could. A child that
dies is started again with back-off (1 s doubling to 30 s; back to 1 s after a run of a
minute). Its stderr (the banner, lms's errors) is only logged, redacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from tray.core.activity import ActivityEvent, ActivityReader, ActivitySource
from tray.core.redact import redact
from tray.services.lms_runner import LmsRunner, process_group_options

__all__ = ["BACKOFF_MAX_SECONDS", "ActivityStream", "log_stream_argv"]

log = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
HEALTHY_RUN_SECONDS = 60.0  # a child that ran this long resets the back-off
TERM_GRACE_SECONDS = 2.0
STDERR_KEPT_BYTES = 4096


def log_stream_argv(source: ActivitySource, *, with_filter: bool = True) -> tuple[str, ...]:
    """`lms log stream -s <source> --json` (the JSON carries the stats without --stats:
    `lms` prints each event whole, `JSON.stringify(log)`, in src/subcommands/log.ts).

    For the model source also `--filter input,output`: without a filter `lms` shows the
    prompts only (`filterTypes = ["input"]`, with a warning that this will change) — not
    the completions and their stats, which are the point. FORMATS.md §1.10 says "default
    both"; LM Studio's source says input only. `with_filter=False` is for an `lms` older
    than `--filter` (before LM Studio 0.3.26), which streamed every prediction event."""
    argv: tuple[str, ...] = ("log", "stream", "--source", source.value, "--json")
    if source is ActivitySource.MODEL and with_filter:
        argv += ("--filter", "input,output")
    return argv


class ActivityStream:
    """`start()` keeps one child running (restarting it with back-off) until `stop()`."""

    def __init__(
        self,
        runner: LmsRunner,
        *,
        source: ActivitySource = ActivitySource.MODEL,
        on_events: Callable[[list[ActivityEvent]], None],
        may_start: Callable[[], Awaitable[bool]],
        keep_text: bool = False,
        on_ended: Callable[[], None] | None = None,
    ) -> None:
        """`on_events` gets each batch as it is read; `may_start` is asked before every
        start (False ends the stream until `start()` again); `on_ended` is told when the
        stream stops for good (asked to, or `may_start` said no)."""
        self.executable: Path = runner.executable
        self.source = source
        self._env: Mapping[str, str] = runner.env
        self._on_events = on_events
        self._may_start = may_start
        self._on_ended = on_ended
        self._reader = ActivityReader(keep_text=keep_text)
        self._task: asyncio.Task[None] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self.starts = 0  # children started so far (a test sees the restarts)
        self.last_error: str | None = None  # what the last child said on stderr, redacted
        self.with_filter = True  # False once an lms said it has no --filter

    @property
    def keep_text(self) -> bool:
        return self._reader.keep_text

    @keep_text.setter
    def keep_text(self, on: bool) -> None:
        self._reader.keep_text = on

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs (its process group id too)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def skipped(self) -> int:
        """Lines read that were not events we know (garbage, other types, cut off)."""
        return self._reader.skipped

    def start(self) -> None:
        """Keep a child running from now on (nothing if one is kept already)."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._keep_running())

    async def stop(self) -> None:
        """Stop the child and its whole group, and wait until it is gone."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _keep_running(self) -> None:
        delay = BACKOFF_FIRST_SECONDS
        try:
            while await self._may_start():
                began = time.monotonic()
                await self._run_once()
                if time.monotonic() - began >= HEALTHY_RUN_SECONDS:
                    delay = BACKOFF_FIRST_SECONDS
                log.info("lms log stream (%s) ended; again in %.0f s", self.source, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_SECONDS)
        finally:
            if self._task is asyncio.current_task():
                self._task = None
            if self._on_ended is not None:
                self._on_ended()

    async def _run_once(self) -> None:
        argv = log_stream_argv(self.source, with_filter=self.with_filter)
        try:
            proc = await asyncio.create_subprocess_exec(
                self.executable,
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(self._env),
                **process_group_options(),
            )
        except OSError as exc:
            self.last_error = f"lms could not be started: {exc.strerror or exc}"
            log.warning("%s", self.last_error)
            return
        self._proc = proc
        self.starts += 1
        log.debug("lms log stream (%s) started: pid %d", self.source, proc.pid)
        try:
            assert proc.stdout is not None  # PIPE above
            assert proc.stderr is not None
            await asyncio.gather(self._read(proc.stdout), self._read_errors(proc.stderr))
            code = await proc.wait()
            log.debug("lms log stream (%s) exited %s", self.source, code)
        finally:
            await _stop_group(proc)
            self._proc = None
            self._deliver(self._reader.close())

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self._deliver(self._reader.feed(chunk))

    async def _read_errors(self, stream: asyncio.StreamReader) -> None:
        kept = b""
        while chunk := await stream.read(4096):
            kept = (kept + chunk)[-STDERR_KEPT_BYTES:]
        text = redact(kept.decode("utf-8", errors="replace")).strip()
        text = text.replace("Streaming logs from LM Studio", "").strip()
        if "unknown option '--filter'" in text and self.with_filter:
            self.with_filter = False  # an lms from before --filter: it streams everything
            log.info("this lms has no --filter; streaming without it")
        if text:
            self.last_error = text
            log.warning("lms log stream said: %s", text)

    def _deliver(self, events: list[ActivityEvent]) -> None:
        if not events:
            return
        try:
            self._on_events(events)
        except Exception:
            log.exception("an Activity listener failed")


async def _stop_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM to the child's group (lms ends cleanly with 0), SIGKILL after a grace
    period — to the group even when the leader is gone, as helpers may hold on."""
    if sys.platform == "win32":
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        async with asyncio.timeout(TERM_GRACE_SECONDS):
            await proc.wait()
    except TimeoutError:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    await asyncio.shield(proc.wait())
