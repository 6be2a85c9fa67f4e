"""The every-field answers as a digest: compare code before and after a change that must not
change any answer.

Trains the Teddy Cup model on the bodies and titles of ../shared/data/appeals/train.csv (as
bench/serve.py does; or loads the active model of --models-dir), builds the Dispatcher of
bench/serve.py (urgency, several problems, the demo gazetteer, ``routing_teddy.toml``), then
answers every ticket of ../shared/data/appeals/test.csv and of data/eval/*.csv (those with a
text column) three ways: ``classify([text], [title], top_k=3, explain=8, dispatcher=...)``
one ticket at a time, the same without the title, and ``tag_frame`` in chunks of 100 rows
with the title column. Prints the number of tickets and the sha256 of the JSON answers;
``--out FILE`` writes them, one line per answer (per chunk for tag_frame), to compare with
``cmp`` or ``diff``. Run it on both versions (``PYTHONPATH=...``) with the same
--models-dir, so that the model is the same:

    .venv/bin/python bench/dispatch_answers.py --models-dir /tmp/answers-models --out a.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import pandas as pd
from serve import every_field_dispatcher  # bench/ is the script's directory

ROOT = Path(__file__).resolve().parents[1]


def tickets(shared: Path) -> list[tuple[str, str]]:
    """(body, title) of test.csv, then of every evaluation set with a text column."""
    found: list[tuple[str, str]] = []
    paths = [shared / "appeals" / "test.csv", *sorted((ROOT / "data" / "eval").glob("*.csv"))]
    for path in paths:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "text" not in frame.columns:
            continue
        titles = frame["title"] if "title" in frame.columns else [""] * len(frame)
        found += list(zip(frame["text"], titles, strict=True))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--models-dir", type=Path, required=True, help="trained here if empty")
    parser.add_argument("--out", type=Path, default=None, help="write the answers here")
    args = parser.parse_args()

    from nlp import Registry, tag_frame
    from nlp.io import read_table
    from nlp.train import TrainConfig, train

    registry = Registry(args.models_dir)
    if not registry.versions():
        result = train(read_table(args.shared / "appeals" / "train.csv"), TrainConfig(C=1.0))
        registry.save(result.model, metrics=result.evaluation.to_dict())
    model = registry.load()
    dispatcher = every_field_dispatcher(model.labels)
    pairs = tickets(args.shared)
    started = time.perf_counter()
    lines: list[str] = []
    for text, title in pairs:
        for head in (title or None, None):
            [answer] = model.classify([text], [head], top_k=3, explain=8, dispatcher=dispatcher)
            lines.append(json.dumps(answer.to_dict(), ensure_ascii=False, sort_keys=True))
    frame = pd.DataFrame({"text": [text for text, _ in pairs], "title": [t for _, t in pairs]})
    for start in range(0, len(frame), 100):
        chunk = frame.iloc[start : start + 100].reset_index(drop=True)
        tagged = tag_frame(chunk, model, title_col="title", dispatcher=dispatcher)
        lines.append(tagged.to_json(orient="records", force_ascii=False))
    text = "\n".join(lines)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    print(
        f"{len(pairs)} tickets ({model.version}), {len(lines)} answers in "
        f"{time.perf_counter() - started:.0f}s: sha256 {digest}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
