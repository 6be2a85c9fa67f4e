"""Figures with Chinese labels that render, for the CLI's reports and the analysts' notebooks.

Every function selects a CJK font first (:func:`use_cjk_font`), so Chinese labels render
without missing-glyph warnings, returns a matplotlib ``Figure`` (no pyplot state) and saves it
as PNG when given a ``path``. matplotlib itself is imported on the first figure.

``make install`` and ``.ci/run`` install WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``);
any of the fonts in :data:`CJK_FONTS` works. Without one, :func:`use_cjk_font` raises
:class:`~nlp.errors.FontMissingError` instead of letting matplotlib draw empty boxes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nlp.errors import FontMissingError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

    from nlp.evaluate import Evaluation, Scored
    from nlp.promotion import Comparison

__all__ = [
    "CJK_FONTS",
    "plot_calibration",
    "plot_class_balance",
    "plot_confidence",
    "plot_confusion",
    "plot_confusions",
    "plot_coverage",
    "plot_distinctive_terms",
    "plot_drift",
    "plot_f1_deltas",
    "plot_heat_breakdown",
    "plot_hotspot_timeline",
    "plot_label_shares",
    "plot_length_histogram",
    "plot_personal_data",
    "use_cjk_font",
]

#: Font families tried in order; the first one installed is used.
CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")


@cache
def use_cjk_font() -> str:
    """Register and select an installed CJK font for matplotlib; return its family name."""
    import matplotlib
    from matplotlib import font_manager

    known = {font.name for font in font_manager.fontManager.ttflist}
    if not known.intersection(CJK_FONTS):
        # Fonts installed after matplotlib built its cache are not in it yet.
        for folder in _FONT_DIRS:
            if folder.is_dir():
                for path in folder.rglob("*"):
                    if path.suffix.lower() in (".ttf", ".ttc", ".otf") and any(
                        key in path.name.lower() for key in ("wqy", "cjk", "sourcehan", "simhei")
                    ):
                        font_manager.fontManager.addfont(str(path))
        known = {font.name for font in font_manager.fontManager.ttflist}
    for family in CJK_FONTS:
        if family in known:
            matplotlib.rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
            matplotlib.rcParams["font.family"] = "sans-serif"
            matplotlib.rcParams["axes.unicode_minus"] = False
            return family
    raise FontMissingError(
        "no CJK font found, so Chinese labels cannot render; install one "
        "(Debian/Ubuntu: apt-get install fonts-wqy-microhei; `make install` does this)"
    )


_CURRENT, _CANDIDATE = "#8c8c8c", "#1f77b4"
_BETTER, _WORSE = "#2ca02c", "#d62728"


def _figure(width: float, height: float) -> Figure:
    use_cjk_font()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _save(figure: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    return figure


def plot_class_balance(balance: pd.DataFrame, path: str | Path | None = None) -> Figure:
    """Tickets per class (from :func:`nlp.analysis.explore.class_balance`), largest on top."""
    figure = _figure(6.5, 1.2 + 0.35 * len(balance))
    axes = figure.subplots()
    ordered = balance.iloc[::-1]
    bars = axes.barh(ordered["label"], ordered["tickets"], color=_CANDIDATE)
    axes.bar_label(
        bars,
        [f"{t} ({s:.0%})" for t, s in zip(ordered["tickets"], ordered["share"], strict=True)],
        padding=3,
        fontsize=8,
    )
    axes.set_xlabel("工单数 (tickets)")
    axes.set_title(f"类别分布 · {int(balance['tickets'].sum())} 条工单")
    axes.margins(x=0.15)
    return _save(figure, path)


def plot_length_histogram(
    documents: Sequence[str], path: str | Path | None = None, *, bins: int = 40
) -> Figure:
    """Histogram of ticket lengths in characters (log scale), median and 90th percentile marked."""
    lengths = np.asarray([max(len(d), 1) for d in documents], dtype=float)
    figure = _figure(6.5, 3.8)
    axes = figure.subplots()
    if lengths.size:
        edges = np.logspace(0, np.log10(lengths.max() + 1), bins).tolist()
        axes.hist(lengths, bins=edges, color=_CANDIDATE, alpha=0.85)
        for value, name, style in (
            (np.median(lengths), "中位数 median", "--"),
            (np.quantile(lengths, 0.9), "90% 分位 p90", ":"),
        ):
            axes.axvline(value, color="black", linestyle=style, label=f"{name} = {value:.0f}")
        axes.legend()
    axes.set_xscale("log")
    axes.set_xlabel("长度 (字符, log)")
    axes.set_ylabel("工单数")
    axes.set_title(f"文本长度分布 · n={lengths.size}")
    return _save(figure, path)


def plot_distinctive_terms(
    terms: pd.DataFrame, path: str | Path | None = None, *, n: int = 8, columns: int = 3
) -> Figure:
    """One small bar chart per class of its most distinctive words (chi-squared), from
    :func:`nlp.analysis.explore.distinctive_terms`."""
    labels = list(dict.fromkeys(terms["label"]))
    rows = max(1, -(-len(labels) // columns))
    figure = _figure(3.4 * columns, 0.35 * n * rows + 0.8 * rows)
    grid = figure.subplots(rows, columns, squeeze=False)
    for k, axes in enumerate(grid.ravel()):
        if k >= len(labels):
            axes.set_axis_off()
            continue
        top = terms[terms["label"] == labels[k]].head(n).iloc[::-1]
        axes.barh(top["term"], top["chi2"], color=_CANDIDATE)
        axes.set_title(labels[k], fontsize=10)
        axes.tick_params(axis="x", labelsize=7)
    figure.suptitle("各类别最具区分度的词 (chi²)")
    return _save(figure, path)


def plot_personal_data(counts: pd.DataFrame, path: str | Path | None = None) -> Figure:
    """Items of personal data masking found, per kind (from
    :func:`nlp.analysis.explore.personal_data_counts`)."""
    figure = _figure(6.0, 3.2)
    axes = figure.subplots()
    bars = axes.bar(counts["placeholder"], counts["items"], color=_CANDIDATE)
    axes.bar_label(
        bars,
        [f"{i} / {t} 条" for i, t in zip(counts["items"], counts["tickets"], strict=True)],
        fontsize=8,
    )
    axes.set_ylabel("项数 (items)")
    axes.set_title("脱敏发现的个人信息 (项 / 工单)")
    axes.margins(y=0.2)
    return _save(figure, path)


def plot_f1_deltas(comparison: Comparison, path: str | Path | None = None) -> Figure:
    """Per-class F1 of the candidate minus the current model: green better, red worse."""
    per_class = comparison.per_class.sort_values("f1_delta")
    figure = _figure(6.5, 1.4 + 0.38 * len(per_class))
    axes = figure.subplots()
    deltas = per_class["f1_delta"].to_numpy(dtype=float)
    colours = [_BETTER if d >= 0 else _WORSE for d in deltas]
    bars = axes.barh(per_class["label"], deltas, color=colours)
    axes.bar_label(bars, [f"{d:+.3f}" for d in deltas], padding=3, fontsize=8)
    axes.axvline(0.0, color="black", linewidth=0.8)
    macro = comparison.overall.loc["macro_f1"]
    axes.set_title(
        f"各类别 F1 变化 (新 - 现) · macro-F1 {macro['current']:.3f} → {macro['candidate']:.3f}"
    )
    axes.set_xlabel("ΔF1")
    limit = max(0.05, float(np.abs(deltas).max()) * 1.35) if deltas.size else 0.05
    axes.set_xlim(-limit, limit)
    return _save(figure, path)


def _draw_confusion(
    axes: Axes, evaluation: Evaluation, *, tick_size: float | None, count_size: float
) -> AxesImage:
    """Row-normalised shares as colours, counts written in the cells; labels on both axes."""
    labels = evaluation.labels
    counts = np.asarray(evaluation.confusion, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    image = axes.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    # No size given: matplotlib's own tick label size (the CLI's larger single figure).
    ticks: dict[str, Any] = {} if tick_size is None else {"fontsize": tick_size}
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right", **ticks)
    axes.set_yticks(range(len(labels)), labels, **ticks)
    for (i, j), value in np.ndenumerate(counts):
        if value:
            colour = "white" if share[i, j] > 0.6 else "black"
            axes.text(
                j, i, f"{int(value)}", ha="center", va="center", fontsize=count_size, color=colour
            )
    return image


def plot_confusion(
    evaluation: Evaluation, path: str | Path | None = None, *, title: str | None = None
) -> Figure:
    """Row-normalised confusion matrix with counts, one evaluation (``appeals train`` and
    ``appeals evaluate --report-dir``)."""
    size = 2.5 + 0.55 * len(evaluation.labels)
    figure = _figure(size + 1.2, size)
    axes = figure.subplots()
    image = _draw_confusion(axes, evaluation, tick_size=None, count_size=8)
    axes.set_xlabel("预测部门 (predicted)")
    axes.set_ylabel("实际部门 (true)")
    axes.set_title(title or f"混淆矩阵 · n={evaluation.n} · macro-F1 {evaluation.macro_f1:.3f}")
    figure.colorbar(image, ax=axes, shrink=0.8, label="share of the true class")
    return _save(figure, path)


def plot_confusions(
    evaluations: Mapping[str, Evaluation], path: str | Path | None = None
) -> Figure:
    """Row-normalised confusion matrices side by side, one per named evaluation."""
    size = 2.4 + 0.5 * max((len(e.labels) for e in evaluations.values()), default=1)
    figure = _figure(size * len(evaluations) + 0.5, size + 0.6)
    grid = figure.subplots(1, len(evaluations), squeeze=False)
    for axes, (name, evaluation) in zip(grid[0], evaluations.items(), strict=True):
        _draw_confusion(axes, evaluation, tick_size=8, count_size=7)
        axes.set_xlabel("预测 (predicted)")
        axes.set_title(
            f"{name}\nmacro-F1 {evaluation.macro_f1:.3f} · n={evaluation.n}", fontsize=10
        )
    grid[0][0].set_ylabel("实际 (true)")
    return _save(figure, path)


def plot_coverage(evaluations: Mapping[str, Evaluation], path: str | Path | None = None) -> Figure:
    """Accuracy of what the model routes alone against the share it routes (coverage)."""
    figure = _figure(6.0, 4.2)
    axes = figure.subplots()
    for name, evaluation in evaluations.items():
        curve = evaluation.coverage
        axes.plot(
            [p["coverage"] for p in curve], [p["accuracy"] for p in curve], marker=".", label=name
        )
    axes.set_xlabel("自动派单比例 (coverage)")
    axes.set_ylabel("自动派单准确率 (accuracy)")
    axes.set_title("人工复核最不确定的工单后的准确率")
    axes.grid(alpha=0.3)
    axes.legend()
    return _save(figure, path)


def plot_calibration(curves: Mapping[str, pd.DataFrame], path: str | Path | None = None) -> Figure:
    """Reliability diagram: accuracy against confidence per bin, one line per model (from
    :func:`nlp.evaluate.calibration_curve`); the diagonal is perfect calibration."""
    figure = _figure(5.2, 4.6)
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=0.8, label="理想 (ideal)")
    palette = [_CURRENT, _CANDIDATE, _BETTER, _WORSE]
    for k, (name, curve) in enumerate(curves.items()):
        colour = palette[k % len(palette)]
        sizes = 10 + 200 * curve["tickets"] / max(int(curve["tickets"].sum()), 1)
        axes.plot(
            curve["confidence"],
            curve["accuracy"],
            marker="o",
            color=colour,
            label=name,
            markersize=0,
        )
        axes.scatter(curve["confidence"], curve["accuracy"], s=sizes, color=colour, alpha=0.7)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("置信度 (confidence)")
    axes.set_ylabel("准确率 (accuracy)")
    axes.set_title("校准曲线 (点的大小 = 工单数)")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    return _save(figure, path)


def plot_confidence(scored: Scored, path: str | Path | None = None, *, bins: int = 20) -> Figure:
    """Confidence of right and wrong answers: where the wrong ones sit decides the review
    threshold."""
    figure = _figure(6.5, 3.6)
    axes = figure.subplots()
    confidence, correct = scored.confidence, scored.correct
    edges = np.linspace(0.0, 1.0, bins + 1).tolist()
    axes.hist(
        confidence[correct],
        bins=edges,
        color=_BETTER,
        alpha=0.7,
        label=f"正确 right ({int(correct.sum())})",
    )
    axes.hist(
        confidence[~correct],
        bins=edges,
        color=_WORSE,
        alpha=0.8,
        label=f"错误 wrong ({int((~correct).sum())})",
    )
    axes.set_xlabel("置信度 (confidence)")
    axes.set_ylabel("工单数")
    axes.set_title("正确与错误派单的置信度分布")
    axes.legend(loc="upper left")
    return _save(figure, path)


def plot_label_shares(
    summary: pd.DataFrame,
    training: Mapping[str, float],
    path: str | Path | None = None,
    *,
    bound: float = 0.10,
) -> Figure:
    """Each department's daily share of the answers (from
    :func:`nlp.analysis.monitor.daily_summary`), one panel per department, beside its
    training share (dashed) and the alert band (± ``bound``, shaded)."""
    from nlp.analysis.monitor import label_shares

    shares = label_shares(summary)
    labels = sorted(set(shares.columns) | set(training))
    columns = 3
    rows = max(1, -(-len(labels) // columns))
    figure = _figure(10, 0.8 + 2.2 * rows)
    grid = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False)
    versions = list(dict.fromkeys(summary["model_version"])) if not summary.empty else []
    colours = ["#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    for axes, label in zip(grid.flat, labels, strict=False):
        expected = float(training.get(label, 0.0))
        axes.axhspan(max(0.0, expected - bound), expected + bound, color="#dddddd", alpha=0.6)
        axes.axhline(expected, color=_CURRENT, linestyle="--", linewidth=1)
        for index, version in enumerate(versions):
            if label not in shares.columns:
                continue
            values = shares[label].xs(version, level="model_version")
            axes.plot(
                pd.to_datetime(values.index),
                values.to_numpy(),
                marker="o",
                markersize=3,
                color=colours[index % len(colours)],
                label=version,
            )
        axes.set_title(label, fontsize=9)
        axes.yaxis.set_major_formatter(_percent())
        axes.tick_params(axis="x", labelrotation=45, labelsize=7)
        axes.grid(alpha=0.3)
    for axes in list(grid.flat)[len(labels) :]:
        axes.set_visible(False)
    if versions:
        grid.flat[0].legend(fontsize=7, loc="upper left")
    figure.suptitle(f"各部门每日占比 vs 训练集 (虚线; 灰带 ±{bound * 100:g} 个百分点)")
    return _save(figure, path)


def plot_drift(
    summary: pd.DataFrame,
    path: str | Path | None = None,
    *,
    correction_bound: float = 0.10,
) -> Figure:
    """Per day and model version (from :func:`nlp.analysis.monitor.daily_summary`): the
    review rate, the mean confidence and the correction rate (its alert bound dashed)."""
    figure = _figure(10, 3.4)
    panels = figure.subplots(1, 3, sharex=True)
    shown = (
        ("review_rate", "复核率 (review rate)"),
        ("mean_confidence", "平均置信度 (mean confidence)"),
        ("correction_rate", "改派率 (correction rate)"),
    )
    versions = list(dict.fromkeys(summary["model_version"])) if not summary.empty else []
    for axes, (column, title) in zip(panels, shown, strict=True):
        for version in versions:
            rows = summary[summary["model_version"] == version]
            axes.plot(
                pd.to_datetime(rows["day"]),
                rows[column].astype(float).to_numpy(),
                marker="o",
                markersize=3,
                label=version,
            )
        if column == "correction_rate":
            axes.axhline(correction_bound, color=_WORSE, linestyle="--", linewidth=1)
        axes.set_title(title, fontsize=10)
        axes.set_ylim(0, 1.05)
        axes.yaxis.set_major_formatter(_percent())
        axes.tick_params(axis="x", labelrotation=45, labelsize=7)
        axes.grid(alpha=0.3)
    if versions:
        panels[0].legend(fontsize=8)
    return _save(figure, path)


def plot_hotspot_timeline(
    timeline: pd.DataFrame, problems: pd.DataFrame, path: str | Path | None = None
) -> Figure:
    """Tickets per day of each top hot spot (from
    :func:`nlp.analysis.hotspots.hotspot_timeline`), one panel per group in rank order on a
    shared time axis, titled with its rank, place and description (热点问题表 ``problems``)."""
    shown = problems.set_index("问题ID")
    groups = list(timeline.columns)
    figure = _figure(9.0, 0.6 + 1.5 * max(len(groups), 1))
    grid = figure.subplots(max(len(groups), 1), 1, sharex=True, squeeze=False)
    days = pd.to_datetime(timeline.index)
    for axes, problem_id in zip(grid[:, 0], groups, strict=False):
        row = shown.loc[problem_id]
        counts = timeline[problem_id].to_numpy(dtype=float)
        axes.bar(days, counts, width=0.8, color=_CANDIDATE)
        axes.set_title(
            f"#{row['热度排名']} · 热度 {row['热度指数']:.1f} · {row['地点/人群']} · "
            f"{row['问题描述']} ({int(counts.sum())} 条)",
            fontsize=9,
            loc="left",
        )
        axes.set_ylabel("条/天", fontsize=8)
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.grid(axis="y", alpha=0.3)
    if not groups:
        grid[0, 0].text(0.5, 0.5, "没有热点问题 (no hot spot)", ha="center", va="center")
    grid[-1, 0].tick_params(axis="x", labelrotation=45, labelsize=7)
    figure.suptitle("热点问题每日留言数 (tickets per day)")
    return _save(figure, path)


_HEAT_PART_NAMES = {
    "users": "留言用户 (writers)",
    "tickets": "留言数 (tickets)",
    "rate": "每日留言 (tickets/day)",
    "reactions": "点赞+反对 (likes+dislikes)",
}


def plot_heat_breakdown(breakdown: pd.DataFrame, path: str | Path | None = None) -> Figure:
    """The parts of each top group's heat index side by side (from
    :func:`nlp.analysis.hotspots.heat_breakdown`): one bar per part, already cooled by
    recency, so the bars of a group add up to its heat index (written with the recency
    factor under each group)."""
    parts = [name for name in _HEAT_PART_NAMES if name in breakdown.columns]
    figure = _figure(max(6.5, 1.6 * len(breakdown) + 2.0), 4.4)
    axes = figure.subplots()
    width = 0.8 / max(len(parts), 1)
    positions = np.arange(len(breakdown), dtype=float)
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"]
    for k, name in enumerate(parts):
        bars = axes.bar(
            positions + (k - (len(parts) - 1) / 2) * width,
            breakdown[name].to_numpy(dtype=float),
            width=width,
            color=colours[k % len(colours)],
            label=_HEAT_PART_NAMES[name],
        )
        axes.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    axes.set_xticks(
        positions.tolist(),
        [
            f"#{rank} {place}\n热度 {heat:.1f} (×{recency:.2f})"
            for rank, place, heat, recency in breakdown[
                ["热度排名", "地点/人群", "heat", "recency"]
            ].itertuples(index=False)
        ],
        fontsize=8,
    )
    axes.set_ylabel("对热度指数的贡献")
    axes.set_title("热度指数的组成 (× 时间衰减 recency)")
    axes.legend(fontsize=8)
    axes.margins(y=0.15)
    axes.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)
