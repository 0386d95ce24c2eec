"""Each module says what it offers (`__all__`, every name of it defined), and no module
reaches into another's private names: what is public is pinned, so moving a private
helper never breaks another module at run time."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TRAY = Path(__file__).resolve().parents[2] / "tray"
# Every module but the packages' docstring-only __init__ files and `python -m tray`'s stub.
MODULES = sorted(
    p for p in TRAY.rglob("*.py") if p.name != "__init__.py" and p != TRAY / "__main__.py"
)


def _defined(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                parts = target.elts if isinstance(target, ast.Tuple) else [target]
                names |= {t.id for t in parts if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            and isinstance(node.value, ast.List | ast.Tuple)
        ):
            return [ast.literal_eval(e) for e in node.value.elts]
    return None


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(TRAY.parent)))
def test_every_module_pins_its_public_names(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    public = _all(tree)
    assert public is not None, f"{path.name} has no __all__"
    missing = sorted(set(public) - _defined(tree))
    assert not missing, f"{path.name}: __all__ names what it does not define: {missing}"


def test_no_module_imports_another_modules_private_names() -> None:
    found = []
    for path in sorted(TRAY.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tray"):
                found += [
                    f"{path.relative_to(TRAY.parent)}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    assert found == []


def test_the_check_sees_a_private_import_and_a_missing_name(tmp_path: Path) -> None:
    module = ast.parse('from tray.ui.x import _helper\n__all__ = ["absent"]\n')
    assert _all(module) == ["absent"] and "absent" not in _defined(module)
    imports = [n for n in ast.walk(module) if isinstance(n, ast.ImportFrom)]
    assert imports[0].names[0].name.startswith("_")
