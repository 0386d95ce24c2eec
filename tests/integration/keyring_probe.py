"""The real Secret Service for `keyring`-marked tests: skip outside the desktop session,
fail inside it (LMSTRAY_DESKTOP=1), where one must answer."""

from __future__ import annotations

import os

import pytest
from keyring.backend import KeyringBackend

__all__ = ["secret_service"]


def secret_service() -> KeyringBackend:
    from keyring.backends.SecretService import Keyring

    try:
        Keyring.priority  # noqa: B018 — raises when no Secret Service answers
        backend = Keyring()
        backend.get_password("ai.lmstudio-tray.probe", "probe")
    except Exception as exc:
        if os.environ.get("LMSTRAY_DESKTOP") == "1":
            pytest.fail(f"no Secret Service inside the desktop session: {exc!r}")
        pytest.skip(f"no Secret Service answers (run inside desktop-session.sh): {exc!r}")
    return backend
