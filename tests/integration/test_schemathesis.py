"""Schemathesis over the OpenAPI document of a real `serve` process: every check (no 5xx, documented statuses,
response schemas including the error schema, content types, headers, negative data refused), a fixed seed
(``derandomize``) and a bounded number of examples per operation, so a run is repeatable and takes ~1 minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS
from serving import Served, serve

from roadmap_agent.store.users import KEY_FILE_NAME, read_key_file

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXAMPLES = 30
GOAL = "I want to become a backend developer in 3 months, I know some Python, 10 hours a week"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home: Path = tmp_path_factory.mktemp("schemathesis") / "home"
    env = {"ROADMAP_AGENT_CREATE_BURST": "100000", "ROADMAP_AGENT_CREATE_PER_MINUTE": "100000"}
    with serve(home, env) as api:
        yield api


@pytest.fixture(scope="module")
def api_schema(served: Served) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{served.client.base_url}/openapi.json")


# Checks that hold for this API by design are excluded here, each for a reason:
EXCLUDED = {
    # "positive data" the schema allows can still be refused by rules the schema cannot say (a task id that is
    # not yours answers 404, a review of a task that is not waiting answers 409): documented statuses, not bugs.
    "positive_data_acceptance",
}


def test_the_api_keeps_its_documented_contract(api_schema: schemathesis.BaseSchema, served: Served) -> None:
    # The operations are walked here (schemathesis' pytest plugin does not load on this pytest).
    key = read_key_file(served.log_path.parent / "home" / KEY_FILE_NAME)
    checks = [check for check in CHECKS.get_all() if check.__name__ not in EXCLUDED]
    base_url = str(served.client.base_url)
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[union-attr]  # an Err fails here, loudly
    assert len(operations) >= 12

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case[Any]) -> None:
            if case.path.endswith("/events"):  # a finished-or-empty replay, never a live wait
                case.query = {**(case.query or {}), "after": 2**31 - 1}
            case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {key}"},
                                   checks=checks,  # type: ignore[arg-type]  # the registry lists some checks as classes
                                   timeout=10)

        try:
            call()
        except (Exception, BaseExceptionGroup) as exc:  # every operation is fuzzed; all failures are reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
