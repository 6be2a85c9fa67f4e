"""nlp.analysis (explore, review, hot spots, plots): what the analysts' notebooks call."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nlp import (
    Evaluation,
    ReviewPolicy,
    RoutingModel,
    Scored,
    calibration_curve,
    class_balance,
    compare,
    distinctive_terms,
    evaluate_probabilities,
    export_review_queue,
    find_duplicates,
    heat_breakdown,
    highlight_terms,
    hotspot_timeline,
    hotspots,
    length_stats,
    personal_data_counts,
    probable_label_errors,
    review_html,
    review_queue,
    sample_frame,
    split_by_column,
)
from nlp.analysis import plots
from nlp.errors import AppealRouterError, DataError, FontMissingError
from nlp.hotspots import HotspotReport
from nlp.model import TextNormaliser
from tests.nlp.hotspot_fixtures import board

PHONE = "13812345678"


# --------------------------------------------------------------------------- datasets
def _frame(counts: dict[str, int]) -> pd.DataFrame:
    labels = [label for label, n in counts.items() for _ in range(n)]
    return pd.DataFrame({"text": [f"工单{i}" for i in range(len(labels))], "label": labels})


@pytest.mark.parametrize(
    ("n", "label_col", "expected"),
    [
        pytest.param(None, "label", {"a": 60, "b": 30, "c": 10}, id="none-keeps-all"),
        pytest.param(500, "label", {"a": 60, "b": 30, "c": 10}, id="larger-keeps-all"),
        pytest.param(50, "label", {"a": 30, "b": 15, "c": 5}, id="stratified-half"),
        pytest.param(10, "label", {"a": 6, "b": 3, "c": 1}, id="stratified-tenth"),
    ],
)
def test_sample_frame_keeps_class_shares(
    n: int | None, label_col: str, expected: dict[str, int]
) -> None:
    frame = _frame({"a": 60, "b": 30, "c": 10})
    sample = sample_frame(frame, n, label_col=label_col)
    assert sample["label"].value_counts().to_dict() == expected
    assert sample.index.is_monotonic_increasing  # original order
    assert sample.equals(sample_frame(frame, n, label_col=label_col))  # same seed, same rows


def test_sample_frame_without_labels_and_bad_size() -> None:
    frame = _frame({"a": 60, "b": 40})
    assert len(sample_frame(frame, 25)) == 25
    with pytest.raises(DataError, match="positive"):
        sample_frame(frame, 0)


@pytest.mark.parametrize(
    ("split", "expected_train", "expected_held_out"),
    [
        pytest.param(["train", "dev", "dev "], [0], [1, 2], id="strips-spaces"),
        pytest.param(["train", None, "dev"], [0, 1], [2], id="missing-is-training"),
        pytest.param([np.nan, "dev", "x"], [0, 2], [1], id="nan-is-training"),
    ],
)
def test_split_by_column(
    split: list[Any], expected_train: list[int], expected_held_out: list[int]
) -> None:
    frame = pd.DataFrame({"text": ["一", "二", "三"], "split": split})
    train_rows, held_out = split_by_column(frame, "split", "dev")
    assert (list(train_rows.index), list(held_out.index)) == (expected_train, expected_held_out)


@pytest.mark.parametrize(
    ("column", "message"),
    [
        pytest.param("fold", "split column 'fold' not found", id="missing-column"),
        pytest.param("split", "no rows have split == 'dev'", id="nothing-held-out"),
    ],
)
def test_split_by_column_rejects(column: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        split_by_column(pd.DataFrame({"split": ["train"]}), column, "dev")


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        pytest.param(["a", "b", "a", "a"], [("a", 3, 0.75), ("b", 1, 0.25)], id="largest-first"),
        pytest.param(["交通"], [("交通", 1, 1.0)], id="one-class"),
        pytest.param([], [], id="empty"),
    ],
)
def test_class_balance(labels: list[str], expected: list[tuple[str, int, float]]) -> None:
    balance = class_balance(labels)
    assert list(balance.columns) == ["label", "tickets", "share"]
    assert list(balance.itertuples(index=False, name=None)) == expected


@pytest.mark.parametrize(
    ("documents", "labels", "expected"),
    [
        pytest.param(
            ["一二", "一二三四"],
            None,
            [("(all)", 2, 3.0, 3.0, 4)],
            id="overall-only",
        ),
        pytest.param(
            ["一", "一二三", "一二三四五"],
            ["b", "a", "a"],
            [("(all)", 3, 3.0, 3.0, 5), ("a", 2, 4.0, 4.0, 5), ("b", 1, 1.0, 1.0, 1)],
            id="per-class",
        ),
    ],
)
def test_length_stats(
    documents: list[str], labels: list[str] | None, expected: list[tuple[Any, ...]]
) -> None:
    stats = length_stats(documents, labels)
    got = [tuple(row) for row in stats[["label", "tickets", "mean", "median", "max"]].to_numpy()]
    assert got == expected


def test_length_stats_rejects_misaligned_labels() -> None:
    with pytest.raises(DataError, match="2 documents but 1 labels"):
        length_stats(["一", "二"], ["a"])


_TERM_DOCS = [
    ("小区楼下烧烤摊占道经营，油烟太大，您好", "城管"),
    ("烧烤油烟扰民，晚上十二点还在营业，您好", "城管"),
    ("夜市烧烤占道经营，油烟很大，您好", "城管"),
    ("我家停水三天了，水管爆裂没人修，您好", "水务"),
    ("小区停水也不通知，水压太低，您好", "水务"),
    ("整栋楼停水，自来水公司电话打不通，您好", "水务"),
]


@pytest.mark.parametrize(
    ("label", "expected", "absent"),
    [
        pytest.param("城管", {"烧烤", "油烟"}, {"停水", "您好"}, id="city-management"),
        pytest.param("水务", {"停水"}, {"烧烤", "您好"}, id="water"),
    ],
)
def test_distinctive_terms_are_over_represented_words(
    label: str, expected: set[str], absent: set[str]
) -> None:
    documents, labels = zip(*_TERM_DOCS, strict=True)
    terms = distinctive_terms(list(documents), list(labels), n=5, min_df=2)
    mine = terms[terms["label"] == label]
    assert expected <= set(mine["term"])
    assert not absent & set(mine["term"])
    assert list(mine["rank"]) == list(range(1, len(mine) + 1))
    assert (mine["in_class"] > mine["elsewhere"]).all()
    assert mine["chi2"].is_monotonic_decreasing


def test_distinctive_terms_rejects_misaligned_labels() -> None:
    with pytest.raises(DataError, match="labels"):
        distinctive_terms(["一", "二"], ["a"])


_LONG = (
    "小区门口的垃圾站已经一个星期没有清运了，夏天气温高，臭味很大，"
    "蚊蝇滋生，居民出行都要捂着鼻子，请环卫部门尽快处理"
)


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        pytest.param(
            [_LONG, "完全不同的事情：路灯坏了", _LONG.replace("，", ",") + "  "],
            [(0, 2, "exact")],
            id="exact-after-normalising",
        ),
        pytest.param(
            [_LONG, "完全不同的事情：路灯坏了", _LONG.replace("一个星期", "两个星期")],
            [(0, 2, "near")],
            id="near",
        ),
        pytest.param([_LONG, _LONG, _LONG], [(0, 1, "exact"), (0, 2, "exact")], id="group-of-3"),
        pytest.param(["路灯坏了三天", "学校乱收费", "医保报销难"], [], id="none"),
        pytest.param([_LONG], [], id="single"),
    ],
)
def test_find_duplicates(documents: list[str], expected: list[tuple[int, int, str]]) -> None:
    pairs = find_duplicates(documents, threshold=0.8)
    assert sorted(pairs[["first", "second", "kind"]].itertuples(index=False, name=None)) == expected


def test_find_duplicates_names_ids_labels_and_masks_previews() -> None:
    documents = [f"{_LONG}，电话{PHONE}", f"{_LONG}，电话{PHONE}。"]
    pairs = find_duplicates(documents, ids=["t1", "t2"], labels=["环境", "城管"])
    row = pairs.iloc[0]
    assert (row["first"], row["second"], row["same_label"]) == ("t1", "t2", False)
    assert (row["label_first"], row["label_second"]) == ("环境", "城管")
    assert PHONE not in row["text_first"] + row["text_second"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"max_documents": 2}, "max_documents=2", id="bounded-cost"),
        pytest.param({"threshold": 0.0}, "threshold", id="bad-threshold"),
        pytest.param({"ids": ["only-one"]}, "one entry per document", id="misaligned-ids"),
    ],
)
def test_find_duplicates_rejects(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        find_duplicates(["一", "二", "三"], **kwargs)


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        pytest.param(
            [f"电话{PHONE}，再打{PHONE}", "没有个人信息"],
            {"PHONE": (2, 1)},
            id="two-phones-one-ticket",
        ),
        pytest.param(
            ["联系人：王小明，邮箱 wang@example.com", f"身份证110101199003071234 {PHONE}"],
            {"NAME": (1, 1), "EMAIL": (1, 1), "IDCARD": (1, 1), "PHONE": (1, 1)},
            id="kinds",
        ),
        pytest.param(["路灯坏了"], {}, id="none"),
    ],
)
def test_personal_data_counts(documents: list[str], expected: dict[str, tuple[int, int]]) -> None:
    counts = personal_data_counts(documents).set_index("kind")
    assert list(counts.index) == ["PHONE", "IDCARD", "EMAIL", "BANKCARD", "PLATE", "NAME"]
    for kind, row in counts.iterrows():
        assert (row["items"], row["tickets"]) == expected.get(str(kind), (0, 0))
        assert row["share"] == pytest.approx(expected.get(str(kind), (0, 0))[1] / len(documents))


# --------------------------------------------------------------------------- review
@pytest.fixture(scope="module")
def flipped(demo_frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The demo data with six labels swapped for another department's."""
    frame = demo_frame.copy()
    labels = sorted(frame["label"].unique())
    chosen = frame.groupby("label").head(1).index[:6]
    for row in chosen:
        given = frame.at[row, "label"]
        frame.at[row, "label"] = labels[(labels.index(given) + 5) % len(labels)]
    return frame, list(frame.loc[chosen, "id"])


def test_probable_label_errors_finds_flipped_labels(
    flipped: tuple[pd.DataFrame, list[str]],
) -> None:
    frame, flipped_ids = flipped
    documents = [
        f"{title}\n{text}".strip()
        for title, text in zip(frame["title"], frame["text"], strict=True)
    ]
    errors = probable_label_errors(
        documents, list(frame["label"]), ids=list(frame["id"]), min_confidence=0.3
    )
    assert list(errors.columns) == [
        "id",
        "given",
        "predicted",
        "confidence",
        "given_probability",
        "text",
    ]
    assert len(set(flipped_ids) & set(errors["id"])) >= 4
    assert (errors["predicted"] != errors["given"]).all()
    assert (errors["confidence"] >= 0.3).all()
    assert errors["confidence"].is_monotonic_decreasing


def test_probable_label_errors_needs_one_label_per_document() -> None:
    with pytest.raises(DataError, match="2 documents but 1 labels; give one label per document"):
        probable_label_errors(["路灯坏了", "噪音扰民"], ["城管"])


def test_probable_label_errors_needs_rows_per_fold() -> None:
    with pytest.raises(DataError, match="too few: b \\(1\\)"):
        probable_label_errors(["一", "二", "三", "四"], ["a", "a", "a", "b"], folds=3)


def test_review_queue_lists_wrong_and_unsure_tickets_masked(
    tiny_model: RoutingModel, flipped: tuple[pd.DataFrame, list[str]]
) -> None:
    frame, flipped_ids = flipped
    frame = frame.copy()
    target = frame.index[frame["id"] == flipped_ids[0]][0]
    frame.at[target, "text"] = f"{frame.at[target, 'text']} 联系电话{PHONE}"
    queue = review_queue(tiny_model, frame, id_col="id", explain=4)
    assert list(queue.columns) == [
        "id", "reason", "given", "predicted", "confidence", "runner_up", "review_reason",
        "terms", "text",
    ]  # fmt: skip
    wrong = queue[queue["reason"].str.startswith("wrong")]
    assert set(flipped_ids) <= set(wrong["id"])
    assert (wrong["given"] != wrong["predicted"]).all()
    assert queue["reason"].str.startswith("wrong").is_monotonic_decreasing  # wrong first
    assert not queue["text"].str.contains(PHONE).any()
    assert queue.set_index("id").loc[flipped_ids[0], "text"].endswith("<PHONE>")
    assert all(1 <= len(terms) <= 4 for terms in wrong["terms"])


@pytest.mark.parametrize(
    ("policy", "label_col", "expected_reasons"),
    [
        pytest.param(ReviewPolicy(min_confidence=1.01), None, {"unsure"}, id="all-unsure"),
        pytest.param(ReviewPolicy(min_confidence=0.0, min_margin=0.0), None, set(), id="none"),
        pytest.param(
            ReviewPolicy(min_confidence=0.0, min_margin=0.0), "label", {"wrong"}, id="wrong-only"
        ),
    ],
)
def test_review_queue_follows_policy(
    tiny_model: RoutingModel,
    flipped: tuple[pd.DataFrame, list[str]],
    policy: ReviewPolicy,
    label_col: str | None,
    expected_reasons: set[str],
) -> None:
    frame = flipped[0].head(40)
    queue = review_queue(tiny_model, frame, label_col=label_col, policy=policy, limit=30)
    assert set(queue["reason"]) == expected_reasons
    assert len(queue) <= 30
    if expected_reasons == {"unsure"}:
        assert len(queue) == 30
        assert queue["review_reason"].str.startswith("confidence").all()


def test_review_queue_shows_the_reasons_the_model_gave(
    tiny_model: RoutingModel, flipped: tuple[pd.DataFrame, list[str]]
) -> None:
    """The queue reads the answer record; it does not ask the policy again."""
    asked: list[tuple[float, float]] = []

    class Counting(ReviewPolicy):
        def reason(self, top: float, second: float, *, out_of_scope: bool = False) -> str | None:
            asked.append((top, second))
            return f"reason {len(asked)}"

    frame = flipped[0].head(40)
    policy = Counting(min_confidence=1.0)  # every ticket is unsure
    queue = review_queue(tiny_model, frame, policy=policy)
    assert len(asked) == len(frame) == len(queue)
    assert set(queue["review_reason"]) == {f"reason {i}" for i in range(1, len(frame) + 1)}


def test_review_queue_skips_rows_without_text(tiny_model: RoutingModel) -> None:
    frame = pd.DataFrame({"text": ["", "小区停水三天了"], "label": ["水务", "燃气"]})
    queue = review_queue(tiny_model, frame, title_col=None)
    assert list(queue["id"]) == [1]


@pytest.mark.parametrize(
    ("text", "terms", "expected"),
    [
        pytest.param("烧烤油烟", ["油烟"], "烧烤<mark>油烟</mark>", id="one"),
        pytest.param("占道经营占道", ["占道", "占道经营"], "<mark>占道经营</mark><mark>占道</mark>",
                     id="longest-first"),
        pytest.param("<PHONE>噪音", ["噪音"], "&lt;PHONE&gt;<mark>噪音</mark>", id="escaped"),
        pytest.param("a<b", ["<"], "a<mark>&lt;</mark>b", id="escaped-term"),
        pytest.param("没有", [], "没有", id="no-terms"),
        pytest.param("没有", [""], "没有", id="empty-term"),
    ],
)  # fmt: skip
def test_highlight_terms(text: str, terms: list[str], expected: str) -> None:
    assert highlight_terms(text, terms) == expected


def _queue() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["t1"],
            "reason": ["wrong"],
            "given": ["水务"],
            "predicted": ["燃气"],
            "confidence": [0.61],
            "runner_up": ["水务"],
            "review_reason": [None],
            "terms": [["燃气", "漏气"]],
            "text": [f"燃气漏气了<script>，联系人：王小明 电话{PHONE}"],
        }
    )


def test_review_html_marks_terms_and_escapes() -> None:
    page = review_html(_queue())
    assert "<mark>燃气</mark><mark>漏气</mark>" in page
    assert "&lt;script&gt;" in page
    assert "<script>" not in page
    assert "燃气 (0.61)" in page


def test_export_review_queue_masks_every_text_cell(tmp_path: Path) -> None:
    path = export_review_queue(_queue(), tmp_path / "out" / "queue.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    written = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert PHONE not in raw.decode("utf-8-sig")
    assert "王小明" not in raw.decode("utf-8-sig")
    assert written.loc[0, "terms"] == "燃气 / 漏气"
    assert written.loc[0, "text"].endswith("联系人:<NAME> 电话<PHONE>")


def test_export_masks_traditional_personal_data_in_any_column(tmp_path: Path) -> None:
    """A caller's extra column in traditional characters is masked like normalised text."""
    queue = _queue().assign(note=["聯繫人：張大明，車牌粵B12345"])
    written = export_review_queue(queue, tmp_path / "queue.csv").read_text(encoding="utf-8-sig")
    assert "張大明" not in written
    assert "张大明" not in written
    assert "B12345" not in written
    assert "<NAME>" in written
    assert "<PLATE>" in written


# --------------------------------------------------------------------------- plots
def _evaluations() -> dict[str, Evaluation]:
    truth = ["交通运输", "城乡建设", "交通运输", "卫生计生"]
    labels = ["交通运输", "卫生计生", "城乡建设"]
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.3, 0.1, 0.6], [0.2, 0.5, 0.3]])
    current = evaluate_probabilities(probabilities, labels, truth)
    candidate = evaluate_probabilities(probabilities[[0, 1, 0, 3]], labels, truth)
    return {"现 current": current, "新 candidate": candidate}


def _chinese_scored() -> Scored:
    return Scored(
        documents=["一", "二", "三"],
        truth=["交通运输", "城乡建设", "城乡建设"],
        labels=["交通运输", "城乡建设"],
        probabilities=np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]),
    )


def _hotspots(min_size: int = 3) -> HotspotReport:
    return hotspots(board(), min_size=min_size)


_PLOTS: list[tuple[str, Callable[[], Any]]] = [
    ("class-balance", lambda: plots.plot_class_balance(class_balance(["交通运输", "城乡建设"]))),
    ("length-histogram", lambda: plots.plot_length_histogram(["路灯坏了", "小区停水三天了" * 20])),
    ("distinctive-terms", lambda: plots.plot_distinctive_terms(pd.DataFrame(
        {"label": ["交通运输", "城乡建设"], "rank": [1, 1], "term": ["出租车", "开发商"],
         "chi2": [4.0, 3.0], "in_class": [0.5, 0.5], "elsewhere": [0.0, 0.0]}))),
    ("personal-data", lambda: plots.plot_personal_data(personal_data_counts([f"电话{PHONE}"]))),
    ("f1-deltas", lambda: plots.plot_f1_deltas(compare(*_evaluations().values()))),
    ("confusions", lambda: plots.plot_confusions(_evaluations())),
    ("calibration", lambda: plots.plot_calibration(
        {"现 current": calibration_curve(_chinese_scored(), bins=5)})),
    ("confidence", lambda: plots.plot_confidence(_chinese_scored())),
    ("confusion", lambda: plots.plot_confusion(_evaluations()["新 candidate"])),
    ("coverage", lambda: plots.plot_coverage(_evaluations())),
    ("hotspot-timeline", lambda: plots.plot_hotspot_timeline(
        hotspot_timeline(_hotspots()), _hotspots().problems)),
    ("hotspot-timeline-empty", lambda: plots.plot_hotspot_timeline(
        hotspot_timeline(_hotspots(min_size=10)), _hotspots(min_size=10).problems)),
    ("heat-breakdown", lambda: plots.plot_heat_breakdown(heat_breakdown(_hotspots()))),
]  # fmt: skip


@pytest.mark.parametrize("draw", [p[1] for p in _PLOTS], ids=[p[0] for p in _PLOTS])
def test_plots_render_chinese_without_missing_glyphs(
    draw: Callable[[], Any], tmp_path: Path
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = draw()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    glyph_warnings = [
        str(w.message)
        for w in caught
        if "missing from font" in str(w.message) or "Glyph" in str(w.message)
    ]
    assert glyph_warnings == []
    assert buffer.getvalue().startswith(b"\x89PNG")
    texts = [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in texts)


def test_plot_saves_png(tmp_path: Path) -> None:
    path = tmp_path / "figures" / "balance.png"
    plots.plot_class_balance(class_balance(["交通运输"]), path)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_a_missing_cjk_font_is_an_error_that_says_how_to_install_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(plots, "CJK_FONTS", ("No Such Font SC",))
    monkeypatch.setattr(plots, "_FONT_DIRS", ())
    with pytest.raises(FontMissingError, match="apt-get install fonts-wqy-microhei") as caught:
        plots.use_cjk_font.__wrapped__()  # past the cache: the real font stays selected
    assert isinstance(caught.value, AppealRouterError)  # the CLI's one line and exit 2
    assert isinstance(caught.value, RuntimeError)  # what callers caught before


def test_importing_analysis_leaves_plotting_for_the_first_figure() -> None:
    """The package and its plots module load without matplotlib; a figure loads it."""
    code = "import sys; import nlp.analysis, nlp.analysis.plots; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "False"


def test_probable_label_errors_read_title_and_body_as_the_model_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The folds see each field normalised on its own, title and body still apart, as the
    model's own normalising step gives them."""
    seen: list[list[str]] = []

    def fake_cross_val_predict(pipeline, documents, truth, **options):
        seen.append(list(documents))
        return np.full((len(documents), 2), 0.5)

    monkeypatch.setattr("nlp.analysis.review.cross_val_predict", fake_cross_val_predict)
    documents = ["停水\n小区停水三天了，電話13812345678", "噪音\n工地夜里施工"] * 3
    probable_label_errors(documents, ["水务", "住建"] * 3)
    assert seen == [TextNormaliser().transform(documents)]
    assert seen[0][0] == "停水\n小区停水三天了,电话<PHONE>"
