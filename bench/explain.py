"""Explanation figures: what a dispatcher is shown as the deciding words. Prints; asserts nothing.

    .venv/bin/python bench/explain.py [--shared ../shared/data] [--terms 8] [--top 3]

1. A model trained on all of ``appeals/train.csv`` (bodies) and ``appeals/titles.csv``,
   explaining the 921 whole messages (title + body) of ``appeals/test.csv``.
2. The demo model (``data/demo/appeals.csv``, what ``make run`` serves), explaining its own
   demo tickets and the same test messages.

For each: the share of tickets whose first ``--top`` terms hold a stop word, a placeholder, a
single character or digits only (target 0), the share of tickets with content words whose
explanation is empty (target 0), tickets with a term that has no place in the ticket, the
mean number of terms, and the time to explain one ticket in process (p50). The figures come
from :func:`nlp.evaluate.explanation_quality`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nlp import TrainConfig, train
from nlp.evaluate import explanation_quality
from nlp.model import RoutingModel

ROOT = Path(__file__).resolve().parents[1]


def report(name: str, model: RoutingModel, frame: pd.DataFrame, *, terms: int, top: int) -> None:
    texts = frame["text"].tolist()
    titles = frame["title"].tolist() if "title" in frame.columns else None
    quality = explanation_quality(model, texts, titles, n=terms, top=top)
    latencies = []
    for i in range(min(len(texts), 500)):
        started = time.perf_counter()
        model.classify([texts[i]], None if titles is None else [titles[i]], explain=terms)
        latencies.append(time.perf_counter() - started)
    print(f"{name}: {quality.tickets} tickets, {quality.with_content} with content words")
    print(
        f"  top {top} terms hold filler (stop word, placeholder, ...): {quality.filler_share:.2%}"
    )
    print(f"  empty explanation where the ticket has content words:   {quality.empty_share:.2%}")
    print(f"  tickets with a term not located in the ticket:           {quality.untraceable}")
    print(
        f"  mean terms per ticket (at most {terms}):                       {quality.mean_terms:.2f}"
    )
    print(f"  classify + explain one ticket, p50 over {len(latencies)}:          "
          f"{np.median(latencies) * 1000:.2f} ms")  # fmt: skip
    for kind, documents in quality.examples.items():
        for document in documents[:2]:
            print(f"    e.g. {kind}: {document[:80]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--terms", type=int, default=8, help="terms per explanation")
    parser.add_argument("--top", type=int, default=3, help="terms checked for filler")
    args = parser.parse_args()
    appeals = args.shared / "appeals"
    if not (appeals / "test.csv").is_file():
        raise SystemExit(f"{appeals / 'test.csv'} not found: this benchmark needs ../shared/data")
    read = {"dtype": str, "keep_default_na": False}
    bodies = pd.read_csv(appeals / "train.csv", **read)[["id", "text", "label"]]
    titles = pd.read_csv(appeals / "titles.csv", **read)
    test = pd.read_csv(appeals / "test.csv", **read)
    demo = pd.read_csv(ROOT / "data" / "demo" / "appeals.csv", **read)

    started = time.perf_counter()
    shared_model = train(pd.concat([bodies, titles], ignore_index=True), TrainConfig()).model
    print(f"trained on train.csv + titles.csv in {time.perf_counter() - started:.1f}s")
    report("test.csv (title + body)", shared_model, test, terms=args.terms, top=args.top)

    started = time.perf_counter()
    demo_model = train(demo, TrainConfig()).model
    print(f"trained the demo model on {len(demo)} tickets in {time.perf_counter() - started:.1f}s")
    report("demo model, demo tickets", demo_model, demo, terms=args.terms, top=args.top)
    report("demo model, test.csv", demo_model, test, terms=args.terms, top=args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
