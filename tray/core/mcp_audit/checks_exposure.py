"""Group G of `shared/mcp/CHECKS.md`, LM Studio's exposure: authentication while serving
on the network (L3), another mcp.json LM Studio may read (L4), and one note (id L1) for what
the tray cannot read or check — the switches L1 and L2, authentication when unknown (L3) and
"Add to LM Studio" deeplinks (L5).
"""

from __future__ import annotations

from tray.core.mcp_audit.model import SERVER_SETTINGS_WHERE, ExposureFacts, Finding, Severity

__all__ = ["exposure_findings"]


def exposure_findings(exposure: ExposureFacts | None, findings: list[Finding]) -> None:
    def add(id_: str, sev: Severity, msg: str, fix: str) -> None:
        findings.append(
            Finding(id=id_, severity=sev, server=None, pointer="", line=None, message=msg, fix=fix)
        )

    lan = exposure.serves_lan if exposure else None
    auth = exposure.auth_required if exposure else None
    where_lan = (
        "LM Studio serves on the local network"
        if lan
        else "LM Studio serves on this machine only"
        if lan is False
        else "Whether LM Studio serves on the local network is unknown"
    )
    if lan and auth is False:
        add(
            "L3",
            Severity.HIGH,
            f"{where_lan} and does not require authentication: any device on your network "
            "can use its models — and its MCP servers, if those switches are on.",
            f'Turn on "Require Authentication" in {SERVER_SETTINGS_WHERE}, or turn off '
            '"Serve on Local Network".',
        )
    for other in exposure.other_mcp_files if exposure else ():
        add(
            "L4",
            Severity.MEDIUM,
            f"Another mcp.json exists at {other} (the legacy macOS LM Studio home); "
            "depending on which home LM Studio uses, its servers may run instead.",
            "Audit and lock that file too, or delete it if LM Studio no longer uses it.",
        )
    # what the tray cannot read, in one note rather than four on every file (issue 17)
    parts = [
        '"Allow per-request MCPs" (L1): when on, anyone who can call the API can make LM '
        "Studio connect to any URL with any headers, bypassing mcp.json. "
        + _who_can_call(lan, auth),
        '"Allow calling servers from mcp.json" (L2): when on, API callers can use the servers '
        "in this file through LM Studio's chat API.",
    ]
    if auth is None:
        parts.append(
            '"Require Authentication" (L3): not stored in any file the tray can read, and the '
            f"server did not say. {where_lan}."
        )
    parts.append(
        '"Add to LM Studio" buttons on web pages (L5, lmstudio://add_mcp) write new servers '
        "into this file, and LM Studio starts a new server's command without asking."
    )
    checks = (
        '"Allow per-request MCPs" and "Allow calling servers from mcp.json" '
        "(off unless you need them)"
    )
    if auth is None:
        checks += ', and "Require Authentication" (on' + (
            ", especially while serving on the local network)" if lan else ")"
        )
    add(
        "L1",
        Severity.INFO,
        "What the tray cannot check for you in LM Studio: " + " ".join(parts),
        f"Check {checks} in {SERVER_SETTINGS_WHERE}; lock the file down so the tray reports "
        "any new entry as drift.",
    )


def _who_can_call(lan: bool | None, auth: bool | None) -> str:
    """Who "anyone who can call the API" is, given where LM Studio serves and whether it
    asks for a token — in plain words, for the sentence after the risk."""
    if lan is None:
        who = {
            True: "devices on your network that hold an API token could do this.",
            False: "any device on your network could do this.",
            None: "any device on your network could do this unless authentication is on.",
        }[auth]
        return f"Whether LM Studio serves on the local network is unknown; if it does, {who}"
    if lan:
        if auth:
            return (
                "LM Studio serves on the local network but requires an API token, so only "
                "devices and programs holding a token could do this."
            )
        if auth is False:
            return (
                "LM Studio serves on the local network without authentication, so any device "
                "on your network could do this."
            )
        return (
            "LM Studio serves on the local network, so any device on your network could do "
            "this unless authentication is on."
        )
    if auth:
        return (
            "LM Studio serves on this machine only and requires an API token, so only "
            "programs on this machine that hold a token could do this."
        )
    if auth is False:
        return (
            "LM Studio serves on this machine only, but without authentication, so any "
            "program running on this machine could do this — a browser page too, if CORS is on."
        )
    return (
        "LM Studio serves on this machine only, so only programs running on this machine "
        "could do this (any of them, unless authentication is on)."
    )
