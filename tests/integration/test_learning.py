"""Learning with a roadmap over the HTTP API, on the embedded default (SQLite) and on real PostgreSQL.

One learner walks through simulated weeks (``?today=``): ticks concepts off, falls behind, re-plans into a new
version with a diff and a new finish date, reviews with FSRS, exports the calendar, shares the roadmap; another
user sees none of it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal
from devservices import PostgresServer
from fastapi.testclient import TestClient
from icalendar import Calendar

from roadmap_agent.server import create_app
from roadmap_agent.services import Services
from roadmap_agent.settings import Settings, WorkerSettings
from roadmap_agent.store.learning import ProgressChange
from roadmap_agent.store.records import EventType

pytestmark = pytest.mark.integration

GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"
START = date(2025, 1, 6)  # a Monday
ZONE = "Europe/Berlin"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgresql":
        pg: PostgresServer = request.getfixturevalue("pg_server")
        monkeypatch.setenv("DATABASE_URL", pg.create_database(f"learn_{uuid.uuid4().hex[:10]}"))
    return str(request.param)


@pytest.fixture
def client(backend: str, isolated_home: Any) -> Iterator[TestClient]:
    settings = Settings.load(env_file=None, worker=WorkerSettings(execution="inprocess"))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _portal(client: TestClient) -> BlockingPortal:
    assert client.portal is not None, "the client is used inside its with block"
    return client.portal


def services_of(client: TestClient) -> Services:
    services: Services = client.app_state["services"]  # the lifespan state (api/state.py)
    return services


def user_headers(client: TestClient, name: str) -> dict[str, str]:
    _user, key = _portal(client).call(lambda: services_of(client).users.create_user(name))
    return {"Authorization": f"Bearer {key}"}


def final_roadmap(client: TestClient, headers: dict[str, str], **body: Any) -> str:
    created = client.post("/api/v1/roadmaps", headers=headers,
                          json={"goal": GOAL, "auto_approve": True, **body})
    assert created.status_code == 202, created.text
    task_id = created.json()["task_id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        task = client.get(f"/api/v1/tasks/{task_id}", headers=headers).json()
        if task["status"] == "completed":
            return str(task["roadmap_id"])
        assert task["status"] not in ("failed", "cancelled"), task
        time.sleep(0.05)
    raise AssertionError("the roadmap never completed")


def week_items(progress: dict[str, Any], week: int) -> list[dict[str, Any]]:
    return [i for i in progress["items"] if i["week"] == week and i["kind"] == "concept"]


def sessions(ics: bytes) -> list[Any]:
    calendar = Calendar.from_ical(ics)
    return [e for e in calendar.walk("VEVENT") if str(e["uid"]).startswith("session-")]


def test_a_learner_falls_behind_replans_reviews_exports_and_shares(client: TestClient) -> None:
    alice, bob = user_headers(client, "alice"), user_headers(client, "bob")
    roadmap_id = final_roadmap(client, alice, timezone=ZONE, start_date=START.isoformat(), weeks=13)
    base = f"/api/v1/roadmaps/{roadmap_id}"

    mine = client.get("/api/v1/roadmaps", headers=alice).json()
    assert [r["roadmap_id"] for r in mine["items"]] == [roadmap_id]
    assert client.get("/api/v1/roadmaps", headers=bob).json()["total"] == 0

    first = client.get(f"{base}/progress", headers=alice, params={"today": START.isoformat()}).json()
    assert first["start_date"] == START.isoformat() and first["timezone"] == ZONE and first["version"] == 1
    assert first["summary"]["standing"] in ("not_started", "on_track")
    assert first["summary"]["planned_finish"] == (START + timedelta(weeks=13, days=-1)).isoformat()

    # Weeks 1-3: only week 1's concepts get done, on the 10th.
    done_ids = [i["concept_id"] for i in week_items(first, 1)]
    for concept_id in done_ids:
        put = client.put(f"{base}/progress/{concept_id}", headers=alice, params={"today": "2025-01-10"},
                         json={"state": "done", "add_hours": 2, "note": "**finally** got it"})
        assert put.status_code == 200, put.text
        assert put.json()["state"] == "done" and put.headers["ETag"] == '"1"'
    behind = client.get(f"{base}/progress", headers=alice, params={"today": "2025-01-26"}).json()["summary"]
    assert behind["standing"] == "behind" and behind["hours_ahead"] < -10
    assert behind["counts"]["done"] == len(done_ids)
    assert date.fromisoformat(behind["projected_finish"]) > date.fromisoformat(behind["planned_finish"])

    _clear_errors(client, alice, base, done_ids[0])

    # The calendar of version 1: three evening sessions a week, in the learner's zone, across DST.
    ics_v1 = client.get(f"{base}/calendar.ics", headers=alice)
    assert ics_v1.status_code == 200 and ics_v1.headers["content-type"].startswith("text/calendar")
    v1_sessions = sessions(ics_v1.content)
    schedule_weeks = len(client.get(f"{base}/versions/1", headers=alice).json()["roadmap"]["schedule"])
    assert len(v1_sessions) == 3 * schedule_weeks
    for event in v1_sessions:
        start = event.decoded("dtstart")
        assert start.hour == 19 and str(start.tzinfo) == ZONE and start.weekday() in (0, 2, 4)
    assert b"BEGIN:VTIMEZONE" in ics_v1.content and b"TZID:Europe/Berlin" in ics_v1.content

    # Re-plan on Monday of week 4 with less time a week: a new version, the done concepts out of the schedule,
    # stretch topics out of it too, and a later finish since even the core no longer fits the 10 weeks left.
    replanned = client.post(f"{base}/replan", headers=alice, params={"today": "2025-01-27"},
                            json={"hours_per_week": 6})
    assert replanned.status_code == 200, replanned.text
    body = replanned.json()
    assert body["version"] == 2
    scheduled = {c for w in body["roadmap"]["schedule"] for c in w["concept_ids"]}
    assert not scheduled & set(done_ids)
    assert {c["id"] for c in body["roadmap"]["completed"]} == set(done_ids)
    finished = {c["concept_id"] for c in body["diff"]["changes"] if c["change"] == "finished"}
    assert finished == set(done_ids)
    assert body["diff"]["finish"]["after"] > body["diff"]["finish"]["before"]
    assert body["diff"]["hours_per_week"] == {"before": 10, "after": 6}
    assert any(w.startswith("Over budget") for w in body["roadmap"]["warnings"])  # the deadline no longer holds
    assert body["progress"]["summary"]["starts_on"] == "2025-01-27"
    versions = client.get(f"{base}/versions", headers=alice).json()
    assert versions["current"] == 2 and [v["version"] for v in versions["items"]] == [1, 2]
    assert client.get(f"{base}/diff", headers=alice, params={"from": 1, "to": 2}).json() == body["diff"]
    assert client.get(f"{base}/versions/9", headers=alice).status_code == 404

    ics_v2 = client.get(f"{base}/calendar.ics", headers=alice).content
    v1_by_day = {e.decoded("dtstart").date(): str(e["uid"]) for e in v1_sessions}
    kept = [str(e["uid"]) == v1_by_day[e.decoded("dtstart").date()] for e in sessions(ics_v2)
            if e.decoded("dtstart").date() in v1_by_day]
    assert kept and all(kept)  # same day, same UID: a re-import updates instead of duplicating
    assert all(int(e["sequence"]) == 2 for e in sessions(ics_v2))

    _reviews(client, alice, base, done_ids)
    _share(client, alice, base, roadmap_id)
    _isolation(client, bob, base, done_ids[0])

    events = _portal(client).call(lambda: services_of(client).store.events_after(body["roadmap"]["id"][3:], 0))
    types = [e.type for e in events]
    assert types.count(EventType.PROGRESS_UPDATED) == len(done_ids) + 1  # and the If-Match update
    assert EventType.REPLANNED in types and EventType.REVIEWED in types
    metrics = client.get("/metrics").text
    assert 'roadmap_progress_updates_total{state="done"}' in metrics and "roadmap_replans_total 1.0" in metrics

    # Know it once: a new roadmap skips what alice finished, unless she asks not to.
    again = client.get(f"/api/v1/roadmaps/{final_roadmap(client, alice)}", headers=alice).json()
    assert set(done_ids) <= set(again["assumed_known"])
    assert not set(done_ids) & {c for w in again["schedule"] for c in w["concept_ids"]}
    fresh = client.get(f"/api/v1/roadmaps/{final_roadmap(client, alice, use_skill_profile=False)}",
                       headers=alice).json()
    assert not set(done_ids) & set(fresh["assumed_known"])
    # ... and a retried create with the same Idempotency-Key is the same request, profile or not
    key = {**alice, "Idempotency-Key": "retry-with-a-profile"}
    first = client.post("/api/v1/roadmaps", headers=key, json={"goal": "learn Docker"})
    second = client.post("/api/v1/roadmaps", headers=key, json={"goal": "learn Docker"})
    assert first.status_code == second.status_code == 202, second.text
    assert first.json()["task_id"] == second.json()["task_id"]


def _clear_errors(client: TestClient, alice: dict[str, str], base: str, concept_id: str) -> None:
    unknown = client.put(f"{base}/progress/no.such.concept", headers=alice, json={"state": "done"})
    assert unknown.status_code == 400 and concept_id in unknown.json()["error"]["message"]
    bad_state = client.put(f"{base}/progress/{concept_id}", headers=alice, json={"state": "finished"})
    assert bad_state.status_code == 422 and "'learning'" in bad_state.json()["error"]["message"]
    stale = client.put(f"{base}/progress/{concept_id}", headers={**alice, "If-Match": '"0"'}, json={"hours": 1})
    assert stale.status_code == 412
    current = client.get(f"{base}/progress/{concept_id}", headers=alice)
    ok = client.put(f"{base}/progress/{concept_id}", headers={**alice, "If-Match": current.headers["ETag"]},
                    json={"hours": 3})
    assert ok.status_code == 200 and ok.json()["hours"] == 3 and ok.json()["revision"] == 2


def _reviews(client: TestClient, alice: dict[str, str], base: str, done_ids: list[str]) -> None:
    assert client.get("/api/v1/reviews/due", headers=alice, params={"today": "2025-01-10"}).json()["items"] == []
    due = client.get("/api/v1/reviews/due", headers=alice, params={"today": "2025-01-27"}).json()["items"]
    assert {d["concept_id"] for d in due} == set(done_ids)
    first_due = date.fromisoformat(due[0]["due"])
    assert date(2025, 1, 10) < first_due <= date(2025, 1, 27)
    good = client.post(f"{base}/reviews/{due[0]['concept_id']}", headers=alice, params={"today": "2025-01-27"},
                       json={"rating": "good"}).json()
    assert date.fromisoformat(good["due"]) > date(2025, 1, 27) and good["reviews"] == 1
    after_good = date.fromisoformat(good["due"])
    again = client.post(f"{base}/reviews/{due[0]['concept_id']}", headers=alice,
                        params={"today": after_good.isoformat()}, json={"rating": "again"}).json()
    easy = client.post(f"{base}/reviews/{due[1]['concept_id']}", headers=alice, params={"today": "2025-01-27"},
                       json={"rating": "easy"}).json()
    assert date.fromisoformat(again["due"]) - after_good < date.fromisoformat(easy["due"]) - date(2025, 1, 27)
    bad = client.post(f"{base}/reviews/{due[0]['concept_id']}", headers=alice, json={"rating": "meh"})
    assert bad.status_code == 422 and "'again'" in bad.json()["error"]["message"]
    not_done = client.get(f"{base}/progress", headers=alice).json()["items"]
    todo = next(i["concept_id"] for i in not_done if i["state"] == "todo" and i["kind"] == "concept")
    assert client.post(f"{base}/reviews/{todo}", headers=alice, json={"rating": "good"}).status_code == 409
    ics = Calendar.from_ical(client.get(f"{base}/calendar.ics", headers=alice).content)
    reminders = [e for e in ics.walk("VEVENT") if str(e["uid"]).startswith("review-")]
    assert len(reminders) == len(done_ids)


def _share(client: TestClient, alice: dict[str, str], base: str, roadmap_id: str) -> None:
    made = client.post(f"{base}/share", headers=alice, json={"show_progress": True})
    assert made.status_code == 201
    path = made.json()["path"]
    anonymous = client.get(path, headers={"Authorization": ""})
    assert anonymous.status_code == 200, anonymous.text
    shown = anonymous.json()
    assert shown["roadmap"]["id"] == roadmap_id and shown["version"] == 2
    assert all(i["note"] == "" for i in shown["progress"]["items"])  # notes stay private
    assert client.get(f"/api/v1/roadmaps/{roadmap_id}/progress", headers={"Authorization": ""}).status_code == 401
    assert client.delete(f"{base}/share", headers=alice).status_code == 204
    assert client.get(path).status_code == 404


def _isolation(client: TestClient, bob: dict[str, str], base: str, concept_id: str) -> None:
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"{base}/progress", None), ("PUT", f"{base}/progress", {"updates": []}),
        ("GET", f"{base}/progress/{concept_id}", None), ("PUT", f"{base}/progress/{concept_id}", {"hours": 1}),
        ("POST", f"{base}/replan", {}), ("GET", f"{base}/versions", None), ("GET", f"{base}/versions/1", None),
        ("GET", f"{base}/diff?from=1&to=2", None), ("GET", f"{base}/calendar.ics", None),
        ("POST", f"{base}/reviews/{concept_id}", {"rating": "good"}), ("POST", f"{base}/share", {}),
        ("DELETE", f"{base}/share", None), ("GET", f"{base}/events", None),
    ]
    for method, path, body in attempts:
        answer = client.request(method, path, headers=bob, json=body)
        assert answer.status_code == 404, (method, path, answer.status_code)
    assert client.get("/api/v1/reviews/due", headers=bob, params={"today": "2030-01-01"}).json()["items"] == []


def test_concurrent_progress_updates_are_never_lost(client: TestClient) -> None:
    alice = user_headers(client, "alice")
    roadmap_id = final_roadmap(client, alice)
    items = client.get(f"/api/v1/roadmaps/{roadmap_id}/progress", headers=alice).json()["items"]
    concept_id = items[0]["concept_id"]
    user_id = _portal(client).call(lambda: services_of(client).users.authenticate(alice["Authorization"][7:]))
    assert user_id is not None
    learning = services_of(client).learning

    async def hammer() -> None:
        await asyncio.gather(*(learning.update(roadmap_id, user_id.id, concept_id, ProgressChange(add_hours=0.5))
                               for _ in range(20)))

    _portal(client).call(hammer)
    after = client.get(f"/api/v1/roadmaps/{roadmap_id}/progress/{concept_id}", headers=alice).json()
    assert after["hours"] == 10 and after["revision"] == 20


def test_set_start_date_and_timezone_then_the_summary_follows(client: TestClient) -> None:
    alice = user_headers(client, "alice")
    base = f"/api/v1/roadmaps/{final_roadmap(client, alice)}"
    moved = client.put(f"{base}/progress", headers=alice,
                       json={"start_date": "2025-03-03", "timezone": "Asia/Shanghai"})
    assert moved.status_code == 200 and moved.json()["start_date"] == "2025-03-03"
    assert moved.json()["timezone"] == "Asia/Shanghai"
    early = client.get(f"{base}/progress", headers=alice, params={"today": "2025-03-01"}).json()["summary"]
    assert early["planned_by_today"] == 0
    bad = client.put(f"{base}/progress", headers=alice, json={"timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and "IANA" in bad.json()["error"]["message"]
