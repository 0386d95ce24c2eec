"""What the idle tray holds, by package (issue 20): the app is started as for benchmark 2
(real app, simulated LM Studio, default settings), left to settle and poll once, then
asked over its local channel which modules it has imported, in order. A fresh Python then
imports that same list in that order and reads its RSS after each: the growth is charged
to the top-level package of the module that was asked for — and with it whatever that
import drags in first (sys.modules lists a module when its import begins, before its own
imports), so a package that is first imported by one of ours is charged to ours: the
table says roughly where the megabytes are, not to the last one. `tray` is split by
layer; pydantic's schema machinery, loaded with the first model class, is charged to
pydantic; PySide6's import hook is made cheap as the tray makes it
(tray/ui/qt_imports.py). The figures are what importing costs, not what running adds
(caches, windows, the event loop's own): the table's last row is the difference to the
app's measured idle RSS.

Not a budget of its own: it says where benchmark 2's megabytes are.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import procs
from run import Options, Result

from tray.platform.single_instance import WANT_MODULES, ask_running

_CHILD = r"""
import importlib, json, sys
sys.modules.setdefault("httpx._main", None)
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
names = json.load(sys.stdin)
start = rss()
costs = {}
patched = False
# pydantic's schema machinery loads with the first model class, whoever defines it: charge
# it to pydantic, not to the first of our modules that has a model.
before = rss()
from pydantic import BaseModel
class _First(BaseModel):
    a: int = 0
_First()
costs["pydantic (first model)"] = (0, rss() - before)
for name in names:
    if name in sys.modules or name == "__main__" or name == "__mp_main__":
        continue
    group = name.split(".")[0]
    if group == "tray":
        group = ".".join(name.split(".")[:2])
    before = rss()
    try:
        importlib.import_module(name)
    except Exception as exc:  # platform-only modules (Windows, macOS): nothing to charge
        continue
    if not patched and "PySide6.QtCore" in sys.modules:
        # as the tray does right after PySide6 (tray/ui/qt_imports.py), where it can
        try:
            from tray.ui.qt_imports import keep_sources_out_of_memory
            patched = keep_sources_out_of_memory()
        except ImportError:
            patched = True  # an older tree: measured as it ran
    n, mb = costs.get(group, (0, 0.0))
    costs[group] = (n + 1, mb + rss() - before)
print(json.dumps({"python": start, "total": rss(), "costs": costs}))
"""


def idle_modules(opts: Options) -> tuple[list[str], float]:
    """The running app's modules, in import order, after it settled and polled, and its
    RSS then."""
    with procs.simulator(opts.scratch / "sim-imports") as sim:
        lms = sim.install_fake_lms()
        home = opts.scratch / "imports-home"
        command = procs.app_command(opts, home, sim.base_url, sim.home, lms)
        # A warm-up start fills the bytecode cache: a first start compiles every module
        # and settles ≈ 10 MB higher, which an installed app never does.
        warm = procs.start(command, home, opts.source)
        procs.settled_rss_mb(warm.pid)
        procs.stop(warm)
        proc = procs.start(command, home, opts.source)
        try:
            procs.settled_rss_mb(proc.pid)
            time.sleep(2.0)
            rss = procs.rss_mb(proc.pid)
            reply = ask_running({"want": WANT_MODULES}, folder=home / "runtime" / "lmstudio-tray")
        finally:
            procs.stop(proc)
    if reply is None or not isinstance(reply.get("modules"), list):
        raise RuntimeError(f"the app did not tell its modules: {reply}")
    return [str(m) for m in reply["modules"]], rss


def imports_by_package(opts: Options) -> list[Result]:
    modules, app_rss = idle_modules(opts)
    done = subprocess.run(
        [opts.python, "-c", _CHILD],
        input=json.dumps(modules),
        capture_output=True,
        text=True,
        check=True,
        env=procs.child_env(opts.scratch / "imports-child", opts.source),
    )
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    costs: dict[str, tuple[int, float]] = {k: tuple(v) for k, v in doc["costs"].items()}
    rows = sorted(costs.items(), key=lambda kv: -kv[1][1])
    print(f"\n  {len(modules)} modules at idle; app idle RSS {app_rss:.1f} MB", file=sys.stderr)
    print(f"  {'package':32} {'modules':>7} {'MB':>6}", file=sys.stderr)
    print(f"  {'(python itself)':32} {'':>7} {doc['python']:6.1f}", file=sys.stderr)
    for group, (n, mb) in rows:
        if mb >= 0.3 or group.startswith("tray"):
            print(f"  {group:32} {n:7d} {mb:6.1f}", file=sys.stderr)
    rest = app_rss - doc["total"]
    print(f"  {'(running, not importing)':32} {'':>7} {rest:6.1f}", file=sys.stderr)
    return [
        Result("imports: modules at idle", "modules", [float(len(modules))], "-"),
        Result("imports: RSS of the idle import set", "MB", [doc["total"]], "-"),
    ]


imports_by_package.name = "idle-imports"  # type: ignore[attr-defined]

BENCHMARKS = [imports_by_package]
