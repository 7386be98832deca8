"""A roadmap as Markdown, in its own language (the export next to the JSON, and `?format=markdown`).

Every label comes from the message catalogue (``render.*``, ``level.*``, ``resource.*``), so a Chinese
roadmap exports with Chinese headings, difficulty and resource kinds.
"""

from __future__ import annotations

from roadmap_agent.domain.catalog import load_catalog
from roadmap_agent.domain.messages import text
from roadmap_agent.domain.models import Roadmap


def _hours(value: float) -> str:
    return f"{value:g}"


def roadmap_to_markdown(roadmap: Roadmap) -> str:
    lang = roadmap.language
    sep = text("list.sep", lang)
    catalog = load_catalog()  # names of skipped and known concepts, which are not in the roadmap
    names = {cid: c.name.get(lang) for cid, c in catalog.concepts.items()}
    names.update({cid: d.name.get(lang) for cid, d in catalog.domains.items()})
    names.update({c.id: c.name for c in roadmap.concepts()})
    colon = text("punct.colon", lang)
    lines = [f"# {roadmap.title}", "", text("render.summary_line", lang, summary=roadmap.summary), ""]
    if roadmap.warnings:
        lines += [f"## {text('render.warnings', lang)}", "", *[f"- {w}" for w in roadmap.warnings], ""]
    if roadmap.notes:
        lines += [f"## {text('render.notes', lang)}", "", *[f"- {n}" for n in roadmap.notes], ""]
    if roadmap.skipped:
        skipped = sep.join(names.get(k, k) for k in roadmap.skipped)
        lines += [f"_{text('render.skipped', lang)}{colon}{skipped}_", ""]
    if shown_known := catalog.relevant_known(roadmap.assumed_known, roadmap.concept_ids()):
        known = sep.join(names.get(k, k) for k in shown_known)
        lines += [f"_{text('render.known', lang)}{colon}{known}_", ""]
    for stage in roadmap.stages:
        lines += [f"## {stage.order}. {stage.name}", ""]
        if stage.optional:
            lines += [f"_{text('render.optional', lang)}_", ""]
        for module in stage.modules:
            lines += [f"### {module.name}", ""]
            for concept in module.concepts:
                lines.append("- " + text("render.concept", lang, name=concept.name, hours=_hours(concept.hours),
                                         difficulty=text(f"level.{concept.difficulty}", lang),
                                         description=concept.description))
                needs = [names.get(p, p) for p in concept.prerequisites]
                if needs:
                    lines.append(f"  - {text('render.needs', lang)}{colon}{sep.join(needs)}")
                for resource in concept.resources:
                    lines.append("  - " + text("render.resource", lang, title=resource.title, url=resource.url,
                                               kind=text(f"resource.{resource.kind}", lang)))
            lines.append("")
        if stage.project is not None:
            lines += ["**" + text("render.project", lang, title=stage.project.title,
                                  hours=_hours(stage.project.hours)) + "**", "", stage.project.description, "",
                      *[f"- [ ] {c}" for c in stage.project.acceptance_criteria], ""]
    lines += [f"## {text('render.schedule', lang)}", ""]
    for week in roadmap.schedule:
        projects = {p.id: text("view.project_short", lang, title=p.title) for p in roadmap.projects()}
        topics = sep.join([names.get(c, c) for c in week.concept_ids] + [projects.get(p, p) for p in week.project_ids])
        lines.append("- " + text("render.week_line", lang, label=text("render.week", lang, week=week.week),
                                 hours=_hours(week.hours), topics=topics))
    return "\n".join(lines) + "\n"
