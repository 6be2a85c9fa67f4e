"""Filling a ticket store the way the service does (answers recorded through the library), for
the tests of the commands and endpoints that read it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from nlp.model import RoutingModel
from nlp.store import Answer, TicketStore

#: Tickets about different things (so that the label queue's diversity keeps them apart),
#: the first with a phone number that must never leave the store unmasked.
TEXTS = (
    "小区楼下的烧烤摊天天占道经营，油烟太大了，联系电话13812345678",
    "红星路口红绿灯坏了三天了，没有交警来指挥，早高峰堵得动不了",
    "液化气充装站缺斤少两，买了一罐15公斤的回家称才12公斤多",
    "街道推荐的育婴师培训要先交980材料费，是不是骗人的",
    "农贸市场卖的大闸蟹绑的绳子泡了水，一斤螃蟹二两绳",
    "孩子学校乱收补课费，每个学期要交两千块",
    "楼上邻居装修每天早上七点就开始电钻，周末也不停",
    "公司拖欠工资三个月了，老板人找不到，劳动监察能不能管",
)


def record(
    store: TicketStore,
    model: RoutingModel,
    texts: Sequence[str] = TEXTS,
    *,
    start: datetime = datetime(2026, 12, 1, 8, 0),
    spacing: timedelta = timedelta(minutes=10),
    prefix: str = "t",
) -> list[Answer]:
    """Answer ``texts`` with ``model`` and store the answers as ``{prefix}0``, ``{prefix}1``..."""
    predictions = model.classify(list(texts), top_k=3)
    answers = [
        Answer(
            f"{prefix}{i}", text, None, model.name, model.version or "v1", p, start + i * spacing
        )
        for i, (text, p) in enumerate(zip(texts, predictions, strict=True))
    ]
    store.record(answers)
    return answers
