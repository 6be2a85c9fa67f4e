"""normalise() on hostile input and on real tickets.

Prints, for every hostile input of tests/nlp/adversarial_text.py (long runs of what each
masking and normalisation pattern looks for), the time of one normalise() call at --chars
characters (best of --repeat; the target is under 50 ms each), the worst of them, and then
microseconds per ticket of normalise() on title + body tickets from
../shared/data/appeals/train.csv (best of --repeat passes, one core), and two of its steps
beside the standard-library call they replace. Times are CPU time of
this process, so that other work on a shared host does not count.

    .venv/bin/python bench/normalise.py [--shared ../shared/data] [--chars 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import unicodedata
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the hostile inputs are the tests'

from nlp import compose_document, normalise  # noqa: E402
from nlp.text import collapse_whitespace, fold_width  # noqa: E402
from tests.nlp.adversarial_text import ADVERSARIAL  # noqa: E402


def best(step: Callable[[], Any], repeat: int) -> float:
    """The shortest of ``repeat`` runs, in CPU seconds: noise only ever adds time."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        step()
        times.append(time.process_time() - started)
    return min(times)


def hostile(chars: int, repeat: int) -> None:
    print(f"normalise() on hostile input of {chars:,} characters, best of {repeat}, ms:")
    timings = {}
    for name, build in ADVERSARIAL.items():
        text = build(chars)
        timings[name] = best(partial(normalise, text), repeat)
        print(f"  {name:<44}{timings[name] * 1e3:8.2f}")
    worst = max(timings, key=timings.__getitem__)
    print(f"worst: {worst}, {timings[worst] * 1e3:.2f} ms (target: under 50 ms)")


def tickets(shared: Path, n: int, repeat: int) -> None:
    bodies = pd.read_csv(shared / "appeals" / "train.csv", dtype=str, keep_default_na=False)
    titles = pd.read_csv(shared / "appeals" / "titles.csv", dtype=str, keep_default_na=False)
    documents = [
        compose_document(bodies.text.iat[i % len(bodies)], titles.title.iat[i % len(titles)]) or ""
        for i in range(n)
    ]
    seconds = best(lambda: [normalise(d) for d in documents], repeat)
    length = np.mean([len(d) for d in documents])
    print(
        f"normalise() on {n:,} title + body tickets of train.csv ({length:.0f} characters on "
        f"average), best of {repeat}: {seconds / n * 1e6:.1f} us per ticket"
    )
    steps(documents, repeat)


def steps(documents: list[str], repeat: int) -> None:
    """The steps of nlp.text whose comments compare them with the obvious alternative."""
    whitespace = re.compile(r"\s+")
    pairs = {
        "fold_width vs unicodedata.normalize('NFKC')": (
            lambda: [fold_width(d) for d in documents],
            lambda: [unicodedata.normalize("NFKC", d) for d in documents],
        ),
        "collapse_whitespace vs re.sub(r'\\s+', ' ').strip()": (
            lambda: [collapse_whitespace(d) for d in documents],
            lambda: [whitespace.sub(" ", d).strip() for d in documents],
        ),
    }
    print(f"steps against their alternative, on the same tickets, best of {repeat}:")
    for name, (ours, theirs) in pairs.items():
        mine, other = best(ours, repeat), best(theirs, repeat)
        n = len(documents)
        print(
            f"  {name:<52}{mine / n * 1e6:6.2f} vs {other / n * 1e6:6.2f} us per ticket "
            f"({other / mine:.1f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--chars", type=int, default=20_000, help="length of hostile inputs")
    parser.add_argument("--tickets", type=int, default=6_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    hostile(args.chars, args.repeat)
    tickets(args.shared, args.tickets, args.repeat)


if __name__ == "__main__":
    main()
