"""The jieba wall: word segmentation behind one small class.

A :class:`Segmenter` owns its own tokenizer instance (``jieba.Tokenizer`` or
``rjieba.Jieba``) and loads the domain user dictionary into that instance only. The
module-level ``jieba.cut`` / ``jieba.load_userdict`` are never called: they mutate one
global tokenizer for the whole process.

Placeholders (``<PHONE>``) are kept whole; white space and punctuation are dropped. Every
input costs linear time: jieba's HMM is super-linear on long runs of unknown characters, so
the jieba backend sees the text in pieces that end at white space or punctuation and are at
most ``max_piece`` characters long. rjieba (jieba-rs) is linear on any input (a test pins
it), so it cuts the whole text in one call, with each placeholder swapped for a
private-use character that it keeps as one token. For a chunk of documents,
:meth:`Segmenter.cut_chunk` makes one call for all of them; the feature extraction drops
punctuation and restores placeholders in compiled code (:func:`nlp.kernels.chunk_token_hashes`)
by the same rules as :meth:`Segmenter.cut`, which a test pins.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BUILTIN",
    "DEFAULT_USER_DICT",
    "DOCUMENT_END",
    "DROPPED_ALONE",
    "FIRST_PRIVATE_USE",
    "PLACEHOLDERS_BY_CHAR",
    "WHITE_SPACE",
    "Backend",
    "Segmenter",
    "char_classes",
    "read_user_dict",
    "resolve_user_dict",
]

logger = logging.getLogger(__name__)

Backend = Literal["rjieba", "jieba"]

#: The domain dictionary shipped with the library (city-service and governance vocabulary).
DEFAULT_USER_DICT = Path(str(resources.files("nlp") / "resources" / "userdict.txt"))
#: The name that stands for :data:`DEFAULT_USER_DICT` in estimator parameters.
BUILTIN = "builtin"

_PUNCT = r"\s,.!?;:'\"()\[\]{}，。！？、；：“”‘’（）《》〈〉【】「」『』…—～~·/\\|@#$%^&*+=_`"
_PIECES = re.compile(rf"<[A-Z]+>|[^{_PUNCT}<>]+|[<>]")
_PLACEHOLDER = re.compile(r"<[A-Z]+>")
# Placeholders as single private-use characters (U+E000...), and back.
_KINDS = ("PHONE", "IDCARD", "EMAIL", "BANKCARD", "PLATE", "NAME")
FIRST_PRIVATE_USE = 0xE000
_TO_PRIVATE = {f"<{kind}>": chr(FIRST_PRIVATE_USE + i) for i, kind in enumerate(_KINDS)}
_FROM_PRIVATE = {char: placeholder for placeholder, char in _TO_PRIVATE.items()}
_PRIVATE = re.compile("|".join(map(re.escape, _TO_PRIVATE)))
_DROP = frozenset(re.sub(r"\\(.)", r"\1", _PUNCT.replace(r"\s", "")) + " \t\n\r\u3000<>")
#: Placeholder ``i`` is cut as the private-use character ``chr(FIRST_PRIVATE_USE + i)``.
PLACEHOLDERS_BY_CHAR = tuple(_TO_PRIVATE)
_PRIVATE_CHARS = re.compile(f"[{''.join(_FROM_PRIVATE)}]")
#: Separates documents in :meth:`Segmenter.cut_chunk`: white space, so always a token of its own.
DOCUMENT_END = "\n"
#: Bits of :func:`char_classes`.
DROPPED_ALONE, WHITE_SPACE = 1, 2


@cache
def char_classes() -> NDArray[np.uint8]:
    """For each code point below U+10000: :data:`DROPPED_ALONE` when a token of just that
    character is dropped (punctuation, white space), :data:`WHITE_SPACE` when it is white
    space (a token of white space only is dropped too). Nothing above U+FFFF is either."""
    classes = np.zeros(0x10000, dtype=np.uint8)
    for char in _DROP:
        classes[ord(char)] |= DROPPED_ALONE
    for code in range(0x10000):
        if chr(code).isspace():
            classes[code] |= WHITE_SPACE
    classes.flags.writeable = False
    return classes


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
            raise ValueError(
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
    ) -> None:
        if backend not in ("rjieba", "jieba"):
            raise ValueError(f"unknown segmenter backend {backend!r}; use 'rjieba' or 'jieba'")
        if max_piece < 8:
            raise ValueError("max_piece must be at least 8 characters")
        self.backend = backend
        self.user_dict = resolve_user_dict(user_dict)
        self.max_piece = max_piece
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

    def pieces(self, text: str) -> Iterable[str]:
        """Split ``text`` into the bounded pieces the tokenizer is allowed to see."""
        limit = self.max_piece
        for piece in _PIECES.findall(text):
            if len(piece) <= limit:
                yield piece
            else:
                yield from (piece[i : i + limit] for i in range(0, len(piece), limit))

    def cut(self, text: str) -> list[str]:
        """Words of ``text``; placeholders stay whole, white space and punctuation are dropped."""
        if self.backend == "rjieba":
            drop = _DROP
            if "<" not in text:
                return [t for t in self._cut(text) if t not in drop and not t.isspace()]
            text = _PRIVATE.sub(lambda m: _TO_PRIVATE[m.group()], text)
            restore = _FROM_PRIVATE
            return [restore.get(t, t) for t in self._cut(text) if t not in drop and not t.isspace()]
        tokens: list[str] = []
        cut = self._cut
        for piece in self.pieces(text):
            if piece[0] == "<" and _PLACEHOLDER.fullmatch(piece):
                tokens.append(piece)
            elif piece not in "<>":
                tokens.extend(t for t in cut(piece) if not t.isspace())
        return tokens

    def cut_chunk(self, docs: Sequence[str]) -> list[str] | None:
        """The raw tokens of all ``docs`` from one tokenizer call (rjieba only).

        Each document ends with a :data:`DOCUMENT_END` token; placeholders are their
        private-use characters; punctuation and white space are still there. Faster than a
        call per document. None when a chunk cannot be cut this way: the
        jieba backend, or a document that contains a line break or a private-use
        placeholder character itself (normalised text never does); cut those one by one.
        """
        if self.backend != "rjieba" or not docs:
            return None
        joined = DOCUMENT_END.join(docs) + DOCUMENT_END
        if joined.count(DOCUMENT_END) != len(docs) or _PRIVATE_CHARS.search(joined):
            return None
        if "<" in joined:
            joined = _PRIVATE.sub(lambda m: _TO_PRIVATE[m.group()], joined)
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
