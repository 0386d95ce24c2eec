"""Where the app's runtime assets (icons, desktop entry) are, installed or not.

A wheel and a frozen app carry the top-level `resources/` folder inside the package as
`tray/resources` (pyproject's force-include); an editable install from a source checkout
has it beside the package instead. Callers read bytes, so a zipped package works too.
"""

from __future__ import annotations

import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path

from tray.core.errors import ConfigError

__all__ = ["read_resource", "resources_root"]

_SOURCE_CHECKOUT = Path(__file__).resolve().parents[2] / "resources"


def resources_root() -> Traversable:
    packaged = importlib.resources.files("tray") / "resources"
    if packaged.is_dir():
        return packaged
    if _SOURCE_CHECKOUT.is_dir():
        return _SOURCE_CHECKOUT
    raise ConfigError(
        "LM Studio Tray's icons are missing: neither the installed package nor the source "
        f"checkout ({_SOURCE_CHECKOUT}) has a 'resources' folder. Reinstall the app.",
        path=_SOURCE_CHECKOUT,
        title="Installation incomplete",
    )


def read_resource(relative: str) -> bytes:
    """The bytes of `relative` (a '/'-separated path such as 'icons/running.svg')."""
    node = resources_root()
    for part in relative.split("/"):
        node = node / part
    return node.read_bytes()
