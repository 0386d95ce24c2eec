"""The History window: every tracked file, its versions, what each version changed, and a
way back; plus sharing the history through a git remote.

Left, the files the history holds, by readable name ("Preset: Coding", "Load profile:
qwen/qwen3-4b", "mcp.json"; `core.history_labels`) over their folder (a deleted one is
marked, and so is one a pull found changed on both machines); middle, the selected file's
versions (local time, who, the first line of the message); right, the selected version
compared with the one before it — field by field for presets, profiles and `mcp.json`, a
coloured text diff otherwise. "Restore this version" asks first and records the restore
as a new version; "Compare with current" compares the selected version with the file on
disk now. Push and Pull wait for a remote, and say so.

It opens where the app's other windows open (a dialog centred on the screen) and Esc
closes it. Every history call blocks (disk, network) and runs in a thread from a task
started with `spawn`; errors are sentences in the window, not notifications, and each one
goes when the user does the next thing or picks another file.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from tray.core.errors import TrayError
from tray.core.history_diff import FieldChange, FileDiff
from tray.core.history_labels import FileLabel, label_for
from tray.core.settings import Settings, remote_url_problem
from tray.services.history import FileHistory, PullResult, TrackedFile, Version, display_url
from tray.services.settings_store import SettingsService
from tray.services.tracked_labels import tracked_labels
from tray.ui.dialogs import confirm
from tray.ui.status_text import window_title
from tray.ui.tasks import spawn

__all__ = ["HistoryWindow"]

log = logging.getLogger(__name__)

_PATH_ROLE = Qt.ItemDataRole.UserRole
_GREEN, _GREEN_BG = "#116329", "#dafbe1"
_RED, _RED_BG = "#a40e26", "#ffebe9"
_AMBER_BG = "#fff8c5"
_GREY = "#57606a"
_NO_REMOTE = (
    "No remote yet: type a git URL (git@host:me/presets.git) or a folder above, then Push or Pull."
)


def _local_time(v: Version) -> str:
    return v.timestamp.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _folder(path: Path) -> str:
    """The folder as a person reads it: `~/.lmstudio/config-presets`."""
    try:
        return "~/" + path.parent.relative_to(Path.home()).as_posix()
    except ValueError:
        return str(path.parent)


def _change_html(c: FieldChange) -> str:
    label = html.escape(c.label)
    old = (
        f'<span style="color:{_RED};text-decoration:line-through">{html.escape(c.old or "")}</span>'
    )
    new = f'<span style="color:{_GREEN};font-weight:600">{html.escape(c.new or "")}</span>'
    if c.change == "added":
        return _row(_GREEN_BG, "+", f"<b>{label}</b> added: {new}")
    if c.change == "removed":
        return _row(_RED_BG, "−", f"<b>{label}</b> removed (was {old})")
    return _row(_AMBER_BG, "~", f"<b>{label}</b>&nbsp; {old} &nbsp;→&nbsp; {new}")


def _row(bg: str, sign: str, body: str, *, mono: bool = False) -> str:
    font = "font-family:monospace;" if mono else ""
    return (
        f'<tr><td width="16" style="background:{bg};color:#24292f;padding:2px 4px">{sign}</td>'
        f'<td width="100%" style="background:{bg};color:#24292f;padding:2px 6px;{font}">'
        f"{body}</td></tr>"
    )


def diff_html(diff: FileDiff, heading: str) -> str:
    """The diff as HTML for the right pane (field rows, or a coloured unified diff)."""
    rows = []
    for line in diff.lines():
        if line.sign == "@" and line.text != "No difference.":
            rows.append(
                _row("#f6f8fa", "", f'<span style="color:{_GREY}">{html.escape(line.text)}</span>')
            )
    rows += [_change_html(c) for c in diff.changes]
    if diff.kind == "text":
        for line in diff.lines():
            text = html.escape(line.text) or "&nbsp;"
            if line.sign == "+":
                rows.append(_row(_GREEN_BG, "+", text, mono=True))
            elif line.sign == "-":
                rows.append(_row(_RED_BG, "−", text, mono=True))
            elif line.sign == " ":
                rows.append(_row("#ffffff", "", text, mono=True))
    if diff.same:
        rows.append(_row("#ffffff", "", "No difference."))
    return (
        f'<p style="margin:4px 0 8px 0"><b>{html.escape(heading)}</b></p>'
        f'<table cellspacing="0" width="100%">{"".join(rows)}</table>'
    )


class HistoryWindow(QDialog):
    """See the module doc. `present()` shows it; `select_file(path)` opens it on one file."""

    def __init__(
        self,
        history: FileHistory,
        *,
        settings: SettingsService | None,
        demo: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._history = history
        self._settings = settings
        self._demo = demo
        self._files: list[TrackedFile] = []
        self._labels: dict[Path, FileLabel] = {}
        self._shown_path: Path | None = None  # the file whose versions are listed
        self._versions: list[Version] = []
        self._wanted: Path | None = None
        self._conflicted: set[Path] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._shown_remote = ""
        self.setWindowTitle(window_title("History", demo=demo))
        self.setModal(False)
        self.setWindowFlag(Qt.WindowType.WindowMinMaxButtonsHint, True)  # a big window
        self.resize(1080, 600)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_browser(), 1)
        layout.addWidget(self.status_label)
        layout.addWidget(self._build_sharing())
        for button in (
            self.restore_button,
            self.compare_button,
            self.save_remote_button,
            self.push_button,
            self.pull_button,
        ):
            button.setAutoDefault(False)  # Enter in the remote field saves it, nothing else
        self._update_buttons()
        self.refresh()

    def _build_browser(self) -> QSplitter:
        """Three columns: the files, a file's versions, a version's changes with Restore
        and Compare under them."""
        self.files_list = QListWidget()
        self.files_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.files_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.files_list.setSpacing(2)
        self.files_list.currentRowChanged.connect(self._file_chosen)
        self.files_list.setObjectName("history-files")
        self.versions_list = QListWidget()
        self.versions_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.versions_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.versions_list.setSpacing(2)
        self.versions_list.currentRowChanged.connect(self._version_picked)
        self.diff_view = QTextBrowser()
        self.diff_view.setOpenLinks(False)
        self.restore_button = QPushButton("Restore this version")
        self.restore_button.clicked.connect(self._restore_clicked)
        self.compare_button = QPushButton("Compare with current")
        self.compare_button.clicked.connect(self._compare_clicked)

        buttons = QWidget()
        row = QHBoxLayout(buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.restore_button)
        row.addWidget(self.compare_button)
        row.addStretch(1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(_column("Files", self.files_list))
        splitter.addWidget(_column("Versions", self.versions_list))
        splitter.addWidget(_column("Changes", self.diff_view, buttons))
        splitter.setSizes([240, 330, 510])
        splitter.setChildrenCollapsible(False)
        return splitter

    def _build_sharing(self) -> QGroupBox:
        """The git remote: where it is, Push and Pull, and what a pull does."""
        self.remote_edit = QLineEdit()
        self.remote_edit.setPlaceholderText("a git URL or a folder, e.g. git@host:me/presets.git")
        self.remote_edit.textChanged.connect(lambda _: self._update_buttons())
        self.remote_edit.returnPressed.connect(self._save_remote_clicked)
        self.save_remote_button = QPushButton("Save")
        self.save_remote_button.clicked.connect(self._save_remote_clicked)
        self.push_button = QPushButton("Push")
        self.push_button.clicked.connect(
            lambda: self._start(self._push(), "Pushing the history", fresh=True)
        )
        self.pull_button = QPushButton("Pull")
        self.pull_button.clicked.connect(
            lambda: self._start(self._pull(), "Pulling the history", fresh=True)
        )
        self.no_remote_label = QLabel(_NO_REMOTE)
        self.no_remote_label.setObjectName("history-no-remote")
        self.no_remote_label.setWordWrap(True)
        self.no_remote_label.setStyleSheet(f"color: {_GREY};")
        self.sharing_label = QLabel(
            "Share presets and profiles between machines through a git remote. A pull never "
            "drops a version: files changed on both machines keep this one's, the other "
            "version waits in the history."
        )
        self.sharing_label.setWordWrap(True)
        sharing = QGroupBox("Sharing")
        s_lay = QVBoxLayout(sharing)
        s_row = QHBoxLayout()
        s_row.addWidget(QLabel("Remote:"))
        s_row.addWidget(self.remote_edit, 1)
        s_row.addWidget(self.save_remote_button)
        s_row.addWidget(self.push_button)
        s_row.addWidget(self.pull_button)
        s_lay.addLayout(s_row)
        s_lay.addWidget(self.no_remote_label)
        s_lay.addWidget(self.sharing_label)
        return sharing

    # --- showing ----------------------------------------------------------------------

    def present(self) -> None:
        """Show the window (centred, as the app's dialogs open) or bring it forward, and
        read the history again."""
        if self.isVisible():
            self.raise_()
            self.activateWindow()
        else:
            self.show()
        self.refresh()

    # --- state for callers and tests ---------------------------------------------------

    @property
    def busy(self) -> bool:
        """A history call is running."""
        return any(not t.done() for t in self._tasks)

    @property
    def selected_path(self) -> Path | None:
        row = self.files_list.currentRow()
        return self._files[row].path if 0 <= row < len(self._files) else None

    @property
    def selected_version(self) -> Version | None:
        row = self.versions_list.currentRow()
        return self._versions[row] if 0 <= row < len(self._versions) else None

    def select_file(self, path: Path) -> None:
        """Show `path`'s versions (once the list has loaded)."""
        self._wanted = Path(path).absolute()
        self._select_wanted()

    def refresh(self) -> None:
        """Reload the files (and the remote) from the history."""
        self._start(self._load_files(), "Reading the history")

    def label(self, path: Path) -> FileLabel:
        """The readable name the window shows for `path`."""
        return self._labels.get(path) or label_for(path)

    # --- tasks ------------------------------------------------------------------------

    def _start(self, coro: Coroutine[Any, Any, object], doing: str, *, fresh: bool = False) -> None:
        """Run a history call; `fresh`: it is the user's next step, so an older message
        (an error above all) goes."""
        if fresh:
            self._say("")

        async def guarded() -> None:
            try:
                await coro
            except TrayError as exc:
                self._say(f"{exc.title}: {exc.message}", error=True)

        def done(task: asyncio.Task[Any]) -> None:
            self._tasks.discard(task)
            if not task.cancelled():  # cancelled: the window is closing
                self._update_buttons()

        task = spawn(guarded(), doing=doing)
        self._tasks.add(task)
        task.add_done_callback(done)
        self._update_buttons()

    def _say(self, text: str, *, error: bool = False) -> None:
        """The status line; "" empties it."""
        if not text:
            self.status_label.clear()
            return
        color = _RED if error else "#24292f"
        self.status_label.setText(f'<span style="color:{color}">{html.escape(text)}</span>')

    def _update_buttons(self) -> None:
        v = self.selected_version
        busy = self.busy
        self.restore_button.setEnabled(v is not None and not v.deleted and not busy)
        self.compare_button.setEnabled(v is not None and not busy)
        # Push and Pull save what is typed first, so a typed URL is enough.
        remote = bool(self.remote_edit.text().strip())
        for button in (self.push_button, self.pull_button):
            button.setEnabled(remote and not busy)
            button.setToolTip("" if remote else _NO_REMOTE)
        self.no_remote_label.setVisible(not remote)

    # --- files and versions ---------------------------------------------------------------

    async def _load_files(self) -> None:
        current = self.selected_path

        def read() -> tuple[list[TrackedFile], dict[Path, FileLabel]]:
            tracked = self._history.tracked()
            return tracked, tracked_labels(self._history, tracked)

        files, labels = await asyncio.to_thread(read)
        files.sort(key=lambda f: (labels[f.path].sort_key, str(f.path)))
        remote = await asyncio.to_thread(self._history.remote)
        configured = self._settings.settings.history.remote_url if self._settings else None
        if configured and configured != remote:  # Settings is the source of truth
            await asyncio.to_thread(self._history.set_remote, configured)
        url = configured or remote
        if not self.remote_edit.isModified():
            self._shown_remote = display_url(url) if url else ""
            self.remote_edit.setText(self._shown_remote)
        self._files = files
        self._labels = labels
        self.files_list.blockSignals(True)
        self.files_list.clear()
        for f in files:
            marks = []
            if f.deleted:
                marks.append("deleted")
            if f.path in self._conflicted:
                marks.append("changed on both machines")
            suffix = f"  ({', '.join(marks)})" if marks else ""
            item = QListWidgetItem(f"{labels[f.path].text}{suffix}\n{_folder(f.path)}")
            item.setData(_PATH_ROLE, str(f.path))
            item.setToolTip(str(f.path))
            if f.deleted:
                item.setForeground(Qt.GlobalColor.darkGray)
            self.files_list.addItem(item)
        self.files_list.blockSignals(False)
        if not files:
            self._versions = []
            self._shown_path = None
            self.versions_list.clear()
            self.diff_view.setHtml("<p>No file has a history yet.</p>")
            return
        if self._wanted is None and current is not None:
            self._wanted = current
        if not self._select_wanted():
            self.files_list.setCurrentRow(0)

    def _select_wanted(self) -> bool:
        if self._wanted is None:
            return False
        for row, f in enumerate(self._files):
            if f.path == self._wanted:
                self._wanted = None
                if self.files_list.currentRow() == row:
                    self._file_chosen(row)
                else:
                    self.files_list.setCurrentRow(row)
                return True
        return False

    def _file_chosen(self, row: int) -> None:
        if 0 <= row < len(self._files):
            path = self._files[row].path
            # another file: what was said about the last one no longer applies (a refresh
            # that keeps the same file keeps the message, e.g. a pull's)
            self._start(
                self._load_versions(path), "Reading the versions", fresh=path != self._shown_path
            )
            self._shown_path = path

    async def _load_versions(self, path: Path, select: str | None = None) -> None:
        versions = await asyncio.to_thread(self._history.versions, path)
        if self.selected_path != path:
            return  # the user moved on meanwhile
        self._versions = versions
        self.versions_list.blockSignals(True)
        self.versions_list.clear()
        for v in versions:
            who = "outside the app" if v.by == "outside" else "LM Studio Tray"
            first = v.summary if not v.deleted else f"{v.summary} (deleted)"
            item = QListWidgetItem(f"{_local_time(v)} · {who}\n{first}")
            item.setToolTip(v.message.strip())
            self.versions_list.addItem(item)
        rows = [i for i, v in enumerate(versions) if v.commit == select]
        self.versions_list.setCurrentRow(rows[0] if rows else 0)
        self.versions_list.blockSignals(False)
        self._version_chosen(self.versions_list.currentRow())

    def _version_picked(self, row: int) -> None:
        """The user picked a version: a new step (an older error goes)."""
        self._say("")
        self._version_chosen(row)

    def _version_chosen(self, row: int) -> None:
        self._update_buttons()
        path = self.selected_path
        if path is None or not 0 <= row < len(self._versions):
            return
        v = self._versions[row]
        before = self._versions[row + 1] if row + 1 < len(self._versions) else None
        heading = f"{self.label(path).text}: {_local_time(v)} ({v.commit[:10]})" + (
            f" compared with {_local_time(before)}" if before else ", the first version"
        )
        self._start(
            self._show_diff(path, before.commit if before else None, v.commit, heading),
            "Comparing versions",
        )

    async def _show_diff(self, path: Path, a: str | None, b: str | None, heading: str) -> None:
        diff = await asyncio.to_thread(self._history.diff, path, a, b)
        diff = diff.model_copy(update={"name": self.label(path).text})  # "… created"
        if self.selected_path == path:
            self.diff_view.setHtml(diff_html(diff, heading))

    def _compare_clicked(self) -> None:
        path, v = self.selected_path, self.selected_version
        if path is None or v is None:
            return
        when = f"{_local_time(v)} ({v.commit[:10]})"
        heading = f"{self.label(path).text}: {when} compared with the file now"
        a = None if v.deleted else v.commit
        self._start(
            self._show_diff(path, a, None, heading), "Comparing with the current file", fresh=True
        )

    def _restore_clicked(self) -> None:
        path, v = self.selected_path, self.selected_version
        if path is None or v is None or v.deleted:
            return
        self._start(self._restore(path, v), f"Restoring {path.name}", fresh=True)

    async def _restore(self, path: Path, v: Version) -> None:
        what = self.label(path).phrase
        ok = await confirm(
            "Restore this version",
            f"Put back {what} as it was on {_local_time(v)}?",
            informative="The file as it is now stays in the history: restoring is itself a "
            "new version you can undo.",
            yes="Restore",
            demo=self._demo,
            parent=self,
        )
        if not ok:
            return
        commit = await asyncio.to_thread(self._history.restore, path, v.commit)
        self._say(f"Restored {what} to the version of {_local_time(v)}.")
        self._conflicted.discard(path)
        await self._load_files()
        await self._load_versions(path, select=commit)

    # --- sharing ------------------------------------------------------------------------

    def _typed_remote(self) -> str | None:
        """The URL in the field; None when the user has not changed the shown one."""
        text = self.remote_edit.text().strip()
        return None if text == self._shown_remote else text

    def _save_remote_clicked(self) -> None:
        self._start(self._save_remote(), "Saving the remote", fresh=True)

    async def _save_remote(self) -> bool:
        """Save the typed remote (if the user changed it); False when it cannot be used."""
        url = self._typed_remote()
        if url is None:
            return True
        problem = remote_url_problem(url) if url else None
        if problem:
            self._say(problem, error=True)
            return False
        if self._settings is not None:
            value = url or None

            def change(s: Settings) -> None:
                s.history.remote_url = value

            self._settings.update(change)
        await asyncio.to_thread(self._history.set_remote, url or None)
        self._shown_remote = display_url(url) if url else ""
        self.remote_edit.setText(self._shown_remote)
        self.remote_edit.setModified(False)
        self._say(f"History remote set to {self._shown_remote}." if url else "Remote removed.")
        return True

    async def _push(self) -> None:
        if not await self._save_remote():
            return
        self._say("Pushing…")
        result = await asyncio.to_thread(self._history.push)
        self._say(result.message, error=result.outcome == "rejected")

    async def _pull(self) -> None:
        if not await self._save_remote():
            return
        self._say("Pulling…")
        result = await asyncio.to_thread(self._history.pull)
        self._show_pull(result)
        await self._load_files()

    def _show_pull(self, result: PullResult) -> None:
        lines = [result.message]
        if result.conflict:
            self._conflicted |= {f.path for f in result.conflict.files}
            names = ", ".join(self.label(f.path).phrase for f in result.conflict.files)
            lines.append(
                f"Changed on both machines: {names}. Pick the file, choose a version and "
                "restore it."
            )
        self._say(" ".join(lines), error=result.conflict is not None)

    # --- closing ------------------------------------------------------------------------

    def done(self, result: int) -> None:
        """Esc, the window's close and `close()` all end here: stop what is running."""
        for task in list(self._tasks):
            task.cancel()
        super().done(result)


def _column(title: str, *widgets: QWidget) -> QWidget:
    """`widgets` one under the other, under a bold `title`."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    heading = QLabel(f"<b>{title}</b>")
    layout.addWidget(heading)
    for w in widgets:
        layout.addWidget(w)
    return box
