"""Finding secrets in configuration text and JSON, without ever keeping one.

Two entry points, both pure:

- `find_secrets_in_json(value, source=…)` walks a parsed document (mcp.json and friends)
  and names each hit by its JSON pointer: well-known token shapes anywhere, literal values
  under secret-ish keys (`env`, `headers`), secrets in `args` (`--access-token X`,
  `Authorization:Bearer X`, `-e KEY=X`) and credentials inside URLs (`https://u:p@host`,
  `?api_key=`).
- `find_secrets_in_text(text, source=…)` reads env/rc files line by line
  (`export LM_API_TOKEN=…`, `KEY="…"`) and any text we could not parse.

A `Finding` says what kind of secret, where, how long, and a short digest (the first 8 hex
digits of its SHA-256) so the same secret can be recognised in two places — never the
secret, nor any part of it. Placeholders (`${VAR}`, `${env:VAR}`, `${input:…}`, `op://…`,
`<…>`, `YOUR_…`, `…_here`) are not secrets: that is the check list's negative rule (S5),
and it keeps the finder from crying wolf over documentation examples.

Only LM Studio tokens (`sk-lm-` + 8 + `:` + 20) are ours to move into the keyring; every
other kind is report-only.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections import Counter
from collections.abc import Iterator
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict

__all__ = [
    "LMSTUDIO_TOKEN",
    "Finding",
    "SecretKind",
    "digest_of",
    "find_secrets_in_json",
    "find_secrets_in_text",
    "is_placeholder",
    "is_secret_key",
]


class SecretKind(StrEnum):
    LMSTUDIO = "lmstudio"
    GITHUB = "github"
    HUGGINGFACE = "huggingface"
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    AWS = "aws"
    SLACK = "slack"
    SUPABASE = "supabase"
    STRIPE = "stripe"
    GOOGLE = "google"
    NPM = "npm"
    JWT = "jwt"
    FIRECRAWL = "firecrawl"
    BROWSERBASE = "browserbase"
    TAVILY = "tavily"
    PERPLEXITY = "perplexity"
    GROQ = "groq"
    XAI = "xai"
    GITLAB = "gitlab"
    OPENROUTER = "openrouter"
    PREFIXED = "prefixed"
    PRIVATE_KEY = "private-key"
    URL_CREDENTIALS = "url-credentials"
    GENERIC = "generic"


_LABELS: dict[SecretKind, str] = {
    SecretKind.LMSTUDIO: "LM Studio API token",
    SecretKind.GITHUB: "GitHub token",
    SecretKind.HUGGINGFACE: "Hugging Face token",
    SecretKind.OPENAI: "OpenAI API key",
    SecretKind.ANTHROPIC: "Anthropic API key",
    SecretKind.AWS: "AWS access key id",
    SecretKind.SLACK: "Slack token",
    SecretKind.SUPABASE: "Supabase access token",
    SecretKind.STRIPE: "Stripe secret key",
    SecretKind.GOOGLE: "Google API key",
    SecretKind.NPM: "npm token",
    SecretKind.JWT: "JSON Web Token (JWT)",
    SecretKind.FIRECRAWL: "Firecrawl API key",
    SecretKind.BROWSERBASE: "Browserbase API key",
    SecretKind.TAVILY: "Tavily API key",
    SecretKind.PERPLEXITY: "Perplexity API key",
    SecretKind.GROQ: "Groq API key",
    SecretKind.XAI: "xAI API key",
    SecretKind.GITLAB: "GitLab token",
    SecretKind.OPENROUTER: "OpenRouter API key",
    SecretKind.PREFIXED: "vendor-prefixed API key",
    SecretKind.PRIVATE_KEY: "private key",
    SecretKind.URL_CREDENTIALS: "password in a URL",
    SecretKind.GENERIC: "secret-looking value",
}


class Finding(BaseModel):
    """One secret found: what and where, never the value."""

    model_config = ConfigDict(frozen=True)

    kind: SecretKind
    source: str
    pointer: str | None = None
    line: int | None = None
    length: int
    digest: str
    where: str = ""
    # a tutorial's default password for a database on this machine (`postgres@localhost`)
    tutorial_default: bool = False
    keyed: bool = False  # the digest is an HMAC under the installation's key

    @property
    def hash_label(self) -> str:
        """What the digest is: `hmac` (keyed) or `sha256`."""
        return "hmac" if self.keyed else "sha256"

    @property
    def lmstudio(self) -> bool:
        return self.kind is SecretKind.LMSTUDIO

    @property
    def label(self) -> str:
        return _LABELS[self.kind]

    def location(self) -> str:
        parts = [self.source]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.pointer is not None:
            parts.append(self.pointer or "/")
        return ", ".join(parts)

    def describe(self) -> str:
        """A sentence safe to show, log or print: no part of the secret."""
        where = f" ({self.where})" if self.where else ""
        return (
            f"{self.label}{where} in {self.location()}: "
            f"{self.length} characters, {self.hash_label} {self.digest}"
        )


def digest_of(secret: str, key: bytes | None = None) -> str:
    """First 8 hex digits of the HMAC-SHA256 under `key` (the installation's own key, so a
    short password cannot be looked up from the digest), or of the plain SHA-256 without
    one: enough to match a secret in two places, not to guess it."""
    data = secret.encode("utf-8")
    if key:
        return hmac.new(key, data, hashlib.sha256).hexdigest()[:8]
    return hashlib.sha256(data).hexdigest()[:8]


# --- shapes ----------------------------------------------------------------------------

# sk-lm-<clientIdentifier: 8 alnum>:<clientPasskey: 20 alnum> (FORMATS.md §2.9); the same
# shape as `tray.core.tokens.TOKEN_PATTERN` (a unit test holds the two together)
LMSTUDIO_TOKEN = r"sk-lm-[A-Za-z0-9]{8}:[A-Za-z0-9]{20}"
_B = r"(?<![A-Za-z0-9_])"  # not glued to a longer word on the left
_PATTERNS: tuple[tuple[SecretKind, re.Pattern[str]], ...] = (
    (SecretKind.LMSTUDIO, re.compile(_B + LMSTUDIO_TOKEN + r"(?![A-Za-z0-9])")),
    (SecretKind.ANTHROPIC, re.compile(_B + r"sk-ant-[A-Za-z0-9_\-]{20,}")),
    (SecretKind.OPENROUTER, re.compile(_B + r"sk-or-v1-[a-f0-9]{32,}")),
    (
        SecretKind.OPENAI,
        re.compile(_B + r"sk-(?!lm-|ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
    ),
    (
        SecretKind.GITHUB,
        re.compile(_B + r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    ),
    (SecretKind.HUGGINGFACE, re.compile(_B + r"hf_[A-Za-z0-9]{30,}")),
    (SecretKind.AWS, re.compile(_B + r"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    (SecretKind.SLACK, re.compile(_B + r"xox[abposr]-[A-Za-z0-9-]{10,}")),
    (SecretKind.SUPABASE, re.compile(_B + r"sbp_[A-Za-z0-9]{20,}")),
    (SecretKind.STRIPE, re.compile(_B + r"(?:sk|rk)_live_[A-Za-z0-9]{16,}")),
    (SecretKind.GOOGLE, re.compile(_B + r"AIza[0-9A-Za-z_\-]{35}")),
    (SecretKind.NPM, re.compile(_B + r"npm_[A-Za-z0-9]{36}")),
    (
        SecretKind.JWT,
        re.compile(_B + r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
    (SecretKind.FIRECRAWL, re.compile(_B + r"fc-[a-f0-9]{32}(?![A-Za-z0-9])")),
    (SecretKind.BROWSERBASE, re.compile(_B + r"bb_live_[A-Za-z0-9_-]{20,}")),
    (SecretKind.TAVILY, re.compile(_B + r"tvly-(?:dev-|prod-)?[A-Za-z0-9]{20,}")),
    (SecretKind.PERPLEXITY, re.compile(_B + r"pplx-[A-Za-z0-9]{32,}")),
    (SecretKind.GROQ, re.compile(_B + r"gsk_[A-Za-z0-9]{40,}")),
    (SecretKind.XAI, re.compile(_B + r"xai-[A-Za-z0-9]{40,}")),
    (SecretKind.GITLAB, re.compile(_B + r"glpat-[A-Za-z0-9_-]{20,}")),
    # prefixes whose vendor the list does not name: a prefix, then an opaque body with a digit
    (
        SecretKind.PREFIXED,
        re.compile(_B + r"(?:op|pk-br|pk-lf|sk-lf|sk-br)-(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{24,}"),
    ),
    (SecretKind.PRIVATE_KEY, re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")),
)

_PLACEHOLDER_RE = re.compile(
    r"""^(?:
        \$\{[^}]*\}            # ${VAR} ${env:VAR} ${input:id} ${workspaceFolder}
      | \$[A-Za-z_][A-Za-z0-9_]*  # $VAR
      | \{\{.*\}\}             # {{ op://… }} templating
      | op://.*                # 1Password reference
      | <[^<>]*>               # <your-token>
      | %[A-Za-z_][A-Za-z0-9_]*%  # %VAR% (Windows)
    )$""",
    re.VERBOSE | re.DOTALL,
)
_PLACEHOLDER_WORDS = re.compile(
    r"your[_\-. ]|_here\b|-here\b|\bchangeme\b|\bchange[_-]?me\b|replace[_-]?(?:me|with)|"
    r"\bexample\b|\bplaceholder\b|\bdummy\b|\bredacted\b|x{4,}|\*{4,}|\.{3}|…|"
    # the same in other languages and styles (French, German, Spanish, Portuguese, Italian,
    # Dutch): `REMPLACEZ_PAR_…`, `ERSETZEN_…`, `TU_TOKEN_AQUI`, `VOTRE_CLE`, `DEIN_TOKEN`
    r"rempla[cç]|ersetzen|ersetze[_-]|einf[uü]gen|(?:^|[_\-. ])(?:aqu[ií]|ici|hier|qui)$|"
    r"^(?:tu|tus|su|seu|sua|votre|vos|ton|ta|dein|deine|ihr|ihre|il[_-]tuo|tuo|la[_-]tua|"
    r"uw|je)[_\-. ]|\b(?:insert|enter|put|fill|paste)[_\-. ]?(?:your|in|here|the)|"
    r"(?:^|[_\-])todo(?:[_\-]|$)|^\[[^\]]*\]$|^\{[^{}]*\}$",
    re.IGNORECASE,
)


def is_placeholder(value: str) -> bool:
    """A value that stands for a secret instead of being one."""
    v = value.strip().strip("\"'")
    if not v:
        return True
    if _PLACEHOLDER_RE.match(v):
        return True
    if v.upper().startswith("YOUR_") or v.upper().startswith("YOUR-"):
        return True
    if _PLACEHOLDER_WORDS.search(v):
        return True
    # one character repeated (`sk-000000…`, `aaaaaaaa`) after any prefix
    body = re.sub(r"^[A-Za-z]+[_-]", "", v)
    return len(set(body)) <= 2 and len(body) >= 4


_SECRET_WORDS = frozenset(
    {
        "key",
        "apikey",
        "secret",
        "token",
        "password",
        "passwd",
        "pwd",
        "pass",
        "passphrase",
        "credential",
        "credentials",
        "auth",
        "authorization",
        "bearer",
        "cookie",
        "session",
        "pat",
        "privatekey",
        "accesskey",
        "signature",
    }
)
# keys that contain a secret word but name something that is not one
_NOT_SECRET_KEYS = frozenset({"keyid", "tokenurl", "authurl", "authtype", "tokentype", "keypath"})


def _key_words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def is_secret_key(key: str) -> bool:
    """`GITHUB_TOKEN`, `x-api-key`, `Authorization`, `dbPassword` — not `AUTHORIZED_SCOPE`."""
    words = _key_words(key)
    if "".join(words) in _NOT_SECRET_KEYS:
        return False
    if any(w in _SECRET_WORDS for w in words):
        return True
    joined = "".join(words)
    return joined.endswith(("apikey", "accesskey", "privatekey", "secretkey"))


def _entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


_AUTH_SCHEME = re.compile(r"^(?:Bearer|Basic|Token|Bot|ApiKey)\s+", re.IGNORECASE)
_MIN_GENERIC_LENGTH = 8
_MIN_ENTROPY = 3.0


# names that end in a credential word: a digits-only value there is a key, not a port
_CREDENTIAL_NAME = re.compile(r"(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|PAT|PIN)$", re.IGNORECASE)


def _looks_secret(value: str, key: str | None = None) -> bool:
    """A literal under a secret-ish key that is opaque enough to be a credential. A
    digits-only value counts under a name ending in KEY/TOKEN/SECRET (`APP_KEY=48213907…`)."""
    v = _AUTH_SCHEME.sub("", value.strip())
    if len(v) < _MIN_GENERIC_LENGTH or is_placeholder(v):
        return False
    if any(ch.isspace() for ch in v):
        return False  # sentences and commands, not credentials
    if key is not None and v.isdigit() and _CREDENTIAL_NAME.search(re.sub(r"[^A-Za-z]", "", key)):
        return len(set(v)) >= 4  # not 12345678-like repetition… but any varied digit string
    if v.lower() in {"true", "false", "null", "none"} or re.fullmatch(r"[\d.:-]+", v):
        return False
    if "://" in v or v.startswith(("/", "~", "./", "../")) or re.match(r"^[A-Za-z]:[\\/]", v):
        return False  # URLs are checked on their own; paths are not secrets
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", v):
        return False  # an e-mail address
    return _entropy(v) >= _MIN_ENTROPY


# --- the scanner -----------------------------------------------------------------------


class _Hit:
    """A secret while we still hold it: never leaves this module."""

    __slots__ = ("kind", "tutorial", "value", "where")

    def __init__(self, kind: SecretKind, value: str, where: str) -> None:
        self.kind, self.value, self.where = kind, value, where
        self.tutorial = False


# passwords that tutorials and docker-compose files use for a database on this machine
_DEFAULT_PASSWORDS = frozenset(
    {
        "postgres",
        "password",
        "pass",
        "passwd",
        "admin",
        "root",
        "secret",
        "mysql",
        "mongo",
        "mongodb",
        "redis",
        "example",
        "test",
        "testing",
        "dev",
        "development",
        "local",
        "default",
        "guest",
        "user",
        "changeme",
        "1234",
        "12345",
        "123456",
        "12345678",
        "sa",
    }
)


def _is_local_host(host: str | None) -> bool:
    h = (host or "").strip("[]").lower()
    return h in {"localhost", "::1", "0.0.0.0", "host.docker.internal"} or h.startswith("127.")


def _tutorial_default(host: str | None, user: str | None, password: str) -> bool:
    """A documentation default (`postgres:postgres@localhost`): a note, not a leak."""
    pw = password.lower()
    return _is_local_host(host) and (pw in _DEFAULT_PASSWORDS or pw == (user or "").lower())


def _shape_hits(text: str) -> Iterator[_Hit]:
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            start, end = m.span()
            if any(s < end and start < e for s, e in taken):
                continue
            if kind is not SecretKind.PRIVATE_KEY and is_placeholder(m.group(0)):
                continue
            taken.append((start, end))
            yield _Hit(kind, m.group(0), "")


def _url_hits(value: str) -> Iterator[_Hit]:
    for m in re.finditer(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+", value):
        try:
            parts = urlsplit(m.group(0))
            password = parts.password
        except ValueError:
            continue
        if password and not is_placeholder(password):
            hit = _Hit(SecretKind.URL_CREDENTIALS, password, "URL user info")
            hit.tutorial = _tutorial_default(parts.hostname, parts.username, password)
            yield hit
        for name, val in parse_qsl(parts.query, keep_blank_values=False):
            if is_secret_key(name) and not is_placeholder(val) and len(val) >= 6:
                yield _Hit(SecretKind.GENERIC, val, f"URL parameter {name}")


_FLAG_RE = re.compile(r"^--?([A-Za-z][A-Za-z0-9_-]*)(?:=(.*))?$", re.DOTALL)
_HEADER_RE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*:\s*(.+)$", re.DOTALL)
_ASSIGN_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.+)$", re.DOTALL)


def _header_value_hits(name: str, value: str, where: str) -> Iterator[_Hit]:
    if is_secret_key(name) or name.lower() in {"x-api-key", "api-key"}:
        v = _AUTH_SCHEME.sub("", value.strip())
        if _looks_secret(v):
            yield _Hit(SecretKind.GENERIC, v, where)


def _args_hits(args: list[Any]) -> Iterator[tuple[int, _Hit]]:
    """Secrets that `ps` shows to every local user: values of secret-ish flags, headers
    passed as arguments, `-e KEY=VALUE`."""
    for i, arg in enumerate(args):
        if not isinstance(arg, str):
            continue
        flag = _FLAG_RE.match(arg)
        if flag:
            name, inline = flag.group(1), flag.group(2)
            if inline is not None and is_secret_key(name) and _looks_secret(inline):
                yield i, _Hit(SecretKind.GENERIC, inline, f"argument --{name}")
            elif inline is None and is_secret_key(name) and i + 1 < len(args):
                nxt = args[i + 1]
                if isinstance(nxt, str) and not nxt.startswith("-") and _looks_secret(nxt):
                    yield i + 1, _Hit(SecretKind.GENERIC, nxt, f"argument after --{name}")
            continue
        header = _HEADER_RE.match(arg)
        if header and "://" not in arg:
            for hit in _header_value_hits(header.group(1), header.group(2), "header argument"):
                yield i, hit
            continue
        assign = _ASSIGN_RE.match(arg)
        if assign and is_secret_key(assign.group(1)):
            if _looks_secret(assign.group(2), assign.group(1)):
                yield i, _Hit(SecretKind.GENERIC, assign.group(2), f"argument {assign.group(1)}=")
            continue
        if _opaque_token(arg):
            yield i, _Hit(SecretKind.GENERIC, arg, "positional argument")


def _opaque_token(arg: str) -> bool:
    """A positional argument that can only be a credential: long, mixed case and digits,
    high entropy, and nothing a path, package, URL, UUID or hex digest would have."""
    a = arg.strip()
    if len(a) < 24 or not re.fullmatch(r"[A-Za-z0-9_\-]+", a) or is_placeholder(a):
        return False
    if not (re.search(r"[a-z]", a) and re.search(r"[A-Z]", a) and re.search(r"\d", a)):
        return False
    return _entropy(a) >= 4.0


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _json_hits(value: Any, pointer: str, key: str | None, keys: bool) -> Iterator[tuple[str, _Hit]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _json_hits(v, f"{pointer}/{_escape(str(k))}", str(k), keys)
        return
    if isinstance(value, list):
        if keys and key == "args":
            for index, hit in _args_hits(value):
                yield f"{pointer}/{index}", hit
        for i, item in enumerate(value):
            yield from _json_hits(item, f"{pointer}/{i}", None, keys)
        return
    if not isinstance(value, str):
        return
    for hit in _shape_hits(value):
        yield pointer, hit
    if not keys:
        return
    for hit in _url_hits(value):
        yield pointer, hit
    if key is not None and is_secret_key(key):
        v = _AUTH_SCHEME.sub("", value.strip())
        if _looks_secret(v, key):
            where = f"value of {key}"
            yield pointer, _Hit(SecretKind.GENERIC, v, where)


def _line_of(text: str | None, secret: str) -> int | None:
    if text is None:
        return None
    at = text.find(secret)
    if at < 0:
        # JSON may escape `/` or non-ASCII; a line is a nicety, not a requirement
        return None
    return text.count("\n", 0, at) + 1


def _dedupe(
    hits: Iterator[tuple[str | None, int | None, _Hit]], source: str, key: bytes | None = None
) -> list[Finding]:
    """One finding per (place, secret): a known shape beats the generic hit on the same
    value (a `Bearer sk-lm-…` header is an LM Studio token, not just "secret-looking")."""
    kept: list[tuple[str | None, int | None, _Hit]] = []
    for pointer, line, hit in hits:
        for i, (p, n, old) in enumerate(kept):
            if p == pointer and n == line and (hit.value in old.value or old.value in hit.value):
                if old.kind is SecretKind.GENERIC and hit.kind is not SecretKind.GENERIC:
                    kept[i] = (p, n, hit)
                break
        else:
            kept.append((pointer, line, hit))
    return [
        Finding(
            kind=hit.kind,
            source=source,
            pointer=pointer,
            line=line,
            length=len(hit.value),
            digest=digest_of(hit.value, key),
            where=hit.where,
            tutorial_default=hit.tutorial,
            keyed=bool(key),
        )
        for pointer, line, hit in kept
    ]


def find_secrets_in_json(
    value: Any,
    *,
    source: str,
    text: str | None = None,
    key_heuristics: bool = True,
    hash_key: bytes | None = None,
) -> list[Finding]:
    """Secrets in a parsed JSON document, each named by its JSON pointer.

    `text` (the raw file) lets a finding carry its line number. With `key_heuristics`
    off only well-known token shapes count — for files we do not own (LM Studio's own
    state), where a random-looking id under a `session` key is no credential."""
    found = (
        (pointer, _line_of(text, hit.value), hit)
        for pointer, hit in _json_hits(value, "", None, key_heuristics)
    )
    return _dedupe(found, source, hash_key)


# `export KEY=value`, `KEY="value"`, `set -x KEY value`, `"KEY": "value"`, `KEY: value`
_LINE_ASSIGN = re.compile(
    r"""^\s*(?:export\s+|set\s+(?:-gx\s+|-x\s+)?|setenv\s+|\$env:)?
        ["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?\s*(?:=|:|\s)\s*(.*?)\s*,?\s*$""",
    re.VERBOSE,
)


def _unquote(value: str) -> str:
    v = value.strip()
    m = re.match(r"""^(["'])(.*?)\1""", v)
    if m:
        return m.group(2)
    return re.split(r"\s+#", v, maxsplit=1)[0].strip()


def find_secrets_in_text(text: str, *, source: str, hash_key: bytes | None = None) -> list[Finding]:
    """Secrets in a line-based file (`.env`, shell rc) or in text we could not parse.

    Known shapes count anywhere, commented-out lines included (a token in a comment is
    still on disk); a literal under a secret-ish variable name counts on live lines."""

    def hits() -> Iterator[tuple[str | None, int | None, _Hit]]:
        for number, line in enumerate(text.splitlines(), start=1):
            for hit in _shape_hits(line):
                yield None, number, hit
            for hit in _url_hits(line):
                yield None, number, hit
            stripped = line.strip()
            if stripped.startswith(("#", "//", ";", "REM ", "rem ")):
                continue
            m = _LINE_ASSIGN.match(line)
            if m and is_secret_key(m.group(1)):
                val = _unquote(m.group(2))
                v = _AUTH_SCHEME.sub("", val)
                if _looks_secret(v, m.group(1)):
                    yield None, number, _Hit(SecretKind.GENERIC, v, f"value of {m.group(1)}")

    return _dedupe(hits(), source, hash_key)
