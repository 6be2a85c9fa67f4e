"""Exploring a dataset before training on it: what analysts ask of tickets, as functions.

:func:`sample_frame` and :func:`split_by_column` pick the rows; :func:`class_balance`,
:func:`length_stats`, :func:`distinctive_terms`, :func:`find_duplicates` and
:func:`personal_data_counts` describe them. The notebooks are their clients.

Every text these functions return (previews of duplicates) is masked: personal data never
leaves unmasked.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nlp.errors import DataError
from nlp.segment import DEFAULT_USER_DICT, Backend, Segmenter
from nlp.text import PLACEHOLDERS, count_personal_data, normalise

__all__ = [
    "class_balance",
    "distinctive_terms",
    "find_duplicates",
    "length_stats",
    "personal_data_counts",
    "sample_frame",
    "split_by_column",
]

#: Characters of masked text kept in previews (duplicate pairs, label errors).
PREVIEW_CHARS = 80
# A term worth showing has a letter or a CJK character; punctuation and numbers are not.
_WORDLIKE = re.compile(r"[A-Za-z\u4e00-\u9fff]")


def preview(document: str, chars: int = PREVIEW_CHARS) -> str:
    """``document`` normalised (personal data masked), cut to ``chars`` characters."""
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
        raise DataError(f"sample size must be positive, got {n}; give None to keep every row")
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
            raise DataError(
                f"{len(documents)} documents but {len(labels)} labels; give one label per document"
            )
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
        raise DataError(
            f"{len(documents)} documents but {len(labels)} labels; give one label per document"
        )
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
        raise DataError(
            f"{count} documents is more than max_documents={max_documents}; "
            "sample the data first (sample_frame) or raise the bound"
        )
    if not 0.0 < threshold <= 1.0:
        raise DataError(f"threshold must be a similarity in (0, 1], got {threshold}")
    keys = ids if ids is not None else range(count)
    if len(keys) != count or (labels is not None and len(labels) != count):
        raise DataError("ids and labels must have one entry per document")
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
        row |= {"text_first": preview(documents[a]), "text_second": preview(documents[b])}
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
