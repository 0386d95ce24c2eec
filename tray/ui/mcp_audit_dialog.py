"""The MCP audit window: the file, each server with its findings by severity — the worst
server first — and what lockdown will do.

It shows an `AuditReport` (`tray.core.mcp_audit`) and lets the user pick which servers to
keep when locking down ("Keep when locking down", unchecked by default: the default lockdown
denies all). "Lock down…" emits `lockdown_requested(allowed_names)`; the MCP section asks for
the final yes and does the work. The "What lockdown will do" panel shows the sentences of
`explain_lockdown(allowed)` (a pure function of the document, from the lockdown side),
refreshed as boxes are ticked, and says plainly that a read-only file does not stop a
program running as the user — drift detection covers that.

A file that cannot be parsed is shown first, in a framed box with its line and column, with
the promise that it will not be rewritten without the user's yes. No secret reaches this
window: findings carry kind, length and a short hash only.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from tray.core.mcp_audit import AuditReport, Finding, Severity
from tray.core.mcp_audit.order import worst_first
from tray.core.mcp_config import McpDocument
from tray.core.words import plural
from tray.ui.status_text import window_title

__all__ = ["SEVERITY_COLOURS", "McpAuditDialog"]

log = logging.getLogger(__name__)

# readable on light and dark window backgrounds; the word is always shown too (colour is
# never the only signal)
SEVERITY_COLOURS: dict[Severity, str] = {
    Severity.CRITICAL: "#c0392b",
    Severity.HIGH: "#d35400",
    Severity.MEDIUM: "#b7950b",
    Severity.LOW: "#2e86c1",
    Severity.INFO: "#7f8c8d",
}
_MARKS = {
    Severity.CRITICAL: "■",
    Severity.HIGH: "▲",
    Severity.MEDIUM: "◆",
    Severity.LOW: "●",
    Severity.INFO: "○",
}
LIMITS_NOTE = (
    "Read-only does not stop a program that runs as you: it can make the file writable "
    "again or replace it. The tray watches the file and tells you (or locks it again) when "
    "anything changes."
)


def _severity_badge(sev: Severity, count: int | None = None) -> str:
    colour = SEVERITY_COLOURS[sev]
    text = sev.value.capitalize() + (f" ({count})" if count is not None else "")
    return f'<span style="color:{colour}; font-weight:600">{_MARKS[sev]} {text}</span>'


def _finding_html(f: Finding) -> str:
    where = f" · line {f.line}" if f.line else ""
    return (
        f"<b>{html.escape(f.id)}</b>"
        f"{where} — {html.escape(f.message)}"
        f"<br/><i>Fix:</i> {html.escape(f.fix)}"
    )


def _label(text: str, *, rich: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class _FindingsBlock(QWidget):
    """Findings grouped by severity, most severe first (they come sorted)."""

    def __init__(self, findings: list[Finding], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        if not findings:
            layout.addWidget(_label("<i>Nothing found.</i>"))
            return
        for sev in dict.fromkeys(f.severity for f in findings):
            group = [f for f in findings if f.severity is sev]
            layout.addWidget(_label(_severity_badge(sev, len(group))))
            for f in group:
                item = _label(_finding_html(f))
                item.setContentsMargins(18, 0, 0, 4)
                item.setObjectName(f"finding-{f.id}")
                layout.addWidget(item)


class McpAuditDialog(QDialog):
    """Shows an audit report; emits `lockdown_requested(allowed server names)`."""

    lockdown_requested = Signal(list)
    # "Inspect servers…": the MCP section opens the inspection window (it asks first)
    inspect_requested = Signal()

    def __init__(
        self,
        report: AuditReport,
        doc: McpDocument | None,
        *,
        explain_lockdown: Callable[[list[str]], list[str]],
        demo: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._explain = explain_lockdown
        self.setWindowTitle(window_title("MCP audit", demo=demo))
        self.setObjectName("mcp-audit-dialog")
        self.resize(860, 720)
        self.keep_boxes: dict[str, QCheckBox] = {}
        self.section_titles: list[str | None] = []  # None: the file and LM Studio

        outer = QVBoxLayout(self)
        self._header = _label("")
        outer.addWidget(self._header)
        self._error_box = QFrame()
        self._error_box.setObjectName("mcp-parse-error")
        self._error_box.setFrameShape(QFrame.Shape.StyledPanel)
        self._error_box.setStyleSheet(
            "QFrame#mcp-parse-error { border: 2px solid #c0392b; border-radius: 6px; }"
        )
        error_layout = QVBoxLayout(self._error_box)
        self._error_label = _label("")
        error_layout.addWidget(self._error_label)
        outer.addWidget(self._error_box)

        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer.addWidget(self._scroll, 1)

        lock_panel = QFrame()
        lock_panel.setObjectName("mcp-lockdown-panel")
        lock_panel.setFrameShape(QFrame.Shape.StyledPanel)
        lock_layout = QVBoxLayout(lock_panel)
        lock_layout.addWidget(_label("<b>What lockdown will do</b>"))
        self.plan_label = _label("")
        lock_layout.addWidget(self.plan_label)
        self.limits_label = _label(f"<i>{html.escape(LIMITS_NOTE)}</i>")
        lock_layout.addWidget(self.limits_label)
        outer.addWidget(lock_panel)

        buttons = QDialogButtonBox()
        self.lock_button = QPushButton("Lock down…")
        self.lock_button.setObjectName("mcp-lock-down")
        self.close_button = QPushButton("Close")
        self.inspect_button = QPushButton("Inspect servers…")
        self.inspect_button.setObjectName("mcp-inspect")
        self.inspect_button.setToolTip(
            "Start the enabled servers (after asking) and check what they declare."
        )
        self.inspect_button.clicked.connect(self.inspect_requested.emit)
        buttons.addButton(self.inspect_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.lock_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.lock_button.clicked.connect(self._on_lock)
        self.close_button.clicked.connect(self.close)
        outer.addWidget(buttons)

        self.update_report(report, doc)

    # --- content -----------------------------------------------------------------------

    def allowed(self) -> list[str]:
        """The servers ticked "Keep when locking down", in file order."""
        return [name for name, box in self.keep_boxes.items() if box.isChecked()]

    def update_report(self, report: AuditReport, doc: McpDocument | None) -> None:
        """Show a new report (after a re-audit); ticks survive for servers still there."""
        kept = set(self.allowed())
        self.report, self.doc = report, doc
        counts = report.counts()
        summary = " &nbsp; ".join(_severity_badge(s, n) for s, n in counts.items() if n)
        what = report.dialect.label if report.dialect is not None else "not readable"
        if not report.exists:
            what = "does not exist"
        self._header.setText(
            f"<b>{html.escape(report.file)}</b><br/>"
            f"Format: {html.escape(what)} · {plural(len(report.servers), 'server')}"
            f"<br/>{summary or 'No findings.'}"
        )
        if report.errors:
            where = (
                f"line {report.error_line}, column {report.error_column}"
                if report.error_line is not None
                else "an unknown place"
            )
            self._error_label.setText(
                '<span style="color:#c0392b; font-weight:600">This file cannot be parsed '
                f"(at {where}).</span><br/>"
                + "<br/>".join(html.escape(e) for e in report.errors)
                + "<br/><b>The file will not be rewritten without your yes.</b> Fix it in an "
                "editor and audit again, or lock down to replace it with an empty server list."
            )
            self._error_box.show()
        else:
            self._error_box.hide()

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setSpacing(10)
        boxes: dict[str, QCheckBox] = {}
        self.section_titles = []  # in the order shown: the worst first
        for name, findings in worst_first(report.findings, report.servers):
            if name is None:
                self.section_titles.append(None)
                layout.addWidget(self._section("File and LM Studio", None, findings))
                continue
            box = QCheckBox("Keep when locking down")
            box.setObjectName(f"keep-{name}")
            box.setChecked(name in kept)
            box.toggled.connect(self._refresh_plan)
            boxes[name] = box
            self.section_titles.append(name)
            layout.addWidget(self._section(name, box, findings))
        # `allowed()` answers in file order, whatever the order shown.
        self.keep_boxes = {name: boxes[name] for name in dict.fromkeys(report.servers)}
        layout.addStretch(1)
        self._scroll.setWidget(body)
        self._refresh_plan()

    def _section(self, title: str, box: QCheckBox | None, findings: list[Finding]) -> QFrame:
        frame = QFrame()
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(frame)
        top = QHBoxLayout()
        server = self.doc.server(title) if (self.doc is not None and box is not None) else None
        extra = ""
        if server is not None:
            extra = f" · {server.transport}" + (" · disabled" if server.disabled else "")
            if server.line:
                extra += f" · line {server.line}"
        heading = "Server " if box is not None else ""
        top.addWidget(_label(f"<b>{heading}{html.escape(title)}</b>{html.escape(extra)}"), 1)
        if box is not None:
            top.addWidget(box)
        layout.addLayout(top)
        layout.addWidget(_FindingsBlock(findings))
        return frame

    def _refresh_plan(self) -> None:
        try:
            lines = self._explain(self.allowed())
        except Exception:  # a view must not die on a helper's bug; the log has it
            log.exception("explaining lockdown failed")
            lines = ["The lockdown plan could not be worked out; see the log."]
        self.plan_label.setText("<br/>".join(f"• {html.escape(line)}" for line in lines))
        # say the limits once: only when the plan does not already say them
        self.limits_label.setVisible(not any("does not stop" in line for line in lines))

    def _on_lock(self) -> None:
        self.lockdown_requested.emit(self.allowed())
