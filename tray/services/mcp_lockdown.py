"""MCP lockdown on disk: lock `mcp.json` down, restore it, re-lock it, notice drift.

Lockdown, in order (each step stops everything after it when it fails):

1. the current file goes into the tray's history ("before lockdown"); a file that cannot be
   parsed is never rewritten unless the caller has the user's yes
   (`consent_to_rewrite_unparsable`), and then its original is in history first;
2. the locked file (`core.mcp_lockdown.locked_bytes`: deny all, or exactly the allowed
   servers, sanitized) is written with `atomic_write`, mode 0o400 (owner read-only; on
   Windows `os.chmod` without the write bit sets the read-only attribute);
3. it is read back, parsed and hashed; the history gets "after lockdown";
4. a `LockRecord` (hash, commits, the mode before) is saved in the state folder.

Writing over a read-only file: `atomic_write` replaces the file through a rename, which
needs write permission on the folder, not on the file — on POSIX a 0o400 file is replaced
without touching its mode. Windows refuses to replace a file with the read-only attribute,
so there the attribute is cleared first (`_make_writable`; not exercised by the Linux CI).

Honest limit: a read-only file stops careless writers, not a program running as the user
(it can chmod the file back or rename another file over it). `watch` notices any change
to the file after lockdown, records the changed version in history, reports the servers
added/removed/changed, and with "keep locked" writes the locked version back (rate-limited,
so a program fighting the lock cannot make us loop forever).

All blocking work (disk, fsync, the history repository) runs in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import stat
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tray.core.errors import ConfigError, FileWriteError, TrayError
from tray.core.mcp_config import McpDocument, McpParseError, parse_mcp
from tray.core.mcp_lockdown import (
    LOCKED_MODE,
    Drift,
    DriftEvent,
    LockRecord,
    LockStatus,
    ServerDiff,
    decide_drift,
    describe_lockdown,
    diff_servers,
    locked_bytes,
    recent_relocks,
    relock_allowed,
    unknown_allowed,
)
from tray.services.file_watch import FileChange, FileWatcher
from tray.services.files import atomic_write, read_bytes, sha256_hex
from tray.services.history import FileHistory

__all__ = [
    "RECORD_NAME",
    "LockdownPlan",
    "McpLockdown",
    "RestoreResult",
    "make_read_only",
    "make_writable",
]

log = logging.getLogger(__name__)

RECORD_NAME = "mcp-lock.json"
_TOKEN_MARKER = b"sk-lm-REMOVED-by-LM-Studio-Tray"

DriftCallback = Callable[[DriftEvent], Awaitable[None] | None]


class LockdownPlan(BaseModel):
    """What lockdown would do to a file, before the user says yes."""

    model_config = ConfigDict(frozen=True)

    file: str
    exists: bool
    servers: list[str]
    parse_error: str | None  # the file does not parse: rewriting it needs an explicit yes
    unknown_allowed: list[str]
    what: list[str]  # the sentences to show (core.describe_lockdown)


class RestoreResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    file: str
    restored_commit: str | None  # None: there was no file before lockdown (it was removed)
    mode: int | None
    token_marker: bool  # the restored version holds the marker where a token was
    message: str


# --- permissions (the only platform-specific part) -------------------------------------


def make_read_only(path: Path) -> None:
    """Owner read-only, no access for group/others; Windows: the read-only attribute
    (Python's os.chmod maps a mode without the write bit to it)."""
    os.chmod(path, LOCKED_MODE)


def make_writable(path: Path) -> None:
    """Before replacing a locked file: needed on Windows only (POSIX replaces through the
    folder). Untested on Windows by CI."""
    if sys.platform == "win32":
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, stat.S_IREAD | stat.S_IWRITE)


def _mode_of(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return None


def _is_read_only(mode: int | None) -> bool | None:
    if mode is None:
        return None
    if sys.platform == "win32":
        return not mode & stat.S_IWRITE
    return not mode & 0o222


def _read_or_none(path: Path) -> bytes | None:
    try:
        return read_bytes(path)
    except FileNotFoundError:
        return None


def _parse_or_none(data: bytes | None) -> tuple[McpDocument | None, McpParseError | None]:
    if data is None:
        return None, None
    try:
        return parse_mcp(data), None
    except McpParseError as exc:
        return None, exc


def _absolute(path: Path) -> Path:
    # No symlink resolution: the lock is about the name LM Studio opens.
    return Path(path).absolute()


def _now() -> datetime:
    return datetime.now(UTC)


class McpLockdown:
    """Lockdown, restore, re-lock, status and drift for one `mcp.json` at a time.

    `keep_locked`, when given, decides whether drift is re-locked automatically (the tray
    passes its setting); without it the lock record's own flag decides (the CLI)."""

    def __init__(
        self,
        *,
        history: FileHistory,
        state_dir: Path,
        keep_locked: Callable[[], bool] | None = None,
    ) -> None:
        self.history = history
        self.record_path = Path(state_dir) / RECORD_NAME
        self._keep_locked = keep_locked
        self._lock = asyncio.Lock()
        self._watcher: FileWatcher | None = None
        self._own_watcher = False
        self._unwatch: Callable[[], None] | None = None
        self._watched: Path | None = None
        self._last_seen: McpDocument | None = None
        self._on_drift: DriftCallback | None = None

    # --- the record -------------------------------------------------------------------

    def record(self) -> LockRecord | None:
        """The current lock record (None: not locked). Read fresh from disk every time: the
        CLI and the tray may both change it."""
        try:
            data = read_bytes(self.record_path)
        except FileNotFoundError:
            return None
        except TrayError as exc:
            log.warning("cannot read the lock record: %s", exc.message)
            return None
        try:
            return LockRecord.model_validate_json(data)
        except ValidationError:
            log.warning(
                "the lock record %s is damaged; treating mcp.json as unlocked", self.record_path
            )
            return None

    def _save(self, record: LockRecord) -> None:
        atomic_write(self.record_path, record.model_dump_json(indent=2).encode(), mode=0o600)

    def _forget(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.record_path.unlink()

    # --- lockdown ---------------------------------------------------------------------

    async def plan(self, path: Path, allowed: Sequence[str] = ()) -> LockdownPlan:
        """What `lockdown(path, allowed)` would do, in sentences; reads, never writes."""
        return await asyncio.to_thread(self._plan, _absolute(path), list(allowed))

    def _plan(self, path: Path, allowed: list[str]) -> LockdownPlan:
        current = _read_or_none(path)
        doc, error = _parse_or_none(current)
        message = error.message if error else None
        return LockdownPlan(
            file=str(path),
            exists=current is not None,
            servers=[s.name for s in doc.servers] if doc else [],
            parse_error=message,
            unknown_allowed=unknown_allowed(doc, allowed) if doc else list(allowed),
            what=describe_lockdown(doc, allowed, parse_error=message),
        )

    async def lockdown(
        self,
        path: Path,
        allowed: Sequence[str] = (),
        *,
        consent_to_rewrite_unparsable: bool = False,
        keep_locked: bool = False,
    ) -> LockRecord:
        """Lock `path` down to deny-all or exactly `allowed` (see the module doc)."""
        async with self._lock:
            record = await asyncio.to_thread(
                self._lockdown,
                _absolute(path),
                list(allowed),
                consent_to_rewrite_unparsable,
                keep_locked,
            )
        self._retarget()
        return record

    def _lockdown(
        self, path: Path, allowed: list[str], consent: bool, keep_locked: bool
    ) -> LockRecord:
        current = _read_or_none(path)
        doc, error = _parse_or_none(current)
        if error is not None and not consent:
            raise McpParseError(
                f"{path} cannot be parsed ({error.message.rstrip('.')}), so it was not "
                "locked down and nothing was changed. Fix the file, or lock down anyway "
                "(the tray asks; on the command line add --force): the current version is "
                "kept in history first.",
                line=error.line,
                column=error.column,
                path=path,
            )
        previous = self.record()
        if previous is not None and Path(previous.file) != path:
            raise ConfigError(
                f"{previous.file} is locked down already; the tray keeps one lockdown at a "
                "time. Restore it first, then lock this file down.",
                title="Another file is locked",
                path=path,
            )
        before_commit: str | None
        mode_before: int | None
        if previous is not None:
            # Locking a locked file again (another allow-list, or after drift): "before"
            # stays the user's own version from the first lockdown.
            before_commit, mode_before = previous.before_commit, previous.mode_before
            if current is not None:
                self.history.record(path, "mcp.json as it was when locked down again")
        elif current is not None:
            before_commit = self.history.record(path, "mcp.json before lockdown", label="before")
            mode_before = _mode_of(path)
        else:
            before_commit, mode_before = None, None
        data = locked_bytes(doc, allowed)
        self._write_locked(path, data)
        after_commit = self.history.record(path, "mcp.json after lockdown", label="after")
        record = LockRecord(
            file=str(path),
            locked_at=_now(),
            before_commit=before_commit,
            after_commit=after_commit,
            sha256=sha256_hex(data),
            mode_before=mode_before,
            allowed=[s.name for s in doc.servers if s.name in allowed] if doc else [],
            keep_locked=keep_locked,
        )
        self._save(record)
        log.info("locked down %s (%d server(s) kept)", path, len(record.allowed))
        return record

    def _write_locked(self, path: Path, data: bytes) -> None:
        make_writable(path)
        try:
            atomic_write(path, data, mode=LOCKED_MODE)
        except FileWriteError:
            with contextlib.suppress(OSError):
                if path.exists() and sys.platform == "win32":
                    make_read_only(path)
            raise
        make_read_only(path)  # atomic_write set it already; this also covers Windows
        # Verify: what is on disk is what we meant, parses, and is read-only.
        back = read_bytes(path)
        if back != data:
            raise FileWriteError(
                f"Locked {path}, but reading it back gave different content; another "
                "program may be writing it. Check it and lock down again.",
                path=path,
            )
        parse_mcp(back)
        if not _is_read_only(_mode_of(path)):
            raise FileWriteError(
                f"Wrote the locked {path}, but could not make it read-only.", path=path
            )

    # --- restore ----------------------------------------------------------------------

    async def restore(self) -> RestoreResult:
        """Put back the version from before lockdown, with its permissions, and forget the
        lock. The current file is recorded in history first."""
        async with self._lock:
            result = await asyncio.to_thread(self._restore)
        self._retarget()
        return result

    def _restore(self) -> RestoreResult:
        record = self.record()
        if record is None:
            raise ConfigError(
                "mcp.json is not locked down by LM Studio Tray, so there is nothing to restore.",
                title="Nothing to restore",
            )
        path = Path(record.file)
        if path.exists():
            self.history.record(path, "mcp.json before restoring the version before lockdown")
        if record.before_commit is None:
            make_writable(path)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self._forget()
            return RestoreResult(
                file=str(path),
                restored_commit=None,
                mode=None,
                token_marker=False,
                message=f"There was no {path.name} before lockdown, so the locked one was "
                "removed (it is kept in history).",
            )
        data = self.history.read(path, record.before_commit)
        mode = record.mode_before if record.mode_before is not None else 0o644
        make_writable(path)
        atomic_write(path, data, mode=mode)
        os.chmod(path, mode)
        commit = self.history.record(path, f"Restored {path.name} to the version before lockdown")
        self._forget()
        marker = _TOKEN_MARKER in data
        message = f"Restored {path.name} to the version from before lockdown (mode {mode:o})."
        if marker:
            message += (
                " It held an LM Studio API token, which history never keeps: put the token "
                "back where the marker 'sk-lm-REMOVED-by-LM-Studio-Tray' is (the tray's "
                "“API token” menu can copy it)."
            )
        log.info("restored %s from %s", path, record.before_commit[:12])
        return RestoreResult(
            file=str(path), restored_commit=commit, mode=mode, token_marker=marker, message=message
        )

    # --- re-lock ----------------------------------------------------------------------

    async def relock(self) -> LockRecord:
        """Write the locked version back (after drift, or when the file became writable)."""
        async with self._lock:
            return await asyncio.to_thread(self._relock, False)

    def _relock(self, automatic: bool) -> LockRecord:
        record = self.record()
        if record is None:
            raise ConfigError(
                "mcp.json is not locked down, so there is nothing to lock again; use "
                "“Lock down now”.",
                title="Not locked",
            )
        path = Path(record.file)
        current = _read_or_none(path)
        if decide_drift(record, current) is Drift.NONE and _is_read_only(_mode_of(path)):
            return record
        if current is not None:
            self.history.record(path, "mcp.json changed outside the app while locked", outside=True)
        data = self.history.read(path, record.after_commit)
        self._write_locked(path, data)
        now = _now()
        commit = self.history.record(
            path,
            "mcp.json locked again automatically (keep locked)"
            if automatic
            else "mcp.json locked again",
        )
        record = record.model_copy(
            update={
                "after_commit": commit,
                "sha256": sha256_hex(data),
                "relocks": record.relocks + 1,
                "recent_relocks": recent_relocks(record.recent_relocks, now)
                if automatic
                else record.recent_relocks,
            }
        )
        self._save(record)
        log.info("re-locked %s", path)
        return record

    # --- status -----------------------------------------------------------------------

    async def status(self, path: Path | None = None) -> LockStatus:
        """Locked? since when? changed since? how many servers? `path` defaults to the
        locked file."""
        return await asyncio.to_thread(self._status, path)

    def _status(self, path: Path | None) -> LockStatus:
        record = self.record()
        if path is None:
            if record is None:
                raise ConfigError("No mcp.json given and none is locked down.")
            path = Path(record.file)
        path = Path(path).absolute()
        other = None
        if record is not None and Path(record.file) != path:
            other, record = record.file, None
        current = _read_or_none(path)
        doc, error = _parse_or_none(current)
        mode = _mode_of(path)
        common: dict[str, Any] = {
            "file": str(path),
            "exists": current is not None,
            "server_count": len(doc.servers) if doc is not None else None,
            "parse_error": error.message if error else None,
            "read_only": _is_read_only(mode),
            "record_for_other_file": other,
            "keep_locked": self._keep(record) if record else False,
        }
        if record is None:
            return LockStatus(locked=False, **common)
        drift = decide_drift(record, current)
        diff = None
        if drift is not Drift.NONE:
            diff = self._diff(path, record, doc, error, deleted=current is None)
        return LockStatus(
            locked=True,
            locked_at=record.locked_at,
            drift=drift,
            diff=diff,
            allowed=record.allowed,
            **common,
        )

    def _keep(self, record: LockRecord) -> bool:
        return self._keep_locked() if self._keep_locked is not None else record.keep_locked

    def _diff(
        self,
        path: Path,
        record: LockRecord,
        doc: McpDocument | None,
        error: McpParseError | None,
        *,
        deleted: bool,
    ) -> ServerDiff:
        try:
            locked_doc, _ = _parse_or_none(self.history.read(path, record.after_commit))
        except ConfigError:
            locked_doc = None
        return diff_servers(
            locked_doc, doc, deleted=deleted, unparsable=error.message if error else None
        )

    # --- drift ------------------------------------------------------------------------

    async def check_drift(self) -> DriftEvent | None:
        """If the locked file changed: record it, re-lock when asked to, and say what
        changed. None when it is not locked or unchanged."""
        async with self._lock:
            return await asyncio.to_thread(self._check_drift)

    def _check_drift(self) -> DriftEvent | None:
        record = self.record()
        if record is None:
            return None
        path = Path(record.file)
        current = _read_or_none(path)
        drift = decide_drift(record, current)
        if drift is Drift.NONE:
            return None
        doc, error = _parse_or_none(current)
        diff = self._diff(path, record, doc, error, deleted=current is None)
        recorded = None
        if current is not None:
            try:
                recorded = self.history.record(
                    path, "mcp.json changed outside the app while locked", outside=True
                )
            except TrayError as exc:
                log.warning("could not record the changed mcp.json: %s", exc.message)
        now = _now()
        relocked, relock_error = False, None
        if self._keep(record):
            if relock_allowed(record.recent_relocks, now):
                try:
                    record = self._relock(True)
                    relocked = True
                except TrayError as exc:
                    relock_error = exc.message
            else:
                relock_error = (
                    "it keeps being changed, so automatic re-locking is paused; find the "
                    "program that writes it, then use “Lock down now”."
                )
        record = (self.record() or record).model_copy(update={"last_drift_at": now})
        with contextlib.suppress(TrayError):
            self._save(record)
        log.info("drift in %s: %s", path, diff.summary())
        return DriftEvent(
            file=str(path),
            drift=drift,
            diff=diff,
            at=now,
            recorded_commit=recorded,
            locked=True,
            relocked=relocked,
            relock_error=relock_error,
        )

    async def watch(
        self, path: Path, on_drift: DriftCallback, *, watcher: FileWatcher | None = None
    ) -> None:
        """Watch `path` (the default mcp.json) and its folder from now on: a change while
        locked goes through `check_drift`; a change while unlocked is reported too (with
        `locked=False`), so the user hears about an "Add to LM Studio" they did not make.
        `watcher`: a running or new `FileWatcher` to share (the app's); else our own."""
        if watcher is None:
            watcher = FileWatcher()
            self._own_watcher = True
        self._watcher = watcher
        watched = self._watched = _absolute(path)
        self._on_drift = on_drift
        self._last_seen = await asyncio.to_thread(lambda: _parse_or_none(_read_or_none(watched))[0])
        self._retarget()
        await watcher.start()

    def _retarget(self) -> None:
        """Follow the locked file when it is not the watched default one."""
        if self._watcher is None or self._watched is None:
            return
        if self._unwatch is not None:
            self._unwatch()
        record = self.record()
        targets = {self._watched}
        if record is not None:
            targets.add(Path(record.file))
        removers = [self._watcher.watch_file(t, self._file_changed) for t in sorted(targets)]

        def unwatch() -> None:
            for remove in removers:
                remove()

        self._unwatch = unwatch

    async def _file_changed(self, change: FileChange) -> None:
        path = Path(change.path)
        record = self.record()
        if record is not None and Path(record.file) == path:
            event = await self.check_drift()
        else:
            event = await asyncio.to_thread(self._unlocked_change, path)
        if event is not None and self._on_drift is not None:
            result = self._on_drift(event)
            if inspect.isawaitable(result):
                await result

    def _unlocked_change(self, path: Path) -> DriftEvent | None:
        current = _read_or_none(path)
        doc, error = _parse_or_none(current)
        diff = diff_servers(
            self._last_seen,
            doc,
            deleted=current is None,
            unparsable=error.message if error else None,
        )
        self._last_seen = doc if doc is not None else self._last_seen
        if diff.empty:
            return None
        return DriftEvent(
            file=str(path),
            drift=Drift.DELETED if current is None else Drift.CHANGED,
            diff=diff,
            at=_now(),
            recorded_commit=None,
            locked=False,
        )

    async def stop_watching(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        watcher, self._watcher = self._watcher, None
        if self._own_watcher and watcher is not None:
            await watcher.stop()
        self._own_watcher = False
