"""Benchmark 3: idle CPU over a window (60 s by default) with status polling on — server up
(the simulator, in this process, so its request log counts the app's HTTP requests) and
server down (a closed port) — with the processes the app spawned meanwhile, against the
bare tray idling as long.

The app runs with default settings (polling included) in a throw-away home; the window
opens once start-up has settled (RSS steady). CPU is utime + stime (+ reaped children's)
from /proc, in clock ticks (1/100 s): over 60 s one tick is 0.017 % of a core. The window is
read in three thirds: `runs` are the three rates, the figure their median.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import procs
from run import Options, Result


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens once the socket is closed


def _idle(
    cmd: list[str],
    home: Path,
    seconds: float,
    requests: Callable[[], int] = lambda: 0,
    source: Path | None = None,
) -> tuple[list[float], int, list[str], int]:
    """CPU % of one core in each third of the window; processes spawned and their names;
    HTTP requests made, all within the window."""
    proc = procs.start(cmd, home, source)
    try:
        procs.settled_rss_mb(proc.pid)
        before = requests()
        rates: list[float] = []
        with procs.ChildCounter(proc.pid) as children:
            for _ in range(3):
                t0, c0 = time.monotonic(), procs.cpu_seconds(proc.pid)
                time.sleep(seconds / 3)
                t1, c1 = time.monotonic(), procs.cpu_seconds(proc.pid)
                rates.append(100 * (c1 - c0) / (t1 - t0))
        made = requests() - before
        return rates, children.count, sorted(set(children.seen.values())), made
    finally:
        procs.stop(proc)


def idle_cpu(opts: Options) -> list[Result]:
    seconds = opts.idle_seconds
    bare_rates, _, _, _ = _idle(procs.bare_command(opts), opts.scratch / "idle-bare", seconds)
    results: list[Result] = []
    with procs.simulator(opts.scratch / "idle-sim") as sim:
        lms = sim.install_fake_lms()
        for label, url in (("server up", sim.base_url), ("server down", _closed_port_url())):
            home = opts.scratch / f"idle-{label.replace(' ', '-')}"
            cmd = procs.app_command(opts, home, url, sim.home, lms)
            rates, spawned, names, requests = _idle(
                cmd, home, seconds, lambda: len(sim.state.requests), opts.source
            )
            print(f"  {label}: {rates} % ; {spawned} processes {names}", file=sys.stderr)
            results.append(
                Result(
                    f"3 idle CPU, {label}",
                    "% of a core",
                    rates,
                    "< 0.2 % of a core; no process per poll",
                    baseline_runs=bare_rates,
                    budget_max=0.2,
                    notes=(
                        f"over {seconds:.0f} s: {spawned} processes spawned"
                        + (f" ({', '.join(names)})" if names else "")
                        + f", {requests} HTTP requests answered by the simulator"
                        + (" (none expected: the server is down)" if label == "server down" else "")
                        + "; baseline = the bare tray idling as long"
                    ),
                )
            )
    return results


idle_cpu.name = "idle-cpu"  # type: ignore[attr-defined]

BENCHMARKS = [idle_cpu]
