"""Text normalisation and masking of personal data: one pure function per concern.

:func:`normalise` is the front door. It masks personal data as soon as the text has been
decoded (HTML entities), width-folded (NFKC, so that full-width digits are digits),
converted to simplified characters (so traditional keywords are recognised) and its white
space collapsed (so that double spaces, tabs and zero-width spaces inside a number read as
single spaces or nothing): pure string functions that keep nothing. Segmentation, features,
logs and exports see masked text only.
Placeholders are typed (``<PHONE>``, ``<IDCARD>``, ...) so the model can still use "a phone
number was here" as a feature.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import opencc

__all__ = [
    "PLACEHOLDERS",
    "AlignedText",
    "collapse_whitespace",
    "count_personal_data",
    "fold_width",
    "join_aligned",
    "mask_personal_data",
    "normalise",
    "normalise_aligned",
    "normalise_simplified",
    "replace_surrogates",
    "simplify",
    "strip_markup",
    "to_simplified",
]

#: The typed placeholders that :func:`mask_personal_data` writes, one per kind of data.
PLACEHOLDERS = ("<PHONE>", "<IDCARD>", "<EMAIL>", "<BANKCARD>", "<PLATE>", "<NAME>")

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_SIGNATURE_KEYS = "联系人|姓名|署名|举报人|投诉人|反映人|来电人|留言人|申请人"
_SELF_KEYS = "我叫|本人叫|本人姓名|我的名字是"
_HONORIFICS = "先生|女士|小姐|阿姨|叔叔|大爷|大妈|师傅|老师"
# A name with no colon before it (联系人张三, 联系人是张三, 我叫张三住在...) is told from
# ordinary words (联系人不接电话, 我叫了物业) by its first character: one of the hundred or so
# most common surnames, leaving out those that mostly start everyday words (向, 安, 成, 时,
# 和, 全, 包, 尚, 符, 管, 费, 项, 申, ...), and not the start of such a word (严重, 任何).
# A name after a colon needs no surname.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺"
    "顾毛郝龚邵万钱严覃武戴莫孔汤常温康施牛樊葛邢齐易乔伍颜倪庄聂章鲁岳翟殷詹欧耿焦俞柳舒"
    "阮柯梅童霍涂谷翁冉骆蓝靳柴鲍喻祁蒲滕饶艾穆卓缪褚"
)
_NOT_NAMES = (
    "严重|任何|方面|方式|方法|方便|马上|高度|高层|高速|金额|谢谢|施工|许多|曾经|陆续|范围|程序|"
    "万元|余额|周边|周围|周末|白天|陈述|张贴|常年|常常|温度|康复|齐全|付款|付费|付出|杜绝|顾客|"
    "莫名|颜色|章程|舒服|卓越|涂改|焦急|夏天|石头|钱款|黄金|何时|毛病|罗列|龙头|黎明|孔子"
)
# ... and by what follows a two-character name: a third character that starts the next words
# (张三住在, 李四电话) is not part of the name.
_AFTER_NAME = (
    "住在是的电手联身已从和与向于说反称现今也都就要想对给被把让叫"
    "我你他她们楼号栋室曾又还再等不没很请打到微家"
)
_CJK = r"[\u4e00-\u9fff]"
_BARE_NAME = (
    rf"(?!{_NOT_NAMES})[{_SURNAMES}]"
    rf"(?:{_CJK}?(?:{_HONORIFICS})|{_CJK}(?:(?![{_AFTER_NAME}]){_CJK})?)"
)
_SEPARATOR = "[ -]?"  # between the digits of a number, once white space is collapsed
_NUMERAL = "[〇零一幺二两三四五六七八九]"  # Chinese numerals for digits, as phone numbers are read


def _after_first(keywords: str) -> str:
    """An alternation of literal ``keywords`` (each at least two characters long) for a match
    whose first character is already consumed: each keyword's rest, then a look-behind that
    checks the whole keyword. Same order, same matches as ``keywords`` itself."""
    return "|".join(f"{key[1:]}(?<={key})" for key in keywords.split("|"))


def _first_characters(keywords: str) -> str:
    """The first character of each keyword in an alternation of literal ``keywords``."""
    return "".join(key[0] for key in keywords.split("|"))


# One alternation, one pass: see _personal_data_regex. Order matters where patterns overlap:
# an 18-digit ID number is also a run of digits that looks like a bank card, so IDCARD is
# tried first.
#
# Every pattern starts one character into the match: the regex consumes the first character
# with one character class, and each pattern checks it with a look-behind. The engine skips
# positions that fail a leading character class at C speed; a leading look-ahead (?=[...]) is
# a full match attempt at every position, which more than doubles the time to find them.
#
# Every repetition is bounded, so a match attempt reads a bounded number of characters:
# linear time on any input (tests/nlp/adversarial_text.py holds the inputs that would show
# otherwise). The e-mail pattern also starts only where a run of local-part characters
# starts: a run of 50,000 letters before an "@" costs one attempt, not 50,000.
_EMAIL = (
    # Local part: at most 64 characters (RFC 5321); domain: at most 8 labels of at most 63.
    r"(?<=[A-Za-z0-9._%+-])(?<![A-Za-z0-9._%+-].)"
    r"(?P<EMAIL>[A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,63})"
)
_NUMBERS = (
    # A number starts with a digit, "+" or "(" that no digit precedes, and spans at least ten
    # characters of digits, brackets, spaces, dots and dashes: the look-ahead rejects the
    # short numbers (dates, amounts) before the patterns are tried. It rejects no match: the
    # shortest, a landline such as 0101234567, has nine such characters after its first.
    r"(?<=[0-9+(])(?<![0-9].)(?=[0-9 ().-]{9})(?:"
    # 18-digit resident ID: 6-digit area, birth date, 3-digit sequence, check digit; typed
    # whole or as 6-8-4.
    r"(?<=[1-9])(?P<IDCARD>[0-9]{5}[ -]?(?:18|19|20)[0-9]{2}"
    r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[ -]?[0-9]{3}[0-9Xx](?![0-9A-Za-z]))"
    # Mobile: optional +86, 0086 or 86, 1[3-9]x, then 8 digits; any grouping by space or
    # dash, or 3-4-4 by dots (a dot anywhere would take lists of decimals for phones).
    rf"|(?P<PHONE>(?:(?<=\+)86{_SEPARATOR}1|(?<=0)086{_SEPARATOR}1|(?<=8)6{_SEPARATOR}1|(?<=1))"
    rf"(?:[3-9][0-9]\.[0-9]{{4}}\.[0-9]{{4}}|{_SEPARATOR}[3-9]{_SEPARATOR}[0-9]"
    rf"(?:{_SEPARATOR}[0-9]){{8}})(?![0-9])"
    # Landline: area code 0xx(x), in brackets or not, then a 7-8 digit number.
    rf"|(?:(?<=\()0[0-9]{{2,3}}\)|(?<=0)[0-9]{{2,3}}){_SEPARATOR}[0-9]{{3,4}}{_SEPARATOR}"
    r"[0-9]{4}(?![0-9]))"
    # Bank card: a run of 16 to 19 digits, whole or in groups of at least three (the last
    # may be shorter) split by a space or dash: 6222 0212 3456 7890 12, not the dates of
    # 2019-12-31 2020-01-06. The look-ahead counts the run's digits possessively: giving
    # digits back cannot make the run end.
    r"|(?<=[0-9])(?P<BANKCARD>(?=(?:[ -]?[0-9]){15,18}+(?![ -]?[0-9]))"
    r"[0-9]{2,18}(?:[ -][0-9]{3,18}){0,6}(?:[ -][0-9]{1,2})?(?![ -]?[0-9]))"
    r")"
)
# A mobile number in Chinese numerals (一三八一二三四五六七八, 幺 for 1, 〇 or 零 for 0),
# with 〇〇八六 or not.
_NUMERALS = (
    rf"(?P<NUMERALS>(?:(?<=[〇零])[〇零]{_SEPARATOR}八{_SEPARATOR}六{_SEPARATOR}[一幺]|(?<=[一幺]))"
    rf"{_SEPARATOR}[三四五六七八九](?:{_SEPARATOR}{_NUMERAL}){{9}}(?!{_NUMERAL}))"
)
# Licence plate: province, letter, optional separators, 5 or 6 letters/digits.
_PLATE = (
    rf"(?<=[{_PROVINCES}])(?P<PLATE>[ ]?[A-HJ-NP-Za-hj-np-z][ ·.・-]?"
    r"[A-HJ-NP-Za-hj-np-z0-9]{4,5}[A-HJ-NP-Za-hj-np-z0-9挂学警](?![A-Za-z0-9]))"
)
# A name after a signature keyword: 联系人：张三 / 投诉人:王先生 (any two or three characters
# after a colon), 联系人张三 / 联系人是李先生 (a surname first). The SIGKEY and SELFKEY groups
# hold the keyword without its first character: see _placeholder.
_SIGNED_NAME = (
    rf"(?P<SIGKEY>{_after_first(_SIGNATURE_KEYS)})(?:[ ]?[:：][ ]?"
    rf"(?P<NAME>{_CJK}{{1,3}}?(?:{_HONORIFICS})|{_CJK}{{2,3}})"
    rf"|[ ]?(?:[是为][ ]?)?(?P<BARENAME>{_BARE_NAME}))"
)
# ... or introduced by the writer: 我叫张三, / 本人李四。 (a name ends at punctuation), or
# 我叫张三住在... (a surname first).
_SELF_NAME = (
    rf"(?P<SELFKEY>{_after_first(_SELF_KEYS)})(?:"
    rf"(?P<SELFNAME>{_CJK}{{2,3}})(?=[,.;:!?，。；：！？、 ]|$)|(?P<SELFBARE>{_BARE_NAME}))"
)

# The kind of data each named group of the regex holds.
_KINDS = {
    "EMAIL": "EMAIL",
    "IDCARD": "IDCARD",
    "PHONE": "PHONE",
    "NUMERALS": "PHONE",
    "BANKCARD": "BANKCARD",
    "PLATE": "PLATE",
    "NAME": "NAME",
    "BARENAME": "NAME",
    "SELFNAME": "NAME",
    "SELFBARE": "NAME",
}


def _personal_data_regex(*, email: bool) -> re.Pattern[str]:
    """All patterns in one alternation, in this order; the e-mail pattern only if ``email``."""
    # The patterns that start with a Chinese character share one look-behind, so that digits
    # (most candidates) are not tried against each of them.
    chinese = (
        _PROVINCES + _first_characters(_SIGNATURE_KEYS) + _first_characters(_SELF_KEYS) + "〇零一幺"
    )
    first = "0-9+(" + chinese
    patterns = [
        _NUMBERS,
        f"(?<=[{chinese}])(?:{_PLATE}|{_SIGNED_NAME}|{_SELF_NAME}|{_NUMERALS})",
    ]
    if email:
        first = r"A-Za-z._%\-" + first
        patterns.insert(0, _EMAIL)
    return re.compile(f"[{first}](?:{'|'.join(patterns)})")


# No e-mail address without an "@": most tickets have none, and without the e-mail pattern
# letters and dots need not be tried at all.
_PERSONAL_DATA = _personal_data_regex(email=True)
_PERSONAL_DATA_NO_EMAIL = _personal_data_regex(email=False)


def _personal_data(text: str) -> re.Pattern[str]:
    """The masking regex for ``text``: both find the same matches in it."""
    return _PERSONAL_DATA if "@" in text else _PERSONAL_DATA_NO_EMAIL


# HTML tags that message boards and ticket exports leave in text. Only these are removed, so
# "a<b and c>d" and our own placeholders (<PHONE>) stay as they are.
_TAGS = "a|b|br|div|em|font|h[1-6]|hr|i|img|li|ol|p|section|span|strong|table|tbody|td|th|tr|u|ul"
_MARKUP = re.compile(rf"</?(?:{_TAGS})(?:\s[^<>=]{{0,100}}=[^<>]{{0,200}})?\s*/?>", re.IGNORECASE)
# Control characters, and the invisible format characters (zero-width space and joiners,
# soft hyphen, direction marks, byte order mark) that can hide inside a number: 138\u200b1234.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\xad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u206f\ufeff]"
)


def strip_markup(text: str) -> str:
    """Decode HTML entities (``&nbsp;``, ``&#49;``, twice-escaped ``&amp;lt;``) and drop tags
    such as ``<br>`` or ``<p>``, decoded ones included. Idempotent."""
    for _ in range(3):
        if "&" not in text:
            break
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    if "<" in text:
        text = _MARKUP.sub(" ", text)
    return text


# Full-width punctuation, the ideographic space and the ellipsis are most of what NFKC changes
# in Chinese text: str.replace (C speed) gives them their NFKC forms, one regex pass does the
# same for other characters (full-width digits, ①, ㎡), and NFKC proper runs only when that
# is not enough (combining accents). Replacing a character by its NFKC form never changes the
# NFKC form of the whole text, so the result is always NFKC's.
_COMMON_COMPATIBILITY = tuple(
    (char, unicodedata.normalize("NFKC", char)) for char in "，？！：（）；\u3000…"
)


#: Those of them that fold to one character (all but the ellipsis).
_COMMON_ONE_TO_ONE = tuple(
    (char, folded) for char, folded in _COMMON_COMPATIBILITY if len(folded) == 1
)


@cache
def _compatibility_characters() -> re.Pattern[str]:
    """Every character of the Basic Multilingual Plane that NFKC changes on its own.

    The others (mathematical letters, 𝐀) are left to NFKC proper: with characters beyond
    U+FFFF in it, the class is checked one range at a time, and the search is hundreds of
    times slower.
    """
    changed = (
        char
        for char in map(chr, range(0x10000))
        if not "\ud800" <= char <= "\udfff" and unicodedata.normalize("NFKC", char) != char
    )
    return re.compile(f"[{re.escape(''.join(changed))}]")


def _nfkc(match: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", match.group())


def fold_width(text: str) -> str:
    """Unicode NFKC: full-width letters, digits and punctuation become their half-width forms.

    Always equal to ``unicodedata.normalize("NFKC", text)``, and many times faster on typical
    tickets (``make bench-normalise`` prints both).
    """
    if text.isascii():  # NFKC leaves ASCII as it is
        return text
    for char, folded in _COMMON_COMPATIBILITY:
        text = text.replace(char, folded)  # the same string, not a copy, if char is absent
    if unicodedata.is_normalized("NFKC", text):  # most tickets are done here
        return text
    text = _compatibility_characters().sub(_nfkc, text)
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def _placeholder(match: re.Match[str]) -> str:
    group = match.lastgroup or ""
    kind = _KINDS[group]
    if kind != "NAME":
        return f"<{kind}>"
    # The keyword (and 是/为) before the name stays, without spaces: 联系人:<NAME>.
    # The regex consumed the keyword's first character before the SIGKEY or SELFKEY group.
    keyword = match.string[match.start() : match.start(group)].replace(" ", "")
    if group == "NAME":
        keyword = keyword.replace("：", ":")
    return f"{keyword}<NAME>"


def mask_personal_data(text: str) -> str:
    """Replace phone and ID numbers, e-mails, bank cards, plates and signed names by placeholders.

    Expects prepared text: markup decoded, width folded, simplified, white space collapsed
    and invisible characters dropped. :func:`normalise` prepares it in that order, and so
    masks what this misses in raw text (a zero-width space inside a number, 聯繫人：張三,
    138&#49;2345678).
    """
    return _personal_data(text).sub(_placeholder, text)


# Whether a number (or a plate, or a run of numerals) ends where it seems to is checked
# against what follows it. When what follows is masked in the same pass, what is left before
# it can be a number of its own: 782811 19710208 94233-71475212370298333 is too long for a
# card, 71475212370298333 is one, and then so is 782811 19710208 94233. So masking is
# repeated, up to three passes (each linear; enough for all but contrived runs of digits),
# while a placeholder follows what could end a number, and normalise is idempotent.
_PASSES = 3
_ENDS = "0-9A-Za-z〇零一幺二两三四五六七八九"
_AFTER_AN_END = re.compile(
    rf"<(?:(?<=[{_ENDS}]<)|(?<=[{_ENDS}][ -]<))(?:PHONE|IDCARD|EMAIL|BANKCARD|PLATE|NAME)>"
)


def _mask(text: str, *, counts: Counter[str] | None = None) -> str:
    """:func:`mask_personal_data`, repeated while a placeholder ends up after what could end a
    number; what it finds is added to ``counts``."""
    for _ in range(_PASSES):
        regex = _personal_data(text)
        if counts is not None:
            counts.update(_KINDS[match.lastgroup or ""] for match in regex.finditer(text))
        masked = regex.sub(_placeholder, text)
        if masked == text or not _AFTER_AN_END.search(masked):  # most tickets: one pass
            return masked
        text = masked
    return text


def count_personal_data(text: str) -> Counter[str]:
    """How many items of each kind :func:`normalise` would mask in ``text`` (counts only)."""
    counts: Counter[str] = Counter()
    _mask(_prepare(text), counts=counts)
    return counts


_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_surrogates(text: str) -> str:
    """``text`` with every lone surrogate (a JSON ``"\\udfff"`` escape, a broken decoder),
    which is no character that UTF-8, OpenCC or a tokenizer can take, replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional to simplified Chinese (OpenCC ``t2s``, phrase-aware)."""
    if text.isascii():  # the dictionaries hold Chinese characters only
        return text
    try:
        return _t2s().convert(text)
    except UnicodeEncodeError:
        # A lone surrogate (a JSON "\udfff" escape, a broken decoder) is no character:
        # OpenCC cannot encode it, tokenizers choke on it. It becomes U+FFFD.
        return _t2s().convert(replace_surrogates(text))


def collapse_whitespace(text: str) -> str:
    """Drop control and invisible format characters (zero-width space, soft hyphen, ...),
    fold every run of white space into one space, and trim."""
    # Control characters go first: \x1c..\x1f are white space to str.split, and are dropped,
    # not turned into spaces. Tickets rarely have any: control and format characters are not
    # printable, and once its line breaks are out of the way a ticket usually is, which is
    # quicker to ask than a regex search.
    if not text.replace("\n", "").isprintable():
        text = _CONTROL.sub("", text)
    # str.split() and str.strip() treat as white space exactly what the regex \s does
    # (str.isspace), so this is re.sub(r"\s+", " ", text).strip(), only faster
    # (``make bench-normalise`` prints both).
    return " ".join(text.split())


def normalise(text: str) -> str:
    """The normal form every other part of the library sees.

    Markup and entities decoded, width folded, traditional characters converted to
    simplified (so 聯繫人 and 粵B are recognised like 联系人 and 粤B), white space collapsed
    and invisible characters dropped (so "138  1234 5678" with a tab or a zero-width space
    is still a phone number), then personal data masked.
    Idempotent: ``normalise(normalise(t)) == normalise(t)``.
    """
    return _mask(_prepare(text))


def simplify(text: str) -> str:
    """``text`` width folded and converted to simplified characters
    (``to_simplified(fold_width(text))``): the costly steps of :func:`normalise`, which a
    part that reads place names needs alone. Several parts reading one ticket call this once
    and hand it on (:func:`normalise_simplified`)."""
    return to_simplified(fold_width(text))


def normalise_simplified(text: str, simplified: str) -> str:
    """:func:`normalise` of ``text``, given ``simplified``, its :func:`simplify`: the width is
    not folded nor the characters converted again. Always equal to ``normalise(text)`` (a
    text with markup or entities is normalised from the start: they are decoded before
    anything else)."""
    if "<" in text or "&" in text:  # strip_markup leaves any other text as it is
        return normalise(text)
    return _mask(collapse_whitespace(simplified))


def _prepare(text: str) -> str:
    """What masking expects: markup decoded, width folded, simplified characters, white
    space collapsed."""
    return collapse_whitespace(to_simplified(fold_width(strip_markup(text))))


# --------------------------------------------------------------------------- alignment
# Explanations name the words of a ticket as its writer typed them (traditional characters,
# full-width letters), and the try-it page marks them where they stand: both need to know
# where each character of the normal form comes from. normalise_aligned runs the steps of
# normalise with the text and, beside it, each character's span in the original.


@dataclass(frozen=True, slots=True)
class AlignedText:
    """:func:`normalise`'s result (``text``) with, for each of its characters, the span of
    ``original`` it comes from: ``original[starts[i]:ends[i]]``.

    A character that replaced several (a placeholder, an HTML entity, the one space of a run
    of white space) spans all of them. ``exact`` is False when a step could not be followed
    character by character (NFKC composing an accent, OpenCC changing a text's length): then
    the spans are those of the whole original and :meth:`original_span` gives None.
    """

    text: str
    original: str
    starts: list[int]
    ends: list[int]
    exact: bool = True

    def original_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The span of ``original`` that ``text[start:end]`` (not empty) comes from; None
        when the alignment is not exact."""
        if not self.exact or not 0 <= start < end <= len(self.text):
            return None
        return self.starts[start], self.ends[end - 1]


def join_aligned(parts: Sequence[AlignedText], original: str) -> AlignedText:
    """Fields aligned one by one (``original`` is their originals joined by line breaks) as
    one text: their normal forms joined by line breaks, each character's span moved to where
    its field starts in ``original``. Exact when every part is."""
    text: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    offset = 0
    for index, part in enumerate(parts):
        if index:  # the line break between two fields stands for itself
            starts.append(offset - 1)
            ends.append(offset)
        text.append(part.text)
        starts.extend(start + offset for start in part.starts)
        ends.extend(end + offset for end in part.ends)
        offset += len(part.original) + 1
    return AlignedText(
        "\n".join(text), original, starts, ends, exact=all(part.exact for part in parts)
    )


# A piece of a replacement and the span of the step's input it stands for.
_Piece = tuple[str, int, int]


class _Tracked:
    """A text with the span of the original each of its characters comes from."""

    __slots__ = ("ends", "exact", "original", "starts", "text")

    def __init__(self, original: str) -> None:
        self.original = original
        self.text = original
        # Character i comes from character i until a step moves characters: most tickets
        # only have a few full-width commas folded, which moves none.
        self.starts: list[int] | None = None
        self.ends: list[int] | None = None
        self.exact = True

    def spans(self) -> tuple[list[int], list[int]]:
        if self.starts is None or self.ends is None:
            self.starts = list(range(len(self.text)))
            self.ends = list(range(1, len(self.text) + 1))
        return self.starts, self.ends

    def replace(self, text: str) -> None:
        """The step made ``text`` of the same length: characters map one to one."""
        self.text = text

    def coarse(self, text: str) -> None:
        """The step made ``text`` and cannot say from where: every character spans it all."""
        self.text, self.exact = text, False
        self.starts, self.ends = [0] * len(text), [len(self.original)] * len(text)

    def sub(
        self,
        regex: re.Pattern[str],
        replacement: Callable[[re.Match[str]], str | list[_Piece]],
    ) -> None:
        """``regex.sub`` of the text: a replacement given as a string spans its whole match;
        given as pieces, each piece spans its own part of the input."""
        text = self.text
        matches = list(regex.finditer(text))
        if not matches:
            return
        starts, ends = self.spans()
        out: list[str] = []
        new_starts: list[int] = []
        new_ends: list[int] = []
        last = 0
        for match in matches:
            replaced = replacement(match)
            if replaced == match.group():  # left as it was (an "&" that starts no entity)
                continue
            begin, end = match.span()
            out.append(text[last:begin])
            new_starts += starts[last:begin]
            new_ends += ends[last:begin]
            pieces = [(replaced, begin, end)] if isinstance(replaced, str) else replaced
            for piece, low, high in pieces:
                # A piece standing for nothing (an empty match) is placed where it stands.
                first = starts[low] if low < len(starts) else len(self.original)
                last_end = ends[high - 1] if high > low else first
                out.append(piece)
                new_starts += [first] * len(piece)
                new_ends += [last_end] * len(piece)
            last = end
        out.append(text[last:])
        self.text = "".join(out)
        self.starts = new_starts + starts[last:]
        self.ends = new_ends + ends[last:]

    def result(self) -> AlignedText:
        starts, ends = self.spans()
        return AlignedText(self.text, self.original, starts, ends, self.exact)


# html.unescape's own pattern: one entity each match, unescaped alone exactly as in context.
_ENTITY = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
_RUN = re.compile(r"\S+")


def _strip_markup_tracked(tracked: _Tracked) -> None:
    """:func:`strip_markup`, step by step."""
    for _ in range(3):
        if "&" not in tracked.text:
            break
        before = tracked.text
        tracked.sub(_ENTITY, lambda match: html.unescape(match.group()))
        if tracked.text == before:
            break
    if "<" in tracked.text:
        tracked.sub(_MARKUP, lambda match: " ")


def _fold_width_tracked(tracked: _Tracked) -> None:
    """:func:`fold_width`: most characters fold one to one; one that NFKC expands (㎡, …)
    spans its expansion; composition (an accent joining its letter) makes it coarse."""
    text = tracked.text
    if text.isascii():
        return
    folded = fold_width(text)
    if folded == text:
        return
    if len(folded) == len(text):
        # Compared as code points in numpy: a ticket has dozens of full-width commas.
        before = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        after = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        differ = before != after
        changed = set(zip(before[differ].tolist(), after[differ].tolist(), strict=True))
        if all(unicodedata.normalize("NFKC", chr(a)) == chr(b) for a, b in changed):
            tracked.replace(folded)
            return
    # The common characters that fold to one (full-width commas, colons, brackets: dozens in
    # a ticket) fold in place at C speed; the regex then meets only the few that expand
    # (……, ㎡), one match each, as it would have among the others.
    partly = text
    for char, one in _COMMON_ONE_TO_ONE:
        partly = partly.replace(char, one)
    if partly != text:
        tracked.replace(partly)
    tracked.sub(_compatibility_characters(), _nfkc)
    if tracked.text != folded:
        tracked.coarse(folded)


def _to_simplified_tracked(tracked: _Tracked) -> None:
    """:func:`to_simplified`: OpenCC converts character for character, or phrase for phrase
    of the same length, nearly always; otherwise the alignment is coarse."""
    converted = to_simplified(tracked.text)
    if len(converted) == len(tracked.text):
        tracked.replace(converted)
    else:
        tracked.coarse(converted)


def _collapse_whitespace_tracked(tracked: _Tracked) -> None:
    """:func:`collapse_whitespace`: the one space between two runs spans the white space
    it replaces."""
    if not tracked.text.replace("\n", "").isprintable():
        tracked.sub(_CONTROL, lambda match: "")
    text = tracked.text
    if " ".join(text.split()) == text:  # most tickets: one space at most, none at the ends
        return
    runs = [match.span() for match in _RUN.finditer(text)]
    spans_from, ends_from = tracked.spans()
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    previous = None
    for begin, end in runs:
        if previous is not None:
            out.append(" ")
            starts.append(spans_from[previous])
            ends.append(ends_from[begin - 1])
        out.append(text[begin:end])
        starts += spans_from[begin:end]
        ends += ends_from[begin:end]
        previous = end
    tracked.text, tracked.starts, tracked.ends = "".join(out), starts, ends


def _placeholder_pieces(match: re.Match[str]) -> list[_Piece]:
    """:func:`_placeholder`, with the part of the match each piece of it stands for: a
    name's keyword (联系人:) stays where it was typed, the placeholder spans the name."""
    replaced = _placeholder(match)
    group = match.lastgroup or ""
    if _KINDS[group] != "NAME":
        return [(replaced, match.start(), match.end())]
    typed = [i for i in range(match.start(), match.start(group)) if match.string[i] != " "]
    keyword = replaced[: -len("<NAME>")]
    if len(typed) != len(keyword):  # not expected: then the whole match spans it all
        return [(replaced, match.start(), match.end())]
    pieces = [(char, i, i + 1) for char, i in zip(keyword, typed, strict=True)]
    pieces.append(("<NAME>", match.start(group), match.end()))
    return pieces


def _mask_tracked(tracked: _Tracked) -> None:
    """:func:`_mask`, step by step (the same passes)."""
    for _ in range(_PASSES):
        before = tracked.text
        tracked.sub(_personal_data(before), _placeholder_pieces)
        if tracked.text == before or not _AFTER_AN_END.search(tracked.text):
            return


def normalise_aligned(text: str) -> AlignedText:
    """:func:`normalise` (``.text`` is always equal to it), with where each character of the
    result comes from in ``text`` (see :class:`AlignedText`).

    A word of the normal form can so be shown as it was typed, traditional characters and
    all; placeholders span the personal data they hide, so a word that is not a placeholder
    never spans any.
    """
    tracked = _Tracked(text)
    _strip_markup_tracked(tracked)
    if tracked.text != strip_markup(text):  # not expected: follow the library's own result
        tracked.coarse(strip_markup(text))
    _fold_width_tracked(tracked)
    _to_simplified_tracked(tracked)
    _collapse_whitespace_tracked(tracked)
    _mask_tracked(tracked)
    return tracked.result()
