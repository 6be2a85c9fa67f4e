"""Compiled inner loops of the feature extraction (numba, cached on disk after first use).

Counting the n-grams of a ticket is a loop over a few hundred characters: a handful of
machine instructions per n-gram in compiled code, where numpy needs a sort or a hash-table
pass per step. These kernels do the whole step per
ticket: build integer n-gram keys, find them in an open-addressing table, count them
with a scratch array, and write TF-IDF rows in CSR form or add them, times the linear
model's weights, to its logits. :mod:`nlp.features` wraps them in scikit-learn
transformers; :mod:`nlp.similar` counts the terms of its tickets with
:func:`hashed_term_counts` and scores a lookup's candidates with :func:`posting_sums` and
:func:`row_dots`.

Keys: a character n-gram is its code points packed 21 bits each (so a key decodes back to
its text); a word is a 64-bit polynomial hash of its code points; a word pair is
``first_id * n_words + second_id``.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

__all__ = [
    "add_char_ngram_scores",
    "add_tfidf_scores",
    "build_table",
    "char_keys",
    "chunk_token_hashes",
    "hashed_term_counts",
    "link_rows",
    "linked_sums",
    "lookup",
    "merge_rows",
    "pair_keys",
    "posting_sums",
    "row_dots",
    "tfidf_rows",
    "token_hashes",
    "unit_row",
]

_BITS = np.uint64(21)
_SPACE = np.uint32(32)
_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: spreads structured keys
_HASH_BASE = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime


@njit(cache=True, inline="always")
def _slot(key: np.uint64, shift: int) -> np.int64:
    # Fibonacci hashing: the top bits of key * 2^64/phi. The result is cast to a signed
    # integer because numba turns uint64 mixed with int64 into a float.
    return np.int64((key * _FIBONACCI) >> np.uint64(shift))


@njit(cache=True, nogil=True)
def build_table(keys: NDArray[np.uint64]) -> tuple[NDArray[np.uint64], int]:
    """An open-addressing hash table mapping ``keys[i]`` to ``i`` (first one wins).

    Slot ``s`` is ``table[2s]`` (the key) and ``table[2s + 1]`` (its position + 1; 0 marks
    an empty slot): one cache line per probe. At most half full, so probes stay short.
    Returns the table and the shift that turns ``key * _FIBONACCI`` into a slot number.
    """
    bits = 3
    while (1 << bits) < 2 * keys.size:
        bits += 1
    table = np.zeros(2 << bits, dtype=np.uint64)
    shift = 64 - bits
    mask = (1 << bits) - 1
    for i in range(keys.size):
        key = keys[i]
        slot = _slot(key, shift)
        while table[2 * slot + 1] != 0 and table[2 * slot] != key:
            slot = (slot + 1) & mask
        if table[2 * slot + 1] == 0:
            table[2 * slot] = key
            table[2 * slot + 1] = np.uint64(i + 1)
    return table, shift


@njit(cache=True, inline="always")
def _find(table: NDArray[np.uint64], shift: int, key: np.uint64) -> np.int64:
    mask = table.size // 2 - 1
    slot = _slot(key, shift)
    while True:
        stored = table[2 * slot + 1]
        if stored == 0:
            return np.int64(-1)
        if table[2 * slot] == key:
            return np.int64(stored) - 1
        slot = (slot + 1) & mask


@njit(cache=True, nogil=True)
def lookup(table: NDArray[np.uint64], shift: int, keys: NDArray[np.uint64]) -> NDArray[np.int64]:
    """Position of each key in the table's key list, -1 when it is not there."""
    out = np.empty(keys.size, dtype=np.int64)
    for i in range(keys.size):
        out[i] = _find(table, shift, keys[i])
    return out


@njit(cache=True, nogil=True)
def char_keys(
    codes: NDArray[np.uint32], offsets: NDArray[np.int64], low: int, high: int, word_bounded: bool
) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """Keys of the character n-grams (``low <= n <= high``) of each document.

    Document ``d`` is ``codes[offsets[d]:offsets[d + 1]]``; its keys are
    ``keys[key_offsets[d]:key_offsets[d + 1]]``. With ``word_bounded`` the documents are
    space-separated words padded by a space at each end, and a space may only be the first
    or last character of an n-gram (scikit-learn's ``char_wb``).
    """
    n_docs = offsets.size - 1
    keys = np.empty(max(0, codes.size * (high - low + 1)), dtype=np.uint64)
    key_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    written = 0
    for doc in range(n_docs):
        start, end = offsets[doc], offsets[doc + 1]
        for n in range(low, high + 1):
            for first in range(start, end - n + 1):
                key = np.uint64(0)
                valid = True
                for i in range(first, first + n):
                    code = codes[i]
                    if word_bounded and code == _SPACE and (n == 1 or (first < i < first + n - 1)):
                        valid = False
                        break
                    key = (key << _BITS) | np.uint64(code)
                if valid:
                    keys[written] = key
                    written += 1
        key_offsets[doc + 1] = written
    return keys[:written], key_offsets


@njit(cache=True, inline="always")
def _hash_token(codes: NDArray[np.uint32], start: int, end: int) -> np.uint64:
    value = np.uint64(0)
    power = _HASH_BASE
    for i in range(start, end):
        value += (np.uint64(codes[i]) + np.uint64(1)) * power
        power *= _HASH_BASE
    return value ^ (np.uint64(end - start) * _FIBONACCI)


@njit(cache=True, nogil=True)
def token_hashes(codes: NDArray[np.uint32]) -> NDArray[np.uint64]:
    """One 64-bit hash per token of ``codes``, in which every token ends with a 0.

    ``sum((c_i + 1) * BASE^(i + 1)) ^ (length * 0x9E3779B97F4A7C15)`` over the token's
    code points ``c_i``, modulo 2^64. With ~10^5 words in a vocabulary the chance that two
    share a hash is ~10^-9.
    """
    n_tokens = 0
    for i in range(codes.size):
        if codes[i] == 0:
            n_tokens += 1
    out = np.empty(n_tokens, dtype=np.uint64)
    token = 0
    start = 0
    for end in range(codes.size):
        if codes[end] == 0:
            out[token] = _hash_token(codes, start, end)
            token += 1
            start = end + 1
    return out


@njit(cache=True, nogil=True)
def chunk_token_hashes(
    codes: NDArray[np.uint32],
    n_docs: int,
    document_end: int,
    dropped_alone: NDArray[np.bool_],
    white_space: NDArray[np.bool_],
    placeholder_first: int,
    placeholder_hashes: NDArray[np.uint64],
) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """Hashes of the kept tokens of a chunk segmented in one call, and where each document's
    start (see :meth:`nlp.segment.Segmenter.cut_chunk`).

    ``codes`` holds the raw tokens, each ended by a 0. A token that is just
    ``document_end`` ends a document. The rest are kept or dropped by the
    :class:`nlp.segment.TokenRule` whose tables these are, as its ``keep`` does (a test
    checks every character): a token is dropped when it is one character ``c`` with
    ``dropped_alone[c]``, or when every character ``c`` of it has ``white_space[c]`` (code
    points beyond the tables have neither). A one-character token
    ``placeholder_first + i`` stands for placeholder ``i`` and takes its hash. The offsets
    are all -1 when the chunk does not hold exactly ``n_docs`` documents.
    """
    hashes = np.empty(codes.size, dtype=np.uint64)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    written = 0
    doc = 0
    start = 0
    for end in range(codes.size):
        if codes[end] != 0:
            continue
        length = end - start
        first = codes[start] if length else np.uint32(0)
        if length == 1 and first == document_end:
            doc += 1
            if doc > n_docs:
                break
            offsets[doc] = written
        elif length > 0:
            drop = length == 1 and first < dropped_alone.size and dropped_alone[first]
            if not drop:
                drop = True
                for i in range(start, end):
                    if codes[i] >= white_space.size or not white_space[codes[i]]:
                        drop = False
                        break
            if not drop:
                slot = np.int64(first) - placeholder_first
                if length == 1 and 0 <= slot < placeholder_hashes.size:
                    hashes[written] = placeholder_hashes[slot]
                else:
                    hashes[written] = _hash_token(codes, start, end)
                written += 1
        start = end + 1
    if doc != n_docs:
        offsets[:] = -1
    return hashes[:written], offsets


@njit(cache=True, nogil=True)
def hashed_term_counts(
    word_codes: NDArray[np.uint32],
    word_offsets: NDArray[np.int64],
    char_codes: NDArray[np.uint32],
    char_offsets: NDArray[np.int64],
    half_bits: int,
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]:
    """CSR rows (indptr, indices, data) of sublinear term frequencies ``1 + log(tf)`` of
    each document's words and character 2- and 3-grams, hashed into ``2 * 2**half_bits``
    columns: words into the first half, n-grams into the second, indices sorted in a row.

    Document ``d``'s words are ``word_codes[word_offsets[d]:word_offsets[d + 1]]``, each
    ended by a 0 (hashed as :func:`token_hashes` does); its text is
    ``char_codes[char_offsets[d]:char_offsets[d + 1]]``, an n-gram's key its code points
    packed 21 bits each. A hash or key goes to column ``(value * 0x9E3779B97F4A7C15) >>
    (64 - half_bits)`` of its half (Fibonacci hashing: the top bits of the product).
    """
    n_docs = char_offsets.size - 1
    shift = np.uint64(64 - half_bits)
    half = np.int64(1) << half_bits
    longest = 0
    total = 0
    for doc in range(n_docs):
        words = 0
        for i in range(word_offsets[doc], word_offsets[doc + 1]):
            if word_codes[i] == 0:
                words += 1
        length = char_offsets[doc + 1] - char_offsets[doc]
        terms = words + max(0, length - 1) + max(0, length - 2)
        longest = max(longest, terms)
        total += terms
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    indices = np.empty(total, dtype=np.int32)
    data = np.empty(total, dtype=np.float32)
    columns = np.empty(longest, dtype=np.int64)
    written = 0
    for doc in range(n_docs):
        found = 0
        start = word_offsets[doc]
        for end in range(word_offsets[doc], word_offsets[doc + 1]):
            if word_codes[end] == 0:
                value = _hash_token(word_codes, start, end) * _FIBONACCI
                columns[found] = np.int64(value >> shift)
                found += 1
                start = end + 1
        first_char, last_char = char_offsets[doc], char_offsets[doc + 1]
        for n in range(2, 4):
            for first in range(first_char, last_char - n + 1):
                key = np.uint64(0)
                for i in range(first, first + n):
                    key = (key << _BITS) | np.uint64(char_codes[i])
                columns[found] = half + np.int64((key * _FIBONACCI) >> shift)
                found += 1
        ordered = np.sort(columns[:found])
        i = 0
        while i < found:
            j = i + 1
            while j < found and ordered[j] == ordered[i]:
                j += 1
            indices[written] = ordered[i]
            data[written] = 1.0 + np.log(np.float64(j - i))
            written += 1
            i = j
        indptr[doc + 1] = written
    return indptr, indices[:written], data[:written]


@njit(cache=True, nogil=True)
def pair_keys(
    ids: NDArray[np.int64], offsets: NDArray[np.int64], n_words: int
) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """Keys ``first * n_words + second`` of neighbouring words of each document, both known
    (id >= 0), with per-document offsets like :func:`char_keys`."""
    n_docs = offsets.size - 1
    keys = np.empty(max(0, ids.size), dtype=np.uint64)
    key_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    written = 0
    for doc in range(n_docs):
        for i in range(offsets[doc], offsets[doc + 1] - 1):
            first, second = ids[i], ids[i + 1]
            if first >= 0 and second >= 0:
                keys[written] = np.uint64(first * n_words + second)
                written += 1
        key_offsets[doc + 1] = written
    return keys[:written], key_offsets


@njit(cache=True, nogil=True)
def merge_rows(
    first: NDArray[np.int64],
    first_offsets: NDArray[np.int64],
    second: NDArray[np.int64],
    second_offsets: NDArray[np.int64],
    second_start: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per document, the ids of ``first`` then those of ``second`` moved up by
    ``second_start`` (-1, unknown, stays -1)."""
    n_docs = first_offsets.size - 1
    out = np.empty(first.size + second.size, dtype=np.int64)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    written = 0
    for doc in range(n_docs):
        for i in range(first_offsets[doc], first_offsets[doc + 1]):
            out[written] = first[i]
            written += 1
        for i in range(second_offsets[doc], second_offsets[doc + 1]):
            out[written] = second[i] + second_start if second[i] >= 0 else -1
            written += 1
        offsets[doc + 1] = written
    return out, offsets


# 1 + log(count) for the counts most n-grams have; larger counts call log.
_SUBLINEAR = 1.0 + np.log(np.arange(1, 65, dtype=np.float64))


@njit(cache=True, inline="always")
def _tfidf_row(
    ids: NDArray[np.int64],
    start: int,
    end: int,
    stamp: int,
    idf: NDArray[np.float64],
    scratch: NDArray[np.int64],
    indices: NDArray[np.int64],
    data: NDArray[np.float64],
    written: int,
) -> int:
    """Write one document's TF-IDF row from ``written`` on; return where it ends.

    Counting marks each feature in ``scratch`` with ``stamp`` (this document) and where its
    count is, so it needs no sort and no clearing between documents.
    """
    row_start = written
    for i in range(start, end):
        feature = ids[i]
        if feature < 0:
            continue
        if scratch[2 * feature] != stamp:
            scratch[2 * feature] = stamp
            scratch[2 * feature + 1] = written
            indices[written] = feature
            data[written] = 1.0
            written += 1
        else:
            data[scratch[2 * feature + 1]] += 1.0
    norm = 0.0
    for j in range(row_start, written):
        count = int(data[j])
        sublinear = _SUBLINEAR[count - 1] if count <= _SUBLINEAR.size else 1.0 + np.log(count)
        value = sublinear * idf[indices[j]]
        data[j] = value
        norm += value * value
    if norm > 0.0:
        norm = 1.0 / np.sqrt(norm)
        for j in range(row_start, written):
            data[j] *= norm
    return written


@njit(cache=True)  # keeps the GIL: calls share ``scratch``
def tfidf_rows(
    ids: NDArray[np.int64],
    offsets: NDArray[np.int64],
    idf: NDArray[np.float64],
    scratch: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """CSR rows (indptr, indices, data) of sublinear TF x IDF, L2-normalised, from the
    feature ids of each document (-1, unknown, is skipped).

    The same as ``TfidfVectorizer(sublinear_tf=True, norm="l2")``. Columns appear in the
    order of their first occurrence in the row. ``scratch`` (``2 * idf.size + 1`` int64,
    kept by the caller between calls) records, side by side for each feature, which
    document last saw it and where its count is; its last cell is a running document
    number. Compiled without ``nogil``, so threads sharing a vectoriser (the service's)
    never count in it at the same time.
    """
    n_docs = offsets.size - 1
    n_features = idf.size
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    indices = np.empty(ids.size, dtype=np.int64)
    data = np.empty(ids.size, dtype=np.float64)
    epoch = scratch[2 * n_features]
    written = 0
    for doc in range(n_docs):
        written = _tfidf_row(
            ids,
            offsets[doc],
            offsets[doc + 1],
            epoch + doc + 1,
            idf,
            scratch,
            indices,
            data,
            written,
        )
        indptr[doc + 1] = written
    scratch[2 * n_features] = epoch + n_docs
    return indptr, indices[:written].copy(), data[:written].copy()


@njit(cache=True)  # keeps the GIL: calls share ``scratch``
def add_tfidf_scores(
    out: NDArray[np.float64],
    ids: NDArray[np.int64],
    offsets: NDArray[np.int64],
    idf: NDArray[np.float64],
    scratch: NDArray[np.int64],
    weights: NDArray[np.float64],
) -> None:
    """``out += tfidf_rows(ids, offsets, idf, scratch) @ weights``, one row at a time, so
    the rows are never stored: what scoring needs."""
    add_tfidf_scores_known(out, ids, offsets, idf, scratch, weights, 0.0, np.empty((0, 2)))


@njit(cache=True, nogil=True)
def add_known_share(
    ids: NDArray[np.int64],
    offsets: NDArray[np.int64],
    idf: NDArray[np.float64],
    unknown: float,
    out: NDArray[np.float64],
) -> None:
    """Per document ``d``: ``out[d, 0] +=`` the IDF of each of its n-grams the vocabulary
    knows (id >= 0), ``out[d, 1] +=`` that plus ``unknown`` for each one it does not. Their
    ratio is how much of the document is known content (frequent n-grams weigh little)."""
    for doc in range(offsets.size - 1):
        known = 0.0
        total = 0.0
        for i in range(offsets[doc], offsets[doc + 1]):
            feature = ids[i]
            if feature >= 0:
                known += idf[feature]
                total += idf[feature]
            else:
                total += unknown
        out[doc, 0] += known
        out[doc, 1] += total


@njit(cache=True, nogil=True)
def scope_signals(
    logits: NDArray[np.float64], similarities: NDArray[np.float64], known: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per document: the highest logit, the highest similarity, and ``known[:, 0] /
    known[:, 1]`` (0 when the document has no n-gram at all): see :mod:`nlp.scope`."""
    n = logits.shape[0]
    signals = np.empty((n, 3))
    for doc in range(n):
        best = -np.inf
        for k in range(logits.shape[1]):
            best = max(best, logits[doc, k])
        signals[doc, 0] = best
        best = -np.inf
        for k in range(similarities.shape[1]):
            best = max(best, similarities[doc, k])
        signals[doc, 1] = best
        signals[doc, 2] = known[doc, 0] / known[doc, 1] if known[doc, 1] > 0.0 else 0.0
    return signals


@njit(cache=True, nogil=True)
def scope_scores(
    signals: NDArray[np.float64], reference: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per document: the sum over the signals of ``log((below + 1) / (n + 1))``, ``below``
    being how many of the ``n`` sorted reference values of that signal are <= its value,
    plus the smallest of those logs once more (:meth:`nlp.scope.ScopeDetector.score`)."""
    n_docs = signals.shape[0]
    n_signals, n = reference.shape
    scores = np.empty(n_docs)
    for doc in range(n_docs):
        total = 0.0
        lowest = 0.0
        for j in range(n_signals):
            value = signals[doc, j]
            low, high = 0, n  # first position whose reference value is > value
            while low < high:
                middle = (low + high) // 2
                if reference[j, middle] <= value:
                    low = middle + 1
                else:
                    high = middle
            term = np.log((low + 1.0) / (n + 1.0))
            total += term
            lowest = min(lowest, term)
        scores[doc] = total + lowest
    return scores


@njit(cache=True)  # keeps the GIL: calls share ``scratch``
def add_tfidf_scores_known(
    out: NDArray[np.float64],
    ids: NDArray[np.int64],
    offsets: NDArray[np.int64],
    idf: NDArray[np.float64],
    scratch: NDArray[np.int64],
    weights: NDArray[np.float64],
    unknown: float,
    known: NDArray[np.float64],
) -> None:
    """:func:`add_tfidf_scores` and :func:`add_known_share` in one pass: each document's
    known-content sums are taken right after its row, while its IDF values are in cache
    (none when ``known`` has no rows: scoring alone)."""
    n_docs = offsets.size - 1
    n_features = idf.size
    longest = 0
    for doc in range(n_docs):
        longest = max(longest, offsets[doc + 1] - offsets[doc])
    indices = np.empty(longest, dtype=np.int64)
    data = np.empty(longest, dtype=np.float64)
    epoch = scratch[2 * n_features]
    n_out = out.shape[1]
    for doc in range(n_docs):
        start, stop = offsets[doc], offsets[doc + 1]
        end = _tfidf_row(ids, start, stop, epoch + doc + 1, idf, scratch, indices, data, 0)
        for j in range(end):
            value = data[j]
            row = indices[j]
            for k in range(n_out):
                out[doc, k] += value * weights[row, k]
        if known.shape[0] == 0:
            continue
        known_sum = 0.0
        total = 0.0
        for i in range(start, stop):
            feature = ids[i]
            if feature >= 0:
                known_sum += idf[feature]
                total += idf[feature]
            else:
                total += unknown
        known[doc, 0] += known_sum
        known[doc, 1] += total
    scratch[2 * n_features] = epoch + n_docs


# ----------------------------------------------------------------------------- lookups


@njit(cache=True, nogil=True)
def row_dots(
    indptr: NDArray[np.integer],
    indices: NDArray[np.integer],
    data: NDArray[np.float32],
    rows: NDArray[np.int64],
    query_indices: NDArray[np.integer],
    query_data: NDArray[np.float32],
    bits: NDArray[np.uint64],
) -> NDArray[np.float32]:
    """The dot product of each of ``rows`` of a CSR matrix (float32) with a sparse query
    (columns under 2**31, each once), summed in float32 in the row's stored order, as
    scipy's product of the matrix with a dense copy of the query sums it: a row scores the
    same whichever rows are asked with it.

    ``bits`` (one zero bit per column) is scratch, given back zeroed. A row's column is
    looked for among the query's only where ``bits`` says the query has it: the bits of
    every column fit in the processor's cache, and most of a row's columns are not the
    query's. The query's values are found in a small open-addressing table (a quarter
    full, keyed by the column's low bits: the columns are hashes already), which stays in
    the processor's nearest cache where a dense copy of the query would not."""
    size = 64
    while size < 4 * query_indices.size:
        size *= 2
    mask = size - 1
    keys = np.full(size, -1, dtype=np.int64)
    values = np.empty(size, dtype=np.float32)
    for k in range(query_indices.size):
        column = np.int64(query_indices[k])
        bits[column >> 6] |= np.uint64(1) << np.uint64(column & 63)
        slot = column & mask
        while keys[slot] != -1:
            slot = (slot + 1) & mask
        keys[slot] = column
        values[slot] = query_data[k]
    out = np.empty(rows.size, dtype=np.float32)
    for i in range(rows.size):
        row = rows[i]
        total = np.float32(0.0)
        for j in range(indptr[row], indptr[row + 1]):
            column = np.int64(indices[j])
            if (bits[column >> 6] >> np.uint64(column & 63)) & np.uint64(1):
                slot = column & mask
                while keys[slot] != column:  # there: its bit is set
                    slot = (slot + 1) & mask
                total += data[j] * values[slot]
        out[i] = total
    for k in range(query_indices.size):
        bits[np.int64(query_indices[k]) >> 6] = np.uint64(0)
    return out


@njit(cache=True, nogil=True)
def unit_row(
    indices: NDArray[np.integer],
    data: NDArray[np.float32],
    weights: NDArray[np.float32],
    half: int,
) -> NDArray[np.float32]:
    """One row's values times ``weights[column]``, then each half of the columns (under
    ``half``: words; the rest: characters) scaled to length 1/sqrt(2), the arithmetic of
    ``nlp.similar._unit_rows`` to the last bit (float32 products, float64 sums in stored
    order), without building a matrix: a lookup's query."""
    out = np.empty(data.size, dtype=np.float32)
    words = 0.0
    chars = 0.0
    for j in range(data.size):
        value = data[j] * weights[indices[j]]
        out[j] = value
        square = np.float64(value) ** 2
        if indices[j] < half:
            words += square
        else:
            chars += square
    scale_words = np.float32(1.0 / np.sqrt(2.0 * max(words, 1e-30)) if words > 0 else 0.0)
    scale_chars = np.float32(1.0 / np.sqrt(2.0 * max(chars, 1e-30)) if chars > 0 else 0.0)
    for j in range(data.size):
        out[j] *= scale_words if indices[j] < half else scale_chars
    return out


@njit(cache=True, nogil=True, inline="always")
def _taken_sums(
    rows: NDArray[np.int64], count: int, scratch: NDArray[np.float32]
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """The first ``count`` of ``rows`` and their sums in ``scratch``, which is zeroed again
    where they were."""
    sums = np.empty(count, dtype=np.float32)
    for i in range(count):
        sums[i] = scratch[rows[i]]
        scratch[rows[i]] = 0.0
    return rows[:count], sums


@njit(cache=True, nogil=True)
def posting_sums(
    indptr: NDArray[np.integer],
    indices: NDArray[np.integer],
    data: NDArray[np.float32],
    features: NDArray[np.integer],
    weights: NDArray[np.float32],
    start: int,
    end: int,
    scratch: NDArray[np.float32],
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """The rows in ``[start, end)`` of the inverted lists of ``features`` (a features x rows
    CSR matrix of positive values), each once, and the sum over those features of
    ``weights[f] * value``: each row's part of its cosine with a query on those features.
    ``scratch``: one zero per row, given back zeroed (a lookup touches a few thousand rows
    of a window that may hold a million)."""
    total = 0
    for k in range(features.size):
        total += indptr[features[k] + 1] - indptr[features[k]]
    rows = np.empty(total, dtype=np.int64)
    count = 0
    for k in range(features.size):
        feature = features[k]
        weight = weights[k]
        for j in range(indptr[feature], indptr[feature + 1]):
            row = indices[j]
            if row < start or row >= end:
                continue
            if scratch[row] == 0.0:
                rows[count] = row
                count += 1
            scratch[row] += weight * data[j]
    return _taken_sums(rows, count, scratch)


@njit(cache=True, nogil=True)
def link_rows(
    head: NDArray[np.int32],
    following: NDArray[np.int32],
    row_of: NDArray[np.int32],
    indptr: NDArray[np.integer],
    indices: NDArray[np.integer],
    first: int,
    last: int,
) -> None:
    """Add rows ``[first, last)`` of a CSR matrix to its inverted lists kept as linked lists:
    ``head[column]`` is the position of the column's newest stored value (-1: none),
    ``following[position]`` the one added before it in that column, ``row_of[position]``
    its row. Rows appended one at a time join the lists in constant time each; nothing is
    rebuilt."""
    for row in range(first, last):
        for j in range(indptr[row], indptr[row + 1]):
            column = indices[j]
            following[j] = head[column]
            head[column] = j
            row_of[j] = row


@njit(cache=True, nogil=True)
def linked_sums(
    head: NDArray[np.int32],
    following: NDArray[np.int32],
    row_of: NDArray[np.int32],
    data: NDArray[np.float32],
    features: NDArray[np.integer],
    weights: NDArray[np.float32],
    inside: NDArray[np.bool_],
    scratch: NDArray[np.float32],
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """:func:`posting_sums` over the linked inverted lists of :func:`link_rows`: the rows
    with ``inside`` set that hold any of ``features``, each once, and the sum over those
    features of ``weights[f] * value``. ``scratch``: one zero per row, given back zeroed."""
    total = 0
    for k in range(features.size):
        position = head[features[k]]
        while position >= 0:
            total += 1
            position = following[position]
    rows = np.empty(total, dtype=np.int64)
    count = 0
    for k in range(features.size):
        weight = weights[k]
        position = head[features[k]]
        while position >= 0:
            row = row_of[position]
            if inside[row]:
                if scratch[row] == 0.0:
                    rows[count] = row
                    count += 1
                scratch[row] += weight * data[position]
            position = following[position]
    return _taken_sums(rows, count, scratch)


# ----------------------------------------------------------------------------- one document


@njit(cache=True)  # keeps the GIL: calls share ``scratch``
def add_char_ngram_scores(
    out: NDArray[np.float64],
    codes: NDArray[np.uint32],
    low: int,
    high: int,
    table: NDArray[np.uint64],
    shift: int,
    idf: NDArray[np.float64],
    scratch: NDArray[np.int64],
    weights: NDArray[np.float64],
) -> None:
    """``out[0] +=`` the TF-IDF row of one document's character n-grams (``codes``, its code
    points; not word-bounded) times ``weights``: :func:`char_keys`, :func:`lookup` (in the
    table of :func:`build_table`) and :func:`add_tfidf_scores` in one call, the same
    n-grams in the same order, so the same sums to the last bit. Scoring a single ticket
    then costs one call instead of a dozen array steps."""
    n_codes = codes.size
    ids = np.empty(max(0, n_codes * (high - low + 1)), dtype=np.int64)
    written = 0
    for n in range(low, high + 1):
        for first in range(0, n_codes - n + 1):
            key = np.uint64(0)
            for i in range(first, first + n):
                key = (key << _BITS) | np.uint64(codes[i])
            ids[written] = _find(table, shift, key)
            written += 1
    offsets = np.zeros(2, dtype=np.int64)
    offsets[1] = written
    add_tfidf_scores_known(
        out, ids[:written], offsets, idf, scratch, weights, 0.0, np.empty((0, 2))
    )
