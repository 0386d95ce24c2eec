"""One window contract for every window the tray opens: built on first use (never at
start-up: the start-up budget), then presented again — shown, or raised and focused where
it is — by its own `present()`, which also reads what it shows afresh."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

__all__ = ["Presentable", "WindowSlot"]


class Presentable(Protocol):
    def present(self) -> None: ...

    def deleteLater(self) -> None: ...


W = TypeVar("W", bound=Presentable)


class WindowSlot(Generic[W]):
    """The one window of a kind. `build()` makes it; `key()` names what it is built for
    (e.g. the presets folder): when that changes, the next use builds it anew."""

    def __init__(self, build: Callable[[], W], *, key: Callable[[], object] | None = None):
        self._build = build
        self._key = key or (lambda: None)
        self._made_for: object = None
        self.window: W | None = None

    def get(self) -> W:
        """The window, built on first use (or anew for another key), not shown."""
        key = self._key()
        if self.window is None or key != self._made_for:
            if self.window is not None:
                self.window.deleteLater()
            self.window = self._build()
            self._made_for = key
        return self.window

    def present(self) -> None:
        self.get().present()
