"""Accuracy figures on the real data in ../shared/data. Prints; asserts nothing.

    .venv/bin/python bench/accuracy.py [--shared ../shared/data] [--skip-jieba]

1. Teddy Cup 2020 appeals: train on split=train (bodies, then bodies + titles.csv), score
   split=dev; a plain character TF-IDF + LinearSVC baseline for comparison.
2. Training time on all 5,857 bodies + 7,266 titles.
3. Dev converted to traditional characters (OpenCC s2t): macro-F1 against the original.
4. Masking: 1,000+ generated phone / ID / e-mail / bank-card strings in text; survivors.
5. Segmenters: rjieba against jieba, token agreement and dev macro-F1 of each.
6. COCC telecom complaints, stratified 80/20: nothing is tuned to one label set.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import replace
from pathlib import Path

import opencc
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from nlp import ReviewPolicy, Segmenter, TrainConfig, compose_document, evaluate, normalise, train

CONFIG = TrainConfig(text_col="text", title_col="title", label_col="label")


def line(label: str, value: str) -> None:
    print(f"  {label:<62} {value}")


def teddy(shared: Path, *, skip_jieba: bool) -> None:
    bodies = pd.read_csv(shared / "appeals" / "train.csv", dtype=str, keep_default_na=False)
    titles = pd.read_csv(shared / "appeals" / "titles.csv", dtype=str, keep_default_na=False)
    train_rows, dev = bodies[bodies.split == "train"], bodies[bodies.split == "dev"]
    print(
        f"Teddy Cup 2020 appeals: {len(train_rows)} train bodies, {len(dev)} dev, "
        f"{len(titles)} titles"
    )

    baseline = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    svm = LinearSVC().fit(baseline.fit_transform(train_rows.text), train_rows.label)
    predicted = svm.predict(baseline.transform(dev.text))
    line(
        "baseline char 1-3 TF-IDF + LinearSVC, bodies: macro-F1",
        f"{f1_score(dev.label, predicted, average='macro'):.4f}",
    )

    for source in ("text", "words"):
        ev = train(train_rows, replace(CONFIG, char_source=source), eval_frame=dev).evaluation
        line(
            f"appeal-router, bodies, char_source={source}: accuracy / macro-F1",
            f"{ev.accuracy:.4f} / {ev.macro_f1:.4f}",
        )
    with_titles = train(pd.concat([train_rows, titles], ignore_index=True), CONFIG, eval_frame=dev)
    ev = with_titles.evaluation
    line(
        "appeal-router, bodies + titles.csv: accuracy / macro-F1",
        f"{ev.accuracy:.4f} / {ev.macro_f1:.4f}   <- target >= 0.90",
    )
    line("  top-2 accuracy / expected calibration error", f"{ev.top2_accuracy:.4f} / {ev.ece:.4f}")
    for point in ev.coverage:
        if point["threshold"] in (0.5, 0.7, 0.8):
            line(
                f"  confidence >= {point['threshold']:.1f}: routed alone / accuracy",
                f"{point['coverage']:.1%} / {point['accuracy']:.4f}",
            )

    model = with_titles.model
    documents = [compose_document(text, None) or "" for text in dev.text]
    for policy in (ReviewPolicy(0.5, 0.1), ReviewPolicy(), ReviewPolicy(0.8, 0.3)):
        predictions = model.classify_documents(documents, policy=policy)
        flagged = [p.needs_review for p in predictions]
        right = [p.label == truth for p, truth in zip(predictions, dev.label, strict=True)]
        auto = [r for r, f in zip(right, flagged, strict=True) if not f]
        caught = sum(f and not r for r, f in zip(right, flagged, strict=True))
        default = " (default)" if policy == ReviewPolicy() else ""
        line(
            f"  review if confidence < {policy.min_confidence} or margin < "
            f"{policy.min_margin}{default}",
            f"{sum(flagged) / len(flagged):.1%} to people; auto-routed accuracy "
            f"{sum(auto) / len(auto):.4f}; {caught}/{right.count(False)} errors caught",
        )
    to_traditional = opencc.OpenCC("s2t")
    traditional = dev.assign(text=[to_traditional.convert(t) for t in dev.text])
    changed = (traditional.text != dev.text).mean()
    trad_ev = evaluate(model, traditional, title_col=None)
    line(
        f"dev in traditional characters ({changed:.0%} of rows changed): macro-F1",
        f"{trad_ev.macro_f1:.4f} (delta {trad_ev.macro_f1 - ev.macro_f1:+.4f}; target within 0.01)",
    )

    everything = pd.concat([bodies, titles], ignore_index=True)
    started = time.perf_counter()
    full = train(everything, CONFIG, eval_frame=dev)  # fits every row; dev only to time scoring
    seconds = time.perf_counter() - started
    line(
        f"training on all {len(bodies)} bodies + {len(titles)} titles",
        f"{seconds:.1f} s (target < 60 s; {full.data['train_rows']} rows fitted)",
    )

    if skip_jieba:
        return
    normalised = [normalise(t) for t in dev.text]
    fast, reference = Segmenter(backend="rjieba"), Segmenter(backend="jieba")
    same_docs = same_tokens = total_tokens = 0
    for text in normalised:
        a, b = fast.cut(text), reference.cut(text)
        same_docs += a == b
        shared_tokens = len(set(a) & set(b))
        same_tokens += shared_tokens
        total_tokens += max(len(set(a)), len(set(b)))
    line("rjieba vs jieba on dev: documents with identical tokens", f"{same_docs / len(dev):.1%}")
    line("rjieba vs jieba on dev: distinct-token overlap", f"{same_tokens / total_tokens:.1%}")
    data = pd.concat([train_rows, titles], ignore_index=True)
    for backend in ("rjieba", "jieba"):
        started = time.perf_counter()
        result = train(data, replace(CONFIG, segmenter=backend), eval_frame=dev)
        line(
            f"segmenter {backend}: dev macro-F1 (train time)",
            f"{result.evaluation.macro_f1:.4f} ({time.perf_counter() - started:.1f} s)",
        )


def masking(count: int = 1200, seed: int = 7) -> None:
    rng = random.Random(seed)
    digits = "0123456789"

    def phone() -> str:
        number = "1" + rng.choice("3456789") + "".join(rng.choices(digits, k=9))
        style = rng.randrange(4)
        if style == 1:
            return f"{number[:3]} {number[3:7]} {number[7:]}"
        if style == 2:
            return f"{number[:3]}-{number[3:7]}-{number[7:]}"
        if style == 3:
            return "+86 " + number
        return number

    def landline() -> str:
        area = "0" + "".join(rng.choices(digits, k=rng.choice((2, 3))))
        return f"{area}-{''.join(rng.choices(digits, k=8))}"

    def idcard() -> str:
        birth = f"{rng.randint(1940, 2015)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        tail = "".join(rng.choices(digits, k=3)) + rng.choice(digits + "Xx")
        return f"{rng.randint(110000, 659999)}{birth}{tail}"

    def email() -> str:
        user = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789._", k=rng.randint(3, 12)))
        domain = rng.choice(["qq.com", "163.com", "gov.cn", "mail.example.org"])
        return f"{user.strip('.') or 'a'}@{domain}"

    def card() -> str:
        number = "62" + "".join(rng.choices(digits, k=rng.choice((14, 15, 16, 17))))
        if rng.random() < 0.5:
            return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
        return number

    def full_width(text: str) -> str:
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)

    makers = [phone, landline, idcard, email, card]
    templates = [
        "我的电话是{}，请尽快回复。",
        "联系方式{}（工作日可打）",
        "身份证号：{}，社保一直没到账",
        "有事发邮件{}或者打12345",
        "工资卡{}三个月没进钱了",
        "{}",
    ]
    survivors = 0
    for i in range(count):
        secret = makers[i % len(makers)]()
        shown = full_width(secret) if i % 7 == 0 else secret
        text = rng.choice(templates).format(shown)
        masked = normalise(text)
        core = secret.replace(" ", "").replace("-", "").replace("+86", "")
        if core in masked.replace(" ", "").replace("-", "") or secret in masked:
            survivors += 1
    line(f"masking: {count} generated phone/ID/e-mail/card strings, surviving", f"{survivors}")


def complaints(shared: Path) -> None:
    data = pd.read_csv(shared / "complaints" / "cocc.csv", dtype=str, keep_default_na=False)
    train_rows, test = train_test_split(data, test_size=0.2, stratify=data.label, random_state=0)
    result = train(train_rows, replace(CONFIG, title_col=None), eval_frame=test)
    ev = result.evaluation
    print(
        f"COCC telecom complaints: {len(train_rows)} train, {len(test)} test, "
        f"{len(ev.labels)} labels"
    )
    line(
        "appeal-router (same defaults): accuracy / macro-F1",
        f"{ev.accuracy:.4f} / {ev.macro_f1:.4f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).parents[2] / "shared" / "data"
    )
    parser.add_argument("--skip-jieba", action="store_true", help="skip the segmenter comparison")
    args = parser.parse_args()
    if not (args.shared / "appeals" / "train.csv").is_file():
        raise SystemExit(f"no benchmark data at {args.shared}; pass --shared PATH/TO/shared/data")
    teddy(args.shared, skip_jieba=args.skip_jieba)
    masking()
    complaints(args.shared)


if __name__ == "__main__":
    main()
