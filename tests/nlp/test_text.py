"""nlp.text: normalisation and masking of personal data, pinned by tables."""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter

import opencc
import pytest

from nlp.text import (
    PLACEHOLDERS,
    collapse_whitespace,
    count_personal_data,
    fold_width,
    mask_personal_data,
    normalise,
    strip_markup,
    to_simplified,
)

# --------------------------------------------------------------------------- normalisation

NORMALISE_CASES = [
    # NFKC: full-width letters, digits, punctuation and compatibility forms.
    pytest.param("ＡＢＣ１２３ｘｙｚ", "ABC123xyz", id="nfkc-fullwidth-alnum"),
    pytest.param("你好，世界！（测试）；：？", "你好,世界!(测试);:?", id="nfkc-fullwidth-punct"),
    pytest.param("面积５０㎡", "面积50m2", id="nfkc-compat-unit"),
    pytest.param("第①条", "第1条", id="nfkc-circled-digit"),
    # Traditional to simplified (OpenCC t2s, phrase-aware).
    pytest.param("頭髮很長", "头发很长", id="t2s-phrase"),
    pytest.param("我們的社區裡面", "我们的社区里面", id="t2s-sentence"),
    pytest.param("乾燥的衣服", "干燥的衣服", id="t2s-one-to-many"),
    pytest.param("发展", "发展", id="t2s-simplified-unchanged"),
    # HTML entities and tags.
    pytest.param("&lt;&gt;&amp;&quot;", '<>&"', id="html-named-entities"),
    pytest.param("&#20320;&#22909;", "你好", id="html-decimal-entities"),
    pytest.param("&#x4F60;", "你", id="html-hex-entity"),
    pytest.param("a&nbsp;b", "a b", id="html-nbsp"),
    pytest.param("<br/>第二行<br>", "第二行", id="html-br-tags"),
    pytest.param('<div class="x">内容</div>', "内容", id="html-tag-with-attributes"),
    pytest.param("<p>你好</p>&nbsp;再见", "你好 再见", id="html-tags-and-entity"),
    pytest.param("价格<100元", "价格<100元", id="html-lone-less-than-kept"),
    # White space and control characters.
    pytest.param("  前后  空格  ", "前后 空格", id="ws-trim-and-collapse"),
    pytest.param("换行\r\n制表\t符", "换行 制表 符", id="ws-newline-tab"),
    pytest.param("\u3000全角空格\u3000", "全角空格", id="ws-ideographic-space"),
    pytest.param("控制\x07字符", "控制字符", id="ws-control-char-dropped"),
    pytest.param("", "", id="empty"),
]


@pytest.mark.parametrize(("text", "expected"), NORMALISE_CASES)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(
    ("function", "text", "expected"),
    [
        pytest.param(fold_width, "ＡＢＣ，１２３", "ABC,123", id="fold_width"),
        pytest.param(strip_markup, "<b>粗</b>&amp;体", " 粗 &体", id="strip_markup"),
        pytest.param(to_simplified, "簡體字轉換", "简体字转换", id="to_simplified"),
        pytest.param(collapse_whitespace, " a \n\n b\x00 ", "a b", id="collapse_whitespace"),
    ],
)
def test_each_step_is_one_pure_function(function, text: str, expected: str) -> None:
    assert function(text) == expected


def test_fold_width_equals_nfkc_on_every_code_point() -> None:
    """fold_width's fast path promises exactly unicodedata.normalize('NFKC', text)."""
    for start in range(0, 0x110000, 64):
        chunk = "".join(chr(c) for c in range(start, start + 64) if not 0xD800 <= c < 0xE000)
        assert fold_width(chunk) == unicodedata.normalize("NFKC", chunk), hex(start)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("ＡＢＣ，１２３…", id="common-and-full-width"),
        pytest.param("第①条，面积５０㎡", id="circled-and-units"),
        pytest.param("ｅ\u0301，é\u0327", id="combining-accents"),
        pytest.param("𝐀𝟎，\U0002f800", id="beyond-the-bmp"),
    ],
)
def test_fold_width_equals_nfkc_on_mixed_text(text: str) -> None:
    """Each of fold_width's paths (replace, regex pass, NFKC proper) gives NFKC's result."""
    assert fold_width(text) == unicodedata.normalize("NFKC", text)


def _collapse_whitespace_by_regex(text: str) -> str:
    """What collapse_whitespace does, said with regexes: the specification it keeps to."""
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def test_collapse_whitespace_agrees_with_the_regexes_on_every_code_point() -> None:
    """str.split and the regex \\s must agree on what white space is, for every character."""
    for start in range(0, 0x110000, 64):
        text = "".join(
            f"{chr(code)}a{chr(code)}{chr(code)} b\n" for code in range(start, start + 64)
        )
        assert collapse_whitespace(text) == _collapse_whitespace_by_regex(text), hex(start)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a\x1cb\x1dc\x1ed\x1fe", id="separators-are-dropped-not-spaced"),
        pytest.param(" \x0b\x0c\t\r\n\u3000\xa0\x85\u2028 ", id="all-white-space"),
        pytest.param("标题\n正文\x00\x07\x7f结束", id="controls-after-a-line-break"),
        pytest.param("标题\r\n正文\u200b", id="printable-check-fails-without-controls"),
    ],
)
def test_collapse_whitespace_agrees_with_the_regexes(text: str) -> None:
    assert collapse_whitespace(text) == _collapse_whitespace_by_regex(text)


def test_to_simplified_leaves_ascii_to_itself() -> None:
    """to_simplified skips OpenCC for ASCII text: OpenCC must have nothing to change there."""
    ascii_text = "".join(map(chr, range(128)))
    assert opencc.OpenCC("t2s").convert(ascii_text) == ascii_text
    assert to_simplified(ascii_text) == ascii_text


# --------------------------------------------------------------------------- masking

MASK_CASES = [
    # Mobile numbers, in every grouping residents type.
    pytest.param("电话13812345678谢谢", "电话<PHONE>谢谢", id="mobile-plain"),
    pytest.param("电话138 1234 5678谢谢", "电话<PHONE>谢谢", id="mobile-3-4-4-spaces"),
    pytest.param("电话138-1234-5678谢谢", "电话<PHONE>谢谢", id="mobile-3-4-4-dashes"),
    pytest.param("电话1381234 5678谢谢", "电话<PHONE>谢谢", id="mobile-7-4"),
    pytest.param("电话+86 13812345678谢谢", "电话<PHONE>谢谢", id="mobile-plus86-space"),
    pytest.param("电话+8613812345678谢谢", "电话<PHONE>谢谢", id="mobile-plus86"),
    pytest.param("电话8613812345678谢谢", "电话<PHONE>谢谢", id="mobile-86"),
    pytest.param("电话：19912345678。", "电话:<PHONE>。", id="mobile-199"),
    # Landlines, with and without brackets around the area code.
    pytest.param("座机010-12345678转", "座机<PHONE>转", id="landline-dash"),
    pytest.param("座机(010)12345678转", "座机<PHONE>转", id="landline-brackets"),
    pytest.param("座机（0755）1234567转", "座机<PHONE>转", id="landline-fullwidth-brackets"),
    pytest.param("座机(0755) 1234567转", "座机<PHONE>转", id="landline-brackets-space"),
    pytest.param("座机0571 8765 4321转", "座机<PHONE>转", id="landline-grouped"),
    pytest.param("座机073188886666转", "座机<PHONE>转", id="landline-plain"),
    # 18-digit resident ID numbers, check digit X or x.
    pytest.param("身份证110105194912310021号", "身份证<IDCARD>号", id="idcard-digit"),
    pytest.param("身份证11010519491231002X号", "身份证<IDCARD>号", id="idcard-X"),
    pytest.param("身份证11010519491231002x号", "身份证<IDCARD>号", id="idcard-x"),
    pytest.param("身份证：430102200002290012，", "身份证:<IDCARD>,", id="idcard-2000s"),
    # E-mail addresses.
    pytest.param("邮箱zhang.san@example.com谢谢", "邮箱<EMAIL>谢谢", id="email-dotted"),
    pytest.param("邮箱abc_1@qq.com谢谢", "邮箱<EMAIL>谢谢", id="email-qq"),
    pytest.param("发到wang-li+appeal@mail.gov.cn。", "发到<EMAIL>。", id="email-subdomain"),
    # Bank cards, 16 to 19 digits, grouped or not.
    pytest.param("卡号6222021234567890谢谢", "卡号<BANKCARD>谢谢", id="card-16"),
    pytest.param("卡号6222021234567890123谢谢", "卡号<BANKCARD>谢谢", id="card-19"),
    pytest.param("卡号6222 0212 3456 7890谢谢", "卡号<BANKCARD>谢谢", id="card-16-spaces"),
    pytest.param("卡号6222-0212-3456-7890-123谢谢", "卡号<BANKCARD>谢谢", id="card-19-dashes"),
    # Licence plates, including new-energy plates and separators.
    pytest.param("车牌京A12345停在", "车牌<PLATE>停在", id="plate-plain"),
    pytest.param("车牌粤B·D12345停在", "车牌<PLATE>停在", id="plate-new-energy-dot"),
    pytest.param("车牌沪A-8K9L2停在", "车牌<PLATE>停在", id="plate-dash"),
    pytest.param("车牌湘AD12345停在", "车牌<PLATE>停在", id="plate-new-energy"),
    # A name after a signature keyword.
    pytest.param("联系人：张三", "联系人:<NAME>", id="name-contact"),
    pytest.param("联系人:李先生", "联系人:<NAME>", id="name-honorific"),
    pytest.param("投诉人：王小明。", "投诉人:<NAME>。", id="name-complainant"),
    pytest.param("反映人：李四", "反映人:<NAME>", id="name-reporter"),
    # Masking sees full-width digits as digits: it runs after width folding.
    pytest.param("电话：１３８１２３４５６７８", "电话:<PHONE>", id="fullwidth-mobile"),
    pytest.param(
        "身份证１１０１０５１９４９１２３１００２Ｘ", "身份证<IDCARD>", id="fullwidth-idcard"
    ),
    pytest.param(
        "ｍａｉｌ：ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ", "mail:<EMAIL>", id="fullwidth-email"
    ),
    pytest.param("车牌京Ａ１２３４５", "车牌<PLATE>", id="fullwidth-plate"),
    # ... and after HTML decoding: an entity cannot hide a digit.
    pytest.param("电话138&#49;2345678", "电话<PHONE>", id="entity-inside-mobile"),
    # Several kinds in one ticket.
    pytest.param(
        "电话13812345678，邮箱a@b.cn 联系人：张三",
        "电话<PHONE>,邮箱<EMAIL> 联系人:<NAME>",
        id="several-kinds",
    ),
]


@pytest.mark.parametrize(("text", "expected"), MASK_CASES)
def test_personal_data_is_masked(text: str, expected: str) -> None:
    assert normalise(text) == expected


# Masking happens before the traditional -> simplified conversion, so the patterns must also
# know the traditional spellings of the keywords and province abbreviations they look for.
TRADITIONAL_MASK_CASES = [
    pytest.param("聯繫人：張三", "张三", id="name-after-traditional-contact"),
    pytest.param("投訴人：王先生", "王先生", id="name-after-traditional-complainant"),
    pytest.param("來電人：黃先生", "黄先生", id="name-after-traditional-caller"),
    pytest.param("車牌粵B12345停在", "B12345", id="plate-traditional-province"),
    pytest.param("車牌滬A12345停在", "A12345", id="plate-traditional-shanghai"),
]


@pytest.mark.parametrize(("text", "secret"), TRADITIONAL_MASK_CASES)
def test_personal_data_in_traditional_text_is_masked(text: str, secret: str) -> None:
    assert secret not in normalise(text)


NOT_PERSONAL_DATA = [
    pytest.param("打了12345也没人管", id="hotline-12345"),
    pytest.param("12345热线说转给街道", id="hotline-12345-first"),
    pytest.param("2020年1月6日下午", id="date-chinese"),
    pytest.param("2019年12月31日至2020年1月6日", id="date-range"),
    pytest.param("2020-01-06 14:30", id="date-iso"),
    pytest.param("2020.01.06", id="date-dotted"),
    pytest.param("20200106开始停水", id="date-compact"),
    pytest.param("花了12000元", id="money-integer"),
    pytest.param("罚款3500.50元", id="money-decimal"),
    pytest.param("金额1,234,567.89元", id="money-thousands"),
    pytest.param("门牌号10086号", id="house-number-5-digits"),
    pytest.param("5号楼2单元30201室", id="room-number-5-digits"),
    pytest.param("邮编410000", id="postcode"),
    pytest.param("体重86公斤,身高175", id="measurements"),
    pytest.param("工号12345678", id="eight-digit-number"),
    pytest.param("2023年度预算", id="year"),
    pytest.param("京津冀协同发展", id="province-names-not-a-plate"),
]


@pytest.mark.parametrize("text", NOT_PERSONAL_DATA)
def test_ordinary_numbers_are_not_masked(text: str) -> None:
    assert normalise(text) == text
    assert count_personal_data(text) == Counter()


def test_mask_personal_data_alone_masks_folded_text() -> None:
    assert mask_personal_data("电话13812345678，身份证11010519491231002X") == (
        "电话<PHONE>，身份证<IDCARD>"
    )


def test_placeholders_are_typed_and_complete() -> None:
    assert PLACEHOLDERS == ("<PHONE>", "<IDCARD>", "<EMAIL>", "<BANKCARD>", "<PLATE>", "<NAME>")


# --------------------------------------------------------------------------- idempotence

IDEMPOTENCE_CASES = [
    pytest.param("楼下烧烤摊天天占道经营,油烟太大了", id="plain"),
    pytest.param("ＡＢＣ，後來發現這個問題　　　好", id="fullwidth-traditional-spaces"),
    pytest.param("<p>你好</p>&nbsp;再见", id="markup"),
    # Placeholders are not markup: a second pass keeps them.
    pytest.param("电话13812345678", id="phone"),
    pytest.param("联系人：张三，邮箱a@b.cn，车牌京A12345", id="name-email-plate"),
    pytest.param("卡号6222021234567890，身份证11010519491231002X", id="card-idcard"),
    pytest.param(
        "a&amp;lt;b",
        id="double-escaped-entity",
    ),
    pytest.param(
        "&lt;b&gt;粗体",
        id="escaped-tag",
    ),
]


@pytest.mark.parametrize("text", IDEMPOTENCE_CASES)
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


# --------------------------------------------------------------------------- counting

COUNT_CASES = [
    pytest.param("没有个人信息", {}, id="none"),
    pytest.param("电话13812345678，座机010-12345678", {"PHONE": 2}, id="two-phones"),
    pytest.param(
        "身份证11010519491231002X，卡号6222021234567890，邮箱a@b.cn",
        {"IDCARD": 1, "BANKCARD": 1, "EMAIL": 1},
        id="id-card-email",
    ),
    pytest.param("车牌京A12345，联系人：张三", {"PLATE": 1, "NAME": 1}, id="plate-name"),
    pytest.param("电话：１３８１２３４５６７８", {"PHONE": 1}, id="fullwidth"),
]


@pytest.mark.parametrize(("text", "expected"), COUNT_CASES)
def test_count_personal_data(text: str, expected: dict[str, int]) -> None:
    assert count_personal_data(text) == Counter(expected)


# --------------------------------------------------------------------------- generated

_DIGITS = "0123456789"
_CONTEXT = [
    "我的电话是",
    "联系电话",
    "身份证号码",
    "请联系",
    "邮箱",
    "银行卡号",
    "工资卡",
    "麻烦回电",
    "小区门口垃圾没人清",
    "业主",
    "谢谢",
    "物业不管",
    "网格员说",
    "急！",
    "噪音扰民",
]
_SEPARATORS = ["", "：", ":", "，", " ", "（", "）", "。", "、", "\n"]


class _Generator:
    """Phone, landline, ID, e-mail and bank-card strings as residents type them."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(_DIGITS) for _ in range(n))

    def grouped(self, number: str, sizes: tuple[int, ...], separator: str) -> str:
        parts, i = [], 0
        for size in sizes:
            parts.append(number[i : i + size])
            i += size
        if i < len(number):
            parts.append(number[i:])
        return separator.join(parts)

    def mobile(self) -> str:
        number = "1" + self.rng.choice("3456789") + self.digits(9)
        style = self.rng.randrange(4)
        if style == 1:
            return self.grouped(number, (3, 4, 4), self.rng.choice(" -"))
        if style == 2:
            return self.rng.choice(["+86", "+86 ", "86", "+86-"]) + number
        if style == 3:
            return self.grouped(number, (3, 4), self.rng.choice(" -"))
        return number

    def landline(self) -> str:
        area = "0" + self.rng.choice("123456789") + self.digits(self.rng.choice((1, 2)))
        local = self.rng.choice("2345678") + self.digits(self.rng.choice((6, 7)))
        return self.rng.choice([f"{area}-{local}", f"({area}){local}", f"({area}) {local}"])

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

    def email(self) -> str:
        alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
        local = self.rng.choice("abcdefghijk") + "".join(
            self.rng.choice(alnum + "._") for _ in range(self.rng.randint(1, 12))
        )
        domain = "".join(self.rng.choice(alnum) for _ in range(self.rng.randint(2, 8)))
        return f"{local}@{domain}.{self.rng.choice(['com', 'cn', 'net', 'com.cn', 'org'])}"

    def bankcard(self) -> str:
        prefix = self.rng.choice(["62", "4", "5"])
        number = prefix + self.digits(self.rng.randint(16, 19) - len(prefix))
        if self.rng.random() < 0.5:
            return self.grouped(number, (4, 4, 4, 4), self.rng.choice(" -"))
        return number

    def item(self) -> str:
        make = self.rng.choice([self.mobile, self.landline, self.idcard, self.email, self.bankcard])
        raw = make()
        if self.rng.random() < 0.2:  # some residents type full-width digits
            raw = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in raw)
        return raw

    def ticket(self) -> tuple[str, list[str]]:
        items = [self.item() for _ in range(self.rng.randint(1, 4))]
        parts = []
        for raw in items:
            parts += [self.rng.choice(_CONTEXT), self.rng.choice(_SEPARATORS), raw]
            parts.append(self.rng.choice(_SEPARATORS))
        parts.append(self.rng.choice(_CONTEXT))
        return "".join(parts), items


def _digits_of(raw: str) -> str:
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", raw))


def test_no_generated_personal_data_survives_normalise() -> None:
    generator = _Generator(seed=20240601)
    embedded = 0
    survivors = []
    for _ in range(500):
        ticket, items = generator.ticket()
        embedded += len(items)
        out = normalise(ticket)
        # The context has no digits: any digit left over is a fragment of personal data.
        if re.search(r"\d", out):
            survivors.append((ticket, out))
        for raw in items:
            digits = _digits_of(raw)
            if (
                raw in out
                or unicodedata.normalize("NFKC", raw) in out
                or (digits and digits in out)
            ):
                survivors.append((raw, out))
        # count_personal_data counts exactly what normalise masks.
        assert (
            sum(count_personal_data(ticket).values())
            == len(items)
            == sum(out.count(p) for p in PLACEHOLDERS)
        ), (ticket, out)
    assert embedded >= 1_000
    assert survivors == []


# mask_personal_data's regex is written for speed (see nlp.text). This is the same alternation
# written plainly: every match must be the same, in every string.
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_HONORIFICS = "先生|女士|小姐|阿姨|叔叔|大爷|大妈|师傅|老师"
_PLAIN_PERSONAL_DATA = re.compile(
    "|".join(
        [
            r"(?P<EMAIL>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})",
            r"(?P<IDCARD>(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}"
            r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9A-Za-z]))",
            r"(?P<PHONE>(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]){8}(?![0-9])"
            r"|(?<![0-9])(?:\(0[0-9]{2,3}\)|0[0-9]{2,3})[ -]?[0-9]{3,4}[ -]?[0-9]{4}(?![0-9]))",
            r"(?P<BANKCARD>(?<![0-9])[0-9](?:[ -]?[0-9]){15,18}(?![0-9]))",
            rf"(?P<PLATE>[{_PROVINCES}][A-HJ-NP-Za-hj-np-z][ ·.・-]?[A-HJ-NP-Za-hj-np-z0-9]{{4,5}}"
            r"[A-HJ-NP-Za-hj-np-z0-9挂学警](?![A-Za-z0-9]))",
            r"(?P<SIGKEY>联系人|姓名|署名|举报人|投诉人|反映人|来电人|留言人|申请人)[ ]?[:：][ ]?"
            rf"(?P<NAME>[\u4e00-\u9fff]{{1,3}}?(?:{_HONORIFICS})|[\u4e00-\u9fff]{{2,3}})"
            r"|(?P<SELFKEY>我叫|本人叫|本人姓名|我的名字是)"
            r"(?P<SELFNAME>[\u4e00-\u9fff]{2,3})(?=[,.;:!?，。；：！？、 ]|$)",
        ]
    )
)


def _plain_placeholder(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "NAME":
        return f"{match.group('SIGKEY')}:<NAME>"
    if kind == "SELFNAME":
        return f"{match.group('SELFKEY')}<NAME>"
    return f"<{kind}>"


# Pieces of personal data and of what surrounds it, all already folded and simplified.
_PIECE_TEXT = (
    "联系人|姓名|署名|举报人|投诉人|反映人|来电人|留言人|申请人|我叫|本人叫|本人姓名|我的名字是|"
    "本人|我|叫|人|张三|李先生|王|女士|老师|:|：|,|。|!|、|(|)|+|+86|86|-|@|qq|com|cn|a|B|X|x|_|%|.|"
    "京|粤|新|A|D|·|・|挂|学|警|年|元|号|京A12345|粤B·D1234"
)
_PIECES = [*_PIECE_TEXT.split("|"), " ", "\n", "  "]


def _random_string(generator: _Generator) -> str:
    """Pieces, runs of digits and generated personal data, in any order."""
    rng = generator.rng
    parts = []
    for _ in range(rng.randint(1, 12)):
        roll = rng.random()
        if roll < 0.1:
            parts.append(generator.item())
        elif roll < 0.4:  # a run of digits, sometimes grouped
            parts.append(
                "".join(
                    rng.choice(_DIGITS) + (rng.choice(" -") if rng.random() < 0.15 else "")
                    for _ in range(rng.randint(1, 22))
                )
            )
        else:
            parts.append(rng.choice(_PIECES))
    return "".join(parts)


def test_masking_finds_what_the_plain_regex_finds() -> None:
    generator = _Generator(seed=7)
    cases = [param.values[0] for param in MASK_CASES + NOT_PERSONAL_DATA]
    cases += [_random_string(generator) for _ in range(20_000)]
    for text in cases:
        prepared = to_simplified(fold_width(strip_markup(text)))
        for masked in (text, prepared):
            expected = _PLAIN_PERSONAL_DATA.sub(_plain_placeholder, masked)
            assert mask_personal_data(masked) == expected, masked
        kinds = [match.lastgroup for match in _PLAIN_PERSONAL_DATA.finditer(prepared)]
        counts = Counter("NAME" if kind == "SELFNAME" else kind for kind in kinds)
        assert count_personal_data(text) == counts, text
