"""Tickets to compare a fast path with the one it replaces on: every ticket of the evaluation
sets (``data/eval/*.csv``, bodies and titles) and a table of texts that take the rare paths
(markup and entities, characters that fold to several, traditional and full-width text,
numbered lists, grids, masked places, personal data)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "data" / "eval"

RARE = (
    "",
    " ",
    "\n",
    "路灯坏了……下水道也堵了……",
    "房子120㎡，物业费按150㎡收，（1）多收了；（2）不退",
    "（一）噪音扰民（二）垃圾没人清",
    "①路灯不亮②井盖丢了③树倒了",
    "1.停水三天 2.停电 3、燃气味很大",
    "第三网格的路灯坏了，12号网格也是",
    "A市A3区某某小区门口，X市XX路5号，西地省东地市",
    "聯繫人：張三，電話１３８１２３４５６７８，桂花路１２８號",
    "<p>燃气泄漏&nbsp;了</p>&amp;lt;br&amp;gt;锦绣华庭",
    "我家住在锦绣华庭3栋，楼下小区门口的烧烤摊天天吵",
    "另外，还有就是，同时：",
    "ａｂｃ　ＡＢＣ，！？：；（）…",
    "Ⅱ期⑴⑵⑶ⅲ，\u200b电梯困人",
)


@cache
def eval_tickets() -> tuple[tuple[str, str | None], ...]:
    """(body, title or None) of every ticket of the evaluation sets that has a text column,
    then the rare texts (no title) and each of them as the title of the ticket before."""
    found: list[tuple[str, str | None]] = []
    for path in sorted(EVAL.glob("*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "text" not in frame.columns:
            continue
        titles = frame["title"] if "title" in frame.columns else [""] * len(frame)
        found += [(text, title or None) for text, title in zip(frame["text"], titles, strict=True)]
    found += [(text, None) for text in RARE]
    found += [(body, title) for (body, _), title in zip(found[::97], RARE, strict=False)]
    return tuple(found)


def eval_texts() -> list[str]:
    """Every body and title of :func:`eval_tickets`, once each."""
    return list(dict.fromkeys(t for ticket in eval_tickets() for t in ticket if t is not None))
