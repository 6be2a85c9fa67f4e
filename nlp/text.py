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
_HONORIFICS = "先生|女士|小姐|阿姨|叔叔|大爷|大妈|师傅|老师"

# One alternation, one pass. Order matters where patterns overlap: an 18-digit ID number is
# also a run of digits that looks like a bank card, so IDCARD is tried first.
_PERSONAL_DATA = re.compile(
    # Every pattern starts with one of these characters: a cheap test rejects the other
    # positions before the alternation is tried.
    rf"(?=[0-9A-Za-z._%+(\-{_PROVINCES}联姓署举投反来留申我本])(?:"
    + "|".join(
        [
            r"(?P<EMAIL>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})",
            # 18-digit resident ID: 6-digit area, birth date, 3-digit sequence, check digit.
            r"(?P<IDCARD>(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}"
            r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9A-Za-z]))",
            # Mobile: optional +86, 1[3-9]x, then 8 digits in any grouping by space or dash.
            r"(?P<PHONE>(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]){8}(?![0-9])"
            # Landline: area code 0xx(x), in brackets or not, then a 7-8 digit number.
            r"|(?<![0-9])(?:\(0[0-9]{2,3}\)|0[0-9]{2,3})[ -]?[0-9]{3,4}[ -]?[0-9]{4}(?![0-9]))",
            # Bank card: 16 to 19 digits, possibly grouped by spaces or dashes.
            r"(?P<BANKCARD>(?<![0-9])[0-9](?:[ -]?[0-9]){15,18}(?![0-9]))",
            # Licence plate: province, letter, optional separator, 5 or 6 letters/digits.
            rf"(?P<PLATE>[{_PROVINCES}][A-HJ-NP-Za-hj-np-z][ ·.・-]?[A-HJ-NP-Za-hj-np-z0-9]{{4,5}}"
            r"[A-HJ-NP-Za-hj-np-z0-9挂学警](?![A-Za-z0-9]))",
            # A name after a signature keyword: 联系人：张三 / 投诉人:王先生.
            rf"(?P<SIGKEY>{_SIGNATURE_KEYS})[ ]?[:：][ ]?"
            rf"(?P<NAME>[\u4e00-\u9fff]{{1,3}}?(?:{_HONORIFICS})|[\u4e00-\u9fff]{{2,3}})"
            # ... or introduced by the writer: 我叫张三, / 本人李四。 (a name ends at punctuation)
            rf"|(?P<SELFKEY>我叫|本人叫|本人姓名|我的名字是)"
            rf"(?P<SELFNAME>[\u4e00-\u9fff]{{2,3}})(?=[,.;:!?，。；：！？、 ]|$)",
        ]
    )
    + ")"
)
# HTML tags that message boards and ticket exports leave in text. Only these are removed, so
# "a<b and c>d" and our own placeholders (<PHONE>) stay as they are.
_TAGS = "a|b|br|div|em|font|h[1-6]|hr|i|img|li|ol|p|section|span|strong|table|tbody|td|th|tr|u|ul"
_MARKUP = re.compile(rf"</?(?:{_TAGS})(?:\s[^<>=]{{0,100}}=[^<>]{{0,200}})?\s*/?>", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
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


# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space are most of what NFKC changes
# in Chinese text. The commonest are replaced with str.replace (C speed), the rest of the
# block by one regex pass, and NFKC proper runs only when something else (…, ①, ㎡) is left.
_COMMON_FULL_WIDTH = (
    *((char, chr(ord(char) - 0xFEE0)) for char in "，：？！（）；"),
    ("\u3000", " "),
)
_FULL_WIDTH = re.compile("[\uff01-\uff5e]")


def _half_width(match: re.Match[str]) -> str:
    return chr(ord(match.group()) - 0xFEE0)


def fold_width(text: str) -> str:
    """Unicode NFKC: full-width letters, digits and punctuation become their half-width forms.

    Always equal to ``unicodedata.normalize("NFKC", text)``, about five times faster on
    typical tickets.
    """
    for full, half in _COMMON_FULL_WIDTH:
        if full in text:
            text = text.replace(full, half)
    if _FULL_WIDTH.search(text):
        text = _FULL_WIDTH.sub(_half_width, text)
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def _placeholder(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "NAME":
        return f"{match.group('SIGKEY')}:<NAME>"
    if kind == "SELFNAME":
        return f"{match.group('SELFKEY')}<NAME>"
    return f"<{kind}>"


def mask_personal_data(text: str) -> str:
    """Replace phone and ID numbers, e-mails, bank cards, plates and signed names by placeholders.

    Expects width-folded, simplified text; :func:`normalise` prepares it in that order.
    """
    return _PERSONAL_DATA.sub(_placeholder, text)


def count_personal_data(text: str) -> Counter[str]:
    """How many items of each kind :func:`normalise` would mask in ``text`` (counts only)."""
    return Counter(
        "NAME" if match.lastgroup == "SELFNAME" else match.lastgroup or ""
        for match in _PERSONAL_DATA.finditer(_prepare(text))
    )


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional to simplified Chinese (OpenCC ``t2s``, phrase-aware)."""
    return _t2s().convert(text)


def collapse_whitespace(text: str) -> str:
    """Drop control characters, fold every run of white space into one space, and trim."""
    return _WHITESPACE.sub(" ", _CONTROL.sub("", text)).strip()


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
