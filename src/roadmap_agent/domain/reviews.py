"""Spaced review of finished concepts with FSRS (the ``fsrs`` library, the scheduler Anki uses).

A concept marked done gets a card reviewed "good" on that day, so its first review falls a few days later;
each review outcome (``again | hard | good | easy``) moves the next date. Concepts are reviewed by the day,
not the minute: no intra-day learning steps, and no fuzzing, so the same history always gives the same dates.
Cards travel as ``fsrs.Card.to_dict()`` JSON.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, Literal

from fsrs import Card, Rating, Scheduler

ReviewRating = Literal["again", "hard", "good", "easy"]
RATINGS: tuple[ReviewRating, ...] = ("again", "hard", "good", "easy")
_RATING = {"again": Rating.Again, "hard": Rating.Hard, "good": Rating.Good, "easy": Rating.Easy}
REVIEW_HOUR = 12  # reviews are dated at noon UTC of the day given: the due day is the same in every time zone
_SCHEDULER = Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)


def _at(day: date) -> datetime:
    return datetime.combine(day, time(REVIEW_HOUR), tzinfo=UTC)


def first_card(done_on: date, card_id: int = 1) -> dict[str, Any]:
    """The card of a concept finished on ``done_on``: learnt once ("good"), due for its first review."""
    return review(dict(Card(card_id=card_id, due=_at(done_on)).to_dict()), "good", done_on)


def review(card: dict[str, Any], rating: ReviewRating, on: date) -> dict[str, Any]:
    reviewed, _log = _SCHEDULER.review_card(Card.from_dict(card), _RATING[rating], _at(on))  # type: ignore[arg-type]
    return dict(reviewed.to_dict())


def due_on(card: dict[str, Any]) -> date:
    return Card.from_dict(card).due.date()  # type: ignore[arg-type]
