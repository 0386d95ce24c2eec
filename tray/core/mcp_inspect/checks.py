"""Group T of `shared/mcp/CHECKS.md`: checks on what running MCP servers declare, pure.

`declared_findings(servers)` looks at every tool, prompt and resource the inspected servers
declared: hidden instructions (T1), cross-server shadowing (T2), hidden Unicode with Unicode
tag characters decoded and shown (T4), references to sensitive files (T5), input parameters
that make a side channel (T6), tools that change or destroy things without saying so in
their annotations (T9), and one tool name declared by two servers (T10, our id: the host
cannot tell which one the model means). Rug pulls (T7) compare against pins: `pins`.

Words are matched as words (`get_output` does not "put"); names are split at `_`, `-`, `.`
and camelCase first.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from tray.core.mcp_audit.model import Severity
from tray.core.mcp_inspect.model import DeclaredItem, DeclaredServer, InspectFinding
from tray.core.words import join_and, quoted

__all__ = [
    "declared_findings",
    "decode_tags",
    "hidden_characters",
    "name_words",
]

_DISABLE = "Disable the server in mcp.json (or remove it) until its author explains this."


def name_words(name: str) -> list[str]:
    """`deleteFile`, `delete_file`, `delete-file` → ["delete", "file"] (lower case)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def _what(item: DeclaredItem) -> str:
    return f"{item.kind} {quoted(item.name)}"


def _texts(item: DeclaredItem) -> Iterator[str]:
    """Every text of an item a model reads: its description and its parameters' names,
    titles and descriptions (nested schemas included)."""
    yield item.description
    yield from _schema_texts(item.input_schema, depth=0)


def _schema_texts(schema: Any, depth: int) -> Iterator[str]:
    if depth > 8:
        return
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in {"description", "title"} and isinstance(value, str):
                yield value
            elif key == "properties" and isinstance(value, dict):
                for prop, sub in value.items():
                    yield str(prop)
                    yield from _schema_texts(sub, depth + 1)
            else:
                yield from _schema_texts(value, depth + 1)
    elif isinstance(schema, list):
        for value in schema:
            yield from _schema_texts(value, depth + 1)
    elif isinstance(schema, str) and depth > 0:
        yield schema  # enum values, defaults


def _short(text: str, limit: int = 120) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


# --- T1 hidden instructions -----------------------------------------------------------

_INSTRUCTION_PATTERNS = [
    r"<\s*/?\s*(important|instructions?|secret|system|hidden|admin|note_to_ai|critical)\s*>",
    r"\bignore\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|other)\s+"
    r"(instructions?|rules|prompts?|messages?)",
    r"\b(do\s+not|don'?t|never)\s+(tell|mention|inform|reveal|show|alert|notify)\s+"
    r"(this\s+to\s+)?(the\s+)?user",
    r"\bwithout\s+(telling|informing|notifying|asking|alerting)\s+(the\s+)?user",
    r"\b(the\s+)?user\s+(must|should)\s+not\s+(know|see|be\s+told)",
    r"\bnever\s+(reveal|mention|disclose)\b",
    r"\balways\s+(include|send|pass|append|attach|forward|upload)\b.{0,60}\b(content|"
    r"contents|file|key|token|password|conversation|history)\b",
]
_INSTRUCTION_RE = re.compile("|".join(f"(?:{p})" for p in _INSTRUCTION_PATTERNS), re.I | re.S)


def _t1(server: DeclaredServer, item: DeclaredItem, out: list[InspectFinding]) -> None:
    for text in _texts(item):
        m = _INSTRUCTION_RE.search(text)
        if m:
            out.append(
                InspectFinding(
                    id="T1",
                    severity=Severity.CRITICAL,
                    server=server.name,
                    tool=item.name,
                    message=f"The {_what(item)} carries instructions to the model, not a "
                    f"description for you: {quoted(_short(m.group(0), 80))}. A model reads "
                    "it as part of its prompt (tool poisoning).",
                    fix=_DISABLE,
                )
            )
            return


# --- T2 shadowing ------------------------------------------------------------------------

_SHADOW_RE = re.compile(
    r"\binstead\s+of\s+(using\s+)?(the\s+)?[\w.-]+\s+(tool|server)"
    r"|\bwhen\s+(the\s+)?[\w.-]+\s+(tool|server)\s+is\s+(available|present|installed|used|called)"
    r"|\bbefore\s+(using|calling)\s+any\s+(other\s+)?tools?"
    r"|\b(whenever|every\s+time)\s+(you\s+)?(use|call)\s+(any\s+)?(other\s+)?tools?"
    r"|\b(all|any)\s+other\s+tools?\s+(must|should)"
    r"|\b(overrides?|replaces?|supersedes?)\s+(the\s+)?[\w.-]+\s+(tool|server)",
    re.I,
)


def _identifier_like(name: str) -> bool:
    return len(name) >= 4 and (bool(re.search(r"[_\-.]", name)) or name != name.lower())


def _t2(
    server: DeclaredServer,
    item: DeclaredItem,
    others: dict[str, str],
    out: list[InspectFinding],
) -> None:
    """`others`: identifier-like tool names of the other servers → their server."""
    text = item.description
    m = _SHADOW_RE.search(text)
    mentioned = [
        n
        for n in others
        if n != item.name and re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text)
    ]
    if not m and not mentioned:
        return
    if mentioned:
        names = join_and([f"{quoted(n)} ({others[n]})" for n in mentioned[:3]])
        what = f"names tools of other servers: {names}"
    else:
        what = f"tells the model how to use other tools: {quoted(_short(m.group(0) if m else ''))}"
    out.append(
        InspectFinding(
            id="T2",
            severity=Severity.HIGH,
            server=server.name,
            tool=item.name,
            message=f"The {_what(item)} {what}. A server that steers the use of another "
            "server's tools can redirect what they send (tool shadowing).",
            fix=_DISABLE,
        )
    )


# --- T4 hidden Unicode ---------------------------------------------------------------------

_TAG_START, _TAG_END = 0xE0000, 0xE007F
_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))
_ZERO_WIDTH = {0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF}


def decode_tags(text: str) -> str:
    """The ASCII message hidden in Unicode tag characters (U+E0020–U+E007E), else ""."""
    return "".join(chr(ord(c) - _TAG_START) for c in text if 0xE0020 <= ord(c) <= 0xE007E)


def hidden_characters(text: str) -> dict[str, int]:
    """Kinds of invisible characters in `text` → how many: tag characters, bidi controls,
    zero-width characters, other format (Cf) and control (Cc) characters (tab, newline and
    carriage return are allowed)."""
    kinds: dict[str, int] = defaultdict(int)
    for c in text:
        cp = ord(c)
        if _TAG_START <= cp <= _TAG_END:
            kinds["Unicode tag characters"] += 1
        elif cp in _BIDI:
            kinds["bidirectional controls"] += 1
        elif cp in _ZERO_WIDTH:
            kinds["zero-width characters"] += 1
        elif c in "\t\n\r":
            continue
        else:
            cat = unicodedata.category(c)
            if cat == "Cf":
                kinds["other invisible format characters"] += 1
            elif cat == "Cc":
                kinds["control characters"] += 1
    return dict(kinds)


def _t4(server: DeclaredServer, item: DeclaredItem, out: list[InspectFinding]) -> None:
    text = "\n".join([item.name, *_texts(item)])
    kinds = hidden_characters(text)
    if not kinds:
        return
    hidden = decode_tags(text)
    counts = join_and([f"{n} {kind}" for kind, n in kinds.items()])
    message = f"The {_what(item)} holds characters you cannot see: {counts}."
    if hidden:
        message += f" Decoded, the tag characters say: {quoted(_short(hidden, 160))}."
    severe = bool(hidden) or len(kinds) >= 3
    out.append(
        InspectFinding(
            id="T4",
            severity=Severity.HIGH if severe else Severity.MEDIUM,
            server=server.name,
            tool=item.name,
            message=message + " A model reads them; you do not.",
            fix=_DISABLE,
        )
    )


# --- T5 sensitive files --------------------------------------------------------------------

_SENSITIVE_HIGH = re.compile(
    r"(~|\$HOME|/home/\w+|/Users/\w+)?/\.ssh\b|\bid_(rsa|dsa|ecdsa|ed25519)\b|/etc/(passwd|shadow)"
    r"|\bmcp\.json\b|(?<![\w.])\.cursor/|\.aws/credentials|\.git-credentials|\.netrc\b"
    r"|\.npmrc\b|\.pypirc\b|\.docker/config\.json|\.kube/config|\bcredentials\.json\b"
    r"|\.config/gcloud|(\.\./){2,}|\bwallet\.dat\b|\bkeychain\b",
    re.I,
)
_SENSITIVE_MEDIUM = re.compile(r"(?<![\w.])\.env\b(?!\.example|\.sample|\.template)", re.I)


def _t5(server: DeclaredServer, item: DeclaredItem, out: list[InspectFinding]) -> None:
    for text in _texts(item):
        m = _SENSITIVE_HIGH.search(text)
        sev = Severity.HIGH
        if not m:
            m = _SENSITIVE_MEDIUM.search(text)
            sev = Severity.MEDIUM
        if m:
            out.append(
                InspectFinding(
                    id="T5",
                    severity=sev,
                    server=server.name,
                    tool=item.name,
                    message=f"The {_what(item)} mentions a file that holds secrets or "
                    f"settings: {quoted(m.group(0))}. A description that points the model "
                    "at such a file can make it read and send it.",
                    fix="Read the description; unless the tool is meant to manage that file, "
                    + _DISABLE[0].lower()
                    + _DISABLE[1:],
                )
            )
            return


# --- T6 side-channel parameters ------------------------------------------------------------

_CHANNEL_WORDS = {
    "note",
    "notes",
    "feedback",
    "details",
    "extra",
    "additional",
    "metadata",
    "debug",
    "sidenote",
    "context",
    "annotation",
    "annotations",
    "reasoning",
    "remark",
    "remarks",
    "conversation",
    "history",
    "thoughts",
}
_FILLER = {"info", "information", "data", "text", "the", "any", "other", "for", "ai", "model"}


def _channel_params(schema: dict[str, Any]) -> list[str]:
    props = schema.get("properties")
    if not isinstance(props, dict):
        return []
    out: list[str] = []
    for name in props:
        words = name_words(str(name))
        if (
            words
            and any(w in _CHANNEL_WORDS for w in words)
            and all(w in _CHANNEL_WORDS or w in _FILLER for w in words)
        ):
            out.append(str(name))
    return out


def _t6(server: DeclaredServer, item: DeclaredItem, out: list[InspectFinding]) -> None:
    params = _channel_params(item.input_schema)
    if not params:
        return
    out.append(
        InspectFinding(
            id="T6",
            severity=Severity.MEDIUM,
            server=server.name,
            tool=item.name,
            message=f"The {_what(item)} takes free-text parameters that say nothing about the "
            f"task: {join_and([quoted(p) for p in params])}. Such a parameter lets a poisoned "
            "description have the model send your conversation or files along.",
            fix="Check what the parameter is for; approve each call of this tool by hand.",
        )
    )


# --- T9 tools that change things, without hints ---------------------------------------------

_DESTRUCTIVE = {
    "delete", "remove", "rm", "drop", "destroy", "kill", "truncate", "purge", "wipe", "erase",
    "unlink", "overwrite", "reset", "terminate", "shutdown", "uninstall", "revoke", "rmdir",
    "clear",
}  # fmt: skip
_CHANGING = {
    "write", "create", "update", "edit", "insert", "set", "put", "patch", "exec", "execute",
    "run", "eval", "send", "push", "deploy", "move", "rename", "upload", "publish", "transfer",
    "pay", "commit", "merge", "install", "apply", "modify", "append", "save", "invite",
    "approve", "cancel",
}  # fmt: skip
# a name that starts with one of these reads: `get_post`, `list_commands`, `read_email`
_READING = {
    "get", "list", "read", "search", "fetch", "find", "query", "show", "describe", "view",
    "lookup", "count", "check", "inspect", "validate", "preview", "explain", "download",
}  # fmt: skip


def _t9(server: DeclaredServer, item: DeclaredItem, out: list[InspectFinding]) -> None:
    if item.kind != "tool":
        return
    ordered = name_words(item.name)
    words = set(ordered) if ordered and ordered[0] not in _READING else set()
    hints = item.annotations or {}
    read_only = hints.get("readOnlyHint")
    destructive_hint = hints.get("destructiveHint")
    destroys = sorted(words & _DESTRUCTIVE)
    changes = sorted(words & _CHANGING)
    if read_only is True and (destroys or changes):
        verb = (destroys or changes)[0]
        sev, msg = (
            Severity.MEDIUM,
            f"The {_what(item)} says it is read-only, but its name says {quoted(verb)}. "
            "A host that trusts the hint runs it without asking.",
        )
    elif destroys and read_only is None and destructive_hint is None:
        sev, msg = (
            Severity.MEDIUM,
            f"The {_what(item)} can destroy things ({quoted(destroys[0])}) and declares no "
            "readOnlyHint or destructiveHint, so a host cannot know to ask first.",
        )
    elif changes and not destroys and read_only is None and destructive_hint is None:
        sev, msg = (
            Severity.LOW,
            f"The {_what(item)} changes or sends things ({quoted(changes[0])}) and declares "
            "no readOnlyHint or destructiveHint.",
        )
    else:
        return
    out.append(
        InspectFinding(
            id="T9",
            severity=sev,
            server=server.name,
            tool=item.name,
            message=msg,
            fix="Approve each call of this tool by hand (never auto-approve it).",
        )
    )


# --- T10 one name, two servers -----------------------------------------------------------


def _t10(servers: list[DeclaredServer], out: list[InspectFinding]) -> None:
    owners: dict[str, list[str]] = defaultdict(list)
    for s in servers:
        for t in s.tools:
            if s.name not in owners[t.name]:
                owners[t.name].append(s.name)
    for tool, names in owners.items():
        if len(names) < 2:
            continue
        for name in names:
            rest = join_and([quoted(n) for n in names if n != name])
            out.append(
                InspectFinding(
                    id="T10",
                    severity=Severity.MEDIUM,
                    server=name,
                    tool=tool,
                    message=f"The tool {quoted(tool)} is also declared by {rest}. A model "
                    "given both may call the wrong one, and one can stand in for the other.",
                    fix="Keep only one of these servers enabled, or check which one LM Studio "
                    "calls.",
                )
            )


def declared_findings(servers: Iterable[DeclaredServer]) -> list[InspectFinding]:
    """Group T (except T7) over every server that was inspected: per server in the given
    order, per item in declared order; T10 last."""
    done = [s for s in servers if s.items]
    out: list[InspectFinding] = []
    for server in done:
        own = {t.name for t in server.tools}
        others = {
            t.name: o.name
            for o in done
            if o.name != server.name
            for t in o.tools
            if _identifier_like(t.name) and t.name not in own
        }
        for item in server.items:
            _t1(server, item, out)
            _t2(server, item, others, out)
            _t4(server, item, out)
            _t5(server, item, out)
            if item.kind == "tool":
                _t6(server, item, out)
                _t9(server, item, out)
    _t10(done, out)
    return out
