"""The pure lockdown rules: the locked document in every dialect, what lockdown says it will
do, drift, the server diff, the menu's status line and the re-lock rate limit."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from tray.core.mcp_config import McpDialect, parse_mcp
from tray.core.mcp_lockdown import (
    RELOCK_LIMIT,
    Drift,
    DriftEvent,
    LockRecord,
    LockStatus,
    ServerDiff,
    ago,
    decide_drift,
    describe_lockdown,
    diff_servers,
    locked_bytes,
    locked_document,
    recent_relocks,
    relock_allowed,
    status_line,
    unknown_allowed,
)

TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"
PAT = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

CURSOR = {
    "mcpServers": {
        "github": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": PAT},
            "autoApprove": ["create_repository"],
        },
        "fetch": {"command": "uvx", "args": ["mcp-server-fetch==2025.4.7"]},
    }
}
VSCODE = """// VS Code user mcp.json
{
  "inputs": [
    {"type": "promptString", "id": "gh", "password": true},
    {"type": "promptString", "id": "other"},
  ],
  "servers": {
    "github": {"type": "stdio", "command": "npx", "args": ["-y", "gh-mcp@1.2.3"],
               "env": {"GITHUB_TOKEN": "${input:gh}"}},
    "web": {"type": "http", "url": "https://example.com/mcp"},
  },
}
"""


def test_deny_all_is_lm_studio_notation() -> None:
    assert locked_document(parse_mcp(json.dumps(CURSOR))) == {"mcpServers": {}}
    assert locked_bytes(parse_mcp(json.dumps(CURSOR))) == b'{\n  "mcpServers": {}\n}\n'


@pytest.mark.parametrize("raw", [b"", b"{}", b"\xef\xbb\xbf{}", b"  \n"])
def test_an_empty_file_becomes_an_empty_server_list(raw: bytes) -> None:
    assert locked_document(parse_mcp(raw)) == {"mcpServers": {}}


def test_an_unparsable_file_becomes_lm_studio_notation() -> None:
    assert locked_document(None) == {"mcpServers": {}}
    assert locked_document(None, ["anything"]) == {"mcpServers": {}}


def test_allow_list_keeps_exactly_those_servers_sanitized() -> None:
    doc = parse_mcp(json.dumps(CURSOR))
    locked = locked_document(doc, ["github"])
    assert list(locked["mcpServers"]) == ["github"]
    github = locked["mcpServers"]["github"]
    assert github["command"] == "npx"
    assert "autoApprove" not in github
    assert PAT not in locked_bytes(doc, ["github"]).decode()


def test_vscode_stays_vscode_and_keeps_only_inputs_in_use() -> None:
    doc = parse_mcp(VSCODE)
    assert doc.dialect is McpDialect.VSCODE
    assert locked_document(doc) == {"servers": {}}
    locked = locked_document(doc, ["github"])
    assert list(locked["servers"]) == ["github"]
    assert locked["inputs"] == [{"type": "promptString", "id": "gh", "password": True}]
    assert "inputs" not in locked_document(doc, ["web"])


def test_a_settings_file_keeps_its_other_settings() -> None:
    doc = parse_mcp(
        json.dumps({"editor.fontSize": 14, "mcp": {"servers": {"a": {"command": "x"}}}})
    )
    assert doc.dialect is McpDialect.SETTINGS
    assert locked_document(doc) == {"editor.fontSize": 14, "mcp": {"servers": {}}}
    flat = parse_mcp(json.dumps({"mcp.servers": {"a": {"command": "x"}}, "x": 1}))
    assert locked_document(flat) == {"mcp.servers": {}, "x": 1}


def test_an_array_of_servers_keeps_names() -> None:
    doc = parse_mcp(json.dumps([{"name": "a", "command": "x"}, {"name": "b", "command": "y"}]))
    assert locked_document(doc) == []
    assert locked_document(doc, ["b"]) == [{"name": "b", "command": "y"}]


def test_the_locked_bytes_never_carry_a_bom() -> None:
    doc = parse_mcp(b"\xef\xbb\xbf" + json.dumps(CURSOR).encode())
    assert doc.had_bom
    assert not locked_bytes(doc).startswith(b"\xef\xbb\xbf")


def test_unknown_allowed_names() -> None:
    doc = parse_mcp(json.dumps(CURSOR))
    assert unknown_allowed(doc, ["fetch", "fecth"]) == ["fecth"]
    assert unknown_allowed(None, ["x"]) == ["x"]


def test_describe_deny_all() -> None:
    text = " ".join(describe_lockdown(parse_mcp(json.dumps(CURSOR))))
    assert "All 2 servers are removed (github, fetch)" in text
    assert "history" in text and "restore" in text
    assert "does not stop a program that runs as you" in text
    assert "Allow per-request MCPs" in text
    assert PAT not in text


def test_describe_allow_list_comments_token_and_typos() -> None:
    with_token = dict(CURSOR)
    with_token["mcpServers"] = {
        **CURSOR["mcpServers"],
        "lms": {"url": "http://127.0.0.1:1234/mcp", "headers": {"Authorization": TOKEN}},
    }
    sentences = describe_lockdown(parse_mcp(json.dumps(with_token)), ["fetch", "nope"])
    text = " ".join(sentences)
    assert "Kept: fetch" in text and "Removed: github, lms." in text
    assert "Not in the file, so nothing to keep: nope." in text
    assert "LM Studio API token" in text and "--move-to" in text
    assert TOKEN not in text
    commented = " ".join(describe_lockdown(parse_mcp(VSCODE)))
    assert "Comments are not kept" in commented


def test_describe_an_unparsable_file_says_it_needs_consent() -> None:
    text = " ".join(describe_lockdown(None, parse_error="line 3, column 7: expected ','"))
    assert "cannot be parsed (line 3, column 7" in text and "you agreed" in text
    assert "empty server list" in text


def record(data: bytes) -> LockRecord:
    return LockRecord(
        file="/home/u/.lmstudio/mcp.json",
        locked_at=NOW,
        before_commit="a" * 40,
        after_commit="b" * 40,
        sha256=hashlib.sha256(data).hexdigest(),
        mode_before=0o644,
    )


def test_drift_decision() -> None:
    locked = b'{\n  "mcpServers": {}\n}\n'
    r = record(locked)
    assert decide_drift(r, locked) is Drift.NONE
    assert decide_drift(r, locked + b" ") is Drift.CHANGED
    assert decide_drift(r, None) is Drift.DELETED


def test_the_record_survives_json() -> None:
    r = record(b"x")
    assert LockRecord.model_validate_json(r.model_dump_json()) == r


def test_diff_names_servers_never_values() -> None:
    before = parse_mcp(json.dumps(CURSOR))
    after_doc = json.loads(json.dumps(CURSOR))
    del after_doc["mcpServers"]["fetch"]
    after_doc["mcpServers"]["github"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"] = "other-" + PAT
    after_doc["mcpServers"]["evil"] = {"command": "bash", "args": ["-c", "x"]}
    diff = diff_servers(before, parse_mcp(json.dumps(after_doc)))
    assert diff == ServerDiff(added=["evil"], removed=["fetch"], changed=["github"])
    summary = diff.summary()
    assert summary == "Added: evil. Removed: fetch. Changed: github."
    assert PAT not in summary


def test_diff_summaries_for_deleted_unparsable_and_cosmetic() -> None:
    assert diff_servers(None, None, deleted=True).summary() == "mcp.json was deleted."
    bad = diff_servers(None, None, unparsable="line 1, column 2")
    assert bad.summary().startswith("mcp.json is no longer valid (line 1, column 2).")
    same = diff_servers(parse_mcp(json.dumps(CURSOR)), parse_mcp(json.dumps(CURSOR, indent=4)))
    assert same.empty and "same" in same.summary()
    many = ServerDiff(added=[f"s{i}" for i in range(9)])
    assert many.summary() == "Added: s0, s1, s2, s3, s4, s5 and 3 more."


def test_drift_event_texts() -> None:
    diff = ServerDiff(added=["x"])
    base = {"file": "f", "drift": Drift.CHANGED, "diff": diff, "at": NOW, "recorded_commit": None}
    relocked = DriftEvent(**base, relocked=True)
    assert relocked.title() == "mcp.json changed while locked"
    assert "locked it again" in relocked.text()
    failed = DriftEvent(**base, relock_error="permission denied")
    assert "Re-locking failed: permission denied" in failed.text()
    plain = DriftEvent(**base)
    assert "Lock down now" in plain.text()
    unlocked = DriftEvent(**base, locked=False)
    assert unlocked.title() == "mcp.json changed" and "Audit" in unlocked.text()


def status(**kw: object) -> LockStatus:
    base: dict[str, object] = {"file": "f", "exists": True, "server_count": 3, "locked": False}
    base.update(kw)
    return LockStatus.model_validate(base)


def test_status_lines() -> None:
    assert status_line(status(), NOW) == "3 servers · not locked"
    assert status_line(status(server_count=1), NOW) == "1 server · not locked"
    assert status_line(status(server_count=None), NOW) == "mcp.json unreadable · not locked"
    assert status_line(status(exists=False, server_count=None), NOW) == "No mcp.json · not locked"
    locked = status(locked=True, locked_at=NOW - timedelta(hours=2), read_only=True)
    assert status_line(locked, NOW) == "Locked 2 h ago"
    writable = status(locked=True, locked_at=NOW, read_only=False)
    assert status_line(writable, NOW) == "Locked just now · file writable again"
    drifted = status(locked=True, locked_at=NOW, drift=Drift.CHANGED)
    assert status_line(drifted, NOW) == "Changed since lockdown!"
    assert status_line(status(locked=True, locked_at=NOW, drift=Drift.DELETED), NOW) == (
        "Changed since lockdown!"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "just now"),
        (60, "1 min ago"),
        (3599, "59 min ago"),
        (7200, "2 h ago"),
        (3 * 86400, "3 d ago"),
        (-5, "just now"),
    ],
)
def test_ago(seconds: int, text: str) -> None:
    assert ago(timedelta(seconds=seconds)) == text


def test_relock_rate_limit() -> None:
    recent: list[datetime] = []
    for i in range(RELOCK_LIMIT):
        assert relock_allowed(recent, NOW + timedelta(seconds=i))
        recent = recent_relocks(recent, NOW + timedelta(seconds=i))
    assert not relock_allowed(recent, NOW + timedelta(seconds=RELOCK_LIMIT))
    # after the window the limit lifts, and the kept list stays short
    later = NOW + timedelta(minutes=11)
    assert relock_allowed(recent, later)
    assert recent_relocks(recent, later) == [later]
