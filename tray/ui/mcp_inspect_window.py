"""The "Inspect MCP servers" window: first it asks — listing exactly what it will start or
contact, since inspecting runs code from `mcp.json` — then it shows each server's result
(its tools, or why it could not be inspected) and the findings on what it declares, with
the diff of a tool that changed since it was pinned.

The window holds no rule and does no work: "Start inspection" emits `start_requested`,
"Accept current tools" emits `accept_requested(name)` and "Inspect again" emits
`start_requested` again; the MCP section runs the inspection and calls `show_running` and
`show_report`. Enter presses the default button (Start, then Close), Esc closes.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
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

from tray.core.mcp_audit.model import Severity
from tray.core.words import plural
from tray.ui.mcp_audit_dialog import SEVERITY_COLOURS
from tray.ui.status_text import window_title

if TYPE_CHECKING:
    from tray.core.mcp_inspect import DeclaredServer, InspectFinding, InspectReport
    from tray.services.mcp_inspect import PlannedServer

__all__ = ["INTRO", "McpInspectWindow"]

INTRO = (
    "Inspecting starts the servers in mcp.json: it runs the commands below — code from "
    "mcp.json, with your permissions — each with only the environment mcp.json gives it, "
    "lists what it declares and ends it (at most {timeout:g} s each). Remote servers are "
    "contacted with their configured headers. Disabled servers are not started."
)


def _label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _badge(sev: Severity) -> str:
    colour = SEVERITY_COLOURS[sev]
    return f'<span style="color:{colour}; font-weight:600">{sev.value.capitalize()}</span>'


def _finding_html(f: InspectFinding) -> str:
    tool = f" · {html.escape(f.tool)}" if f.tool else ""
    text = (
        f"{_badge(f.severity)} <b>{html.escape(f.id)}</b>{tool} — {html.escape(f.message)}"
        f"<br/><i>Fix:</i> {html.escape(f.fix)}"
    )
    if f.diff:
        text += f"<pre style='font-size:small'>{html.escape(f.diff)}</pre>"
    return text


class McpInspectWindow(QDialog):
    """Asks, then shows an `InspectReport`."""

    start_requested = Signal()
    accept_requested = Signal(str)

    def __init__(
        self,
        file: str,
        planned: list[PlannedServer],
        *,
        timeout: float = 20.0,
        demo: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(window_title("Inspect MCP servers", demo=demo))
        self.setObjectName("mcp-inspect-window")
        self.resize(820, 640)
        self.report: InspectReport | None = None
        self.accept_buttons: dict[str, QPushButton] = {}

        outer = QVBoxLayout(self)
        self.header = _label(f"<b>{html.escape(file)}</b>")
        outer.addWidget(self.header)
        self.status = _label("")
        outer.addWidget(self.status)
        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer.addWidget(self._scroll, 1)

        buttons = QDialogButtonBox()
        self.start_button = QPushButton("Start inspection")
        self.start_button.setObjectName("mcp-inspect-start")
        self.again_button = QPushButton("Inspect again")
        self.close_button = QPushButton("Cancel")
        buttons.addButton(self.start_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.again_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.start_button.clicked.connect(self._on_start)
        self.again_button.clicked.connect(self._on_start)
        self.close_button.clicked.connect(self.close)
        self.again_button.hide()
        outer.addWidget(buttons)
        self._show_plan(planned, timeout)

    # --- pages ------------------------------------------------------------------------

    def _show_plan(self, planned: list[PlannedServer], timeout: float) -> None:
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(_label(html.escape(INTRO.format(timeout=timeout))))
        runs = [p for p in planned if p.skipped is None]
        if runs:
            layout.addWidget(_label(f"<b>Will start or contact ({len(runs)}):</b>"))
        for p in runs:
            item = _label(
                f"<b>{html.escape(p.name)}</b> ({html.escape(p.transport)})<br/>"
                f"<code>{html.escape(p.target)}</code>"
            )
            item.setObjectName(f"planned-{p.name}")
            item.setContentsMargins(12, 0, 0, 4)
            layout.addWidget(item)
        skipped = [p for p in planned if p.skipped is not None]
        if skipped:
            layout.addWidget(_label("<b>Not started:</b>"))
        for p in skipped:
            item = _label(f"<b>{html.escape(p.name)}</b> — {html.escape(p.skipped or '')}")
            item.setContentsMargins(12, 0, 0, 4)
            layout.addWidget(item)
        layout.addStretch(1)
        self._scroll.setWidget(body)
        self.status.setText(
            "Only continue if you trust these commands."
            if runs
            else "There is nothing to start: no enabled server."
        )
        self.start_button.setEnabled(bool(runs))
        self.start_button.setDefault(bool(runs))
        self.start_button.setFocus()

    def show_running(self, count: int) -> None:
        self.start_button.setEnabled(False)
        self.again_button.setEnabled(False)
        self.status.setText(f"Inspecting {plural(count, 'server')}…")

    def show_error(self, message: str) -> None:
        self.status.setText(f'<span style="color:#c0392b">{html.escape(message)}</span>')
        self.again_button.setEnabled(True)

    def show_report(self, report: InspectReport) -> None:
        self.report = report
        counts = {s: 0 for s in Severity}
        for f in report.findings:
            counts[f.severity] += 1
        summary = " &nbsp; ".join(f"{_badge(s)} ({n})" for s, n in counts.items() if n)
        inspected = sum(1 for s in report.servers if s.inspected)
        self.status.setText(
            f"{inspected} of {plural(len(report.servers), 'server')} inspected. "
            + (summary or "No findings.")
            + (
                f"<br/>Pinned now: {html.escape(', '.join(report.pinned))}."
                if report.pinned
                else ""
            )
            + "".join(f"<br/>{html.escape(e)}" for e in report.errors)
        )
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setSpacing(10)
        self.accept_buttons = {}
        for server in report.servers:
            layout.addWidget(self._section(server, report.for_server(server.name)))
        layout.addStretch(1)
        self._scroll.setWidget(body)
        self.start_button.hide()
        self.again_button.show()
        self.again_button.setEnabled(True)
        self.close_button.setText("Close")
        self.close_button.setDefault(True)
        self.close_button.setFocus()

    def _section(self, server: DeclaredServer, findings: list[InspectFinding]) -> QFrame:
        frame = QFrame()
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        frame.setObjectName(f"server-{server.name}")
        layout = QVBoxLayout(frame)
        top = QHBoxLayout()
        if server.error is not None:
            state = f'<span style="color:#c0392b">{html.escape(server.error)}</span>'
            if server.disabled:
                state = html.escape(server.error)
        else:
            info = f" · {html.escape(server.server_info)}" if server.server_info else ""
            state = f"{plural(len(server.tools), 'tool')}{info}"
        top.addWidget(
            _label(
                f"<b>Server {html.escape(server.name)}</b> · {html.escape(server.transport)}"
                f"<br/>{state}"
            ),
            1,
        )
        if any(f.id == "T7" for f in findings):
            button = QPushButton("Accept current tools")
            button.setToolTip("Pin this server's tools as they are now (you checked the change).")
            button.clicked.connect(lambda: self.accept_requested.emit(server.name))
            self.accept_buttons[server.name] = button
            top.addWidget(button)
        layout.addLayout(top)
        if server.tools:
            names = ", ".join(html.escape(t.name) for t in server.tools)
            layout.addWidget(_label(f"<i>Tools:</i> {names}"))
        for f in findings:
            item = _label(_finding_html(f))
            item.setContentsMargins(12, 0, 0, 4)
            item.setObjectName(f"finding-{f.id}")
            layout.addWidget(item)
        return frame

    def _on_start(self) -> None:
        self.start_requested.emit()
