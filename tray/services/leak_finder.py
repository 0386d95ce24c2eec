"""Finds secrets left in plain files, and takes an LM Studio token out of one.

Where it looks: `<home>/mcp.json` (JSONC tolerated: comments, trailing commas, a BOM),
LM Studio's own JSON files (top level, `.internal/*.json`, `config-presets/*.json`; bounded
size, binary skipped; only well-known token shapes there, since random ids under `session`
keys are LM Studio's business, not credentials), and the env/rc files the user names
(`.env`, `.bashrc`, `.zshrc`, …; line-based).

What it changes (only LM Studio tokens, only in mcp.json-like JSON and env/rc files; never
LM Studio's own state): `remove_token_from_file` replaces exactly the token's characters and
nothing else, writes atomically, and records the file before and after in `FileHistory`
(which itself never stores a token). The caller stores the token in the vault FIRST, then
calls this — if the write fails the token is in both places, never in neither.

- JSON (mcp.json): the token becomes `${LM_API_TOKEN}`, kept inside its string
  (`"Bearer ${LM_API_TOKEN}"`). Consequence: the MCP server now gets the literal text
  unless its host expands environment references — whether LM Studio does is unverified
  (CHECKS.md §6), so the user is told to run the client with `LM_API_TOKEN` set or to
  paste the token with the tray's "Copy token" where the client needs it.
- env/rc files: the line is commented out, with the token replaced too (a commented line
  is still on disk), under a note naming `lmstudio-tray tokens env PROFILE --reveal`.
"""

from __future__ import annotations

import logging
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from tray.core.errors import ConfigError, FileParseError, FileWriteError
from tray.core.jsonc import JsoncError, parse_jsonc_positions
from tray.core.secrets_scan import (
    LMSTUDIO_TOKEN,
    Finding,
    SecretKind,
    digest_of,
    find_secrets_in_json,
    find_secrets_in_text,
)
from tray.services.files import atomic_write, read_bytes
from tray.services.history import FileHistory
from tray.services.lmstudio_home import mcp_file, presets_dir

__all__ = [
    "ENV_PLACEHOLDER",
    "Leak",
    "LeakReport",
    "find_leaks",
    "parse_jsonc",
    "remove_token_from_file",
    "token_of",
]

log = logging.getLogger(__name__)

ENV_PLACEHOLDER = "${LM_API_TOKEN}"
MAX_SCAN_BYTES = 2 * 1024 * 1024
_TOKEN_RE = re.compile(r"(?<![A-Za-z0-9_])" + LMSTUDIO_TOKEN + r"(?![A-Za-z0-9])")


class Leak(BaseModel):
    """A secret in a file: where, what kind, and whether we can move it. No value."""

    model_config = ConfigDict(frozen=True)

    path: Path
    line: int | None = None
    pointer: str | None = None
    kind: SecretKind
    length: int
    digest: str
    lmstudio: bool
    movable: bool = False
    where: str = ""

    def describe(self) -> str:
        loc = str(self.path)
        if self.line is not None:
            loc += f", line {self.line}"
        if self.pointer:
            loc += f", {self.pointer}"
        finding = Finding(
            kind=self.kind, source=loc, length=self.length, digest=self.digest, where=self.where
        )
        return finding.describe()


class LeakReport(BaseModel):
    leaks: list[Leak]
    problems: list[str]
    scanned: list[Path] = []


# --- JSONC ---------------------------------------------------------------------------


def parse_jsonc(text: str, *, path: Path) -> Any:
    """JSON with comments, trailing commas and a BOM, as VS Code and friends accept.

    The parsing is `tray.core.jsonc` (shared with the MCP audit); this adds the file."""
    try:
        return parse_jsonc_positions(text).value
    except JsoncError as exc:
        raise FileParseError(
            f"{path} is not valid JSON: {exc.message} at line {exc.line}, column {exc.column}.",
            path=path,
            line=exc.line,
            column=exc.column,
        ) from exc


# --- scanning ------------------------------------------------------------------------


def _read_scannable(path: Path, problems: list[str]) -> str | None:
    try:
        if path.stat().st_size > MAX_SCAN_BYTES:
            problems.append(f"Skipped {path}: larger than {MAX_SCAN_BYTES // 1024} KiB.")
            return None
        data = read_bytes(path, limit=MAX_SCAN_BYTES)
    except FileNotFoundError:
        return None
    except (OSError, ConfigError) as exc:
        problems.append(f"Could not read {path}: {exc}")
        return None
    if b"\x00" in data[:8192]:
        return None  # binary
    return data.decode("utf-8-sig", errors="replace")


def _leak(path: Path, f: Finding, *, movable_file: bool) -> Leak:
    return Leak(
        path=path,
        line=f.line,
        pointer=f.pointer,
        kind=f.kind,
        length=f.length,
        digest=f.digest,
        lmstudio=f.lmstudio,
        movable=f.lmstudio and movable_file,
        where=f.where,
    )


def _scan_json_file(
    path: Path, problems: list[str], *, key_heuristics: bool, movable: bool
) -> list[Leak] | None:
    text = _read_scannable(path, problems)
    if text is None:
        return None
    try:
        value = parse_jsonc(text, path=path)
    except FileParseError as exc:
        problems.append(str(exc))
        # still look for token shapes in the raw text: a broken file still holds them
        return [
            _leak(path, f, movable_file=movable)
            for f in find_secrets_in_text(text, source=str(path))
        ]
    found = find_secrets_in_json(
        value, source=str(path), text=text.removeprefix("\ufeff"), key_heuristics=key_heuristics
    )
    return [_leak(path, f, movable_file=movable) for f in found]


def _scan_text_file(path: Path, problems: list[str]) -> list[Leak] | None:
    text = _read_scannable(path, problems)
    if text is None:
        return None
    return [_leak(path, f, movable_file=True) for f in find_secrets_in_text(text, source=str(path))]


def _home_json_files(home: Path) -> list[Path]:
    files: list[Path] = []
    for folder in (home, home / ".internal", presets_dir(home)):
        try:
            files.extend(sorted(p for p in folder.glob("*.json") if p.is_file()))
        except OSError:
            continue
    return [p for p in files if p != mcp_file(home)]


def find_leaks(paths: Sequence[Path], *, home: Path | None) -> LeakReport:
    """Scan mcp.json and LM Studio's JSON files in `home`, and the files in `paths`."""
    leaks: list[Leak] = []
    problems: list[str] = []
    scanned: list[Path] = []

    def add(path: Path, found: list[Leak] | None) -> None:
        if found is not None:
            scanned.append(path)
            leaks.extend(found)

    if home is not None:
        mcp = mcp_file(home)
        add(mcp, _scan_json_file(mcp, problems, key_heuristics=True, movable=True))
        for path in _home_json_files(home):
            add(path, _scan_json_file(path, problems, key_heuristics=False, movable=False))
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            problems.append(f"{path} does not exist.")
            continue
        if path.is_dir():
            problems.append(f"{path} is a folder; name the files to scan.")
            continue
        if path.suffix.lower() in {".json", ".jsonc"}:
            add(path, _scan_json_file(path, problems, key_heuristics=True, movable=True))
        else:
            add(path, _scan_text_file(path, problems))
    log.info("leak scan: %d file(s), %d finding(s)", len(scanned), len(leaks))
    return LeakReport(leaks=leaks, problems=problems, scanned=scanned)


# --- removing ------------------------------------------------------------------------


def token_of(leak: Leak) -> SecretStr:
    """The LM Studio token a leak describes, read again from its file (a `Leak` never holds
    it), to be stored in the keyring before `remove_token_from_file` takes it out."""
    try:
        text = read_bytes(leak.path).decode("utf-8-sig", errors="surrogateescape")
    except FileNotFoundError:
        raise ConfigError(f"{leak.path} no longer exists; scan again.", path=leak.path) from None
    spans = _matching_spans(text, leak.digest)
    if not leak.lmstudio or not spans:
        raise ConfigError(f"{leak.path} no longer holds that token; scan again.", path=leak.path)
    start, end = spans[0]
    return SecretStr(text[start:end])


def _matching_spans(text: str, digest: str) -> list[tuple[int, int]]:
    return [m.span() for m in _TOKEN_RE.finditer(text) if digest_of(m.group(0)) == digest]


def _env_note(profile_id: str, digest: str) -> str:
    return (
        f"# LM Studio Tray moved the LM Studio API token (sha256 {digest}) from the next "
        f'line to the OS keyring.\n# To set it in a shell: export "$(lmstudio-tray tokens env '
        f'{profile_id} --reveal)"\n'
    )


def _remove_from_lines(
    text: str, spans: list[tuple[int, int]], profile_id: str, digest: str
) -> str:
    starts = sorted({text.rfind("\n", 0, s) + 1 for s, _ in spans})
    result = text
    for line_start in reversed(starts):
        end = result.find("\n", line_start)
        end = len(result) if end < 0 else end
        line = result[line_start:end]
        line = _TOKEN_RE.sub(
            lambda m: "<moved to keyring>" if digest_of(m.group(0)) == digest else m.group(0),
            line,
        )
        indent = line[: len(line) - len(line.lstrip())]
        body = line.lstrip()
        commented = body if body.startswith("#") else f"# {body}"
        note = "".join(indent + n + "\n" for n in _env_note(profile_id, digest).splitlines())
        result = result[:line_start] + note + indent + commented + result[end:]
    return result


def remove_token_from_file(
    leak: Leak,
    *,
    history: FileHistory,
    profile_id: str,
    placeholder: str = ENV_PLACEHOLDER,
) -> None:
    """Take the LM Studio token described by `leak` out of its file.

    Replaces exactly that token (every occurrence of it in the file, matched by digest) and
    nothing else: JSON files keep every other byte, comments included; env/rc files get the
    line commented out under a note. Writes atomically (`FileWriteError` leaves the file
    intact) and records the file before and after in `history`."""
    if not leak.lmstudio:
        raise ConfigError(
            f"Only LM Studio tokens can be moved to the keyring; rotate the {leak.kind} "
            f"secret in {leak.path} with its provider and remove it by hand.",
            path=leak.path,
        )
    if not leak.movable:
        raise ConfigError(
            f"{leak.path} belongs to LM Studio; the tray does not edit it. Remove the token "
            "in LM Studio's settings.",
            path=leak.path,
        )
    path = leak.path
    try:
        if not path.stat().st_mode & stat.S_IWUSR:
            # atomic_write renames over the file and would ignore a read-only mode; a user
            # (or MCP lockdown) who made the file read-only meant it
            raise FileWriteError(
                f"Could not save {path}: the file is read-only. Make it writable and try "
                "again; the file is unchanged.",
                path=path,
            )
        data = read_bytes(path)
    except FileNotFoundError:
        raise ConfigError(f"{path} no longer exists; scan again.", path=path) from None
    bom = data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig", errors="surrogateescape")
    spans = _matching_spans(text, leak.digest)
    if not spans:
        raise ConfigError(
            f"The token is no longer in {path} (the file changed since the scan); scan again.",
            path=path,
        )
    if path.suffix.lower() in {".json", ".jsonc"}:
        new = text
        for start, end in reversed(spans):
            new = new[:start] + placeholder + new[end:]
    else:
        new = _remove_from_lines(text, spans, profile_id, leak.digest)
    out = (b"\xef\xbb\xbf" if bom else b"") + new.encode("utf-8", errors="surrogateescape")
    history.record(path, f"Before moving an LM Studio token out of {path.name}", label="before")
    try:
        atomic_write(path, out)
    except FileWriteError:
        log.warning("could not rewrite %s; the token is still in it", path)
        raise
    history.record(
        path,
        f"Moved the LM Studio token (sha256 {leak.digest}) out of {path.name} into the keyring",
        label="after",
    )
