"""One tray per user: the first start owns a lock and a local channel; a second start hands
over to it through that channel and leaves.

The lock is an OS file lock in the user's runtime folder (`services/os_lock`: the OS drops
it when its process dies, so a crashed owner's lock is never in the way). The channel is
local only — never a TCP port: a Unix socket beside the lock on Linux and macOS (Python's
own, watched by a `QSocketNotifier`, so no QtNetwork is loaded for it), a per-user named
pipe (`QLocalServer`) on Windows. Nothing of Qt is imported here before the icon shows.
One request, one
reply, one JSON line each:

    second start → {"want": "show", "demo": false}
    first start  ← {"pid": 1234, "demo": true, "said": "Server running — Demo"}

(`{"want": "modules"}` asks which Python modules the tray has imported: the idle import
set test and benchmark use it.)

The first start then shows its menu (or a notification where the tray has no place on the
screen); the second prints a sentence and exits 0. Runs before the icon is shown, so a
second start never flashes a second icon.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tray.services.app_paths import runtime_folder, safe_name
from tray.services.os_lock import lock_file

__all__ = [
    "WANT_MODULES",
    "Handler",
    "InstanceOwner",
    "ask_running",
    "claim",
    "hand_over_text",
    "runtime_dir",
]

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]

LOCK_NAME = "tray.lock"
SOCKET_NAME = "tray.sock"
ASK_SECONDS = 5.0  # how long a second start waits for the first one's answer
MAX_REQUEST = 4096
MAX_REPLY = 1 << 20  # the module list is ~50 KB
# {"want": "modules"} → {"modules": [...]}: the Python modules this tray has imported, in
# import order, for the test and the benchmark that keep the idle import set honest
# (docs/benchmarks.md).
WANT_MODULES = "modules"


def runtime_dir() -> Path:
    """The user's private folder for runtime files (`AppPaths`' runtime folder), created
    0700 and checked to be the user's own."""
    folder = runtime_folder()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if hasattr(os, "getuid") and folder.stat().st_uid != os.getuid():
        raise PermissionError(f"{folder} belongs to another user")
    return folder


def _pipe_name(folder: Path) -> str:
    """Windows: a per-user, per-folder pipe name (named pipes live in one global space)."""
    import getpass  # Windows only, and only then: kept off the start-up path elsewhere
    import hashlib

    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    return f"lmstudio-tray-{safe_name(getpass.getuser())}-{digest}"


class InstanceOwner:
    """The first start: holds the lock for its life and answers second starts. (A plain
    class, not a QObject: defining a QObject subclass costs milliseconds at import, and
    this module is imported before the icon shows.)"""

    def __init__(self, lock: int, folder: Path) -> None:
        self._lock = lock  # the descriptor holding the lock
        self._folder = folder
        self._handler: Handler = lambda _request: {}
        self._sock: socket.socket | None = None
        self._notifier: Any = None  # a QSocketNotifier once `serve` runs
        self._server: Any = None  # QLocalServer on Windows

    def listen(self) -> None:
        """Open the channel now (a second start that connects meanwhile waits in the
        backlog until `serve` answers)."""
        if sys.platform == "win32":
            self._listen_pipe()
            return
        path = self._folder / SOCKET_NAME
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a crashed owner's socket: we hold the lock, so it is stale
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        sock.listen(8)
        sock.setblocking(False)
        self._sock = sock

    def serve(self, handler: Handler) -> None:
        """Answer each second start with `handler(request)` from now on."""
        self._handler = handler
        if self._sock is not None:
            from PySide6.QtCore import QSocketNotifier  # after the icon: Qt is loaded by then

            self._notifier = QSocketNotifier(self._sock.fileno(), QSocketNotifier.Type.Read)
            self._notifier.activated.connect(self._accept)
            self._accept()  # anyone who knocked while the app was being built

    def _accept(self, *_: object) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            with conn:
                conn.settimeout(1.0)
                try:
                    request = _read_line(conn)
                    conn.sendall(self._reply(request))
                except OSError as exc:
                    log.info("a second start went away before its answer: %s", exc)

    def _reply(self, raw: bytes) -> bytes:
        import json  # only when a second start asks: not on the start-up path

        try:
            request = json.loads(raw or b"{}")
            if not isinstance(request, dict):
                request = {}
        except ValueError:
            request = {}
        try:
            if request.get("want") == WANT_MODULES:
                answer = {"modules": [n for n, m in list(sys.modules.items()) if m is not None]}
            else:
                answer = self._handler(request)
        except Exception:  # a bad request or a bug must not take the tray down
            log.exception("answering a second start failed")
            answer = {}
        return json.dumps({"pid": os.getpid(), **answer}).encode() + b"\n"

    def _listen_pipe(self) -> None:
        from PySide6.QtNetwork import QLocalServer  # Windows only: no Unix sockets there

        server = QLocalServer()
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        name = _pipe_name(self._folder)
        if not server.listen(name):
            QLocalServer.removeServer(name)
            server.listen(name)
        server.newConnection.connect(self._accept_pipe)
        self._server = server

    def _accept_pipe(self) -> None:
        while (conn := self._server.nextPendingConnection()) is not None:
            if conn.waitForReadyRead(1000):
                conn.write(self._reply(bytes(conn.readLine(MAX_REQUEST).data())))
                conn.waitForBytesWritten(1000)
            conn.disconnectFromServer()

    def close(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
        if self._sock is not None:
            self._sock.close()
            with contextlib.suppress(OSError):
                (self._folder / SOCKET_NAME).unlink()
        if self._server is not None:
            self._server.close()
        os.close(self._lock)  # releases the lock


def _read_line(conn: socket.socket, limit: int = MAX_REQUEST) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < limit:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


def claim(folder: Path | None = None) -> InstanceOwner | None:
    """The owner of this user's tray if this process is the first, else None (then
    `ask_running` talks to the first). Raises OSError when the runtime folder or the lock
    cannot be used at all."""
    folder = folder or runtime_dir()
    lock = lock_file(folder / LOCK_NAME, wait=False)
    if lock is None:
        return None
    owner = InstanceOwner(lock, folder)
    owner.listen()
    return owner


def ask_running(
    request: dict[str, Any], folder: Path | None = None, timeout: float = ASK_SECONDS
) -> dict[str, Any] | None:
    """Send `request` to the tray that holds the lock; its reply, or None when it did not
    answer in time (it may still be starting)."""
    import json

    folder = folder or runtime_dir()
    line = json.dumps(request).encode() + b"\n"
    if sys.platform == "win32":
        return _ask_pipe(folder, line, timeout)
    path = str(folder / SOCKET_NAME)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(line)
            raw = _read_line(sock, MAX_REPLY)
    except OSError as exc:
        log.info("the running tray did not answer on %s: %s", path, exc)
        return None
    return _parse_reply(raw)


def _ask_pipe(folder: Path, line: bytes, timeout: float) -> dict[str, Any] | None:
    from PySide6.QtNetwork import QLocalSocket

    conn = QLocalSocket()
    conn.connectToServer(_pipe_name(folder))
    ms = int(timeout * 1000)
    if not conn.waitForConnected(ms):
        return None
    conn.write(line)
    conn.waitForBytesWritten(ms)
    if not conn.waitForReadyRead(ms):
        return None
    return _parse_reply(bytes(conn.readLine(MAX_REPLY).data()))


def _parse_reply(raw: bytes) -> dict[str, Any] | None:
    import json

    try:
        reply = json.loads(raw)
    except ValueError:
        return None
    return reply if isinstance(reply, dict) else None


def hand_over_text(reply: dict[str, Any] | None, *, demo: bool) -> str:
    """What a second start says before it leaves."""
    if reply is None:
        return (
            "LM Studio Tray is already running (it is still starting, or busy): look for its "
            "icon in the tray."
        )
    pid = reply.get("pid")
    running = "The LM Studio Tray demo" if reply.get("demo") else "LM Studio Tray"
    where = {
        "menu": "its menu is open at its icon in the tray",
        "window": "its window is in front",
        "notification": "it shows where it is in a notification",
    }.get(str(reply.get("shown")), "look for its icon in the tray")
    text = f"{running} is already running (process {pid}): {where}."
    if bool(reply.get("demo")) != demo:
        wanted = "the demo" if demo else "the tray for your LM Studio"
        text += f" Quit it from its menu to start {wanted}."
    return text
