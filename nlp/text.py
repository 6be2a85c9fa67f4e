"""Text normalisation and masking of personal data: one pure function per concern.

:func:`normalise` is the front door. It masks personal data as soon as the text has been
decoded (HTML entities), width-folded (NFKC, so that full-width digits are digits) and
converted to simplified characters (so traditional keywords are recognised): pure string
functions that keep nothing. Segmentation, features, logs and exports see masked text only.
Placeholders are typed (``<PHONE>``, ``<IDCARD>``, ...) so the model can still use "a phone
number was here" as a feature.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from functools import cache

import opencc

__all__ = [
    "PLACEHOLDERS",
    "collapse_whitespace",
    "count_personal_data",
    "fold_width",
    "mask_personal_data",
    "normalise",
    "strip_markup",
    "to_simplified",
]

#: The typed placeholders that :func:`mask_personal_data` writes, one per kind of data.
PLACEHOLDERS = ("<PHONE>", "<IDCARD>", "<EMAIL>", "<BANKCARD>", "<PLATE>", "<NAME>")

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_SIGNATURE_KEYS = "联系人|姓名|署名|举报人|投诉人|反映人|来电人|留言人|申请人"
_SELF_KEYS = "我叫|本人叫|本人姓名|我的名字是"
_HONORIFICS = "先生|女士|小姐|阿姨|叔叔|大爷|大妈|师傅|老师"


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
# a full match attempt at every position: 4 us per ticket to find the candidates, not 1.7.
_EMAIL = (
    r"(?<=[A-Za-z0-9._%+-])(?P<EMAIL>[A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.[A-Za-z]{2,})"
)
_NUMBERS = (
    # A number starts with a digit, "+" or "(" that no digit precedes, and spans at least ten
    # characters of digits, brackets, spaces and dashes: the look-ahead rejects the short
    # numbers (dates, amounts) before the patterns are tried. It rejects no match: the
    # shortest, a landline such as 0101234567, has nine such characters after its first.
    r"(?<=[0-9+(])(?<![0-9].)(?=[0-9 ()-]{9})(?:"
    # 18-digit resident ID: 6-digit area, birth date, 3-digit sequence, check digit.
    r"(?<=[1-9])(?P<IDCARD>[0-9]{5}(?:18|19|20)[0-9]{2}"
    r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9A-Za-z]))"
    # Mobile: optional +86, 1[3-9]x, then 8 digits in any grouping by space or dash.
    r"|(?P<PHONE>(?:(?<=\+)86[ -]?1|(?<=8)6[ -]?1|(?<=1))[3-9][0-9](?:[ -]?[0-9]){8}(?![0-9])"
    # Landline: area code 0xx(x), in brackets or not, then a 7-8 digit number.
    r"|(?:(?<=\()0[0-9]{2,3}\)|(?<=0)[0-9]{2,3})[ -]?[0-9]{3,4}[ -]?[0-9]{4}(?![0-9]))"
    # Bank card: 16 to 19 digits, possibly grouped by spaces or dashes.
    r"|(?<=[0-9])(?P<BANKCARD>(?:[ -]?[0-9]){15,18}(?![0-9]))"
    r")"
)
# Licence plate: province, letter, optional separator, 5 or 6 letters/digits.
_PLATE = (
    rf"(?<=[{_PROVINCES}])(?P<PLATE>[A-HJ-NP-Za-hj-np-z][ ·.・-]?[A-HJ-NP-Za-hj-np-z0-9]{{4,5}}"
    r"[A-HJ-NP-Za-hj-np-z0-9挂学警](?![A-Za-z0-9]))"
)
# A name after a signature keyword: 联系人：张三 / 投诉人:王先生. The SIGKEY and SELFKEY groups
# hold the keyword without its first character: see _keyword.
_SIGNED_NAME = (
    rf"(?P<SIGKEY>{_after_first(_SIGNATURE_KEYS)})[ ]?[:：][ ]?"
    rf"(?P<NAME>[\u4e00-\u9fff]{{1,3}}?(?:{_HONORIFICS})|[\u4e00-\u9fff]{{2,3}})"
)
# ... or introduced by the writer: 我叫张三, / 本人李四。 (a name ends at punctuation)
_SELF_NAME = (
    rf"(?P<SELFKEY>{_after_first(_SELF_KEYS)})"
    rf"(?P<SELFNAME>[\u4e00-\u9fff]{{2,3}})(?=[,.;:!?，。；：！？、 ]|$)"
)


def _personal_data_regex(*, email: bool) -> re.Pattern[str]:
    """All patterns in one alternation, in this order; the e-mail pattern only if ``email``."""
    # The patterns that start with a Chinese character share one look-behind, so that digits
    # (most candidates) are not tried against each of them.
    chinese = _PROVINCES + _first_characters(_SIGNATURE_KEYS) + _first_characters(_SELF_KEYS)
    first = "0-9+(" + chinese
    patterns = [_NUMBERS, f"(?<=[{chinese}])(?:{_PLATE}|{_SIGNED_NAME}|{_SELF_NAME})"]
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
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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


@cache
def _compatibility_characters() -> re.Pattern[str]:
    """Every character of the Basic Multilingual Plane that NFKC changes on its own.

    The others (mathematical letters, 𝐀) are left to NFKC proper: with characters beyond
    U+FFFF in it, the class is checked one range at a time and the search is 300 times slower.
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

    Always equal to ``unicodedata.normalize("NFKC", text)``, about fifteen times faster on
    typical tickets.
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


def _keyword(match: re.Match[str], group: str) -> str:
    """The keyword before a name: the regex consumed its first character before ``group``."""
    return match.string[match.start() : match.end(group)]


def _placeholder(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "NAME":
        return f"{_keyword(match, 'SIGKEY')}:<NAME>"
    if kind == "SELFNAME":
        return f"{_keyword(match, 'SELFKEY')}<NAME>"
    return f"<{kind}>"


def mask_personal_data(text: str) -> str:
    """Replace phone and ID numbers, e-mails, bank cards, plates and signed names by placeholders.

    Expects width-folded, simplified text; :func:`normalise` prepares it in that order.
    """
    return _personal_data(text).sub(_placeholder, text)


def count_personal_data(text: str) -> Counter[str]:
    """How many items of each kind :func:`normalise` would mask in ``text`` (counts only)."""
    prepared = _prepare(text)
    return Counter(
        "NAME" if match.lastgroup == "SELFNAME" else match.lastgroup or ""
        for match in _personal_data(prepared).finditer(prepared)
    )


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional to simplified Chinese (OpenCC ``t2s``, phrase-aware)."""
    if text.isascii():  # the dictionaries hold Chinese characters only
        return text
    return _t2s().convert(text)


def collapse_whitespace(text: str) -> str:
    """Drop control characters, fold every run of white space into one space, and trim."""
    # Control characters go first: \x1c..\x1f are white space to str.split, and are dropped,
    # not turned into spaces. Tickets rarely have any: control characters are not printable,
    # and once its line breaks are out of the way a ticket usually is, which is quicker to ask
    # than a regex search.
    if not text.replace("\n", "").isprintable():
        text = _CONTROL.sub("", text)
    # str.split() and str.strip() treat as white space exactly what the regex \s does
    # (str.isspace), so this is re.sub(r"\s+", " ", text).strip(), four times faster.
    return " ".join(text.split())


def normalise(text: str) -> str:
    """The normal form every other part of the library sees.

    Markup and entities decoded, width folded, traditional characters converted to
    simplified (so 聯繫人 and 粵B are recognised like 联系人 and 粤B), personal data masked,
    white space collapsed. Idempotent: ``normalise(normalise(t)) == normalise(t)``.
    """
    return collapse_whitespace(mask_personal_data(_prepare(text)))


def _prepare(text: str) -> str:
    """What masking expects: markup decoded, width folded, simplified characters."""
    return to_simplified(fold_width(strip_markup(text)))
