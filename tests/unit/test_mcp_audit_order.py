"""The order an MCP audit is read in: the worst server first, its findings from the most
severe down — the same for the dialog and `mcp audit`."""

from __future__ import annotations

from pathlib import Path

from tray.core.mcp_audit import (
    AuditReport,
    ExposureFacts,
    FileFacts,
    Finding,
    Severity,
    audit,
    render_text,
)
from tray.core.mcp_audit.order import by_severity, worst_first
from tray.core.mcp_config import parse_mcp

MIXED = Path(__file__).parent.parent / "fixtures" / "mcp" / "assembled" / "lmstudio-mixed.json"


def finding(server: str | None, severity: Severity, id_: str = "X1") -> Finding:
    return Finding(
        id=id_, severity=severity, server=server, pointer="", line=None, message="m", fix="f"
    )


C, H, M, L, INFO = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO


def test_servers_go_by_their_worst_finding_then_by_how_many() -> None:
    findings = [
        finding("a", M),
        finding("b", H),
        finding("c", C),
        finding(None, H),
        finding(None, H),
        finding("d", H),
        finding("d", H),
        finding("e", C),
        finding("e", L),
    ]
    order = [name for name, _ in worst_first(findings, ["a", "b", "c", "d", "e", "f"])]
    # c and e both have one critical; e has a low one besides, so it is read first.
    assert order == ["e", "c", None, "d", "b", "a", "f"]


def test_ties_keep_the_file_order_and_the_file_group_comes_first_among_equals() -> None:
    findings = [finding("b", H), finding("a", H), finding(None, H)]
    assert [n for n, _ in worst_first(findings, ["b", "a"])] == [None, "b", "a"]


def test_the_file_group_is_left_out_when_it_has_nothing_but_servers_never_are() -> None:
    assert worst_first([], ["a", "a", "b"]) == [("a", []), ("b", [])]


def test_findings_in_a_group_go_from_the_most_severe_keeping_the_audit_order() -> None:
    group = [
        finding("a", INFO, "I1"),
        finding("a", H, "H1"),
        finding("a", INFO, "I2"),
        finding("a", C, "C1"),
        finding("a", H, "H2"),
    ]
    assert [f.id for f in by_severity(group)] == ["C1", "H1", "H2", "I1", "I2"]
    ((_, shown),) = worst_first(group, ["a"])
    assert [f.id for f in shown] == ["C1", "H1", "H2", "I1", "I2"]


def _mixed() -> AuditReport:
    data = MIXED.read_bytes()
    facts = FileFacts(path="mcp.json", mode=0o666, owner_is_user=True, dir_mode=0o700, size=9)
    exposure = ExposureFacts(network_interface="0.0.0.0", auth_required=False)
    return audit(parse_mcp(data), facts, exposure, lmstudio_home="/home/u/.lmstudio")


def test_the_cli_text_reads_in_the_same_order() -> None:
    report = _mixed()
    text = render_text(report)
    headings = [
        line for line in text.splitlines() if line.startswith(("Server ", "File and LM Studio"))
    ]
    expected = [
        "File and LM Studio"
        if name is None
        else f"Server {name}" + (" (disabled)" if name in report.disabled else "")
        for name, items in worst_first(report.findings, report.servers)
        if items
    ]
    assert headings == expected
    assert headings[0] == "Server sandbox"  # two criticals; the file comes first no more
