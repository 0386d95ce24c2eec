"""The pure side of global hotkeys (tray.core.hotkeys): parsing and checking Qt's portable
text, the default per OS, the X11/Windows/macOS tables the untestable-here backends use,
lock-modifier variants, the portal's trigger text, the choice of backend, the sentences."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tray.core.hotkeys import (
    CARBON_KEY_CODES,
    WINDOWS_VIRTUAL_KEYS,
    X11_KEYSYMS,
    Hotkey,
    InvalidHotkey,
    Modifier,
    RegisterResult,
    backend_candidates,
    carbon_arguments,
    checked,
    conflict,
    conflict_sentence,
    default_hotkey,
    describe,
    lock_variants,
    parse_hotkey,
    portal_request_path,
    portal_trigger,
    swap_registration,
    unavailable_sentence,
    windows_arguments,
)


@pytest.mark.parametrize(
    ("text", "portable"),
    [
        ("Ctrl+Alt+Space", "Ctrl+Alt+Space"),
        ("alt+ctrl+space", "Ctrl+Alt+Space"),
        (" Shift + Meta + f9 ", "Meta+Shift+F9"),
        ("Control+Alt+a", "Ctrl+Alt+A"),
        ("Ctrl+Alt+Escape", "Ctrl+Alt+Esc"),
        ("Ctrl+,", "Ctrl+,"),
        ("Meta+Ctrl+Alt+Shift+PgDown", "Meta+Ctrl+Alt+Shift+PgDown"),
        ("Shift+F5", "Shift+F5"),  # function keys type nothing: Shift alone is fine
    ],
)
def test_sequences_are_normalised_to_qts_portable_text(text: str, portable: str) -> None:
    assert parse_hotkey(text).portable == portable


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("", "Choose a key combination"),
        ("Space", "Space alone would take the key away from every program"),
        ("Shift+A", "Shift+A is needed for typing"),
        ("Ctrl+Alt", "has only modifiers; add one key"),
        ("Ctrl+A+B", "has more than one key"),
        ("Ctrl+A, Ctrl+B", "is a sequence of presses"),
        ("Ctrl+Alt+Volume Up", "“Volume Up” cannot be used in a global hotkey"),
        ("Ctrl+Alt+Del", "Ctrl+Alt+Del belongs to the system"),
    ],
)
def test_what_cannot_be_a_hotkey_is_refused_with_a_sentence(text: str, sentence: str) -> None:
    with pytest.raises(InvalidHotkey, match="^.*" + sentence.replace("+", r"\+")) as caught:
        parse_hotkey(text)
    assert str(caught.value).endswith(".")


@given(
    st.sets(st.sampled_from(list(Modifier)), min_size=1),
    st.sampled_from(sorted(X11_KEYSYMS)),
)
def test_every_valid_hotkey_survives_a_round_trip(modifiers: set[Modifier], key: str) -> None:
    try:
        hotkey = parse_hotkey(Hotkey(modifiers=frozenset(modifiers), key=key).portable)
    except InvalidHotkey:
        assert modifiers == {Modifier.SHIFT} or (
            modifiers == {Modifier.CTRL, Modifier.ALT} and key == "Del"
        )
        return
    assert hotkey == Hotkey(modifiers=frozenset(modifiers), key=key)
    assert parse_hotkey(hotkey.portable) == hotkey


def test_the_default_is_ctrl_alt_space_and_cmd_shift_space_on_macos() -> None:
    assert default_hotkey("linux") == default_hotkey("win32") == "Ctrl+Alt+Space"
    # Qt's "Ctrl" is the Command key on macOS.
    assert default_hotkey("darwin") == "Ctrl+Shift+Space"
    assert describe(default_hotkey("darwin"), "darwin") == "Shift+Cmd+Space"
    assert carbon_arguments(default_hotkey("darwin")) == (0x31, 0x0100 | 0x0200)


def test_sequences_are_described_with_the_keyboards_own_names() -> None:
    assert describe("Meta+Ctrl+Alt+Space", "linux") == "Super+Ctrl+Alt+Space"
    assert describe("Meta+Alt+K", "win32") == "Win+Alt+K"
    assert describe("Meta+Ctrl+Alt+Shift+K", "darwin") == "Control+Option+Shift+Cmd+K"
    assert describe("not a hotkey", "linux") == "not a hotkey"


def test_every_key_is_in_every_backends_table() -> None:
    assert set(X11_KEYSYMS) - set(WINDOWS_VIRTUAL_KEYS) == set()
    missing_on_mac = set(X11_KEYSYMS) - set(CARBON_KEY_CODES)
    # Apple keyboards have no Print/Pause and stop at F20.
    assert missing_on_mac == {"Print", "Pause", "F21", "F22", "F23", "F24"}
    assert len(set(CARBON_KEY_CODES.values())) == len(CARBON_KEY_CODES)
    windows_codes = [c for k, c in WINDOWS_VIRTUAL_KEYS.items() if k != "Enter"]
    assert len(set(windows_codes)) == len(windows_codes)


def test_windows_arguments() -> None:
    # MOD_CONTROL | MOD_ALT | MOD_NOREPEAT, VK_SPACE
    assert windows_arguments("Ctrl+Alt+Space") == (0x0002 | 0x0001 | 0x4000, 0x20)
    assert windows_arguments("Meta+Shift+F9") == (0x0008 | 0x0004 | 0x4000, 0x78)
    assert windows_arguments("Ctrl+Alt+K") == (0x4003, ord("K"))
    assert windows_arguments("Ctrl+Alt+/") == (0x4003, 0xBF)


def test_carbon_arguments() -> None:
    # kVK_ANSI_K = 0x28; Meta is Control (0x1000), Alt is Option (0x0800)
    assert carbon_arguments("Meta+Alt+K") == (0x28, 0x1000 | 0x0800)
    assert carbon_arguments("Ctrl+F1") == (0x7A, 0x0100)


def test_x11_grabs_cover_every_lock_combination() -> None:
    ctrl_alt = 0x04 | 0x08
    caps, num, scroll = 0x02, 0x10, 0x80
    variants = lock_variants(ctrl_alt, [caps, num, scroll])
    assert len(variants) == 8
    assert variants[0] == ctrl_alt
    assert ctrl_alt | caps | num | scroll in variants
    # A lock on the same ModN twice, or missing from the keymap (0), adds nothing.
    assert lock_variants(ctrl_alt, [caps, num, num, 0]) == sorted(
        [ctrl_alt, ctrl_alt | caps, ctrl_alt | num, ctrl_alt | caps | num]
    )


def test_the_portals_trigger_and_request_path() -> None:
    assert portal_trigger(parse_hotkey("Ctrl+Alt+Space")) == "CTRL+ALT+space"
    assert portal_trigger(parse_hotkey("Meta+Shift+PgUp")) == "LOGO+SHIFT+Prior"
    assert (
        portal_request_path(":1.42", "lmstray0a1b")
        == "/org/freedesktop/portal/desktop/request/1_42/lmstray0a1b"
    )


@pytest.mark.parametrize(
    ("qt", "env", "platform", "kinds"),
    [
        ("windows", {}, "win32", ["windows"]),
        ("cocoa", {}, "darwin", ["macos"]),
        ("xcb", {"DISPLAY": ":0"}, "linux", ["x11"]),
        # XWayland: the portal first, X grabs only as a fallback.
        ("xcb", {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux", ["portal", "x11"]),
        ("wayland", {"WAYLAND_DISPLAY": "wayland-0"}, "linux", ["portal"]),
        ("wayland-egl", {}, "linux", ["portal"]),
        ("", {"XDG_SESSION_TYPE": "wayland"}, "linux", ["portal"]),
        ("offscreen", {"DISPLAY": ":0"}, "linux", []),
        ("", {}, "linux", []),
    ],
)
def test_the_backends_to_try_follow_from_the_session(
    qt: str, env: dict[str, str], platform: str, kinds: list[str]
) -> None:
    chosen, reason = backend_candidates(qt, env, platform)
    assert chosen == kinds
    assert bool(reason) == (not kinds)


class FakeOs:
    """An OS registration call: 0 for success, else an error code per sequence."""

    def __init__(self, refuse: dict[str, int]) -> None:
        self.refuse = refuse
        self.calls: list[str] = []

    def __call__(self, sequence: str) -> int:
        self.calls.append(sequence)
        return self.refuse.get(sequence, 0)


def test_a_refused_change_keeps_the_hotkey_that_worked() -> None:
    os_call = FakeOs({"Ctrl+Alt+K": 1409, "Ctrl+Alt+J": 5})
    result, held = swap_registration(
        "Ctrl+Alt+Space", None, os_call, conflict_code=1409, refused_by="Windows"
    )
    assert result.ok and held == "Ctrl+Alt+Space"

    result, held = swap_registration(
        "Ctrl+Alt+K", "Ctrl+Alt+Space", os_call, conflict_code=1409, refused_by="Windows"
    )
    assert result.kind == "conflict" and held == "Ctrl+Alt+Space"
    assert result.problem == "Another program already uses Ctrl+Alt+K — choose another."
    assert os_call.calls[-2:] == ["Ctrl+Alt+K", "Ctrl+Alt+Space"]

    result, held = swap_registration(
        "Ctrl+Alt+J", None, os_call, conflict_code=1409, refused_by="Windows"
    )
    assert result.kind == "invalid" and held is None
    assert result.problem == "Windows refused Ctrl+Alt+J (error 5); choose another."


def test_conflicts_name_the_keys_as_the_keyboard_does() -> None:
    assert conflict("Ctrl+Shift+Space", "darwin").problem == (
        "Another program already uses Shift+Cmd+Space — choose another."
    )


def test_checked_gives_the_portable_text_or_the_invalid_result() -> None:
    assert checked("alt+ctrl+k") == ("Ctrl+Alt+K", None)
    text, problem = checked("k")
    assert text == "k" and problem is not None and problem.kind == "invalid"


def test_the_sentences() -> None:
    assert conflict_sentence("Ctrl+Alt+Space") == (
        "Another program already uses Ctrl+Alt+Space — choose another."
    )
    assert unavailable_sentence("this Wayland session has no GlobalShortcuts portal") == (
        "Global hotkeys are unavailable: this Wayland session has no GlobalShortcuts portal. "
        "Use the tray menu to open quick chat."
    )
    ok = RegisterResult(ok=True, sequence="Ctrl+Alt+Space", kind="registered")
    assert ok.message.startswith("Ctrl+Alt+Space is registered")
