"""Batch tagging throughput and memory: `appeals tag` end to end on 1,000,000 tickets.

Builds the input by repeating the bodies and titles of ../shared/data/appeals, trains the
default model on ../shared/data through the library into a temporary models folder, then
runs `appeals tag` (a subprocess each time, so start-up, model loading and writing the
output all count) with --jobs 1, --jobs 2 and Dask LocalCluster(2) on 100,000 rows once,
then on the full size in --rounds rounds (3 by default), the engines taking turns. Prints
every run's tickets/s, tickets/s per core, CPU-seconds (every process of the run, from
the kernel's accounting) and the peak RSS of the whole process tree (main
process, worker processes, Dask nanny and workers), sampled every 0.5 s (more often, the
sampling took a tenth of a core from the run); then each engine's median over the rounds,
and round by round --jobs 2 / --jobs 1 and Dask's tickets/s as a share of --jobs 2's.
Repeated runs on a shared host differ by several per cent, as much as the margin the
--jobs 2 target leaves, so one run of each decides nothing. For reference it also runs two
independent `--jobs 1` runs side by side on half the rows each: what two cores of this
machine give with no coordination between them.

Each engine runs with the answer as it was before dispatch (``--no-urgency --no-problems``,
the engine's plain name) and, as ``NAME+fields``, with every dispatch field on: urgency,
several problems, location against the demo gazetteer and the Teddy Cup routing table
(``data/demo/routing_teddy.toml``); the summary gives each engine's cost of the fields.

    .venv/bin/python bench/batch.py                 # 1,000,000 rows (and 100,000), ~25 min
    .venv/bin/python bench/batch.py --rows 200000 --rounds 1   # quicker
    .venv/bin/python bench/batch.py --rows 20000 --small-rows 20000 --rounds 1 \
        --no-reference --engines jobs1,jobs1+fields         # the fields' cost, in minutes
Each run is stopped after --timeout seconds, so the whole script is bounded in time.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

from nlp.registry import Registry
from nlp.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
#: The answer without the dispatch fields (as `appeals tag` wrote it before them), and with
#: all of them (the demo gazetteer places nothing in the Teddy Cup's masked city: the
#: gazetteer's pass over each ticket is what costs, and it is paid all the same).
NO_FIELDS = ["--no-urgency", "--no-problems"]
ALL_FIELDS = [
    "--gazetteer",
    str(ROOT / "data" / "demo" / "gazetteer.csv"),
    "--city",
    "江州市",
    "--routing",
    str(ROOT / "data" / "demo" / "routing_teddy.toml"),
]
_BASE = {
    "jobs1": (["--jobs", "1"], 1, "--jobs 1"),
    "jobs2": (["--jobs", "2"], 2, "--jobs 2"),
    "dask2": (["--engine", "dask", "--jobs", "2"], 2, "dask LocalCluster(2)"),
}
ENGINES = {
    **{
        name: ([*options, *NO_FIELDS], cores, label)
        for name, (options, cores, label) in _BASE.items()
    },
    **{
        f"{name}+fields": ([*options, *ALL_FIELDS], cores, f"{label} +fields")
        for name, (options, cores, label) in _BASE.items()
    },
}


def build_input(shared: Path, rows: int, path: Path) -> None:
    """``rows`` tickets: body i and title i of the shared data, repeated, written in blocks."""
    bodies = pd.read_csv(shared / "appeals" / "train.csv", dtype=str, keep_default_na=False)
    titles = pd.read_csv(shared / "appeals" / "titles.csv", dtype=str, keep_default_na=False)
    body, title = bodies["text"].to_numpy(), titles["title"].to_numpy()
    block = 100_000
    for start in range(0, rows, block):
        index = range(start, min(start + block, rows))
        frame = pd.DataFrame(
            {
                "id": [f"t{i:07d}" for i in index],
                "title": [title[i % len(title)] for i in index],
                "text": [body[i % len(body)] for i in index],
            }
        )
        frame.to_csv(path, mode="w" if start == 0 else "a", header=start == 0, index=False)


def train_default(shared: Path, models: Path) -> str:
    bodies = pd.read_csv(shared / "appeals" / "train.csv", dtype=str, keep_default_na=False)
    titles = pd.read_csv(shared / "appeals" / "titles.csv", dtype=str, keep_default_na=False)
    frame = pd.concat([bodies[["text", "label"]], titles[["title", "label"]]], ignore_index=True)
    result = train(frame, TrainConfig())
    return Registry(models).save(result.model, name="default", metrics=result.evaluation.to_dict())


def run_tag(
    source: Path, out: Path, models: Path, options: list[str], chunk: int, timeout: float
) -> tuple[float, int, bool, float]:
    """(seconds, peak RSS of the process tree in bytes, finished, CPU-seconds) of one
    `appeals tag` run. CPU-seconds are those of every process of the run (the CLI, its
    worker processes, Dask's nanny and workers), from the kernel's accounting of the
    children this process reaped (getrusage): exact, but only when no other run goes on
    beside it (nan for the side-by-side runs, which overlap)."""
    command = [sys.executable, "-m", "service.cli", "tag", str(source), "--out", str(out)]
    command += ["--models-dir", str(models), "--chunk-size", str(chunk), *options]
    before = _children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    parent = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        if time.perf_counter() - started > timeout:
            for child in parent.children(recursive=True):
                child.kill()
            process.kill()
            process.communicate()
            return time.perf_counter() - started, peak, False, math.nan
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(_rss(p) for p in tree))
        except psutil.NoSuchProcess:
            pass
        # psutil walks the process tree: keep its share of a core small. Waiting (rather
        # than sleeping) ends the moment the run does, so the time is exact.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.5)
    seconds = time.perf_counter() - started
    _, stderr = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr}")
    return seconds, peak, True, _children_cpu() - before


def _children_cpu() -> float:
    """User + system CPU-seconds of every terminated, reaped descendant of this process
    (a grandchild counts once its parent has reaped it, as the CLI and Dask's nanny do)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def side_by_side(shared: Path, folder: Path, rows: int, chunk: int, timeout: float) -> float | None:
    """Seconds for two independent `--jobs 1` runs on half the rows each, started together:
    what two cores give with no coordination at all (the reference for --jobs 2, which
    shares the machine's cache and memory bandwidth the same way). None on --timeout."""
    half = folder / f"tickets-half-{rows}.csv"
    build_input(shared, rows // 2, half)
    results: list[tuple[float, int, bool, float]] = []

    def one(number: int) -> None:
        out = folder / f"out-side-{number}.parquet"
        results.append(run_tag(half, out, folder / "models", ["--jobs", "1"], chunk, timeout))
        out.unlink(missing_ok=True)

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return seconds if all(finished for _, _, finished, _ in results) else None


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=100_000, help="for the RSS ratio")
    parser.add_argument("--chunk-size", type=int, default=2_000)
    parser.add_argument(
        "--engines",
        default="jobs1,jobs1+fields,jobs2,jobs2+fields,dask2,dask2+fields",
        help=",".join(ENGINES),
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="full-size runs of every engine, in turn (the figures are their medians)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the two side-by-side --jobs 1 runs on half the rows each",
    )
    args = parser.parse_args()
    if not (args.shared / "appeals" / "train.csv").is_file():
        raise SystemExit(f"{args.shared}: no appeals/train.csv; pass --shared")
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise SystemExit(f"unknown engine(s) {unknown}; choose from {', '.join(ENGINES)}")
    sizes = sorted({min(args.small_rows, args.rows), args.rows})

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as temp:
        folder = Path(temp)
        started = time.perf_counter()
        version = train_default(args.shared, folder / "models")
        print(f"trained default@{version} on {args.shared} in {time.perf_counter() - started:.0f}s")
        inputs = {}
        for rows in sizes:
            inputs[rows] = folder / f"tickets-{rows}.csv"
            build_input(args.shared, rows, inputs[rows])
        print(
            f"input: {', '.join(f'{r:,}' for r in sizes)} rows; chunk size {args.chunk_size:,};"
            f" {os.cpu_count()} CPUs; end to end (start-up, read, tag, write Parquet)"
        )
        print(
            f"{'engine':<22}{'rows':>10}{'round':>6}{'seconds':>9}{'tickets/s':>11}"
            f"{'per core':>10}{'peak RSS':>11}{'CPU-s':>8}"
        )
        peaks: dict[str, dict[int, int]] = {}
        rates: dict[str, dict[int, float]] = {}  # engine -> round -> tickets/s

        def measure(name: str, rows: int, round_: int) -> None:
            options, cores, label = ENGINES[name]
            out = folder / f"out-{name}-{rows}.parquet"
            seconds, peak, finished, cpu = run_tag(
                inputs[rows], out, folder / "models", options, args.chunk_size, args.timeout
            )
            out.unlink(missing_ok=True)
            by_rows = peaks.setdefault(label, {})
            by_rows[rows] = max(by_rows.get(rows, 0), peak)
            where = f"{label:<22}{rows:>10,}{round_:>6}"
            if not finished:
                print(f"{where} stopped after {seconds:.0f}s (--timeout)")
                return
            rate = rows / seconds
            if rows == args.rows:
                rates.setdefault(name, {})[round_] = rate
            print(
                f"{where}{seconds:>9.1f}{rate:>11,.0f}{rate / cores:>10,.0f}"
                f"{peak / 2**20:>8,.0f} MB{cpu:>8.1f}"
            )
            sys.stdout.flush()

        if len(sizes) == 2:
            for name in engines:
                measure(name, sizes[0], 1)
        # Engines take turns, round after round: a machine that slows down for a while (a
        # busy neighbour on a shared host) slows every engine alike, and each round pairs
        # runs made minutes apart.
        for round_ in range(1, args.rounds + 1):
            for name in engines:
                measure(name, args.rows, round_)
        if not args.no_reference:
            seconds_side = side_by_side(
                args.shared, folder, args.rows, args.chunk_size, args.timeout
            )
            label = "2 x --jobs 1, halves"
            if seconds_side is None:
                print(f"{label:<22}{args.rows:>10,} stopped (--timeout)")
            else:
                rate = args.rows / seconds_side
                print(
                    f"{label:<22}{args.rows:>10,}{1:>6}{seconds_side:>9.1f}{rate:>11,.0f}"
                    f"{rate / 2:>10,.0f}   (reference: two independent runs side by side)"
                )
        report(
            rates, {name: peaks[ENGINES[name][2]].get(args.rows, 0) for name in rates}, args.rows
        )
        if len(sizes) == 2:
            small, large = sizes
            for label, by_rows in peaks.items():
                if by_rows.get(small) and by_rows.get(large):
                    print(
                        f"peak RSS {large:,} / {small:,} rows, {label}: "
                        f"{by_rows[large] / by_rows[small]:.2f}x (target <= 1.5x)"
                    )


def report(rates: dict[str, dict[int, float]], peaks: dict[str, int], rows: int) -> None:
    """Median tickets/s of each engine over its rounds (and its highest peak RSS), --jobs 2
    over --jobs 1 and Dask LocalCluster(2) over --jobs 2 in every round (the runs of a
    round are minutes apart, so share the machine's weather)."""
    if not rates:
        return
    print(f"median of the {rows:,}-row rounds (lowest - highest), highest peak RSS:")
    for name, by_round in rates.items():
        _, cores, label = ENGINES[name]
        values = list(by_round.values())
        median = statistics.median(values)
        print(
            f"  {label:<22}{median:>9,.0f} tickets/s{median / cores:>8,.0f} per core"
            f"   ({min(values):,.0f} - {max(values):,.0f}, {len(values)} run(s))"
            f"{peaks[name] / 2**20:>8,.0f} MB"
        )
    one, two = rates.get("jobs1", {}), rates.get("jobs2", {})
    ratios = [two[round_] / one[round_] for round_ in sorted(one.keys() & two.keys())]
    if ratios:
        listed = ", ".join(f"{ratio:.2f}x" for ratio in ratios)
        print(
            f"--jobs 2 / --jobs 1: {statistics.median(ratios):.2f}x, the median of its rounds "
            f"({listed}); target >= 1.8x"
        )
    dask = rates.get("dask2", {})
    shares = [dask[round_] / two[round_] for round_ in sorted(two.keys() & dask.keys())]
    if shares:
        listed = ", ".join(f"{share:.0%}" for share in shares)
        print(
            f"dask LocalCluster(2) / --jobs 2: {statistics.median(shares):.0%}, the median of "
            f"its rounds ({listed}); target >= 85%"
        )
    for name, (_, _, label) in _BASE.items():
        plain, fields = rates.get(name, {}), rates.get(f"{name}+fields", {})
        costs = [
            plain[round_] / fields[round_] - 1 for round_ in sorted(plain.keys() & fields.keys())
        ]
        if costs:
            listed = ", ".join(f"{cost:+.0%}" for cost in costs)
            print(
                f"{label} with every dispatch field: {statistics.median(costs):+.0%} time per "
                f"ticket, the median of its rounds ({listed}); target <= +25%"
            )


if __name__ == "__main__":
    main()
