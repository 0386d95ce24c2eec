"""PySide6's import hook must not keep every later module's source in memory (issue 20):
with `keep_sources_out_of_memory()` a module imported after PySide6 leaves nothing in
`linecache`; without it, it does (so this test can tell the difference)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tray.ui.qt_imports import mentions_pyside

_PROBE = """
import linecache, sys
sys.path.insert(0, {folder!r})
import PySide6.QtCore
if {patch}:
    from tray.ui.qt_imports import keep_sources_out_of_memory
    assert keep_sources_out_of_memory()
import probe_module
cached = [f for f in linecache.cache if f.endswith("probe_module.py")]
print("cached" if cached else "not cached")
"""


@pytest.mark.parametrize(("patch", "expected"), [(True, "not cached"), (False, "cached")])
def test_a_module_imported_after_pyside6_leaves_its_source_in_memory_only_without_the_fix(
    tmp_path: Path, patch: bool, expected: str
) -> None:
    (tmp_path / "probe_module.py").write_text("import json  # an import after PySide6\n")
    code = _PROBE.format(folder=str(tmp_path), patch=patch)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


def test_the_check_gives_pyside6s_answer(tmp_path: Path) -> None:
    import json

    import tray.ui.qt_imports as this

    assert mentions_pyside(this)  # its docstring names PySide6
    assert not mentions_pyside(json)
    assert not mentions_pyside(sys)  # built in: no source
