"""A pytest plugin for installers/run_tests.py: keeps, in the file named by
$LMSTRAY_TEST_PROGRESS, where the run is — so that when a test process hangs and is
stopped, the runner can say which test it was in. One line, rewritten as the run goes:

    in tests/ui/test_x.py::test_y       the test (its set-up, call or tear-down) runs
    after tests/ui/test_x.py::test_y    it finished; the process had not moved on
    finishing                           every test ran; pytest is shutting down

Loaded with `-p pytest_progress` (run_tests.py puts this folder on PYTHONPATH). Standard
library and pytest's hooks only.
"""

from __future__ import annotations

import os
from pathlib import Path

_FILE = os.environ.get("LMSTRAY_TEST_PROGRESS")


def _say(line: str) -> None:
    if _FILE:
        Path(_FILE).write_text(line + "\n", encoding="utf-8")


def pytest_runtest_logstart(nodeid: str, location: object) -> None:
    _say(f"in {nodeid}")


def pytest_runtest_logfinish(nodeid: str, location: object) -> None:
    _say(f"after {nodeid}")


def pytest_sessionfinish(session: object, exitstatus: int) -> None:
    _say("finishing")
