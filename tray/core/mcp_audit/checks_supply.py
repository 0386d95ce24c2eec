"""C5 of `shared/mcp/CHECKS.md`, impersonation and typosquats, offline: a package launched
by `npx`/`uvx`/… that looks like a well-known MCP server package without being it (a typo
of its name, a scope one letter off an official one, an official package's name under
another scope). Also says how far a package is trusted, which sets how loudly C3 (no exact
version) speaks.
"""

from __future__ import annotations

from tray.core.mcp_audit.context import Ctx, display
from tray.core.mcp_audit.known_packages import Trust, imitates, package_name, trust_of
from tray.core.mcp_audit.model import Severity
from tray.core.words import quoted

__all__ = ["check_impersonation"]


def check_impersonation(ctx: Ctx, where: str, spec: str, *, python: bool) -> Trust:
    """C5 for one package spec; returns how far the package is trusted (an imitation is
    never trusted)."""
    name = package_name(spec, python=python)
    known = ctx.known
    looks_like = imitates(name, known, python=python)
    if looks_like is not None and known is not None:
        registry = "PyPI" if python else "npm"
        ctx.add(
            "C5",
            Severity.HIGH,
            where,
            f"{display(name)} looks like the well-known {registry} package {quoted(looks_like)} "
            f"but is not on the list of known MCP packages ({known.date}): it may be a "
            "typosquat or an impersonation, or not exist at all.",
            f"Check the name on {registry}; use the official package if that is what you meant.",
        )
        return Trust.UNKNOWN
    return trust_of(name, known, python=python)
