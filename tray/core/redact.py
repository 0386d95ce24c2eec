"""Replace secrets in any text before it leaves the process (logs, crash output, CLI output).

An LM Studio token keeps its public client id so two tokens can still be told apart:
`sk-lm-Abcd1234:` + its 20-character passkey becomes `sk-lm-Abcd1234…[redacted]`. A `Bearer`
value of any other shape and other well-known secret shapes (OpenAI, Anthropic, GitHub,
Hugging Face, AWS, Slack, Google) keep only their fixed prefix.
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "SECRET_SHAPES", "redact"]

REDACTED = "…[redacted]"

# sk-lm- then at most the 8-char client id kept; anything token-like after it goes, even
# when truncated or too long (a mistyped token is still mostly a secret).
# Atomic, and not followed by the ellipsis: redacting twice changes nothing.
_LMSTUDIO = re.compile(r"sk-lm-(?>([A-Za-z0-9]{0,8})[A-Za-z0-9:_-]*)(?!…)")

# Name -> pattern whose group 1 is the part we keep (the public prefix).
SECRET_SHAPES: dict[str, re.Pattern[str]] = {
    "anthropic": re.compile(r"(sk-ant-)[A-Za-z0-9_-]{20,}"),
    "openai": re.compile(r"(sk-(?!lm-|ant-)(?:proj-|svcacct-|admin-)?)[A-Za-z0-9_-]{20,}"),
    "github": re.compile(r"(gh[pousr]_)[A-Za-z0-9]{30,}|(github_pat_)[A-Za-z0-9_]{30,}"),
    "huggingface": re.compile(r"(hf_)[A-Za-z0-9]{30,}"),
    "aws": re.compile(r"(AKIA|ASIA)[0-9A-Z]{16}"),
    "slack": re.compile(r"(xox[abprs]-)[A-Za-z0-9-]{10,}"),
    "google": re.compile(r"(AIza)[0-9A-Za-z_-]{35}"),
}

# `Bearer <value>` in headers, reprs of header lists and curl lines; the value ends at
# whitespace or a quote/bracket/comma of the surrounding repr. A value has 8+ characters
# and a digit or token punctuation, so prose ("send a Bearer token") stays readable.
_BEARER = re.compile(
    r"(?i)\b(bearer\s+)(?!sk-lm-[A-Za-z0-9]{0,8}…)"
    r"(?=[^\s'\",;)\]}]*[0-9._~+/=-])([^\s'\",;)\]}]{8,})"
)


def _keep_prefix(match: re.Match[str]) -> str:
    prefix = next((g for g in match.groups() if g), "")
    return prefix + REDACTED


def redact(text: str) -> str:
    """`text` with every token-shaped string and bearer value replaced."""
    if not text:
        return text
    text = _LMSTUDIO.sub(lambda m: f"sk-lm-{m.group(1)}{REDACTED}", text)
    for pattern in SECRET_SHAPES.values():
        text = pattern.sub(_keep_prefix, text)
    return _BEARER.sub(lambda m: m.group(1) + "[redacted]", text)
