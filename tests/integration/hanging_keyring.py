"""A keyring backend that never answers, like a Secret Service waiting on an unlock prompt
nobody sees. The real executable is given it with
`PYTHON_KEYRING_BACKEND=hanging_keyring.NeverAnswers` and this folder on PYTHONPATH
(`hanging_keyring_env`). Every call is first noted in the file `$HANGING_KEYRING_LOG`, so a
test can tell whether the keyring was asked at all."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from keyring.backend import KeyringBackend

__all__ = ["NeverAnswers", "hanging_keyring_env"]

HERE = Path(__file__).resolve().parent


def _note(what: str) -> None:
    log = os.environ.get("HANGING_KEYRING_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(what + "\n")


class NeverAnswers(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        _note(f"get {username}")
        threading.Event().wait()
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        _note(f"set {username}")
        threading.Event().wait()

    def delete_password(self, service: str, username: str) -> None:
        _note(f"delete {username}")
        threading.Event().wait()


def hanging_keyring_env(log: Path) -> dict[str, str]:
    """The environment variables that choose this backend and note its calls in `log`
    (this folder goes before the PYTHONPATH the tests run with)."""
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    return {
        "PYTHON_KEYRING_BACKEND": "hanging_keyring.NeverAnswers",
        "PYTHONPATH": path,
        "HANGING_KEYRING_LOG": str(log),
    }
