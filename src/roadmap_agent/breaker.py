"""``CircuitBreaker``: stop calling a failing dependency for a while (Redis publishes, the LLM planner).

Pure logic with an injected clock, so its rules are tested without a server or a sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Stops calling a failing dependency for a while, then lets a single trial call through.

    ``closed`` --``failures`` consecutive failures--> ``open`` --``reset_after`` seconds--> ``half_open``
    (one trial call) --success--> ``closed`` / --failure--> ``open`` again. Pure logic: the clock is injected.
    """

    def __init__(self, failures: int, reset_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failure_threshold = failures
        self.reset_after = reset_after
        self.consecutive_failures = 0
        self._clock = clock
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._trial_running or self._clock() - self._opened_at >= self.reset_after:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """May a call go through now? In ``half_open`` only the first caller gets ``True`` (the trial)."""
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self._trial_running:
            return False
        self._trial_running = True
        return True

    def record_success(self) -> None:
        self.consecutive_failures = 0
        self._opened_at = None
        self._trial_running = False

    def record_failure(self) -> None:
        self.consecutive_failures += 1
        if self._trial_running or self.consecutive_failures >= self.failure_threshold:
            self._opened_at = self._clock()
        self._trial_running = False

    def release(self) -> None:
        """The trial ended without a verdict (it was cancelled): the next caller may try instead."""
        self._trial_running = False
