"""Explanations in words: what each word of a ticket did for the department it was routed to.

The model is one linear function of word n-grams and character n-grams, so a label's score
(its logit, less the bias) is a sum of one contribution per feature (its TF-IDF value times
its weight for the label). :func:`word_contributions` hands each contribution to the words of
the ticket that the feature covers: a word to itself, a word pair half to each of its words,
a character n-gram to the words it overlaps, in proportion to the characters it shares with
each; what it computes adds up to the logits, so an explained ticket is scored from it
(:meth:`nlp.model.RoutingModel.rank`). It reads the vectoriser's fitted blocks (vocabularies,
IDF, n-gram ranges) and counts as :mod:`nlp.features` does; a test pins the totals to the
pipeline's matrix times the weights, for both sources of character n-grams. The words a
dispatcher is shown (:func:`is_content_word`) leave out what carries no content however much
the model leaned on it: the function words and set phrases of :data:`STOP_WORDS_FILE`,
placeholders of personal data (``<PHONE>``), single characters, and numbers or punctuation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from itertools import compress
from pathlib import Path

import numpy as np
from numba import njit
from numpy.typing import NDArray

from nlp import kernels
from nlp.errors import ModelIntegrityError
from nlp.features import DocumentVectorizer, token_hashes
from nlp.segment import Segmenter
from nlp.text import PLACEHOLDERS

__all__ = [
    "STOP_WORDS_FILE",
    "WordContributions",
    "is_content_word",
    "join_contributions",
    "stop_words",
    "word_contributions",
    "word_totals",
]

#: The curated list of words an explanation never names (one file shipped with the library).
STOP_WORDS_FILE = Path(str(resources.files("nlp") / "resources" / "stopwords.txt"))


@cache
def stop_words() -> frozenset[str]:
    """The words of :data:`STOP_WORDS_FILE` (function words, forms of address, the set
    phrases of a hotline ticket: 了, 的, 一下, 请, 尽快, 您好, 谢谢, 我们, ...)."""
    words: set[str] = set()
    for line in STOP_WORDS_FILE.read_text(encoding="utf-8").splitlines():
        words.update(line.split("#", 1)[0].split())
    return frozenset(words)


@lru_cache(maxsize=1 << 16)  # an explained ticket asks about a hundred words, mostly the same
def is_content_word(word: str) -> bool:
    """Whether an explanation may name ``word`` (a word of the normal form of a text): at
    least two characters, a letter among them (not only digits or punctuation), no
    placeholder of personal data in it, and not a stop word."""
    return (
        len(word) >= 2
        and word not in stop_words()
        and not ("<" in word and any(placeholder in word for placeholder in PLACEHOLDERS))
        and any(char.isalpha() for char in word)
    )


@dataclass(frozen=True)
class WordContributions:
    """The words of a normalised document, where they are in it, and their part of the
    score of each label.

    ``words[i]`` is ``text[starts[i]:ends[i]]`` (``starts[i]`` is -1 for a word that could not
    be found in the text, which is not expected); ``hashes[i]`` is its
    :func:`~nlp.kernels.token_hashes` key (equal words, equal keys). ``scores[i, j]`` is what
    the features covering word ``i`` at that place gave label ``j``; ``total[j]`` is what all
    features gave it, those over characters no word covers (punctuation, white space)
    included: the label's logit less the bias.
    """

    words: list[str]
    starts: NDArray[np.int64]
    ends: NDArray[np.int64]
    hashes: NDArray[np.uint64]
    scores: NDArray[np.float64]
    total: NDArray[np.float64]
    #: :meth:`~nlp.features.DocumentVectorizer.add_known_share`'s two sums for the text,
    #: from the same n-grams (None where they are not worked out here: character n-grams
    #: inside words).
    known: NDArray[np.float64] | None = None


def join_contributions(
    parts: Sequence[WordContributions], lengths: Sequence[int], *, share: float = 1.0
) -> WordContributions:
    """The contributions of a document's fields, each from :func:`word_contributions` on a
    field's normal form (``lengths[i]`` characters long), as those of the normal forms joined
    by line breaks; every part is scaled by ``share`` (``1 / len(parts)`` when the vectoriser
    averages the rows of a document's fields, 1 when it adds them)."""
    words: list[str] = []
    starts: list[NDArray[np.int64]] = []
    ends: list[NDArray[np.int64]] = []
    offset = 0
    for part, length in zip(parts, lengths, strict=True):
        words.extend(part.words)
        found = part.starts >= 0
        starts.append(np.where(found, part.starts + offset, -1))
        ends.append(np.where(found, part.ends + offset, -1))
        offset += length + 1
    n_labels = parts[0].scores.shape[1]
    return WordContributions(
        words=words,
        starts=np.concatenate(starts).astype(np.int64),
        ends=np.concatenate(ends).astype(np.int64),
        hashes=np.concatenate([part.hashes for part in parts]).astype(np.uint64),
        scores=np.vstack([part.scores.reshape(-1, n_labels) for part in parts]) * share,
        total=np.sum([part.total for part in parts], axis=0) * share,
        known=_summed_known(parts),
    )


def _summed_known(parts: Sequence[WordContributions]) -> NDArray[np.float64] | None:
    sums = [part.known for part in parts if part.known is not None]
    return np.sum(sums, axis=0) if len(sums) == len(parts) else None


@njit(cache=True, nogil=True)
def _distinct(keys: NDArray[np.uint64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Each key's distinct id, ids given in order of first occurrence, and where each distinct
    key first occurs: ``(inverse, first)``. Counted in a small open-addressing table (keyed by
    a multiplicative hash), in time linear in the keys."""
    n = keys.size
    bits = 1
    while (1 << bits) < 2 * n:
        bits += 1
    mask = (1 << bits) - 1
    table = np.zeros(mask + 1, dtype=np.uint64)
    ids = np.full(mask + 1, -1, dtype=np.int64)
    inverse = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    distinct = 0
    for i in range(n):
        key = keys[i]
        slot = np.int64((key * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits))
        while ids[slot] >= 0 and table[slot] != key:
            slot = (slot + 1) & mask
        if ids[slot] < 0:
            table[slot] = key
            ids[slot] = distinct
            first[distinct] = i
            distinct += 1
        inverse[i] = ids[slot]
    return inverse, first[:distinct]


@njit(cache=True, nogil=True)
def _block_values(
    columns: NDArray[np.int64], idf: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Occurrences of features (-1: none), and for each, its feature's TF-IDF value
    (sublinear TF x IDF, L2-normalised over the block, as :mod:`nlp.features` computes it)
    divided by the feature's count: the occurrence's share of the value."""
    n = columns.size
    inverse, first = _distinct(columns.astype(np.uint64))
    counts = np.zeros(first.size, dtype=np.int64)
    for i in range(n):
        counts[inverse[i]] += 1
    values = np.zeros(first.size)
    norm = 0.0
    for feature in range(first.size):
        column = columns[first[feature]]
        if column >= 0:
            value = (1.0 + np.log(counts[feature])) * idf[column]
            norm += value * value
            values[feature] = value / counts[feature]
    scale = 1.0 / np.sqrt(norm) if norm > 0.0 else 1.0
    share = np.zeros(n)
    for i in range(n):
        if columns[i] >= 0:
            share[i] = values[inverse[i]] * scale
    return np.arange(n), share


@njit(cache=True, nogil=True)
def word_totals(
    hashes: NDArray[np.uint64], scores: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """The distinct words of a document (by their :func:`~nlp.kernels.token_hashes` keys, in
    order of first occurrence) and the sum of each one's ``scores``, added in the order the
    occurrences come: ``(first, after, totals)``, where distinct word ``d`` first occurs at
    ``first[d]`` and sums to ``totals[d]``, and the occurrence after occurrence ``i`` of the
    same word is ``after[i]`` (-1: none), in time linear in the words."""
    inverse, first = _distinct(hashes)
    last = np.empty(first.size, dtype=np.int64)
    after = np.full(hashes.size, -1, dtype=np.int64)
    totals = np.zeros(first.size)
    for i in range(hashes.size):
        word = inverse[i]
        if first[word] != i:
            after[last[word]] = i
        last[word] = i
        totals[word] += scores[i]
    return first, after, totals


@njit(cache=True, nogil=True)
def _word_scores(
    word_ids: NDArray[np.int64],
    unigrams: bool,
    pair_ids: NDArray[np.int64],
    n_unigrams: int,
    idf: NDArray[np.float64],
    weights: NDArray[np.float64],
    scores: NDArray[np.float64],
    total: NDArray[np.float64],
) -> None:
    """Add the word block's contributions to ``scores`` (words x labels) and to ``total``
    (labels). ``word_ids[i]`` is word ``i``'s column when there are ``unigrams``,
    ``pair_ids[i]`` the pair of words ``i`` and ``i + 1``'s column less ``n_unigrams`` (-1:
    not a feature); a pair's contribution goes half to each word."""
    n_words = word_ids.size
    columns = np.empty(n_words + pair_ids.size, dtype=np.int64)
    for i in range(n_words):
        columns[i] = word_ids[i] if unigrams else -1
    for i in range(pair_ids.size):
        columns[n_words + i] = pair_ids[i] + n_unigrams if pair_ids[i] >= 0 else -1
    order, share = _block_values(columns, idf)
    n_labels = total.size
    n_scored = scores.shape[1]
    for k in range(columns.size):
        occurrence = order[k]
        column = columns[occurrence]
        if column < 0:
            continue
        value = share[k]
        for label in range(n_scored, n_labels):  # counted in the totals only
            total[label] += value * weights[column, label]
        if occurrence < n_words:
            for label in range(n_scored):
                part = value * weights[column, label]
                total[label] += part
                scores[occurrence, label] += part
        else:
            word = occurrence - n_words
            for label in range(n_scored):
                part = value * weights[column, label]
                total[label] += part
                scores[word, label] += 0.5 * part
                scores[word + 1, label] += 0.5 * part


@njit(cache=True, nogil=True)
def _char_scores(
    codes: NDArray[np.uint32],
    columns: NDArray[np.int64],
    low: int,
    high: int,
    word_bounded: bool,
    word_starts: NDArray[np.int64],
    word_lengths: NDArray[np.int64],
    idf: NDArray[np.float64],
    weights: NDArray[np.float64],
    scores: NDArray[np.float64],
    total: NDArray[np.float64],
) -> None:
    """Add the character block's contributions to ``scores`` and ``total`` (as
    :func:`_word_scores`).

    ``columns`` are those of every n-gram of ``codes``, n from ``low`` to ``high``, each n in
    order of position (:func:`nlp.kernels.char_keys` without word bounds); with
    ``word_bounded``, those with a space inside are not features. An n-gram's contribution
    is spread evenly over its characters, and each character's part goes to the word that
    covers it (word ``i`` covers ``word_starts[i]`` on, ``word_lengths[i]`` characters).
    """
    size = codes.size
    owner = np.full(size, -1, dtype=np.int64)
    for i in range(word_starts.size):
        start = word_starts[i]
        if start < 0:
            continue
        for position in range(start, min(start + word_lengths[i], size)):
            owner[position] = i
    # The n-grams that are features, with where they start and their length.
    found = np.empty(columns.size, dtype=np.int64)
    firsts = np.empty(columns.size, dtype=np.int64)
    lengths = np.empty(columns.size, dtype=np.int64)
    read = 0
    written = 0
    for n in range(low, high + 1):
        for first in range(size - n + 1):
            column = columns[read]
            read += 1
            if column < 0:
                continue
            if word_bounded:
                inside_space = False
                for inside in range(first, first + n):
                    if codes[inside] == 32 and (n == 1 or first < inside < first + n - 1):
                        inside_space = True
                if inside_space:
                    continue
            found[written] = column
            firsts[written] = first
            lengths[written] = n
            written += 1
    columns = found[:written]
    order, share = _block_values(columns, idf)
    n_labels = total.size
    n_scored = scores.shape[1]
    for k in range(columns.size):
        occurrence = order[k]
        column = columns[occurrence]
        if column < 0:
            continue
        value = share[k]
        first, n = firsts[occurrence], lengths[occurrence]
        word = owner[first]
        if word >= 0 and owner[first + n - 1] == word:
            # inside one word (words are runs of positions): all of it goes to that word
            for label in range(n_scored, n_labels):
                total[label] += value * weights[column, label]
            for label in range(n_scored):
                part = value * weights[column, label]
                total[label] += part
                scores[word, label] += part
            continue
        for label in range(n_scored, n_labels):  # counted in the totals only
            total[label] += value * weights[column, label]
        for label in range(n_scored):
            part = value * weights[column, label]
            total[label] += part
            part /= n
            for position in range(first, first + n):
                word = owner[position]
                if word >= 0:
                    scores[word, label] += part


@njit(cache=True, nogil=True)
def _token_layout(
    codes: NDArray[np.uint32],
    dropped_alone: NDArray[np.bool_],
    white_space: NDArray[np.bool_],
    placeholder_first: int,
    placeholder_lengths: NDArray[np.int64],
    placeholder_hashes: NDArray[np.uint64],
) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64], NDArray[np.uint64]]:
    """Which raw tokens a :class:`~nlp.segment.TokenRule` keeps (as
    :func:`nlp.kernels.chunk_token_hashes` decides), and for the kept ones where they start
    and end in the text and their :func:`~nlp.kernels.token_hashes`.

    ``codes`` holds the tokens of :meth:`~nlp.segment.Segmenter.cut_chunk` for one text,
    each ended by a 0; a placeholder's private-use character stands for
    ``placeholder_lengths[i]`` characters of the text; the last token ends the document.
    """
    n_tokens = 0
    for i in range(codes.size):
        if codes[i] == 0:
            n_tokens += 1
    n_tokens -= 1  # the document's end
    kept = np.zeros(max(n_tokens, 0), dtype=np.bool_)
    starts = np.empty(max(n_tokens, 0), dtype=np.int64)
    ends = np.empty(max(n_tokens, 0), dtype=np.int64)
    hashes = np.empty(max(n_tokens, 0), dtype=np.uint64)
    written = 0
    token = 0
    start = 0
    at = 0
    for end in range(codes.size):
        if codes[end] != 0:
            continue
        if token == n_tokens:
            break
        length = end - start
        first = codes[start] if length else np.uint32(0)
        slot = np.int64(first) - placeholder_first
        placeholder = length == 1 and 0 <= slot < placeholder_hashes.size
        width = placeholder_lengths[slot] if placeholder else length
        drop = length == 0 or (length == 1 and first < dropped_alone.size and dropped_alone[first])
        if not drop:
            drop = True
            for i in range(start, end):
                if codes[i] >= white_space.size or not white_space[codes[i]]:
                    drop = False
                    break
        if not drop:
            kept[token] = True
            starts[written] = at
            ends[written] = at + width
            if placeholder:
                hashes[written] = placeholder_hashes[slot]
            else:  # the hash token_hashes gives (the same compiled function)
                hashes[written] = kernels._hash_token(codes, start, end)
            written += 1
        at += width
        token += 1
        start = end + 1
    return kept, starts[:written], ends[:written], hashes[:written]


@cache
def _placeholder_tables(
    placeholders: tuple[str, ...],
) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
    lengths = np.fromiter(map(len, placeholders), np.int64, len(placeholders))
    return lengths, token_hashes(placeholders)


def _words(
    segmenter: Segmenter, text: str
) -> tuple[list[str], NDArray[np.int64], NDArray[np.int64], NDArray[np.uint64]]:
    """The words of ``text`` (as :meth:`~nlp.segment.Segmenter.cut` keeps them), where each
    starts and ends, and their :func:`~nlp.kernels.token_hashes`: from one tokenizer call
    and one pass of compiled code when the segmenter cuts chunks, else word by word."""
    raw = segmenter.cut_chunk([text]) if text else None
    if raw is None:
        words, starts, ends = segmenter.cut_spans(text)
        return words, starts, ends, token_hashes(words)
    rule = segmenter.rule
    codes = np.frombuffer(("\0".join(raw) + "\0").encode("utf-32-le", "surrogatepass"), np.uint32)
    kept, starts, ends, hashes = _token_layout(
        codes,
        rule.dropped_alone,
        rule.white_space,
        rule.first_private_use,
        *_placeholder_tables(rule.placeholders),
    )
    words = list(compress(raw, kept.tolist()))
    if "<" in text:  # placeholders were cut as private-use characters
        back = {char: placeholder for placeholder, char in rule.private_chars.items()}
        words = [back.get(word, word) for word in words]
    return words, starts, ends, hashes


@njit(cache=True, nogil=True)
def _pair_keys(ids: NDArray[np.int64], n_words: int) -> NDArray[np.uint64]:
    """The key (:func:`nlp.kernels.pair_keys`) of each pair of neighbouring words, or one no
    vocabulary holds where either word is unknown."""
    keys = np.empty(max(ids.size - 1, 0), dtype=np.uint64)
    for i in range(keys.size):
        if ids[i] >= 0 and ids[i + 1] >= 0:
            keys[i] = np.uint64(ids[i] * n_words + ids[i + 1])
        else:
            keys[i] = np.uint64(0xFFFFFFFFFFFFFFFF)
    return keys


def word_contributions(
    vectorizer: DocumentVectorizer,
    text: str,
    weights: NDArray[np.float64],
    *,
    n_scored: int | None = None,
) -> WordContributions:
    """The part of each label's score (``weights`` is the linear model's ``n_features x
    n_labels`` matrix) that falls to each word of ``text`` (normalised), as the vectoriser
    cuts it. Only the first ``n_scored`` columns (default: all) are handed to words; the
    others (the out-of-scope rule's centroids) are summed in ``total`` alone.

    Raises :class:`~nlp.errors.ModelIntegrityError` when ``weights`` does not have one row
    per feature of the vectoriser's word and character blocks.
    """
    n_word_features = vectorizer.n_word_features_
    if weights.shape[0] != n_word_features + vectorizer.chars_.idf_.size:
        raise ModelIntegrityError(
            f"the model has {weights.shape[0]} weights per label, its vectoriser "
            f"{n_word_features} word and {vectorizer.chars_.idf_.size} character features: "
            "explanations read these two blocks only; retrain the model with this version"
        )
    words, starts, ends, hashes = _words(
        vectorizer.segmenter_, text[: vectorizer.max_segment_chars]
    )
    n_words = len(words)
    lengths = ends - starts
    scores = np.zeros((n_words, weights.shape[1] if n_scored is None else n_scored))
    total = np.zeros(weights.shape[1])

    # Words and word pairs.
    vocabulary = vectorizer.words_
    ids = vocabulary.word_index_.lookup(hashes)
    if vocabulary.bigram_keys_.size:
        pairs = vocabulary.bigrams_.lookup(_pair_keys(ids, len(vocabulary.words_)))
    else:
        pairs = np.full(max(n_words - 1, 0), -1, dtype=np.int64)
    _word_scores(
        ids, vocabulary.n_unigrams_ > 0, pairs, vocabulary.n_unigrams_, vocabulary.idf_,
        weights, scores, total,
    )  # fmt: skip

    known: NDArray[np.float64] | None = None
    if not vectorizer.chars_.word_bounded:
        # The n-grams add_known_share counts: every word, then each pair of known words.
        entries = [ids] if vocabulary.n_unigrams_ > 0 else []
        if vocabulary.bigram_keys_.size:
            both = (ids[:-1] >= 0) & (ids[1:] >= 0)
            entries.append(np.where(pairs[both] >= 0, pairs[both] + vocabulary.n_unigrams_, -1))
        known = _known_sums(entries, vocabulary.idf_, vocabulary._unknown_weight())

    # Character n-grams, over the text or over the words joined by spaces (padded by one).
    chars = vectorizer.chars_
    if vectorizer.char_source == "text":
        read = text[: chars.max_chars]
        char_starts = starts
    else:
        joined = " ".join(words)[: chars.max_chars]
        read = f" {joined} " if joined else ""
        char_starts = np.arange(1, n_words + 1, dtype=np.int64)
        char_starts[1:] += np.cumsum(lengths[:-1])
    if read:
        codes = np.frombuffer(read.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        low, high = chars.ngram_range
        keys, _ = kernels.char_keys(codes, np.array([0, codes.size]), low, high, False)
        char_columns = chars.vocabulary_.lookup(keys)
        if known is not None:
            known += _known_sums([char_columns], chars.idf_, chars._unknown_weight())
        _char_scores(
            codes,
            char_columns,
            low,
            min(high, codes.size),
            chars.word_bounded,
            char_starts,
            lengths,
            chars.idf_,
            weights[n_word_features:],
            scores,
            total,
        )
    return WordContributions(
        words=words,
        starts=starts,
        ends=ends,
        hashes=hashes,
        scores=scores,
        total=total,
        known=known,
    )


def _known_sums(
    entries: list[NDArray[np.int64]], idf: NDArray[np.float64], unknown: float
) -> NDArray[np.float64]:
    """:func:`nlp.kernels.add_known_share` (the vectoriser's own kernel) over the ids of one
    text: the IDF of the known n-grams, and that plus ``unknown`` for each other one."""
    known = np.zeros((1, 2))
    for ids in entries:
        kernels.add_known_share(ids, np.array([0, ids.size]), idf, unknown, known)
    return known[0]
