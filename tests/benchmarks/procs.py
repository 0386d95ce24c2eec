"""Start the app or the bare tray as a child process in a throw-away home, and read what
/proc says about it (RSS, CPU ticks, descendants). Linux only, like the benchmarks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from run import Options

from tray.simulator import Simulator

TICKS = os.sysconf("SC_CLK_TCK")


def bare_command(opts: Options) -> list[str]:
    return [opts.python, str(Path(__file__).with_name("bare_tray.py"))]


def floor_command(opts: Options, url: str) -> list[str]:
    """The same-stack floor (floor_tray.py) polling `url`."""
    return [opts.python, str(Path(__file__).with_name("floor_tray.py")), url]


def app_command(
    opts: Options, home: Path, server_url: str, lmstudio_home: Path, lms: Path | None
) -> list[str]:
    """The real app (`python -m tray`, no --demo) pointed at `server_url`, default settings
    except what the throw-away home needs."""
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "settings.json"
    if not settings.exists():
        settings.write_text(json.dumps({"schema_version": 2}))
    cmd = [opts.python, "-m", "tray", "--server", server_url, "--settings", str(settings)]
    cmd += ["--home", str(lmstudio_home)]
    if lms is not None:
        cmd += ["--lms", str(lms)]
    return cmd


def child_env(home: Path, source: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if source is not None:  # ahead of the editable install on sys.path
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        # the one-tray-per-user lock: a run must never hand over to another tray
        XDG_RUNTIME_DIR=str(home / "runtime"),
    )
    # As installed: pip byte-compiles a package when it installs it. A checkout run with
    # PYTHONDONTWRITEBYTECODE would compile every module on every start instead; give the
    # children a bytecode cache of their own (filled by each benchmark's warm-up run).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(home.parent / "pycache")
    env.pop("LM_API_TOKEN", None)
    env.pop("LMSTUDIO_API_TOKEN", None)
    return env


@contextlib.contextmanager
def simulator(home: Path) -> Iterator[Simulator]:
    """A simulated LM Studio in this process: its request log counts the app's requests."""
    with Simulator(home / ".lmstudio") as sim:
        yield sim


def start(cmd: list[str], home: Path, source: Path | None = None) -> subprocess.Popen[bytes]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "runtime").mkdir(mode=0o700, exist_ok=True)
    return subprocess.Popen(
        cmd,
        env=child_env(home, source),
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(home / "stderr.log", "ab"),  # closed in stop()
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def settled_rss_mb(pid: int, *, quiet_seconds: float = 2.0, limit: float = 30.0) -> float:
    """RSS once it has stayed within 1 % for `quiet_seconds` (start-up work done)."""
    deadline = time.monotonic() + limit
    window: list[float] = []
    while time.monotonic() < deadline:
        window.append(rss_mb(pid))
        window = window[-int(quiet_seconds / 0.25) - 1 :]
        full = len(window) > quiet_seconds / 0.25
        if full and max(window) - min(window) <= 0.01 * max(window):
            return window[-1]
        time.sleep(0.25)
    return window[-1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and of the children it has reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / TICKS


class ChildCounter:
    """Counts distinct processes descended from `pid` by scanning /proc every 10 ms in a
    thread of the benchmark (not of the app). A child that lives under 10 ms could be
    missed; an `lms` call or any Python child lives far longer."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.seen: dict[tuple[int, str], str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._scan, daemon=True)

    def __enter__(self) -> ChildCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _scan(self) -> None:
        while not self._stop.wait(0.01):
            parents: dict[int, int] = {}
            info: dict[int, tuple[str, str]] = {}
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    stat = Path(entry.path, "stat").read_text()
                except OSError:
                    continue
                name = stat[stat.find("(") + 1 : stat.rfind(")")]
                fields = stat.rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
                info[int(entry.name)] = (fields[19], name)  # start time, command name
            for pid, ppid in parents.items():
                p = ppid
                while p > 1 and p != self.pid:
                    p = parents.get(p, 0)
                if p == self.pid:
                    start_time, name = info[pid]
                    self.seen[(pid, start_time)] = name

    @property
    def count(self) -> int:
        return len(self.seen)
