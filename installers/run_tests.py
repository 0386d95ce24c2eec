"""Run the whole test suite: the unit, integration and reliability tiers each in a pytest
process, then each UI test file in a process of its own, and end with one line of totals.

Why separate processes for the UI files: the app has one QApplication and one tray for its
whole life, while a single pytest process would pile up hundreds of trays, menus, dialogs
and qasync loops from many tests in one QApplication. PySide6 has been seen to crash at
random after that (a segfault in a later test, never reproducible file by file) — most
likely PySide6 6.12.0's leak of references to None, now excluded in pyproject, but a fresh
process per UI file is what the app itself gets, and one crash cannot take the rest down.

A hang fails, it does not block: each process has a wall-clock limit. Past it the process
and everything it started are killed, "TIMED OUT: <file>" names the test it was in (from
the `pytest_progress` plugin), it counts as failed, and the run goes on with the next
group. (pytest-timeout stops most hangs earlier: see `timeout_method` in pyproject.toml.)

Nothing may write into the user's own files: every process gets HOME and the XDG folders
pointed at empty sentinel folders (tests/conftest.py moves them to throw-away folders of
its own at once); anything that appears in a sentinel is reported and fails the run.

Run inside `installers/desktop-session.sh`; exits non-zero if any test failed, any process
crashed or timed out, or anything was written into a sentinel. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

TIER_LIMIT = 30 * 60.0  # seconds for a whole tier (unit, integration, reliability)
UI_FILE_LIMIT = 10 * 60.0  # seconds for one UI test file
SENTINELS = {  # variable: the sentinel folder's name
    "HOME": "home",
    "XDG_CONFIG_HOME": "config",
    "XDG_DATA_HOME": "data",
    "XDG_STATE_HOME": "state",
    "XDG_CACHE_HOME": "cache",
    "XDG_RUNTIME_DIR": "runtime",
}
COUNTS = ("tests", "failures", "errors", "skipped")


@dataclass(frozen=True)
class Group:
    """Paths run by one pytest process, and how long it may take."""

    paths: tuple[str, ...]
    limit: float

    @property
    def name(self) -> str:
        return " ".join(self.paths)


@dataclass
class Outcome:
    code: int | None  # None: killed at its limit
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    where: str = ""  # the last line of the progress plugin
    results: bool = False  # pytest wrote its results (it did not die on the way)


def groups(root: Path = ROOT) -> list[Group]:
    ui = sorted((root / "tests" / "ui").glob("test_*.py"))
    tiers = [
        Group((f"tests/{tier}",), TIER_LIMIT) for tier in ("unit", "integration", "reliability")
    ]
    return [*tiers, *(Group((str(p.relative_to(root)),), UI_FILE_LIMIT) for p in ui)]


def sentinel_env(folder: Path) -> dict[str, str]:
    """The environment that points HOME and every XDG folder at empty folders in `folder`."""
    env = {}
    for var, name in SENTINELS.items():
        (folder / name).mkdir(mode=0o700, parents=True, exist_ok=True)
        env[var] = str(folder / name)
    return env


def written_into(folder: Path) -> list[str]:
    """Everything that appeared in the sentinel folders."""
    return sorted(str(p) for name in SENTINELS.values() for p in (folder / name).rglob("*"))


def run(group: Group, work: Path, env: dict[str, str], root: Path = ROOT) -> Outcome:
    """One pytest process for `group`, killed with everything it started at its limit."""
    xml, progress = work / "result.xml", work / "progress.txt"
    path = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "pytest_progress"]
    process = subprocess.Popen(
        [*command, f"--junitxml={xml}", *group.paths],
        cwd=root,
        env={**env, "PYTHONPATH": path, "LMSTRAY_TEST_PROGRESS": str(progress)},
        start_new_session=True,  # its own process group: stopped whole, simulators too
    )
    try:
        code: int | None = process.wait(timeout=group.limit)
    except subprocess.TimeoutExpired:
        code = None
    except BaseException:  # Ctrl+C: take the process down with us
        _kill_group(process)
        raise
    _kill_group(process)  # whatever it left running (a hang in a child, a stray server)
    outcome = Outcome(code)
    if progress.exists():
        outcome.where = progress.read_text(encoding="utf-8").strip()
    if code is not None and xml.exists():
        outcome.results = True
        for suite in ET.parse(xml).getroot().iter("testsuite"):
            for key in COUNTS:
                outcome.counts[key] += int(suite.get(key, "0"))
    return outcome


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def timed_out_line(group: Group, where: str) -> str:
    if where.startswith("in "):
        test = where.removeprefix("in ")
        said = f"{test.split('::', 1)[0]} (in {test})"
    elif where.startswith("after "):
        test = where.removeprefix("after ")
        said = f"{test.split('::', 1)[0]} (after {test}, before the next test began)"
    elif where == "finishing":
        said = f"{group.name} (after its last test, while pytest was finishing)"
    else:
        said = f"{group.name} (before its first test began)"
    return f"TIMED OUT: {said}; stopped after {group.limit:g} s"


def run_all(all_groups: list[Group], env: dict[str, str], root: Path = ROOT) -> int:
    total = dict.fromkeys(COUNTS, 0)
    broken: list[str] = []
    timed_out = 0
    with tempfile.TemporaryDirectory(prefix="lmstudio-tray-tests-") as tmp:
        for n, group in enumerate(all_groups):
            work = Path(tmp) / str(n)
            work.mkdir()
            outcome = run(group, work, env, root)
            for key in total:
                total[key] += outcome.counts[key]
            if outcome.code is None:
                timed_out += 1
                line = timed_out_line(group, outcome.where)
                print(f"\n{line}", flush=True)
                broken.append(line)
            elif outcome.code != 0:  # failures, a crash, or no tests collected at all
                died = "" if outcome.results or not outcome.where else f"; {outcome.where}"
                broken.append(f"FAILED or crashed: {group.name} (exit {outcome.code}{died})")
    failed = total["failures"] + total["errors"]
    passed = total["tests"] - failed - total["skipped"]
    for line in broken:
        print(line)
    if broken and not failed:
        failed = len(broken)  # a crash counts, even if no test result was written
    elif timed_out:
        failed += timed_out  # a killed process wrote no results: count it at least once
    print(f"suite: {passed} passed, {failed} failed, {total['skipped']} skipped")
    return 1 if broken or failed else 0


def main(root: Path = ROOT, all_groups: list[Group] | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="lmstudio-tray-sentinels-") as tmp:
        sentinels = Path(tmp)
        env = {**os.environ, **sentinel_env(sentinels)}
        code = run_all(groups(root) if all_groups is None else all_groups, env, root)
        leaked = written_into(sentinels)
        if leaked:
            print(
                "WRITTEN OUTSIDE THE TESTS' OWN FOLDERS (into the HOME and XDG folders the "
                "run was given, which stand for the user's):"
            )
            for path in leaked[:50]:
                print(f"  {path}")
            return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
