"""The jieba wall: word segmentation behind one small class.

A :class:`Segmenter` owns its own tokenizer instance (``jieba.Tokenizer`` or
``rjieba.Jieba``) and loads the domain user dictionary into that instance only. The
module-level ``jieba.cut`` / ``jieba.load_userdict`` are never called: they mutate one
global tokenizer for the whole process.

What is kept of the tokenizer's tokens is defined once, by a :class:`TokenRule`:
placeholders (``<PHONE>``) whole, no white space, no punctuation. :meth:`Segmenter.cut`
filters by it with both backends; for a chunk of documents cut in one call
(:meth:`Segmenter.cut_chunk`), the feature extraction drops tokens in compiled code
(:func:`nlp.kernels.chunk_token_hashes`) reading the same rule as tables.

Every input costs linear time: jieba's HMM is super-linear on long runs of unknown
characters, so the jieba backend sees the text in pieces that end where the rule drops a
character and are at most ``max_piece`` characters long. rjieba (jieba-rs) is linear on any
input (a test pins it), so it cuts the whole text in one call, with each placeholder swapped
for a private-use character that it keeps as one token.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from itertools import compress
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from nlp.errors import DataError
from nlp.text import PLACEHOLDERS

__all__ = [
    "BUILTIN",
    "DEFAULT_USER_DICT",
    "Backend",
    "Segmenter",
    "TokenRule",
    "read_user_dict",
    "resolve_user_dict",
]

logger = logging.getLogger(__name__)

Backend = Literal["rjieba", "jieba"]

#: The domain dictionary shipped with the library (city-service and governance vocabulary).
DEFAULT_USER_DICT = Path(str(resources.files("nlp") / "resources" / "userdict.txt"))
#: The name that stands for :data:`DEFAULT_USER_DICT` in estimator parameters.
BUILTIN = "builtin"

# Dropped when it stands alone as a token; ``<`` and ``>`` are what is left of a broken
# placeholder.
_PUNCTUATION = frozenset(
    ",.!?;:'\"()[]{}，。！？、；：“”‘’（）《》〈〉【】「」『』…—～~·/\\|@#$%^&*+=_`<>"
)
_TABLE_SIZE = 0x10000  # code points the tables cover: punctuation and all white space


@dataclass(frozen=True, eq=False)
class TokenRule:
    """What is kept of a tokenizer's tokens: the one definition, read by :meth:`Segmenter.cut`
    (:meth:`keep`) and by compiled code (its tables: :func:`nlp.kernels.chunk_token_hashes`).

    A token is dropped when it is one character of ``punctuation``, or when it is white space
    only (``str.isspace``). Placeholder ``placeholders[i]`` is cut as the private-use
    character ``chr(first_private_use + i)``, which is kept and then stands for it.
    """

    punctuation: frozenset[str] = _PUNCTUATION
    placeholders: tuple[str, ...] = PLACEHOLDERS
    first_private_use: int = field(default=0xE000, init=False)
    #: Separates documents in :meth:`Segmenter.cut_chunk`: white space, so a token of its own.
    document_end: str = field(default="\n", init=False)

    def __post_init__(self) -> None:
        # A string of punctuation would test tokens as substrings: make it a set of characters.
        object.__setattr__(self, "punctuation", frozenset(self.punctuation))
        object.__setattr__(self, "placeholders", tuple(self.placeholders))
        for char in self.punctuation:
            if len(char) != 1 or not 0 < ord(char) < _TABLE_SIZE:
                raise DataError(
                    f"punctuation must be single characters from U+0001 to U+FFFF, got {char!r}"
                )
        if len(self.placeholders) > 0x1900 or not all(self.placeholders):
            raise DataError("placeholders must be at most 6,400 non-empty strings")

    def keep(self, tokens: Iterable[str], *, swapped: bool = False) -> list[str]:
        """The tokens the rule keeps, in order. ``swapped``: the tokens hold placeholders as
        their private-use characters; give the placeholders back."""
        punctuation = self.punctuation
        if not swapped:
            return [t for t in tokens if t not in punctuation and not t.isspace()]
        back = self._placeholders_by_char
        return [back.get(t, t) for t in tokens if t not in punctuation and not t.isspace()]

    @cached_property
    def dropped_alone(self) -> NDArray[np.bool_]:
        """``punctuation`` as a table by code point, for compiled code."""
        table = np.zeros(_TABLE_SIZE, dtype=np.bool_)
        table[[ord(char) for char in self.punctuation]] = True
        table.flags.writeable = False
        return table

    @property
    def white_space(self) -> NDArray[np.bool_]:
        """``str.isspace`` as a table by code point, for compiled code (Unicode has no white
        space above U+FFFF; a test checks)."""
        return _white_space()

    @cached_property
    def separators(self) -> str:
        """The characters that are dropped when they stand alone: punctuation, white space."""
        codes = np.flatnonzero(self.dropped_alone | self.white_space)
        return "".join(map(chr, codes.tolist()))

    @property
    def private_chars(self) -> dict[str, str]:
        """Placeholder -> the private-use character it is cut as."""
        first = self.first_private_use
        return {placeholder: chr(first + i) for i, placeholder in enumerate(self.placeholders)}

    @cached_property
    def _placeholders_by_char(self) -> dict[str, str]:
        return {char: placeholder for placeholder, char in self.private_chars.items()}


@cache
def _white_space() -> NDArray[np.bool_]:
    table = np.fromiter(
        (chr(code).isspace() for code in range(_TABLE_SIZE)), dtype=np.bool_, count=_TABLE_SIZE
    )
    table.flags.writeable = False
    return table


_DEFAULT_RULE = TokenRule()  # shared, so its tables are built once per process


def resolve_user_dict(user_dict: str | Path | None) -> Path | None:
    """``"builtin"`` -> the shipped dictionary; a path -> that path; None -> no dictionary."""
    if user_dict is None:
        return None
    if isinstance(user_dict, str) and user_dict == BUILTIN:
        return DEFAULT_USER_DICT
    return Path(user_dict)


def read_user_dict(path: Path) -> list[tuple[str, int, str | None]]:
    """Parse a jieba user dictionary: ``word [freq] [tag]`` per line."""
    entries: list[tuple[str, int, str | None]] = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) > 3 or (len(parts) > 1 and not parts[1].isdigit()):
            raise DataError(
                f"{path}:{line_no}: expected 'word [freq] [tag]', got {line!r}; "
                "words may not contain spaces"
            )
        freq = int(parts[1]) if len(parts) > 1 else 1000
        entries.append((parts[0], freq, parts[2] if len(parts) > 2 else None))
    return entries


class Segmenter:
    """Cut Chinese text into words with a private tokenizer and a domain dictionary.

    Not picklable by design: estimators that hold one create it lazily in each process.
    """

    def __init__(
        self,
        *,
        backend: Backend = "rjieba",
        user_dict: str | Path | None = BUILTIN,
        max_piece: int = 64,
        cache_dir: Path | None = None,
        rule: TokenRule | None = None,
    ) -> None:
        if backend not in ("rjieba", "jieba"):
            raise DataError(f"unknown segmenter backend {backend!r}; use 'rjieba' or 'jieba'")
        if max_piece < 8:
            raise DataError("max_piece must be at least 8 characters")
        self.backend = backend
        self.user_dict = resolve_user_dict(user_dict)
        self.max_piece = max_piece
        #: What :meth:`cut` keeps, and what compiled code keeps of :meth:`cut_chunk`'s tokens.
        self.rule = _DEFAULT_RULE if rule is None else rule
        self._to_private = self.rule.private_chars
        never = "(?!)"  # a pattern that matches nothing, for a rule without placeholders
        self._placeholders = re.compile("|".join(map(re.escape, self._to_private)) or never)
        chars = "".join(self._to_private.values())
        self._private_chars = re.compile(f"[{chars}]" if chars else never)
        separators = "".join(map(re.escape, self.rule.separators))
        # Placeholders, runs the tokenizer cuts, and single characters the rule drops.
        self._pieces = re.compile(rf"({self._placeholders.pattern})|([^{separators}]+)|(.)", re.S)
        self._cut = self._build(cache_dir)

    def _build(self, cache_dir: Path | None) -> Any:
        entries = read_user_dict(self.user_dict) if self.user_dict else []
        if self.backend == "rjieba":
            import rjieba

            tokenizer = rjieba.Jieba()
            for word, freq, tag in entries:
                tokenizer.add_word(word, freq, tag)
            return tokenizer.cut

        import jieba

        tokenizer = jieba.Tokenizer()
        # jieba caches its parsed main dictionary; keep it in a known, private place.
        cache = cache_dir or Path.home() / ".cache" / "appeal-router"
        cache.mkdir(parents=True, exist_ok=True)
        tokenizer.tmp_dir = str(cache)
        _quiet_jieba()
        tokenizer.initialize()
        for word, freq, tag in entries:
            tokenizer.add_word(word, freq, tag)
        lock = threading.Lock()  # jieba.Tokenizer is not safe to share between threads

        def cut(text: str) -> list[str]:
            with lock:
                return list(tokenizer.cut(text))

        return cut

    def pieces(self, text: str) -> Iterable[tuple[str, bool]]:
        """Split ``text`` into pieces, each with whether the tokenizer is to cut it (at most
        ``max_piece`` characters, none of which the rule drops alone) or it is a token of
        its own (a placeholder, or a character the rule drops alone)."""
        limit = self.max_piece
        for placeholder, run, alone in self._pieces.findall(text):
            if not run:
                yield placeholder or alone, False
            elif len(run) <= limit:
                yield run, True
            else:
                yield from ((run[i : i + limit], True) for i in range(0, len(run), limit))

    def cut(self, text: str) -> list[str]:
        """Words of ``text``; placeholders stay whole, white space and punctuation are dropped
        (:attr:`rule`)."""
        if self.backend == "rjieba":
            if "<" not in text:
                return self.rule.keep(self._cut(text))
            to_private = self._to_private
            text = self._placeholders.sub(lambda m: to_private[m.group()], text)
            return self.rule.keep(self._cut(text), swapped=True)
        tokens: list[str] = []
        cut = self._cut
        for piece, cut_it in self.pieces(text):
            if cut_it:
                tokens.extend(cut(piece))
            else:
                tokens.append(piece)
        return self.rule.keep(tokens)

    def cut_raw(self, text: str) -> list[str] | None:
        """The tokenizer's own tokens of ``text``, punctuation and white space included, when
        nothing needs swapping first (rjieba, no ``<`` of a placeholder in it); else None (use
        :meth:`cut`). For callers that filter the tokens harder than :attr:`rule` anyway."""
        if self.backend != "rjieba" or "<" in text:
            return None
        tokens: list[str] = self._cut(text)
        return tokens

    def cut_spans(self, text: str) -> tuple[list[str], NDArray[np.int64], NDArray[np.int64]]:
        """:meth:`cut`, and where each word starts and ends in ``text`` (explanations mark
        words where they stand); -1 for a word not found in it (not expected)."""
        if self.backend == "rjieba":
            swapped = "<" in text
            if swapped:
                to_private = self._to_private
                cut = self._cut(self._placeholders.sub(lambda m: to_private[m.group()], text))
                back = self.rule._placeholders_by_char
                lengths = np.fromiter((len(back.get(t, t)) for t in cut), np.int64, len(cut))
            else:
                cut = self._cut(text)
                lengths = np.fromiter(map(len, cut), np.int64, len(cut))
            ends = np.cumsum(lengths)
            if ends.size and ends[-1] == len(text):  # the tokenizer's tokens tile the text
                # What rule.keep drops, as arrays (C-level maps: a ticket has ~200 tokens).
                n = len(cut)
                dropped = np.fromiter(map(self.rule.punctuation.__contains__, cut), bool, n)
                dropped |= np.fromiter(map(str.isspace, cut), bool, n)
                kept = ~dropped
                words = list(compress(cut, kept.tolist()))
                if swapped:
                    words = [back.get(word, word) for word in words]
                return words, (ends - lengths)[kept], ends[kept]
        words = self.cut(text)
        starts = np.full(len(words), -1, dtype=np.int64)
        stops = np.full(len(words), -1, dtype=np.int64)
        cursor = 0
        for i, word in enumerate(words):
            at = text.find(word, cursor)
            if at >= 0:
                cursor = at + len(word)
                starts[i], stops[i] = at, cursor
        return words, starts, stops

    def cut_chunk(self, docs: Sequence[str]) -> list[str] | None:
        """The raw tokens of all ``docs`` from one tokenizer call (rjieba only).

        Each document ends with a ``rule.document_end`` token; placeholders are their
        private-use characters; punctuation and white space are still there, for compiled
        code to drop by :attr:`rule`. Faster than a call per document. None when a chunk
        cannot be cut this way: the jieba backend, or a document that contains a line break
        or a private-use placeholder character itself (normalised text never does); cut
        those one by one.
        """
        if self.backend != "rjieba" or not docs:
            return None
        end = self.rule.document_end
        joined = end.join(docs) + end
        if joined.count(end) != len(docs) or self._private_chars.search(joined):
            return None
        if "<" in joined:
            to_private = self._to_private
            joined = self._placeholders.sub(lambda m: to_private[m.group()], joined)
        tokens: list[str] = self._cut(joined)
        return tokens

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            "a Segmenter holds a native tokenizer and cannot be pickled; "
            "store its settings and build a new one in each process"
        )


def _quiet_jieba() -> None:
    """jieba installs its own stream handler on import; route its records through ours."""
    import jieba

    jieba_logger = logging.getLogger("jieba")
    jieba_logger.handlers.clear()
    jieba_logger.propagate = True
    jieba_logger.setLevel(logging.WARNING)
    jieba.setLogLevel(logging.WARNING)
