"""Prometheus metrics: request counts and latency by route and status, predictions by label,
the needs-review and urgent (紧急) counts, and the model version each worker serves.

For drift per model version: ``appeals_answers_total{model_version,label,needs_review}`` (each
department's share and the review rate of a version) and the ``appeals_confidence`` histogram
by ``model_version`` (its ``_sum / _count`` is the mean confidence); with
``appeals_feedback_total`` for the correction rate. The store's own view, per day and against
the training distribution, is ``appeals monitor``.

With several workers, ``appeals serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder
before the workers start; prometheus-client then keeps every value in a per-process file and
``/metrics`` aggregates them (multiprocess mode), so any worker answers for all of them.
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

if TYPE_CHECKING:
    from nlp.model import Prediction, RoutingModel

__all__ = [
    "CONTENT_TYPE_LATEST",
    "mark_worker_dead",
    "model_swapped",
    "observe_answers",
    "observe_feedback",
    "observe_request",
    "render",
    "similar_dropped",
    "store_dropped",
    "store_written",
]

REQUESTS = Counter(
    "appeals_http_requests_total",
    "HTTP requests by route, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "appeals_http_request_duration_seconds",
    "Time from request start to the end of the response, by route",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PREDICTIONS = Counter("appeals_predictions_total", "Tickets routed, by predicted label", ["label"])
NEEDS_REVIEW = Counter(
    "appeals_needs_review_total",
    "Tickets flagged for a person to check (divide by appeals_predictions_total for the rate)",
)
ANSWERS = Counter(
    "appeals_answers_total",
    "Tickets answered, by model version, predicted label and whether a person must check "
    "(a label's share and the review rate of each version)",
    ["model_version", "label", "needs_review"],
)
URGENT = Counter(
    "appeals_urgent_total",
    "Tickets answered 紧急 (danger to life or safety): each is flagged for a person at once "
    "(review code urgent)",
)
CONFIDENCE = Histogram(
    "appeals_confidence",
    "Confidence of the answers, by model version (_sum / _count: the mean confidence)",
    ["model_version"],
    buckets=(0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99, 1.0),
)
MODEL_INFO = Gauge(
    "appeals_model_info",
    "1 for the model version a worker serves, 0 for versions it served before",
    ["name", "version"],
    multiprocess_mode="liveall",
)

STORE_WRITTEN = Counter(
    "appeals_store_written_total", "Answers written to the ticket store (masked)"
)
STORE_DROPPED = Counter(
    "appeals_store_dropped_total",
    "Answers not stored: queue_full (the store is slower than the traffic), store_error "
    "(unreachable after retries), schema (the store's schema does not fit this version), "
    "refused (the database refused that answer; the rest of its batch was stored)",
    ["reason"],
)
FEEDBACK = Counter(
    "appeals_feedback_total",
    "Departments people gave tickets, by the model version that answered and whether it "
    "agreed (corrected / (agreed + corrected) is the correction rate)",
    ["model_version", "outcome"],
)


SIMILAR_DROPPED = Counter(
    "appeals_similar_dropped_total",
    "Answered tickets not added to the similar-ticket index (its queue was full); they are "
    "added at the next refresh from the ticket store when the store is on",
)


def similar_dropped(count: int) -> None:
    SIMILAR_DROPPED.inc(count)


def store_written(count: int) -> None:
    STORE_WRITTEN.inc(count)


def store_dropped(reason: str, count: int) -> None:
    STORE_DROPPED.labels(reason).inc(count)


def observe_feedback(model_version: str, *, agreed: bool) -> None:
    FEEDBACK.labels(model_version, "agreed" if agreed else "corrected").inc()


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    LATENCY.labels(route, method).observe(seconds)


def observe_predictions(labels: Iterable[str], needs_review: int) -> None:
    for label, count in Tally(labels).items():
        PREDICTIONS.labels(label).inc(count)
    if needs_review:
        NEEDS_REVIEW.inc(needs_review)


def observe_answers(model_version: str | None, predictions: Iterable[Prediction]) -> None:
    """Count answers of one model version: by label (the label-only counter and the
    per-version one), the review flag and the confidence. The labelled children are looked
    up once and kept (``labels()`` costs more than the increment), so the classify path
    stays cheap: about three increments per ticket."""
    version = model_version or ""
    histogram = _CONFIDENCE_BY_VERSION.get(version)
    if histogram is None:
        histogram = _CONFIDENCE_BY_VERSION[version] = CONFIDENCE.labels(version)
    flagged = urgent = 0
    for prediction in predictions:
        key = (version, prediction.label, prediction.needs_review)
        counters = _ANSWER_COUNTERS.get(key)
        if counters is None:
            counters = _ANSWER_COUNTERS[key] = (
                ANSWERS.labels(version, prediction.label, "true" if key[2] else "false"),
                PREDICTIONS.labels(prediction.label),
            )
        counters[0].inc()
        counters[1].inc()
        histogram.observe(prediction.confidence)
        flagged += prediction.needs_review
        if prediction.urgency is not None and prediction.urgency.level == "紧急":
            urgent += 1
    if flagged:
        NEEDS_REVIEW.inc(flagged)
    if urgent:
        URGENT.inc(urgent)


# Children of the labelled metrics, by their labels (a few versions x labels x 2 at most).
_ANSWER_COUNTERS: dict[tuple[str, str, bool], tuple[Any, Any]] = {}
_CONFIDENCE_BY_VERSION: dict[str, Any] = {}


def model_swapped(name: str, old: RoutingModel | None, new: RoutingModel) -> None:
    if old is not None:
        MODEL_INFO.labels(name, old.version or "").set(0)
    MODEL_INFO.labels(name, new.version or "").set(1)


def render(multiproc_dir: Path | None) -> bytes:
    """The exposition text: aggregated over every worker in multiprocess mode."""
    if multiproc_dir is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(multiproc_dir))
    return generate_latest(registry)


def mark_worker_dead(multiproc_dir: Path | None) -> None:
    """Drop this worker's live gauges when it exits (multiprocess mode only)."""
    if multiproc_dir is not None:
        multiprocess.mark_process_dead(os.getpid(), path=str(multiproc_dir))
