"""Group G of `shared/mcp/CHECKS.md`, LM Studio's exposure: authentication while serving
on the network (L3), the switches the tray cannot read (L1, L2), another mcp.json LM Studio
may read (L4), "Add to LM Studio" deeplinks (L5).
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
    elif auth is None:
        add(
            "L3",
            Severity.INFO,
            "Whether LM Studio requires authentication is not stored in any file the tray "
            f"can read, and the server did not say. {where_lan}.",
            f'Check "Require Authentication" in {SERVER_SETTINGS_WHERE}; keep it on'
            + (", especially while serving on the local network." if lan else "."),
        )
    add(
        "L1",
        Severity.INFO,
        'The tray cannot read "Allow per-request MCPs" (LM Studio does not say where it '
        "stores it). When on, anyone who can call the API can make LM Studio connect to any "
        f"URL with any headers, bypassing mcp.json. {_who_can_call(lan, auth)}",
        f'Check "Allow per-request MCPs" in {SERVER_SETTINGS_WHERE}; turn it off unless '
        "you need it.",
    )
    add(
        "L2",
        Severity.INFO,
        'The tray cannot read "Allow calling servers from mcp.json". When on, API callers '
        "can use the servers in this file through LM Studio's chat API.",
        f'Check "Allow calling servers from mcp.json" in {SERVER_SETTINGS_WHERE}; turn it '
        "off unless you use MCP integrations over the API.",
    )
    for other in exposure.other_mcp_files if exposure else ():
        add(
            "L4",
            Severity.MEDIUM,
            f"Another mcp.json exists at {other} (the legacy macOS LM Studio home); "
            "depending on which home LM Studio uses, its servers may run instead.",
            "Audit and lock that file too, or delete it if LM Studio no longer uses it.",
        )
    add(
        "L5",
        Severity.INFO,
        '"Add to LM Studio" buttons on web pages (lmstudio://add_mcp) write new servers '
        "into this file, and LM Studio starts a new server's command without asking.",
        "Lock the file down; the tray then reports any new entry as drift.",
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
