"""CircuitBreaker: closed -> open after N consecutive failures -> half-open after the reset time (one trial)."""

from __future__ import annotations

from roadmap_agent.breaker import CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def opened(clock: FakeClock, failures: int = 3, reset_after: float = 5.0) -> CircuitBreaker:
    breaker = CircuitBreaker(failures, reset_after, clock)
    for _ in range(failures):
        assert breaker.allow()
        breaker.record_failure()
    return breaker


def test_stays_closed_below_the_failure_threshold() -> None:
    breaker = CircuitBreaker(3, 5.0, FakeClock())
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()


def test_a_success_resets_the_consecutive_failure_count() -> None:
    breaker = CircuitBreaker(3, 5.0, FakeClock())
    for _ in range(2):
        breaker.record_failure()
    breaker.record_success()
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state == "closed" and breaker.consecutive_failures == 2


def test_opens_after_consecutive_failures_and_refuses_calls() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    assert breaker.state == "open"
    clock.now += 4.9
    assert not breaker.allow() and breaker.state == "open"


def test_half_open_after_the_reset_time_lets_exactly_one_trial_through() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.now += 5.0
    assert breaker.state == "half_open"
    assert breaker.allow()
    assert not breaker.allow() and not breaker.allow()  # the trial is still running
    assert breaker.state == "half_open"


def test_a_successful_trial_closes_the_breaker() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.now += 5.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.consecutive_failures == 0
    assert breaker.allow() and breaker.allow()


def test_a_failed_trial_reopens_for_another_full_reset_period() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.now += 6.0
    assert breaker.allow()
    breaker.record_failure()
    assert not breaker.allow()
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state == "half_open" and breaker.allow()


def test_a_cancelled_trial_lets_the_next_caller_try() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.now += 5.0
    assert breaker.allow()
    breaker.release()
    assert breaker.state == "half_open"
    assert breaker.allow()


def test_threshold_of_one_opens_on_the_first_failure() -> None:
    breaker = CircuitBreaker(1, 1.0, FakeClock())
    breaker.record_failure()
    assert breaker.state == "open"
