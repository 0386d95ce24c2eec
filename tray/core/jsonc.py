"""A small JSONC parser that remembers where every value sits in the text.

Why not `json.loads`: the MCP audit must name the line of each server and field it reports
(`mcp.json` is hand-edited; "line 14" is what a user can act on), and users' files are often
JSONC (VS Code writes comments and trailing commas). `parse_jsonc_positions` returns the
value, a map from JSON pointer to the 1-based (line, column) where that member's key (or, for
array items and the root, the value) starts, and whether the text had comments. A syntax error
raises `JsoncError` with the line and column of the offending character.

Pure: parses the string given to it. Duplicate keys keep the last value (as JSON.parse does)
and are listed so the audit can warn about them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tray.core.words import quoted

__all__ = [
    "JsoncError",
    "JsoncResult",
    "escape_pointer",
    "parse_jsonc_positions",
    "value_at_pointer",
]


class JsoncError(ValueError):
    """The text is not JSON(C): `message` says what, `line`/`column` (1-based) say where."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} at line {line}, column {column}")
        self.message = message
        self.line = line
        self.column = column


@dataclass
class JsoncResult:
    value: Any
    positions: dict[str, tuple[int, int]]
    has_comments: bool
    duplicate_keys: list[str] = field(default_factory=list)
    empty: bool = False
    trailing_commas: bool = False
    # each comment's text without its markers, with the line it starts on
    comments: list[tuple[int, str]] = field(default_factory=list)

    def line_of(self, pointer: str) -> int | None:
        """The line of `pointer`, or of its nearest ancestor that has one."""
        p = pointer
        while True:
            if p in self.positions:
                return self.positions[p][0]
            if not p:
                return None
            p = p.rsplit("/", 1)[0]


def value_at_pointer(obj: object, pointer: str) -> object:
    """The value a JSON pointer ("/a/0/b", or relative "a/0/b") names in `obj`; None when
    there is none."""
    cur = obj
    for part in [p for p in pointer.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


def escape_pointer(token: str) -> str:
    """One JSON-pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_MAX_DEPTH = 200


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.i = 0
        self.line = 1
        self.line_start = 0
        self.positions: dict[str, tuple[int, int]] = {}
        self.has_comments = False
        self.trailing_commas = False
        self.duplicates: list[str] = []
        self.comments: list[tuple[int, str]] = []

    # --- positions ---------------------------------------------------------------------

    def _where(self, index: int | None = None) -> tuple[int, int]:
        if index is None or index == self.i:
            return self.line, self.i - self.line_start + 1
        line = self.text.count("\n", 0, index) + 1
        start = self.text.rfind("\n", 0, index) + 1
        return line, index - start + 1

    def _error(self, message: str, index: int | None = None) -> JsoncError:
        line, col = self._where(index)
        return JsoncError(message, line, col)

    def _advance(self, count: int = 1) -> None:
        for _ in range(count):
            if self.i < self.n and self.text[self.i] == "\n":
                self.line += 1
                self.line_start = self.i + 1
            self.i += 1

    # --- whitespace and comments -------------------------------------------------------

    def _skip(self) -> None:
        t = self.text
        while self.i < self.n:
            ch = t[self.i]
            if ch in " \t\r\n\ufeff":
                self._advance()
            elif t.startswith("//", self.i):
                self.has_comments = True
                start = self.i
                while self.i < self.n and t[self.i] != "\n":
                    self.i += 1
                self.comments.append((self.line, t[start + 2 : self.i]))
            elif t.startswith("/*", self.i):
                self.has_comments = True
                end = t.find("*/", self.i + 2)
                if end < 0:
                    raise self._error("Unterminated /* comment")
                self.comments.append((self.line, t[self.i + 2 : end]))
                self._advance(end + 2 - self.i)
            else:
                return

    # --- values ------------------------------------------------------------------------

    def parse(self) -> Any:
        self._skip()
        if self.i >= self.n:
            return None
        self.positions[""] = self._where()
        value = self._value("", 0)
        self._skip()
        if self.i < self.n:
            raise self._error(f"Unexpected {self._describe()} after the end of the document")
        return value

    def _describe(self) -> str:
        if self.i >= self.n:
            return "end of file"
        ch = self.text[self.i]
        return f"character {quoted(ch)}"

    def _value(self, pointer: str, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise self._error("Nesting too deep")
        if self.i >= self.n:
            raise self._error("Unexpected end of file; a value was expected")
        ch = self.text[self.i]
        if ch == "{":
            return self._object(pointer, depth)
        if ch == "[":
            return self._array(pointer, depth)
        if ch == '"':
            return self._string()
        if ch == "-" or ch.isdigit():
            return self._number()
        for word, val in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.i):
                self._advance(len(word))
                return val
        raise self._error(f"Unexpected {self._describe()}; a value was expected")

    def _object(self, pointer: str, depth: int) -> dict[str, Any]:
        self._advance()  # {
        result: dict[str, Any] = {}
        self._skip()
        if self.i < self.n and self.text[self.i] == "}":
            self._advance()
            return result
        while True:
            self._skip()
            if self.i < self.n and self.text[self.i] == "}":
                self.trailing_commas = True
                self._advance()  # trailing comma before }
                return result
            if self.i >= self.n or self.text[self.i] != '"':
                raise self._error(f"Unexpected {self._describe()}; a quoted key was expected")
            at = self._where()
            key = self._string()
            child = f"{pointer}/{escape_pointer(key)}"
            if key in result:
                self.duplicates.append(child)
            self.positions[child] = at
            self._skip()
            if self.i >= self.n or self.text[self.i] != ":":
                raise self._error(f"Unexpected {self._describe()}; ':' was expected after a key")
            self._advance()
            self._skip()
            result[key] = self._value(child, depth + 1)
            self._skip()
            if self.i < self.n and self.text[self.i] == ",":
                self._advance()
                continue
            if self.i < self.n and self.text[self.i] == "}":
                self._advance()
                return result
            raise self._error(f"Unexpected {self._describe()}; ',' or '}}' was expected")

    def _array(self, pointer: str, depth: int) -> list[Any]:
        self._advance()  # [
        result: list[Any] = []
        while True:
            self._skip()
            if self.i < self.n and self.text[self.i] == "]":
                if result:
                    self.trailing_commas = True
                self._advance()
                return result
            child = f"{pointer}/{len(result)}"
            self.positions[child] = self._where()
            result.append(self._value(child, depth + 1))
            self._skip()
            if self.i < self.n and self.text[self.i] == ",":
                self._advance()
                continue
            if self.i < self.n and self.text[self.i] == "]":
                self._advance()
                return result
            raise self._error(f"Unexpected {self._describe()}; ',' or ']' was expected")

    def _string(self) -> str:
        t = self.text
        start = self.i
        self.i += 1  # opening quote (never a newline)
        parts: list[str] = []
        chunk = self.i
        while True:
            if self.i >= self.n:
                raise self._error("Unterminated string", start)
            ch = t[self.i]
            if ch == '"':
                parts.append(t[chunk : self.i])
                self.i += 1
                return "".join(parts)
            if ch == "\n":
                raise self._error("Line break inside a string (write it as \\n)")
            if ch == "\\":
                parts.append(t[chunk : self.i])
                esc = t[self.i + 1 : self.i + 2]
                if esc in _ESCAPES:
                    parts.append(_ESCAPES[esc])
                    self.i += 2
                elif esc == "u":
                    digits = t[self.i + 2 : self.i + 6]
                    try:
                        code = int(digits, 16)
                    except ValueError:
                        raise self._error("Bad \\u escape in a string") from None
                    if len(digits) != 4:
                        raise self._error("Bad \\u escape in a string")
                    self.i += 6
                    if 0xD800 <= code < 0xDC00 and t.startswith("\\u", self.i):
                        try:
                            low = int(t[self.i + 2 : self.i + 6], 16)
                        except ValueError:
                            low = 0
                        if 0xDC00 <= low < 0xE000:
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                            self.i += 6
                    parts.append(chr(code))
                else:
                    raise self._error("Bad escape in a string")
                chunk = self.i
                continue
            self.i += 1

    def _number(self) -> int | float:
        t = self.text
        start = self.i
        j = self.i
        if t[j] == "-":
            j += 1
        while j < self.n and t[j].isdigit():
            j += 1
        is_float = False
        if j < self.n and t[j] == ".":
            is_float = True
            j += 1
            while j < self.n and t[j].isdigit():
                j += 1
        if j < self.n and t[j] in "eE":
            is_float = True
            j += 1
            if j < self.n and t[j] in "+-":
                j += 1
            while j < self.n and t[j].isdigit():
                j += 1
        literal = t[start:j]
        try:
            value: int | float = float(literal) if is_float else int(literal)
        except ValueError:
            raise self._error(f"Bad number {quoted(literal)}") from None
        self.i = j
        return value


def parse_jsonc_positions(text: str) -> JsoncResult:
    """Parse JSON with comments and trailing commas (a leading BOM is skipped).

    An empty (or whitespace/comment-only) text gives `value=None, empty=True`."""
    parser = _Parser(text.removeprefix("\ufeff"))
    value = parser.parse()
    empty = "" not in parser.positions
    return JsoncResult(
        value=value,
        positions=parser.positions,
        has_comments=parser.has_comments,
        duplicate_keys=parser.duplicates,
        empty=empty,
        trailing_commas=parser.trailing_commas,
        comments=parser.comments,
    )
