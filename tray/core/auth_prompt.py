"""When to ask the user for a token: once per need, never as an error storm.

Polling sees a 401 every few seconds while a token is missing or wrong; the tokens dialog
must open once for that, and again only after something changed (another profile, a new
token, the server accepting us in between).
"""

from __future__ import annotations

from tray.core.status import ServerState, ServerStatus

__all__ = ["AuthPromptGate"]


class AuthPromptGate:
    def __init__(self) -> None:
        self._asked_for: str | None = None  # the server URL we asked about

    def should_prompt(self, status: ServerStatus) -> bool:
        """True the first time `status` says the server wants a (different) token."""
        if status.state is not ServerState.AUTH_REQUIRED:
            if status.state.is_up:
                self._asked_for = None  # accepted (or auth off): ask again next time
            return False
        if self._asked_for == status.url:
            return False
        self._asked_for = status.url
        return True

    def token_changed(self) -> None:
        """The user saved or removed a token: a new refusal deserves a new question."""
        self._asked_for = None
