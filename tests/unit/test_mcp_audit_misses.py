"""Issue 17, "misses to catch" and the keyed hash: secrets in JSONC comments, entries that
are not server objects, an empty file; each test can fail on the old behaviour."""

from __future__ import annotations

import hashlib
import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from tray.core.mcp_audit import (
    AuditReport,
    ExposureFacts,
    FileFacts,
    Finding,
    Severity,
    audit,
    exit_code,
    render_text,
)
from tray.core.mcp_config import McpParseError, parse_mcp
from tray.core.secrets_scan import digest_of
from tray.services.audit_key import KEY_FILE_NAME, audit_hash_key
from tray.services.known_packages import load_known_packages

SAFE = FileFacts(path="mcp.json", mode=0o600, owner_is_user=True, dir_mode=0o700, size=1)
LOCAL = ExposureFacts(network_interface="127.0.0.1", auth_required=True)
KEY = bytes(range(32))
GHP = "ghp_Q7wLm2Rk9Xz4Tn8Vb3Hc6Jd1Fs5Gp0Ya2Ke7"
GENERIC = "a8Kq2Lm9Zx3Rt7Vn4Bc6Wd1Pf5Gh0Js"


def _audit_text(text: str, key: bytes | None = KEY) -> AuditReport:
    try:
        doc, err = parse_mcp(text), None
    except McpParseError as exc:
        doc, err = None, exc
    return audit(
        doc,
        SAFE,
        LOCAL,
        lmstudio_home="/h/.lmstudio",
        parse_error=err,
        known=load_known_packages(),
        hash_key=key,
    )


def _audit(servers: Any, key: bytes | None = KEY) -> AuditReport:
    return _audit_text(json.dumps({"mcpServers": servers}, indent=2), key)


def _of(report: AuditReport, id_: str) -> list[Finding]:
    return [f for f in report.findings if f.id == id_]


def _all_output(report: AuditReport) -> str:
    return render_text(report) + report.model_dump_json()


# --- secrets in JSONC comments ----------------------------------------------------------

COMMENTED = f"""{{
  // the old token, kept for later: {GHP}
  "mcpServers": {{
    "github": {{
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"]
      /* before the move to env:
         GITHUB_API_KEY={GENERIC}
      */
    }}
  }}
}}
"""


def test_secrets_in_line_and_block_comments_are_found_at_their_line() -> None:
    report = _audit_text(COMMENTED)
    s1 = _of(report, "S1")
    s2 = _of(report, "S2")
    assert [(f.line, f.severity) for f in s1] == [(2, Severity.CRITICAL)]
    assert "GitHub token" in s1[0].message and "comment" in s1[0].message
    assert [(f.line, f.severity) for f in s2] == [(8, Severity.HIGH)]
    out = _all_output(report)
    assert GHP not in out and GHP[4:20] not in out
    assert GENERIC not in out and GENERIC[4:20] not in out


def test_plain_comments_are_not_secrets() -> None:
    text = (
        '{\n  // 本番では @latest を固定 (e.g. @microsoft/fabric-mcp@0.x.x)\n  "mcpServers": {}\n}'
    )
    report = _audit_text(text)
    assert not _of(report, "S1") and not _of(report, "S2")


# --- entries that are not objects -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "what"), [("npx foo", "a string"), (None, "null"), (3, "a number")]
)
def test_entries_that_are_not_objects_are_findings(value: object, what: str) -> None:
    report = _audit({"a": value, "ok": {"command": "node", "args": ["s.js"]}})
    f2 = [f for f in _of(report, "F2") if f.pointer == "/mcpServers/a"]
    assert [f.severity for f in f2] == [Severity.MEDIUM]
    assert what in f2[0].message and f2[0].line == 3


@pytest.mark.parametrize("servers", ['"npx foo"', "42", "null", "true"])
def test_a_servers_value_of_the_wrong_type_is_a_finding(servers: str) -> None:
    report = _audit_text('{"mcpServers": ' + servers + "}")
    f2 = [f for f in _of(report, "F2") if f.pointer == "/mcpServers"]
    assert [f.severity for f in f2] == [Severity.MEDIUM]
    assert "server list" in f2[0].message


def test_a_list_item_that_is_not_an_object_is_a_finding() -> None:
    report = _audit_text('{"servers": [{"name": "a", "command": "node"}, "b"]}')
    assert [f.pointer for f in _of(report, "F2") if "not an object" in f.message] == ["/servers/1"]


# --- an empty file ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \n", "\ufeff"])
def test_an_empty_or_blank_file_is_a_parse_error(text: str) -> None:
    report = _audit_text(text)
    assert report.errors and "empty" in report.errors[0]
    assert (report.error_line, report.error_column) == (1, 1)
    assert exit_code(report, Severity.CRITICAL) == 2
    assert [f.severity for f in _of(report, "F1")] == [Severity.MEDIUM]


def test_an_empty_object_is_still_fine() -> None:
    report = _audit_text("{}")
    assert not report.errors and exit_code(report, Severity.LOW) == 0


# --- the keyed hash ---------------------------------------------------------------------


def test_the_short_hash_is_an_hmac_under_the_installation_key() -> None:
    report = _audit({"gh": {"command": "node", "env": {"GITHUB_TOKEN": GHP}}})
    (s1,) = _of(report, "S1")
    shown = re.search(r"hmac ([0-9a-f]{8})\b", s1.message)
    assert shown is not None
    plain = hashlib.sha256(GHP.encode()).hexdigest()[:8]
    assert shown.group(1) == digest_of(GHP, KEY) != plain
    assert plain not in _all_output(report)
    # another installation (another key) shows another hash for the same secret
    other = _of(_audit({"gh": {"command": "node", "env": {"GITHUB_TOKEN": GHP}}}, b"x" * 32), "S1")
    assert digest_of(GHP, b"x" * 32) in other[0].message and shown.group(1) not in other[0].message


def test_without_a_key_the_hash_says_it_is_plain_sha256() -> None:
    (s1,) = _of(_audit({"gh": {"command": "node", "env": {"GITHUB_TOKEN": GHP}}}, None), "S1")
    assert f"sha256 {hashlib.sha256(GHP.encode()).hexdigest()[:8]}" in s1.message


def test_the_key_file_is_private_made_once_and_kept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = audit_hash_key(data)
    assert key is not None and len(key) == 32
    path = data / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert audit_hash_key(data) == key  # the same on the next run
    path.write_bytes(b"short")  # damaged: replaced by a new key
    fresh = audit_hash_key(data)
    assert fresh is not None and fresh != key and len(path.read_bytes()) == 32


def test_no_key_when_the_folder_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert audit_hash_key(blocker / "data") is None
