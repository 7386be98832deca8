"""The web pages' pure parts: session cookies and CSRF tokens, one-time links, the graph layout, the step list,
the change list, and the EN/ZH texts the templates use."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import pytest

from roadmap_agent.api.sessions import LoginLinks, SessionSigner
from roadmap_agent.domain.changes import EditReport
from roadmap_agent.domain.models import LEVELS, Concept, Module, Project, ResourceKind, Roadmap, Stage
from roadmap_agent.domain.progress import STATES, Standing
from roadmap_agent.domain.versions import Change
from roadmap_agent.steps import STEPS
from roadmap_agent.store.records import Event, EventType, TaskRecord, TaskStatus
from roadmap_agent.web.graph import COLUMN_WIDTH, LABEL_WIDTH, layout, text_width, wrap
from roadmap_agent.web.i18n import texts
from roadmap_agent.web.views import change_sentences, last_changes, last_diff, step_rows

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "roadmap_agent" / "web" / "templates"


def test_a_session_cookie_round_trips_and_a_changed_one_is_refused() -> None:
    signer = SessionSigner(b"s" * 32, 60)
    cookie, session = signer.issue("alice", "key-1")
    assert signer.read(cookie) == session
    payload, signature = cookie.rsplit(".", 1)
    assert signer.read(f"{payload}.{'0' * len(signature)}") is None
    assert signer.read(payload[:-2] + "xx." + signature) is None
    assert SessionSigner(b"t" * 32, 60).read(cookie) is None, "another server's secret"
    assert signer.read("garbage") is None and signer.read(None) is None


def test_a_session_expires() -> None:
    signer = SessionSigner(b"s" * 32, -1)
    cookie, _ = signer.issue("alice", "key-1")
    assert signer.read(cookie) is None


def test_the_csrf_token_belongs_to_its_session() -> None:
    signer = SessionSigner(b"s" * 32, 60)
    _, mine = signer.issue("alice", "key-1")
    _, theirs = signer.issue("alice", "key-1")
    assert signer.csrf_ok(mine, signer.csrf_token(mine))
    assert not signer.csrf_ok(mine, signer.csrf_token(theirs))
    assert not signer.csrf_ok(mine, None) and not signer.csrf_ok(mine, "")


def test_a_sign_in_link_works_once() -> None:
    links = LoginLinks()
    token = links.issue()
    assert links.redeem(token)
    assert not links.redeem(token)
    assert not links.redeem("made-up") and not links.redeem(None)


def _concept(cid: str, prerequisites: list[str] | None = None, *, optional: bool = False, core: bool = True,
             name: str | None = None) -> Concept:
    return Concept(id=cid, name=name or cid.title(), description="d", hours=2, difficulty="beginner",
                   prerequisites=prerequisites or [], optional=optional, core=core)


def _roadmap() -> Roadmap:
    first = Stage(id="s1", name="Basics", order=1, modules=[Module(id="m1", name="M", concepts=[
        _concept("a"), _concept("b", ["a"]), _concept("c", ["known.elsewhere"], core=False)])],
        project=Project(id="p1", title="Build a thing", description="d", hours=3))
    second = Stage(id="s2", name="More", order=2, optional=True, modules=[Module(id="m2", name="M", concepts=[
        _concept("d", ["a", "b"], optional=True)])])
    return Roadmap(id="rm-x", title="T", summary="S", language="en", total_hours=9, weeks=1, hours_per_week=10,
                   stages=[first, second])


def test_the_graph_has_a_column_per_stage_a_node_per_concept_and_project_and_an_arrow_per_prerequisite() -> None:
    graph = layout(_roadmap())
    assert [c.name for c in graph.columns] == ["Basics", "More"]
    kinds = {n.id: n.kind for n in graph.nodes}
    assert kinds == {"a": "core", "b": "core", "c": "stretch", "p1": "project", "d": "optional"}
    assert graph.concept_count == 4
    assert {(e.source, e.target) for e in graph.edges} == {("a", "b"), ("a", "d"), ("b", "d")}
    assert [e.optional for e in graph.edges if e.target == "d"] == [True, True]
    by_id = {n.id: n for n in graph.nodes}
    assert by_id["d"].x > by_id["a"].x and by_id["b"].y > by_id["a"].y
    assert max(n.x + n.width for n in graph.nodes) <= graph.width
    assert max(n.y + n.height for n in graph.nodes) <= graph.height


@pytest.mark.parametrize("name", ["Using a database from application code with transactions and migrations",
                                  "在应用代码中使用数据库：事务、连接池与迁移的完整实践指南",
                                  "Short"])
def test_node_labels_wrap_into_two_lines_that_fit_the_box(name: str) -> None:
    lines = wrap(name)
    assert 1 <= len(lines) <= 2
    assert all(text_width(line) <= LABEL_WIDTH for line in lines)
    assert LABEL_WIDTH < COLUMN_WIDTH
    assert "".join(lines).replace("…", "").replace(" ", "") in name.replace(" ", "")


def _event(seq: int, type_: EventType, *, step: str | None = None, status: str | None = None,
           data: dict[str, object] | None = None, message: str = "m") -> Event:
    return Event(task_id="t", seq=seq, type=type_, step=step, status=status, message=message, data=data or {},
                 timestamp=datetime.now(UTC))


def test_the_step_list_shows_each_step_once_with_its_planner_and_the_review() -> None:
    events = [_event(1, EventType.PROGRESS, status="pending"),
              _event(2, EventType.PROGRESS, step="intent_analysis", status="started"),
              _event(3, EventType.PROGRESS, step="intent_analysis", status="completed",
                     data={"planner": "offline", "duration_ms": 5.0}),
              _event(4, EventType.PROGRESS, step="curriculum_design", status="started"),
              _event(5, EventType.HUMAN_REVIEW_REQUIRED, data={"review_round": 1, "changes": ["Removed X."]}),
              _event(6, EventType.FAILED, message="boom")]
    rows = step_rows(events)
    assert [(r.key, r.state) for r in rows] == [
        ("event.accepted", "info"), ("step.intent_analysis", "done"), ("step.curriculum_design", "failed"),
        ("event.human_review_required", "waiting"), ("event.failed", "failed")]
    assert rows[1].planner == "offline" and rows[1].duration_ms == 5.0
    assert last_changes(events) == ["Removed X."]


def test_the_change_list_reads_sentences_and_an_edit_report() -> None:
    assert change_sentences(["a", "b"]) == ["a", "b"]
    report = {"applied": [{"kind": "skipped", "message": "Skipped Docker."}],
              "not_understood": [{"text": "zz", "message": "Could not apply 'zz'."}], "diff": {}}
    assert change_sentences(report) == ["Skipped Docker.", "Could not apply 'zz'."]
    assert change_sentences(None) == []


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_text_is_in_english_and_chinese_with_the_same_placeholders() -> None:
    for key, value in texts().items():
        assert set(value) == {"en", "zh"}, key
        assert _fields(value["en"]) == _fields(value["zh"]), key


def test_every_text_a_template_names_exists() -> None:
    used = set()
    for template in TEMPLATES.iterdir():
        used |= set(re.findall(r"""\bt\('([a-z_.]*[a-z_])'[,)]""", template.read_text()))
    assert used, "no t('...') calls found"
    assert used - set(texts()) == set()
    # the keys templates build: 'status.' ~ task.status, 'level.' ~ ..., and so on
    built = ([f"status.{s.value}" for s in TaskStatus] + [f"level.{level}" for level in LEVELS]
             + [f"kind.{kind}" for kind in get_args(ResourceKind)] + [f"step.{step}" for step in STEPS]
             + [f"state.{state}" for state in ("running", "done", "waiting", "failed", "info")]
             + [f"planner.{planner}" for planner in ("offline", "llm")]
             + [f"progress.state.{state}" for state in STATES] + [f"standing.{s}" for s in get_args(Standing)]
             + [f"vchange.{change}" for change in get_args(Change)]
             + [f"reviews.{rating}" for rating in ("again", "hard", "good", "easy")])
    assert set(built) - set(texts()) == set()


def test_the_review_page_reads_the_diff_of_the_latest_edit_only() -> None:
    def asked(seq: int, report: object) -> Event:
        return Event(task_id="t", seq=seq, type=EventType.HUMAN_REVIEW_REQUIRED, message="",
                     data={"report": report}, timestamp=datetime(2025, 1, 1, tzinfo=UTC))

    edit = EditReport.model_validate({"diff": {"removed": [{"concept_id": "docker", "name": "Docker", "hours": 6}],
                                               "weeks_before": 13, "weeks_after": 8}})
    found = last_diff([asked(1, edit.model_dump(mode="json")), asked(2, edit.model_dump(mode="json"))])
    assert found is not None and found.removed[0].name == "Docker" and found.weeks_after == 8
    assert last_diff([asked(1, edit.model_dump(mode="json")), asked(2, None)]) is None, "a fresh draft: no diff"
    assert last_diff([]) is None


class _FailsMidRender:
    """A task store whose task fails (status and event at once, as the runner writes them) right after the
    render's first or second read: wherever that lands, the page must not show steps newer than its status."""

    def __init__(self, fail_after_reads: int) -> None:
        self.reads, self.fail_after, now = 0, fail_after_reads, datetime.now(UTC)
        self.task = TaskRecord(task_id="t", owner="me", status=TaskStatus.RUNNING, request={"goal": "g"},
                               created_at=now, updated_at=now)
        self.events = [Event(task_id="t", seq=1, type=EventType.PROGRESS, step="intent_analysis",
                             status="started", message="", timestamp=now)]

    def _read(self) -> None:
        self.reads += 1
        if self.reads == self.fail_after:
            self.task = self.task.model_copy(update={"status": TaskStatus.FAILED, "error": "out of scope"})
            self.events.append(Event(task_id="t", seq=2, type=EventType.FAILED, status="failed", message="no",
                                     timestamp=datetime.now(UTC)))

    async def get_task(self, task_id: str, owner: str | None = None) -> TaskRecord:
        task = self.task
        self._read()
        return task

    async def events_after(self, task_id: str, after: int) -> list[Event]:
        events = list(self.events)
        self._read()
        return events


@pytest.mark.parametrize("fail_after_reads", [1, 2, 3])
async def test_the_task_page_never_lists_a_terminal_step_under_a_working_status(fail_after_reads: int) -> None:
    from roadmap_agent.web.task_routes import task_context

    store = _FailsMidRender(fail_after_reads)
    context = await task_context(store, "t", "me")  # type: ignore[arg-type]
    ended = any(e.type == EventType.FAILED and e.seq <= context["last_seq"] for e in store.events)
    assert context["terminal"] or not ended, "the page would wait for an event it has already shown"
