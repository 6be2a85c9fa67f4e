"""What analysts ask of tickets and models, as functions: the notebooks are their clients.

Exploring a dataset: :func:`class_balance`, :func:`length_stats`, :func:`distinctive_terms`,
:func:`find_duplicates`, :func:`personal_data_counts`. Comparing a new model with the one in
service: :func:`score`, :func:`compare`, :func:`calibration_curve`, :class:`PromotionGate`
and :func:`promote`. Reviewing doubtful tickets: :func:`probable_label_errors`,
:func:`review_queue`, :func:`highlight_terms`, :func:`review_html`, :func:`export_review_queue`.

Every text these functions return (previews, review queues, CSV exports) is masked: personal
data never leaves unmasked.
"""

from __future__ import annotations

import html
import logging
import re
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from nlp.data import compose_document
from nlp.errors import DataError
from nlp.evaluate import Evaluation
from nlp.model import ReviewPolicy, RoutingModel
from nlp.registry import ActivePointer, Registry
from nlp.segment import DEFAULT_USER_DICT, Backend, Segmenter
from nlp.tagging.frame import tag_frame
from nlp.text import PLACEHOLDERS, count_personal_data, normalise
from nlp.train import Scored, TrainConfig, build_pipeline, score, train

__all__ = [
    "Comparison",
    "GateDecision",
    "PromotionGate",
    "PromotionOutcome",
    "Scored",
    "calibration_curve",
    "class_balance",
    "compare",
    "distinctive_terms",
    "ensure_active_model",
    "export_review_queue",
    "find_duplicates",
    "highlight_terms",
    "length_stats",
    "personal_data_counts",
    "probable_label_errors",
    "promote",
    "review_html",
    "review_queue",
    "sample_frame",
    "score",
    "split_by_column",
]

logger = logging.getLogger(__name__)

#: Characters of masked text kept in previews (duplicate pairs, label errors).
PREVIEW_CHARS = 80
# A term worth showing has a letter or a CJK character; punctuation and numbers are not.
_WORDLIKE = re.compile(r"[A-Za-z\u4e00-\u9fff]")


def _preview(document: str, chars: int = PREVIEW_CHARS) -> str:
    masked = normalise(document)
    return masked if len(masked) <= chars else masked[: chars - 1] + "…"


# --------------------------------------------------------------------------- datasets
def sample_frame(
    frame: pd.DataFrame, n: int | None, *, label_col: str | None = None, random_state: int = 0
) -> pd.DataFrame:
    """About ``n`` rows of ``frame`` (all when ``n`` is None or not smaller), stratified by
    ``label_col`` when given, in their original order. The same seed gives the same rows."""
    if n is None or n >= len(frame):
        return frame
    if n <= 0:
        raise ValueError(f"sample size must be positive, got {n}")
    if label_col is None:
        picked = frame.sample(n=n, random_state=random_state)
    else:
        fraction = n / len(frame)
        picked = frame.groupby(label_col, group_keys=False, dropna=False).sample(
            frac=fraction, random_state=random_state
        )
    return frame.loc[frame.index.isin(picked.index)]


def split_by_column(
    frame: pd.DataFrame, column: str, value: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, held-out rows): rows whose ``column`` equals ``value`` are held out;
    every other row, including those where the column is empty, is for training."""
    if column not in frame.columns:
        raise DataError(
            f"split column {column!r} not found; the data has "
            f"{', '.join(map(repr, map(str, frame.columns)))}"
        )
    held_out = frame[column].astype("string").str.strip() == value
    held_out = held_out.fillna(False).astype(bool)
    if not held_out.any():
        raise DataError(f"no rows have {column} == {value!r}; nothing to hold out")
    return frame.loc[~held_out], frame.loc[held_out]


def class_balance(labels: Sequence[str]) -> pd.DataFrame:
    """Tickets per class and their share, largest class first."""
    counts = pd.Series(list(labels), dtype=object).value_counts()
    return pd.DataFrame(
        {
            "label": counts.index.astype(str),
            "tickets": counts.to_numpy(dtype=np.int64),
            "share": (counts / max(int(counts.sum()), 1)).to_numpy(dtype=np.float64),
        }
    )


def length_stats(documents: Sequence[str], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Length in characters per class (and over all tickets, row ``"(all)"``): tickets,
    mean, median, 90th percentile and maximum."""
    lengths = pd.Series([len(doc) for doc in documents], dtype=np.int64)
    groups: dict[str, pd.Series] = {"(all)": lengths}
    if labels is not None:
        if len(labels) != len(documents):
            raise ValueError(f"{len(documents)} documents but {len(labels)} labels")
        by_label = pd.Series(list(labels), dtype=object)
        for label in sorted(set(by_label)):
            groups[str(label)] = lengths[by_label.to_numpy() == label]
    rows = [
        {
            "label": name,
            "tickets": int(values.size),
            "mean": float(values.mean()) if values.size else 0.0,
            "median": float(values.median()) if values.size else 0.0,
            "p90": float(values.quantile(0.9)) if values.size else 0.0,
            "max": int(values.max()) if values.size else 0,
        }
        for name, values in groups.items()
    ]
    return pd.DataFrame(rows)


def _given_tokens(tokens: list[str]) -> list[str]:
    """CountVectorizer analyzer for documents that are already segmented."""
    return tokens


def distinctive_terms(
    documents: Sequence[str],
    labels: Sequence[str],
    *,
    n: int = 10,
    min_df: int = 3,
    segmenter: Backend = "rjieba",
) -> pd.DataFrame:
    """The ``n`` words most characteristic of each class: chi-squared of word presence, one
    class against the rest, counting only words over-represented in the class.

    Documents are normalised (masked) and segmented as the model does. Columns: label, rank,
    term, chi2, in_class (share of the class's tickets with the word), elsewhere (share of
    the other tickets with it).
    """
    # Imported here: `import nlp` (the service, the CLI) should not pay for what only
    # exploration uses.
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.feature_selection import chi2

    if len(labels) != len(documents):
        raise ValueError(f"{len(documents)} documents but {len(labels)} labels")
    cut = Segmenter(backend=segmenter, user_dict=DEFAULT_USER_DICT).cut
    tokens = [[t for t in cut(normalise(doc)) if _WORDLIKE.search(t)] for doc in documents]
    counter = CountVectorizer(analyzer=_given_tokens, min_df=min_df, binary=True)
    presence = counter.fit_transform(tokens).tocsc()
    names = counter.get_feature_names_out()
    truth = np.asarray(list(labels), dtype=object)
    rows: list[dict[str, Any]] = []
    for label in sorted(set(truth.tolist())):
        inside = truth == label
        scores, _ = chi2(presence, inside)
        scores = np.nan_to_num(scores)
        share_in = np.asarray(presence[inside].mean(axis=0)).ravel()
        share_out = (
            np.asarray(presence[~inside].mean(axis=0)).ravel()
            if (~inside).any()
            else np.zeros_like(share_in)
        )
        scores = np.where(share_in > share_out, scores, 0.0)
        best = np.argsort(-scores, kind="stable")[:n]
        for rank, column in enumerate(best[scores[best] > 0], start=1):
            rows.append(
                {
                    "label": str(label),
                    "rank": rank,
                    "term": str(names[column]),
                    "chi2": float(scores[column]),
                    "in_class": float(share_in[column]),
                    "elsewhere": float(share_out[column]),
                }
            )
    return pd.DataFrame(rows, columns=["label", "rank", "term", "chi2", "in_class", "elsewhere"])


def find_duplicates(
    documents: Sequence[str],
    *,
    ids: Sequence[Hashable] | None = None,
    labels: Sequence[str] | None = None,
    threshold: float = 0.9,
    neighbors: int = 5,
    ngram_range: tuple[int, int] = (2, 3),
    max_documents: int = 20_000,
) -> pd.DataFrame:
    """Pairs of tickets that are the same after normalisation (``exact``) or nearly so
    (``near``: cosine similarity of character n-gram TF-IDF at least ``threshold``).

    Cost is bounded: each ticket is compared with its ``neighbors`` nearest only, and more
    than ``max_documents`` tickets is an error (sample first). A group of k identical
    tickets gives k-1 pairs, each with its first member. Columns: first, second (``ids``,
    default positions), similarity, kind, the labels of both and whether they agree (with
    ``labels``), and masked previews of both texts. Most similar first.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neighbors import NearestNeighbors

    count = len(documents)
    if count > max_documents:
        raise ValueError(
            f"{count} documents is more than max_documents={max_documents}; "
            "sample the data first (sample_frame) or raise the bound"
        )
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    keys = ids if ids is not None else range(count)
    if len(keys) != count or (labels is not None and len(labels) != count):
        raise ValueError("ids and labels must have one entry per document")
    normalised = [normalise(doc) for doc in documents]
    pairs: dict[tuple[int, int], tuple[float, str]] = {}
    first_of: dict[str, int] = {}
    for position, text in enumerate(normalised):
        if text in first_of:
            pairs[(first_of[text], position)] = (1.0, "exact")
        else:
            first_of[text] = position
    if count > 1:
        vectors = TfidfVectorizer(
            analyzer="char", ngram_range=ngram_range, sublinear_tf=True, dtype=np.float32
        ).fit_transform(normalised)
        k = min(neighbors + 1, count)
        search = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute")
        distances, found = search.fit(vectors).kneighbors(vectors)
        for position in range(count):
            for distance, other in zip(distances[position], found[position], strict=True):
                similarity = 1.0 - float(distance)
                if other == position or similarity < threshold - 1e-9:
                    continue
                pair = (min(position, int(other)), max(position, int(other)))
                if normalised[pair[0]] != normalised[pair[1]] and pair not in pairs:
                    pairs[pair] = (min(similarity, 1.0), "near")
    rows = []
    for (a, b), (similarity, kind) in pairs.items():
        row: dict[str, Any] = {
            "first": keys[a],
            "second": keys[b],
            "similarity": round(similarity, 4),
            "kind": kind,
        }
        if labels is not None:
            row |= {
                "label_first": labels[a],
                "label_second": labels[b],
                "same_label": labels[a] == labels[b],
            }
        row |= {"text_first": _preview(documents[a]), "text_second": _preview(documents[b])}
        rows.append(row)
    columns = ["first", "second", "similarity", "kind"]
    if labels is not None:
        columns += ["label_first", "label_second", "same_label"]
    columns += ["text_first", "text_second"]
    result = pd.DataFrame(rows, columns=columns)
    return result.sort_values("similarity", ascending=False, kind="stable").reset_index(drop=True)


def personal_data_counts(documents: Sequence[str]) -> pd.DataFrame:
    """How much personal data masking finds, counts only: per kind the placeholder, the items
    masked, the tickets with at least one, and their share of all tickets."""
    items: Counter[str] = Counter()
    tickets: Counter[str] = Counter()
    for document in documents:
        found = count_personal_data(document)
        items.update(found)
        tickets.update(found.keys())
    kinds = [placeholder.strip("<>") for placeholder in PLACEHOLDERS]
    total = max(len(documents), 1)
    return pd.DataFrame(
        {
            "kind": kinds,
            "placeholder": list(PLACEHOLDERS),
            "items": [items[k] for k in kinds],
            "tickets": [tickets[k] for k in kinds],
            "share": [tickets[k] / total for k in kinds],
        }
    )


# --------------------------------------------------------------------------- models


def calibration_curve(scored: Scored, *, bins: int = 10) -> pd.DataFrame:
    """Reliability of the top label: per equal-width confidence bin, the mean confidence,
    the accuracy and the number of tickets (empty bins omitted). A calibrated model has
    accuracy close to confidence in every bin."""
    confidence = scored.confidence
    correct = scored.correct
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            rows.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[b + 1]),
                    "confidence": float(confidence[in_bin].mean()),
                    "accuracy": float(correct[in_bin].mean()),
                    "tickets": int(in_bin.sum()),
                }
            )
    return pd.DataFrame(rows, columns=["low", "high", "confidence", "accuracy", "tickets"])


@dataclass
class Comparison:
    """Two evaluations side by side: ``overall`` (metric x current, candidate, delta) and
    ``per_class`` (one row per class, worst F1 change first)."""

    overall: pd.DataFrame
    per_class: pd.DataFrame


_OVERALL = ("accuracy", "macro_f1", "top2_accuracy", "ece")
_PER_CLASS = ("f1", "precision", "recall")


def compare(current: Evaluation, candidate: Evaluation) -> Comparison:
    """Overall and per-class figures of ``candidate`` against ``current``; a class one of the
    two evaluations lacks counts as 0 there."""
    overall = pd.DataFrame(
        {
            "current": [float(getattr(current, m)) for m in _OVERALL],
            "candidate": [float(getattr(candidate, m)) for m in _OVERALL],
        },
        index=pd.Index(list(_OVERALL), name="metric"),
    )
    overall["delta"] = overall["candidate"] - overall["current"]
    rows = []
    for label in sorted(set(current.per_class) | set(candidate.per_class)):
        before = current.per_class.get(label, {})
        after = candidate.per_class.get(label, {})
        row: dict[str, Any] = {
            "label": label,
            "support": int(before.get("support", after.get("support", 0))),
        }
        for metric in _PER_CLASS:
            old, new = float(before.get(metric, 0.0)), float(after.get(metric, 0.0))
            row |= {
                f"{metric}_current": old,
                f"{metric}_candidate": new,
                f"{metric}_delta": new - old,
            }
        rows.append(row)
    per_class = pd.DataFrame(rows).sort_values("f1_delta", kind="stable").reset_index(drop=True)
    return Comparison(overall=overall, per_class=per_class)


@dataclass(frozen=True)
class GateDecision:
    """Whether a candidate may replace the model in service, and why (or why not)."""

    passed: bool
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return "\n".join([f"promotion gate: {verdict}", *(f"- {r}" for r in self.reasons)])


@dataclass(frozen=True)
class PromotionGate:
    """A candidate passes when its macro-F1 is not lower than the current model's by more
    than ``max_macro_f1_drop`` and no class's recall is lower by more than
    ``max_recall_drop``, both measured on the same rows."""

    max_macro_f1_drop: float = 0.01
    max_recall_drop: float = 0.05

    def check(self, current: Evaluation, candidate: Evaluation) -> GateDecision:
        failures: list[str] = []
        notes: list[str] = []
        if current.n != candidate.n:
            failures.append(
                f"the evaluations cover different rows (n={current.n} vs n={candidate.n}); "
                "evaluate both models on the same held-out data"
            )
        drop = current.macro_f1 - candidate.macro_f1
        message = (
            f"macro-F1 {current.macro_f1:.4f} -> {candidate.macro_f1:.4f} "
            f"(allowed drop {self.max_macro_f1_drop:.4f})"
        )
        (failures if drop > self.max_macro_f1_drop + 1e-12 else notes).append(message)
        worst: tuple[float, str] | None = None
        for label, before in sorted(current.per_class.items()):
            if before.get("support", 0) <= 0:
                continue  # recall is undefined for a class with no rows
            after = candidate.per_class.get(label)
            if after is None:
                failures.append(f"class {label!r} is missing from the candidate's evaluation")
                continue
            recall_drop = before["recall"] - after["recall"]
            if recall_drop > self.max_recall_drop + 1e-12:
                failures.append(
                    f"recall of {label!r} {before['recall']:.3f} -> {after['recall']:.3f} "
                    f"(allowed drop {self.max_recall_drop:.3f})"
                )
            elif worst is None or recall_drop > worst[0]:
                worst = (recall_drop, label)
        if worst is not None and not failures:
            notes.append(
                f"largest recall drop {max(worst[0], 0.0):.3f} ({worst[1]}), "
                f"allowed {self.max_recall_drop:.3f}"
            )
        if failures:
            return GateDecision(passed=False, reasons=tuple(failures))
        return GateDecision(passed=True, reasons=tuple(notes))


@dataclass(frozen=True)
class PromotionOutcome:
    """What :func:`promote` did: ``promoted`` and the active pointer afterwards."""

    promoted: bool
    message: str
    pointer: ActivePointer | None


def promote(
    registry: Registry, name: str, version: str, decision: GateDecision, *, confirm: bool
) -> PromotionOutcome:
    """Activate ``name@version`` through the registry only when the gate passed **and** an
    analyst confirmed; otherwise leave the model in service as it is and say why."""
    if not decision.passed:
        message = f"{name}@{version} not promoted: the gate failed ({'; '.join(decision.reasons)})"
        return PromotionOutcome(False, message, registry.active(name))
    if not confirm:
        message = (
            f"{name}@{version} passed the gate but was not promoted: "
            "set PROMOTE = True to activate it"
        )
        return PromotionOutcome(False, message, registry.active(name))
    pointer = registry.activate(name, version)
    logger.info("promoted %s@%s", name, version)
    return PromotionOutcome(True, f"{name}@{version} is now active", pointer)


def ensure_active_model(
    registry: Registry,
    name: str,
    frame: pd.DataFrame,
    config: TrainConfig | None = None,
    *,
    eval_frame: pd.DataFrame | None = None,
) -> RoutingModel:
    """The active model ``name``; when there is none, one trained on ``frame`` is saved and
    activated first (a baseline to compare against)."""
    if registry.active(name) is not None:
        return registry.load(name)
    config = config or TrainConfig()
    result = train(frame, config, eval_frame=eval_frame, name=name)
    registry.save(
        result.model,
        name=name,
        metrics=result.evaluation.to_dict(),
        data=result.data,
        config=config.to_dict(),
        activate=True,
    )
    logger.info("no active %r model: trained and activated %s", name, result.model.version)
    return result.model


# --------------------------------------------------------------------------- review
def probable_label_errors(
    documents: Sequence[str],
    labels: Sequence[str],
    *,
    ids: Sequence[Hashable] | None = None,
    config: TrainConfig | None = None,
    folds: int = 3,
    min_confidence: float = 0.7,
) -> pd.DataFrame:
    """Training rows whose label is probably wrong: out-of-fold probabilities (each row scored
    by a model that did not see it) predict another class with at least ``min_confidence``.

    Columns: id, given, predicted, confidence, given_probability, text (masked preview);
    most confident first.
    """
    if len(labels) != len(documents):
        raise ValueError(f"{len(documents)} documents but {len(labels)} labels")
    truth = np.asarray([str(label) for label in labels], dtype=object)
    classes, counts = np.unique(truth, return_counts=True)
    small = [f"{c} ({n})" for c, n in zip(classes, counts, strict=True) if n < folds]
    if small:
        raise DataError(
            f"cross-validation with {folds} folds needs {folds} rows per class; "
            f"too few: {', '.join(small)}"
        )
    config = config or TrainConfig(calibration_folds=3)
    # Normalise once, not once per fold: the pipeline's own normalising step is skipped.
    normalised = [normalise(doc) for doc in documents]
    pipeline = build_pipeline(config).set_params(normalise="passthrough")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.random_state)
    probabilities = np.asarray(
        cross_val_predict(pipeline, normalised, truth, cv=splitter, method="predict_proba")
    )
    best = probabilities.argmax(axis=1)
    confidence = probabilities[np.arange(truth.size), best]
    given_column = np.searchsorted(classes, truth)
    predicted = classes[best]
    suspect = (predicted != truth) & (confidence >= min_confidence)
    keys = list(ids) if ids is not None else list(range(len(documents)))
    rows = [
        {
            "id": keys[i],
            "given": truth[i],
            "predicted": predicted[i],
            "confidence": round(float(confidence[i]), 4),
            "given_probability": round(float(probabilities[i, given_column[i]]), 4),
            "text": _preview(documents[i], 160),
        }
        for i in np.flatnonzero(suspect).tolist()
    ]
    result = pd.DataFrame(
        rows, columns=["id", "given", "predicted", "confidence", "given_probability", "text"]
    )
    return result.sort_values("confidence", ascending=False, kind="stable").reset_index(drop=True)


_QUEUE_COLUMNS = (
    "id",
    "reason",
    "given",
    "predicted",
    "confidence",
    "runner_up",
    "review_reason",
    "terms",
    "text",
)


def review_queue(
    model: RoutingModel,
    frame: pd.DataFrame,
    *,
    text_col: str = "text",
    title_col: str | None = "title",
    label_col: str | None = "label",
    id_col: str | None = None,
    policy: ReviewPolicy | None = None,
    explain: int = 6,
    limit: int | None = None,
) -> pd.DataFrame:
    """Tickets a dispatcher should look at: those the model gets wrong (when ``label_col``
    holds the truth) and those it is unsure about (``policy``), wrong ones first.

    Columns: id, reason (``wrong``, ``unsure`` or both), given, predicted, confidence,
    runner_up, review_reason, terms (the words that decided, strongest first) and text, the
    ticket as the model saw it: normalised, personal data masked.
    """
    title_col = title_col if title_col is not None and title_col in frame.columns else None
    label_col = label_col if label_col is not None and label_col in frame.columns else None
    given = frame[label_col].astype(object).to_numpy() if label_col else None
    tagged = tag_frame(
        frame,
        model,
        text_col=text_col,
        title_col=title_col,
        policy=policy,
        explain=explain,
        top_k=2,
    )
    ids = frame[id_col].tolist() if id_col else frame.index.tolist()
    titles = frame[title_col].tolist() if title_col else [None] * len(frame)
    errors = tagged["error"].tolist()
    predictions = tagged["label"].tolist()
    confidences = tagged["confidence"].tolist()
    unsure_flags = tagged["needs_review"].tolist()
    rankings: list[list[dict[str, Any]] | None] = tagged["top_k"].tolist()
    explanations: list[list[dict[str, Any]] | None] = (
        tagged["explanation"].tolist() if explain else [None] * len(frame)
    )
    rows = []
    for position, (text, title) in enumerate(zip(frame[text_col].tolist(), titles, strict=True)):
        if isinstance(errors[position], str):
            continue
        predicted = str(predictions[position])
        truth = given[position] if given is not None else None
        has_truth = isinstance(truth, str) and truth.strip() != ""
        wrong = has_truth and str(truth).strip() != predicted
        unsure = bool(unsure_flags[position])
        if not (wrong or unsure):
            continue
        ranked = rankings[position] or []
        document = compose_document(text, title) or ""
        rows.append(
            {
                "id": ids[position],
                "reason": ", ".join(r for r, on in (("wrong", wrong), ("unsure", unsure)) if on),
                "given": str(truth).strip() if has_truth else None,
                "predicted": predicted,
                "confidence": float(confidences[position]),
                "runner_up": ranked[1]["label"] if len(ranked) > 1 else None,
                "review_reason": _review_reason(policy, ranked),
                "terms": [str(t["term"]) for t in explanations[position] or []],
                "text": normalise(document),
            }
        )
    queue = pd.DataFrame(rows, columns=_QUEUE_COLUMNS)
    if not queue.empty:
        queue["_wrong"] = queue["reason"].str.startswith("wrong")
        queue = queue.sort_values(["_wrong", "confidence"], ascending=[False, True], kind="stable")
        queue = queue.drop(columns="_wrong").reset_index(drop=True)
    return queue.head(limit) if limit is not None else queue


def _review_reason(policy: ReviewPolicy | None, ranked: list[dict[str, Any]]) -> str | None:
    """The review policy's reason for a ticket given its ranked labels (None: confident)."""
    top = float(ranked[0]["score"]) if ranked else 0.0
    second = float(ranked[1]["score"]) if len(ranked) > 1 else 0.0
    return (policy or ReviewPolicy()).reason(top, second)


def highlight_terms(text: str, terms: Sequence[str]) -> str:
    """``text`` as HTML (escaped) with every occurrence of ``terms`` in ``<mark>``."""
    wanted = sorted({t for t in terms if t}, key=len, reverse=True)
    if not wanted:
        return html.escape(text)
    pattern = re.compile("|".join(map(re.escape, wanted)))
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        out.append(f"<mark>{html.escape(match.group())}</mark>")
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def review_html(queue: pd.DataFrame, *, limit: int = 20, chars: int = 300) -> str:
    """The first ``limit`` rows of a review queue as an HTML table, deciding terms marked."""
    shown = queue.head(limit)
    body = []
    for row in shown.to_dict(orient="records"):
        text = str(row["text"])
        text = text if len(text) <= chars else text[: chars - 1] + "…"
        cells = [
            html.escape(str(row["id"])),
            html.escape(str(row["reason"])),
            html.escape(str(row["given"] or "")),
            html.escape(f"{row['predicted']} ({row['confidence']:.2f})"),
            html.escape(str(row["runner_up"] or "")),
            highlight_terms(text, [str(t) for t in row["terms"]]),
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>" for h in ("id", "reason", "given", "predicted", "runner-up", "text")
    )
    return (
        '<table class="review-queue"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


def _mask_cell(value: object) -> object:
    if isinstance(value, str):
        return normalise(value)
    if isinstance(value, list | tuple):
        return " / ".join(str(_mask_cell(str(v))) for v in value)
    return value


def export_review_queue(queue: pd.DataFrame, path: str | Path) -> Path:
    """Write a review queue as CSV (UTF-8 with BOM, so Excel reads Chinese) for dispatchers.

    Every text cell is masked once more on the way out, so personal data cannot leave even
    if a caller added raw text to the queue. Lists (the deciding terms) are joined by ``/``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    masked = queue.copy()
    for column in masked.columns:
        if masked[column].dtype == object or pd.api.types.is_string_dtype(masked[column]):
            masked[column] = masked[column].map(_mask_cell)
    masked.to_csv(path, index=False, encoding="utf-8-sig")
    return path
