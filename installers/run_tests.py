"""Run the whole test suite: unit, integration and reliability tests in one pytest process,
then each UI test file in a process of its own, and end with one line of totals.

Why separate processes for the UI files: the app has one QApplication and one tray for its
whole life, while a single pytest process would pile up hundreds of trays, menus, dialogs
and qasync loops from many tests in one QApplication. PySide6 has been seen to crash at
random after that (a segfault in a later test, never reproducible file by file) — most
likely PySide6 6.12.0's leak of references to None, now excluded in pyproject, but a fresh
process per UI file is what the app itself gets, and one crash cannot take the rest down.

Run inside `installers/desktop-session.sh`; exits non-zero if any test failed or any
process crashed. Standard library only.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def groups() -> list[list[str]]:
    ui = sorted((ROOT / "tests" / "ui").glob("test_*.py"))
    first = ["tests/unit", "tests/integration", "tests/reliability"]
    return [first, *([str(p.relative_to(ROOT))] for p in ui)]


def run(group: list[str], xml: Path) -> tuple[int, dict[str, int]]:
    code = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", f"--junitxml={xml}", *group], cwd=ROOT, check=False
    ).returncode
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if xml.exists():
        for suite in ET.parse(xml).getroot().iter("testsuite"):
            for key in counts:
                counts[key] += int(suite.get(key, "0"))
    return code, counts


def main() -> int:
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    broken: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lmstudio-tray-tests-") as tmp:
        for n, group in enumerate(groups()):
            code, counts = run(group, Path(tmp) / f"{n}.xml")
            for key in total:
                total[key] += counts[key]
            if code != 0:  # failures, a crash, or no tests collected at all
                broken.append(f"{' '.join(group)} (exit {code})")
    failed = total["failures"] + total["errors"]
    passed = total["tests"] - failed - total["skipped"]
    for group in broken:
        print(f"FAILED or crashed: {group}")
    if broken and not failed:
        failed = len(broken)  # a crash counts, even if no test result was written
    print(f"suite: {passed} passed, {failed} failed, {total['skipped']} skipped")
    return 1 if broken or failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
