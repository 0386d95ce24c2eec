"""The inspection report for the command line: each server (what was started, whether it
answered, its tools), then the findings, the worst first; and the exit code, as
`mcp audit` has it.
"""

from __future__ import annotations

from collections.abc import Iterator

from tray.core.mcp_audit.model import Severity
from tray.core.mcp_inspect.model import InspectReport
from tray.core.words import plural

__all__ = ["inspect_exit_code", "render_inspect_text"]


def inspect_exit_code(report: InspectReport, fail_on: Severity) -> int:
    """2 when the file could not be parsed, 1 when a finding is at or above `fail_on` or a
    server (not disabled) could not be inspected, else 0."""
    if report.errors:
        return 2
    failed = any(s.error is not None and not s.disabled for s in report.servers)
    return 1 if report.at_or_above(fail_on) or failed else 0


def _lines(report: InspectReport) -> Iterator[str]:
    yield f"MCP inspection of {report.file}"
    for err in report.errors:
        yield f"ERROR: {err}"
    for s in report.servers:
        yield ""
        head = f"Server {s.name} ({s.transport})"
        if s.error is not None:
            yield f"{head}: {s.error}"
        else:
            info = f", {s.server_info}" if s.server_info else ""
            yield f"{head}{info}: {plural(len(s.tools), 'tool')}"
        if s.target:
            yield f"  ran: {s.target}"
        for t in s.tools:
            yield f"  - {t.name}"
        if s.name in report.pinned:
            yield f"  Pinned {plural(len(s.tools), 'tool')}."
    counts = {sev: 0 for sev in Severity}
    for f in report.findings:
        counts[f.severity] += 1
    summary = ", ".join(f"{n} {sev.value}" for sev, n in counts.items() if n)
    yield ""
    yield f"Findings: {summary or 'none'}"
    for f in sorted(report.findings, key=lambda f: -f.severity.rank):
        tool = f" {f.tool}" if f.tool else ""
        yield f"  [{f.severity.value.upper()}] {f.id} {f.server}{tool}: {f.message}"
        yield f"      Fix: {f.fix}"
        for line in f.diff.splitlines():
            yield f"      {line}"


def render_inspect_text(report: InspectReport) -> str:
    """The report as plain text for `lmstudio-tray mcp inspect`."""
    return "\n".join(_lines(report)) + "\n"
