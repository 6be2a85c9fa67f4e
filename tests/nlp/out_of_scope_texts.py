"""Out-of-scope texts written for developing and testing the out-of-scope rule.

They are not ``data/eval/out_of_scope.csv`` (evaluation only: nothing is chosen on it) and
share no text with it. Keyed by kind; every one should go to a person, not a department.
"""

from __future__ import annotations

OUT_OF_SCOPE: dict[str, list[str]] = {
    "greeting": [
        "您好",
        "早上好",
        "晚上好呀",
        "有人吗",
        "哈喽",
        "hi",
        "在不在",
        "新年快乐，万事如意",
        "中秋节快乐！",
        "喂喂喂",
    ],
    "thanks": [
        "谢谢",
        "好",
        "好的",
        "收到，谢谢",
        "非常感谢",
        "辛苦了",
        "感谢你们的耐心解答",
        "上次的事已经处理好了，谢谢工作人员",
        "ok",
        "嗯嗯",
    ],
    "test": [
        "测试一下",
        "测试测试",
        "test",
        "这是一条测试消息，请忽略",
        "123",
        "试试看能不能发出去",
        "系统测试，无需处理",
    ],
    "gibberish": [
        "qwerty",
        "zxcvbnm",
        "啊啊啊啊啊啊",
        "。。。",
        "？？？？",
        "!!!!!!",
        "1111111",
        "😀😀😀",
        "[图片]",
        "[语音]",
        "jkjkjkjk",
        "的的的的",
        "asdf jkl",
    ],
    "telecom": [
        "我的 wifi 和 5G 信号都不好，移动公司不管",
        "电信宽带网速太慢了，看个视频一直卡",
        "联通手机卡莫名其妙扣了我五十块流量费",
        "想把移动的套餐改便宜一点，营业厅说改不了",
        "手机号欠费停机了，交了钱还是打不出去",
        "携号转网一直办不成，客服推来推去",
    ],
    "banking": [
        "信用卡分期的手续费太高了，银行当时没说清楚",
        "我的征信有一条逾期记录，可我从来没有借过钱",
        "银行理财产品亏了本金，销售说保本的",
        "房贷利率能不能申请下调",
        "ATM机吞了我的银行卡",
        "网贷平台天天打电话催收",
    ],
    "personal_chat": [
        "你会唱歌吗",
        "今天好无聊啊，陪我聊聊天",
        "你喜欢吃什么",
        "我失恋了，好难过",
        "你几岁了",
        "晚饭吃火锅还是烧烤呢",
        "给我讲个故事吧",
    ],
    "english": [
        "What time is it?",
        "I love this song",
        "Please tell me a joke",
        "Where can I buy cheap shoes online?",
        "My cat is sleeping on the sofa",
        "Thanks for your help",
    ],
    "advertising": [
        "高价回收旧手机旧电脑，上门看货，电话13900001234",
        "专业代办各类证件，包过，加微信",
        "招聘兼职打字员，在家就能做，日赚三百",
        "美容院开业大酬宾，办卡送面膜",
        "低息贷款，不看征信，当天到账",
        "正品名表一折起，限时抢购",
    ],
    "other_domain": [
        "这款手机壳有没有黑色的",
        "快递显示签收了但我没收到，淘宝客服不回",
        "原神抽卡保底是多少",
        "明星离婚的新闻是真的吗",
        "鱼香肉丝怎么做才好吃",
        "这道数学题怎么解：x加3等于7",
        "明天会下雨吗",
        "推荐一部好看的电视剧",
    ],
}

#: Every text, in order.
ALL_TEXTS: list[str] = [text for texts in OUT_OF_SCOPE.values() for text in texts]
