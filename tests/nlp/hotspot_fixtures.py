"""A small message board written for the hot-spot tests: a mixing plant at one village that
many residents write about, property fees at one estate, a lending platform's investors, and
single tickets about other things. Phone numbers are fake."""

from __future__ import annotations

import pandas as pd

PHONE = "13900001111"

_ROWS = [
    # the mixing plant at 松林村: six writers over two weeks, many likes
    (
        "m1",
        "u1",
        "松林村搅拌站夜间噪音扰民",
        "2020-05-01 21:00",
        "松林村村口的搅拌站每天半夜还在生产，噪音太大睡不着觉",
        12,
        0,
    ),
    (
        "m2",
        "u2",
        "投诉松林村搅拌站",
        "2020-05-03 08:10",
        f"松林村那个混凝土搅拌站晚上噪音扰民，罐车来来回回，电话{PHONE}",
        3,
        1,
    ),
    (
        "m3",
        "u3",
        "松林村搅拌站噪音太大",
        "2020-05-05 22:30",
        "松林村搅拌站晚上噪音太大了，老人孩子都睡不着，请环保部门查处",
        5,
        0,
    ),
    (
        "m4",
        "u4",
        "松林村搅拌站粉尘和噪音",
        "2020-05-08 07:00",
        "松林村的搅拌站粉尘大噪音大，晚上还开工，村民意见很大",
        0,
        0,
    ),
    (
        "m5",
        "u1",
        "再次投诉松林村搅拌站",
        "2020-05-12 23:00",
        "松林村搅拌站半夜噪音依旧，投诉多次没人管",
        8,
        0,
    ),
    (
        "m6",
        "u5",
        "松林村搅拌站扰民",
        "2020-05-14 20:00",
        "松林村搅拌站夜间生产噪音扰民严重，村民无法休息",
        2,
        0,
    ),
    # property fees at 梧桐苑: three owners in a week
    (
        "f1",
        "u6",
        "梧桐苑物业费上涨",
        "2020-05-02 10:00",
        "梧桐苑物业擅自上调物业费，没有开业主大会，业主们很不满",
        0,
        0,
    ),
    (
        "f2",
        "u7",
        "梧桐苑物业乱涨价",
        "2020-05-04 11:00",
        "梧桐苑物业费从一块五涨到两块五，业主不同意，物业还要停水",
        1,
        0,
    ),
    (
        "f3",
        "u8",
        "梧桐苑物业费涨价",
        "2020-05-06 09:30",
        "梧桐苑物业要涨物业费，业主大会都没开，这合法吗",
        0,
        0,
    ),
    # the same kind of problem at another estate: not the same hot spot
    (
        "f4",
        "u9",
        "银杏苑物业费涨价",
        "2020-05-05 15:00",
        "银杏苑物业费涨价没有公示，业主意见很大",
        0,
        0,
    ),
    # the lending platform: three investors, a month apart at most
    (
        "p1",
        "u10",
        "金元宝平台提现难",
        "2020-04-20 10:00",
        "金元宝平台两个月不能提现，投资人的钱拿不回来，请公安立案",
        4,
        0,
    ),
    (
        "p2",
        "u11",
        "金元宝平台爆雷",
        "2020-04-24 18:00",
        "金元宝平台爆雷了，老板跑路，我们投资人的钱怎么办，请公安尽快立案",
        6,
        0,
    ),
    (
        "p3",
        "u12",
        "金元宝平台案件进展",
        "2020-04-29 12:00",
        "金元宝平台的案子立案了吗，投资人的钱什么时候能追回",
        2,
        1,
    ),
    # single tickets
    (
        "s1",
        "u13",
        "医保报销咨询",
        "2020-05-07 09:00",
        "异地就医的医保怎么报销，需要准备什么材料",
        0,
        0,
    ),
    ("s2", "u14", "路灯不亮", "2020-05-09 19:00", "长青路的路灯坏了一个月了，晚上很黑", 0, 0),
    ("s3", "u15", "", "2020-05-10 10:00", "", 0, 0),  # nothing to read
]


def board() -> pd.DataFrame:
    return pd.DataFrame(_ROWS, columns=["id", "user", "title", "time", "text", "likes", "dislikes"])
