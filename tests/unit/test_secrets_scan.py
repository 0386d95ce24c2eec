"""Secret detection: every kind, every place in mcp.json, placeholders left alone, the
real-world corpus counted file by file, and no finding ever carrying the secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tray.core import tokens
from tray.core.secrets_scan import (
    LMSTUDIO_TOKEN,
    Finding,
    SecretKind,
    digest_of,
    find_secrets_in_json,
    find_secrets_in_text,
    is_placeholder,
    is_secret_key,
)

CORPUS = Path(__file__).parent.parent / "fixtures" / "mcp"
TOKEN = "sk-lm-Abcd1234:Abcdefghij1234567890"
OTHER_TOKEN = "sk-lm-Wxyz9876:Zyxwvutsrq0987654321"
GITHUB = "ghp_" + "a1B2c3D4e5" * 3 + "F6g7H8"
HF = "hf_" + "QwErTyUiOp" * 3 + "AsDf"
OPENAI = "sk-proj-" + "Ab3De6Gh9Jk2Mn5Pq8St1Vw4"
ANTHROPIC = "sk-ant-api03-" + "Zx9Cv8Bn7Mq6Wr5Ty4Ui3Op2"
AWS = "AKIA" + "Q2W3E4R5T6Y7U8I9"
SLACK = "xoxb-" + "1234567890-abcdefGHIJKL"
SUPABASE = "sbp_" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0aabbccdd"
HIGH_ENTROPY = "4z_77tLI_WEcMctO4gnRGbTVH_zhWhsdrMhB3-lclfE"


def kinds(findings: list[Finding]) -> list[SecretKind]:
    return [f.kind for f in findings]


def mcp(env: dict[str, str] | None = None, **server: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"command": "npx", "args": ["-y", "pkg@1.0.0"], **server}
    if env is not None:
        entry["env"] = env
    return {"mcpServers": {"s": entry}}


def test_the_lmstudio_shape_is_the_one_the_token_module_uses() -> None:
    assert tokens.TOKEN_PATTERN.pattern == LMSTUDIO_TOKEN


@pytest.mark.parametrize(
    ("secret", "kind"),
    [
        (TOKEN, SecretKind.LMSTUDIO),
        (GITHUB, SecretKind.GITHUB),
        ("github_pat_" + "11ABCDEFG0" * 3 + "_xyz", SecretKind.GITHUB),
        (HF, SecretKind.HUGGINGFACE),
        (OPENAI, SecretKind.OPENAI),
        ("sk-" + "Ab3De6Gh9Jk2Mn5Pq8St1Vw4", SecretKind.OPENAI),
        (ANTHROPIC, SecretKind.ANTHROPIC),
        (AWS, SecretKind.AWS),
        (SLACK, SecretKind.SLACK),
        (SUPABASE, SecretKind.SUPABASE),
    ],
)
def test_each_known_shape_is_found_in_text_and_in_json(secret: str, kind: SecretKind) -> None:
    text = find_secrets_in_text(f"# a note\nVALUE={secret}\n", source=".env")
    assert [(f.kind, f.line, f.length) for f in text] == [(kind, 2, len(secret))]
    doc = find_secrets_in_json({"notes": [f"use {secret} here"]}, source="x.json")
    assert [(f.kind, f.pointer) for f in doc] == [(kind, "/notes/0")]
    assert doc[0].digest == digest_of(secret) and len(doc[0].digest) == 8


def test_an_lmstudio_token_is_not_an_openai_key_and_only_it_is_movable() -> None:
    found = find_secrets_in_text(f"A={TOKEN}\nB={OPENAI}\n", source=".env")
    assert kinds(found) == [SecretKind.LMSTUDIO, SecretKind.OPENAI]
    assert [f.lmstudio for f in found] == [True, False]


def test_a_longer_alphanumeric_run_is_not_an_lmstudio_token() -> None:
    assert not find_secrets_in_text("x sk-lm-Abcd1234:Abcdefghij1234567890EXTRA", source="t")


@pytest.mark.parametrize(
    "value",
    [
        "${GITHUB_TOKEN}",
        "${env:GITHUB_TOKEN}",
        "${input:token}",
        "op://vault/item/field",
        "{{ op://vault/item/field }}",
        "<your-token>",
        "YOUR_API_KEY",
        "your_service_key_here",
        "your_bitbucket_pat_key",
        "$GITHUB_TOKEN",
        "%GITHUB_TOKEN%",
        "changeme",
        "sk-xxxxxxxxxxxxxxxxxxxxxxxx",
        "ghp_" + "x" * 36,
        "",
    ],
)
def test_placeholders_are_not_secrets(value: str) -> None:
    assert is_placeholder(value)
    doc = mcp(
        env={"GITHUB_TOKEN": value},
        headers={"Authorization": f"Bearer {value}"},
    )
    doc["mcpServers"]["s"]["args"] += ["--access-token", value]
    assert find_secrets_in_json(doc, source="mcp.json") == []


def test_a_real_token_inside_angle_brackets_is_still_found() -> None:
    """CHECKS.md §6: `"Bearer <hf_…real…>"` must be reported."""
    found = find_secrets_in_json({"headers": {"Authorization": f"Bearer <{HF}>"}}, source="m")
    assert kinds(found) == [SecretKind.HUGGINGFACE]


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("GITHUB_TOKEN", True),
        ("x-api-key", True),
        ("Authorization", True),
        ("dbPassword", True),
        ("OPENAI_API_KEY", True),
        ("apiKey", True),
        ("AUTHORIZED_SCOPE", False),
        ("AUTHOR", False),
        ("PYTHONPATH", False),
        ("tokenUrl", False),
        ("MONKEY", False),
    ],
)
def test_secret_ish_key_names(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_env_headers_args_and_urls_are_each_looked_at() -> None:
    doc = {
        "mcpServers": {
            "env": {"command": "x", "env": {"SERVICE_SECRET": HIGH_ENTROPY, "LOG": "debug"}},
            "hdr": {
                "url": "https://h.example.com/mcp",
                "headers": {"Authorization": f"Bearer {TOKEN}"},
            },
            "flag": {"command": "npx", "args": ["-y", "srv@1.2.3", "--access-token", SUPABASE]},
            "inline": {"command": "npx", "args": [f"--api-key={HIGH_ENTROPY}"]},
            "remote": {
                "command": "npx",
                "args": [
                    "mcp-remote",
                    "https://h.example.com/sse",
                    "--header",
                    f"Authorization:Bearer {OTHER_TOKEN}",
                ],
            },
            "query": {"url": f"https://h.example.com/mcp?api_key={HIGH_ENTROPY}&x=1"},
            "userinfo": {"url": "https://bob:S3cr3tPassw0rd!@db.example.com/mcp"},
            "docker": {
                "command": "docker",
                "args": ["run", "-e", f"API_TOKEN={HIGH_ENTROPY}", "img@sha256:ab"],
            },
        }
    }
    found = {(f.pointer, f.kind) for f in find_secrets_in_json(doc, source="mcp.json")}
    assert found == {
        ("/mcpServers/env/env/SERVICE_SECRET", SecretKind.GENERIC),
        ("/mcpServers/hdr/headers/Authorization", SecretKind.LMSTUDIO),
        ("/mcpServers/flag/args/3", SecretKind.SUPABASE),
        ("/mcpServers/inline/args/0", SecretKind.GENERIC),
        ("/mcpServers/remote/args/3", SecretKind.LMSTUDIO),
        ("/mcpServers/query/url", SecretKind.GENERIC),
        ("/mcpServers/userinfo/url", SecretKind.URL_CREDENTIALS),
        ("/mcpServers/docker/args/2", SecretKind.GENERIC),
    }


def test_a_flag_value_with_a_known_shape_is_reported_once_with_that_shape() -> None:
    doc = mcp()
    doc["mcpServers"]["s"]["args"] += ["--token", GITHUB]
    assert [(f.pointer, f.kind) for f in find_secrets_in_json(doc, source="m")] == [
        ("/mcpServers/s/args/3", SecretKind.GITHUB)
    ]


def test_low_entropy_paths_urls_and_plain_words_under_secret_keys_are_not_secrets() -> None:
    env = {
        "API_KEY_FILE": "/home/me/.config/key.txt",
        "TOKEN_ENDPOINT": "https://auth.example.com/token",
        "SESSION_MODE": "interactive",
        "AUTH_ENABLED": "true",
        "PASSWORD": "aaaaaaaaaa",
        "API_TOKEN": "short",
        "AUTH_EMAIL": "me@example.com",
    }
    assert find_secrets_in_json(mcp(env=env), source="m") == []


def test_pointers_escape_slashes_and_tildes() -> None:
    found = find_secrets_in_json({"a/b": {"c~d": TOKEN}}, source="m")
    assert found[0].pointer == "/a~1b/c~0d"


def test_line_numbers_come_from_the_raw_text() -> None:
    doc = mcp(env={"LM_API_TOKEN": TOKEN})
    text = json.dumps(doc, indent=2)
    [finding] = find_secrets_in_json(doc, source="m", text=text)
    assert finding.line == text.splitlines().index(f'        "LM_API_TOKEN": "{TOKEN}"') + 1


def test_without_key_heuristics_only_known_shapes_count() -> None:
    doc = {"sessionToken": HIGH_ENTROPY, "lastToken": TOKEN}
    assert kinds(find_secrets_in_json(doc, source="m", key_heuristics=False)) == [
        SecretKind.LMSTUDIO
    ]
    assert len(find_secrets_in_json(doc, source="m")) == 2


def test_rc_file_lines() -> None:
    text = "\n".join(
        [
            "# shell setup",
            f"export LM_API_TOKEN={TOKEN}",
            f'OPENAI_API_KEY="{OPENAI}"',
            f"set -gx SERVICE_PASSWORD '{HIGH_ENTROPY}'",
            f"# old: export GH={GITHUB}",
            f"# MY_SECRET={HIGH_ENTROPY}",
            "export PATH=$HOME/bin:$PATH",
            "export GITHUB_TOKEN=${GITHUB_TOKEN_FROM_VAULT}",
            f"DB_PASSWORD={HIGH_ENTROPY}  # from the wiki",
        ]
    )
    found = [(f.line, f.kind) for f in find_secrets_in_text(text, source="~/.bashrc")]
    assert found == [
        (2, SecretKind.LMSTUDIO),
        (3, SecretKind.OPENAI),
        (4, SecretKind.GENERIC),
        (5, SecretKind.GITHUB),  # a commented-out token is still on disk
        (9, SecretKind.GENERIC),
    ]


def test_the_same_token_twice_is_two_findings_with_one_digest() -> None:
    found = find_secrets_in_text(f"A={TOKEN}\nB={TOKEN}\n", source=".env")
    assert [f.line for f in found] == [1, 2]
    assert len({f.digest for f in found}) == 1


def test_a_finding_never_carries_any_part_of_the_secret() -> None:
    secrets = [TOKEN, GITHUB, HF, OPENAI, ANTHROPIC, AWS, SLACK, SUPABASE, HIGH_ENTROPY]
    text = "\n".join(f"K{i}_TOKEN={s}" for i, s in enumerate(secrets))
    found = find_secrets_in_text(text, source=".env")
    assert len(found) == len(secrets)
    for finding in found:
        shown = f"{finding!r} {finding.model_dump_json()} {finding.describe()}"
        for secret in secrets:
            # the provider prefix is public; nothing after it may show
            body = secret.split("_", 1)[-1] if "_" in secret[:12] else secret[6:]
            assert body[:6] not in shown, (finding.kind, secret)


# --- the real-world corpus ------------------------------------------------------------

# File → findings (kind, pointer). Decided from CHECKS.md S1–S5, not from the notes.
EXPECTED: dict[str, list[tuple[SecretKind, str]]] = {
    "043-cursor-live-secrets-whop-pipedream.json": [
        (SecretKind.GENERIC, "/mcpServers/whop/env/WHOP_API_KEY"),
        (SecretKind.GENERIC, "/mcpServers/pipedream/env/PIPEDREAM_API_KEY"),
    ],
}


def _strip_jsonc(text: str) -> Any:
    # the corpus holds JSONC; parse it the way the leak finder does (services' parser)
    from tray.services.leak_finder import parse_jsonc

    return parse_jsonc(text, path=Path("corpus"))


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.json")))
def test_corpus_file(name: str) -> None:
    text = (CORPUS / name).read_text(encoding="utf-8")
    found = find_secrets_in_json(_strip_jsonc(text), source=name, text=text)
    assert [(f.kind, f.pointer) for f in found] == EXPECTED.get(name, [])
    assert all(f.line is not None for f in found)


def test_the_corpus_is_all_there() -> None:
    names = {p.name for p in CORPUS.glob("*.json")}
    assert len(names) == 30
    assert {
        "026-claude-desktop-security-suite-envrefs.json",
        "056-claude-code-bunx-envrefs.json",
    } <= names
    assert (CORPUS / "SOURCES.md").exists()
