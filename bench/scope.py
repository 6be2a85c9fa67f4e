"""The out-of-scope rule's figures. Prints; asserts nothing.

    .venv/bin/python bench/scope.py [--shared ../shared/data] [--skip-shared]

1. The demo model (``data/demo/appeals.csv``, default training options and held-out split):
   share of ``data/eval/out_of_scope.csv`` flagged ``out_of_scope`` and ``needs_review``,
   overall and per kind; review rate on its held-out demo appeals with and without the rule.
2. A model trained on all of ``appeals/train.csv`` + ``titles.csv``: the same on the
   evaluation set, and the review rate on ``appeals/test.csv`` (whole unseen messages,
   title + body) with and without the rule.

The measure is :func:`nlp.scope.out_of_scope_rate`; the thresholds are fitted on the
training data alone (``TrainConfig.out_of_scope_rate``), never on these files.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from nlp import ReviewPolicy, RoutingModel, TrainConfig, train
from nlp.documents import compose_documents
from nlp.scope import out_of_scope_rate

ROOT = Path(__file__).resolve().parents[1]
NO_SCOPE = ReviewPolicy(out_of_scope=False)


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def line(label: str, value: str) -> None:
    print(f"  {label:<58} {value}")


def evaluation_set(model: RoutingModel) -> None:
    frame = read(ROOT / "data" / "eval" / "out_of_scope.csv")
    rate = out_of_scope_rate(model, frame["text"].tolist(), kinds=frame["kind"].tolist())
    line(
        f"data/eval/out_of_scope.csv ({rate.n}): out_of_scope / needs_review",
        f"{rate.out_of_scope:.1%} / {rate.needs_review:.1%}",
    )
    for kind, figures in rate.by_kind.items():
        line(
            f"  {kind} ({figures['n']:.0f})",
            f"{figures['out_of_scope']:.1%} / {figures['needs_review']:.1%}",
        )


def review_rates(
    model: RoutingModel, texts: list[str], titles: list[str] | None, name: str
) -> None:
    found = compose_documents(texts, titles)
    with_rule = model.rank(found.documents)
    without = model.rank(found.documents, policy=NO_SCOPE)
    flagged = sum(r is not None for r in with_rule.review_reasons) / len(found.documents)
    before = sum(r is not None for r in without.review_reasons) / len(found.documents)
    scope = sum("out_of_scope" in c for c in with_rule.review_codes or []) / len(found.documents)
    line(
        f"{name} ({len(found.documents)}): review rate without / with the rule",
        f"{before:.2%} / {flagged:.2%} (+{flagged - before:.2%}; out_of_scope {scope:.2%})",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--skip-shared", action="store_true")
    args = parser.parse_args()

    demo = read(ROOT / "data" / "demo" / "appeals.csv")
    started = time.perf_counter()
    result = train(demo, TrainConfig())
    print(f"Demo model ({len(demo)} appeals, trained in {time.perf_counter() - started:.1f} s)")
    evaluation_set(result.model)
    # The appeals train() held out: the same stratified split (every demo row is usable).
    _, test_rows = train_test_split(demo, test_size=0.2, stratify=demo["label"], random_state=0)
    texts, titles = test_rows["text"].tolist(), test_rows["title"].tolist()
    review_rates(result.model, texts, titles, "demo held-out")

    if args.skip_shared:
        return
    appeals = args.shared / "appeals"
    frame = pd.concat(
        [read(appeals / "train.csv"), read(appeals / "titles.csv")], ignore_index=True
    )
    test = read(appeals / "test.csv")
    started = time.perf_counter()
    model = train(frame, TrainConfig(), eval_frame=test).model
    print(
        f"Teddy Cup model (train.csv + titles.csv, {len(frame)} rows, trained in "
        f"{time.perf_counter() - started:.1f} s)"
    )
    evaluation_set(model)
    review_rates(model, test["text"].tolist(), test["title"].tolist(), "test.csv title + body")


if __name__ == "__main__":
    main()
