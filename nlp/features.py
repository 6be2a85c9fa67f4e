"""Features as scikit-learn transformers: word n-grams united with character n-grams, TF-IDF.

Why not ``TfidfVectorizer``: its analyzers build every n-gram as a Python string, which costs
about 1 ms per ticket and caps a core near 1,000 tickets/s. Here an n-gram is an integer
key (code points or word ids packed into 64 bits), so counting, vocabulary lookup and
weighting are numpy operations over a whole chunk. The weighting is the same as
``TfidfVectorizer(sublinear_tf=True, smooth_idf=True, norm="l2")``; a test pins that.

Input to :class:`DocumentVectorizer` is normalised text (see :func:`nlp.text.normalise`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from nlp.segment import BUILTIN, Backend, Segmenter

__all__ = ["CharNgramVectorizer", "DocumentVectorizer", "SparseRows", "WordNgramVectorizer"]

_BITS = 21  # every Unicode code point fits in 21 bits
_MASK = np.uint64((1 << _BITS) - 1)
_SEPARATOR = "\x00"  # removed by normalisation, so it can mark document boundaries


class SparseRows(NamedTuple):
    """TF-IDF weights as (row, column, value) triplets, sorted by row then column.

    The serving path scores a few tickets from these with numpy alone; scipy's sparse
    constructors cost more than the arithmetic at that size. :meth:`tocsr` is the matrix
    that scikit-learn sees.
    """

    rows: NDArray[np.int64]
    cols: NDArray[np.int64]
    values: NDArray[np.float64]
    n_rows: int
    n_cols: int

    def tocsr(self) -> sp.csr_matrix:
        indptr = np.zeros(self.n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.rows, minlength=self.n_rows), out=indptr[1:])
        return sp.csr_matrix((self.values, self.cols, indptr), shape=(self.n_rows, self.n_cols))

    def dot(self, weights: NDArray[np.float64]) -> NDArray[np.float64]:
        """``self @ weights`` (a dense n_cols x k matrix) without building a sparse matrix."""
        if self.n_rows == 1:
            return (self.values @ weights[self.cols])[None, :]
        contribution = self.values[:, None] * weights[self.cols]
        out = np.zeros((self.n_rows, weights.shape[1]))
        np.add.at(out, self.rows, contribution)
        return out

    def row(self, index: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Columns and values of one row."""
        start, end = np.searchsorted(self.rows, [index, index + 1])
        return self.cols[start:end], self.values[start:end]


_SMALL = 20_000  # occurrences; below this np.unique counts faster than a sparse matrix


def _tfidf(
    doc_ids: NDArray[np.int64],
    feature_ids: NDArray[np.int64],
    n_docs: int,
    idf: NDArray[np.float64],
) -> SparseRows:
    """Sublinear TF x IDF, L2-normalised per row, from (document, feature) occurrences."""
    n_features = idf.shape[0]
    if feature_ids.size <= _SMALL:
        pairs, counts = np.unique(doc_ids * n_features + feature_ids, return_counts=True)
        rows, cols = np.divmod(pairs, n_features)
    else:
        # COO -> CSR counts the occurrences: a per-row sort in C, cheaper than one global sort.
        matrix = sp.csr_matrix(
            (np.ones(feature_ids.size), (doc_ids, feature_ids)), shape=(n_docs, n_features)
        )
        matrix.sum_duplicates()
        counts, cols = matrix.data, matrix.indices.astype(np.int64)
        rows = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(matrix.indptr))
    values = (1.0 + np.log(counts)) * idf[cols]
    norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=n_docs))
    return SparseRows(rows, cols, values / norms[rows], n_docs, n_features)


def _smooth_idf(document_frequency: NDArray[np.int64], n_docs: int) -> NDArray[np.float64]:
    return np.log((1.0 + n_docs) / (1.0 + document_frequency)) + 1.0


def _vocabulary(
    doc_ids: NDArray[np.int64], keys: NDArray[np.uint64], n_docs: int, min_df: int
) -> tuple[NDArray[np.uint64], NDArray[np.float64]]:
    """Sorted keys seen in at least ``min_df`` documents, and their smoothed IDF."""
    order = np.lexsort((doc_ids, keys))
    keys, doc_ids = keys[order], doc_ids[order]
    first = np.ones(keys.size, dtype=bool)
    first[1:] = (keys[1:] != keys[:-1]) | (doc_ids[1:] != doc_ids[:-1])
    unique_keys, df = np.unique(keys[first], return_counts=True)
    keep = df >= min_df
    return unique_keys[keep], _smooth_idf(df[keep], n_docs)


class KeyIndex:
    """Positions of uint64 keys in a vocabulary: a C hash table, built once per process.

    pandas' ``UInt64HashTable`` answers a ticket's ~1,000 lookups in ~5 us; the public
    ``Index.get_indexer`` wraps the same table in ~20 us of checks per call, and
    ``np.searchsorted`` takes ~100 us. The table is rebuilt after unpickling.
    """

    def __init__(self, keys: NDArray[np.uint64]) -> None:
        self.keys = np.ascontiguousarray(keys, dtype=np.uint64)
        self._table: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"keys": self.keys}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.keys, self._table = state["keys"], None

    def __len__(self) -> int:
        return int(self.keys.size)

    def lookup(self, keys: NDArray[np.uint64]) -> NDArray[np.int64]:
        """Position of each key, -1 where it is not in the vocabulary."""
        if self._table is None:
            try:
                from pandas._libs.hashtable import UInt64HashTable

                table = UInt64HashTable(max(1, self.keys.size))
                table.map_locations(self.keys)
                self._table = table.lookup
            except (ImportError, AttributeError):  # pandas moved its internals
                self._table = pd.Index(self.keys).get_indexer
        return np.asarray(self._table(np.ascontiguousarray(keys, dtype=np.uint64)), np.int64)


def _lookup(
    vocabulary: KeyIndex, keys: NDArray[np.uint64]
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Which keys are in the vocabulary, and at which position."""
    position = vocabulary.lookup(keys)
    return position >= 0, position


def _check_range(name: str, value: tuple[int, int], maximum: int) -> None:
    low, high = value
    if not 1 <= low <= high <= maximum:
        raise ValueError(f"{name} must satisfy 1 <= low <= high <= {maximum}, got {value}")


class CharNgramVectorizer(TransformerMixin, BaseEstimator):
    """TF-IDF over character n-grams (n <= 3) of the first ``max_chars`` characters.

    Long bodies add little beyond their opening; bounding them keeps cost per ticket flat.
    With ``word_bounded=True`` the input is space-separated words and n-grams stay inside a
    word, padded by a space at each end (scikit-learn's ``char_wb``): "物业费" gives " 物",
    "物业费", "费 ", ... but no n-gram across two words.
    """

    def __init__(
        self,
        *,
        ngram_range: tuple[int, int] = (1, 3),
        min_df: int = 2,
        max_chars: int = 300,
        word_bounded: bool = False,
    ) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_chars = max_chars
        self.word_bounded = word_bounded

    def _keys(self, docs: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
        # One encode for the whole chunk; a separator marks each document's end.
        limit = self.max_chars
        if self.word_bounded:
            joined = "".join(f" {doc[:limit]} {_SEPARATOR}" if doc else _SEPARATOR for doc in docs)
        else:
            joined = _SEPARATOR.join(doc[:limit] for doc in docs) + _SEPARATOR
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        is_sep = codes == 0
        doc_of = np.cumsum(is_sep, dtype=np.int64) - is_sep
        # Positions an n-gram may not cross: in word-bounded mode a space may only be its
        # first or last character.
        inner_stop = is_sep | (codes == 32) if self.word_bounded else is_sep
        low, high = self.ngram_range
        doc_parts: list[NDArray[np.int64]] = []
        key_parts: list[NDArray[np.uint64]] = []
        for n in range(low, high + 1):
            span = codes.size - n + 1
            if span <= 0:
                continue
            key = codes[:span].copy()
            valid = ~(inner_stop if n == 1 else is_sep)[:span]
            for offset in range(1, n):
                key = (key << np.uint64(_BITS)) | codes[offset : offset + span]
                stop = inner_stop if offset < n - 1 else is_sep
                valid &= ~stop[offset : offset + span]
            key_parts.append(key[valid])
            doc_parts.append(doc_of[:span][valid])
        if not key_parts:
            return np.zeros(0, np.int64), np.zeros(0, np.uint64)
        return np.concatenate(doc_parts), np.concatenate(key_parts)

    def fit(self, X: Iterable[str], y: Any = None) -> CharNgramVectorizer:
        _check_range("ngram_range", self.ngram_range, 3)
        docs = list(X)
        doc_ids, keys = self._keys(docs)
        self.vocabulary_keys_, self.idf_ = _vocabulary(doc_ids, keys, len(docs), self.min_df)
        self.vocabulary_ = KeyIndex(self.vocabulary_keys_)
        return self

    def weights(self, docs: Sequence[str]) -> SparseRows:
        check_is_fitted(self, "idf_")
        doc_ids, keys = self._keys(docs)
        found, position = _lookup(self.vocabulary_, keys)
        return _tfidf(doc_ids[found], position[found], len(docs), self.idf_)

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        return self.weights(list(X)).tocsr()

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        check_is_fitted(self, "idf_")
        names = []
        for key in self.vocabulary_keys_.tolist():
            chars = []
            while key:
                chars.append(chr(key & int(_MASK)))
                key >>= _BITS
            names.append("".join(reversed(chars)))
        return np.asarray(names, dtype=object)


_HASH_BASE = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime


def token_hashes(tokens: Iterable[str]) -> NDArray[np.uint64]:
    """A 64-bit polynomial hash of each token, computed for all tokens at once with numpy.

    Word lookups then run in the same C hash table as character n-grams instead of a Python
    dict (about 5x faster per ticket). With ~10^5 words in a vocabulary the chance that two
    of them share a hash is ~10^-9.
    """
    tokens = list(tokens)
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    joined = _SEPARATOR.join(tokens)
    codes = np.frombuffer((joined + _SEPARATOR).encode("utf-32-le"), dtype=np.uint32)
    is_sep = codes == 0
    ends = np.flatnonzero(is_sep)
    starts = np.empty_like(ends)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    token_of = np.cumsum(is_sep) - is_sep
    position = np.arange(codes.size) - starts[token_of]
    powers = np.cumprod(np.full(int(position.max()) + 1, _HASH_BASE, dtype=np.uint64))
    mixed = (codes.astype(np.uint64) + np.uint64(1)) * powers[position]
    mixed[is_sep] = 0
    lengths = (ends - starts).astype(np.uint64)
    return np.add.reduceat(mixed, starts) ^ (lengths * np.uint64(0x9E3779B97F4A7C15))


class WordNgramVectorizer(TransformerMixin, BaseEstimator):
    """TF-IDF over word unigrams and bigrams of segmented text.

    Takes lists of tokens (see :class:`DocumentVectorizer`, which segments). A bigram is kept
    only when both of its words are in the unigram vocabulary, which ``min_df`` guarantees
    for every bigram frequent enough to keep.
    """

    def __init__(self, *, ngram_range: tuple[int, int] = (1, 2), min_df: int = 2) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df

    def _ids(
        self, docs: Sequence[Sequence[str]], vocabulary: KeyIndex
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Document and word id (-1 when unknown) of every token of ``docs``."""
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        doc_of = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
        if not doc_of.size:
            return doc_of, np.zeros(0, dtype=np.int64)
        return doc_of, vocabulary.lookup(token_hashes(chain.from_iterable(docs)))

    def _keys(
        self, doc_of: NDArray[np.int64], ids: NDArray[np.int64], n_words: int
    ) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
        """Bigram keys ``first * n_words + second`` within documents, both words known."""
        if ids.size < 2:
            return np.zeros(0, np.int64), np.zeros(0, np.uint64)
        first, second = ids[:-1], ids[1:]
        valid = (doc_of[:-1] == doc_of[1:]) & (first >= 0) & (second >= 0)
        keys = (first[valid] * n_words + second[valid]).astype(np.uint64)
        return doc_of[:-1][valid], keys

    def fit(self, X: Iterable[Sequence[str]], y: Any = None) -> WordNgramVectorizer:
        _check_range("ngram_range", self.ngram_range, 2)
        docs = list(X)
        tokens = sorted({token for doc in docs for token in doc})
        provisional = KeyIndex(token_hashes(tokens))
        doc_of, ids = self._ids(docs, provisional)
        words, word_idf = _vocabulary(doc_of, ids.astype(np.uint64), len(docs), self.min_df)
        self.words_ = [tokens[i] for i in words.tolist()]
        self.word_index_ = KeyIndex(token_hashes(self.words_))
        n_words = len(self.words_)
        low, high = self.ngram_range
        if high >= 2:
            doc_of, ids = self._ids(docs, self.word_index_)
            pair_docs, pair_keys = self._keys(doc_of, ids, n_words)
            self.bigram_keys_, bigram_idf = _vocabulary(
                pair_docs, pair_keys, len(docs), self.min_df
            )
        else:
            self.bigram_keys_, bigram_idf = np.zeros(0, np.uint64), np.zeros(0)
        self.bigrams_ = KeyIndex(self.bigram_keys_)
        if low > 1:  # bigrams only: the word ids are still needed to build them
            word_idf = np.zeros(0)
        self.n_unigrams_ = word_idf.size
        self.idf_ = np.concatenate([word_idf, bigram_idf])
        return self

    def weights(self, docs: Sequence[Sequence[str]]) -> SparseRows:
        check_is_fitted(self, "idf_")
        doc_of, ids = self._ids(docs, self.word_index_)
        parts_doc: list[NDArray[np.int64]] = []
        parts_feature: list[NDArray[np.int64]] = []
        if self.n_unigrams_:
            known = ids >= 0
            parts_doc.append(doc_of[known])
            parts_feature.append(ids[known])
        if self.bigram_keys_.size:
            pair_docs, pair_keys = self._keys(doc_of, ids, len(self.words_))
            found, position = _lookup(self.bigrams_, pair_keys)
            parts_doc.append(pair_docs[found])
            parts_feature.append(position[found] + self.n_unigrams_)
        if not parts_doc:
            parts_doc, parts_feature = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        return _tfidf(
            np.concatenate(parts_doc), np.concatenate(parts_feature), len(docs), self.idf_
        )

    def transform(self, X: Iterable[Sequence[str]]) -> sp.csr_matrix:
        return self.weights(list(X)).tocsr()

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        check_is_fitted(self, "idf_")
        n_words = len(self.words_)
        names = self.words_[: self.n_unigrams_] if self.n_unigrams_ else []
        bigrams = [
            f"{self.words_[k // n_words]} {self.words_[k % n_words]}"
            for k in self.bigram_keys_.tolist()
        ]
        return np.asarray(list(names) + bigrams, dtype=object)


class DocumentVectorizer(TransformerMixin, BaseEstimator):
    """Normalised documents to one sparse matrix: word n-grams | character n-grams.

    Character n-grams come from the normalised text (``char_source="text"``) or, inside word
    boundaries, from the segmented words (``"words"``, like scikit-learn's ``char_wb``): the
    first scores higher when titles are in the training data, the second on long bodies
    alone (``bench/accuracy.py`` prints both). Segmentation happens here, with a
    :class:`~nlp.segment.Segmenter` that is built lazily
    in each process (tokenizers do not pickle). ``user_dict`` is a path, or ``"builtin"`` for
    the dictionary shipped with the library; the registry
    stores the file beside the model and points this parameter at that copy on load.
    """

    def __init__(
        self,
        *,
        segmenter: Backend = "rjieba",
        user_dict: str | None = BUILTIN,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (1, 3),
        min_df: int = 2,
        max_chars: int = 300,
        max_segment_chars: int = 1000,
        char_source: Literal["text", "words"] = "text",
    ) -> None:
        self.segmenter = segmenter
        self.user_dict = user_dict
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_chars = max_chars
        self.max_segment_chars = max_segment_chars
        self.char_source = char_source

    @property
    def segmenter_(self) -> Segmenter:
        tokenizer = self.__dict__.get("_segmenter")
        if tokenizer is None:
            tokenizer = Segmenter(backend=self.segmenter, user_dict=self.user_dict)
            self.__dict__["_segmenter"] = tokenizer
        return tokenizer

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_segmenter", None)
        return state

    def segment(self, docs: Iterable[str]) -> list[list[str]]:
        """Words of the first ``max_segment_chars`` characters of each document."""
        cut, limit = self.segmenter_.cut, self.max_segment_chars
        return [cut(doc[:limit]) for doc in docs]

    def fit(self, X: Iterable[str], y: Any = None) -> DocumentVectorizer:
        self.fit_transform(X)
        return self

    def fit_transform(self, X: Iterable[str], y: Any = None, **fit_params: Any) -> sp.csr_matrix:
        if self.char_source not in ("words", "text"):
            raise ValueError(f"char_source must be 'words' or 'text', got {self.char_source!r}")
        docs = list(X)
        self.words_ = WordNgramVectorizer(ngram_range=self.word_ngram_range, min_df=self.min_df)
        self.chars_ = CharNgramVectorizer(
            ngram_range=self.char_ngram_range,
            min_df=self.min_df,
            max_chars=self.max_chars,
            word_bounded=self.char_source == "words",
        )
        tokens = self.segment(docs)
        self.words_.fit(tokens)
        self.chars_.fit(self._char_input(tokens, docs))
        return self._stack(tokens, docs)

    @property
    def n_word_features_(self) -> int:
        """Columns ``[0, n_word_features_)`` are word n-grams; the rest character n-grams."""
        return int(self.words_.idf_.size)

    def _char_input(self, tokens: list[list[str]], docs: Sequence[str]) -> Sequence[str]:
        if self.char_source == "words":
            return [" ".join(words) for words in tokens]
        return docs

    def weights(self, docs: Sequence[str]) -> tuple[SparseRows, SparseRows]:
        """Word and character blocks; character columns start at :attr:`n_word_features_`."""
        check_is_fitted(self, "chars_")
        tokens = self.segment(docs)
        return self.words_.weights(tokens), self.chars_.weights(self._char_input(tokens, docs))

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        check_is_fitted(self, "chars_")
        docs = list(X)
        return self._stack(self.segment(docs), docs)

    def _stack(self, tokens: list[list[str]], docs: list[str]) -> sp.csr_matrix:
        return sp.hstack(
            [self.words_.transform(tokens), self.chars_.transform(self._char_input(tokens, docs))],
            format="csr",
        )

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        check_is_fitted(self, "chars_")
        return np.concatenate(
            [self.words_.get_feature_names_out(), self.chars_.get_feature_names_out()]
        )
