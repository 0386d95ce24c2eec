"""The inspection report for the command line: each server (what was started, whether it
answered, its tools), then the findings, the worst first; and the exit code, as
`mcp audit` has it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tray.core.mcp_audit.model import Severity
from tray.core.mcp_inspect.model import InspectReport
from tray.core.words import plural

__all__ = ["change_notice", "inspect_exit_code", "render_inspect_text"]


def inspect_exit_code(report: InspectReport, fail_on: Severity) -> int:
    """2 when the file could not be parsed, 1 when a finding is at or above `fail_on` or a
    server (not disabled) could not be inspected, else 0."""
    if report.errors:
        return 2
    failed = any(s.error is not None and not s.disabled for s in report.servers)
    return 1 if report.at_or_above(fail_on) or failed else 0


def _lines(doc: dict[str, Any]) -> Iterator[str]:
    yield f"MCP inspection of {doc['file']}"
    for err in doc.get("errors", []):
        yield f"ERROR: {err}"
    for s in doc["servers"]:
        yield ""
        head = f"Server {s['name']} ({s['transport']})"
        tools = s["tools"]
        if s["error"] is not None:
            yield f"{head}: {s['error']}"
        else:
            info = f", {s['server_info']}" if s.get("server_info") else ""
            yield f"{head}{info}: {plural(len(tools), 'tool')}"
        if s.get("target") and s["started"]:
            yield f"  ran: {s['target']}"
        for t in tools:
            yield f"  - {t['name']}  {t['hash'][:19]}"
        if s["name"] in doc.get("pinned", []):
            yield f"  Pinned {plural(len(tools), 'tool')}."
    counts = {sev: 0 for sev in Severity}
    for f in doc["findings"]:
        counts[Severity(f["severity"])] += 1
    summary = ", ".join(f"{n} {sev.value}" for sev, n in counts.items() if n)
    yield ""
    yield f"Findings: {summary or 'none'}"
    for f in sorted(doc["findings"], key=lambda f: -Severity(f["severity"]).rank):
        tool = f" {f['tool']}" if f.get("tool") else ""
        yield f"  [{f['severity'].upper()}] {f['id']} {f['server']}{tool}: {f['message']}"
        yield f"      Fix: {f['fix']}"
        for line in str(f.get("diff", "")).splitlines():
            yield f"      {line}"


def render_inspect_text(doc: dict[str, Any]) -> str:
    """The report's JSON document (`InspectReport.as_json`) as plain text for
    `lmstudio-tray mcp inspect`: each server, what ran, its tools, then the findings, the
    worst first, with the diff of a changed tool."""
    return "\n".join(_lines(doc)) + "\n"


def change_notice(report: InspectReport, skipped: list[str]) -> tuple[str, str] | None:
    """Title and text of the notification after a re-inspection (mcp.json changed): the
    servers whose tools changed since pinned (T7) or that declare something high; None when
    there is nothing to say."""
    changed = sorted({f.server for f in report.findings if f.id == "T7"})
    severe = sorted(
        {f.server for f in report.at_or_above(Severity.HIGH) if f.id != "T7"} - set(changed)
    )
    failed = [s.name for s in report.servers if s.error is not None and not s.disabled]
    if not changed and not severe and not failed:
        return None
    parts = []
    if changed:
        parts.append(f"Tools changed since they were pinned: {', '.join(changed)}.")
    if severe:
        parts.append(f"Serious findings: {', '.join(severe)}.")
    if failed:
        parts.append(f"Could not be inspected: {', '.join(failed)}.")
    if skipped:
        parts.append(f"New or changed entries, not started: {', '.join(skipped)}.")
    parts.append("Open MCP servers → Inspect servers… to see what.")
    title = "MCP server tools changed" if changed else "MCP servers need a look"
    return title, " ".join(parts)
