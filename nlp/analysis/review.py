"""Reviewing doubtful tickets: where a model and its training labels deserve a person's look.

:func:`review_queue` lists the tickets a model gets wrong or is unsure about, with the words
that decided; :func:`probable_label_errors` finds training rows whose label is probably wrong;
:func:`highlight_terms`, :func:`review_html` and :func:`export_review_queue` show and hand the
queue to dispatchers.

Every text these functions return (queues, previews, CSV exports) is masked: personal data
never leaves unmasked.
"""

from __future__ import annotations

import html
import re
from collections.abc import Hashable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from nlp.analysis.explore import preview
from nlp.documents import frame_documents
from nlp.errors import DataError
from nlp.model import Prediction, ReviewPolicy, RoutingModel
from nlp.text import normalise
from nlp.train import TrainConfig, build_pipeline

__all__ = [
    "export_review_queue",
    "highlight_terms",
    "probable_label_errors",
    "review_html",
    "review_queue",
]


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
        raise DataError(
            f"{len(documents)} documents but {len(labels)} labels; give one label per document"
        )
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
            "text": preview(documents[i], 160),
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
    found = frame_documents(frame, text_col=text_col, title_col=title_col)
    answers = model.answer(found, top_k=2, policy=policy, explain=explain)
    ids = frame[id_col].tolist() if id_col else frame.index.tolist()
    rows = []
    documents = dict(zip(found.positions, found.documents, strict=True))
    for position, answer in enumerate(answers):
        if not isinstance(answer, Prediction):  # no text: nothing to review
            continue
        truth = given[position] if given is not None else None
        has_truth = isinstance(truth, str) and truth.strip() != ""
        wrong = has_truth and str(truth).strip() != answer.label
        if not (wrong or answer.needs_review):
            continue
        reasons = (("wrong", wrong), ("unsure", answer.needs_review))
        rows.append(
            {
                "id": ids[position],
                "reason": ", ".join(r for r, on in reasons if on),
                "given": str(truth).strip() if has_truth else None,
                "predicted": answer.label,
                "confidence": answer.confidence,
                "runner_up": answer.top_k[1][0] if len(answer.top_k) > 1 else None,
                "review_reason": answer.review_reason,
                # In normal form, like the text shown beside them (terms are as typed).
                "terms": [normalise(term.term) for term in answer.explanation],
                "text": normalise(documents[position]),
            }
        )
    queue = pd.DataFrame(rows, columns=_QUEUE_COLUMNS)
    if not queue.empty:
        queue["_wrong"] = queue["reason"].str.startswith("wrong")
        queue = queue.sort_values(["_wrong", "confidence"], ascending=[False, True], kind="stable")
        queue = queue.drop(columns="_wrong").reset_index(drop=True)
    return queue.head(limit) if limit is not None else queue


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
