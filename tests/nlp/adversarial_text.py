"""Hostile input for nlp.text: long runs of what each pattern looks for, none of it a match.

A backtracking regex is slow when a match attempt that starts at one position reads far
ahead before it fails, and then the same is done from the next position: n attempts of n
steps. Each input here repeats a piece that starts such attempts (a character class a pattern
uses, a keyword, a prefix, a separator) as often as the length allows. The tests
(tests/nlp/test_text.py) hold normalise() to linear time on all of them; bench/normalise.py
prints the time of each at 20,000 characters.
"""

from __future__ import annotations

from collections.abc import Callable


def _repeat(piece: str, *, head: str = "", tail: str = "") -> Callable[[int], str]:
    """``head``, then ``piece`` repeated, then ``tail``: ``n`` characters in all."""

    def build(n: int) -> str:
        body = n - len(head) - len(tail)
        return head + (piece * (body // len(piece) + 1))[:body] + tail

    return build


#: name -> a function that builds the input at a given length (in characters).
ADVERSARIAL: dict[str, Callable[[int], str]] = {
    # E-mail: local-part characters, "@", domain labels.
    "email: letters then @": _repeat("a", tail="@"),
    "email: digits then @": _repeat("1", tail="@"),
    "email: dotted letters then @": _repeat("a.", tail="@"),
    "email: dashes and signs then @": _repeat("-+%_", tail="@"),
    "email: @ then letters": _repeat("a", head="x@"),
    "email: @ then dotted labels": _repeat("a.", head="x@"),
    "email: @ then dashed labels": _repeat("a-", head="x@"),
    "email: a@ repeated": _repeat("a@"),
    "email: a.b@c. repeated": _repeat("a.b@c."),
    "email: @ repeated": _repeat("@"),
    "email: full-width letters then @": _repeat("ａ", tail="＠"),
    # Numbers: digits, separators, brackets, +86 / 0086.
    "numbers: digits": _repeat("1"),
    "numbers: digits and spaces": _repeat("1 "),
    "numbers: digits and dashes": _repeat("1-"),
    "numbers: digits and dots": _repeat("1."),
    "numbers: digits and two spaces": _repeat("1  "),
    "numbers: digits and tabs": _repeat("1\t"),
    "numbers: digits and zero-width spaces": _repeat("1\u200b"),
    "numbers: 10-digit near misses": _repeat("1381234567 "),
    "numbers: 17-digit ID near misses": _repeat("11010519491231002 "),
    "numbers: 15-digit card near misses": _repeat("6222 0212 3456 789 "),
    "numbers: brackets": _repeat("("),
    "numbers: area codes in brackets": _repeat("(010)"),
    "numbers: zeros": _repeat("0"),
    "numbers: +86": _repeat("+86 "),
    "numbers: 0086": _repeat("0086-"),
    "numbers: full-width digits": _repeat("１"),
    "numbers: dates": _repeat("2020-01-06 "),
    # Chinese numerals.
    "numerals: 一": _repeat("一"),
    "numerals: 一三": _repeat("一三"),
    "numerals: 幺": _repeat("幺"),
    "numerals: 零 and 〇": _repeat("零〇"),
    "numerals: 10-numeral near misses": _repeat("一三八一二三四五六七,"),
    "numerals: 零零八六": _repeat("零零八六"),
    "numerals: spaced": _repeat("一 "),
    # Plates: province characters and what follows them.
    "plates: provinces": _repeat("京"),
    "plates: province and letter": _repeat("京A"),
    "plates: province, space, letter": _repeat("京 A"),
    "plates: province, letter, dot": _repeat("粤B·"),
    "plates: near misses": _repeat("京A123,"),
    "plates: traditional provinces": _repeat("粵"),
    # Names: keywords, colons, honorifics, surnames.
    "names: 联系人": _repeat("联系人"),
    "names: 联系人:": _repeat("联系人:"),
    "names: 联系人是": _repeat("联系人是"),
    "names: 联系人 and a surname": _repeat("联系人张"),
    "names: 联系人 and honorifics": _repeat("联系人:先生"),
    "names: 我叫": _repeat("我叫"),
    "names: 我叫 and a surname": _repeat("我叫张"),
    "names: 本人姓名": _repeat("本人姓名"),
    "names: traditional 聯繫人": _repeat("聯繫人："),
    "names: keyword then Chinese text": _repeat("张", head="联系人:"),
    # Markup, entities, white space, control and invisible characters.
    "markup: <": _repeat("<"),
    "markup: <br and spaces": _repeat(" ", head="<br"),
    "markup: <b a= repeated": _repeat("<b a="),
    "markup: attribute without end": _repeat("a", head="<div class="),
    "markup: &": _repeat("&"),
    "markup: &# repeated": _repeat("&#"),
    "markup: &amp; repeated": _repeat("&amp;"),
    "markup: entity-escaped digits": _repeat("&#49;"),
    "white space: spaces": _repeat(" "),
    "white space: mixed": _repeat(" \t\n\u3000"),
    "white space: zero-width": _repeat("\u200b"),
    "white space: control characters": _repeat("\x07"),
    # Ordinary text, long: traditional characters (OpenCC), a ticket repeated.
    "text: traditional": _repeat("後來發現這個問題"),
    "text: a ticket": _repeat(
        "小区楼下的烧烤摊天天占道经营，油烟太大了，联系电话13812345678，希望城管来处理。"
    ),
}
