"""The Load model dialog: a searchable list of downloaded models, optional load settings,
then the load's progress and its outcome — without ever blocking the tray.

Opened with `open()`; the list and the load run as coroutines on the shared loop. With
`lms` the progress bar follows lms's own percentages; through REST it just shows that
LM Studio is busy, and the settings REST cannot carry are greyed out.

With a load profile store, the dialog says which profile applies to the selected model,
loads with it (the dialog's own settings win where set), first runs the pre-flight memory
check (one sentence with the numbers, the rest behind "Details"; Load becomes "Load
anyway"), and afterwards names what was not applied and what LM Studio did differently.

Enter loads the selected model wherever the focus is — in the search field, when the
search leaves one model, that one is selected — and never closes the dialog; so does a
double-click on a row. Down from the search field moves into the list; Esc closes.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable

from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QKeyEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tray.core.api import ModelInfo
from tray.core.errors import TrayError
from tray.core.gpu import format_bytes
from tray.core.inventory import VISION_NOTE, kind_label
from tray.core.load_profiles import (
    LmsLoadArgs,
    LoadProfile,
    Preflight,
    ProfileLoadResult,
    describe_profile,
)
from tray.core.restore import LoadedResult, load_outcome_text
from tray.services.lms_runner import GpuOffload
from tray.services.load_profile_store import LoadProfileStore
from tray.services.model_manager import ModelManager
from tray.ui.status_text import window_title
from tray.ui.tasks import spawn

__all__ = ["COLUMNS", "DETAILS_TEXT", "GPU_CHOICES", "LoadModelDialog"]

log = logging.getLogger(__name__)

COLUMNS = ("Model", "Type", "Size", "Quantization", "Max context", "Loaded")
GPU_CHOICES: tuple[tuple[str, GpuOffload | None], ...] = (
    ("LM Studio's default", None),
    ("Max (all layers on the GPU)", "max"),
    ("75%", 0.75),
    ("50%", 0.5),
    ("25%", 0.25),
    ("Off (CPU only)", "off"),
)
_WIDEST = ("Vision LLM", "888.88 GB", "Q4_K_M_XL", "1,048,576", "✓ ×8")
_KEY_ROLE = Qt.ItemDataRole.UserRole + 1
_SORT_ROLE = Qt.ItemDataRole.UserRole + 2
_NEEDS_LMS = "Needs LM Studio's lms command on this machine (the REST API cannot set it)."
DETAILS_TEXT = "Details"
_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class LoadModelDialog(QDialog):
    def __init__(
        self,
        list_downloaded: Callable[[], Awaitable[list[ModelInfo]]],
        manager_factory: Callable[[], ModelManager | None],
        *,
        demo: bool,
        on_loaded: Callable[[], None] | None = None,
        profiles: LoadProfileStore | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._profiles = profiles
        self._profile_for: dict[str, LoadProfile] = {}
        self._confirmed: str | None = None  # the model whose pre-flight warning was seen
        self.last_preflight: Preflight | None = None
        self.last_profile_result: ProfileLoadResult | None = None
        self._list_downloaded = list_downloaded
        self._manager_factory = manager_factory
        self._on_loaded = on_loaded
        self._models: dict[str, ModelInfo] = {}
        self.loading = False
        self.last_result: LoadedResult | None = None
        self.load_task: asyncio.Task[LoadedResult | None] | None = None
        self.setWindowTitle(window_title("Load model", demo=demo))
        self.setModal(False)  # the tray menu stays usable meanwhile
        self.resize(760, 520)

        self.profile_label = QLabel()
        self.profile_label.setWordWrap(True)
        self.profile_label.setVisible(profiles is not None)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress.setTextVisible(True)
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outcome.setVisible(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self._build_search())
        layout.addWidget(self._build_table(), 1)
        layout.addLayout(self._build_options())
        layout.addWidget(self.profile_label)
        layout.addWidget(self._build_preflight_box())
        layout.addWidget(self.progress)
        layout.addWidget(self.outcome)
        layout.addWidget(self._build_buttons())
        self._apply_capabilities()

    def _build_search(self) -> QLineEdit:
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search downloaded models…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._search_changed)
        return self.search

    def _build_table(self) -> QTableView:
        """The downloaded models, sortable, one line each, in columns that do not jump;
        the search filters them on every column."""
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setSortRole(_SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)  # one line per model: sizes must not break
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Widths for the widest value each column can hold, so they do not jump (or
        # elide) as the search filters rows in and out.
        metrics = self.table.fontMetrics()
        for column, widest in enumerate(_WIDEST, start=1):
            label = self.model.headerData(column, Qt.Orientation.Horizontal)
            width = max(metrics.horizontalAdvance(widest), metrics.horizontalAdvance(label))
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(column, width + 28)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(self._double_clicked)
        return self.table

    def _build_options(self) -> QFormLayout:
        """What this load uses where no profile says otherwise."""
        self.context = QSpinBox()
        self.context.setRange(0, 10_000_000)
        self.context.setSingleStep(1024)
        self.context.setSpecialValueText("Model default")
        self.context.setSuffix(" tokens")
        self.context.setGroupSeparatorShown(True)
        self.gpu = QComboBox()
        for label, _ in GPU_CHOICES:
            self.gpu.addItem(label)
        self.ttl = QSpinBox()
        self.ttl.setRange(0, 7 * 24 * 60)
        self.ttl.setSpecialValueText("Never unload")
        self.ttl.setSuffix(" min idle")
        options = QFormLayout()
        options.addRow("Context length", self.context)
        options.addRow("GPU offload", self.gpu)
        options.addRow("Unload after", self.ttl)
        return options

    def _build_preflight_box(self) -> QFrame:
        """The pre-flight warning: one sentence, and the details behind a disclosure."""
        self.preflight_box = QFrame()
        self.preflight_box.setObjectName("preflight")
        self.preflight_box.setStyleSheet(
            "QFrame#preflight { background: #fff4ce; border: 1px solid #e0c060;"
            " border-radius: 4px; } QFrame#preflight QLabel, QFrame#preflight QToolButton"
            " { color: #4a3800; background: transparent; border: none; }"
        )
        self.preflight_label = QLabel()
        self.preflight_label.setWordWrap(True)
        self.details_button = QToolButton()
        self.details_button.setText(DETAILS_TEXT)
        self.details_button.setCheckable(True)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setToolTip("How the estimate was made, and what to do")
        self.details_button.toggled.connect(self._show_details)
        self.details_label = QLabel()
        self.details_label.setWordWrap(True)
        self.details_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_label.setVisible(False)
        top = QHBoxLayout()
        top.addWidget(self.preflight_label, 1)
        top.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        box = QVBoxLayout(self.preflight_box)
        box.setContentsMargins(8, 6, 8, 6)
        box.addLayout(top)
        box.addWidget(self.details_label)
        self.preflight_box.setVisible(False)
        return self.preflight_box

    def _build_buttons(self) -> QDialogButtonBox:
        buttons = QDialogButtonBox()
        self.load_button = QPushButton("Load")
        self.load_button.setDefault(True)
        self.load_button.setEnabled(False)
        buttons.addButton(self.load_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        # Enter is Load's, even with the focus on Close (where it lands while a load runs).
        self.close_button.setAutoDefault(False)
        self.load_button.clicked.connect(self.load_selected)
        buttons.rejected.connect(self.close)
        return buttons

    # --- keys and clicks ---------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        plain = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if event.key() in _ENTER and plain == Qt.KeyboardModifier.NoModifier:
            event.accept()
            self.activate()
            return
        if event.key() == Qt.Key.Key_Down and self.search.hasFocus():
            event.accept()
            self.table.setFocus()
            if self.selected_key() is None and self.proxy.rowCount():
                self.table.selectRow(0)
            return
        super().keyPressEvent(event)  # Esc closes

    def activate(self) -> None:
        """Enter: load the selected model. From the search field, the only model the search
        leaves counts as selected. Nothing to load: nothing happens (the dialog stays)."""
        if self.loading:
            return
        if self.selected_key() is None and self.proxy.rowCount() == 1:
            self.table.selectRow(0)
        self.load_selected()

    def _double_clicked(self, index: QModelIndex) -> None:
        if index.isValid() and not self.loading:
            self.table.selectRow(index.row())
            self.load_selected()

    def _search_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)
        if self.selected_key() is None and self.proxy.rowCount() == 1:
            self.table.selectRow(0)  # what Enter will load, shown before it is pressed

    # --- the list ------------------------------------------------------------------------

    def reload(self) -> None:
        """Fetch the downloaded models again (in the background)."""
        spawn(self.refresh(), doing="Listing downloaded models")

    async def refresh(self) -> None:
        self._apply_capabilities()
        try:
            models = await self._list_downloaded()
        except TrayError as exc:
            self._show_outcome(f"Could not list the downloaded models: {exc.message}", ok=False)
            return
        self.set_models(models)

    def set_models(self, models: list[ModelInfo]) -> None:
        selected = self.selected_key()
        self._models = {m.key: m for m in models}
        self.model.removeRows(0, self.model.rowCount())
        for m in models:
            self.model.appendRow(_row_items(m))
        if selected is not None:
            self.select(selected)
        self._selection_changed()

    def select(self, key: str) -> bool:
        """Select the model with this key (if the filter shows it)."""
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if index.data(_KEY_ROLE) == key:
                self.table.selectRow(row)
                self.table.scrollTo(index)
                return True
        return False

    def selected_key(self) -> str | None:
        rows = self.table.selectionModel().selectedRows(0) if self.table.selectionModel() else []
        return str(rows[0].data(_KEY_ROLE)) if rows else None

    def _selection_changed(self, *_: object) -> None:
        key = self.selected_key()
        model = self._models.get(key) if key else None
        if model is not None and model.max_context_length:
            self.context.setMaximum(model.max_context_length)
        self.load_button.setEnabled(model is not None and not self.loading)
        if key != self._confirmed:
            self._confirmed = None
            self.preflight_box.setVisible(False)
            self.load_button.setText("Load")
        if self._profiles is not None and key is not None and not self.loading:
            spawn(self._show_profile(key), doing="Reading the load profile")

    async def _show_profile(self, key: str) -> LoadProfile | None:
        """Say which profile a load of `key` uses (read in a thread)."""
        store = self._profiles
        if store is None:
            return None
        try:
            profile = await asyncio.to_thread(store.effective, key)
            own = await asyncio.to_thread(store.for_model, key)
        except TrayError as exc:
            self.profile_label.setText(f"Load profile unreadable: {exc.message}")
            return None
        self._profile_for[key] = profile
        which = "its own profile" if own is not None else "the default profile"
        self.profile_label.setText(
            f"<b>Load profile</b> ({html.escape(which)}): "
            f"{html.escape(describe_profile(profile))}. The settings above win where set."
        )
        return profile

    def _apply_capabilities(self) -> None:
        manager = self._manager_factory()
        with_lms = manager is not None and manager.uses_lms
        for widget in (self.gpu, self.ttl):
            widget.setEnabled(with_lms and not self.loading)
            widget.setToolTip("" if with_lms else _NEEDS_LMS)

    # --- loading ---------------------------------------------------------------------

    def load_selected(self) -> None:
        key = self.selected_key()
        if key is None or self.loading or self.busy:
            return
        self.load_task = spawn(self.load(key), doing=f"Loading {key}")

    @property
    def busy(self) -> bool:
        """A load — with its outcome and the list read again afterwards — is under way."""
        return self.load_task is not None and not self.load_task.done()

    async def load(self, key: str) -> LoadedResult | None:
        """Load `key` with the dialog's settings, showing progress then the outcome."""
        manager = self._manager_factory()
        if manager is None:
            self._show_outcome("Models cannot be loaded on this server.", ok=False)
            return None
        with_lms = manager.uses_lms
        context = self.context.value() or None
        gpu = GPU_CHOICES[self.gpu.currentIndex()][1] if with_lms else None
        ttl = (self.ttl.value() * 60 or None) if with_lms else None
        if self._profiles is not None:
            return await self._load_with_profile(manager, key, context, gpu, ttl)
        self._set_loading(True, determinate=with_lms, key=key)
        try:
            result = await manager.load(
                key,
                LmsLoadArgs(context_length=context, gpu=gpu, ttl_seconds=ttl),
                progress=self._progress if with_lms else None,
            )
        except TrayError as exc:
            self._set_loading(False)
            self._show_outcome(f"{exc.title}: {exc.message}", ok=False)
            return None
        self._set_loading(False)
        self.last_result = result
        self._show_outcome(load_outcome_text(result), ok=not result.context_short)
        if self._on_loaded is not None:
            self._on_loaded()
        await self.refresh()
        return result

    async def _load_with_profile(
        self,
        manager: ModelManager,
        key: str,
        context: int | None,
        gpu: GpuOffload | None,
        ttl: int | None,
    ) -> LoadedResult | None:
        base = self._profile_for.get(key) or await self._show_profile(key) or LoadProfile()
        mine = {"context_length": context, "gpu_offload": gpu, "ttl_seconds": ttl}
        profile = base.model_copy(update={k: v for k, v in mine.items() if v is not None})
        with_lms = manager.uses_lms
        if with_lms and self._confirmed != key:
            self._set_loading(True, determinate=False, key=key)
            self.progress.setFormat(f"Checking whether {key} fits in GPU memory…")
            try:
                check = await manager.preflight(key, profile)
            except TrayError as exc:
                check = None
                log.info("pre-flight failed, loading anyway: %s", exc.message)
            self._set_loading(False)
            self.last_preflight = check
            if check is not None and check.fits is False:
                self._show_preflight(check)
                self._confirmed = key
                self.load_button.setText("Load anyway")
                return None
        self._set_loading(True, determinate=with_lms, key=key)
        try:
            result = await manager.load_with_profile(
                key, profile, progress=self._progress if with_lms else None
            )
        except TrayError as exc:
            self._set_loading(False)
            self._show_outcome(f"{exc.title}: {exc.message}", ok=False)
            return None
        self._set_loading(False)
        self._confirmed = None
        self.load_button.setText("Load")
        self.preflight_box.setVisible(False)
        self.last_profile_result = result
        self.last_result = result.loaded
        self._show_outcome(result.text(), ok=result.ok)
        if self._on_loaded is not None:
            self._on_loaded()
        await self.refresh()
        return result.loaded

    def _show_preflight(self, check: Preflight) -> None:
        """The warning's one sentence; its details folded away until asked for."""
        self.preflight_label.setText(f"⚠ {check.sentence}")
        self.details_label.setText("<br/>".join(f"• {html.escape(d)}" for d in check.details))
        self.details_button.setChecked(False)
        self.details_button.setVisible(bool(check.details))
        self.preflight_box.setVisible(True)

    def _show_details(self, shown: bool) -> None:
        self.details_label.setVisible(shown)
        self.details_button.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )

    def _progress(self, fraction: float) -> None:
        self.progress.setValue(round(fraction * 100))

    def _set_loading(self, loading: bool, *, determinate: bool = True, key: str = "") -> None:
        self.loading = loading
        self.progress.setVisible(loading)
        if loading:
            # A busy bar (range 0–0) when nothing reports progress (REST).
            self.progress.setRange(0, 100 if determinate else 0)
            self.progress.setValue(0)
            self.progress.setFormat(f"Loading {key}… %p%" if determinate else f"Loading {key}…")
            self.outcome.setVisible(False)
        for widget in (self.table, self.search, self.context):
            widget.setEnabled(not loading)
        self._apply_capabilities()
        self._selection_changed()
        if not loading and QApplication.focusWidget() in (None, self.close_button):
            self.table.setFocus()  # disabling the list sent the focus to Close: bring it back

    def _show_outcome(self, text: str, *, ok: bool) -> None:
        colour = "#1b7f3b" if ok else "#b3261e"
        mark = "✔" if ok else "⚠"
        self.outcome.setText(f'<span style="color:{colour}">{mark}</span> {html.escape(text)}')
        self.outcome.setVisible(True)


def _item(text: str, sort: object, *, align_right: bool = False) -> QStandardItem:
    item = QStandardItem(text)
    item.setData(sort, _SORT_ROLE)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _row_items(m: ModelInfo) -> list[QStandardItem]:
    name = _item(m.key, m.key.lower())
    name.setData(m.key, _KEY_ROLE)
    if m.display_name and m.display_name != m.key:
        name.setToolTip(m.display_name)
    kind = _item(kind_label(m), kind_label(m))
    if m.supports_vision:
        kind.setToolTip(VISION_NOTE)
    quant = m.quantization.name if m.quantization and m.quantization.name else ""
    n = len(m.loaded_instances)
    loaded = "✓" if n == 1 else (f"✓ ×{n}" if n else "")
    return [
        name,
        kind,
        _item(
            format_bytes(m.size_bytes) if m.size_bytes else "", m.size_bytes or 0, align_right=True
        ),
        _item(quant, quant),
        _item(
            f"{m.max_context_length:,}" if m.max_context_length else "",
            m.max_context_length or 0,
            align_right=True,
        ),
        _item(loaded, n),
    ]
