"""Global hotkeys without Qt or an OS: parse and check a Qt portable key sequence
("Ctrl+Alt+Space"), the default per OS, the key tables of X11, Windows and macOS, and the
sentences the user reads about a hotkey.

Qt's portable text names modifiers "Meta+Ctrl+Alt+Shift" in that order. On macOS Qt swaps
two of them: "Ctrl" is the Command key and "Meta" is the Control key. So the macOS default,
Cmd+Shift+Space, is the portable text "Ctrl+Shift+Space", and the tables below map "Ctrl"
to Carbon's `cmdKey` and "Meta" to `controlKey`. On X11 "Meta" is the Super (logo) key
(Mod4) and "Alt" is Mod1; on Windows "Meta" is the Windows key (MOD_WIN).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CARBON_KEY_CODES",
    "CARBON_MODIFIERS",
    "MOD_NOREPEAT",
    "WINDOWS_MODIFIERS",
    "WINDOWS_VIRTUAL_KEYS",
    "X11_KEYSYMS",
    "X11_MODIFIER_MASKS",
    "BackendKindName",
    "Hotkey",
    "InvalidHotkey",
    "Modifier",
    "RegisterResult",
    "backend_candidates",
    "carbon_arguments",
    "checked",
    "conflict",
    "conflict_sentence",
    "default_hotkey",
    "describe",
    "invalid",
    "lock_variants",
    "parse_hotkey",
    "portal_request_path",
    "portal_trigger",
    "registered",
    "registered_sentence",
    "swap_registration",
    "unavailable",
    "unavailable_sentence",
    "windows_arguments",
]


class Modifier(StrEnum):
    """Qt's modifier names, in the order Qt's portable text writes them."""

    META = "Meta"
    CTRL = "Ctrl"
    ALT = "Alt"
    SHIFT = "Shift"


_ORDER = list(Modifier)
_MODIFIER_ALIASES = {
    "meta": Modifier.META,
    "ctrl": Modifier.CTRL,
    "control": Modifier.CTRL,
    "alt": Modifier.ALT,
    "shift": Modifier.SHIFT,
}

# The keys a global hotkey may use: Qt's portable key names (what QKeySequence.toString
# writes) mapped to each OS's name or code. A key missing from one table cannot be
# registered on that OS; every key here is in all three.
_LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
_DIGITS = [str(d) for d in range(10)]

X11_KEYSYMS: dict[str, str] = {
    **{c: c.lower() for c in _LETTERS},
    **{d: d for d in _DIGITS},
    **{f"F{n}": f"F{n}" for n in range(1, 25)},
    "Space": "space",
    "Return": "Return",
    "Enter": "KP_Enter",
    "Esc": "Escape",
    "Tab": "Tab",
    "Backspace": "BackSpace",
    "Ins": "Insert",
    "Del": "Delete",
    "Home": "Home",
    "End": "End",
    "PgUp": "Prior",
    "PgDown": "Next",
    "Left": "Left",
    "Up": "Up",
    "Right": "Right",
    "Down": "Down",
    "Print": "Print",
    "Pause": "Pause",
    ",": "comma",
    ".": "period",
    "/": "slash",
    ";": "semicolon",
    "'": "apostrophe",
    "[": "bracketleft",
    "]": "bracketright",
    "\\": "backslash",
    "-": "minus",
    "=": "equal",
    "`": "grave",
}

# Windows virtual-key codes (WinUser.h): letters and digits are their ASCII codes.
WINDOWS_VIRTUAL_KEYS: dict[str, int] = {
    **{c: ord(c) for c in _LETTERS},
    **{d: ord(d) for d in _DIGITS},
    **{f"F{n}": 0x6F + n for n in range(1, 25)},
    "Space": 0x20,
    "Return": 0x0D,
    "Enter": 0x0D,
    "Esc": 0x1B,
    "Tab": 0x09,
    "Backspace": 0x08,
    "Ins": 0x2D,
    "Del": 0x2E,
    "Home": 0x24,
    "End": 0x23,
    "PgUp": 0x21,
    "PgDown": 0x22,
    "Left": 0x25,
    "Up": 0x26,
    "Right": 0x27,
    "Down": 0x28,
    "Print": 0x2C,
    "Pause": 0x13,
    ",": 0xBC,
    ".": 0xBE,
    "/": 0xBF,
    ";": 0xBA,
    "'": 0xDE,
    "[": 0xDB,
    "]": 0xDD,
    "\\": 0xDC,
    "-": 0xBD,
    "=": 0xBB,
    "`": 0xC0,
}
WINDOWS_MODIFIERS: dict[Modifier, int] = {
    Modifier.ALT: 0x0001,  # MOD_ALT
    Modifier.CTRL: 0x0002,  # MOD_CONTROL
    Modifier.SHIFT: 0x0004,  # MOD_SHIFT
    Modifier.META: 0x0008,  # MOD_WIN
}
# Held keys send no repeated WM_HOTKEY (Windows 7 and later).
MOD_NOREPEAT = 0x4000

# macOS virtual key codes (Carbon HIToolbox/Events.h, kVK_*): positions on an ANSI
# keyboard, not characters.
CARBON_KEY_CODES: dict[str, int] = {
    "A": 0x00, "S": 0x01, "D": 0x02, "F": 0x03, "H": 0x04, "G": 0x05, "Z": 0x06,
    "X": 0x07, "C": 0x08, "V": 0x09, "B": 0x0B, "Q": 0x0C, "W": 0x0D, "E": 0x0E,
    "R": 0x0F, "Y": 0x10, "T": 0x11, "1": 0x12, "2": 0x13, "3": 0x14, "4": 0x15,
    "6": 0x16, "5": 0x17, "=": 0x18, "9": 0x19, "7": 0x1A, "-": 0x1B, "8": 0x1C,
    "0": 0x1D, "]": 0x1E, "O": 0x1F, "U": 0x20, "[": 0x21, "I": 0x22, "P": 0x23,
    "Return": 0x24, "L": 0x25, "J": 0x26, "'": 0x27, "K": 0x28, ";": 0x29,
    "\\": 0x2A, ",": 0x2B, "/": 0x2C, "N": 0x2D, "M": 0x2E, ".": 0x2F, "Tab": 0x30,
    "Space": 0x31, "`": 0x32, "Backspace": 0x33, "Enter": 0x4C, "Esc": 0x35,
    "F1": 0x7A, "F2": 0x78, "F3": 0x63, "F4": 0x76, "F5": 0x60, "F6": 0x61,
    "F7": 0x62, "F8": 0x64, "F9": 0x65, "F10": 0x6D, "F11": 0x67, "F12": 0x6F,
    "F13": 0x69, "F14": 0x6B, "F15": 0x71, "F16": 0x6A, "F17": 0x40, "F18": 0x4F,
    "F19": 0x50, "F20": 0x5A,
    "Ins": 0x72, "Home": 0x73, "PgUp": 0x74, "Del": 0x75, "End": 0x77, "PgDown": 0x79,
    "Left": 0x7B, "Right": 0x7C, "Down": 0x7D, "Up": 0x7E,
}  # fmt: skip
CARBON_MODIFIERS: dict[Modifier, int] = {
    Modifier.CTRL: 0x0100,  # cmdKey: Qt's "Ctrl" is Command on macOS
    Modifier.SHIFT: 0x0200,  # shiftKey
    Modifier.ALT: 0x0800,  # optionKey
    Modifier.META: 0x1000,  # controlKey: Qt's "Meta" is Control on macOS
}

# X11 core modifier masks (X.h). NumLock and ScrollLock sit on a ModN chosen by the
# keymap, so the X11 backend looks them up at run time.
X11_MODIFIER_MASKS: dict[Modifier, int] = {
    Modifier.SHIFT: 1 << 0,  # ShiftMask
    Modifier.CTRL: 1 << 2,  # ControlMask
    Modifier.ALT: 1 << 3,  # Mod1Mask
    Modifier.META: 1 << 6,  # Mod4Mask (Super)
}
X11_LOCK_MASK = 1 << 1  # LockMask (CapsLock)

# Keys every OS keeps for itself or that would break typing if taken.
_RESERVED = {"Ctrl+Alt+Del": "Ctrl+Alt+Del belongs to the system."}


class InvalidHotkey(ValueError):
    """A sequence that cannot be a global hotkey; `str()` is a sentence for the user."""


class Hotkey(BaseModel):
    """One key with its modifiers."""

    model_config = ConfigDict(frozen=True)

    modifiers: frozenset[Modifier]
    key: str

    @property
    def portable(self) -> str:
        """Qt's portable text, modifiers in Qt's order ("Ctrl+Alt+Space")."""
        return "+".join([*(m.value for m in _ORDER if m in self.modifiers), self.key])

    def mask(self, table: dict[Modifier, int]) -> int:
        """The OS's modifier flags of this hotkey, from one of the tables above."""
        flags = 0
        for modifier in self.modifiers:
            flags |= table[modifier]
        return flags


class RegisterResult(BaseModel):
    """What registering a hotkey gave: registered, or why not in a sentence."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    sequence: str
    # "pending": the desktop was asked and has not answered yet (Wayland portal).
    kind: Literal["registered", "conflict", "invalid", "unavailable", "off", "pending"]
    problem: str | None = None

    @property
    def message(self) -> str:
        """The line Settings shows about the hotkey."""
        return self.problem or registered_sentence(self.sequence)


def _key_name(token: str) -> str | None:
    """Qt's spelling of a key the tables know, or None."""
    if len(token) == 1:
        upper = token.upper()
        return upper if upper in X11_KEYSYMS else None
    for name in X11_KEYSYMS:
        if name.lower() == token.lower():
            return name
    aliases = {"escape": "Esc", "delete": "Del", "insert": "Ins", "pageup": "PgUp",
               "pagedown": "PgDown", "enter": "Enter", "comma": ",", "period": ".",
               "slash": "/", "minus": "-", "equal": "="}  # fmt: skip
    return aliases.get(token.lower())


def parse_hotkey(text: str) -> Hotkey:
    """A Qt portable key sequence as a hotkey. Raises InvalidHotkey with a sentence: empty,
    more than one key (or a sequence of presses), a key without a modifier, only Shift
    before a typing key, a key the hotkey backends cannot grab."""
    text = text.strip()
    if not text:
        raise InvalidHotkey("Choose a key combination, for example Ctrl+Alt+Space.")
    if "," in text.replace("+,", "+\0").strip(","):
        raise InvalidHotkey(
            f"“{text}” is a sequence of presses; a global hotkey is one key with modifiers, "
            "for example Ctrl+Alt+Space."
        )
    # "Ctrl++" means Ctrl and the plus key: split on "+" but keep a trailing "+".
    parts = [*text[:-2].split("+"), "+"] if text.endswith("++") else text.split("+")
    modifiers: set[Modifier] = set()
    keys: list[str] = []
    for part in parts:
        token = part.strip()
        modifier = _MODIFIER_ALIASES.get(token.lower())
        if modifier is not None:
            modifiers.add(modifier)
        elif token:
            keys.append(token)
    if not keys:
        raise InvalidHotkey(f"“{text}” has only modifiers; add one key, for example {text}+Space.")
    if len(keys) > 1:
        raise InvalidHotkey(
            f"“{text}” has more than one key; a global hotkey is one key with modifiers, "
            "for example Ctrl+Alt+Space."
        )
    key = _key_name(keys[0])
    if key is None:
        raise InvalidHotkey(
            f"“{keys[0]}” cannot be used in a global hotkey; choose a letter, digit, "
            "function key, Space or an arrow key."
        )
    hotkey = Hotkey(modifiers=frozenset(modifiers), key=key)
    if not modifiers:
        raise InvalidHotkey(
            f"{key} alone would take the key away from every program; add Ctrl, Alt or "
            "Meta, for example Ctrl+Alt+" + key + "."
        )
    typing_key = not (key.startswith("F") and key[1:].isdigit())
    if modifiers == {Modifier.SHIFT} and typing_key:
        raise InvalidHotkey(
            f"Shift+{key} is needed for typing; add Ctrl, Alt or Meta, for example "
            f"Ctrl+Shift+{key}."
        )
    reserved = _RESERVED.get(hotkey.portable)
    if reserved:
        raise InvalidHotkey(f"{reserved} Choose another combination.")
    return hotkey


def default_hotkey(platform: str) -> str:
    """The default hotkey in Qt's portable text: Ctrl+Alt+Space, or Cmd+Shift+Space on
    macOS (Qt writes Command as "Ctrl" there)."""
    return "Ctrl+Shift+Space" if platform == "darwin" else "Ctrl+Alt+Space"


def describe(sequence: str, platform: str) -> str:
    """A sequence as the user's keyboard labels it: Cmd/Option/Control on macOS, Win on
    Windows, Super on Linux."""
    names: dict[str, str]
    if platform == "darwin":
        names = {"Ctrl": "Cmd", "Meta": "Control", "Alt": "Option"}
    elif platform == "win32":
        names = {"Meta": "Win"}
    else:
        names = {"Meta": "Super"}
    try:
        hotkey = parse_hotkey(sequence)
    except InvalidHotkey:
        return sequence
    order = [Modifier.META, Modifier.CTRL, Modifier.ALT, Modifier.SHIFT]
    if platform == "darwin":  # Apple's order: Control, Option, Shift, Command
        order = [Modifier.META, Modifier.ALT, Modifier.SHIFT, Modifier.CTRL]
    words = [names.get(m.value, m.value) for m in order if m in hotkey.modifiers]
    return "+".join([*words, hotkey.key])


def registered_sentence(sequence: str) -> str:
    return f"{sequence} is registered: press it anywhere to open quick chat."


def conflict_sentence(sequence: str) -> str:
    return f"Another program already uses {sequence} — choose another."


def unavailable_sentence(reason: str) -> str:
    """`reason` says why ("this Wayland session has no GlobalShortcuts portal")."""
    return f"Global hotkeys are unavailable: {reason}. Use the tray menu to open quick chat."


def lock_variants(base: int, locks: list[int]) -> list[int]:
    """`base` with every combination of the lock modifiers (CapsLock, NumLock, ScrollLock)
    added: X11 matches a grab only on the exact modifier state, so a grab without NumLock
    misses presses while NumLock is on."""
    distinct = sorted({lock for lock in locks if lock and not lock & base})
    masks = {base}
    for size in range(1, len(distinct) + 1):
        for combo in itertools.combinations(distinct, size):
            mask = base
            for lock in combo:
                mask |= lock
            masks.add(mask)
    return sorted(masks)


# The XDG shortcuts spec names modifiers CTRL, ALT, SHIFT, LOGO and keys by keysym name.
_PORTAL_MODIFIERS = {
    Modifier.CTRL: "CTRL",
    Modifier.ALT: "ALT",
    Modifier.SHIFT: "SHIFT",
    Modifier.META: "LOGO",
}


def portal_trigger(hotkey: Hotkey) -> str:
    """The `preferred_trigger` the GlobalShortcuts portal takes ("CTRL+ALT+space")."""
    words = [_PORTAL_MODIFIERS[m] for m in _ORDER if m in hotkey.modifiers]
    return "+".join([*words, X11_KEYSYMS[hotkey.key]])


def portal_request_path(unique_name: str, token: str) -> str:
    """Where the portal's Request object for `token` appears: the caller's unique bus name
    without ":" and with "." as "_" (xdg-desktop-portal's Request documentation)."""
    sender = unique_name.lstrip(":").replace(".", "_")
    return f"/org/freedesktop/portal/desktop/request/{sender}/{token}"


def windows_arguments(sequence: str) -> tuple[int, int]:
    """The (fsModifiers, vk) arguments of RegisterHotKey for a valid portable sequence."""
    hotkey = parse_hotkey(sequence)
    return hotkey.mask(WINDOWS_MODIFIERS) | MOD_NOREPEAT, WINDOWS_VIRTUAL_KEYS[hotkey.key]


def carbon_arguments(sequence: str) -> tuple[int, int]:
    """The (keyCode, modifiers) arguments of Carbon's RegisterEventHotKey."""
    hotkey = parse_hotkey(sequence)
    return CARBON_KEY_CODES[hotkey.key], hotkey.mask(CARBON_MODIFIERS)


BackendKindName = Literal["x11", "windows", "macos", "portal"]


def backend_candidates(
    platform_name: str, environ: Mapping[str, str], platform: str
) -> tuple[list[BackendKindName], str]:
    """The hotkey backends to try in order for this session (the first available one
    wins), and why there is none: `platform_name` is Qt's platform plugin ("xcb",
    "wayland", "offscreen" …), `environ` the process environment, `platform` sys.platform."""
    wayland = bool(environ.get("WAYLAND_DISPLAY")) or environ.get("XDG_SESSION_TYPE") == "wayland"
    if platform == "win32":
        return ["windows"], ""
    if platform == "darwin":
        return ["macos"], ""
    if platform_name == "xcb":
        # Under XWayland an X grab sees keys only while an X window has the focus: the
        # portal, where the desktop has it, is better.
        return (["portal", "x11"] if wayland else ["x11"]), ""
    if platform_name.startswith("wayland") or wayland:
        return ["portal"], ""
    if platform_name in {"offscreen", "minimal", "vnc"}:
        return [], f"Qt runs without a desktop (the {platform_name} platform)"
    if environ.get("DISPLAY"):
        return ["x11"], ""
    return [], "there is no X11 display and no Wayland session"


# --- results, as every backend reports them ------------------------------------------


def registered(sequence: str) -> RegisterResult:
    return RegisterResult(ok=True, sequence=sequence, kind="registered")


def conflict(sequence: str, platform: str = sys.platform) -> RegisterResult:
    return RegisterResult(
        ok=False,
        sequence=sequence,
        kind="conflict",
        problem=conflict_sentence(describe(sequence, platform)),
    )


def invalid(sequence: str, problem: str) -> RegisterResult:
    return RegisterResult(ok=False, sequence=sequence, kind="invalid", problem=problem)


def unavailable(sequence: str, reason: str) -> RegisterResult:
    return RegisterResult(
        ok=False, sequence=sequence, kind="unavailable", problem=unavailable_sentence(reason)
    )


def checked(sequence: str) -> tuple[str, RegisterResult | None]:
    """The sequence in Qt's portable text, or the `invalid` result saying what is wrong."""
    try:
        return parse_hotkey(sequence).portable, None
    except InvalidHotkey as exc:
        return sequence, invalid(sequence, str(exc))


def swap_registration(
    sequence: str,
    previous: str | None,
    register_raw: Callable[[str], int],
    *,
    conflict_code: int,
    refused_by: str,
) -> tuple[RegisterResult, str | None]:
    """Register `sequence` with an OS call that returns 0 or an error code (the previous
    hotkey already released); on failure take `previous` back, so a refused change keeps
    the hotkey that worked. Returns the result and the sequence now held."""
    error = register_raw(sequence)
    if error == 0:
        return registered(sequence), sequence
    held = previous if previous is not None and register_raw(previous) == 0 else None
    if error == conflict_code:
        return conflict(sequence), held
    problem = f"{refused_by} refused {sequence} (error {error}); choose another."
    return invalid(sequence, problem), held
