"""Run the benchmarks of DESIGN.md §5 and print each figure next to its baseline and budget.

    bash installers/desktop-session.sh /tmp/setup/venv/bin/python tests/benchmarks/run.py
    … run.py -k startup --runs 3          # only benchmarks whose name contains "startup"
    … run.py --json results.json          # also write every figure as JSON
    … run.py --source /tmp/before         # the app from another tree, e.g. an older commit:
                                          #   git archive <commit> | tar -x -C /tmp/before

How a benchmark module plugs in (the contract for every `tests/benchmarks/bench_*.py`):

- The module exposes `BENCHMARKS: list[Benchmark]`, where a `Benchmark` is a callable
  `fn(opts: Options) -> list[Result]` whose `__name__` (or a `name` attribute) is what `-k`
  matches. It imports this module as `from run import Options, Result, median_of` (the
  runner puts this folder first on `sys.path`; the folder has no `__init__.py`).
- It runs its own baseline in the same invocation (interleaved with the measured runs, so
  both see the same machine load) and returns one `Result` per figure it reports.
- No timed asserts: a benchmark reports; `Result.verdict` compares with the budget.

Benchmarks are never collected by the normal test run: pytest collects `test_*.py` only and
`installers/run_tests.py` runs tests/unit, tests/integration and tests/ui/test_*.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

__all__ = ["Benchmark", "Options", "Result", "median_of"]


@dataclass
class Options:
    """What every benchmark gets: how many runs, the Python that runs the app, a scratch
    folder (deleted afterwards) and the repository root."""

    runs: int = 5
    python: str = sys.executable
    root: Path = ROOT
    scratch: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    idle_seconds: float = 60.0
    source: Path | None = None
    """Run the app (`python -m tray`) from this source tree instead of the installed one."""


@dataclass
class Result:
    """One reported figure. `runs`/`baseline_runs` are the raw samples; `figure` and
    `baseline` their medians. `budget_ratio` (figure / baseline must stay at or under it) or
    `budget_max` (figure must stay under it) say what DESIGN.md §5 allows."""

    name: str
    unit: str
    runs: list[float]
    budget: str
    baseline_runs: list[float] = field(default_factory=list)
    budget_ratio: float | None = None
    budget_max: float | None = None
    notes: str = ""

    @property
    def figure(self) -> float:
        return statistics.median(self.runs)

    @property
    def baseline(self) -> float | None:
        return statistics.median(self.baseline_runs) if self.baseline_runs else None

    @property
    def ratio(self) -> float | None:
        base = self.baseline
        return self.figure / base if base else None

    @property
    def verdict(self) -> str:
        if self.budget_ratio is not None and self.ratio is not None:
            return "meets" if self.ratio <= self.budget_ratio else "MISSES"
        if self.budget_max is not None:
            return "meets" if self.figure < self.budget_max else "MISSES"
        return "-"

    def as_json(self) -> dict[str, object]:
        doc = asdict(self)
        doc.update(figure=self.figure, baseline=self.baseline, ratio=self.ratio)
        doc["verdict"] = self.verdict
        return doc


Benchmark = Callable[[Options], list[Result]]


def median_of(samples: Sequence[float]) -> str:
    """'median (min–max)' with sensible precision."""
    if not samples:
        return "-"

    def f(x: float) -> str:
        return f"{x:.3g}" if abs(x) < 10 else f"{x:.0f}"

    return f"{f(statistics.median(samples))} ({f(min(samples))}–{f(max(samples))})"


def _load_modules(only: str | None) -> list[tuple[str, Benchmark]]:
    sys.path.insert(0, str(HERE))
    found: list[tuple[str, Benchmark]] = []
    for path in sorted(HERE.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        for bench in getattr(module, "BENCHMARKS", []):
            name = getattr(bench, "name", None) or bench.__name__
            if only is None or only in name:
                found.append((name, bench))
    return found


def _print(results: list[Result]) -> None:
    head = ("benchmark", "figure: median (min–max)", "baseline", "ratio", "budget", "")
    rows = [head]
    for r in results:
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else "-"
        rows.append(
            (
                r.name,
                f"{median_of(r.runs)} {r.unit}",
                f"{median_of(r.baseline_runs)} {r.unit}" if r.baseline_runs else "-",
                ratio,
                r.budget,
                r.verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for r in results:
        if r.notes:
            print(f"- {r.name}: {r.notes}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-k", dest="only", help="run benchmarks whose name contains this")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="idle CPU window")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--source", type=Path, help="run the app from this source tree")
    args = parser.parse_args(argv)
    results: list[Result] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lmstudio-tray-bench-") as tmp:
        opts = Options(
            runs=args.runs,
            scratch=Path(tmp),
            idle_seconds=args.idle_seconds,
            source=args.source.resolve() if args.source else None,
        )
        for name, bench in _load_modules(args.only):
            print(f"running {name} …", file=sys.stderr, flush=True)
            try:
                got = bench(opts)
            except Exception:  # one broken benchmark must not hide the others' figures
                traceback.print_exc()
                failed.append(name)
                continue
            results.extend(got)
            _print(got)
    print()
    _print(results)
    if args.json:
        args.json.write_text(json.dumps([r.as_json() for r in results], indent=2))
    if failed:
        print(f"benchmarks that failed to run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
