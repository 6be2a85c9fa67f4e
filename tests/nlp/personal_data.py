"""Personal data as residents type it, embedded in appeal text: a seeded generator.

Each category makes strings of one kind (a mobile number grouped by dots, a name after
联系人是, a plate with a space, ...) and says what normalise() must make of each: the same
text with the personal data replaced by its placeholder. The appeal sentences around them
hold dates, amounts, house numbers and the 12345 hotline, which must come out unmasked.
Used by tests/nlp/test_text.py (normalise) and tests/service/test_request_log.py (the logs).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# Appeals as residents write them, with a slot for the personal data. Their own numbers are
# not personal data and must survive.
APPEALS = [
    "小区门口的烧烤摊每天晚上营业到凌晨2点，油烟和噪音严重扰民，{}，请城管部门尽快处理。",
    "2020年3月15日起我家所在的3栋2单元1502室一直停水，物业说是管道维修，已经5天了，{}。",
    "我在12月8日网购了一台价值12345元的冰箱，商家至今不发货也不退款，{}，希望市场监管局介入。",
    "幸福路128号工地夜间施工，22点以后还在打桩，多次拨打12345热线没有结果，{}。",
    "某某公司拖欠工资共计38000元，已经拖欠6个月，{}，请劳动监察大队帮忙。",
    "{}，我们村的道路坑洼不平，雨天积水有30厘米深，学生上学很不方便，希望交通局修一下。",
    "小区地下车库有一辆车占用消防通道已经两个星期了，{}，物业不管。",
    "我家孩子在第十五中学读初二，学校违规收取补课费每学期1800元，{}，请教育局调查。",
    "楼上住户在阳台上私搭乱建，面积大约20平方米，存在安全隐患，{}，请街道办处理。",
    "2019年购买的商品房至今未办理房产证，开发商一直推脱，涉及业主300多户，{}。",
    "医院收费不合理，一次门诊花了2680.50元，很多检查没有必要，{}，请卫健委核查。",
    "人民路与解放路交叉口往东200米的路灯坏了三个月没人修，晚上出行很不安全，{}。",
    "公交车303路经常不按时发车，早高峰等了40分钟，{}，希望交通运输局管一管。",
]

_DIGITS = "0123456789"
_NUMERALS = "〇一二三四五六七八九"
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶"
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文德志海晓春梅琳雪燕鹏辉斌宇浩凯"
)
# Traditional names and what OpenCC makes of them.
_TRADITIONAL_NAMES = {
    "張偉": "张伟",
    "陳靜": "陈静",
    "黃麗": "黄丽",
    "劉強": "刘强",
    "楊帆": "杨帆",
    "趙軍": "赵军",
    "吳傑": "吴杰",
    "鄭濤": "郑涛",
    "馬紅": "马红",
    "孫曉明": "孙晓明",
}
_SIGNATURE_KEYS = [
    "联系人",
    "姓名",
    "署名",
    "举报人",
    "投诉人",
    "反映人",
    "来电人",
    "留言人",
    "申请人",
]
_TRADITIONAL_KEYS = {"聯繫人": "联系人", "投訴人": "投诉人", "來電人": "来电人", "舉報人": "举报人"}
_HONORIFICS = ["先生", "女士", "小姐", "阿姨", "师傅", "老师"]
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Traditional spellings of province abbreviations and their simplified forms.
_TRADITIONAL_PROVINCES = {"粵": "粤", "滬": "沪", "遼": "辽", "魯": "鲁", "貴": "贵", "蘇": "苏"}
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})
_HALF_WIDTH = str.maketrans({chr(c + 0xFEE0): chr(c) for c in range(0x21, 0x7F)})


@dataclass(frozen=True)
class Item:
    """One string of personal data: ``raw`` as typed, ``masked`` what normalise() makes of
    it, ``secrets`` the pieces that must not survive."""

    category: str
    raw: str
    masked: str
    secrets: tuple[str, ...]


class Generator:
    """Seeded: the same seed gives the same strings."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.categories: dict[str, Callable[[], Item]] = {
            name.removeprefix("_c_").replace("_", "-"): getattr(self, name)
            for name in dir(self)
            if name.startswith("_c_")
        }

    # ------------------------------------------------------------------ pieces
    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(_DIGITS) for _ in range(n))

    def mobile(self) -> str:
        return "1" + self.rng.choice("3456789") + self.digits(9)

    def grouped(self, number: str, sizes: tuple[int, ...], separator: str) -> str:
        parts, i = [], 0
        for size in sizes:
            parts.append(number[i : i + size])
            i += size
        if i < len(number):
            parts.append(number[i:])
        return separator.join(parts)

    def lead(self, *words: str) -> str:
        return self.rng.choice(words)

    def name(self) -> str:
        given = "".join(self.rng.choice(_GIVEN) for _ in range(self.rng.choice((1, 2))))
        return self.rng.choice(_SURNAMES) + given

    def idcard(self) -> str:
        year, month, day = (
            self.rng.randint(1930, 2015),
            self.rng.randint(1, 12),
            self.rng.randint(1, 28),
        )
        return (
            self.rng.choice("123456789")
            + self.digits(5)
            + f"{year:04d}{month:02d}{day:02d}"
            + self.digits(3)
            + self.rng.choice(_DIGITS + "Xx")
        )

    def bankcard(self) -> str:
        prefix = self.rng.choice(["62", "4", "5"])
        return prefix + self.digits(self.rng.randint(16, 19) - len(prefix))

    def plate(self) -> tuple[str, str]:
        """A province and the rest of a plate: a letter and five letters or digits."""
        rest = self.rng.choice(_PLATE_LETTERS) + "".join(
            self.rng.choice(_DIGITS + _PLATE_LETTERS) for _ in range(4)
        )
        return self.rng.choice(_PROVINCES), rest + self.rng.choice(_DIGITS)

    def number(self, category: str, raw: str, lead: str, placeholder: str) -> Item:
        digits = "".join(c for c in raw.translate(_HALF_WIDTH) if c.isdigit())
        return Item(category, lead + raw, lead + placeholder, (digits[-11:],))

    # ------------------------------------------------------------------ phones
    def _phone(self, category: str, raw: str) -> Item:
        return self.number(
            category, raw, self.lead("电话", "联系电话", "手机", "我的电话是", "回电"), "<PHONE>"
        )

    def _c_mobile_plain(self) -> Item:
        return self._phone("mobile-plain", self.mobile())

    def _c_mobile_spaces(self) -> Item:
        return self._phone("mobile-spaces", self.grouped(self.mobile(), (3, 4, 4), " "))

    def _c_mobile_dashes(self) -> Item:
        return self._phone("mobile-dashes", self.grouped(self.mobile(), (3, 4, 4), "-"))

    def _c_mobile_dots(self) -> Item:
        return self._phone("mobile-dots", self.grouped(self.mobile(), (3, 4, 4), "."))

    def _c_mobile_every_digit_spaced(self) -> Item:
        return self._phone("mobile-every-digit-spaced", " ".join(self.mobile()))

    def _c_mobile_tabs(self) -> Item:
        return self._phone("mobile-tabs", self.grouped(self.mobile(), (3, 4, 4), "\t"))

    def _c_mobile_double_spaces(self) -> Item:
        return self._phone("mobile-double-spaces", self.grouped(self.mobile(), (3, 4, 4), "  "))

    def _c_mobile_zero_width(self) -> Item:
        separator = self.rng.choice(["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060"])
        return self._phone("mobile-zero-width", self.grouped(self.mobile(), (3, 4, 4), separator))

    def _c_mobile_plus86(self) -> Item:
        prefix = self.rng.choice(["+86", "+86 ", "+86-", "86"])
        return self._phone("mobile-plus86", prefix + self.mobile())

    def _c_mobile_0086(self) -> Item:
        prefix = self.rng.choice(["0086", "0086 ", "0086-"])
        number = self.mobile()
        if self.rng.random() < 0.5:
            number = self.grouped(number, (3, 4, 4), prefix[-1] if len(prefix) > 4 else " ")
        return self._phone("mobile-0086", prefix + number)

    def _c_mobile_full_width(self) -> Item:
        raw = self.mobile()
        if self.rng.random() < 0.5:
            raw = self.grouped(raw, (3, 4, 4), "\u3000")
        return self._phone("mobile-full-width", raw.translate(_FULL_WIDTH))

    def _numerals(self, number: str, *, one: str = "一", zero: str = "") -> str:
        zeros = zero or self.rng.choice("〇零")
        table = {d: _NUMERALS[int(d)] for d in _DIGITS} | {"1": one, "0": zeros}
        return "".join(table[d] for d in number)

    def _numeral_phone(self, category: str, raw: str) -> Item:
        lead = self.lead("电话", "手机号是", "联系方式")
        return Item(category, lead + raw, lead + "<PHONE>", (raw.replace(" ", ""),))

    def _c_mobile_numerals(self) -> Item:
        return self._numeral_phone("mobile-numerals", self._numerals(self.mobile()))

    def _c_mobile_numerals_yao(self) -> Item:
        return self._numeral_phone("mobile-numerals-yao", self._numerals(self.mobile(), one="幺"))

    def _c_mobile_numerals_0086(self) -> Item:
        prefix = self.rng.choice(["〇〇八六", "零零八六"])
        number = self._numerals(self.mobile(), one=self.rng.choice("一幺"))
        if self.rng.random() < 0.5:
            number = self.grouped(number, (3, 4, 4), " ")
        return self._numeral_phone("mobile-numerals-0086", prefix + number)

    def _c_mobile_html(self) -> Item:
        """Entities and tags inside a number (a tag becomes a space)."""
        number, lead = self.mobile(), self.lead("电话", "手机")
        raw, masked = self.rng.choice(
            [
                (f"{lead}{number[:3]}&#{ord(number[3])};{number[4:]}", f"{lead}<PHONE>"),
                (f"{lead}{number[:7]}&nbsp;{number[7:]}", f"{lead}<PHONE>"),
                (f"{lead}<b>{number[:3]}</b>{number[3:]}", f"{lead} <PHONE>"),
                (f"{lead}<span>{number}</span>", f"{lead} <PHONE> "),
            ]
        )
        return Item("mobile-html", raw, masked, (number,))

    def _c_landline(self) -> Item:
        area = "0" + self.rng.choice("123456789") + self.digits(self.rng.choice((1, 2)))
        local = self.rng.choice("2345678") + self.digits(self.rng.choice((6, 7)))
        raw = self.rng.choice([f"{area}-{local}", f"{area}{local}", f"{area} {local}"])
        return self.number("landline", raw, self.lead("座机", "办公电话", "固话"), "<PHONE>")

    def _c_landline_brackets(self) -> Item:
        area = "0" + self.rng.choice("123456789") + self.digits(self.rng.choice((1, 2)))
        local = self.rng.choice("2345678") + self.digits(self.rng.choice((6, 7)))
        raw = self.rng.choice([f"({area}){local}", f"（{area}）{local}", f"({area}) {local}"])
        return self.number("landline-brackets", raw, self.lead("座机", "电话"), "<PHONE>")

    # ------------------------------------------------------------------ ID numbers, cards
    def _id(self, category: str, raw: str) -> Item:
        return self.number(category, raw, self.lead("身份证号", "身份证", "证件号码"), "<IDCARD>")

    def _c_idcard(self) -> Item:
        return self._id("idcard", self.idcard()[:-1] + self.rng.choice(_DIGITS))

    def _c_idcard_x(self) -> Item:
        return self._id("idcard-x", self.idcard()[:-1] + self.rng.choice("Xx"))

    def _c_idcard_grouped(self) -> Item:
        return self._id("idcard-grouped", self.grouped(self.idcard(), (6, 8, 4), " "))

    def _c_idcard_full_width(self) -> Item:
        return self._id("idcard-full-width", self.idcard().translate(_FULL_WIDTH))

    def _c_bankcard(self) -> Item:
        return self.number(
            "bankcard", self.bankcard(), self.lead("卡号", "银行卡号", "工资卡"), "<BANKCARD>"
        )

    def _c_bankcard_grouped(self) -> Item:
        raw = self.grouped(self.bankcard(), (4, 4, 4, 4), self.rng.choice(" -"))
        return self.number("bankcard-grouped", raw, self.lead("卡号", "银行卡"), "<BANKCARD>")

    # ------------------------------------------------------------------ e-mail
    def email(self) -> str:
        alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
        local = self.rng.choice("abcdefghijk") + "".join(
            self.rng.choice(alnum + "._") for _ in range(self.rng.randint(1, 12))
        )
        domain = "".join(self.rng.choice(alnum) for _ in range(self.rng.randint(2, 8)))
        return f"{local}@{domain}.{self.rng.choice(['com', 'cn', 'net', 'com.cn', 'org'])}"

    def _c_email(self) -> Item:
        raw, lead = self.email(), self.lead("邮箱", "电子邮件", "请发到")
        return Item("email", lead + raw, lead + "<EMAIL>", (raw, raw.split("@")[0]))

    def _c_email_full_width(self) -> Item:
        raw, lead = self.email(), self.lead("邮箱", "邮件")
        return Item("email-full-width", lead + raw.translate(_FULL_WIDTH), lead + "<EMAIL>", (raw,))

    # ------------------------------------------------------------------ plates
    def _plate(self, category: str, raw: str, secret: str) -> Item:
        lead = self.lead("车牌", "车牌号", "一辆")
        return Item(category, lead + raw, lead + "<PLATE>", (secret,))

    def _c_plate(self) -> Item:
        province, rest = self.plate()
        return self._plate("plate", province + rest, rest)

    def _c_plate_new_energy(self) -> Item:
        province, rest = self.plate()
        rest = rest[0] + self.rng.choice("DF") + self.digits(5)
        return self._plate("plate-new-energy", province + rest, rest)

    def _c_plate_space(self) -> Item:
        province, rest = self.plate()
        return self._plate("plate-space", f"{province} {rest}", rest)

    def _c_plate_separator(self) -> Item:
        province, rest = self.plate()
        separator = self.rng.choice("·.-")
        return self._plate("plate-separator", f"{province}{rest[0]}{separator}{rest[1:]}", rest[1:])

    def _c_plate_traditional(self) -> Item:
        province, rest = self.plate()
        province = self.rng.choice(list(_TRADITIONAL_PROVINCES))
        return self._plate("plate-traditional", province + rest, rest)

    def _c_plate_full_width(self) -> Item:
        province, rest = self.plate()
        return self._plate("plate-full-width", province + rest.translate(_FULL_WIDTH), rest)

    # ------------------------------------------------------------------ names
    def _c_name_colon(self) -> Item:
        key, name = self.rng.choice(_SIGNATURE_KEYS), self.name()
        colon = self.rng.choice(["：", ":", ": ", " : "])
        return Item("name-colon", f"{key}{colon}{name}", f"{key}:<NAME>", (name,))

    def _c_name_honorific(self) -> Item:
        key, surname = self.rng.choice(_SIGNATURE_KEYS), self.rng.choice(_SURNAMES)
        name = surname + self.rng.choice(_HONORIFICS)
        if self.rng.random() < 0.5:
            return Item("name-honorific", f"{key}：{name}", f"{key}:<NAME>", (name,))
        return Item("name-honorific", f"{key}{name}", f"{key}<NAME>", (name,))

    def _c_name_bare(self) -> Item:
        key, name = self.rng.choice(_SIGNATURE_KEYS), self.name()
        tail = self.rng.choice(["", "电话", "手机", "住在附近"])
        return Item("name-bare", f"{key}{name}{tail}", f"{key}<NAME>{tail}", (name,))

    def _c_name_is(self) -> Item:
        key, name = self.rng.choice(["联系人", "投诉人", "反映人", "举报人"]), self.name()
        verb = self.rng.choice("是为")
        return Item("name-is", f"{key}{verb}{name}", f"{key}{verb}<NAME>", (name,))

    def _c_name_self(self) -> Item:
        key, name = self.rng.choice(["我叫", "本人叫", "本人姓名", "我的名字是"]), self.name()
        tail = self.rng.choice(["", "住在本小区", "家住幸福路", "电话打不通", "是业主"])
        return Item("name-self", f"{key}{name}{tail}", f"{key}<NAME>{tail}", (name,))

    def _c_name_traditional(self) -> Item:
        key = self.rng.choice(list(_TRADITIONAL_KEYS))
        name = self.rng.choice(list(_TRADITIONAL_NAMES))
        simplified = _TRADITIONAL_NAMES[name]
        return Item(
            "name-traditional",
            f"{key}：{name}",
            f"{_TRADITIONAL_KEYS[key]}:<NAME>",
            (simplified, name),
        )

    # ------------------------------------------------------------------ all of them
    def items(self, per_category: int) -> Iterator[Item]:
        """``per_category`` strings of every category, the categories taking turns."""
        for _ in range(per_category):
            for make in self.categories.values():
                yield make()

    def tickets(self, per_category: int) -> Iterator[tuple[Item, str, str]]:
        """(item, ticket, expected): the item in an appeal, and the appeal with the item masked."""
        for item in self.items(per_category):
            appeal = self.rng.choice(APPEALS)
            yield item, appeal.format(item.raw), appeal.format(item.masked)
