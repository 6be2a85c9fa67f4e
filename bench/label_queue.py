"""The label queue's near-duplicate threshold, measured: how similar two different tickets of
one department get, and what the pairs above each threshold are.

On the training split of ../shared/data/appeals/train.csv (never test.csv: the threshold is a
choice), every pair of masked bodies is scored as :func:`nlp.label_queue` scores them (cosine
of character 1-3-gram TF-IDF). Prints the high quantiles of same-department pairs, how many
pairs reach each threshold, and --show pairs just above --threshold so that a reader can judge
whether they are one problem.

    .venv/bin/python bench/label_queue.py [--shared ../shared/data] [--threshold 0.5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from nlp import normalise
from nlp.analysis.labelling import DEFAULT_MAX_SIMILARITY

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--threshold", type=float, default=DEFAULT_MAX_SIMILARITY)
    parser.add_argument("--show", type=int, default=8, help="pairs shown just above it")
    parser.add_argument("--rows", type=int, default=None, help="at most this many bodies")
    args = parser.parse_args()

    frame = pd.read_csv(args.shared / "appeals" / "train.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["split"] == "train"].head(args.rows).reset_index(drop=True)
    documents = [normalise(text) for text in frame["text"]]
    vectors = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    matrix = vectors.fit_transform(documents)
    cosines = (matrix @ matrix.T).toarray().astype(np.float32)
    upper = np.triu_indices(len(documents), 1)
    values = cosines[upper]
    del cosines
    labels = frame["label"].to_numpy()
    same = labels[upper[0]] == labels[upper[1]]
    print(f"{len(documents)} training bodies, {values.size:,} pairs ({same.sum():,} same-label)")
    for quantile in (0.99, 0.999, 0.9999):
        cosine = np.quantile(values[same], quantile)
        print(f"same-label pairs, quantile {quantile}: cosine {cosine:.3f}")
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        print(f"pairs at cosine >= {threshold}: {int((values >= threshold).sum())}")
    above = np.flatnonzero(values >= args.threshold)
    above = above[np.argsort(values[above])][: args.show]
    print(f"the {len(above)} least similar pairs at >= {args.threshold}:")
    for index in above:
        first, second = upper[0][index], upper[1][index]
        print(f"  {values[index]:.3f}  {documents[first][:40]} | {documents[second][:40]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
