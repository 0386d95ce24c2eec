"""The list of well-known MCP server packages (npm and PyPI) and what it says about a name:
whether its publisher is official, whether the list knows it, and which listed package it
imitates (C5 of `shared/mcp/CHECKS.md`, typosquats and impersonation), all offline.

The list itself is a data file in this package (`known_packages.json`, with its date); the
services side reads it (`tray.services.known_packages`) and core only judges names, so core
stays free of I/O. `scripts/refresh_known_mcp_packages.py` refreshes the file.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["KnownPackages", "Trust", "edit_distance", "imitates", "package_name", "trust_of"]


class KnownPackages(BaseModel):
    """The bundled list: its date, npm scopes only their vendor can publish under, PyPI
    prefixes vendors use, and the package names."""

    model_config = ConfigDict(frozen=True)

    date: str
    npm_official_scopes: frozenset[str] = frozenset()
    npm: frozenset[str] = frozenset()
    pypi_official_prefixes: tuple[str, ...] = ()
    pypi: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, text: str) -> KnownPackages:
        """Parse the data file's text; ValueError when it is not the list."""
        raw: Any = json.loads(text)
        if not isinstance(raw, dict) or not isinstance(raw.get("date"), str):
            raise ValueError("not a known-packages list (no date)")
        return cls(
            date=raw["date"],
            npm_official_scopes=frozenset(s.lower() for s in raw.get("npm_official_scopes", [])),
            npm=frozenset(n.lower() for n in raw.get("npm", [])),
            pypi_official_prefixes=tuple(p.lower() for p in raw.get("pypi_official_prefixes", [])),
            pypi=frozenset(_pep503(n) for n in raw.get("pypi", [])),
        )


class Trust(StrEnum):
    OFFICIAL = "official"  # published under the vendor's own npm scope
    KNOWN = "known"  # on the list
    UNKNOWN = "unknown"


def _pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def package_name(spec: str, *, python: bool) -> str:
    """`@scope/pkg@1.2.3` → `@scope/pkg`; `pkg==1.0`, `pkg[extra]@latest` → `pkg`."""
    s = spec.strip()
    if python:
        return re.split(r"[\[=<>!~@; ]", s, maxsplit=1)[0]
    if s.startswith("@"):
        scope, _, rest = s.partition("/")
        return f"{scope}/{rest.split('@', 1)[0]}"
    return s.split("@", 1)[0]


def trust_of(name: str, known: KnownPackages | None, *, python: bool) -> Trust:
    """How far a package name is trusted: its npm scope belongs to a vendor (official), it
    is on the list (known), or neither."""
    if known is None:
        return Trust.UNKNOWN
    if python:
        return Trust.KNOWN if _pep503(name) in known.pypi else Trust.UNKNOWN
    low = name.lower()
    if low.startswith("@") and low.split("/", 1)[0] in known.npm_official_scopes:
        return Trust.OFFICIAL
    return Trust.KNOWN if low in known.npm else Trust.UNKNOWN


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance, giving up (returning `limit + 1`) past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


_FILLER = {"mcp", "server", "model", "context", "protocol", "modelcontextprotocol", "js", "ts"}


def _core_words(name: str) -> frozenset[str]:
    """What a package is about: `@x/mcp-filesystem-server` → {filesystem}."""
    base = name.split("/", 1)[-1]
    return frozenset(w for w in re.split(r"[^a-z0-9]+", base.lower()) if w and w not in _FILLER)


def _close(a: str, b: str) -> bool:
    allowed = 1 if max(len(a), len(b)) < 10 else 2
    return 0 < edit_distance(a, b, allowed) <= allowed


def imitates(name: str, known: KnownPackages | None, *, python: bool) -> str | None:
    """The listed package `name` looks like without being it (a typo of its name, a scope
    one letter off an official one, an official package's name under another scope, an
    official-looking name in a vendor's scope the list does not know), or None."""
    if known is None or not name:
        return None
    if python:
        mine = _pep503(name)
        if mine in known.pypi:
            return None
        for other in sorted(known.pypi):
            if _close(mine, other):
                return other
        for prefix in known.pypi_official_prefixes:
            if mine.startswith(_pep503(prefix).rstrip("-")) and len(mine) > len(prefix):
                return f"{prefix}…"  # a vendor's prefix on a package the list does not know
        return None
    low = name.lower()
    if low in known.npm:
        return None
    scope, _, base = low.rpartition("/") if low.startswith("@") else ("", "", low)
    official = sorted(known.npm_official_scopes)
    if scope and scope not in known.npm_official_scopes:
        for s in official:
            if _close(scope, s) or scope.replace("-", "") == s.replace("-", ""):
                return f"{s}/{base}"
    for other in sorted(known.npm):
        if _close(low, other):
            return other
        o_scope, _, o_base = other.rpartition("/") if other.startswith("@") else ("", "", other)
        in_official = o_scope in known.npm_official_scopes
        if in_official and base == o_base and scope != o_scope and len(base) > 3:
            return other  # an official package's name under another scope, or none
    words = _core_words(low)
    if scope in known.npm_official_scopes and words:
        # a vendor's scope, but a name the list does not know that says the same as a listed
        # package (`@anthropic-ai/mcp-filesystem-server`): it may not exist at all
        for other in sorted(known.npm):
            if _core_words(other) == words:
                return other
    return None
