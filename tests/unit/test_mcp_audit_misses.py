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


# --- secrets and secret references in a process's arguments ------------------------------


@pytest.mark.parametrize(
    ("args", "index"),
    [
        (["run", "-i", "--rm", "-e", "API_KEY=${API_KEY}", "img:1.0"], 4),
        (
            [
                "-y",
                "mcp-remote@0.1.29",
                "https://mcp.acme.io/mcp",
                "--header",
                "Authorization: Bearer ${TOKEN}",
            ],
            4,
        ),
        (["-y", "some-mcp@1.0.0", "--api-key", "${env:KEY}"], 3),
        (["-y", "some-mcp@1.0.0", "--token=${input:tok}"], 2),
    ],
)
def test_secret_references_in_arguments_are_medium(args: list[str], index: int) -> None:
    command = "docker" if args[0] == "run" else "npx"
    report = _audit({"s": {"command": command, "args": args}})
    s3 = [f for f in _of(report, "S3") if "secret reference" in f.message]
    assert [(f.severity, f.pointer) for f in s3] == [
        (Severity.MEDIUM, f"/mcpServers/s/args/{index}")
    ]


def test_passing_a_variable_by_name_is_fine() -> None:
    """`docker -e GITHUB_TOKEN` takes the value from the environment, not argv."""
    report = _audit({"s": {"command": "docker", "args": ["run", "-e", "GITHUB_TOKEN", "img:1.0"]}})
    assert not _of(report, "S3")


def test_a_reference_in_a_url_query_is_medium_and_a_literal_is_high() -> None:
    ref = _audit({"r": {"url": "https://mcp.acme.io/mcp?api_key=${API_KEY}"}})
    assert [f.severity for f in _of(ref, "S4")] == [Severity.MEDIUM]
    lit = _audit({"r": {"url": "https://mcp.acme.io/mcp?token=Zk4Qm8Rt2Lx6Vn1Bc9Wd"}})
    assert [f.severity for f in _of(lit, "S4")] == [Severity.HIGH]


def test_literal_secrets_in_docker_e_are_high_and_positional_tokens_medium() -> None:
    report = _audit(
        {
            "d": {
                "command": "docker",
                "args": ["run", "-e", "SECRET_KEY=Zk4Qm8Rt2Lx6Vn1Bc9Wd", "i:1"],
            },
            "p": {"command": "node", "args": ["s.js", "Ab3dE6fG9hJ2kL5mN8pQ1rSt7uVw"]},
        }
    )
    assert {(f.server, f.severity) for f in _of(report, "S3")} == {
        ("d", Severity.HIGH),
        ("p", Severity.MEDIUM),  # by its shape alone: an id can look like that too
    }
    assert "Ab3dE6fG9hJ2kL5mN8pQ1rSt7uVw"[4:20] not in _all_output(report)


@pytest.mark.parametrize(
    "arg",
    [
        "550e8400-e29b-41d4-a716-446655440000",  # a UUID
        "0123456789abcdef0123456789abcdef01234567",  # a hex digest (commit)
        "@modelcontextprotocol/server-filesystem",
        "abcdefghijklmnopqrstuvwxyz",  # a project ref: one case, no digits
    ],
)
def test_ids_and_packages_are_not_positional_tokens(arg: str) -> None:
    assert not _of(_audit({"p": {"command": "node", "args": ["s.js", arg]}}), "S3")


# --- digits-only, JWT-shaped and vendor-prefixed values ----------------------------------

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("key", "value", "label"),
    [
        ("SUPABASE_ANON_KEY", JWT, "JSON Web Token"),
        ("FIRECRAWL_API_KEY", "fc-0123456789abcdef0123456789abcdef", "Firecrawl API key"),
        ("BROWSERBASE_API_KEY", "bb_live_Ab3dE6fG9hJ2kL5mN8pQ1r", "Browserbase API key"),
        ("SOME_KEY", "op-Ab3dE6fG9hJ2kL5mN8pQ1rSt", "vendor-prefixed API key"),
        ("SOME_KEY", "pk-br-Ab3dE6fG9hJ2kL5mN8pQ1rSt", "vendor-prefixed API key"),
        ("TAVILY_API_KEY", "tvly-dev-Ab3dE6fG9hJ2kL5mN8pQ1rSt", "Tavily API key"),
    ],
)
def test_vendor_prefixes_are_named(key: str, value: str, label: str) -> None:
    report = _audit({"v": {"command": "node", "env": {key: value}}})
    s1 = _of(report, "S1")
    assert [f.severity for f in s1] == [Severity.CRITICAL] and label in s1[0].message
    assert value[6:22] not in _all_output(report)


@pytest.mark.parametrize("key", ["APP_KEY", "BOT_TOKEN", "CLIENT_SECRET", "apiKey"])
def test_digits_only_values_in_key_token_secret_variables(key: str) -> None:
    report = _audit({"v": {"command": "node", "env": {key: "4821390712"}}})
    assert [f.severity for f in _of(report, "S2")] == [Severity.HIGH]


@pytest.mark.parametrize(("key", "value"), [("TOKEN_TTL", "36000000"), ("API_KEY_ID", "12345678")])
def test_numbers_that_are_not_keys_stay_quiet(key: str, value: str) -> None:
    assert not _of(_audit({"v": {"command": "node", "env": {key: value}}}), "S2")


# --- disabled servers -------------------------------------------------------------------


def test_disabled_servers_are_reported_as_disabled_and_lowered() -> None:
    server = {
        "command": "bash",
        "args": ["-c", "curl https://get.acme.io/i.sh | sh"],
        "env": {"GITHUB_TOKEN": GHP},
        "disabled": True,
    }
    report = _audit({"old": server})
    assert report.disabled == ["old"]
    note = [f for f in _of(report, "F2") if "disabled" in f.message]
    assert [f.severity for f in note] == [Severity.INFO]
    (c1,) = _of(report, "C1")
    assert c1.severity is Severity.LOW and "disabled" in c1.message
    (s1,) = _of(report, "S1")  # a literal secret is on disk either way
    assert s1.severity is Severity.CRITICAL
    assert "Server old (disabled)" in render_text(report)
    enabled = _audit({"old": {**server, "disabled": False}})
    assert [f.severity for f in _of(enabled, "C1")] == [Severity.CRITICAL]
    assert enabled.disabled == []


# --- more bridges to remote servers -----------------------------------------------------


@pytest.mark.parametrize(
    ("server", "r1"),
    [
        (
            {
                "command": "uvx",
                "args": ["mcp-proxy-for-aws@1.1.0", "https://svc.us-east-1.amazonaws.com/mcp"],
            },
            False,
        ),
        ({"command": "socat", "args": ["STDIO", "TCP:10.0.0.5:9000"]}, True),
        ({"command": "nc", "args": ["mcp.acme.io", "9000"]}, True),
        ({"command": "socat", "args": ["STDIO", "OPENSSL:mcp.acme.io:443"]}, False),
    ],
)
def test_bridges_are_treated_like_mcp_remote(server: dict[str, Any], r1: bool) -> None:
    report = _audit({"b": server})
    assert [f.severity for f in _of(report, "C12")] == [Severity.INFO]
    assert _of(report, "R3"), "the remote host is reported"
    assert bool(_of(report, "R1")) is r1


def test_socat_to_this_machine_is_not_remote() -> None:
    report = _audit({"b": {"command": "socat", "args": ["STDIO", "TCP:127.0.0.1:9000"]}})
    assert not _of(report, "R3") and not _of(report, "R1")


def test_a_secret_in_an_entry_that_is_not_an_object_is_still_found() -> None:
    report = _audit({"gh": f"npx -y @modelcontextprotocol/server-github --token {GHP}"})
    s1 = [f for f in _of(report, "S1") if f.pointer == "/mcpServers/gh"]
    assert [f.severity for f in s1] == [Severity.CRITICAL] and s1[0].line == 3
    assert GHP not in _all_output(report) and GHP[4:20] not in _all_output(report)
