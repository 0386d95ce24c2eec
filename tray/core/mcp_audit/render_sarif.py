"""The audit report as SARIF 2.1.0, for code scanning in CI (`mcp audit --format sarif`):
one rule per check id found, one result per finding with the file, line and column, the
severity as SARIF's level and as `security-severity` (GitHub's code scanning reads it).

Like every other output it holds no secret: messages are the findings' own.
"""

from __future__ import annotations

from typing import Any

from tray.core.mcp_audit.model import AuditReport, Finding, Severity

__all__ = ["SARIF_SCHEMA", "SARIF_VERSION", "render_sarif"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_INFO_URI = "https://example.invalid/lmstudio-tray/docs/mcp-audit.md"

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}

# a short name per check id (shared/mcp/CHECKS.md); ids not listed get a generic one
RULE_NAMES: dict[str, str] = {
    "F1": "File cannot be read by every host",
    "F2": "Entry or format a host does not read",
    "F3": "File or folder permissions",
    "F5": "Server name written twice",
    "S1": "Known token shape in the config",
    "S2": "Literal secret under a secret-looking name",
    "S3": "Secret in a process's arguments",
    "S4": "Secret in a URL",
    "S5": "Placeholder or reference instead of a value",
    "S6": "Real token inside a placeholder",
    "S7": "Secret input shown while typed",
    "S8": "Environment that changes what runs",
    "C1": "Shell wrapper or inline code",
    "C2": "Script runs the server",
    "C3": "Package without an exact version",
    "C4": "Package straight from a repository or URL",
    "C5": "Package that imitates a well-known one",
    "C7": "Local program",
    "C8": "Built from source at every start",
    "C9": "Network service on all interfaces",
    "C10": "Docker escape hatch",
    "C11": "Docker image not pinned",
    "C12": "Bridge to a remote server",
    "P1": "Broad filesystem access",
    "P2": "Runs commands or controls systems",
    "P3": "Tools approved without asking",
    "P4": "Reaches private data",
    "P5": "Brings in untrusted content",
    "P6": "Lethal trifecta across servers",
    "R1": "Plain http or TCP to another machine",
    "R2": "Plain http to this machine",
    "R3": "Remote server",
    "R4": "Third-party hosting without a credential",
    "R5": "TLS checks off",
    "R6": "Deprecated SSE transport",
    "L1": "LM Studio settings the tray cannot read",
    "L3": "LM Studio serves on the network without authentication",
    "L4": "Another mcp.json LM Studio may read",
}


def _rule(id_: str) -> dict[str, Any]:
    name = RULE_NAMES.get(id_, f"MCP check {id_}")
    return {
        "id": id_,
        "name": "".join(w.capitalize() for w in name.replace("'", "").split()),
        "shortDescription": {"text": name},
        "helpUri": f"{_INFO_URI}#{id_.lower()}",
    }


def _uri(path: str) -> str:
    return path.replace("\\", "/")


def _result(f: Finding, rule_index: int, uri: str) -> dict[str, Any]:
    region: dict[str, int] = {"startLine": f.line or 1, "startColumn": f.column or 1}
    result: dict[str, Any] = {
        "ruleId": f.id,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.severity],
        "message": {"text": f"{f.message} Fix: {f.fix}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": region,
                },
                "logicalLocations": [
                    {"name": f.server or "file", "fullyQualifiedName": f.pointer or "/"}
                ],
            }
        ],
        "properties": {
            "severity": f.severity.value,
            "security-severity": _SECURITY_SEVERITY[f.severity],
            "server": f.server,
            "pointer": f.pointer,
        },
    }
    return result


def render_sarif(report: AuditReport, *, tool_version: str) -> dict[str, Any]:
    """The report as one SARIF 2.1.0 log (a dict ready for `json.dumps`)."""
    uri = _uri(report.file)
    ids = list(dict.fromkeys(f.id for f in report.findings))
    index = {id_: i for i, id_ in enumerate(ids)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "lmstudio-tray mcp audit",
                "version": tool_version,
                "informationUri": _INFO_URI,
                "rules": [_rule(i) for i in ids],
            }
        },
        "artifacts": [{"location": {"uri": uri}}],
        "results": [_result(f, index[f.id], uri) for f in report.findings],
        "invocations": [
            {
                "executionSuccessful": not report.errors,
                "toolExecutionNotifications": [
                    {
                        "level": "error",
                        "message": {"text": err},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": uri},
                                    "region": {
                                        "startLine": report.error_line or 1,
                                        "startColumn": report.error_column or 1,
                                    },
                                }
                            }
                        ],
                    }
                    for err in report.errors
                ],
            }
        ],
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
