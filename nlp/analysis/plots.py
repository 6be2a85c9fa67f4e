"""Figures with Chinese labels that render: a CJK font is found and registered first.

``make install`` and ``.ci/run`` install WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``);
any of the fonts in :data:`CJK_FONTS` works. Without one, :func:`use_cjk_font` raises
instead of letting matplotlib draw empty boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nlp.errors import AppealRouterError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from nlp.evaluate import Evaluation

__all__ = ["CJK_FONTS", "plot_confusion", "plot_coverage", "use_cjk_font"]

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


class FontMissingError(AppealRouterError, RuntimeError):
    """No CJK font is installed, so Chinese labels would render as empty boxes."""


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


def _new_figure(width: float, height: float) -> Figure:
    use_cjk_font()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def plot_confusion(
    evaluation: Evaluation, path: str | Path | None = None, *, title: str | None = None
) -> Figure:
    """Row-normalised confusion matrix with counts; saved as PNG when ``path`` is given."""
    labels: Sequence[str] = evaluation.labels
    counts = np.asarray(evaluation.confusion, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = 2.5 + 0.55 * len(labels)
    figure = _new_figure(size + 1.2, size)
    axes = figure.subplots()
    image = axes.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("预测部门 (predicted)")
    axes.set_ylabel("实际部门 (true)")
    axes.set_title(title or f"混淆矩阵 · n={evaluation.n} · macro-F1 {evaluation.macro_f1:.3f}")
    for (i, j), value in np.ndenumerate(counts):
        if value:
            colour = "white" if share[i, j] > 0.6 else "black"
            axes.text(j, i, f"{int(value)}", ha="center", va="center", fontsize=8, color=colour)
    figure.colorbar(image, ax=axes, shrink=0.8, label="share of the true class")
    if path is not None:
        figure.savefig(path)
    return figure


def plot_coverage(evaluations: dict[str, Evaluation], path: str | Path | None = None) -> Figure:
    """Accuracy of what the model routes alone against the share it routes (coverage)."""
    figure = _new_figure(6.0, 4.2)
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
    if path is not None:
        figure.savefig(path)
    return figure
