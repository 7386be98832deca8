"""The prerequisite graph of a roadmap, laid out on the server for an inline SVG (no client-side layout).

Stages are columns, in order; a column holds its concepts top to bottom (roadmap order), each name in at
most two lines, and ends with the stage's project. An arrow runs from each prerequisite to the concept that
needs it: from the right edge of the prerequisite to the left edge of its dependent in a later column, or as a
bow on the right within a column.
Sizes are in SVG user units; the page shows the picture at its natural size in a scrollable box, so labels stay
readable on a phone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from roadmap_agent.domain.models import Roadmap

NodeKind = Literal["core", "stretch", "optional", "project"]

MARGIN = 16
HEADER = 56  # room for the stage name (two lines) above a column
COLUMN_WIDTH = 212
COLUMN_GAP = 64
LINE_HEIGHT = 16
NODE_PADDING = 11  # above the first line and below the last
ROW_GAP = 12
MAX_LINES = 2
BOW = 34  # how far an arrow within a column bows out to the right
LABEL_WIDTH = COLUMN_WIDTH - 20  # text starts 10 units inside the box
WIDE_CHAR, NARROW_CHAR = 13.0, 7.0  # approximate advance at 13 px: CJK and full-width vs Latin


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    x: float
    y: float
    width: float
    height: float
    lines: list[str]  # the name in at most two lines that fit the box
    name: str  # the full name (tooltip, link text)
    hours: float


@dataclass(frozen=True)
class Column:
    x: float
    lines: list[str]
    name: str
    optional: bool


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str  # SVG path data
    optional: bool  # leads to an optional concept


@dataclass
class Graph:
    width: float
    height: float
    columns: list[Column] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    @property
    def concept_count(self) -> int:
        return sum(1 for n in self.nodes if n.kind != "project")


def text_width(text: str) -> float:
    return sum(WIDE_CHAR if ord(ch) >= 0x2E80 else NARROW_CHAR for ch in text)


def fit(text: str, width: float = LABEL_WIDTH) -> str:
    """``text``, cut with an ellipsis so that it fits ``width``."""
    if text_width(text) <= width:
        return text
    cut = ""
    for ch in text:
        if text_width(cut + ch + "…") > width:
            break
        cut += ch
    return cut.rstrip() + "…"


def wrap(text: str, width: float = LABEL_WIDTH, max_lines: int = MAX_LINES) -> list[str]:
    """``text`` in lines that fit ``width``, broken at spaces (anywhere in CJK), the last one cut to fit."""
    lines: list[str] = []
    rest = text.strip()
    while rest and len(lines) < max_lines - 1 and text_width(rest) > width:
        cut = _break_at(rest, width)
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        lines.append(fit(rest, width))
    return lines or [""]


def _break_at(text: str, width: float) -> int:
    """Where to end a line of ``text``: after the last space that fits, else at the last character that fits."""
    fits = 0
    for index in range(1, len(text) + 1):
        if text_width(text[:index]) > width:
            break
        fits = index
    space = text.rfind(" ", 0, fits + 1)
    return space if space > 0 and not _is_wide(text[fits - 1:fits + 1]) else max(1, fits)


def _is_wide(text: str) -> bool:
    return any(ord(ch) >= 0x2E80 for ch in text)


def node_height(lines: list[str]) -> float:
    return 2 * NODE_PADDING + LINE_HEIGHT * len(lines)


def layout(roadmap: Roadmap) -> Graph:
    graph = Graph(width=0, height=0)
    bottom = 0.0
    for index, stage in enumerate(roadmap.stages):
        x = MARGIN + index * (COLUMN_WIDTH + COLUMN_GAP)
        graph.columns.append(Column(x, wrap(f"{stage.order}. {stage.name}", COLUMN_WIDTH), stage.name,
                                    stage.optional))
        y = float(MARGIN + HEADER)
        for concept in (c for m in stage.modules for c in m.concepts):
            kind: NodeKind = "optional" if concept.optional else "core" if concept.core else "stretch"
            lines = wrap(concept.name)
            graph.nodes.append(Node(concept.id, kind, x, y, COLUMN_WIDTH, node_height(lines), lines,
                                    concept.name, concept.hours))
            y += node_height(lines) + ROW_GAP
        if stage.project is not None:
            lines = wrap(stage.project.title)
            graph.nodes.append(Node(stage.project.id, "project", x, y + ROW_GAP, COLUMN_WIDTH, node_height(lines),
                                    lines, stage.project.title, stage.project.hours))
            y += node_height(lines) + 2 * ROW_GAP
        bottom = max(bottom, y)
    by_id = {n.id: n for n in graph.nodes}
    for concept in roadmap.concepts():
        for prerequisite in concept.prerequisites:
            if prerequisite in by_id and prerequisite != concept.id:
                graph.edges.append(Edge(prerequisite, concept.id, _path(by_id[prerequisite], by_id[concept.id]),
                                        concept.optional))
    columns = max(1, len(roadmap.stages))
    graph.width = 2 * MARGIN + columns * COLUMN_WIDTH + (columns - 1) * COLUMN_GAP + BOW
    graph.height = bottom + MARGIN
    return graph


def _path(source: Node, target: Node) -> str:
    sy, ty = source.y + source.height / 2, target.y + target.height / 2
    if source.x == target.x:  # same column: bow out on the right
        right = source.x + source.width
        bow = BOW * (0.6 + min(1.0, abs(ty - sy) / 400))
        return f"M{right:g},{sy:g} C{right + bow:g},{sy:g} {right + bow:g},{ty:g} {right + 2:g},{ty:g}"
    if source.x < target.x:
        start, end = source.x + source.width, target.x - 2
    else:  # an earlier column needs a later one (a draft before validation): still drawn, left to right reversed
        start, end = source.x, target.x + target.width + 2
    middle = (start + end) / 2
    return f"M{start:g},{sy:g} C{middle:g},{sy:g} {middle:g},{ty:g} {end:g},{ty:g}"
