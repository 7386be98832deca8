"""Check the bundled catalog files and print each domain's core hours (see catalog_data/README.md).

    python scripts/catalog_lint.py            # every domain in _order.json plus any other *.json file
    python scripts/catalog_lint.py vue react  # print only these domains' figures (all files are checked)

Exit 1 with one line per problem. Reads the JSON directly, so it works while the planner code changes.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent.parent / "src" / "roadmap_agent" / "domain" / "catalog_data"
KINDS = {"role", "technology", "subject"}
DIFFICULTIES = {"beginner", "intermediate", "advanced"}
RESOURCE_KINDS = {"docs", "course", "book", "video", "tutorial", "article", "practice"}
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
ID = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)?$")


def load() -> dict[str, dict[str, Any]]:
    order = json.loads((FOLDER / "_order.json").read_text(encoding="utf-8"))
    names = list(order) + sorted(p.stem for p in FOLDER.glob("*.json") if not p.stem.startswith("_")
                                 and p.stem not in order)
    return {n: json.loads((FOLDER / f"{n}.json").read_text(encoding="utf-8")) for n in names}


def text_problems(where: str, raw: Any, need_zh_cjk: bool = True) -> list[str]:
    if not isinstance(raw, dict) or not raw.get("en") or not raw.get("zh"):
        return [f"{where}: needs non-empty 'en' and 'zh'"]
    if need_zh_cjk and not CJK.search(raw["zh"]):
        return [f"{where}: 'zh' has no Chinese text: {raw['zh']!r}"]
    return []


def check(domains: dict[str, dict[str, Any]]) -> tuple[list[str], dict[str, Any], dict[str, str]]:
    problems: list[str] = []
    concepts: dict[str, Any] = {}
    module_of: dict[str, str] = {}
    modules: set[str] = set()
    for name, d in domains.items():
        if d.get("id") != name:
            problems.append(f"{name}.json: id is {d.get('id')!r}")
        if d.get("kind") not in KINDS:
            problems.append(f"{name}: kind must be one of {sorted(KINDS)}")
        problems += text_problems(f"{name}: name", d.get("name"), need_zh_cjk=False)
        if not d.get("keywords", {}).get("en"):
            problems.append(f"{name}: no English keywords")
        for m in d.get("modules", []):
            if m["id"] in modules:
                problems.append(f"module {m['id']} defined twice")
            modules.add(m["id"])
            problems += text_problems(f"module {m['id']}: name", m.get("name"), need_zh_cjk=False)
            problems += text_problems(f"module {m['id']}: outcome", m.get("outcome"))
        for c in d.get("concepts", []):
            cid = c.get("id", "?")
            if cid in concepts:
                problems.append(f"concept {cid} defined twice")
            if not ID.match(cid) or cid.split(".")[0] not in domains:
                problems.append(f"concept {cid}: id must be <domain>.<name> with an existing domain prefix")
            concepts[cid] = c
            module_of[cid] = c.get("module", "")
            if c.get("module") not in {m["id"] for m in d.get("modules", [])}:
                problems.append(f"concept {cid}: module {c.get('module')!r} is not a module of {name}")
            problems += text_problems(f"concept {cid}: name", c.get("name"), need_zh_cjk=False)
            problems += text_problems(f"concept {cid}: description", c.get("description"))
            if not isinstance(c.get("hours"), int | float) or c["hours"] <= 0:
                problems.append(f"concept {cid}: hours must be > 0")
            if c.get("difficulty") not in DIFFICULTIES:
                problems.append(f"concept {cid}: difficulty must be one of {sorted(DIFFICULTIES)}")
            resources = c.get("resources", [])
            if not 1 <= len(resources) <= 3:
                problems.append(f"concept {cid}: needs 1-3 resources, has {len(resources)}")
            for r in resources:
                if not str(r.get("url", "")).startswith("https://"):
                    problems.append(f"concept {cid}: resource url must be https: {r.get('url')!r}")
                if r.get("kind", "docs") not in RESOURCE_KINDS or not r.get("title"):
                    problems.append(f"concept {cid}: resource needs a title and a kind in {sorted(RESOURCE_KINDS)}")
                if r.get("language", "en") not in ("en", "zh"):
                    problems.append(f"concept {cid}: resource language must be en or zh")
            for alias in c.get("aliases", []):
                if alias != alias.lower():
                    problems.append(f"concept {cid}: alias {alias!r} must be lower case")
    for name, d in domains.items():
        refs = [*d.get("goal_concepts", []), *d.get("stretch_concepts", [])]
        for choice in d.get("choices", []):
            options = choice.get("options", {})
            if choice.get("default") not in options:
                problems.append(f"{name}: choice {choice.get('id')}: default {choice.get('default')!r} not an option")
            for option, goals in options.items():
                if option not in domains or domains[option].get("kind") != "technology":
                    problems.append(f"{name}: choice option {option!r} is not a technology domain")
                refs += goals
        for p in d.get("projects", []):
            problems += text_problems(f"project {p.get('id')}: title", p.get("title"))
            problems += text_problems(f"project {p.get('id')}: brief", p.get("brief"))
            if not 2 <= len(p.get("criteria", [])) <= 4:
                problems.append(f"project {p.get('id')}: needs 2-4 criteria")
            for i, crit in enumerate(p.get("criteria", [])):
                problems += text_problems(f"project {p.get('id')}: criteria[{i}]", crit)
            refs += p.get("uses", [])
            if not p.get("uses"):
                problems.append(f"project {p.get('id')}: 'uses' is empty")
        if not d.get("goal_concepts"):
            problems.append(f"{name}: no goal_concepts")
        if d.get("kind") != "role" and not d.get("projects"):
            problems.append(f"{name}: no projects")
        problems += [f"{name}: unknown concept id {r!r}" for r in refs if r not in concepts]
    for cid, c in concepts.items():
        problems += [f"concept {cid}: unknown prerequisite {p!r}" for p in c.get("prerequisites", [])
                     if p not in concepts]
    problems += cycles(concepts, module_of)
    problems += term_clashes(domains, concepts)
    problems += role_neutrality(domains, concepts)
    return problems, concepts, module_of


def term_clashes(domains: dict[str, dict[str, Any]], concepts: dict[str, Any]) -> list[str]:
    """A keyword targets one domain; an alias names one concept and is no domain keyword."""
    problems: list[str] = []
    owner: dict[str, str] = {}
    for name, d in domains.items():
        for kw in [*d.get("keywords", {}).get("en", []), *d.get("keywords", {}).get("zh", [])]:
            key = kw.lower().strip()
            if key in owner and owner[key] != name:
                problems.append(f"keyword {kw!r} targets both {owner[key]} and {name}")
            owner.setdefault(key, name)
    alias_owner: dict[str, str] = {}
    for cid, c in concepts.items():
        for alias in c.get("aliases", []):
            key = alias.lower().strip()
            if key in owner:
                problems.append(f"concept {cid}: alias {alias!r} is also a keyword of domain {owner[key]}")
            if key in alias_owner and alias_owner[key] != cid:
                problems.append(f"alias {alias!r} names both {alias_owner[key]} and {cid}")
            alias_owner.setdefault(key, cid)
    return problems


def closure(goals: list[str], concepts: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    pending = list(goals)
    while pending:
        c = pending.pop()
        if c in seen or c not in concepts:
            continue
        seen.add(c)
        pending += concepts[c].get("prerequisites", [])
    return seen


def role_neutrality(domains: dict[str, dict[str, Any]], concepts: dict[str, Any]) -> list[str]:
    """A role's own core needs nothing that only one of its options teaches (Go chosen: no FastAPI)."""
    problems: list[str] = []
    for name, d in domains.items():
        core = closure(d.get("goal_concepts", []), concepts)
        for choice in d.get("choices", []):
            for option, goals in choice.get("options", {}).items():
                owned = {c["id"] for c in domains.get(option, {}).get("concepts", [])}
                specific = owned | set(goals)
                leaked = sorted(core & specific)
                if leaked:
                    problems.append(f"{name}: the role's core needs {leaked[:4]}, specific to option {option}")
    return problems


def cycles(concepts: dict[str, Any], module_of: dict[str, str]) -> list[str]:
    problems: list[str] = []
    graph = {c: [p for p in v.get("prerequisites", []) if p in concepts] for c, v in concepts.items()}
    problems += [f"prerequisite cycle: {' -> '.join(c)}" for c in find_cycles(graph)[:5]]
    mgraph: dict[str, set[str]] = {}
    for c, pres in graph.items():
        for p in pres:
            if module_of[p] != module_of[c]:
                mgraph.setdefault(module_of[c], set()).add(module_of[p])
    problems += [f"module cycle (a module needs a module that needs it): {' -> '.join(c)}"
                 for c in find_cycles({k: sorted(v) for k, v in mgraph.items()})[:5]]
    return problems


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    found: list[list[str]] = []
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    sys.setrecursionlimit(10000)
    for node in graph:
        if node not in state:
            visit(node)
    return found


def closure_hours(goals: list[str], concepts: dict[str, Any]) -> tuple[float, int]:
    seen = closure(goals, concepts)
    return sum(concepts[c]["hours"] for c in seen), len(seen)


def report(domains: dict[str, dict[str, Any]], concepts: dict[str, Any], only: list[str]) -> None:
    for name, d in domains.items():
        if only and name not in only:
            continue
        own = d.get("concepts", [])
        hours, count = closure_hours(d.get("goal_concepts", []), concepts)
        print(f"{name:22} {d.get('kind', '?'):10} {len(own):3} concepts, {len(d.get('projects', []))} projects; "
              f"core {hours:5.0f} h ({count} concepts incl. prerequisites)")
        for choice in d.get("choices", []):
            for option, goals in choice.get("options", {}).items():
                extra = goals or domains.get(option, {}).get("goal_concepts", [])
                h, n = closure_hours([*d.get("goal_concepts", []), *extra], concepts)
                mark = "*" if option == choice.get("default") else " "
                print(f"{'':22} {mark} {choice.get('id')}={option}: core {h:5.0f} h ({n} concepts)")


def main() -> int:
    domains = load()
    problems, concepts, _ = check(domains)
    report(domains, concepts, sys.argv[1:])
    print(f"{len(domains)} domains, {len(concepts)} concepts, {len(problems)} problem(s)")
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
