"""Features as scikit-learn transformers: word n-grams united with character n-grams, TF-IDF.

Why not ``TfidfVectorizer``: its analyzers build every n-gram of every ticket as a Python
string. Here an n-gram is an integer key (code points packed into 64 bits, or a hash of a
word), and counting, vocabulary lookup and weighting run as compiled loops
(:mod:`nlp.kernels`): straight into CSR rows, or, for scoring, straight into the linear
model's logits.
The weighting is the same as
``TfidfVectorizer(sublinear_tf=True, smooth_idf=True, norm="l2")``; a test pins that.

Input to :class:`DocumentVectorizer` is normalised text (see :func:`nlp.text.normalise`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from itertools import chain
from typing import Any, Literal, NamedTuple, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

from nlp import kernels
from nlp._validation import require_fitted
from nlp.errors import DataError
from nlp.segment import BUILTIN, Backend, Segmenter, TokenRule

__all__ = ["CharNgramVectorizer", "DocumentVectorizer", "SparseRows", "WordNgramVectorizer"]

Fields = Literal["joined", "sum", "mean"]
#: How a document's fields (title, body) are read: see :class:`DocumentVectorizer`.
FIELDS: tuple[Fields, ...] = ("joined", "sum", "mean")

_BITS = 21  # every Unicode code point fits in 21 bits; a character n-gram key packs n of them
_MASK = (1 << _BITS) - 1
_TOKEN_END = "\x00"  # removed by normalisation, so it can end each token of a chunk


class SparseRows(NamedTuple):
    """TF-IDF rows in CSR form (columns in order of first occurrence within a row).

    :meth:`tocsr` is the canonical matrix that scikit-learn sees. Scoring never stores rows
    (see :meth:`DocumentVectorizer.add_scores`).
    """

    indptr: NDArray[np.int64]
    indices: NDArray[np.int64]
    data: NDArray[np.float64]
    n_cols: int

    @property
    def n_rows(self) -> int:
        return int(self.indptr.size - 1)

    def tocsr(self) -> sp.csr_matrix:
        matrix = sp.csr_matrix(
            (self.data, self.indices, self.indptr), shape=(self.n_rows, self.n_cols)
        )
        matrix.sort_indices()
        return matrix


class _Counting:
    """Mixin for vectorisers with a fitted ``idf_``: TF-IDF rows from feature ids.

    Holds the kernel's scratch array (two int64 per feature), built on first use in each
    process and never pickled.
    """

    idf_: NDArray[np.float64]

    def _scratch_array(self) -> NDArray[np.int64]:
        scratch = self.__dict__.get("_scratch")
        if scratch is None or scratch.size != 2 * self.idf_.size + 1:
            scratch = np.zeros(2 * self.idf_.size + 1, dtype=np.int64)
            self.__dict__["_scratch"] = scratch
        return scratch

    def _rows(self, ids: NDArray[np.int64], offsets: NDArray[np.int64]) -> SparseRows:
        """TF-IDF rows from the feature ids of each document (-1: unknown)."""
        rows = kernels.tfidf_rows(ids, offsets, self.idf_, self._scratch_array())
        return SparseRows(*rows, int(self.idf_.size))

    def _add_scores(
        self,
        ids: NDArray[np.int64],
        offsets: NDArray[np.int64],
        weights: NDArray[np.float64],
        out: NDArray[np.float64],
    ) -> None:
        """``out += self._rows(ids, offsets) @ weights`` without storing the rows."""
        kernels.add_tfidf_scores(out, ids, offsets, self.idf_, self._scratch_array(), weights)

    def _add_scores_known(
        self,
        ids: NDArray[np.int64],
        offsets: NDArray[np.int64],
        weights: NDArray[np.float64],
        out: NDArray[np.float64],
        known: NDArray[np.float64],
    ) -> None:
        """:meth:`_add_scores`, and the known-content sums of
        :meth:`DocumentVectorizer.add_known_share` in the same pass."""
        kernels.add_tfidf_scores_known(
            out, ids, offsets, self.idf_, self._scratch_array(), weights,
            self._unknown_weight(), known,
        )  # fmt: skip

    def _unknown_weight(self) -> float:
        """What an n-gram outside the vocabulary weighs in :meth:`DocumentVectorizer.
        add_known_share`: the highest IDF (computed once per process, never pickled)."""
        weight = self.__dict__.get("_unknown_weight_value")
        if weight is None:
            weight = float(self.idf_.max()) if self.idf_.size else 0.0
            self.__dict__["_unknown_weight_value"] = weight
        return float(weight)

    def __getstate__(self) -> dict[str, Any]:
        # A copy: BaseEstimator hands out the object's own __dict__.
        state = dict(cast(dict[str, Any], super().__getstate__()))
        state.pop("_scratch", None)
        state.pop("_unknown_weight_value", None)
        return state


def _smooth_idf(document_frequency: NDArray[np.int64], n_docs: int) -> NDArray[np.float64]:
    return np.log((1.0 + n_docs) / (1.0 + document_frequency)) + 1.0


def _vocabulary(
    keys: NDArray[np.uint64], offsets: NDArray[np.int64], min_df: int
) -> tuple[NDArray[np.uint64], NDArray[np.float64]]:
    """Sorted keys seen in at least ``min_df`` documents, and their smoothed IDF.

    Document ``d`` holds ``keys[offsets[d]:offsets[d + 1]]``.
    """
    n_docs = offsets.size - 1
    doc_ids = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(offsets))
    order = np.lexsort((doc_ids, keys))
    keys, doc_ids = keys[order], doc_ids[order]
    first = np.ones(keys.size, dtype=bool)
    first[1:] = (keys[1:] != keys[:-1]) | (doc_ids[1:] != doc_ids[:-1])
    unique_keys, df = np.unique(keys[first], return_counts=True)
    keep = df >= min_df
    return unique_keys[keep], _smooth_idf(df[keep], n_docs)


def _codes(pieces: Sequence[str]) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
    """Code points of the pieces, concatenated, and where each piece starts and ends."""
    lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    joined = "".join(pieces).encode("utf-32-le", "surrogatepass")
    return np.frombuffer(joined, dtype=np.uint32), offsets


class KeyIndex:
    """Positions of uint64 keys in a vocabulary: a compiled hash table, built once per process.

    A lookup is a few probes in compiled code (:func:`nlp.kernels.lookup`). The table is
    rebuilt after unpickling; only the keys are stored.
    """

    def __init__(self, keys: NDArray[np.uint64]) -> None:
        self.keys = np.ascontiguousarray(keys, dtype=np.uint64)
        self._table: tuple[NDArray[np.uint64], int] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"keys": self.keys}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.keys, self._table = state["keys"], None

    def __len__(self) -> int:
        return int(self.keys.size)

    def lookup(self, keys: NDArray[np.uint64]) -> NDArray[np.int64]:
        """Position of each key, -1 where it is not in the vocabulary."""
        if self._table is None:
            self._table = kernels.build_table(self.keys)
        table, shift = self._table
        return kernels.lookup(table, shift, np.ascontiguousarray(keys, dtype=np.uint64))


def _check_range(name: str, value: tuple[int, int], maximum: int) -> None:
    low, high = value
    if not 1 <= low <= high <= maximum:
        raise DataError(f"{name} must satisfy 1 <= low <= high <= {maximum}, got {value}")


class CharNgramVectorizer(_Counting, TransformerMixin, BaseEstimator):
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

    def _keys(self, docs: Sequence[str]) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
        """Keys of every document's n-grams, and where each document's keys start and end."""
        limit = self.max_chars
        if self.word_bounded:
            pieces = [f" {doc[:limit]} " if doc else "" for doc in docs]
        else:
            pieces = [doc[:limit] for doc in docs]
        codes, offsets = _codes(pieces)
        low, high = self.ngram_range
        return kernels.char_keys(codes, offsets, low, high, self.word_bounded)

    def fit(self, X: Iterable[str], y: Any = None) -> CharNgramVectorizer:
        _check_range("ngram_range", self.ngram_range, 3)
        self.vocabulary_keys_, self.idf_ = _vocabulary(*self._keys(list(X)), self.min_df)
        self.vocabulary_ = KeyIndex(self.vocabulary_keys_)
        return self

    def _feature_ids(self, docs: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        require_fitted(self, "idf_")
        keys, offsets = self._keys(docs)
        return self.vocabulary_.lookup(keys), offsets

    def weights(self, docs: Sequence[str]) -> SparseRows:
        return self._rows(*self._feature_ids(docs))

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        return self.weights(list(X)).tocsr()

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        require_fitted(self, "idf_")
        names = []
        for key in self.vocabulary_keys_.tolist():
            chars = []
            while key:
                chars.append(chr(key & _MASK))
                key >>= _BITS
            names.append("".join(reversed(chars)))
        return np.asarray(names, dtype=object)


def token_hashes(tokens: Iterable[str]) -> NDArray[np.uint64]:
    """A 64-bit hash of each token (:func:`nlp.kernels.token_hashes`).

    Word lookups then run in the same compiled hash table as character n-grams instead of
    a Python dict.
    """
    tokens = list(tokens)
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    joined = (_TOKEN_END.join(tokens) + _TOKEN_END).encode("utf-32-le", "surrogatepass")
    return kernels.token_hashes(np.frombuffer(joined, dtype=np.uint32))


def _hashes(docs: Sequence[Sequence[str]]) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """:func:`token_hashes` of every token of ``docs``, and where each document's start."""
    lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return token_hashes(chain.from_iterable(docs)), offsets


@cache
def _placeholder_hashes(placeholders: tuple[str, ...]) -> NDArray[np.uint64]:
    return token_hashes(placeholders)


def _chunk_hashes(
    segmenter: Segmenter, docs: Sequence[str]
) -> tuple[NDArray[np.uint64], NDArray[np.int64]] | None:
    """Like ``_hashes([segmenter.cut(doc) for doc in docs])`` from one tokenizer call for the
    whole chunk; None when the chunk must be cut doc by doc."""
    tokens = segmenter.cut_chunk(docs)
    if tokens is None:
        return None
    hashes, offsets = _kept_token_hashes(tokens, len(docs), segmenter.rule)
    return None if offsets[0] < 0 else (hashes, offsets)


def _kept_token_hashes(
    tokens: Sequence[str], n_docs: int, rule: TokenRule
) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """:func:`token_hashes` of the ``tokens`` that ``rule`` keeps, split into ``n_docs``
    documents by ``rule.document_end`` tokens, in compiled code that reads the rule's tables
    (:func:`nlp.kernels.chunk_token_hashes`); the offsets are -1 when there are not
    ``n_docs`` documents."""
    joined = (_TOKEN_END.join(tokens) + _TOKEN_END).encode("utf-32-le", "surrogatepass")
    return kernels.chunk_token_hashes(
        np.frombuffer(joined, dtype=np.uint32),
        n_docs,
        ord(rule.document_end),
        rule.dropped_alone,
        rule.white_space,
        rule.first_private_use,
        _placeholder_hashes(rule.placeholders),
    )


class WordNgramVectorizer(_Counting, TransformerMixin, BaseEstimator):
    """TF-IDF over word unigrams and bigrams of segmented text.

    Takes lists of tokens (see :class:`DocumentVectorizer`, which segments). A bigram is kept
    only when both of its words are in the unigram vocabulary, which ``min_df`` guarantees
    for every bigram frequent enough to keep.
    """

    def __init__(self, *, ngram_range: tuple[int, int] = (1, 2), min_df: int = 2) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df

    @staticmethod
    def _ids(
        docs: Sequence[Sequence[str]], vocabulary: KeyIndex
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Word id (-1 when unknown) of every token, and where each document's ids start."""
        hashes, offsets = _hashes(docs)
        return vocabulary.lookup(hashes), offsets

    def fit(self, X: Iterable[Sequence[str]], y: Any = None) -> WordNgramVectorizer:
        _check_range("ngram_range", self.ngram_range, 2)
        docs = list(X)
        tokens = sorted({token for doc in docs for token in doc})
        ids, offsets = self._ids(docs, KeyIndex(token_hashes(tokens)))
        words, word_idf = _vocabulary(ids.astype(np.uint64), offsets, self.min_df)
        self.words_ = [tokens[i] for i in words.tolist()]
        self.word_index_ = KeyIndex(token_hashes(self.words_))
        low, high = self.ngram_range
        if high >= 2:
            ids, offsets = self._ids(docs, self.word_index_)
            pairs = kernels.pair_keys(ids, offsets, len(self.words_))
            self.bigram_keys_, bigram_idf = _vocabulary(*pairs, self.min_df)
        else:
            self.bigram_keys_, bigram_idf = np.zeros(0, np.uint64), np.zeros(0)
        self.bigrams_ = KeyIndex(self.bigram_keys_)
        if low > 1:  # bigrams only: the word ids are still needed to build them
            word_idf = np.zeros(0)
        self.n_unigrams_ = word_idf.size
        self.idf_ = np.concatenate([word_idf, bigram_idf])
        return self

    def weights(self, docs: Sequence[Sequence[str]]) -> SparseRows:
        return self.weights_of_hashes(*_hashes(docs))

    def weights_of_hashes(
        self, hashes: NDArray[np.uint64], offsets: NDArray[np.int64]
    ) -> SparseRows:
        """Rows of documents given as :func:`token_hashes` of their tokens, document ``d``
        being ``hashes[offsets[d]:offsets[d + 1]]``."""
        return self._rows(*self._feature_ids(hashes, offsets))

    def _feature_ids(
        self, hashes: NDArray[np.uint64], offsets: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Unigram then bigram feature ids of each document, from its token hashes."""
        require_fitted(self, "idf_")
        ids = self.word_index_.lookup(hashes)
        if not self.bigram_keys_.size:
            return ids, offsets
        pair_keys, pair_offsets = kernels.pair_keys(ids, offsets, len(self.words_))
        if not self.n_unigrams_:  # bigrams only
            ids, offsets = np.zeros(0, np.int64), np.zeros(offsets.size, np.int64)
        return kernels.merge_rows(
            ids, offsets, self.bigrams_.lookup(pair_keys), pair_offsets, self.n_unigrams_
        )

    def transform(self, X: Iterable[Sequence[str]]) -> sp.csr_matrix:
        return self.weights(list(X)).tocsr()

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        require_fitted(self, "idf_")
        n_words = len(self.words_)
        names = self.words_[: self.n_unigrams_] if self.n_unigrams_ else []
        bigrams = [
            f"{self.words_[k // n_words]} {self.words_[k % n_words]}"
            for k in self.bigram_keys_.tolist()
        ]
        return np.asarray(list(names) + bigrams, dtype=object)


# Feature ids of a chunk of documents and where each document's start.
_Ids = tuple[NDArray[np.int64], NDArray[np.int64]]


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

    A line break separates a document's fields (title, then body: :mod:`nlp.documents`).
    With ``fields="mean"`` each field is vectorised on its own and the document's row is the
    mean of its fields' rows, so a ticket with a title and a body scores what its title and
    its body score alone, averaged: that is how the training rows (titles alone, bodies alone)
    were seen, and the mean keeps the margins on the scale the calibration was fitted on.
    ``"sum"`` adds the rows (as accurate, but overconfident on two fields); ``"joined"``
    reads the fields as one text (models saved before the option). Grouped cross-validation
    chose ``"mean"`` (``bench/accuracy.py --sections cv-grid``).
    """

    #: Models pickled before the option existed joined the fields.
    fields: Fields = "joined"

    def __init__(
        self,
        *,
        segmenter: Backend = "rjieba",
        user_dict: str | None = BUILTIN,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (1, 3),
        min_df: int = 2,
        max_chars: int = 300,
        max_segment_chars: int = 500,
        char_source: Literal["text", "words"] = "text",
        fields: Fields = "mean",
    ) -> None:
        self.segmenter = segmenter
        self.user_dict = user_dict
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_chars = max_chars
        self.max_segment_chars = max_segment_chars
        self.char_source = char_source
        self.fields = fields

    @property
    def segmenter_(self) -> Segmenter:
        tokenizer = self.__dict__.get("_segmenter")
        if tokenizer is None:
            tokenizer = Segmenter(backend=self.segmenter, user_dict=self.user_dict)
            self.__dict__["_segmenter"] = tokenizer
        return tokenizer

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a copy: the object keeps its tokenizer
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
            raise DataError(f"char_source must be 'words' or 'text', got {self.char_source!r}")
        if self.fields not in FIELDS:
            raise DataError(f"fields must be one of {', '.join(FIELDS)}, got {self.fields!r}")
        docs, starts = self._fields_of(list(X))
        self.words_ = WordNgramVectorizer(ngram_range=self.word_ngram_range, min_df=self.min_df)
        self.chars_ = CharNgramVectorizer(
            ngram_range=self.char_ngram_range,
            min_df=self.min_df,
            max_chars=self.max_chars,
            word_bounded=self.char_source == "words",
        )
        tokens = self.segment(docs)
        self.words_.fit(tokens)
        char_input = self._char_input(tokens, docs)
        self.chars_.fit(char_input)
        words, chars = self.words_.weights(tokens), self.chars_.weights(char_input)
        return _stack(self._combine(words, starts), self._combine(chars, starts))

    def _combine(self, rows: SparseRows, starts: NDArray[np.int64] | None) -> SparseRows:
        return _combine_fields(rows, starts, mean=self.fields == "mean")

    def _fields_of(self, docs: Sequence[str]) -> tuple[Sequence[str], NDArray[np.int64] | None]:
        """The texts to vectorise, and where each document's fields start among them (None:
        one text per document)."""
        if not any("\n" in doc for doc in docs):
            return docs, None
        if self.fields == "joined":
            return [doc.replace("\n", " ") for doc in docs], None
        pieces = [doc.split("\n") for doc in docs]
        starts = np.zeros(len(pieces) + 1, dtype=np.int64)
        np.cumsum([len(fields) for fields in pieces], out=starts[1:])
        return list(chain.from_iterable(pieces)), starts

    @property
    def n_word_features_(self) -> int:
        """Columns ``[0, n_word_features_)`` are word n-grams; the rest character n-grams."""
        return int(self.words_.idf_.size)

    def _char_input(self, tokens: list[list[str]], docs: Sequence[str]) -> Sequence[str]:
        if self.char_source == "words":
            return [" ".join(words) for words in tokens]
        return docs

    def _feature_ids(self, docs: Sequence[str]) -> tuple[_Ids, _Ids]:
        """Word and character feature ids of each document, with per-document offsets.

        When the character n-grams come from the text itself, the words of the whole chunk
        are cut in one tokenizer call and never become Python lists per document.
        """
        require_fitted(self, "chars_")
        hashed = None
        if self.char_source == "text":
            limit = self.max_segment_chars
            hashed = _chunk_hashes(self.segmenter_, [doc[:limit] for doc in docs])
        if hashed is None:
            tokens = self.segment(docs)
            hashed = _hashes(tokens)
            docs = self._char_input(tokens, docs)
        return self.words_._feature_ids(*hashed), self.chars_._feature_ids(docs)

    def weights(self, docs: Sequence[str]) -> tuple[SparseRows, SparseRows]:
        """Word and character blocks; character columns start at :attr:`n_word_features_`."""
        texts, starts = self._fields_of(docs)
        words, chars = self._feature_ids(texts)
        return (
            self._combine(self.words_._rows(*words), starts),
            self._combine(self.chars_._rows(*chars), starts),
        )

    def add_scores(
        self,
        docs: Sequence[str],
        weights: NDArray[np.float64],
        out: NDArray[np.float64],
        *,
        known: NDArray[np.float64] | None = None,
    ) -> None:
        """``out += self.transform(docs) @ weights`` (a dense ``n_features x k`` matrix),
        without storing the feature rows. ``known`` (``len(docs) x 2``), when given, gets
        :meth:`add_known_share`'s sums from the same pass (a document's over all its fields)."""
        texts, starts = self._fields_of(docs)
        words, chars = self._feature_ids(texts)
        n_words = self.n_word_features_
        scores, found = out, known
        if starts is not None:
            scores = np.zeros((len(texts), out.shape[1]))
            found = None if known is None else np.zeros((len(texts), 2))
        if found is None:
            self.words_._add_scores(*words, weights[:n_words], scores)
            self.chars_._add_scores(*chars, weights[n_words:], scores)
        else:
            self.words_._add_scores_known(*words, weights[:n_words], scores, found)
            self.chars_._add_scores_known(*chars, weights[n_words:], scores, found)
        if starts is not None:  # every document has at least one field: no empty segment
            summed = np.add.reduceat(scores, starts[:-1], axis=0)
            out += summed / np.diff(starts)[:, None] if self.fields == "mean" else summed
            if known is not None and found is not None:
                known += np.add.reduceat(found, starts[:-1], axis=0)

    def add_known_share(self, docs: Sequence[str], known: NDArray[np.float64]) -> None:
        """``known[d] += (IDF of the n-grams of document d the vocabulary knows, that plus
        the block's highest IDF for each unknown one)``: ``known[:, 0] / known[:, 1]`` is
        the share of a document that is known content (greetings and stop words weigh
        little, unseen n-grams much; see :mod:`nlp.scope`). Over all of a document's fields."""
        texts, starts = self._fields_of(docs)
        words, chars = self._feature_ids(texts)
        found = known if starts is None else np.zeros((len(texts), 2))
        kernels.add_known_share(*words, self.words_.idf_, self.words_._unknown_weight(), found)
        kernels.add_known_share(*chars, self.chars_.idf_, self.chars_._unknown_weight(), found)
        if starts is not None:
            known += np.add.reduceat(found, starts[:-1], axis=0)

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        return _stack(*self.weights(list(X)))

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        require_fitted(self, "chars_")
        return np.concatenate(
            [self.words_.get_feature_names_out(), self.chars_.get_feature_names_out()]
        )


def _combine_fields(
    rows: SparseRows, starts: NDArray[np.int64] | None, *, mean: bool
) -> SparseRows:
    """One row per document: the sum (or ``mean``) of the rows of its fields (``starts`` from
    :meth:`DocumentVectorizer._fields_of`; None: already one row per document)."""
    if starts is None:
        return rows
    n_docs = starts.size - 1
    per_doc = np.diff(starts)
    owner = np.repeat(np.arange(n_docs), per_doc)
    share = 1.0 / per_doc[owner] if mean else np.ones(owner.size)
    adder = sp.csr_matrix((share, (owner, np.arange(owner.size))), shape=(n_docs, owner.size))
    summed = (adder @ rows.tocsr()).tocsr()
    return SparseRows(
        summed.indptr.astype(np.int64),
        summed.indices.astype(np.int64),
        summed.data.astype(np.float64),
        rows.n_cols,
    )


def _stack(words: SparseRows, chars: SparseRows) -> sp.csr_matrix:
    return sp.hstack([words.tocsr(), chars.tocsr()], format="csr")
