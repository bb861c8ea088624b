"""The shape of the code: imports between modules run one way, and no module takes another's private names."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "passendezorg"


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(name: str) -> list[tuple[str, str, int]]:
    """(module imported, name imported from it, line) for every import of this package's code, lazy ones included."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "passendezorg":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((sub, "", node.lineno) if sub in MODULES else (target, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            out.extend((a.name, "", node.lineno) for a in node.names if a.name.split(".")[0] == "passendezorg")
    return out


def test_no_module_imports_another_modules_private_names() -> None:
    found = [f"{MODULES[m].relative_to(SRC.parent)}:{line}: `{what}` from {target}"
             for m in MODULES for target, what, line in _imports(m)
             if what.startswith("_") and not what.startswith("__") and target != m]
    assert not found, "private names imported across modules:\n" + "\n".join(found)


def test_imports_between_modules_have_no_circles() -> None:
    graph = {m: {t for t, _w, _l in _imports(m) if t in MODULES and t != m} for m in MODULES}
    # a package's __init__ that re-exports its modules is the package's front door, not a circle with them
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not circles, "modules that import each other (directly or round about): " + "; ".join(
        " ↔ ".join(c) for c in circles)


def test_the_version_is_the_one_in_pyproject() -> None:
    from passendezorg import __version__

    meta = tomllib.loads((SRC.parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert __version__ == meta["project"]["version"]
