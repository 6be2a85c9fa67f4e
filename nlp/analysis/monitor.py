"""Drift in sight: what the service answered, per day and model version, against what the model
was trained on.

:func:`daily_summary` turns the ticket store's answers (:meth:`nlp.store.TicketStore.tickets`)
into one row per day (UTC) and model version: tickets, each department's share, the review
rate, the mean confidence and the correction rate. :func:`drift_alerts` compares those rows
with the training distribution (:func:`training_distribution`, from a version's manifest) and
says, in words, where a department's share or the correction rate went beyond a bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any

import pandas as pd

from nlp.errors import DataError

__all__ = [
    "SUMMARY_COLUMNS",
    "daily_summary",
    "drift_alerts",
    "label_shares",
    "training_distribution",
]

#: The columns :func:`daily_summary` returns, in order. ``shares`` holds a dict: department ->
#: share of that day's tickets (largest first); ``final``: tickets a person gave a department;
#: ``changed``: those whose department differed from the answer; ``correction_rate``:
#: changed / final (NaN when no ticket of the day has a final department).
SUMMARY_COLUMNS = (
    "day",
    "model_name",
    "model_version",
    "tickets",
    "review_rate",
    "mean_confidence",
    "final",
    "changed",
    "correction_rate",
    "shares",
)

_REQUIRED = (
    "answered_at",
    "model_name",
    "model_version",
    "label",
    "confidence",
    "needs_review",
    "final_label",
)

#: A department's share may move this far (absolute, 0.10 = 10 percentage points) from its
#: training share before an alert fires.
DEFAULT_SHARE_BOUND = 0.10
#: The correction rate above which an alert fires.
DEFAULT_CORRECTION_BOUND = 0.10
#: Days (per version) with fewer tickets than this raise no share alert: too few to tell.
DEFAULT_MIN_TICKETS = 30
#: ... and with fewer tickets with a final department than this, no correction-rate alert.
DEFAULT_MIN_FINAL = 10


def daily_summary(tickets: pd.DataFrame) -> pd.DataFrame:
    """One row per day (UTC, from ``answered_at``) and model version, oldest first
    (:data:`SUMMARY_COLUMNS`)."""
    missing = [column for column in _REQUIRED if column not in tickets.columns]
    if missing:
        raise DataError(
            f"the stored tickets lack the column(s) {', '.join(missing)}; pass the frame "
            "TicketStore.tickets() returns"
        )
    if tickets.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    answered = pd.to_datetime(tickets["answered_at"], errors="coerce")
    if answered.isna().any():
        raise DataError("some stored tickets have no answered_at time; every answer has one")
    frame = pd.DataFrame(
        {
            "day": answered.dt.date,
            "model_name": tickets["model_name"].astype(str),
            "model_version": tickets["model_version"].astype(str),
            "label": tickets["label"].astype(str),
            "confidence": tickets["confidence"].astype(float),
            "needs_review": tickets["needs_review"].astype(bool),
            "final": tickets["final_label"].notna(),
        }
    )
    frame["changed"] = frame["final"] & (tickets["final_label"].astype(str) != frame["label"])
    rows = []
    for (day, name, version), group in frame.groupby(
        ["day", "model_name", "model_version"], sort=True
    ):
        final, changed = int(group["final"].sum()), int(group["changed"].sum())
        shares = group["label"].value_counts(normalize=True)
        rows.append(
            {
                "day": day,
                "model_name": name,
                "model_version": version,
                "tickets": len(group),
                "review_rate": float(group["needs_review"].mean()),
                "mean_confidence": float(group["confidence"].mean()),
                "final": final,
                "changed": changed,
                "correction_rate": changed / final if final else float("nan"),
                # Largest first, ties by name: the same order on every run.
                "shares": dict(
                    sorted(((str(k), float(v)) for k, v in shares.items()), key=_share_order)
                ),
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _share_order(item: tuple[str, float]) -> tuple[float, str]:
    return -item[1], item[0]


def label_shares(summary: pd.DataFrame) -> pd.DataFrame:
    """The ``shares`` of a :func:`daily_summary` as a table: one row per (day, model_version),
    one column per department (0 where a day had none of it)."""
    if summary.empty:
        return pd.DataFrame()
    table = pd.DataFrame(summary["shares"].tolist()).fillna(0.0)
    table.index = pd.MultiIndex.from_frame(summary[["day", "model_version"]])
    return table[sorted(table.columns)]


def training_distribution(manifest: Mapping[str, Any]) -> dict[str, float]:
    """Each department's share of a version's training rows, from its manifest
    (``data.class_counts``, written by :func:`nlp.train.train`); empty when the manifest has
    none (a version trained before it was recorded)."""
    data = manifest.get("data") or {}
    counts = data.get("class_counts") if isinstance(data, Mapping) else None
    if not isinstance(counts, Mapping) or not counts:
        return {}
    return _normalised(counts, what="data.class_counts")


def _normalised(counts: Mapping[str, Any], *, what: str) -> dict[str, float]:
    values = {}
    for label, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, Real) or count < 0:
            raise DataError(f"{what}: {label!r} has {count!r}; give a count or a share")
        values[str(label)] = float(count)
    total = sum(values.values())
    if total <= 0:
        raise DataError(f"{what}: the counts add up to {total:g}; give counts or shares")
    return {label: count / total for label, count in values.items()}


def drift_alerts(
    summary: pd.DataFrame,
    *,
    training_shares: Mapping[str, Any],
    share_bound: float = DEFAULT_SHARE_BOUND,
    correction_bound: float = DEFAULT_CORRECTION_BOUND,
    min_tickets: int = DEFAULT_MIN_TICKETS,
    min_final: int = DEFAULT_MIN_FINAL,
) -> list[str]:
    """Alert lines, in words, for the rows of a :func:`daily_summary`:

    - a department whose share of a day's tickets is more than ``share_bound`` (absolute:
      0.10 = 10 points) away from its training share, on days with at least ``min_tickets``
      tickets of that version;
    - a correction rate above ``correction_bound``, on days with at least ``min_final``
      tickets given a final department.

    ``training_shares``: per model version, the training distribution (department -> share
    or count, as :func:`training_distribution` reads it from the manifest); or one such
    mapping for every version. A version without one gets one line saying its shares were not
    checked.
    """
    for name, bound in (("share_bound", share_bound), ("correction_bound", correction_bound)):
        if not 0.0 <= bound <= 1.0:
            raise DataError(f"{name} is a share between 0 and 1 (0.1 = 10 %), not {bound!r}")
    per_version = _per_version(training_shares)
    alerts: list[str] = []
    unchecked: set[str] = set()
    for row in summary.to_dict(orient="records"):
        version = str(row["model_version"])
        where = f"{row['day']} {version}"
        training = per_version(version)
        if training is None:
            if version not in unchecked:
                unchecked.add(version)
                alerts.append(
                    f"{version}: no training distribution (no data.class_counts in its "
                    "manifest); its department shares are not checked"
                )
        elif row["tickets"] >= min_tickets:
            shares: Mapping[str, float] = row["shares"]
            moved = []
            for label in set(shares) | set(training):
                now, then = shares.get(label, 0.0), training.get(label, 0.0)
                if abs(now - then) > share_bound + 1e-12:
                    moved.append((abs(now - then), label, now, then))
            for _, label, now, then in sorted(moved, key=lambda m: (-m[0], m[1])):
                alerts.append(
                    f"{where}: {label} share {now:.0%} vs {then:.0%} in training "
                    f"(bound ±{share_bound * 100:g} points)"
                )
        final, rate = row["final"], row["correction_rate"]
        if final >= min_final and final > 0 and rate > correction_bound + 1e-12:
            alerts.append(
                f"{where}: correction rate {rate:.0%} above {correction_bound:.0%} "
                f"({row['changed']} of {final} tickets given a department were moved)"
            )
    return alerts


def _per_version(training_shares: Mapping[str, Any]) -> Any:
    """A function: version -> its normalised training shares, or None."""
    if not isinstance(training_shares, Mapping):
        raise DataError(
            "training_shares maps each model version to its training distribution "
            f"(department -> share), not {type(training_shares).__name__}"
        )
    values = list(training_shares.values())
    if values and all(isinstance(v, Real) and not isinstance(v, bool) for v in values):
        flat = _normalised(training_shares, what="training_shares")
        return lambda version: flat
    shares = {}
    for version, counts in training_shares.items():
        if counts is None or (isinstance(counts, Mapping) and not counts):
            continue
        if not isinstance(counts, Mapping):
            raise DataError(f"training_shares[{version!r}] is {counts!r}; give department -> share")
        shares[str(version)] = _normalised(counts, what=f"training_shares[{version!r}]")
    return shares.get
