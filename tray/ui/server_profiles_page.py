"""The Settings window's Servers page: the list of server profiles and the form of the one
selected — name, address, kind, whether `lms` drives it.

It edits rows that may not be valid yet; leaving a field checks it with the rules in
`tray.core.profiles` (the address with the one rule for server addresses), and
`checked_profiles()` gives the profiles to save, or shows what to fix next to each field and
leaves it to the window to bring the page forward and `focus_first_error()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tray.core.backends import AUTO, BackendKind, KindChoice, parse_kind_choice
from tray.core.errors import InvalidServerUrl
from tray.core.profiles import (
    ProfileFields,
    check_profile,
    display_name,
    lms_applies,
    lms_note,
    new_profile_name,
    normalize_base_url,
    removal_problem,
)
from tray.core.settings import ServerProfile, Settings
from tray.ui.settings_parts import message_line, show_error, stacked

__all__ = ["ServerProfilesPage"]

_KIND_TEXT: dict[KindChoice, str] = {
    AUTO: "Detect automatically",
    BackendKind.LMSTUDIO: "LM Studio",
    BackendKind.OLLAMA: "Ollama",
    BackendKind.LLAMACPP: "llama.cpp server",
    BackendKind.OPENAI: "Other OpenAI-compatible server",
}


@dataclass
class _Row:
    """One profile in the list, as the form holds it (possibly not valid yet)."""

    existing: ServerProfile | None
    name: str
    base_url: str
    kind: KindChoice
    use_lms: bool
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, profile: ServerProfile) -> _Row:
        return cls(profile, profile.name, profile.base_url or "", profile.kind, profile.use_lms)

    @property
    def fields(self) -> ProfileFields:
        return ProfileFields(
            name=self.name, base_url=self.base_url, kind=self.kind, use_lms=self.use_lms
        )


class ServerProfilesPage(QWidget):
    """The Servers tab; `load(settings)` fills it, `checked_profiles()` reads it back."""

    def __init__(
        self,
        active_profile: Callable[[], str],
        *,
        open_tokens: Callable[[str], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """`active_profile()` is the saved active profile's id (the menu may switch servers
        while the window is open); `open_tokens(profile_id)` opens the API tokens dialog."""
        super().__init__(parent)
        self._saved_active = active_profile
        self._open_tokens = open_tokens
        self._rows: list[_Row] = []
        self._active: _Row | None = None
        self._active_changed = False
        self._known_ids: set[str] = set()
        self._filling = False
        self._build()

    def load(self, current: Settings) -> None:
        """Fill the list from the saved settings, dropping unsaved edits."""
        self._rows = [_Row.of(p) for p in current.profiles]
        self._known_ids |= {p.id for p in current.profiles}
        self._active = next(
            r for r in self._rows if r.existing and r.existing.id == current.active_profile
        )
        self._active_changed = False
        self._fill_profile_list(select=0)

    def clear_errors(self) -> None:
        show_error(self.name_error, None)
        show_error(self.url_error, None)
        for row in self._rows:
            row.errors = {}

    def focus_first_error(self) -> None:
        """After `checked_profiles` refused: the focus goes to the selected profile's field
        to fix, its text selected so that typing replaces it."""
        row = self._current()
        if row is None or not row.errors:
            return
        edit = self.name_edit if "name" in row.errors else self.url_edit
        edit.setFocus()
        edit.selectAll()

    def selected_index(self) -> int:
        return self.profile_list.currentRow()

    def select(self, index: int) -> None:
        self._select(index)

    def checked_profiles(self) -> list[ServerProfile] | None:
        """The profiles to save, or None after showing what to fix (the first profile to fix
        is selected)."""
        self._store_current()
        taken = set(self._known_ids)
        profiles: list[ServerProfile] = []
        first_bad: int | None = None
        for i, row in enumerate(self._rows):
            others = [r.name for r in self._rows if r is not row]
            check = check_profile(
                row.fields, other_names=others, taken_ids=sorted(taken), existing=row.existing
            )
            row.errors = dict(check.errors)
            if check.profile is None:
                first_bad = i if first_bad is None else first_bad
                continue
            taken.add(check.profile.id)
            profiles.append(check.profile)
        if first_bad is not None:
            self._select(first_bad)
            return None
        return profiles

    def active_id(self, profiles: list[ServerProfile]) -> str:
        # The menu may have switched servers while this window was open; unless the user
        # chose one here, keep that choice.
        current = self._saved_active()
        if not self._active_changed and any(p.id == current for p in profiles):
            return current
        assert self._active is not None
        return profiles[self._rows.index(self._active)].id

    def _build(self) -> None:
        self.profile_list = QListWidget()
        self.profile_list.setObjectName("profile-list")
        self.profile_list.setMinimumWidth(210)
        self.profile_list.currentRowChanged.connect(self._row_selected)
        self.add_button = QPushButton("Add")
        self.remove_button = QPushButton("Remove")
        self.activate_button = QPushButton("Use this server")
        self.add_button.clicked.connect(self._add_profile)
        self.remove_button.clicked.connect(self._remove_profile)
        self.activate_button.clicked.connect(self._make_active)
        self.tokens_button = QPushButton("API token…")
        self.tokens_button.setVisible(self._open_tokens is not None)
        self.tokens_button.clicked.connect(self._tokens_for_current)
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        left = QVBoxLayout()
        left.addWidget(self.profile_list, 1)
        left.addLayout(buttons)
        left.addWidget(self.activate_button)
        left.addWidget(self.tokens_button)

        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("profile-name")
        self.name_edit.setMaxLength(80)
        self.name_error = message_line(error=True)
        self.url_edit = QLineEdit()
        self.url_edit.setObjectName("profile-url")
        self.url_edit.setPlaceholderText("Empty: this machine's LM Studio")
        self.url_error = message_line(error=True)
        self.url_hint = message_line(error=False)
        self.url_hint.setText(
            "Leave empty for the LM Studio on this machine (its address comes from LM "
            "Studio's own server settings). Otherwise e.g. http://192.168.1.20:1234 or "
            "http://localhost:11434 for Ollama."
        )
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("profile-kind")
        for kind, text in _KIND_TEXT.items():
            self.kind_combo.addItem(text, kind)
        self.use_lms_box = QCheckBox("Control this server with LM Studio's lms command")
        self.use_lms_box.setObjectName("profile-use-lms")
        self.lms_hint = message_line(error=False)

        self.name_edit.textEdited.connect(self._edited)
        self.url_edit.textEdited.connect(self._edited)
        self.name_edit.editingFinished.connect(self._check_current)
        self.url_edit.editingFinished.connect(self._check_current)
        self.kind_combo.currentIndexChanged.connect(self._edited)
        self.use_lms_box.toggled.connect(self._edited)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(12)
        form.setHorizontalSpacing(12)
        form.addRow("Name:", stacked(self.name_edit, self.name_error))
        form.addRow("Address:", stacked(self.url_edit, self.url_error, self.url_hint))
        form.addRow("Kind:", self.kind_combo)
        form.addRow("", stacked(self.use_lms_box, self.lms_hint))
        self.profile_box = QGroupBox("Server details")
        box_layout = QVBoxLayout(self.profile_box)
        box_layout.addLayout(form)
        box_layout.addStretch(1)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(14)
        layout.addLayout(left, 2)
        layout.addWidget(self.profile_box, 3)

    def _fill_profile_list(self, *, select: int) -> None:
        self._filling = True
        try:
            self.profile_list.clear()
            for row in self._rows:
                self.profile_list.addItem(QListWidgetItem())
                self._refresh_item(row)
        finally:
            self._filling = False
        self._select(select)

    def _select(self, index: int) -> None:
        index = max(0, min(index, len(self._rows) - 1))
        if self.profile_list.currentRow() == index:
            self._row_selected(index)
        else:
            self.profile_list.setCurrentRow(index)

    def _refresh_item(self, row: _Row) -> None:
        item = self.profile_list.item(self._rows.index(row))
        text = display_name(row.name, row.kind)
        active = row is self._active
        item.setText(f"{text} — in use" if active else text)
        font = QFont(self.profile_list.font())
        font.setBold(active)
        item.setFont(font)
        item.setToolTip(row.base_url or "This machine's LM Studio")

    def _current(self) -> _Row | None:
        index = self.profile_list.currentRow()
        return self._rows[index] if 0 <= index < len(self._rows) else None

    def _row_selected(self, index: int) -> None:
        if self._filling or not 0 <= index < len(self._rows):
            return
        row = self._rows[index]
        self._filling = True
        try:
            self.name_edit.setText(row.name)
            self.url_edit.setText(row.base_url)
            self.kind_combo.setCurrentIndex(self.kind_combo.findData(row.kind))
            show_error(self.name_error, row.errors.get("name"))
            show_error(self.url_error, row.errors.get("base_url"))
        finally:
            self._filling = False
        self._update_lms_box(row)
        self._update_buttons()

    def _store_current(self) -> None:
        row = self._current()
        if row is None:
            return
        row.name = self.name_edit.text()
        row.base_url = self.url_edit.text()
        row.kind = parse_kind_choice(str(self.kind_combo.currentData()))
        if self.use_lms_box.isEnabled():
            # A disabled box shows "no" because lms cannot apply; keep the user's wish.
            row.use_lms = self.use_lms_box.isChecked()

    def _edited(self, *_: object) -> None:
        if self._filling:
            return
        row = self._current()
        if row is None:
            return
        self._store_current()
        self._refresh_item(row)
        self._update_lms_box(row)
        if row.errors:
            # Once an error shows, it goes away as soon as the field is right.
            self._check_current()

    def _check_current(self) -> None:
        row = self._current()
        if row is None or self._filling:
            return
        self._store_current()
        others = [r.name for r in self._rows if r is not row]
        row.errors = dict(check_profile(row.fields, other_names=others).errors)
        show_error(self.name_error, row.errors.get("name"))
        show_error(self.url_error, row.errors.get("base_url"))

    def _update_lms_box(self, row: _Row) -> None:
        try:
            url = normalize_base_url(row.base_url)
        except InvalidServerUrl:
            url = row.base_url  # not valid yet: judge by what is typed so far
        applies = lms_applies(row.kind, url)
        self._filling = True
        try:
            self.use_lms_box.setEnabled(applies)
            self.use_lms_box.setChecked(applies and row.use_lms)
        finally:
            self._filling = False
        self.lms_hint.setText(lms_note(row.kind, url))

    def _update_buttons(self) -> None:
        row = self._current()
        problem = removal_problem(len(self._rows) - 1)
        self.remove_button.setEnabled(problem is None)
        self.remove_button.setToolTip(problem or "Remove this server from the list")
        in_use = row is self._active
        self.activate_button.setEnabled(not in_use)
        self.activate_button.setText("In use" if in_use else "Use this server")
        saved = row is not None and row.existing is not None
        self.tokens_button.setEnabled(saved)
        self.tokens_button.setToolTip(
            "Store, test or remove this server's API token"
            if saved
            else "Apply first: a new server gets its token once it is saved"
        )

    def _tokens_for_current(self) -> None:
        row = self._current()
        if self._open_tokens is not None and row is not None and row.existing is not None:
            self._open_tokens(row.existing.id)

    def _add_profile(self) -> None:
        self._store_current()
        row = _Row(
            existing=None,
            name=new_profile_name([r.name for r in self._rows]),
            base_url="",
            kind=AUTO,
            use_lms=True,
        )
        self._rows.append(row)
        self.profile_list.addItem(QListWidgetItem())
        self._refresh_item(row)
        self._select(len(self._rows) - 1)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def _remove_profile(self) -> None:
        row = self._current()
        if row is None or len(self._rows) <= 1:
            return
        index = self._rows.index(row)
        self._rows.remove(row)
        if row is self._active:
            self._active = self._rows[0]
            self._active_changed = True
        self._fill_profile_list(select=min(index, len(self._rows) - 1))

    def _make_active(self) -> None:
        row = self._current()
        if row is None:
            return
        previous, self._active = self._active, row
        self._active_changed = True
        for r in (previous, row):
            if r is not None and r in self._rows:
                self._refresh_item(r)
        self._update_buttons()
