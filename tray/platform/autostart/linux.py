"""Start at login on Linux (and any freedesktop desktop): an XDG autostart entry,
`$XDG_CONFIG_HOME/autostart/lmstudio-tray.desktop`, as the Desktop Application Autostart
specification describes. GNOME, KDE, Xfce, LXQt, Cinnamon and systemd's
xdg-autostart-generator all read it.
"""

from __future__ import annotations

import configparser
import logging
import os
from pathlib import Path

from tray import APP_NAME
from tray.platform.autostart._files import remove_entry
from tray.services.files import atomic_write, read_text

__all__ = ["DESKTOP_FILE_NAME", "XdgAutostart", "default_icon", "desktop_entry", "exec_value"]

log = logging.getLogger(__name__)

DESKTOP_FILE_NAME = "lmstudio-tray.desktop"
ICON_NAME = "lmstudio-tray"
_ICON_FILE = ("resources", "icons", "running.svg")

# Desktop Entry spec, "The Exec key": an argument holding any of these must be quoted.
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
# Inside double quotes these four are escaped with a backslash.
_ESCAPE_IN_QUOTES = set('"`$\\')


def _quote_argument(arg: str) -> str:
    # "%" introduces field codes (%f, %u, …) anywhere in Exec, quoted or not.
    arg = arg.replace("%", "%%")
    if arg and not (set(arg) & _RESERVED):
        return arg
    escaped = "".join("\\" + c if c in _ESCAPE_IN_QUOTES else c for c in arg)
    return f'"{escaped}"'


def _escape_string(value: str) -> str:
    """The general escapes of string values (`\\\\`, `\\n`, `\\t`, `\\r`), applied before the
    quoting rule is read — so a backslash inside a quoted argument ends up as four."""
    return (
        value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )


def exec_value(command: list[str]) -> str:
    """`command` as the value of an `Exec=` key: each argument quoted as the spec requires,
    then string-escaped."""
    if not command:
        raise ValueError("the autostart command is empty")
    return _escape_string(" ".join(_quote_argument(a) for a in command))


def desktop_entry(command: list[str], *, icon: str = ICON_NAME) -> str:
    """The text of our autostart `.desktop` file."""
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.5",
        f"Name={_escape_string(APP_NAME)}",
        "Comment=Control LM Studio's local server and models from the system tray",
        f"Exec={exec_value(command)}",
    ]
    if os.path.isabs(command[0]):
        # If that program is uninstalled, desktops skip the entry instead of failing at login.
        lines.append(f"TryExec={_escape_string(command[0])}")
    lines += [
        f"Icon={_escape_string(icon)}",
        "Terminal=false",
        "Categories=Development;Utility;",
        "X-GNOME-Autostart-enabled=true",
        "X-GNOME-Autostart-Delay=5",  # let the panel (tray host) come up first
        "",
    ]
    return "\n".join(lines)


def default_icon() -> str:
    """The app's own icon file when it is on disk (wheel or source checkout), else a theme
    icon name (desktops show a generic icon for an unknown one)."""
    packaged = Path(__file__).resolve().parents[2].joinpath(*_ICON_FILE)  # tray/resources/…
    source = Path(__file__).resolve().parents[3].joinpath(*_ICON_FILE)  # <checkout>/resources/…
    for candidate in (packaged, source):
        if candidate.is_file():
            return str(candidate)
    return ICON_NAME


def _config_home() -> Path:
    # The spec ignores a relative $XDG_CONFIG_HOME.
    configured = os.environ.get("XDG_CONFIG_HOME", "")
    if configured and os.path.isabs(configured):
        return Path(configured)
    return Path.home() / ".config"


class XdgAutostart:
    """The XDG autostart entry in `config_home/autostart` (default: `$XDG_CONFIG_HOME`, or
    `~/.config`, read when used so tests and sessions can point it elsewhere)."""

    def __init__(self, config_home: Path | None = None, *, icon: str | None = None) -> None:
        self._config_home = config_home
        self._icon = icon

    @property
    def path(self) -> Path:
        return (self._config_home or _config_home()) / "autostart" / DESKTOP_FILE_NAME

    def is_enabled(self) -> bool:
        try:
            text = read_text(self.path)
        except FileNotFoundError:
            return False
        except Exception:  # an unreadable file starts nothing at login
            log.warning("cannot read the autostart entry %s", self.path, exc_info=True)
            return False
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
        try:
            parser.read_string(text)
            entry = parser["Desktop Entry"]
        except (configparser.Error, KeyError):
            log.warning("the autostart entry %s is not a desktop file", self.path)
            return False
        # Desktops switch an entry off with these keys instead of deleting the file.
        hidden = entry.get("Hidden", "false").strip().lower() == "true"
        gnome_off = entry.get("X-GNOME-Autostart-enabled", "true").strip().lower() == "false"
        return not hidden and not gnome_off

    def enable(self, command: list[str]) -> None:
        atomic_write(
            self.path, desktop_entry(command, icon=self._icon or default_icon()).encode("utf-8")
        )
        log.info("autostart enabled: %s", self.path)

    def disable(self) -> None:
        remove_entry(self.path)

    def describe(self) -> str:
        return f"Desktop autostart entry: {self.path}"
