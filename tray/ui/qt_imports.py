"""What PySide6 does at every import after its own, made cheap (issue 20).

PySide6 hooks `__import__` to support its opt-in `from __feature__ import …` switches.
For every module that imports something after PySide6 has loaded, the hook asks whether
that module mentions "PySide6" (`shibokensupport.feature._mod_uses_pyside`), and it finds
out with `inspect.getsource(module)` — which reads the module's whole source through
`linecache` and keeps it there for the life of the process. The tray imports PySide6
first (its icon shows before anything else is imported: tray/app.py), so every module
after it — ours, httpx, pydantic, asyncio … — stayed in memory as source text as well as
code: ≈ 17 MB of idle RSS, 15 % of the whole process (docs/benchmarks.md).

`keep_sources_out_of_memory()` replaces that one check with the same test on the same text,
read from the module's loader without caching it. Nothing else changes: the tray uses no
`__feature__` switch, and a module that mentions PySide6 is still reported as one.
"""

from __future__ import annotations

import logging
import sys
from types import ModuleType

__all__ = ["keep_sources_out_of_memory", "mentions_pyside"]

log = logging.getLogger(__name__)

_FEATURE_MODULES = ("shibokensupport.feature", "PySide6.support.feature")


def mentions_pyside(module: ModuleType) -> bool:
    """Whether `module`'s source mentions PySide6 — PySide6's own test, without leaving
    the source in `linecache`. A module without Python source (built in, compiled, or
    source-less) does not, as in PySide6's version."""
    try:
        get_source = getattr(module.__loader__, "get_source", None)
        source = get_source(module.__name__) if get_source is not None else None
    except Exception:  # PySide6's own version gives up on any error the same way
        return False
    return source is not None and "PySide6" in source


def keep_sources_out_of_memory() -> bool:
    """Install `mentions_pyside` in PySide6's import hook; call it right after PySide6 is
    first imported. False (and a debug line) where this PySide6 has no such check."""
    for name in _FEATURE_MODULES:
        feature = sys.modules.get(name)
        if feature is not None and callable(getattr(feature, "_mod_uses_pyside", None)):
            feature._mod_uses_pyside = mentions_pyside  # type: ignore[attr-defined]
            return True
    log.debug("PySide6's feature hook has no _mod_uses_pyside: nothing to replace")
    return False
