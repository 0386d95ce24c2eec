"""Benchmarks 1 and 2: process start → tray icon shown, and idle RSS after start-up
settles — the app (`python -m tray`, pointed at a simulated LM Studio, default settings,
throw-away home) against a bare PySide6 tray (bare_tray.py) and, for memory, against the
same-stack floor (floor_tray.py: the bare tray on qasync with httpx, pydantic and keyring
imported, polling the same simulator), alternating run by run so all see the same
machine load.

"Shown" is timed from outside (xwatch.TrayWatch): from just before the process is started
to the first moment the icon's window, embedded by the tray host, holds painted pixels.
"""

from __future__ import annotations

import sys

import procs
from run import Options, Result
from xwatch import TrayWatch


def _one(cmd: list[str], home_name: str, opts: Options, watch: TrayWatch) -> tuple[float, float]:
    home = opts.scratch / home_name
    home.mkdir(parents=True, exist_ok=True)
    watch.arm()
    proc = procs.start(cmd, home, opts.source if home_name == "app-home" else None)
    try:
        _embedded, painted = watch.wait()
        rss = procs.settled_rss_mb(proc.pid)
    finally:
        procs.stop(proc)
    return painted * 1000, rss


def startup_and_memory(opts: Options) -> list[Result]:
    watch = TrayWatch()
    app_ms: list[float] = []
    bare_ms: list[float] = []
    app_rss: list[float] = []
    bare_rss: list[float] = []
    floor_ms: list[float] = []
    floor_rss: list[float] = []
    with procs.simulator(opts.scratch / "sim") as sim:
        lms = sim.install_fake_lms()
        app = procs.app_command(opts, opts.scratch / "app-home", sim.base_url, sim.home, lms)
        bare = procs.bare_command(opts)
        floor = procs.floor_command(opts, f"{sim.base_url}/api/v1/models")
        # One warm-up of each: the first start reads every file from disk.
        _one(bare, "bare-home", opts, watch)
        _one(floor, "floor-home", opts, watch)
        _one(app, "app-home", opts, watch)
        for n in range(opts.runs):
            for cmd, ms, rss, name in (
                (bare, bare_ms, bare_rss, "bare-home"),
                (floor, floor_ms, floor_rss, "floor-home"),
                (app, app_ms, app_rss, "app-home"),
            ):
                t, m = _one(cmd, name, opts, watch)
                ms.append(t)
                rss.append(m)
                print(f"  run {n + 1} {name}: {t:.0f} ms, {m:.1f} MB", file=sys.stderr)
    watch.close()
    return [
        Result(
            "1 start → icon shown",
            "ms",
            app_ms,
            "≤ 1.3 × bare tray",
            baseline_runs=bare_ms,
            budget_ratio=1.3,
        ),
        Result(
            "2 idle RSS",
            "MB",
            app_rss,
            "≤ 1.3 × bare tray",
            baseline_runs=bare_rss,
            budget_ratio=1.3,
        ),
        Result(
            "2 idle RSS vs same-stack floor",
            "MB",
            app_rss,
            "≤ 1.10 × same-stack floor",
            baseline_runs=floor_rss,
            budget_ratio=1.10,
        ),
    ]


startup_and_memory.name = "startup-memory"  # type: ignore[attr-defined]

BENCHMARKS = [startup_and_memory]
