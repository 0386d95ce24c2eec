"""The X11 hotkey backend on a real X server: `xdotool` presses reach `activated` once per
press (NumLock on or off), a new sequence replaces the old one, unregistering stops it,
and a second process holding the key makes registering report a conflict."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hotkey_holder import grab_once, holding  # tests/ui/hotkey_holder.py
from pytestqt.qtbot import QtBot

from tray.core.hotkeys import X11_KEYSYMS, X11_MODIFIER_MASKS, Modifier
from tray.core.settings import Settings
from tray.platform.hotkeys import HotkeyManager, select_backend
from tray.platform.hotkeys.x11 import X11Backend
from tray.services.settings_store import SettingsService, SettingsStore

pytestmark = pytest.mark.ui


def press(*keys: str) -> None:
    subprocess.run(["xdotool", "key", *keys], check=True)


class Counter:
    def __init__(self, backend: X11Backend) -> None:
        self.count = 0
        backend.activated.connect(self.bump)

    def bump(self) -> None:
        self.count += 1


@pytest.fixture
def backend(qapp: object) -> Iterator[X11Backend]:
    made = select_backend()
    assert isinstance(made, X11Backend), made.available()
    yield made
    made.close()


def pressed_once_each(qtbot: QtBot, backend: X11Backend, counter: Counter, *keys: str) -> None:
    """Press, wait for the activation, then check a round trip brought no second one."""
    before = counter.count
    press(*keys)
    qtbot.waitUntil(lambda: counter.count > before, timeout=5000)
    backend.sync()
    assert counter.count == before + 1


def test_a_press_activates_once_with_and_without_numlock(qtbot: QtBot, backend: X11Backend) -> None:
    counter = Counter(backend)
    result = backend.register("ctrl+alt+space")
    assert result.ok and result.sequence == "Ctrl+Alt+Space"
    assert result.message.startswith("Ctrl+Alt+Space is registered")
    pressed_once_each(qtbot, backend, counter, "ctrl+alt+space")
    pressed_once_each(qtbot, backend, counter, "ctrl+alt+space")
    assert counter.count == 2

    press("Num_Lock")
    try:
        pressed_once_each(qtbot, backend, counter, "ctrl+alt+space")
        held = X11_MODIFIER_MASKS[Modifier.CTRL] | X11_MODIFIER_MASKS[Modifier.ALT]
        locks = backend.last_state & ~held
        assert locks, "NumLock was not part of the press: the test proved nothing"
    finally:
        press("Num_Lock")
    pressed_once_each(qtbot, backend, counter, "ctrl+alt+space")
    assert counter.count == 4


def test_a_held_key_activates_once(qtbot: QtBot, backend: X11Backend) -> None:
    counter = Counter(backend)
    assert backend.register("Ctrl+Alt+Space").ok
    # xdotool holds the key for 1.2 s, long past the X server's auto-repeat delay (the
    # server sends about 15 KeyPress events for it).
    subprocess.run(
        ["xdotool", "keydown", "ctrl+alt+space", "sleep", "1.2", "keyup", "ctrl+alt+space"],
        check=True,
    )
    qtbot.waitUntil(lambda: counter.count > 0, timeout=5000)
    backend.sync()
    assert counter.count == 1


def test_another_sequence_replaces_the_first_and_unregister_stops_it(
    qtbot: QtBot, backend: X11Backend
) -> None:
    counter = Counter(backend)
    assert backend.register("Ctrl+Alt+Space").ok
    assert backend.register("Meta+Shift+F9").ok
    assert backend.sequence == "Meta+Shift+F9"
    press("ctrl+alt+space")  # no longer ours: goes to the focused window
    pressed_once_each(qtbot, backend, counter, "super+shift+F9")
    assert counter.count == 1  # so the Ctrl+Alt+Space before it did not count

    backend.unregister()
    assert backend.sequence is None
    press("super+shift+F9")
    backend.sync()
    assert counter.count == 1
    assert grab_once("Meta+Shift+F9") == "ok"  # released for real: another program can


def test_invalid_sequences_are_refused_with_a_sentence(backend: X11Backend) -> None:
    result = backend.register("Space")
    assert not result.ok and result.kind == "invalid"
    assert "alone would take the key away" in (result.problem or "")


def test_a_key_another_program_holds_is_a_conflict_with_a_clear_sentence(
    qtbot: QtBot, backend: X11Backend
) -> None:
    with holding("Ctrl+Alt+Space") as holder:
        conflict_then_ours(qtbot, backend, holder)


def conflict_then_ours(qtbot: QtBot, backend: X11Backend, holder: subprocess.Popen[str]) -> None:
    counter = Counter(backend)
    assert backend.register("Ctrl+Shift+F8").ok

    result = backend.register("Ctrl+Alt+Space")
    assert not result.ok and result.kind == "conflict"
    assert result.problem == "Another program already uses Ctrl+Alt+Space — choose another."
    # The hotkey that worked is kept.
    assert backend.sequence == "Ctrl+Shift+F8"
    pressed_once_each(qtbot, backend, counter, "ctrl+shift+F8")

    # Once the other program lets go, the key is ours.
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(timeout=10)
    assert backend.register("Ctrl+Alt+Space").ok
    pressed_once_each(qtbot, backend, counter, "ctrl+alt+space")


def test_the_second_program_is_told_when_we_hold_the_key(backend: X11Backend) -> None:
    assert backend.register("Ctrl+Alt+Space").ok
    assert grab_once("Ctrl+Alt+Space") == "conflict"


def test_the_manager_follows_the_settings(
    qtbot: QtBot, backend: X11Backend, tmp_path: Path
) -> None:
    service = SettingsService(SettingsStore(tmp_path / "settings.json"))
    manager = HotkeyManager(backend, service, platform="linux")
    states: list[str] = []
    manager.state_changed.connect(lambda r: states.append(r.kind))
    opened: list[bool] = []
    manager.activated.connect(lambda: opened.append(True))

    assert manager.start().sequence == "Ctrl+Alt+Space"  # the default
    pressed_once_each(qtbot, backend, Counter(backend), "ctrl+alt+space")
    assert opened == [True]

    def change(s: Settings) -> None:
        s.quick_chat.hotkey = "Alt+Shift+F7"

    service.update(change)
    assert manager.state.ok and manager.state.sequence == "Alt+Shift+F7"
    service.update(lambda s: setattr(s.quick_chat, "hotkey_enabled", False))
    assert manager.state.kind == "off" and backend.sequence is None
    assert states == ["registered", "registered", "off"]
    manager.stop()


def test_every_key_of_a_pc_keyboard_can_be_grabbed(backend: X11Backend) -> None:
    beyond_f12 = {f"F{n}" for n in range(13, 25)}  # not on a PC keyboard's keymap
    for key in set(X11_KEYSYMS) - beyond_f12:
        result = backend.register(f"Meta+Ctrl+Alt+Shift+{key}")
        assert result.ok, result
    held = backend.sequence
    result = backend.register("Ctrl+Alt+F13")
    assert result.kind == "invalid"
    assert result.problem == "This keyboard layout has no key for Ctrl+Alt+F13; choose another."
    assert backend.sequence == held  # the previous hotkey is kept
