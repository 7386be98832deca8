"""Property-based fuzzing of every /api/v1 route: hostile input always gets a 4xx with a message, never a 5xx, and
leaves existing data as it was.

Hypothesis draws the method and path from the OpenAPI-listed routes, ids (real, another user's, hostile), query
values, bodies (malformed bytes, wrong types, unicode-heavy, oversized, NUL and lone surrogates, SQL/path/template
injection shapes) and Authorization headers.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving import local_key
from test_auth import GOAL, ROUTES, WRONG_KEY

from roadmap_agent.server import create_app
from roadmap_agent.settings import Settings

pytestmark = pytest.mark.integration


class Big(str):
    """A long string with a short repr (Hypothesis prints the arguments of a failing example)."""

    def __repr__(self) -> str:
        return f"Big({str.__repr__(self[:24])}... {len(self)} chars)"


class BigBytes(bytes):
    def __repr__(self) -> str:
        return f"BigBytes({bytes.__repr__(self[:24])}... {len(self)} bytes)"


INJECTIONS = ["' OR 1=1 --", "\"; DROP TABLE tasks; --", "../../../etc/passwd", "..%2F..%2Fetc", "%00", "\x00",
              "\ud800", "<script>alert(1)</script>", "{{7*7}}", "${jndi:ldap://x/a}", Big("😀" * 600),
              Big("我想学" * 800), Big("a" * 70_000), "\u202e\u200b\ufeff", "null", "[]", "{}", "-1", "1e309", "NaN"]
HOSTILE_TEXT = st.one_of(st.text(max_size=200), st.sampled_from(INJECTIONS))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), HOSTILE_TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
FIELDS = ["goal", "hours_per_week", "weeks", "level", "known_skills", "language", "auto_approve", "approved",
          "feedback"]
SHAPED = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6)
BODY = st.one_of(SHAPED.map(lambda d: BigBytes(json.dumps(d).encode())),
                 JSON.map(lambda v: BigBytes(json.dumps(v).encode())),
                 st.binary(max_size=3000), st.just(BigBytes(b'{"goal": "' + b"x" * 100_000 + b'"}')))
QUERY = st.dictionaries(st.sampled_from(["after", "limit", "offset", "format", "all", "token"]),
                        st.one_of(HOSTILE_TEXT, st.integers().map(str)), max_size=3)
HEADER_TEXT = st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=80)


@pytest.fixture
def world(settings: Settings) -> Iterator[dict[str, Any]]:
    """A running app with one finished task of the local user and one of another user."""
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {local_key(settings)}"
        services = client.app_state["services"]  # the lifespan state (api/state.py)
        _, other_key = client.portal.call(services.users.create_user, "other")  # type: ignore[union-attr]
        other = {"Authorization": f"Bearer {other_key}"}
        mine = client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True}).json()["task_id"]
        theirs = client.post("/api/v1/roadmaps", json={"goal": GOAL, "auto_approve": True},
                             headers=other).json()["task_id"]
        for task_id, headers in ((mine, None), (theirs, other)):
            while client.get(f"/api/v1/tasks/{task_id}", headers=headers).json()["status"] != "completed":
                pass
        yield {"client": client, "mine": mine, "theirs": theirs, "other": other,
               "snapshot": _snapshot(client, mine, None) + _snapshot(client, theirs, other)}


def _quote(text: str) -> str:
    """Percent-encode anything, lone surrogates included (sent as their UTF-8-like bytes), up to 1500 chars."""
    return quote(text[:1500].encode("utf-8", "surrogatepass"), safe="")  # clients cap URLs (httpx: 64 kB)


def _snapshot(client: TestClient, task_id: str, headers: dict[str, str] | None) -> list[Any]:
    task = client.get(f"/api/v1/tasks/{task_id}", headers=headers).json()
    roadmap = client.get(f"/api/v1/roadmaps/{task['roadmap_id']}", headers=headers).json()
    events = client.get(f"/api/v1/tasks/{task_id}/events", headers=headers).text.count("\nid: ")
    return [{k: v for k, v in task.items() if k != "updated_at"}, roadmap, events]


def test_hostile_requests_get_a_4xx_with_a_message_and_leave_data_intact(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    seen: set[int] = set()

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(route=st.sampled_from(ROUTES), which_id=st.one_of(st.sampled_from(["mine", "theirs"]), HOSTILE_TEXT),
           query=QUERY, body=BODY, auth=st.one_of(st.sampled_from(["mine", "none", "wrong"]), HEADER_TEXT),
           content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]))
    def never_a_5xx(route: tuple[str, str, Any], which_id: str, query: dict[str, str], body: bytes, auth: str,
                    content_type: str) -> None:
        method, template, _ = route
        ident = world[which_id] if which_id in ("mine", "theirs") else _quote(which_id)
        path = template.format(task_id=ident, roadmap_id=f"rm-{ident}", concept_id=ident, version=ident)
        if query:
            path += ("&" if "?" in path else "?") + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in query.items())
        headers = {"content-type": content_type}
        if auth != "mine":
            headers["Authorization"] = {"none": "", "wrong": f"Bearer {WRONG_KEY}"}.get(auth, auth)
        response = client.request(method, path, content=body if method == "POST" else None,
                                  headers=headers)
        seen.add(response.status_code)
        assert response.status_code < 500, (method, path, response.text[:500])
        if response.status_code >= 400:
            assert response.json()["error"]["message"], response.text[:500]

    never_a_5xx()
    assert {401, 404, 422} <= seen, sorted(seen)  # it got past authentication and validation
    after = _snapshot(client, world["mine"], None) + _snapshot(client, world["theirs"], world["other"])
    assert after == world["snapshot"]


def test_events_after_the_end_of_a_finished_task_end_at_once(world: dict[str, Any]) -> None:
    # Found by the fuzzer: ?after= past the last event of a finished task used to wait forever.
    client: TestClient = world["client"]
    response = client.get(f"/api/v1/tasks/{world['mine']}/events", params={"after": 10_000})
    assert response.status_code == 200 and "id: " not in response.text
