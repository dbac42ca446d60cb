"""The package's shape holds: no import cycle, the uploads domain reaches storage only through
its interface, and feature modules register nothing themselves (docs/architecture.md)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lti_tool"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Return the lti_tool modules a module imports, at load time or inside its functions
    (a lazy import is a dependency too), leaving out TYPE_CHECKING-only imports."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for node in ast.walk(tree)
                   if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test)
                   for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from pkg import module` depends on the module only
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return found & modules


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the import cycles (each once), by depth-first search."""
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_no_module_imports_itself_round_a_cycle(graph):
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def _reaches(graph, start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.mark.parametrize("module", ["lti_tool.uploads.attempts", "lti_tool.uploads.rules",
                                    "lti_tool.uploads.status"])
def test_the_uploads_domain_knows_storage_only_by_its_interface(graph, module):
    reached = _reaches(graph, module)
    assert not {m for m in reached if m.startswith("lti_tool.tus")}, reached
    assert not {m for m in reached if m.startswith(("lti_tool.storage.local",
                                                    "lti_tool.storage.cloudflare",
                                                    "lti_tool.storage.s3"))}


def test_feature_modules_define_but_do_not_register():
    """Only the app factory wires signals, template helpers, CLI groups and middleware."""
    from lti_tool import signals
    names = [n for n, v in vars(signals).items() if hasattr(v, "connect") and n[0] != "_"]
    markers = [f"{name}.connect(" for name in names] + [
        "jinja_env.", "app.cli.add_command", "app.wsgi_app ="]
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "__init__.py":
            continue
        text = path.read_text()
        offenders += [f"{path.relative_to(ROOT)}: {m}" for m in markers if m in text]
    allowed = {"lti_tool/web/proxies.py: app.wsgi_app =", "lti_tool/tus/fast.py: app.wsgi_app ="}
    assert set(offenders) <= allowed, offenders
