"""Readable diffs of tracked files: field-level for presets, per server for mcp.json, key
paths for other JSON, text otherwise — and never a crash on a broken version."""

from __future__ import annotations

import json
from typing import Any

from tray.core.history_diff import diff_contents, format_value, short_key


def preset(temp: float, *, extra: list[dict[str, Any]] | None = None, name: str = "Coder") -> bytes:
    doc = {
        "identifier": "@local:coder",
        "name": name,
        "operation": {
            "fields": [
                {"key": "llm.prediction.temperature", "value": temp},
                {"key": "llm.prediction.topPSampling", "value": {"checked": True, "value": 0.95}},
                *(extra or []),
            ]
        },
        "load": {"fields": [{"key": "llm.load.contextLength", "value": 8192}]},
    }
    return json.dumps(doc, indent=2).encode()


def test_preset_fields_changed_added_removed_and_renamed() -> None:
    old = preset(
        0.7, extra=[{"key": "llm.prediction.seed", "value": {"checked": False, "value": 3}}]
    )
    new = preset(
        0.2,
        name="Coder strict",
        extra=[{"key": "llm.prediction.stopStrings", "value": ["</s>"]}],
    )
    d = diff_contents("coder.preset.json", old, new)
    assert d.kind == "preset"
    texts = [c.text for c in d.changes]
    assert 'name "Coder" → "Coder strict"' in texts
    assert "temperature 0.7 → 0.2" in texts
    assert "seed removed (was off (3))" in texts
    assert 'stopStrings added: ["</s>"]' in texts
    assert not any("contextLength" in t for t in texts)  # unchanged fields are not listed
    signs = [line.sign for line in d.lines()]
    assert signs.count("~") == 2 and "+" in signs and "-" in signs


def test_checkbox_values_read_as_on_and_off() -> None:
    assert format_value({"checked": True, "value": 0.95}) == "0.95"
    assert format_value({"checked": False, "value": 1000}) == "off (1000)"
    assert format_value(True) == "on"
    assert short_key("llm.load.llama.flashAttention") == "llama.flashAttention"
    old = preset(0.7)
    new = old.replace(b'"checked": true', b'"checked": false')
    [change] = diff_contents("p.preset.json", old, new).changes
    assert change.text == "topPSampling 0.95 → off (0.95)"


def test_a_bom_and_reformatting_only_is_no_field_change() -> None:
    old = preset(0.5)
    new = b"\xef\xbb\xbf" + json.dumps(json.loads(old)).encode()
    d = diff_contents("p.preset.json", old, new)
    assert d.kind == "preset" and d.changes == []
    assert d.note is not None and "formatting" in d.note


def test_mcp_servers_added_removed_and_changed_without_secret_values() -> None:
    old = {"mcpServers": {"fs": {"command": "npx", "args": ["a"]}, "gone": {"url": "https://x"}}}
    new = {
        "mcpServers": {
            "fs": {"command": "npx", "args": ["a", "b"], "env": {"API_KEY": "abc123secret"}},
            "web": {"url": "https://mcp.example/sse"},
        }
    }
    d = diff_contents("mcp.json", json.dumps(old).encode(), json.dumps(new).encode())
    assert d.kind == "mcp"
    texts = [c.text for c in d.changes]
    assert 'server fs: args ["a"] → ["a", "b"]' in texts
    assert "server fs: env.API_KEY added: (hidden)" in texts
    assert 'server gone removed (was "https://x")' in texts
    assert 'server web added: "https://mcp.example/sse"' in texts
    assert "abc123secret" not in repr(d)


def test_other_json_by_key_path() -> None:
    old = {"default": {"context_length": 4096, "flash_attention": False}, "models": {}}
    new = {
        "default": {"context_length": 8192, "flash_attention": False},
        "models": {"q": {"ttl": 60}},
    }
    d = diff_contents("load-profiles.json", json.dumps(old).encode(), json.dumps(new).encode())
    assert d.kind == "json"
    assert [c.text for c in d.changes] == [
        "default.context_length 4096 → 8192",
        "models removed (was {})",
        "models.q.ttl added: 60",
    ]


def test_a_load_profile_created_reads_as_its_keys_added_model_key_shown() -> None:
    profile = {"version": 1, "model_key": "qwen/qwen3-4b", "profile": {"context_length": 8192}}
    d = diff_contents("model-qwen_qwen3-4b-577ce182.json", None, json.dumps(profile).encode())
    assert [c.text for c in d.changes] == [
        "version added: 1",
        'model_key added: "qwen/qwen3-4b"',
        "profile.context_length added: 8192",
    ]
    # an empty file then filled: nothing "removed"
    d = diff_contents("x.json", b"{}", b'{"a": 1}')
    assert [c.text for c in d.changes] == ["a added: 1"]
    # a secret-looking key elsewhere stays hidden
    d = diff_contents("x.json", b"{}", b'{"env": {"API_KEY": "abc"}}')
    assert [c.text for c in d.changes] == ["env.API_KEY added: (hidden)"]


def test_unparsable_versions_fall_back_to_text() -> None:
    old = preset(0.7)
    new = old[:-20]  # truncated: not JSON any more
    d = diff_contents("p.preset.json", old, new)
    assert d.kind == "text" and d.note is not None and "not valid JSON" in d.note
    assert any(line.sign == "-" for line in d.lines())
    d = diff_contents(".env", b"A=1\nB=2\n", b"A=1\nB=3\n")
    assert d.kind == "text" and d.note is None
    assert [(ln.sign, ln.text) for ln in d.lines() if ln.sign in "+-"] == [
        ("-", "B=2"),
        ("+", "B=3"),
    ]
    assert diff_contents("x.bin", b"\xff\xfe\x00", b"\xff").kind == "text"  # no crash


def test_created_deleted_and_identical() -> None:
    created = diff_contents("p.preset.json", None, preset(0.3))
    assert not created.old_exists and created.lines()[0].text == "p.preset.json created"
    assert "temperature added: 0.3" in [c.text for c in created.changes]
    deleted = diff_contents("p.preset.json", preset(0.3), None)
    assert deleted.lines()[0].text == "p.preset.json deleted"
    same = diff_contents("p.preset.json", preset(0.3), preset(0.3))
    assert same.same and same.lines()[-1].text == "No difference."


def test_tokens_never_shown() -> None:
    token = "sk-lm-Abcd1234:Abcdefghij1234567890"
    d = diff_contents(".env", b"X=1\n", f"LM_API_TOKEN={token}\n".encode())
    assert token not in repr(d.lines())
    d = diff_contents("x.json", b'{"a": 1}', json.dumps({"a": token}).encode())
    assert token not in repr(d.lines())
