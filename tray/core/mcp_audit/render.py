"""The audit report for the command line: plain text read the worst first, and the exit
code `--fail-on` asks for (the JSON form is the report's own `model_dump`).
"""

from __future__ import annotations

from collections.abc import Iterator

from tray.core.mcp_audit.model import AuditReport, Severity
from tray.core.mcp_audit.order import worst_first
from tray.core.words import plural

__all__ = ["exit_code", "render_text"]


def exit_code(report: AuditReport, fail_on: Severity) -> int:
    """2 when the file could not be parsed, 1 when a finding is at or above `fail_on`, 0."""
    if report.errors:
        return 2
    return 1 if report.at_or_above(fail_on) else 0


def _lines(report: AuditReport) -> Iterator[str]:
    yield f"MCP audit of {report.file}"
    if report.dialect is not None:
        yield f"Format: {report.dialect.label}; {plural(len(report.servers), 'server')}"
    for err in report.errors:
        yield f"ERROR: {err}"
    counts = report.counts()
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    yield f"Findings: {summary or 'none'}"
    for name, items in worst_first(report.findings, report.servers):
        if not items:
            continue
        yield ""
        off = " (disabled)" if name in report.disabled else ""
        yield "File and LM Studio" if name is None else f"Server {name}{off}"
        for f in items:
            where = f" (line {f.line})" if f.line else ""
            yield f"  [{f.severity.value.upper()}] {f.id}{where}: {f.message}"
            yield f"      Fix: {f.fix}"


def render_text(report: AuditReport) -> str:
    """The report as plain text for the CLI: file, format, errors, then the findings by
    server, the worst first (`tray.core.mcp_audit.order`)."""
    return "\n".join(_lines(report)) + "\n"
