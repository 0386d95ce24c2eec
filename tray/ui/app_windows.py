"""The tray's windows, each built on first use and presented again through one
`WindowSlot`: Settings, API tokens, Presets (built anew for another LM Studio home), Load
profiles, History and Scenes.

Each window's module is imported by its builder, at first use: an idle tray that nobody
opened a window of does not hold their code (docs/benchmarks.md, idle memory). These
builders are the only imports of the app made inside functions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from tray.core.api import ModelInfo
from tray.core.tokens import TokenCheck
from tray.platform.hotkeys import HotkeyManager
from tray.services.environment import Environment
from tray.services.lmstudio_home import presets_dir
from tray.services.settings_store import SettingsService
from tray.services.token_vault import TokenVault
from tray.services.workspace import Workspace
from tray.ui.windows import WindowSlot

if TYPE_CHECKING:
    from tray.platform.autostart import Autostart
    from tray.ui.history_window import HistoryWindow
    from tray.ui.load_profiles_dialog import LoadProfilesDialog
    from tray.ui.preset_dialog import PresetDialog
    from tray.ui.scenes_window import ScenesWindow
    from tray.ui.settings_dialog import SettingsDialog
    from tray.ui.tokens_dialog import TokensDialog

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
        scene_names: Callable[[], list[str]],
        on_scenes_changed: Callable[[], None],
        demo: bool,
    ) -> None:
        self.settings: WindowSlot[SettingsDialog] = WindowSlot(
            lambda: _settings_dialog(
                settings, autostart(), self.open_tokens, hotkeys(), scene_names, demo
            )
        )
        self.tokens: WindowSlot[TokensDialog] = WindowSlot(
            lambda: _tokens_dialog(vault, settings, check_token, on_token_change, demo)
        )
        self.presets: WindowSlot[PresetDialog] = WindowSlot(
            lambda: _preset_dialog(workspace, env(), demo),
            key=lambda: presets_dir(env().home.path),
        )
        self.profiles: WindowSlot[LoadProfilesDialog] = WindowSlot(
            lambda: _profiles_dialog(workspace, list_models, demo)
        )
        self.history: WindowSlot[HistoryWindow] = WindowSlot(
            lambda: _history_window(workspace, settings, demo)
        )
        self.scenes: WindowSlot[ScenesWindow] = WindowSlot(
            lambda: _scenes_window(workspace, list_models, on_scenes_changed, demo)
        )

    async def settle_all(self) -> bool:
        """Before quitting: each open window with unsaved edits comes forward and asks
        Save · Discard · Cancel. False when the user cancelled (or a save failed)."""
        slots: tuple[WindowSlot[Any], ...] = (self.presets, self.profiles, self.scenes)
        for slot in slots:
            window = slot.window
            if window is None or not window.isVisible():
                continue
            window.raise_()
            window.activateWindow()
            if not await window.settle():
                return False
        return True

    def open_tokens(self, profile_id: str | None, reason: str | None = None) -> None:
        """The tokens window on `profile_id` (None: the active one), saying `reason`."""
        self.tokens.get().present(profile_id, reason)


# --- the builders: each window's module is imported here, when it is first opened ------


def _settings_dialog(
    settings: SettingsService,
    autostart: Autostart,
    open_tokens: Callable[[str | None], None],
    hotkeys: HotkeyManager | None,
    scene_names: Callable[[], list[str]],
    demo: bool,
) -> SettingsDialog:
    from tray.ui.settings_dialog import SettingsDialog

    return SettingsDialog(
        settings,
        autostart,
        demo=demo,
        open_tokens=open_tokens,
        hotkeys=hotkeys,
        scene_names=scene_names,
    )


def _tokens_dialog(
    vault: TokenVault,
    settings: SettingsService,
    check_token: Callable[[str, SecretStr], Awaitable[TokenCheck]],
    on_token_change: Callable[[], None],
    demo: bool,
) -> TokensDialog:
    from tray.ui.tokens_dialog import TokensDialog

    return TokensDialog(
        vault,
        settings,
        check=check_token,
        demo=demo,
        on_change=lambda _profile: on_token_change(),
    )


def _preset_dialog(workspace: Workspace, env: Environment, demo: bool) -> PresetDialog:
    from tray.ui.preset_dialog import PresetDialog

    return PresetDialog(workspace.presets(env), demo=demo)


def _profiles_dialog(
    workspace: Workspace,
    list_models: Callable[[], Awaitable[list[ModelInfo]]],
    demo: bool,
) -> LoadProfilesDialog:
    from tray.ui.load_profiles_dialog import LoadProfilesDialog

    return LoadProfilesDialog(workspace.load_profiles, list_models, demo=demo)


def _history_window(workspace: Workspace, settings: SettingsService, demo: bool) -> HistoryWindow:
    from tray.ui.history_window import HistoryWindow

    return HistoryWindow(workspace.history, settings=settings, demo=demo)


def _scenes_window(
    workspace: Workspace,
    list_models: Callable[[], Awaitable[list[ModelInfo]]],
    on_saved: Callable[[], None],
    demo: bool,
) -> ScenesWindow:
    from tray.ui.scenes_window import ScenesWindow

    return ScenesWindow(workspace.scenes, list_models, demo=demo, on_saved=on_saved)
