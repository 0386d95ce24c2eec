"""The words the app shows stay proper English: a scan of every string in `tray/` for the
habits that crept in before — "model(s)", a plural made by hand next to the number, a
Python repr (`'name'`) or an endpoint path inside a sentence, "a OpenAI".

`tray/core/words.py` has the helpers that replace each habit. Docstrings, comments, log
calls and `__repr__` are not shown to users and are not scanned; the simulator prints LM
Studio's own texts, whatever their English, so it is left out too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tray.core.words import article

TRAY = Path(__file__).resolve().parents[2] / "tray"
LEFT_OUT = ("simulator",)
LOG_NAMES = {"log", "logger", "logging"}
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}

Text = tuple[str, "str | ast.JoinedStr"]  # (file:line, the string)


def modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if not any(x in LEFT_OUT for x in p.parts))


def _where(root: Path, path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(root.parent)}:{getattr(node, 'lineno', 0)}"


def _docstrings(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _is_log_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    owner = node.func.value
    return node.func.attr in LOG_METHODS and isinstance(owner, ast.Name) and owner.id in LOG_NAMES


def _not_shown(tree: ast.AST) -> set[int]:
    """Nodes under a log call or inside `__repr__`, and docstrings."""
    out = _docstrings(tree)
    for node in ast.walk(tree):
        if _is_log_call(node) or (isinstance(node, ast.FunctionDef) and node.name == "__repr__"):
            out.update(id(n) for n in ast.walk(node))
    return out


def texts(root: Path) -> Iterator[tuple[str, str | ast.JoinedStr]]:
    """Each string constant and f-string that may be shown to a user."""
    for path in modules(root):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _not_shown(tree)
        parts = {
            id(part) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for part in n.values
        }
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.JoinedStr):
                yield _where(root, path, node), node
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in parts
            ):
                yield _where(root, path, node), node.value


def fixed(value: str | ast.JoinedStr) -> str:
    """The fixed parts of a string, with `{}` where an f-string puts a value."""
    if isinstance(value, str):
        return value
    return "".join(
        p.value if isinstance(p, ast.Constant) and isinstance(p.value, str) else "{}"
        for p in value.values
    )


# --- the habits ------------------------------------------------------------------------


def s_in_brackets(root: Path) -> list[str]:
    """ "model(s)", "reach(es)": the count is known, so say "1 model" or "3 models"."""
    return [f"{w}: {fixed(v)!r}" for w, v in texts(root) if re.search(r"\w\((s|es)\)", fixed(v))]


def plurals_by_hand(root: Path) -> list[str]:
    """`f"{n} model{'s' if n != 1 else ''}"`: one helper does it, everywhere."""
    bad = []
    for path in modules(root):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.IfExp) and {
                b.value for b in (node.body, node.orelse) if isinstance(b, ast.Constant)
            } & {"s", "es"}:
                bad.append(_where(root, path, node))
    return bad


def reprs(root: Path) -> list[str]:
    """`{name!r}` shows Python's quotes and escapes ('it\\'s'); `quoted(name)` shows “it's”."""
    return [
        f"{w}: {fixed(v)!r}"
        for w, v in texts(root)
        if isinstance(v, ast.JoinedStr)
        and any(isinstance(p, ast.FormattedValue) and p.conversion == ord("r") for p in v.values)
    ]


def endpoint_paths(root: Path) -> list[str]:
    """A sentence names the server, not `/api/v1/...` (request paths have no spaces)."""
    return [
        f"{w}: {fixed(v)!r}"
        for w, v in texts(root)
        if " " in fixed(v) and re.search(r"/(api/v\d|v1)/", fixed(v))
    ]


def wrong_articles(root: Path) -> list[str]:
    """ "A OpenAI key", "an GPU": a fixed article before a fixed word must fit it, and one
    before a word that varies (`f"A {label}"`) cannot know it."""
    bad = []
    for w, v in texts(root):
        for m in re.finditer(r"(?:^|[\s(“\"])([Aa]n?) ([A-Za-z][\w-]*|\{\})", fixed(v)):
            if m[2] == "{}":
                bad.append(f"{w}: {m[0].strip()!r} puts a fixed article before a varying word")
            elif article(m[2]) != m[1].lower():
                bad.append(f"{w}: {m[0].strip()!r} should start with {article(m[2])!r}")
    return bad


HABITS: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "s_in_brackets": (s_in_brackets, "use tray.core.words.plural"),
    "plurals_by_hand": (plurals_by_hand, "use tray.core.words.plural"),
    "reprs": (reprs, "use tray.core.words.quoted"),
    "endpoint_paths": (endpoint_paths, "name the server, not the endpoint"),
    "wrong_articles": (wrong_articles, "use tray.core.words.with_article for a variable word"),
}

PLANTED = {  # habit: (a module with it, how many times it is there)
    "s_in_brackets": ("n = 3\nx = f'{n} model(s) loaded'\n", 1),
    "plurals_by_hand": ("n = 3\nx = f\"{n} model{'s' if n != 1 else ''}\"\n", 1),
    "reprs": ("name = 'x'\nx = f'There is no preset {name!r}.'\n", 1),
    "endpoint_paths": ("x = 'Use the servers through /api/v1/chat.'\n", 1),
    "wrong_articles": ("label = 'x'\nx = 'A OpenAI API key.'\ny = f'A {label} is here.'\n", 2),
}


@pytest.mark.parametrize("habit", sorted(HABITS))
def test_no_user_text_has_the_habit(habit: str) -> None:
    find, fix = HABITS[habit]
    found = find(TRAY)
    assert found == [], f"{fix}:\n" + "\n".join(found)


@pytest.mark.parametrize("habit", sorted(HABITS))
def test_the_scan_finds_the_habit_when_it_is_there(habit: str, tmp_path: Path) -> None:
    root = tmp_path / "tray"
    root.mkdir()
    code, times = PLANTED[habit]
    docstring = '"""A docstring may say model(s), /api/v1/chat and A OpenAI."""\n'
    (root / "planted.py").write_text(docstring + code + "log.info(f'{x!r} model(s)')\n")
    found, _ = HABITS[habit]
    assert len(found(root)) == times, found(root)
