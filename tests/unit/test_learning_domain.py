"""The pure learning logic: standing against the schedule, re-planning and diffs, FSRS dates, the calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache

from icalendar import Calendar

from roadmap_agent.domain.calendar import CalendarInput, CalendarOptions, Reminder, build_calendar
from roadmap_agent.domain.catalog import Catalog, load_catalog
from roadmap_agent.domain.models import LearnerRequest, Roadmap
from roadmap_agent.domain.planning import plan_request
from roadmap_agent.domain.progress import ItemProgress, planned_by, summarize
from roadmap_agent.domain.reviews import due_on, first_card, review
from roadmap_agent.domain.versions import aligned_start, diff, replan, weeks_until

START = date(2025, 3, 3)  # a Monday; Europe's clocks move on 30 March
GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


@cache
def catalog() -> Catalog:
    return load_catalog()


def roadmap() -> tuple[Roadmap, list[str]]:
    intent, planned = plan_request(LearnerRequest(goal=GOAL, weeks=13), catalog(), "rm-test")
    return planned, intent.domains


def done(*ids: str) -> dict[str, ItemProgress]:
    return {i: ItemProgress(concept_id=i, state="done") for i in ids}


def test_planned_hours_grow_by_the_day_and_stop_at_the_schedule() -> None:
    planned, _ = roadmap()
    assert planned_by(planned, START, START - timedelta(days=1)) == 0
    assert planned_by(planned, START, START + timedelta(days=6)) == planned.schedule[0].hours
    assert planned_by(planned, START, START + timedelta(days=1000)) == round(sum(w.hours for w in planned.schedule), 2)


def test_a_learner_who_keeps_pace_is_on_track_and_one_who_stops_is_behind() -> None:
    planned, _ = roadmap()
    week_one = done(*planned.schedule[0].concept_ids)
    hours = sum(c.hours for c in planned.concepts() if c.id in week_one)
    day = next(START + timedelta(days=n) for n in range(60) if planned_by(planned, START, START + timedelta(days=n))
               >= hours)  # the day the plan expected those hours to be done
    on_time = summarize(planned, week_one, START, day)
    assert on_time.standing == "on_track" and on_time.projected_finish is not None
    late = summarize(planned, week_one, START, START + timedelta(days=27))
    assert late.standing == "behind" and late.hours_ahead < -20
    assert late.projected_finish is not None and late.projected_finish > late.planned_finish
    early = summarize(planned, done(*planned.schedule[0].concept_ids, *planned.schedule[1].concept_ids,
                                    *planned.schedule[2].concept_ids), START, START + timedelta(days=6))
    assert early.standing == "ahead" and early.hours_ahead > 0
    assert summarize(planned, {}, START, START - timedelta(days=3)).standing == "not_started"


def test_replan_takes_finished_concepts_out_and_says_when_the_deadline_no_longer_holds() -> None:
    planned, domains = roadmap()
    finished = planned.schedule[0].concept_ids
    skipped = {planned.schedule[1].concept_ids[0]: ItemProgress(concept_id=planned.schedule[1].concept_ids[0],
                                                                state="skipped")}
    new = replan(planned, {**done(*finished), **skipped}, catalog(), domains, weeks=4, hours_per_week=10)
    scheduled = {c for w in new.schedule for c in w.concept_ids}
    assert not scheduled & {*finished, *skipped}
    assert {c.id for c in new.completed} == {*finished, *skipped}
    assert new.warnings and new.warnings[-1].startswith("Over budget")
    assert new.assumed_known == planned.assumed_known
    changes = diff(planned, START, new, aligned_start(START, START + timedelta(days=10)), from_version=1,
                   to_version=2)
    kinds = {c.concept_id: c.change for c in changes.changes}
    assert all(kinds[c] == "finished" for c in [*finished, *skipped])
    assert changes.weeks.before == 13


def test_diff_of_a_version_with_itself_is_empty_and_a_new_pace_moves_concepts() -> None:
    planned, domains = roadmap()
    assert diff(planned, START, planned, START, from_version=1, to_version=1).changes == []
    slower = replan(planned, {}, catalog(), domains, weeks=26, hours_per_week=5)
    kinds = {c.change for c in diff(planned, START, slower, START, from_version=1, to_version=2).changes}
    assert "moved" in kinds


def test_aligned_start_and_weeks_until_count_whole_weeks() -> None:
    assert aligned_start(START, START + timedelta(days=16)) == START + timedelta(days=14)
    assert aligned_start(START, START - timedelta(days=5)) == START
    assert weeks_until(START, START + timedelta(days=70)) == 10
    assert weeks_until(START, START) == 1


def test_fsrs_dates_grow_with_good_answers_and_shrink_after_again() -> None:
    card = first_card(START)
    first = due_on(card)
    assert first > START
    good = review(card, "good", first)
    again = review(card, "again", first)
    easy = review(card, "easy", first)
    assert due_on(again) < due_on(good) < due_on(easy)
    assert review(card, "good", first) == good  # no fuzz: the same history gives the same date


def test_calendar_sessions_keep_local_time_across_dst_and_uids_by_day() -> None:
    planned, domains = roadmap()
    options = CalendarOptions(timezone="Europe/Berlin", days=("tue", "thu"))
    source = CalendarInput(planned, START, 1, options, [Reminder("x.y", "Something", START + timedelta(days=3))])
    calendar = Calendar.from_ical(build_calendar(source, stamp=_stamp()))
    sessions = [e for e in calendar.walk("VEVENT") if str(e["uid"]).startswith("session-")]
    assert len(sessions) == 2 * len(planned.schedule)
    assert {e.decoded("dtstart").hour for e in sessions} == {19}
    offsets = {e.decoded("dtstart").utcoffset() for e in sessions}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}  # CET before 30 March, CEST after
    assert len({str(e["uid"]) for e in sessions}) == len(sessions)
    minutes = (sessions[0].decoded("dtend") - sessions[0].decoded("dtstart")).total_seconds() / 60
    assert minutes == planned.schedule[0].hours * 60 / 2
    reviews = [e for e in calendar.walk("VEVENT") if str(e["uid"]).startswith("review-")]
    assert [str(e["summary"]) for e in reviews] == ["Review: Something"]
    later = replan(planned, done(*planned.schedule[0].concept_ids), catalog(), domains, weeks=12,
                   hours_per_week=10)
    again = Calendar.from_ical(build_calendar(CalendarInput(later, START + timedelta(days=7), 2, options),
                                              stamp=_stamp()))
    old = {e.decoded("dtstart"): str(e["uid"]) for e in sessions}
    new = {e.decoded("dtstart"): str(e["uid"]) for e in again.walk("VEVENT")}
    shared = old.keys() & new.keys()
    assert shared and all(old[k] == new[k] for k in shared)


def _stamp() -> datetime:
    return datetime(2025, 3, 1, tzinfo=UTC)
