"""The error hierarchy drawn in `tray.core.errors`' docstring is the real one."""

from __future__ import annotations

import re

from tray.core import errors


def drawn_parents() -> dict[str, str]:
    """Class name → parent name, read from the tree in the module's docstring."""
    assert errors.__doc__ is not None
    parents: dict[str, str] = {}
    stack: list[str] = []
    for line in errors.__doc__.splitlines():
        match = re.match(r"^ {4}((?:│   |    )*)(?:├── |└── )?([A-Z][A-Za-z]+)\b", line)
        if match is None:
            continue
        depth = len(match[1]) // 4 + (1 if "── " in line else 0)
        name = match[2]
        del stack[depth:]
        if stack:
            parents[name] = stack[-1]
        stack.append(name)
    return parents


def test_the_drawn_hierarchy_is_the_real_one() -> None:
    drawn = drawn_parents()
    real = {
        name: cls.__mro__[1].__name__
        for name in errors.__all__
        if isinstance(cls := getattr(errors, name), type) and cls is not errors.TrayError
    }
    assert drawn == real
