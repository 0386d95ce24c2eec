"""Secrets outside the server objects: in JSONC comments (`//` and `/* */`) — a token
commented out is still on disk, in backups and in git — and in entries that are not server
objects (`"a": "npx pkg --token …"`). Found like the rest (S1 for a known token shape, S2 for
a literal under a secret-ish name), shown the same way — kind, length and short hash, never
the value — at the line the secret sits on.
"""

from __future__ import annotations

from tray.core.jsonc import value_at_pointer
from tray.core.mcp_audit.model import Finding, Severity
from tray.core.mcp_config import McpDocument
from tray.core.secrets_scan import SecretKind, find_secrets_in_json, find_secrets_in_text
from tray.core.words import with_article

__all__ = ["check_comments", "check_stray_values"]


def check_comments(doc: McpDocument, findings: list[Finding], hash_key: bytes | None) -> None:
    for start_line, text in doc.comments:
        # each line of a block comment without its decoration (` * `), so that
        # `API_KEY=…` inside reads as an assignment
        body = "\n".join(line.strip().lstrip("*").strip() for line in text.split("\n"))
        for f in find_secrets_in_text(body, source="comment", hash_key=hash_key):
            line = start_line + (f.line or 1) - 1
            generic = f.kind is SecretKind.GENERIC
            findings.append(
                Finding(
                    id="S2" if generic else "S1",
                    severity=Severity.HIGH if generic else Severity.CRITICAL,
                    server=None,
                    pointer="",
                    line=line,
                    message=(
                        f"{with_article(f.label, capital=True)} is in a comment on line {line}: "
                        f"{f.length} characters, {f.hash_label} {f.digest}. Commented out, it "
                        "is still on disk, in backups and in any copy of the file."
                    ),
                    fix="Rotate this secret with its provider, then delete the comment.",
                )
            )


def check_stray_values(doc: McpDocument, findings: list[Finding], hash_key: bytes | None) -> None:
    """Secrets in entries that are not server objects (F2 says they are skipped)."""
    for pointer, _what in doc.bad_entries:
        value = value_at_pointer(doc.raw, pointer)
        if not isinstance(value, str):
            continue
        for f in find_secrets_in_json({"args": value.split()}, source="entry", hash_key=hash_key):
            generic = f.kind is SecretKind.GENERIC
            findings.append(
                Finding(
                    id="S3" if generic else "S1",
                    severity=Severity.HIGH if generic else Severity.CRITICAL,
                    server=None,
                    pointer=pointer,
                    line=doc.positions.get(pointer),
                    message=(
                        f"{with_article(f.label, capital=True)} is in the entry at {pointer}, "
                        f"which is not a server object: {f.length} characters, "
                        f"{f.hash_label} {f.digest}."
                    ),
                    fix="Rotate this secret with its provider, then remove it from the file.",
                )
            )
