"""The history of the files the tray changes, as a git repository the tray owns (dulwich).

Every change to a tracked file (presets, load profiles, LM Studio's per-model defaults,
`mcp.json`) is a commit: the tray's own changes ("by LM Studio Tray") and the ones a file
watcher notices ("changed outside the app"), so any step can be looked at and undone.
One repository, one flat tree: each file is stored under a stable key derived from its
path (`<name>-<sha256 of the path, 12 hex>`), so two `mcp.json` in different folders never
collide. A path under the user's home counts as `~/…`, so the same preset on two machines
has the same key and a shared remote (push/pull) lines their histories up.

The tree also holds `.paths.json` (key → `~/…` or absolute path): the real path of every
file ever recorded is known from the repository alone (`tracked()`), also after a file was
deleted — a deletion removes the file's entry from the tree and keeps its versions.

History must never hold a token: content, messages and paths go through `redact_tokens`
first. A file that still contains an LM Studio token is recorded with the token replaced
by a marker, and the commit message says so — restoring that version brings back the
marker, not the token (the token lives in the keyring). A remote URL's credentials are
never logged nor put in a message.

Sharing: `set_remote(url)`, `push()`, `pull()` over dulwich (no git binary). A pull
fast-forwards when it can; when both sides changed, it merges without dropping anything:
files changed on one side take that side, files changed on both keep this machine's
content, and both versions stay in the history (`PullResult.conflict` names them; the
user restores the one they want).

All calls block (disk I/O, fsync, network); callers on the event loop use
`asyncio.to_thread`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict

from tray.core.errors import ConfigError, FileWriteError, NotFound
from tray.core.settings import remote_url_problem
from tray.core.words import plural, quoted
from tray.services.files import atomic_write, read_bytes
from tray.services.os_lock import lock_file

if TYPE_CHECKING:  # dulwich itself is imported when the repository is first opened
    from dulwich.objects import Blob, ObjectID, Tree
    from dulwich.refs import Ref
    from dulwich.repo import Repo

    from tray.core.history_diff import FileDiff

__all__ = [
    "AUTHOR",
    "Conflict",
    "ConflictFile",
    "FileHistory",
    "PullResult",
    "PushResult",
    "RemoteError",
    "TrackedFile",
    "Version",
    "display_url",
    "file_key",
    "redact_tokens",
]

log = logging.getLogger(__name__)

AUTHOR = b"LM Studio Tray <tray@localhost>"
_BRANCH = cast("Ref", b"refs/heads/main")
_REMOTE_BRANCH = cast("Ref", b"refs/remotes/origin/main")
_INDEX = b".paths.json"
_TOKEN_BYTES = re.compile(rb"sk-lm-[A-Za-z0-9]{8}:[A-Za-z0-9]{20}")
_MARKER = b"sk-lm-REMOVED-by-LM-Studio-Tray"
_CAS_RETRIES = 5
BY_TRAY = "by LM Studio Tray"
BY_OUTSIDE = "changed outside the app"
_TRAILER = "Changed-By: "
_WRITER_LOCK = "tray-writer.lock"
_T = TypeVar("_T")

Who = Literal["tray", "outside"]


class RemoteError(ConfigError):
    """The history remote could not be reached or refused us (exit code 1 in the CLI)."""

    title = "History sharing failed"


class Version(BaseModel):
    """One recorded state of a file (or its deletion: `deleted`)."""

    model_config = ConfigDict(frozen=True)

    commit: str
    timestamp: datetime
    message: str
    by: Who = "tray"
    deleted: bool = False

    @property
    def summary(self) -> str:
        return self.message.split("\n", 1)[0]


class TrackedFile(BaseModel):
    """A file the history knows, with its real path (from the repository alone)."""

    model_config = ConfigDict(frozen=True)

    path: Path
    key: str
    last_version: Version | None
    deleted: bool


class ConflictFile(BaseModel):
    """A file both machines changed: `ours` is kept on disk, `theirs` waits in history."""

    model_config = ConfigDict(frozen=True)

    path: Path
    key: str
    ours: str | None  # the commit of this machine's last version (None: deleted here)
    theirs: str | None  # the commit of the remote's last version (None: deleted there)


class Conflict(BaseModel):
    model_config = ConfigDict(frozen=True)

    files: list[ConflictFile]
    ours: str
    theirs: str


class PullResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: Literal["up_to_date", "fast_forward", "merged", "empty_remote"]
    head: str | None
    changed: list[Path] = []  # files whose recorded content the pull changed
    written: list[Path] = []  # of those, the ones put on disk (unchanged here since)
    skipped: list[Path] = []  # changed on disk since the last record: left alone
    conflict: Conflict | None = None

    @property
    def message(self) -> str:
        if self.outcome == "empty_remote":
            return "The remote has no history yet; push to share this one."
        if self.outcome == "up_to_date":
            return "Already up to date."
        parts = [f"{plural(len(self.changed), 'file')} updated from the remote"]
        if self.skipped:
            parts.append(
                f"{len(self.skipped)} left alone because they changed here since the last "
                "version (both versions are in the history)"
            )
        if self.conflict:
            parts.append(
                f"{len(self.conflict.files)} changed on both machines: this machine's "
                "version was kept, the other one is in the history — restore the one you want"
            )
        return "; ".join(parts) + "."


class PushResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: Literal["pushed", "up_to_date", "rejected", "nothing"]
    head: str | None

    @property
    def message(self) -> str:
        return {
            "pushed": "Pushed the history to the remote.",
            "up_to_date": "The remote already has this history.",
            "rejected": "The remote has changes this machine does not have yet: pull first, "
            "then push.",
            "nothing": "Nothing to push: the history is empty.",
        }[self.outcome]


def redact_tokens(data: bytes) -> tuple[bytes, int]:
    """Replace every LM Studio token in `data` by a marker; return the result and how many."""
    return _TOKEN_BYTES.subn(_MARKER, data)


def _redact_text(text: str) -> str:
    return redact_tokens(text.encode("utf-8"))[0].decode("utf-8")


def display_url(url: str) -> str:
    """`url` without a password or token (`https://user:***@host/…`): safe to show or log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a remote URL that cannot be read)"
    if parts.username is None and parts.password is None:
        return _redact_text(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = parts.username or ""
    netloc = f"{user}:***@{host}" if parts.password is not None else f"***@{host}"
    return _redact_text(urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")))


def _portable(path: Path) -> str:
    """The path as the history names it: `~/…` under the home folder, else absolute."""
    absolute = Path(path).expanduser().absolute()
    try:
        return "~/" + absolute.relative_to(Path.home()).as_posix()
    except ValueError:
        return absolute.as_posix()


def _local(portable: str) -> Path:
    return Path(portable).expanduser()


def file_key(path: Path) -> str:
    """Stable, flat, token-free tree entry name for a file."""
    digest = hashlib.sha256(_portable(path).encode("utf-8")).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(path).name)[:60] or "file"
    return f"{_redact_text(name)}-{digest}"


def _who_of(message: str) -> Who:
    for line in reversed(message.splitlines()):
        if line.startswith(_TRAILER):
            return "outside" if line[len(_TRAILER) :].strip() == "outside" else "tray"
    return "outside" if BY_OUTSIDE in message else "tray"


class FileHistory:
    """The tray's history repository; created on first use."""

    def __init__(self, repo_dir: Path) -> None:
        self.repo_dir = Path(repo_dir)
        self._lock = threading.RLock()
        self._repo: Repo | None = None

    def close(self) -> None:
        """Let go of the repository's open files (its pack files) until the next use: the
        app calls it when it quits."""
        with self._lock:
            if self._repo is not None:
                self._repo.close()
                self._repo = None

    # --- repository ---------------------------------------------------------------

    def _open(self) -> Repo:
        if self._repo is not None:
            return self._repo
        # dulwich (5–12 MB) only once a version is written or read: idle never needs it
        from dulwich.repo import Repo

        try:
            if (self.repo_dir / "HEAD").exists():
                repo = Repo(str(self.repo_dir))
            else:
                self.repo_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                repo = Repo.init_bare(str(self.repo_dir))
                repo.refs.set_symbolic_ref(cast("Ref", b"HEAD"), _BRANCH)
        except OSError as exc:
            raise FileWriteError(
                f"Could not create the tray's file history in {self.repo_dir}: {exc.strerror}.",
                path=self.repo_dir,
            ) from exc
        self._repo = repo
        return repo

    def _head(self, repo: Repo, ref: Ref = _BRANCH) -> ObjectID | None:
        try:
            return repo.refs[ref]
        except KeyError:
            return None

    def _tree_of(self, repo: Repo, commit_id: bytes | None) -> Tree:
        from dulwich.objects import Commit, Tree

        if commit_id is None:
            return Tree()
        commit = repo[commit_id]
        if not isinstance(commit, Commit):
            raise KeyError(commit_id)
        tree = repo[commit.tree]
        assert isinstance(tree, Tree)
        return tree

    @staticmethod
    def _entry(tree: Tree, key: bytes) -> ObjectID | None:
        try:
            return tree[key][1]
        except KeyError:
            return None

    def _index(self, repo: Repo, tree: Tree) -> dict[str, str]:
        blob_id = self._entry(tree, _INDEX)
        if blob_id is None:
            return {}
        blob = repo[blob_id]
        try:
            data = json.loads(blob.as_raw_string().decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            log.warning("history: the path index is unreadable; paths come from messages")
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    @staticmethod
    def _index_blob(index: dict[str, str]) -> Blob:
        from dulwich.objects import Blob

        text = json.dumps(dict(sorted(index.items())), indent=1, ensure_ascii=False) + "\n"
        return Blob.from_string(_redact_text(text).encode("utf-8"))

    def _commit(
        self,
        repo: Repo,
        *,
        parents: list[ObjectID],
        entries: dict[bytes, ObjectID | None],
        base: Tree,
        message: str,
        blobs: list[Blob],
        expect: ObjectID | None,
    ) -> ObjectID | None:
        """Write a commit whose tree is `base` with `entries` set (None: removed); move the
        branch from `expect` to it. None when another writer moved the branch meanwhile."""
        from dulwich.objects import Commit, Tree

        new_tree = Tree()
        for item in base.items():
            if item.path not in entries:
                new_tree.add(item.path, item.mode, item.sha)
        for key, sha in entries.items():
            if sha is not None:
                new_tree.add(key, 0o100644, sha)
        commit = Commit()
        commit.tree = new_tree.id
        commit.parents = parents
        commit.author = commit.committer = AUTHOR
        now = int(time.time())
        commit.author_time = commit.commit_time = now
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message.encode("utf-8")
        objects = [*((b, None) for b in blobs), (new_tree, None), (commit, None)]
        with self._writer_lock():
            try:
                self._despite_stale_lock(lambda: repo.object_store.add_objects(objects))
            except OSError as exc:
                raise FileWriteError(
                    f"Could not write the file history in {self.repo_dir}: {exc.strerror}.",
                    path=self.repo_dir,
                ) from exc
            # compare-and-swap: another process (CLI and tray) may have committed meanwhile
            if self._despite_stale_lock(
                lambda: repo.refs.set_if_equals(_BRANCH, expect, commit.id)
            ):
                return commit.id
        return None

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        """Held by every tray process while it writes objects or moves a ref. The OS drops
        it when its process dies, so a git lock file found while holding it was left by a
        writer killed mid-update (dulwich would otherwise refuse every later commit).
        Not reentrant: a second flock from this process would wait for itself."""
        try:
            fd = lock_file(self.repo_dir / _WRITER_LOCK, wait=True)
        except TimeoutError as exc:
            raise self._busy(Path("the file history")) from exc
        except OSError as exc:
            raise FileWriteError(
                f"Could not write the file history in {self.repo_dir}: {exc.strerror}.",
                path=self.repo_dir,
            ) from exc
        assert fd is not None  # waited for it
        try:
            yield
        finally:
            os.close(fd)  # releases the lock (Windows too: the region dies with the handle)

    def _despite_stale_lock(self, write: Callable[[], _T]) -> _T:
        """Run a dulwich write holding `_writer_lock`; a git lock file in its way (a ref's
        or a pack index's) was left by a killed writer: remove it and write again, once."""
        from dulwich.file import FileLocked

        try:
            return write()
        except FileLocked as exc:
            stale = Path(os.fsdecode(exc.lockfilename))
            log.warning("history: removing %s, left by a writer that was killed", stale)
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        try:
            return write()
        except FileLocked:
            raise self._busy(Path("the file history")) from None

    def _set_ref(self, repo: Repo, ref: Ref, expect: ObjectID | None, new: ObjectID) -> bool:
        """`set_if_equals` (expect None: unconditionally) that survives a stale lock."""
        with self._writer_lock():
            return self._despite_stale_lock(lambda: repo.refs.set_if_equals(ref, expect, new))

    @staticmethod
    def _message(text: str, path: Path, who: Who, extra: str = "") -> str:
        by = BY_OUTSIDE if who == "outside" else BY_TRAY
        body = _redact_text(text) + extra
        return (
            f"{body}\n\n{'Changed' if who == 'tray' else 'Noticed'} {by}.\n"
            f"File: {_redact_text(_portable(path))}\n{_TRAILER}{who}\n"
        )

    # --- recording ------------------------------------------------------------------

    def record(
        self, path: Path, message: str, *, label: str | None = None, outside: bool = False
    ) -> str:
        """Commit the file's current content; return the commit id of that version.

        Nothing is committed when the content equals the last recorded one (the id of
        that version is returned). `label` (e.g. "before", "after") prefixes the message;
        `outside` says the change was made by someone else (a file watcher noticed it)."""
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
        extra = ""
        if count:
            extra = (
                f"\n\n{plural(count, 'LM Studio API token')} in this file "
                f"{'was' if count == 1 else 'were'} replaced by {quoted(_MARKER.decode())} in this "
                "copy; history never holds a token."
            )
        full = self._message(text, path, "outside" if outside else "tray", extra)
        key = file_key(path).encode()
        with self._lock:
            repo = self._open()
            from dulwich.objects import Blob

            blob = Blob.from_string(content)
            for _ in range(_CAS_RETRIES):
                head = self._head(repo)
                tree = self._tree_of(repo, head)
                index = self._index(repo, tree)
                known = index.get(key.decode()) == _redact_text(_portable(path))
                if self._entry(tree, key) == blob.id and known:
                    last = self._versions(repo, key, limit=1)
                    if last:
                        return last[0].commit
                entries: dict[bytes, ObjectID | None] = {key: blob.id}
                blobs = [blob]
                if not known:
                    index[key.decode()] = _portable(path)
                    index_blob = self._index_blob(index)
                    entries[_INDEX] = index_blob.id
                    blobs.append(index_blob)
                new = self._commit(
                    repo,
                    parents=[head] if head is not None else [],
                    entries=entries,
                    base=tree,
                    message=full,
                    blobs=blobs,
                    expect=head,
                )
                if new is not None:
                    log.debug("history: recorded %s as %s", key.decode(), new.decode())
                    return new.decode()
            raise self._busy(path)

    def _busy(self, path: Path) -> FileWriteError:
        return FileWriteError(
            f"Could not record {path.name} in the file history: it kept changing "
            "underneath (another LM Studio Tray running?). Try again.",
            path=self.repo_dir,
        )

    def record_deletion(self, path: Path, message: str, *, outside: bool = False) -> str:
        """Record that `path` was deleted: its entry leaves the tree, its versions stay
        (restoring one recreates the file). Returns the commit id (the existing one when
        the deletion is already recorded)."""
        path = Path(path)
        key = file_key(path).encode()
        full = self._message(message, path, "outside" if outside else "tray")
        with self._lock:
            repo = self._open()
            for _ in range(_CAS_RETRIES):
                head = self._head(repo)
                tree = self._tree_of(repo, head)
                if self._entry(tree, key) is None:
                    last = self._versions(repo, key, limit=1)
                    if not last:
                        raise self._never_recorded(path)
                    return last[0].commit
                new = self._commit(
                    repo,
                    parents=[head] if head is not None else [],
                    entries={key: None},
                    base=tree,
                    message=full,
                    blobs=[],
                    expect=head,
                )
                if new is not None:
                    log.debug("history: recorded the deletion of %s", key.decode())
                    return new.decode()
            raise self._busy(path)

    @staticmethod
    def _never_recorded(path: Path) -> NotFound:
        return NotFound(f"{path} has never been recorded in the file history.", path=Path(path))

    # --- reading --------------------------------------------------------------------

    def _versions(self, repo: Repo, key: bytes, *, limit: int | None = None) -> list[Version]:
        head = self._head(repo)
        if head is None:
            return []
        found: list[Version] = []
        for entry in repo.get_walker(include=[head], paths=[key]):
            c = entry.commit
            message = c.message.decode("utf-8", errors="replace")
            found.append(
                Version(
                    commit=c.id.decode(),
                    timestamp=datetime.fromtimestamp(c.commit_time, tz=UTC),
                    message=message,
                    by=_who_of(message),
                    deleted=self._entry(self._tree_of(repo, c.id), key) is None,
                )
            )
            if limit is not None and len(found) >= limit:
                break
        return found

    def versions(self, path: Path) -> list[Version]:
        """Every recorded version of `path` (deletions included), newest first."""
        key = file_key(Path(path)).encode()
        with self._lock:
            if not (self.repo_dir / "HEAD").exists():
                return []
            return self._versions(self._open(), key)

    def tracked(self) -> list[TrackedFile]:
        """Every file the history holds, deleted ones included, sorted by path."""
        with self._lock:
            if not (self.repo_dir / "HEAD").exists():
                return []
            repo = self._open()
            tree = self._tree_of(repo, self._head(repo))
            index = self._index(repo, tree)
            keys = set(index) | {item.path.decode("utf-8", "replace") for item in tree.items()}
            keys.discard(_INDEX.decode())
            files = []
            for key in keys:
                last = self._versions(repo, key.encode(), limit=1)
                portable = index.get(key) or _path_from_message(last[0].message if last else "")
                if portable is None:
                    continue
                files.append(
                    TrackedFile(
                        path=_local(portable),
                        key=key,
                        last_version=last[0] if last else None,
                        deleted=self._entry(tree, key.encode()) is None,
                    )
                )
            return sorted(files, key=lambda f: (f.path.name.lower(), str(f.path)))

    def resolve(self, path: Path, rev: str) -> str:
        """The full commit id of `path`'s version `rev` (a full id or a unique prefix of
        at least 4 hex digits, or `latest`)."""
        versions = self.versions(path)
        if not versions:
            raise self._never_recorded(path)
        rev = rev.strip().lower()
        if rev in ("latest", "head"):
            return versions[0].commit
        if len(rev) >= 4 and re.fullmatch(r"[0-9a-f]+", rev):
            matches = [v.commit for v in versions if v.commit.startswith(rev)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise ConfigError(
                    f"{rev} matches several versions of {Path(path).name}; give more digits.",
                    path=Path(path),
                )
        raise NotFound(
            f"The file history has no version {quoted(rev[:12])} of {Path(path).name}; "
            "`history log` lists them.",
            path=Path(path),
        )

    def previous(self, path: Path, commit: str) -> str | None:
        """The version of `path` recorded before `commit` (None for the first one)."""
        versions = self.versions(path)
        for i, v in enumerate(versions):
            if v.commit == commit:
                return versions[i + 1].commit if i + 1 < len(versions) else None
        return None

    def _read_optional(self, repo: Repo, key: bytes, commit: bytes) -> bytes | None:
        from dulwich.objects import Blob

        blob_id = self._entry(self._tree_of(repo, commit), key)
        if blob_id is None:
            return None
        blob = repo[blob_id]
        assert isinstance(blob, Blob)
        return bytes(blob.as_raw_string())

    def read(self, path: Path, commit: str) -> bytes:
        """The content of `path` as recorded in `commit` (tokens already redacted)."""
        key = file_key(Path(path)).encode()
        with self._lock:
            repo = self._open()
            try:
                data = self._read_optional(repo, key, commit.encode())
            except (KeyError, ValueError, AssertionError):
                raise ConfigError(
                    f"The file history has no version {commit[:12]}.", path=Path(path)
                ) from None
            if data is None:
                raise ConfigError(
                    f"Version {commit[:12]} of the file history does not contain "
                    f"{Path(path).name} (it was deleted then, or never recorded).",
                    path=Path(path),
                )
            return data

    def diff(self, path: Path, rev_a: str | None, rev_b: str | None = None) -> FileDiff:
        """What changed from version `rev_a` (None: nothing, the file did not exist) to
        `rev_b` (None: the file on disk now). A deletion is an empty side."""
        path = Path(path)
        key = file_key(path).encode()

        def side(rev: str) -> bytes | None:
            with self._lock:
                try:
                    return self._read_optional(self._open(), key, rev.encode())
                except (KeyError, ValueError, AssertionError):
                    raise ConfigError(
                        f"The file history has no version {rev[:12]}.", path=path
                    ) from None

        old = side(rev_a) if rev_a is not None else None
        if rev_b is None:
            try:
                new: bytes | None = redact_tokens(read_bytes(path))[0]
            except FileNotFoundError:
                new = None
        else:
            new = side(rev_b)
        from tray.core.history_diff import diff_contents  # the History window's, not idle's

        return diff_contents(
            path.name,
            old,
            new,
            old_label=rev_a[:12] if rev_a else "nothing",
            new_label=rev_b[:12] if rev_b else "current file",
        )

    def restore(self, path: Path, commit: str) -> str:
        """Put back the content of `commit` (atomically; recreating a deleted file) and
        record that; returns the new commit id."""
        path = Path(path)
        data = self.read(path, commit)
        atomic_write(path, data)
        return self.record(path, f"Restored {path.name} to version {commit[:12]}")

    # --- sharing --------------------------------------------------------------------

    def remote(self) -> str | None:
        """The remote URL (as configured; may hold credentials: show `display_url`)."""
        with self._lock:
            if not (self.repo_dir / "HEAD").exists():
                return None
            config = self._open().get_config()
            try:
                return config.get((b"remote", b"origin"), b"url").decode("utf-8")
            except KeyError:
                return None

    def set_remote(self, url: str | None) -> None:
        """Share through `url` (a git URL or a local path); None or "" removes it."""
        problem = remote_url_problem(url) if url else None
        if problem:
            raise ConfigError(problem, path=self.repo_dir)
        with self._lock:
            repo = self._open()
            config = repo.get_config()
            section = (b"remote", b"origin")
            if url:
                config.set(section, b"url", url.strip().encode("utf-8"))
                config.set(section, b"fetch", b"+refs/heads/*:refs/remotes/origin/*")
            elif config.has_section(section):
                del config[section]
            try:
                config.write_to_path()
            except OSError as exc:
                raise FileWriteError(
                    f"Could not save the remote in {self.repo_dir}: {exc.strerror}.",
                    path=self.repo_dir,
                ) from exc
        log.info("history remote: %s", display_url(url) if url else "none")

    def _require_remote(self) -> str:
        url = self.remote()
        if not url:
            raise ConfigError(
                "No remote is set for the file history. Set one (a git URL or a folder) "
                "in History → Sharing or with `lmstudio-tray history remote URL`.",
                path=self.repo_dir,
            )
        return url

    def _network_error(self, exc: Exception, url: str, doing: str) -> RemoteError:
        from dulwich.client import HTTPUnauthorized

        shown = display_url(url)
        if isinstance(exc, HTTPUnauthorized) or "auth" in type(exc).__name__.lower():
            text = (
                f"The remote {shown} needs a login to {doing}. Put a user name and an access "
                "token in the URL or use an SSH URL with a key."
            )
        else:
            reason = _redact_text(str(exc)).replace(url, shown) or type(exc).__name__
            text = (
                f"Could not {doing} the remote {shown}: {reason}. Check the URL and the "
                "network, then try again."
            )
        return RemoteError(text, path=self.repo_dir)

    def _fetch(self, repo: Repo, url: str) -> ObjectID | None:
        """Fetch the remote's main branch into refs/remotes/origin/main; its id or None."""
        from dulwich.client import get_transport_and_path

        try:
            client, remote_path = get_transport_and_path(url)
            result = client.fetch(remote_path, repo)
        except Exception as exc:  # dulwich raises many kinds: OSError, Hangup, protocol…
            raise self._network_error(exc, url, "fetch from") from None
        theirs = result.refs.get(_BRANCH)
        if theirs is not None:
            self._set_ref(repo, _REMOTE_BRANCH, None, theirs)
        return theirs

    def push(self) -> PushResult:
        """Send this history to the remote; refused (not forced) when the remote has
        changes this machine has not pulled."""
        from dulwich.graph import can_fast_forward

        url = self._require_remote()
        with self._lock:
            repo = self._open()
            ours = self._head(repo)
            if ours is None:
                return PushResult(outcome="nothing", head=None)
            theirs = self._fetch(repo, url)
            if theirs == ours:
                return PushResult(outcome="up_to_date", head=ours.decode())
            if theirs is not None and (
                theirs not in repo.object_store or not can_fast_forward(repo, theirs, ours)
            ):
                return PushResult(outcome="rejected", head=ours.decode())
            from dulwich import porcelain

            try:
                porcelain.push(
                    repo,
                    remote_location=url,
                    refspecs=[_BRANCH + b":" + _BRANCH],
                    outstream=io.BytesIO(),
                    errstream=io.BytesIO(),
                )
            except porcelain.DivergedBranches:
                return PushResult(outcome="rejected", head=ours.decode())
            except Exception as exc:
                raise self._network_error(exc, url, "push to") from None
            self._set_ref(repo, _REMOTE_BRANCH, None, ours)
            log.info("history: pushed %s to %s", ours.decode()[:12], display_url(url))
            return PushResult(outcome="pushed", head=ours.decode())

    def pull(self) -> PullResult:
        """Bring the remote's history in: fast-forward, or a merge that keeps both sides
        (see the module doc). Files this machine tracks at the same path are updated on
        disk when they are unchanged here since their last version."""
        from dulwich.graph import can_fast_forward, find_merge_base

        url = self._require_remote()
        with self._lock:
            repo = self._open()
            theirs = self._fetch(repo, url)
            ours = self._head(repo)
            if theirs is None:
                return PullResult(outcome="empty_remote", head=ours.decode() if ours else None)
            if ours == theirs or (ours is not None and can_fast_forward(repo, theirs, ours)):
                return PullResult(outcome="up_to_date", head=ours.decode() if ours else None)
            old_tree = self._tree_of(repo, ours)
            if ours is None or can_fast_forward(repo, ours, theirs):
                if not self._set_ref(repo, _BRANCH, ours, theirs):
                    raise self._busy(Path("the shared history"))
                new_tree = self._tree_of(repo, theirs)
                changed = _changed_keys(old_tree, new_tree)
                return self._apply(repo, "fast_forward", theirs, old_tree, new_tree, changed, None)
            bases = find_merge_base(repo, [ours, theirs])
            base_tree = self._tree_of(repo, bases[0] if bases else None)
            our_tree = old_tree
            their_tree = self._tree_of(repo, theirs)
            ours_changed = _changed_keys(base_tree, our_tree)
            theirs_changed = _changed_keys(base_tree, their_tree)
            entries: dict[bytes, ObjectID | None] = {}
            conflicts: list[bytes] = []
            for key in theirs_changed - {_INDEX}:
                if key in ours_changed and self._entry(our_tree, key) != self._entry(
                    their_tree, key
                ):
                    conflicts.append(key)
                else:
                    entries[key] = self._entry(their_tree, key)
            index = {**self._index(repo, their_tree), **self._index(repo, our_tree)}
            index_blob = self._index_blob(index)
            entries[_INDEX] = index_blob.id
            names = [index.get(k.decode(), k.decode()) for k in sorted(conflicts)]
            message = (
                f"Merged the shared history from {display_url(url)}"
                + (
                    f"; changed on both machines (this machine's version kept): {', '.join(names)}"
                    if conflicts
                    else ""
                )
                + f"\n\n{_TRAILER}tray\n"
            )
            merged = self._commit(
                repo,
                parents=[ours, theirs],
                entries=entries,
                base=our_tree,
                message=message,
                blobs=[index_blob],
                expect=ours,
            )
            if merged is None:
                raise self._busy(Path("the shared history"))
            conflict = None
            if conflicts:
                conflict = Conflict(
                    ours=ours.decode(),
                    theirs=theirs.decode(),
                    files=[
                        ConflictFile(
                            path=_local(index.get(k.decode(), k.decode())),
                            key=k.decode(),
                            ours=self._last_touch(repo, ours, k),
                            theirs=self._last_touch(repo, theirs, k),
                        )
                        for k in sorted(conflicts)
                    ],
                )
            new_tree = self._tree_of(repo, merged)
            return self._apply(
                repo, "merged", merged, old_tree, new_tree, set(entries) - {_INDEX}, conflict
            )

    def _last_touch(self, repo: Repo, head: ObjectID, key: bytes) -> str | None:
        for entry in repo.get_walker(include=[head], paths=[key], max_entries=1):
            if self._entry(self._tree_of(repo, entry.commit.id), key) is None:
                return None
            return entry.commit.id.decode()
        return None

    def _apply(
        self,
        repo: Repo,
        outcome: Literal["fast_forward", "merged"],
        head: ObjectID,
        old_tree: Tree,
        new_tree: Tree,
        keys: set[bytes],
        conflict: Conflict | None,
    ) -> PullResult:
        """Write the pulled content of files tracked here (same path, disk unchanged since
        their last version); the rest stays in the history for the user to restore."""
        from dulwich.objects import Blob

        index = self._index(repo, new_tree)
        old_index = self._index(repo, old_tree)
        changed: list[Path] = []
        written: list[Path] = []
        skipped: list[Path] = []
        for key in sorted(keys - {_INDEX}):
            name = key.decode()
            portable = index.get(name) or old_index.get(name)
            if portable is None:
                continue
            path = _local(portable)
            changed.append(path)
            before = self._entry(old_tree, key)
            if name not in old_index or before is None:
                continue  # not a file of this machine (or deleted here): history only
            try:
                on_disk: bytes | None = redact_tokens(read_bytes(path))[0]
            except FileNotFoundError:
                on_disk = None
            if on_disk is None or Blob.from_string(on_disk).id != before:
                skipped.append(path)
                continue
            after = self._entry(new_tree, key)
            if after is None:
                path.unlink(missing_ok=True)
            else:
                blob = repo[after]
                assert isinstance(blob, Blob)
                atomic_write(path, bytes(blob.as_raw_string()))
            written.append(path)
        log.info("history: pulled (%s), %d file(s) written", outcome, len(written))
        return PullResult(
            outcome=outcome,
            head=head.decode(),
            changed=changed,
            written=written,
            skipped=skipped,
            conflict=conflict,
        )


def _changed_keys(a: Tree, b: Tree) -> set[bytes]:
    old = {item.path: item.sha for item in a.items()}
    new = {item.path: item.sha for item in b.items()}
    return {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}


def _path_from_message(message: str) -> str | None:
    for line in message.splitlines():
        if line.startswith("File: "):
            return line[len("File: ") :].strip()
    return None
