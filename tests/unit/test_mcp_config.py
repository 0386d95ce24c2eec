"""Parsing mcp.json in every dialect, with positions; sanitizing a kept server."""

from __future__ import annotations

import json

import pytest

from tray.core.errors import ConfigError
from tray.core.jsonc import JsoncError, parse_jsonc_positions
from tray.core.mcp_config import (
    McpDialect,
    McpParseError,
    describe_secret,
    parse_mcp,
    redact_for_display,
    sanitize_server,
)
from tray.core.secrets_scan import find_secrets_in_json

GH = "ghp_" + "Q7wLm2Rk9Xz4Tn8Vb3Hc6Jd1Fs5Gp0Ya2Ke7"


def test_mcp_servers_dialect_with_lines_and_flags() -> None:
    text = """{
  "mcpServers": {
    "a": {"command": "npx", "args": ["-y", "pkg@1.0.0"], "disabled": true},
    "b": {
      "url": "https://x.io/mcp",
      "headers": {"X": "1"},
      "alwaysAllow": ["read"]
    },
    "c": {"command": "node", "autoApprove": ["write_file"]}
  }
}"""
    doc = parse_mcp(text)
    assert doc.dialect is McpDialect.MCP_SERVERS
    a, b, c = doc.servers
    assert (a.name, a.pointer, a.line, a.transport) == ("a", "/mcpServers/a", 3, "stdio")
    assert a.disabled and a.args == ("-y", "pkg@1.0.0")
    assert b.transport == "http" and b.headers == {"X": "1"} and b.auto_approve == ("read",)
    assert b.line_of("alwaysAllow") == 7 and b.line_of("headers/X") == 6
    assert c.auto_approve == ("write_file",)
    assert not doc.has_comments and not doc.had_bom


def test_vscode_dialect_with_inputs_and_jsonc() -> None:
    text = """// top comment
{
  "inputs": [{"id": "tok", "type": "promptString", "password": true},],
  "servers": {
    /* block */ "s": {"type": "sse", "url": "https://h/sse",},
  },
}"""
    doc = parse_mcp(text)
    assert doc.dialect is McpDialect.VSCODE
    assert doc.has_comments and doc.trailing_commas
    assert doc.inputs == ({"id": "tok", "type": "promptString", "password": True},)
    (s,) = doc.servers
    assert s.transport == "sse" and s.line == 5 and s.pointer == "/servers/s"


@pytest.mark.parametrize(
    ("raw", "pointer"),
    [
        ({"mcp": {"servers": {"x": {"command": "a"}}}}, "/mcp/servers/x"),
        ({"mcp.servers": {"x": {"command": "a"}}}, "/mcp.servers/x"),
    ],
)
def test_settings_dialect(raw: dict, pointer: str) -> None:
    doc = parse_mcp(json.dumps(raw))
    assert doc.dialect is McpDialect.SETTINGS
    assert doc.servers[0].pointer == pointer


def test_array_dialects() -> None:
    top = parse_mcp('[{"name": "m", "command": "x"}, {"url": "https://a"}]')
    assert top.dialect is McpDialect.ARRAY
    assert [s.name for s in top.servers] == ["m", "server 2"]
    assert top.servers[0].pointer == "/0"
    nested = parse_mcp('{"servers": [{"name": "t", "transport": "http", "url": "http://l"}]}')
    assert nested.dialect is McpDialect.ARRAY and nested.servers[0].pointer == "/servers/0"


@pytest.mark.parametrize("data", [b"", b"   \n", b"// only a comment\n", b"\xef\xbb\xbf", b"{}"])
def test_empty_files(data: bytes) -> None:
    doc = parse_mcp(data)
    assert doc.dialect is McpDialect.EMPTY and doc.servers == ()


def test_bom_is_tolerated_and_remembered() -> None:
    doc = parse_mcp(b'\xef\xbb\xbf{"mcpServers": {"a": {"command": "x"}}}')
    assert doc.had_bom and doc.servers[0].name == "a"


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{\n  "a": 1\n  "b": 2\n}', 3, 3),
        ('{"mcpServers": {', 1, 17),
        ('{\n "a": "unterminated\n}', 2, 20),
        ("{\n  /* never closed\n}", 2, 3),
        ('{"a": tru}', 1, 7),
        ("[1, 2", 1, 6),
    ],
)
def test_parse_errors_say_line_and_column(text: str, line: int, column: int) -> None:
    with pytest.raises(McpParseError) as info:
        parse_mcp(text)
    err = info.value
    assert (err.line, err.column) == (line, column)
    assert f"line {line}, column {column}" in err.message
    assert isinstance(err, ConfigError)


def test_not_utf8_is_a_located_error() -> None:
    with pytest.raises(McpParseError) as info:
        parse_mcp(b'{\n"a": "\xff"}')
    assert info.value.line == 2


def test_jsonc_positions_and_strings() -> None:
    r = parse_jsonc_positions('{"a/b": {"x~y": [1, "\\u00e9\\n", {"k": null}]}}')
    assert r.value == {"a/b": {"x~y": [1, "é\n", {"k": None}]}}
    assert "/a~1b/x~0y/2/k" in r.positions
    with pytest.raises(JsoncError):
        parse_jsonc_positions('{"a": 1} 2')


def test_duplicate_keys_are_listed() -> None:
    doc = parse_mcp('{"mcpServers": {"a": {"command": "x"}, "a": {"command": "y"}}}')
    assert doc.duplicate_keys == ("/mcpServers/a",)
    assert doc.servers[0].command == "y"


def test_unknown_top_level_keys() -> None:
    doc = parse_mcp('{"preferences": {}, "mcpServers": {}}')
    assert doc.unknown_keys == ("preferences",)


def test_sanitize_removes_secrets_and_auto_approve_but_keeps_references() -> None:
    doc = parse_mcp(
        json.dumps(
            {
                "mcpServers": {
                    "s": {
                        "command": "npx",
                        "args": ["-y", "pkg@1.0.0", "--api-key", GH, "--flag"],
                        "env": {
                            "GITHUB_TOKEN": GH,
                            "REF": "${env:REF}",
                            "MODE": "fast",
                            "API_KEY": "${API_KEY}",
                            "DB_PASSWORD": "hunter2hunter2",
                        },
                        "headers": {"Authorization": "Bearer ${input:tok}"},
                        "autoApprove": ["write_file"],
                        "alwaysAllow": ["x"],
                    }
                }
            }
        )
    )
    clean = sanitize_server(doc.servers[0])
    assert "autoApprove" not in clean and "alwaysAllow" not in clean
    assert clean["args"] == ["-y", "pkg@1.0.0", "--flag"]
    assert clean["env"] == {"REF": "${env:REF}", "MODE": "fast", "API_KEY": "${API_KEY}"}
    assert clean["headers"] == {"Authorization": "Bearer ${input:tok}"}
    assert not find_secrets_in_json(clean, source="x")
    assert GH not in json.dumps(clean)
    # the original is untouched
    assert doc.servers[0].raw["env"]["GITHUB_TOKEN"] == GH


def test_sanitize_drops_a_url_with_credentials() -> None:
    doc = parse_mcp('{"mcpServers": {"s": {"url": "https://u:Zx9Qm4Lr8Tk2@h.io/mcp"}}}')
    assert "url" not in sanitize_server(doc.servers[0])


def test_secret_display_never_echoes() -> None:
    shown = describe_secret(GH, "GitHub token")
    assert GH not in shown and "40 characters" in shown and len(shown.split()[-1]) == 8
    line = redact_for_display(f"mcp --token={GH} https://u:pw123456@h/x?api_key=Zk4Qm8Rt2Lx6")
    assert GH[4:] not in line and "pw123456" not in line and "Zk4Qm8Rt2Lx6" not in line
    assert redact_for_display("API_KEY=${API_KEY}") == "API_KEY=${API_KEY}"
