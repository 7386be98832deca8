"""The shape of the code, read from its imports (no module is imported): drivers stay in infra/, packages form no
cycle, infra/ depends on nothing above it, and no module grows past what one reader can hold."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "roadmap_agent"
PACKAGE = "roadmap_agent"
DRIVERS = ("psycopg", "psycopg_pool", "redis", "boto3", "botocore", "openai", "procrastinate", "httpx")
# Who may import a driver: the one module per dependency, and the LLM client (openai only).
DRIVER_HOMES = {"infra": DRIVERS, "llm/client.py": ("openai",)}
MAX_LINES = 400
# Left as they are for now, each with the reason (remove an entry once its module is split or its cycle cut).
OVERSIZE: dict[str, str] = {}
BACK_EDGES: dict[tuple[str, str], str] = {}


def _modules() -> list[Path]:
    return sorted(path for path in SRC.rglob("*.py") if "migrations" not in path.relative_to(SRC).parts[:1])


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, absolute, at any depth of the file (lazy imports count too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def _part(path: Path) -> str:
    """The first-level package (``infra``, ``events``) or the top-level module (``services``) ``path`` is in."""
    relative = path.relative_to(SRC)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _part_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == PACKAGE and len(parts) > 1 else None


def _allowed(path: Path, driver: str) -> bool:
    relative = path.relative_to(SRC).as_posix()
    return any(relative == home or relative.startswith(home + "/") for home, drivers in DRIVER_HOMES.items()
               if driver in drivers)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in _modules():
        source = _part(path)
        for module in _imports(path):
            target = _part_of(module)
            if target is not None and target not in (source, "__init__") and (source, target) not in BACK_EDGES:
                graph[source].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path (first node repeated at the end), or None."""
    state: dict[str, str] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        trail.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*trail[trail.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        trail.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_only_infra_and_the_llm_client_import_a_driver() -> None:
    offenders = [f"{path.relative_to(SRC)} imports {module}" for path in _modules() for module in _imports(path)
                 if module.split(".")[0] in DRIVERS and not _allowed(path, module.split(".")[0])]
    assert not offenders, "drivers are imported outside infra/: " + "; ".join(offenders)


def test_the_migrations_import_no_driver_either() -> None:
    migrations = sorted((SRC / "migrations").rglob("*.py"))
    offenders = [f"{path.relative_to(SRC)} imports {module}" for path in migrations for module in _imports(path)
                 if module.split(".")[0] in DRIVERS]
    assert migrations and not offenders, offenders


def test_no_import_cycle_between_packages() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "package import cycle: " + " -> ".join(cycle or [])


def test_infra_is_a_leaf() -> None:
    """infra/ stands on the foundations only (and ``check`` on the LLM client, the one driver module outside)."""
    foundations = {f"{PACKAGE}.{name}" for name in ("settings", "errors", "logging", "redaction", "deadline",
                                                    "breaker", "llm.client")}
    above = sorted({f"{path.relative_to(SRC)} imports {module}" for path in _modules() if _part(path) == "infra"
                    for module in _imports(path) if _part_of(module) not in (None, "infra")
                    and module not in foundations})
    assert not above, f"infra/ imports from packages built on it: {above}"


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(SRC)))
def test_no_module_is_too_long(path: Path) -> None:
    if (reason := OVERSIZE.get(path.relative_to(SRC).as_posix())) is not None:
        pytest.skip(f"known oversize module: {reason}")
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)} has {lines} lines; split it (house style: under 400)"


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None
