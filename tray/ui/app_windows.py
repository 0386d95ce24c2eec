"""The tray's windows, each built on first use and presented again through one
`WindowSlot`: Settings, API tokens, Presets (built anew for another LM Studio home), Load
profiles and History."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import SecretStr

from tray.core.api import ModelInfo
from tray.core.tokens import TokenCheck
from tray.platform.autostart import Autostart
from tray.platform.hotkeys import HotkeyManager
from tray.services.environment import Environment
from tray.services.lmstudio_home import presets_dir
from tray.services.settings_store import SettingsService
from tray.services.token_vault import TokenVault
from tray.services.workspace import Workspace
from tray.ui.history_window import HistoryWindow
from tray.ui.load_profiles_dialog import LoadProfilesDialog
from tray.ui.preset_dialog import PresetDialog
from tray.ui.settings_dialog import SettingsDialog
from tray.ui.tokens_dialog import TokensDialog
from tray.ui.windows import WindowSlot

__all__ = ["AppWindows"]


class AppWindows:
    """`env()` is the environment the tray watches now; `hotkeys()` the hotkey manager once
    it runs; `check_token(profile, token)` asks that profile's server; `on_token_change`
    runs after a token was saved or removed."""

    def __init__(
        self,
        *,
        settings: SettingsService,
        vault: TokenVault,
        workspace: Workspace,
        env: Callable[[], Environment],
        autostart: Callable[[], Autostart],
        hotkeys: Callable[[], HotkeyManager | None],
        list_models: Callable[[], Awaitable[list[ModelInfo]]],
        check_token: Callable[[str, SecretStr], Awaitable[TokenCheck]],
        on_token_change: Callable[[], None],
        demo: bool,
    ) -> None:
        self.settings = WindowSlot(
            lambda: SettingsDialog(
                settings, autostart(), demo=demo, open_tokens=self.open_tokens, hotkeys=hotkeys()
            )
        )
        self.tokens = WindowSlot(
            lambda: TokensDialog(
                vault,
                settings,
                check=check_token,
                demo=demo,
                on_change=lambda _profile: on_token_change(),
            )
        )
        self.presets = WindowSlot(
            lambda: PresetDialog(workspace.presets(env()), demo=demo),
            key=lambda: presets_dir(env().home.path),
        )
        self.profiles = WindowSlot(
            lambda: LoadProfilesDialog(workspace.load_profiles, list_models, demo=demo)
        )
        self.history = WindowSlot(
            lambda: HistoryWindow(workspace.history, settings=settings, demo=demo)
        )

    def open_tokens(self, profile_id: str | None, reason: str | None = None) -> None:
        """The tokens window on `profile_id` (None: the active one), saying `reason`."""
        self.tokens.get().present(profile_id, reason)
