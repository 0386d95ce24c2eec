"""installers/run_tests.py on a folder of tiny test files: a file that hangs is killed at
its group's limit and named, the run goes on and counts it as failed, and a test that
writes into the HOME or XDG folders the run was given is caught."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

RUNNER = Path(__file__).resolve().parents[2] / "installers" / "run_tests.py"

HANGS = """
import threading

def test_fine_first():
    pass

def test_hangs():
    threading.Event().wait()  # for ever: only the runner's limit ends it
"""
KILLED_BY_PYTEST_TIMEOUT = """
import threading
import pytest

@pytest.mark.timeout(1, method="thread")  # as tests/ui/conftest.py gives UI tests
def test_hangs_in_qt():
    threading.Event().wait()
"""
FINE = """
def test_fine():
    pass
"""
WRITES_HOME = """
import os
from pathlib import Path

def test_writes_into_the_users_data():
    folder = Path(os.environ["XDG_DATA_HOME"]) / "lmstudio-tray" / "history"
    folder.mkdir(parents=True)
    (folder / "HEAD").write_text("ref: refs/heads/main")
"""


@pytest.fixture(scope="module")
def runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_tests_under_test", RUNNER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def suite(root: Path, **files: str) -> None:
    (root / "tests").mkdir()
    for name, text in files.items():
        (root / "tests" / f"{name}.py").write_text(text, encoding="utf-8")


def test_a_hang_is_named_killed_and_counted_and_the_run_goes_on(
    runner: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite(
        tmp_path,
        test_hangs=HANGS,
        test_killed=KILLED_BY_PYTEST_TIMEOUT,
        test_fine=FINE,
        test_writes_home=WRITES_HOME,
    )
    groups = [
        runner.Group(("tests/test_hangs.py",), limit=10),
        runner.Group(("tests/test_killed.py",), limit=300),
        runner.Group(("tests/test_fine.py",), limit=300),
        runner.Group(("tests/test_writes_home.py",), limit=300),
    ]
    code = runner.main(root=tmp_path, all_groups=groups)
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "TIMED OUT: tests/test_hangs.py (in tests/test_hangs.py::test_hangs); "
        "stopped after 10 s" in out
    )
    # pytest-timeout's thread method killed the next one: it says where
    assert (
        "FAILED or crashed: tests/test_killed.py (exit 1; in tests/test_killed.py::"
        "test_hangs_in_qt)" in out
    )
    # the killed processes wrote no results, each counts once; the last two ran
    assert "suite: 2 passed, 2 failed, 0 skipped" in out
    assert "WRITTEN OUTSIDE THE TESTS' OWN FOLDERS" in out
    assert "/data/lmstudio-tray/history/HEAD" in out


def test_a_clean_run_passes(
    runner: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite(tmp_path, test_fine=FINE)
    code = runner.main(root=tmp_path, all_groups=[runner.Group(("tests",), limit=300)])
    out = capsys.readouterr().out
    assert (code, out.strip().splitlines()[-1]) == (0, "suite: 1 passed, 0 failed, 0 skipped")


def test_where_a_killed_process_was(runner: ModuleType) -> None:
    group = runner.Group(("tests/ui/test_x.py",), limit=600)
    said = {
        where: runner.timed_out_line(group, where)
        for where in ("after tests/ui/test_x.py::test_a", "finishing", "")
    }
    assert said == {
        "after tests/ui/test_x.py::test_a": "TIMED OUT: tests/ui/test_x.py (after "
        "tests/ui/test_x.py::test_a, before the next test began); stopped after 600 s",
        "finishing": "TIMED OUT: tests/ui/test_x.py (after its last test, while pytest was "
        "finishing); stopped after 600 s",
        "": "TIMED OUT: tests/ui/test_x.py (before its first test began); stopped after 600 s",
    }
