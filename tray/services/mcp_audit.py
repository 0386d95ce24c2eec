"""Audit an `mcp.json` on disk: read it, stat it, read LM Studio's server settings, and hand
everything to the pure checks in `tray.core.mcp_audit`.

What is read: the file's bytes (`files.read_bytes`), its real `lstat`/`stat` (mode bits,
owner vs the current user, symlink) and its folder's mode, and
`<home>/.internal/http-server-config.json` for the network interface LM Studio serves on
(FORMATS.md §2.6). Whether the server requires authentication is not stored in any known file,
so the caller passes what it learned from the server (`server_auth`), or None.

On Windows, POSIX mode bits say little (only the read-only attribute) and ACLs are not read:
the file-permission check (F3) is skipped there and the report says so.

Never raises for a bad file — a parse error, a missing file or an unreadable settings file
are carried in the report; `ConfigError` only when the file exists but cannot be read at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys
from pathlib import Path

from tray.core.errors import ConfigError
from tray.core.mcp_audit import AuditReport, ExposureFacts, FileFacts, audit
from tray.core.mcp_config import McpDocument, McpParseError, parse_mcp
from tray.services.audit_key import audit_hash_key
from tray.services.files import read_bytes
from tray.services.known_packages import load_known_packages
from tray.services.lmstudio_home import mcp_file, server_config_path

__all__ = ["audit_file", "exposure_facts", "file_facts"]

log = logging.getLogger(__name__)

_MAX_MCP_BYTES = 4 * 1024 * 1024
_IS_WINDOWS = sys.platform == "win32"


def file_facts(path: Path) -> FileFacts:
    """Mode, owner, symlink and folder mode of `path` (None where the OS cannot say)."""
    try:
        link = path.lstat()
    except FileNotFoundError:
        return FileFacts(path=str(path), exists=False, is_symlink=False)
    except OSError as exc:
        raise ConfigError(f"Could not look at {path}: {exc.strerror or exc}.", path=path) from exc
    is_symlink = stat.S_ISLNK(link.st_mode)
    try:
        st = path.stat()
    except FileNotFoundError:
        # a dangling symlink: the link exists, the file it names does not
        return FileFacts(path=str(path), exists=False, is_symlink=is_symlink)
    except OSError as exc:
        raise ConfigError(f"Could not look at {path}: {exc.strerror or exc}.", path=path) from exc
    dir_mode: int | None = None
    try:
        dir_mode = stat.S_IMODE(path.parent.stat().st_mode)
    except OSError:
        dir_mode = None
    owner: bool | None = None
    getuid = getattr(os, "getuid", None)
    if getuid is not None and not _IS_WINDOWS:
        owner = st.st_uid == getuid()
    return FileFacts(
        path=str(path),
        mode=None if _IS_WINDOWS else stat.S_IMODE(st.st_mode),
        owner_is_user=owner,
        is_symlink=is_symlink,
        dir_mode=None if _IS_WINDOWS else dir_mode,
        exists=True,
        size=st.st_size,
    )


def _other_mcp_files(path: Path, lmstudio_home: Path | None) -> tuple[str, ...]:
    """mcp.json files LM Studio may read besides `path`: `<home>/mcp.json` and the legacy
    macOS home's (`~/.cache/lm-studio/mcp.json`, FORMATS.md §2.2)."""
    candidates = [Path.home() / ".cache" / "lm-studio" / "mcp.json"]
    if lmstudio_home is not None:
        candidates.append(mcp_file(lmstudio_home))
    try:
        here = path.resolve()
    except OSError:
        here = path
    out: list[str] = []
    for c in candidates:
        try:
            if c.is_file() and c.resolve() != here:
                out.append(str(c))
        except OSError:
            continue
    return tuple(dict.fromkeys(out))


def exposure_facts(
    lmstudio_home: Path | None, server_auth: bool | None, *, path: Path | None = None
) -> ExposureFacts:
    """The network interface from `<home>/.internal/http-server-config.json` (None when the
    file or the key is missing or unreadable) and the auth state the caller knows."""
    interface: str | None = None
    if lmstudio_home is not None:
        cfg = server_config_path(lmstudio_home)
        try:
            value = json.loads(read_bytes(cfg, limit=256 * 1024).decode("utf-8-sig"))
            raw = value.get("networkInterface") if isinstance(value, dict) else None
            interface = raw if isinstance(raw, str) and raw else None
        except FileNotFoundError:
            interface = None
        except (OSError, ConfigError, ValueError) as exc:
            log.info("could not read %s: %s", cfg, exc)
            interface = None
    others = _other_mcp_files(path, lmstudio_home) if path is not None else ()
    return ExposureFacts(
        network_interface=interface, auth_required=server_auth, other_mcp_files=others
    )


def _audit_sync(
    path: Path, lmstudio_home: Path | None, server_auth: bool | None, data_dir: Path | None
) -> tuple[AuditReport, McpDocument | None]:
    facts = file_facts(path)
    exposure = exposure_facts(lmstudio_home, server_auth, path=path)
    home = str(lmstudio_home) if lmstudio_home is not None else None
    known = load_known_packages()
    key = audit_hash_key(data_dir) if data_dir is not None else None
    if not facts.exists:
        return audit(None, facts, exposure, lmstudio_home=home), None
    try:
        data = read_bytes(path, limit=_MAX_MCP_BYTES)
    except FileNotFoundError:
        facts = facts.model_copy(update={"exists": False})
        return audit(None, facts, exposure, lmstudio_home=home), None
    try:
        doc = parse_mcp(data)
    except McpParseError as exc:
        exc.path = path
        log.info("mcp.json does not parse: line %s, column %s", exc.line, exc.column)
        report = audit(None, facts, exposure, lmstudio_home=home, parse_error=exc)
        return report, None
    report = audit(doc, facts, exposure, lmstudio_home=home, known=known, hash_key=key)
    log.info(
        "audited %s: %d server(s), %d finding(s)", path, len(doc.servers), len(report.findings)
    )
    return report, (None if report.errors else doc)  # an empty file is a parse error too


async def audit_file(
    path: Path,
    *,
    lmstudio_home: Path | None,
    server_auth: bool | None,
    data_dir: Path | None = None,
) -> tuple[AuditReport, McpDocument | None]:
    """Audit `path`; the document is None when the file is missing or does not parse.
    `data_dir` is the app's private data folder, where the key for secrets' short hashes
    lives (`tray.services.audit_key`); without it the hashes are plain SHA-256."""
    return await asyncio.to_thread(_audit_sync, path, lmstudio_home, server_auth, data_dir)
