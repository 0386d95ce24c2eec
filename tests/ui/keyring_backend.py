"""The real Secret Service for UI tests marked `keyring`: inside the desktop session it must
answer (a failure), elsewhere the test skips and says why."""

from __future__ import annotations

import os

import keyring.backend
import pytest

IN_DESKTOP_SESSION = os.environ.get("LMSTRAY_DESKTOP") == "1"


def secret_service() -> keyring.backend.KeyringBackend:
    try:
        from keyring.backends.SecretService import Keyring

        backend = Keyring()
        backend.priority  # noqa: B018  raises when no Secret Service is reachable
        backend.get_password("lmstudio-tray-test", "probe")  # unlocked and answering
    except Exception as exc:
        problem = f"no Secret Service answers ({type(exc).__name__}: {exc})"
        if IN_DESKTOP_SESSION:
            pytest.fail(f"the desktop session is broken: {problem}")
        pytest.skip(f"{problem}; run through installers/desktop-session.sh")
    return backend
