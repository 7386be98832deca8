"""Prometheus metrics: runs and steps (counted where they happen) and dependency, pool, event-publish and
circuit-breaker state (read at scrape time from the live objects, so they can never drift)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

F = TypeVar("F", GaugeMetricFamily, CounterMetricFamily)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.runs_started = Counter("roadmap_runs_started_total", "Workflow runs started (new tasks).",
                                    registry=self.registry)
        self.runs_finished = Counter("roadmap_runs_finished_total", "Workflow runs that ended, by final status.",
                                     ["status"], registry=self.registry)
        self.runs_recovered = Counter("roadmap_runs_recovered_total", "Runs resumed from a checkpoint.",
                                      registry=self.registry)
        self.step_duration = Histogram("roadmap_step_duration_seconds", "Duration of one workflow step.",
                                       ["step"], buckets=STEP_BUCKETS, registry=self.registry)
        self.event_deliveries = Counter("roadmap_event_deliveries_total",
                                        "Events sent to SSE/WebSocket clients, by path: replay (catching up), "
                                        "live (fast path) or log_fallback (the fast path missed it).",
                                        ["path"], registry=self.registry)
        self.event_publishes = Counter("roadmap_event_publishes_total",
                                       "Event fan-out publishes: ok, failed, skipped (Redis breaker open) or "
                                       "dropped (outbox full); the durable log covers all but ok.",
                                       ["result"], registry=self.registry)

        self.progress_updates = Counter("roadmap_progress_updates_total",
                                        "Progress updates of a concept, by the state it was set to.",
                                        ["state"], registry=self.registry)
        self.replans = Counter("roadmap_replans_total", "Roadmaps re-planned into a new version.",
                               registry=self.registry)
        self.reviews = Counter("roadmap_reviews_total", "Spaced-review outcomes recorded, by rating.",
                               ["rating"], registry=self.registry)

    def watch(self, read: Callable[[], Iterable[Metric]]) -> None:
        """Add gauges computed at scrape time by ``read``."""
        self.registry.register(_Live(read))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Live(Collector):
    def __init__(self, read: Callable[[], Iterable[Metric]]) -> None:
        self._read = read

    def collect(self) -> Iterable[Metric]:
        return list(self._read())

    def describe(self) -> Iterable[Metric]:
        return []  # unchecked collector: names are only known at scrape time


Samples = Iterable[tuple[dict[str, str], float]]


def gauge(name: str, documentation: str, samples: Samples) -> GaugeMetricFamily:
    return _family(GaugeMetricFamily(name, documentation, labels=_labels(samples := list(samples))), samples)


def counter(name: str, documentation: str, samples: Samples) -> CounterMetricFamily:
    return _family(CounterMetricFamily(name, documentation, labels=_labels(samples := list(samples))), samples)


def _labels(samples: list[tuple[dict[str, str], float]]) -> list[str]:
    return sorted(samples[0][0]) if samples else []


def _family(family: F, samples: list[tuple[dict[str, str], float]]) -> F:
    labels = _labels(samples)
    for label_values, value in samples:
        family.add_metric([label_values[k] for k in labels], value)
    return family
