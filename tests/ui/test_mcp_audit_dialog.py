"""The MCP audit window under a real display: a realistic mcp.json with findings of every
severity audited from a real file, ticking servers to keep refreshes the lockdown plan,
"Lock down…" emits the allow-list, a broken file is shown with line/column and the
no-rewrite promise. Screenshots: mcp-audit-dialog.png, mcp-audit-parse-error.png."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from aio import run, until  # tests/ui/aio.py
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from tray.core.mcp_audit import Severity
from tray.core.mcp_config import McpDocument
from tray.core.mcp_lockdown import describe_lockdown
from tray.services.mcp_audit import audit_file
from tray.ui.mcp_audit_dialog import LIMITS_NOTE, McpAuditDialog

CORPUS = Path(__file__).parent.parent / "fixtures" / "mcp" / "assembled"
SECRETS = ["ghp_Q7wLm2Rk9Xz4Tn8Vb3Hc6Jd1Fs5Gp0Ya2Ke7", "a8Kq2Lm9Zx3Rt7Vn4Bc6Wd1Pf5Gh0Js"]


def _home(tmp_path: Path, fixture: str, mode: int = 0o644) -> Path:
    home = tmp_path / ".lmstudio"
    (home / ".internal").mkdir(parents=True)
    (home / ".internal" / "http-server-config.json").write_text(
        '{"port": 1234, "networkInterface": "0.0.0.0"}'
    )
    path = home / "mcp.json"
    shutil.copyfile(CORPUS / fixture, path)
    path.chmod(mode)
    return home


def _explainer(doc: McpDocument | None) -> Callable[[list[str]], list[str]]:
    return lambda allowed: describe_lockdown(doc, allowed)


def _all_text(dialog: McpAuditDialog) -> str:
    return "\n".join(label.text() for label in dialog.findChildren(QLabel))


def test_audit_dialog_shows_findings_and_requests_lockdown(
    loop: asyncio.AbstractEventLoop,
    qtbot: QtBot,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    home = _home(tmp_path, "lmstudio-mixed.json", 0o666)

    async def scenario() -> None:
        report, doc = await audit_file(home / "mcp.json", lmstudio_home=home, server_auth=False)
        severities = {f.severity for f in report.findings}
        assert {Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.INFO} <= severities
        dialog = McpAuditDialog(report, doc, explain_lockdown=_explainer(doc))
        requested: list[list[str]] = []
        dialog.lockdown_requested.connect(requested.append)
        dialog.resize(900, 860)
        dialog.show()
        try:
            await until(dialog.isVisible, "the audit dialog to show")
            assert dialog.windowTitle().endswith("MCP audit")
            text = _all_text(dialog)
            for name in report.servers:
                assert name in text
            assert "Fix:" in text and "line 6" in text
            for secret in SECRETS:
                assert secret not in text
            # the limits of read-only are said once, by the plan or by the note
            said = "does not stop a program" in dialog.plan_label.text()
            assert said != dialog.limits_label.isVisible()
            # nothing is kept by default: the plan removes every server
            assert dialog.allowed() == []
            assert all(not box.isChecked() for box in dialog.keep_boxes.values())
            before = dialog.plan_label.text()
            assert "removed" in before
            # tick "github" with a real click: the plan changes
            box = dialog.keep_boxes["github"]
            dialog._scroll.ensureWidgetVisible(box)
            await until(box.isVisible, "the checkbox to be visible")
            qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
            await until(lambda: box.isChecked(), "the box to be ticked")
            assert dialog.allowed() == ["github"]
            assert dialog.plan_label.text() != before and "github" in dialog.plan_label.text()
            dialog._scroll.verticalScrollBar().setValue(0)
            QApplication.processEvents()
            shot = tmp_path / "mcp-audit-dialog.png"
            assert dialog.grab().save(str(shot))
            publish_screenshot(shot)
            qtbot.mouseClick(dialog.lock_button, Qt.MouseButton.LeftButton)
            await until(lambda: requested, "lockdown_requested")
            assert requested == [["github"]]
            # a re-audit keeps the tick for a server still there
            dialog.update_report(report, doc)
            assert dialog.allowed() == ["github"]
        finally:
            dialog.close()
            dialog.deleteLater()

    run(loop, scenario())


def test_parse_error_is_shown_prominently(
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    publish_screenshot: Callable[..., Path],
) -> None:
    home = _home(tmp_path, "malformed.json", 0o600)
    before = (home / "mcp.json").read_bytes()

    async def scenario() -> None:
        report, doc = await audit_file(home / "mcp.json", lmstudio_home=home, server_auth=None)
        assert doc is None and report.errors
        dialog = McpAuditDialog(report, doc, explain_lockdown=_explainer(doc), demo=True)
        dialog.resize(760, 560)
        dialog.show()
        try:
            await until(dialog.isVisible, "the audit dialog to show")
            assert "Demo" in dialog.windowTitle()
            error = dialog._error_label.text()
            assert dialog._error_box.isVisible()
            assert "line 5, column 7" in error
            assert "will not be rewritten without your yes" in error
            assert dialog.keep_boxes == {}
            shot = tmp_path / "mcp-audit-parse-error.png"
            assert dialog.grab().save(str(shot))
            publish_screenshot(shot)
        finally:
            dialog.close()
            dialog.deleteLater()

    run(loop, scenario())
    assert (home / "mcp.json").read_bytes() == before


# (an empty file is a parse error since issue 17: test_parse_error_is_shown_prominently)
@pytest.mark.parametrize("fixture", ["placeholders.json", "vscode-inputs.jsonc"])
def test_other_files_render(loop: asyncio.AbstractEventLoop, tmp_path: Path, fixture: str) -> None:
    home = _home(tmp_path, fixture, 0o600)

    async def scenario() -> None:
        report, doc = await audit_file(home / "mcp.json", lmstudio_home=home, server_auth=True)
        dialog = McpAuditDialog(report, doc, explain_lockdown=lambda allowed: ["plan"])
        dialog.show()
        try:
            await until(dialog.isVisible, "the audit dialog to show")
            assert not dialog._error_box.isVisible()
            assert dialog.plan_label.text() == "• plan"
            assert dialog.limits_label.isVisible()
            assert LIMITS_NOTE in dialog.limits_label.text()
        finally:
            dialog.close()
            dialog.deleteLater()

    run(loop, scenario())


def _shown_in_order(dialog: McpAuditDialog) -> list[tuple[str, list[Severity]]]:
    """(section heading, severities of its badges) as they appear from top to bottom."""
    body = dialog._scroll.widget()
    labels = [label for label in body.findChildren(QLabel) if label.isVisible()]
    labels.sort(key=lambda label: label.mapTo(body, label.rect().topLeft()).y())
    sections: list[tuple[str, list[Severity]]] = []
    for label in labels:
        text = label.text()
        if text.startswith("<b>Server ") or text.startswith("<b>File and LM Studio"):
            sections.append((text.removeprefix("<b>").split("</b>")[0], []))
        elif sections and (marked := [s for s in Severity if f"{s.value.capitalize()} (" in text]):
            sections[-1][1].append(marked[0])
    return sections


def test_the_worst_findings_come_first(loop: asyncio.AbstractEventLoop, tmp_path: Path) -> None:
    """A server with a critical finding is read before the file's own high findings, a
    server with two criticals before one with one, and each server's findings go from the
    most severe down."""
    home = _home(tmp_path, "lmstudio-mixed.json", 0o666)

    async def scenario() -> None:
        report, doc = await audit_file(home / "mcp.json", lmstudio_home=home, server_auth=False)
        dialog = McpAuditDialog(report, doc, explain_lockdown=_explainer(doc))
        dialog.resize(900, 860)
        dialog.show()
        try:
            await until(dialog.isVisible, "the audit dialog to show")
            dialog.layout().activate()
            shown = _shown_in_order(dialog)
            assert [title for title, _ in shown] == [
                "Server sandbox",  # two criticals
                "Server team-notes",  # one critical, one high, one medium
                # one critical, one high, one low (its unpinned package is from the
                # vendor's own scope: low since issue 17)
                "Server filesystem",
                "Server github",  # one critical, one medium
                "Server installer",  # one critical
                "File and LM Studio",  # high at worst
                "Server old-weather",  # disabled: only the note that says so
            ]
            worst = [max(s.rank for s in badges) if badges else 0 for _, badges in shown]
            assert worst == sorted(worst, reverse=True)
            for _, badges in shown:
                assert [s.rank for s in badges] == sorted((s.rank for s in badges), reverse=True)
            # ticking still answers in the file's order, whatever the order shown
            for name in ("sandbox", "github"):
                dialog.keep_boxes[name].setChecked(True)
            assert dialog.allowed() == ["github", "sandbox"]
        finally:
            dialog.close()
            dialog.deleteLater()

    run(loop, scenario())
