"""The installation's own key for the audit's secret hashes: 32 random bytes in the app's
private data folder (`audit-hash.key`, mode 0600, written atomically), made the first time
it is needed. With it, the short hash the audit shows for a secret is an HMAC-SHA256, so a
short password cannot be looked up from the audit's output; the same secret still shows the
same hash on this machine, run after run.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tray.core.errors import TrayError
from tray.services.files import atomic_write, read_bytes

__all__ = ["KEY_FILE_NAME", "audit_hash_key"]

log = logging.getLogger(__name__)

KEY_FILE_NAME = "audit-hash.key"
_KEY_BYTES = 32


def audit_hash_key(data_dir: Path) -> bytes | None:
    """The key in `data_dir`, created (0600, atomically) when missing or damaged; None when
    it can be neither read nor written — the audit then shows a plain SHA-256 and says so."""
    path = data_dir / KEY_FILE_NAME
    try:
        key = read_bytes(path, limit=1024)
        if len(key) == _KEY_BYTES:
            return key
        log.warning("%s is damaged (%d bytes); making a new key", path, len(key))
    except FileNotFoundError:
        pass
    except (OSError, TrayError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None
    key = os.urandom(_KEY_BYTES)
    try:
        atomic_write(path, key, mode=0o600)
    except (OSError, TrayError) as exc:
        log.warning("cannot keep the audit hash key: %s", exc)
        return None
    return key
