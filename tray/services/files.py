"""The one place that writes files: atomically, verified, and with errors a user can act on.

A write goes to a temporary file in the same folder, is flushed and fsync'ed, then
`os.replace`d over the target (retried briefly on Windows, where a reader or a virus
scanner may hold the file), the folder is fsync'ed, and the result is read back and
compared. If anything fails the old file is untouched and `FileWriteError` says why.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from tray.core.errors import FileParseError, FileWriteError

__all__ = ["atomic_write", "read_json", "read_text", "sha256_hex", "written_by_this_process"]

log = logging.getLogger(__name__)

_REPLACE_RETRIES = 10 if sys.platform == "win32" else 1
_REPLACE_DELAY = 0.05
_MAX_READ_BYTES = 16 * 1024 * 1024
# What this process wrote lately, so a file watcher can tell our writes from outside ones:
# path -> content hashes of the last few writes (bounded: a path written in a loop).
_OWN_WRITES: dict[str, deque[str]] = {}
_OWN_WRITES_LOCK = threading.Lock()
_OWN_WRITES_PER_PATH = 8
_OWN_WRITES_PATHS = 512


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _path_key(path: Path) -> str:
    return os.path.normcase(os.path.abspath(path))


def _note_own_write(path: Path, data: bytes) -> None:
    key = _path_key(path)
    with _OWN_WRITES_LOCK:
        if key not in _OWN_WRITES and len(_OWN_WRITES) >= _OWN_WRITES_PATHS:
            _OWN_WRITES.pop(next(iter(_OWN_WRITES)))
        _OWN_WRITES.setdefault(key, deque(maxlen=_OWN_WRITES_PER_PATH)).append(sha256_hex(data))


def written_by_this_process(path: Path, digest: str) -> bool:
    """Whether this process wrote exactly this content (sha256 hex) to `path` lately."""
    with _OWN_WRITES_LOCK:
        return digest in _OWN_WRITES.get(_path_key(path), ())


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (is the file or its folder read-only?)"
    if exc.errno == errno.EROFS:
        return "the file system is read-only"
    return exc.strerror or str(exc)


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` so that readers see the old or the new file, never a mix."""
    path = Path(path)
    folder = path.parent
    tmp_name: str | None = None
    try:
        if mode is None:
            try:
                mode = path.stat().st_mode & 0o7777
            except FileNotFoundError:
                mode = 0o644
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, mode)
        # Noted before the replace: a watcher may see the new file before we return.
        _note_own_write(path, data)
        _replace(tmp_name, path)
        tmp_name = None
        _fsync_dir(folder)
    except OSError as exc:
        raise FileWriteError(
            f"Could not save {path}: {_reason(exc)}. The previous version is unchanged.",
            path=path,
        ) from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    if read_bytes(path) != data:
        raise FileWriteError(
            f"Saved {path}, but reading it back gave different content; "
            "another program may be writing it at the same time.",
            path=path,
        )
    log.debug("wrote %s (%d bytes)", path, len(data))


def _replace(src: str, dst: Path) -> None:
    for attempt in range(_REPLACE_RETRIES):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if attempt == _REPLACE_RETRIES - 1:
                raise
            time.sleep(_REPLACE_DELAY * (attempt + 1))


def _fsync_dir(folder: Path) -> None:
    if sys.platform == "win32":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_bytes(path: Path, *, limit: int = _MAX_READ_BYTES) -> bytes:
    """Read a whole file, refusing ones larger than `limit` (a config file never is)."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise FileParseError(f"Could not read {path}: {_reason(exc)}.", path=Path(path)) from exc
    if len(data) > limit:
        raise FileParseError(
            f"{path} is larger than {limit // (1024 * 1024)} MiB; it is not a file we expect.",
            path=Path(path),
        )
    return data


def read_text(path: Path) -> str:
    """Read UTF-8 text, tolerating the BOM some Windows writers add."""
    return _text_of(read_bytes(path), path)


def _text_of(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileParseError(
            f"{path} is not UTF-8 text (byte {exc.start}).", path=Path(path)
        ) from exc


def read_json(path: Path) -> Any:
    """Parse a JSON file; a syntax error names the line and column."""
    return json_of(read_bytes(path), path)


def json_of(data: bytes, path: Path) -> Any:
    """Parse the bytes read from `path` as `read_json` does (for a caller that also needs
    the bytes, e.g. to hash them)."""
    text = _text_of(data, path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileParseError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            path=Path(path),
            line=exc.lineno,
            column=exc.colno,
        ) from exc
