"""Where a ticket's time goes: microseconds per ticket for each step of tagging a chunk.

Trains the default model on ../shared/data (split=train bodies + titles.csv), then times
each step on chunks of title + body tickets from train.csv, the way `appeals tag` sees them
(best of --repeat runs per step, one core):

    normalise -> segment (one rjieba call per chunk) -> word ids -> character ids
    -> scores (TF-IDF times the weights) -> ranking -> tag_frame's columns

    .venv/bin/python bench/steps.py [--shared ../shared/data] [--chunk-size 2000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nlp import TrainConfig, compose_document, normalise, train
from nlp.features import _chunk_hashes
from nlp.model import RoutingModel
from nlp.tagging.frame import tag_frame

ROOT = Path(__file__).resolve().parents[1]


def best(step: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return min(times)


def time_chunk(chunk: pd.DataFrame, model: RoutingModel, repeat: int) -> dict[str, float]:
    """Seconds (best of ``repeat``) of each step on one chunk."""
    vectorizer = model.vectorizer
    documents = [compose_document(t, h) for t, h in zip(chunk.text, chunk.title, strict=True)]
    normalised = [normalise(d) for d in documents]
    limit = vectorizer.max_segment_chars
    cut = [d[:limit] for d in normalised]
    hashed = _chunk_hashes(vectorizer.segmenter_, cut)
    assert hashed is not None
    words = vectorizer.words_._feature_ids(*hashed)
    chars = vectorizer.chars_._feature_ids(normalised)
    weights = model._classifier.weights_
    n_words = vectorizer.n_word_features_
    logits = np.zeros((len(chunk), weights.shape[1]))
    steps: dict[str, Callable[[], Any]] = {
        "normalise (mask, NFKC, t2s)": lambda: [normalise(d) for d in documents],
        "segment (rjieba, one call)": lambda: vectorizer.segmenter_.cut_chunk(cut),
        "segment + token hashes": lambda: _chunk_hashes(vectorizer.segmenter_, cut),
        "word n-gram ids": lambda: vectorizer.words_._feature_ids(*hashed),
        "character n-gram ids": lambda: vectorizer.chars_._feature_ids(normalised),
        "scores (TF-IDF x weights)": lambda: (
            vectorizer.words_._add_scores(*words, weights[:n_words], logits),
            vectorizer.chars_._add_scores(*chars, weights[n_words:], logits),
        ),
        "RoutingModel.rank (all above)": lambda: model.rank(documents),
        "tag_frame (rank + columns)": lambda: tag_frame(
            chunk, model, text_col="text", title_col="title"
        ),
    }
    return {name: best(step, repeat) for name, step in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--chunk-size", type=int, default=2_000)
    parser.add_argument("--chunks", type=int, default=3, help="distinct chunks timed")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bodies = pd.read_csv(args.shared / "appeals" / "train.csv", dtype=str, keep_default_na=False)
    titles = pd.read_csv(args.shared / "appeals" / "titles.csv", dtype=str, keep_default_na=False)
    training = pd.concat(
        [bodies[bodies.split == "train"][["text", "label"]], titles[["title", "label"]]],
        ignore_index=True,
    )
    model = train(training, TrainConfig()).model
    model.warm_up()

    n = args.chunk_size * args.chunks
    index = np.arange(n) % len(bodies)
    frame = pd.DataFrame(
        {
            "title": titles["title"].to_numpy()[np.arange(n) % len(titles)],
            "text": bodies["text"].to_numpy()[index],
        }
    )
    totals: dict[str, float] = {}
    for start in range(0, n, args.chunk_size):
        chunk = frame.iloc[start : start + args.chunk_size]
        for name, seconds in time_chunk(chunk, model, args.repeat).items():
            totals[name] = totals.get(name, 0.0) + seconds
    pairs = zip(frame.text, frame.title, strict=True)
    length = np.mean([len(compose_document(t, h) or "") for t, h in pairs])
    print(
        f"{n:,} title + body tickets ({length:.0f} characters on average), chunks of "
        f"{args.chunk_size:,}, best of {args.repeat}; microseconds per ticket:"
    )
    for name, seconds in totals.items():
        print(f"  {name:<32}{seconds / n * 1e6:8.1f}")


if __name__ == "__main__":
    main()
