"""A roadmap as Markdown, in its own language (the export next to the JSON, and `?format=markdown`)."""

from __future__ import annotations

from roadmap_agent.domain.models import Roadmap

_LABELS = {
    "en": {"summary": "Summary", "warnings": "Warnings", "schedule": "Weekly schedule", "week": "Week",
           "hours": "h", "prereq": "needs", "resources": "Resources", "known": "Assumed known",
           "notes": "Notes", "project": "Project", "optional": "optional: outside the schedule",
           "difficulty": {"beginner": "beginner", "intermediate": "intermediate", "advanced": "advanced"}},
    "zh": {"summary": "概要", "warnings": "提醒", "schedule": "每周安排", "week": "第", "hours": "小时",
           "prereq": "前置", "resources": "资源", "known": "视为已掌握",
           "notes": "说明", "project": "项目", "optional": "选学：不在日程内",
           "difficulty": {"beginner": "入门", "intermediate": "中级", "advanced": "高级"}},
}


def roadmap_to_markdown(roadmap: Roadmap) -> str:
    labels = _LABELS[roadmap.language]
    names = {c.id: c.name for c in roadmap.concepts()}
    lines = [f"# {roadmap.title}", "", f"**{labels['summary']}:** {roadmap.summary}", ""]
    if roadmap.warnings:
        lines += [f"## {labels['warnings']}", "", *[f"- {w}" for w in roadmap.warnings], ""]
    if roadmap.notes:
        lines += [f"## {labels['notes']}", "", *[f"- {n}" for n in roadmap.notes], ""]
    if roadmap.assumed_known:
        lines += [f"_{labels['known']}: {', '.join(roadmap.assumed_known)}_", ""]
    for stage in roadmap.stages:
        lines += [f"## {stage.order}. {stage.name}", ""]
        if stage.optional:
            lines += [f"_{labels['optional']}_", ""]
        for module in stage.modules:
            lines += [f"### {module.name}", ""]
            for concept in module.concepts:
                difficulty = labels["difficulty"][concept.difficulty]  # type: ignore[index]
                lines.append(f"- **{concept.name}** ({concept.hours:g} {labels['hours']}, {difficulty}): "
                             f"{concept.description}")
                needs = [names.get(p, p) for p in concept.prerequisites]
                if needs:
                    lines.append(f"  - {labels['prereq']}: {', '.join(needs)}")
                for resource in concept.resources:
                    lines.append(f"  - [{resource.title}]({resource.url}) ({resource.kind})")
            lines.append("")
        if stage.project is not None:
            project = stage.project
            lines += [f"### {labels['project']}: {project.title} ({project.hours:g} {labels['hours']})", "",
                      project.description, "", *[f"- [ ] {c}" for c in project.acceptance_criteria], ""]
    lines += [f"## {labels['schedule']}", ""]
    for week in roadmap.schedule:
        label = f"Week {week.week}" if roadmap.language == "en" else f"第 {week.week} 周"
        projects = {p.id: f"{labels['project']}: {p.title}" for p in roadmap.projects()}
        topics = ", ".join([names.get(c, c) for c in week.concept_ids] + [projects.get(p, p) for p in week.project_ids])
        lines.append(f"- **{label}** ({week.hours:g} {labels['hours']}): {topics}")
    return "\n".join(lines) + "\n"
