"""The history of the files the tray changes, as a git repository the tray owns (dulwich).

Every change the tray makes to a user's file (moving a token out of `mcp.json`, and later
presets, load profiles and MCP lockdown) is recorded here before and after, so any step
can be looked at and undone. One repository, one flat tree: each file is stored under a
stable key derived from its absolute path (`<name>-<sha256 of the path, 12 hex>`), so two
`mcp.json` in different folders never collide and a renamed folder starts a new history.

History must never hold a token: content and messages go through `redact_tokens` first. A
file that still contains an LM Studio token is recorded with the token replaced by a
marker, and the commit message says so — restoring that version brings back the marker,
not the token (the token lives in the keyring).

All calls block (disk I/O, fsync); callers on the event loop use `asyncio.to_thread`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import platformdirs
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo
from pydantic import BaseModel, ConfigDict

from tray.core.errors import ConfigError, FileWriteError
from tray.services.files import atomic_write, read_bytes

__all__ = ["AUTHOR", "FileHistory", "Version", "default_history_dir", "redact_tokens"]

log = logging.getLogger(__name__)

AUTHOR = b"LM Studio Tray <tray@localhost>"
_BRANCH = Ref(b"refs/heads/main")
_TOKEN_BYTES = re.compile(rb"sk-lm-[A-Za-z0-9]{8}:[A-Za-z0-9]{20}")
_MARKER = b"sk-lm-REMOVED-by-LM-Studio-Tray"
_CAS_RETRIES = 5


class Version(BaseModel):
    """One recorded state of a file."""

    model_config = ConfigDict(frozen=True)

    commit: str
    timestamp: datetime
    message: str


def default_history_dir() -> Path:
    return Path(platformdirs.user_data_dir("lmstudio-tray", appauthor=False)) / "history"


def redact_tokens(data: bytes) -> tuple[bytes, int]:
    """Replace every LM Studio token in `data` by a marker; return the result and how many."""
    return _TOKEN_BYTES.subn(_MARKER, data)


def _redact_text(text: str) -> str:
    return redact_tokens(text.encode("utf-8"))[0].decode("utf-8")


def file_key(path: Path) -> str:
    """Stable, flat, token-free tree entry name for a file."""
    absolute = str(Path(path).expanduser().absolute())
    digest = hashlib.sha256(absolute.encode("utf-8")).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(path).name)[:60] or "file"
    return f"{_redact_text(name)}-{digest}"


class FileHistory:
    """The tray's history repository; created on first use."""

    def __init__(self, repo_dir: Path) -> None:
        self.repo_dir = Path(repo_dir)
        self._lock = threading.Lock()
        self._repo: Repo | None = None

    # --- repository ---------------------------------------------------------------

    def _open(self) -> Repo:
        if self._repo is not None:
            return self._repo
        try:
            if (self.repo_dir / "HEAD").exists():
                repo = Repo(str(self.repo_dir))
            else:
                self.repo_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                repo = Repo.init_bare(str(self.repo_dir))
                repo.refs.set_symbolic_ref(Ref(b"HEAD"), _BRANCH)
        except OSError as exc:
            raise FileWriteError(
                f"Could not create the tray's file history in {self.repo_dir}: {exc.strerror}.",
                path=self.repo_dir,
            ) from exc
        self._repo = repo
        return repo

    def _head(self, repo: Repo) -> ObjectID | None:
        try:
            return repo.refs[_BRANCH]
        except KeyError:
            return None

    def _tree_of(self, repo: Repo, commit_id: bytes | None) -> Tree:
        if commit_id is None:
            return Tree()
        commit = repo[commit_id]
        assert isinstance(commit, Commit)
        tree = repo[commit.tree]
        assert isinstance(tree, Tree)
        return tree

    @staticmethod
    def _entry(tree: Tree, key: bytes) -> bytes | None:
        try:
            return tree[key][1]
        except KeyError:
            return None

    # --- public ---------------------------------------------------------------------

    def record(self, path: Path, message: str, *, label: str | None = None) -> str:
        """Commit the file's current content; return the commit id of that version.

        Nothing is committed when the content equals the last recorded one (the id of
        that version is returned). `label` (e.g. "before", "after") prefixes the message."""
        path = Path(path)
        try:
            raw = read_bytes(path)
        except FileNotFoundError:
            raise ConfigError(
                f"{path} does not exist, so there is nothing to record in the file history.",
                path=path,
            ) from None
        content, count = redact_tokens(raw)
        text = f"{label}: {message}" if label else message
        text = _redact_text(text)
        if count:
            text += (
                f"\n\n{count} LM Studio API token(s) in this file were replaced by "
                f"'{_MARKER.decode()}' in this copy; history never holds a token."
            )
        text += f"\n\nFile: {_redact_text(str(path.absolute()))}\n"
        key = file_key(path).encode()
        with self._lock:
            repo = self._open()
            blob = Blob.from_string(content)
            for _ in range(_CAS_RETRIES):
                head = self._head(repo)
                tree = self._tree_of(repo, head)
                if self._entry(tree, key) == blob.id:
                    last = self._versions(repo, key, limit=1)
                    if last:
                        return last[0].commit
                new_tree = Tree()
                for item in tree.items():
                    new_tree.add(item.path, item.mode, item.sha)
                new_tree.add(key, 0o100644, blob.id)
                commit = Commit()
                commit.tree = new_tree.id
                commit.parents = [head] if head is not None else []
                commit.author = commit.committer = AUTHOR
                now = int(time.time())
                commit.author_time = commit.commit_time = now
                commit.author_timezone = commit.commit_timezone = 0
                commit.encoding = b"UTF-8"
                commit.message = text.encode("utf-8")
                try:
                    repo.object_store.add_objects([(blob, None), (new_tree, None), (commit, None)])
                except OSError as exc:
                    raise FileWriteError(
                        f"Could not write the file history in {self.repo_dir}: {exc.strerror}.",
                        path=self.repo_dir,
                    ) from exc
                # compare-and-swap: another process (CLI and tray) may have committed meanwhile
                if repo.refs.set_if_equals(_BRANCH, head, commit.id):
                    log.debug("history: recorded %s as %s", key.decode(), commit.id.decode())
                    return commit.id.decode()
            raise FileWriteError(
                f"Could not record {path.name} in the file history: it kept changing "
                "underneath (another LM Studio Tray running?). Try again.",
                path=self.repo_dir,
            )

    def _versions(self, repo: Repo, key: bytes, *, limit: int | None = None) -> list[Version]:
        head = self._head(repo)
        if head is None:
            return []
        found: list[Version] = []
        for entry in repo.get_walker(include=[head], paths=[key]):
            c = entry.commit
            found.append(
                Version(
                    commit=c.id.decode(),
                    timestamp=datetime.fromtimestamp(c.commit_time, tz=UTC),
                    message=c.message.decode("utf-8", errors="replace"),
                )
            )
            if limit is not None and len(found) >= limit:
                break
        return found

    def versions(self, path: Path) -> list[Version]:
        """Every recorded version of `path`, newest first."""
        key = file_key(Path(path)).encode()
        with self._lock:
            if not (self.repo_dir / "HEAD").exists():
                return []
            return self._versions(self._open(), key)

    def read(self, path: Path, commit: str) -> bytes:
        """The content of `path` as recorded in `commit` (tokens already redacted)."""
        key = file_key(Path(path)).encode()
        with self._lock:
            repo = self._open()
            try:
                tree = self._tree_of(repo, commit.encode())
            except (KeyError, ValueError, AssertionError):
                raise ConfigError(
                    f"The file history has no version {commit[:12]}.", path=Path(path)
                ) from None
            blob_id = self._entry(tree, key)
            if blob_id is None:
                raise ConfigError(
                    f"Version {commit[:12]} of the file history does not contain "
                    f"{Path(path).name}.",
                    path=Path(path),
                )
            blob = repo[blob_id]
            assert isinstance(blob, Blob)
            return bytes(blob.as_raw_string())

    def restore(self, path: Path, commit: str) -> str:
        """Put back the content of `commit` (atomically) and record that; returns the new
        commit id."""
        path = Path(path)
        data = self.read(path, commit)
        atomic_write(path, data)
        return self.record(path, f"Restored {path.name} to version {commit[:12]}")
