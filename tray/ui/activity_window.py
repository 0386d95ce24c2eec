"""The Activity window: predictions as they finish (newest first) with a per-model
summary, and the server's log lines with a level filter — what `lms log stream` says,
over one `ActivityLog` the Activity section keeps.

Prompt and completion text is neither shown nor kept until "Show text" is on (for this
session); turning it off forgets what was kept. Export writes the session as CSV or
NDJSON where the user says, and nowhere else. A server that is not LM Studio gets a
sentence instead of tables.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from tray.core.activity import (
    LOG_CAPACITY,
    ActivityLog,
    LogLine,
    Prediction,
    stop_reason_text,
    to_csv,
    to_ndjson,
)
from tray.core.errors import TrayError
from tray.core.redact import redact
from tray.services.files import atomic_write
from tray.ui.status_text import window_title
from tray.ui.tasks import spawn

__all__ = ["COLUMNS", "LEVELS", "ActivityWindow", "PredictionsModel"]

COLUMNS = (
    "Time",
    "Model",
    "Prompt tokens",
    "Output tokens",
    "Tokens/s",
    "First token",
    "Total time",
    "Stop reason",
)
# The level filter: the label, and the levels it shows.
LEVELS = {
    "All levels": ("debug", "info", "warn", "error"),
    "Info and above": ("info", "warn", "error"),
    "Warnings and errors": ("warn", "error"),
    "Errors": ("error",),
}
_Index = QModelIndex | QPersistentModelIndex


def _cell(p: Prediction, column: int) -> str:
    def n(value: float | None, fmt: str, unit: str = "") -> str:
        return "" if value is None else format(value, fmt) + unit

    values = (
        time.strftime("%H:%M:%S", time.localtime(p.time)),
        p.model,
        n(p.prompt_tokens, ","),
        n(p.output_tokens, ","),
        n(p.tokens_per_second, ".1f"),
        n(p.time_to_first_token_s, ".2f", " s"),
        n(p.total_time_s, ".2f", " s"),
        stop_reason_text(p.stop_reason),
    )
    return values[column]


class PredictionsModel(QAbstractTableModel):
    """The session's predictions, newest first, read straight from the `ActivityLog` ring
    buffer (no copy per row: 10,000 rows cost what the records cost)."""

    def __init__(self, log: ActivityLog) -> None:
        super().__init__()
        self._log = log
        self._rows = len(log.predictions)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= self._rows:
            return None
        p = self.prediction(index.row())
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell(p, index.column())
        if role == Qt.ItemDataRole.TextAlignmentRole and 2 <= index.column() <= 6:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and (p.context_full or p.failed):
            return "The context was full" if p.context_full else "The prediction failed"
        return None

    def prediction(self, row: int) -> Prediction:
        return self._log.predictions[-1 - row]

    def grown(self) -> None:
        """The log took new predictions (and may have dropped its oldest)."""
        now = len(self._log.predictions)
        if now == self._rows:  # full ring: as many came as went
            if now:
                self.dataChanged.emit(self.index(0, 0), self.index(now - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self._rows = now
        self.endResetModel()


class ActivityWindow(QDialog):
    """`show_text_changed(on)`: the user turned "Show text" on or off; `closed`: the
    window went away (the section decides whether the stream keeps running)."""

    show_text_changed = Signal(bool)
    closed = Signal()

    def __init__(self, log: ActivityLog, *, demo: bool) -> None:
        super().__init__()
        self._log = log
        self._demo = demo
        self.setWindowTitle(window_title("Activity", demo=demo))
        self.resize(900, 560)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_predictions(), "Predictions")
        self.tabs.addTab(self._build_log(), "Server log")
        self.show_text = QCheckBox("Show text")
        self.show_text.setToolTip(
            "Show (and keep, for this session only) each prompt and completion; off, only "
            "their lengths are kept"
        )
        self.show_text.toggled.connect(self._show_text_toggled)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setAutoDefault(False)  # Enter must never wipe the session
        self.clear_button.clicked.connect(self.clear)
        self.export_button = QPushButton("Export…")
        self.export_button.setAutoDefault(False)
        self.export_button.clicked.connect(self._export_clicked)
        close = QPushButton("Close")
        close.setDefault(True)
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        for widget in (self.show_text, self.clear_button, self.export_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)
        self.exported: Path | None = None
        self.set_state("Waiting for LM Studio's server…")
        self.refresh()

    def _build_predictions(self) -> QWidget:
        self.summary = QTableWidget(0, 4)
        self.summary.setHorizontalHeaderLabels(
            ["Model", "Requests", "Median tokens/s", "p95 first token"]
        )
        self.summary.verticalHeader().hide()
        self.summary.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.summary.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.model = PredictionsModel(self._log)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(7, QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(70)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._show_selected())
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setPlaceholderText("Select a prediction to see its prompt and completion.")
        self.text.hide()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.summary)
        split.addWidget(self.table)
        split.addWidget(self.text)
        split.setSizes([110, 330, 160])
        return split

    def _build_log(self) -> QWidget:
        self.level = QComboBox()
        self.level.addItems(list(LEVELS))
        self.level.setCurrentText("Info and above")
        self.level.currentTextChanged.connect(lambda _: self._refill_log())
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(LOG_CAPACITY)
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log_view.setPlaceholderText("LM Studio's server log lines appear here.")
        row = QHBoxLayout()
        row.addWidget(QLabel("Show:"))
        row.addWidget(self.level)
        row.addStretch(1)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addWidget(self.log_view, 1)
        return box

    # --- what the section tells it --------------------------------------------------------

    def present(self) -> None:
        if self.isVisible():
            self.raise_()
            self.activateWindow()
        else:
            self.show()
        self.refresh()

    def set_state(self, sentence: str, *, available: bool = True) -> None:
        """The line above the tabs; an unavailable server hides the tables."""
        self.status.setText(sentence)
        self.tabs.setEnabled(available)
        self.export_button.setEnabled(available)

    def added(self, records: list[Prediction | LogLine]) -> None:
        """New records are in the log: show them."""
        if any(isinstance(r, Prediction) for r in records):
            self.model.grown()
            self._fill_summary()
        wanted = LEVELS[self.level.currentText()]
        for r in records:
            if isinstance(r, LogLine) and r.level in wanted:
                self.log_view.appendPlainText(r.message)

    def refresh(self) -> None:
        """Everything again from the log."""
        self.model.grown()
        self._fill_summary()
        self._refill_log()

    def clear(self) -> None:
        self._log.clear()
        self.refresh()
        self.text.clear()

    def _fill_summary(self) -> None:
        rows = self._log.summaries()
        self.summary.setRowCount(len(rows))
        for i, s in enumerate(rows):
            cells = (
                s.model,
                f"{s.requests:,}",
                "" if s.median_tokens_per_second is None else f"{s.median_tokens_per_second:.1f}",
                ""
                if s.p95_time_to_first_token_s is None
                else f"{s.p95_time_to_first_token_s:.2f} s",
            )
            for column, text in enumerate(cells):
                self.summary.setItem(i, column, QTableWidgetItem(text))

    def _refill_log(self) -> None:
        wanted = LEVELS[self.level.currentText()]
        self.log_view.setPlainText(
            "\n".join(r.message for r in self._log.lines if r.level in wanted)
        )

    # --- text -------------------------------------------------------------------------------

    def _show_text_toggled(self, on: bool) -> None:
        if not on:
            self._log.forget_text()
            self.text.clear()
        self.text.setVisible(on)
        self.show_text_changed.emit(on)
        self._show_selected()

    def _show_selected(self) -> None:
        if not self.show_text.isChecked():
            return
        row = self.table.selectionModel().currentIndex().row()
        if row < 0 or row >= self.model.rowCount():
            self.text.clear()
            return
        p = self.model.prediction(row)
        if p.input is None and p.output is None:
            self.text.setPlainText("(This prediction finished before Show text was on.)")
            return
        shown = f"— prompt —\n{p.input or ''}\n\n— completion —\n{p.output or ''}"
        self.text.setPlainText(redact(shown))

    # --- export -----------------------------------------------------------------------------

    def _export_clicked(self) -> None:
        box = QFileDialog(self, window_title("Export the activity", demo=self._demo))
        box.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        box.setNameFilters(["CSV (*.csv)", "NDJSON (*.ndjson)"])
        box.selectFile("activity.csv")
        box.fileSelected.connect(lambda path: spawn(self.export(Path(path)), doing="Exporting"))
        box.open()

    async def export(self, path: Path) -> None:
        """The session's predictions as CSV (or, for `.ndjson`, predictions then log lines,
        one JSON object per line); text only while "Show text" is on."""
        on = self.show_text.isChecked()
        predictions = list(self._log.predictions)
        if path.suffix.lower() in (".ndjson", ".jsonl"):
            data = to_ndjson([*predictions, *self._log.lines], show_text=on)
        else:
            data = to_csv(predictions, show_text=on)
        try:
            await asyncio.to_thread(atomic_write, path, data.encode("utf-8"))
        except (OSError, TrayError) as exc:
            self.status.setText(f"Not exported: {exc}")
            return
        self.exported = path
        self.status.setText(f"Exported {len(predictions):,} predictions to {path}.")

    # --- closing ----------------------------------------------------------------------------

    def done(self, result: int) -> None:
        """Esc, Close and the window's X all end here."""
        super().done(result)
        self.closed.emit()
