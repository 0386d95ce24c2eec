"""Where the app keeps its own files: one place that names every folder, for the tray, the
CLI and the demo alike.

    config   settings.json, load-profiles/          (platformdirs' user config folder)
    data     history/ (the git repository of versions)      (user data folder)
    state    restore points, the MCP lockdown record        (user state folder)
    cache    nothing yet; anything that may be thrown away  (user cache folder)
    runtime  the one-tray-per-user lock and its channel     ($XDG_RUNTIME_DIR on Linux)

On Linux these follow the XDG variables (XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_STATE_HOME,
XDG_CACHE_HOME, XDG_RUNTIME_DIR) as they are when `AppPaths.default()` is called, so a test
that points them elsewhere moves everything. The demo keeps all of it in its throw-away
home — except the runtime folder: while it runs, the demo is this user's one tray.

Nothing here creates a folder (each owner does, when it first writes); `runtime_folder` is
read before the tray's icon shows, so this module imports nothing heavy (platformdirs only
inside `default`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NamedTuple

__all__ = ["APP_DIR_NAME", "AppPaths", "runtime_folder", "safe_name"]

APP_DIR_NAME = "lmstudio-tray"


def runtime_folder() -> Path:
    """The user's private folder for runtime files: `$XDG_RUNTIME_DIR/lmstudio-tray` on Linux
    when that is set, else a folder of the user's own in the temporary directory."""
    base = os.environ.get("XDG_RUNTIME_DIR") if sys.platform.startswith("linux") else None
    if base and Path(base).is_dir():
        return Path(base) / APP_DIR_NAME
    import getpass  # only here: the runtime folder is found before the tray's icon shows
    import tempfile

    return Path(tempfile.gettempdir()) / f"{APP_DIR_NAME}-{safe_name(getpass.getuser())}"


def safe_name(text: str) -> str:
    """`text` (a user name) as a file-name part: letters, digits and -_. only."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "user"


class AppPaths(NamedTuple):
    """The app's folders (a NamedTuple, not a pydantic model or a dataclass: this module is
    imported before the tray's icon shows, for `runtime_folder`, where every millisecond
    of import counts — see docs/benchmarks.md)."""

    config_dir: Path
    data_dir: Path
    state_dir: Path
    cache_dir: Path
    runtime_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def load_profiles_dir(self) -> Path:
        # The name is also in tray.core.history_labels.PROFILES_FOLDER (a test keeps them equal).
        return self.config_dir / "load-profiles"

    @property
    def scenes_file(self) -> Path:
        # The name is also tray.core.history_labels.SCENES_FILE (a test keeps them equal).
        return self.config_dir / "scenes.json"

    @property
    def history_dir(self) -> Path:
        return self.data_dir / "history"

    @property
    def mcp_pins_file(self) -> Path:
        """The pins of inspected MCP servers' tools (`mcp inspect`)."""
        return self.data_dir / "mcp-pins.json"

    @classmethod
    def default(cls) -> AppPaths:
        """The user's folders, as the OS (and on Linux the XDG variables) say right now."""
        import platformdirs as dirs

        name = APP_DIR_NAME
        return cls(
            config_dir=Path(dirs.user_config_dir(name, appauthor=False)),
            data_dir=Path(dirs.user_data_dir(name, appauthor=False)),
            state_dir=Path(dirs.user_state_dir(name, appauthor=False)),
            cache_dir=Path(dirs.user_cache_dir(name, appauthor=False)),
            runtime_dir=runtime_folder(),
        )

    @classmethod
    def demo(cls, root: Path) -> AppPaths:
        """The demo's: everything inside its throw-away home `root`, so nothing it does
        reaches the user's own files — but the user's runtime folder, since the demo is this
        user's one tray while it runs (a second start hands over to it)."""
        return cls(
            config_dir=root,
            data_dir=root,
            state_dir=root / "state",
            cache_dir=root / "cache",
            runtime_dir=runtime_folder(),
        )
