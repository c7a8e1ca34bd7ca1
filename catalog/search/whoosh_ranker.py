"""Tier ranking over a Whoosh index: postings read once into arrays, BM25F computed with numpy.

Whoosh's own matchers walk postings and score documents one Python call at a time (a union of
words is a binary tree of matchers; each score reads the document's length from a file), which
made Whoosh search 1.7x slower than FTS5. Here a word's postings (document numbers and term
frequencies) are read once through `IndexReader.postings` and kept, least recently used first out,
up to `POSTINGS_CACHE` postings; document lengths are read once per document as they are first
needed. A tier's matches are then a numpy union or intersection, and scores are Whoosh's own
BM25F formula (`whoosh.scoring.bm25`, with the idf, average length, B and K1 of Whoosh's scorer
for the word), summed over the tier's words, which is the score Whoosh's matchers would give.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from whoosh.reading import TermNotFound
from whoosh.searching import Searcher

from .query import tokenize
from .tiers import Tier, plan, ranked_pool

POSTINGS_CACHE = 2_000_000  # postings kept in memory (8 bytes each)
_NONE = np.zeros(0, dtype=np.int32)


@dataclass(frozen=True)
class _Postings:
    """One word of one field: its documents in index order, their term frequencies, and its BM25F scorer's terms."""

    docs: np.ndarray  # int32, ascending
    frequencies: np.ndarray  # float32
    idf: float
    average_length: float
    b: float
    k1: float


class WhooshRanker:
    """Tiers over one open searcher with BM25F weighting (see `tiers`); `field` words may carry a prefix (the
    `scoped` field)."""

    def __init__(self, searcher: Searcher, budget: int) -> None:
        self.searcher = searcher
        self._reader = searcher.reader()
        self._id_column = self._reader.column_reader("id") if self._reader.has_column("id") else []  # none when empty
        self._budget = budget
        self._postings: OrderedDict[tuple[str, str], _Postings] = OrderedDict()
        self._cached = 0
        self._ids: list[str | None] = [None] * self._reader.doc_count_all()  # read from the id column as needed
        self._lengths: dict[str, np.ndarray] = {}  # field -> each document's length (-1: not read yet)

    def search(self, query: str, limit: int, field: str = "text", prefix: str = "") -> list[str]:
        tokens = tokenize(query)
        if not tokens:
            return []
        # Planned on catalog-wide frequencies, as FTS5 plans, so both score the same documents.
        tiers = plan(tokens, {t: self.searcher.doc_frequency("text", t) for t in tokens}, self._budget)
        taken = _NONE  # documents scored by earlier tiers

        def rank(tier: Tier, want: int, budget: int) -> tuple[list[str], int]:
            nonlocal taken
            words = [self._word(field, prefix + word) for word in tier.match]
            if tier.every:
                matches = words[0].docs
                for word in words[1:]:
                    matches = matches[_contains(word.docs, matches)]
            else:  # the union's first n documents are among the first n of each word
                matches = _sorted_unique(np.concatenate([w.docs[:budget + len(taken)] for w in words]))
            scored = matches[~_contains(taken, matches)][:budget]
            taken = _sorted_unique(np.concatenate([taken, scored]))
            scores = self._scores(field, words, scored)
            best = np.lexsort((scored, -scores))[:want]  # score descending, then index order
            return [self._id(int(docnum)) for docnum in scored[best]], len(scored)

        return ranked_pool(tiers, rank, limit, self._budget)

    def _id(self, docnum: int) -> str:
        found = self._ids[docnum]
        if found is None:
            found = self._ids[docnum] = self._id_column[docnum]
        return found

    def _word(self, field: str, term: str) -> _Postings:
        key = (field, term)
        found = self._postings.get(key)
        if found is not None:
            self._postings.move_to_end(key)
            return found
        docs, frequencies = [], []
        try:
            matcher = self._reader.postings(field, term)
        except TermNotFound:
            matcher = None
        while matcher is not None and matcher.is_active():
            docs.append(matcher.id())
            frequencies.append(matcher.weight())
            matcher.next()
        scorer = self.searcher.weighting.scorer(self.searcher, field, term) if docs else None
        found = _Postings(np.array(docs, dtype=np.int32), np.array(frequencies, dtype=np.float32),
                          scorer.idf if scorer else 0.0, scorer.avgfl if scorer else 1.0,
                          scorer.B if scorer else 0.0, scorer.K1 if scorer else 0.0)
        self._postings[key] = found
        self._cached += len(docs)
        while self._cached > POSTINGS_CACHE and len(self._postings) > 1:
            _, dropped = self._postings.popitem(last=False)
            self._cached -= len(dropped.docs)
        return found

    def _scores(self, field: str, words: list[_Postings], docs: np.ndarray) -> np.ndarray:
        """Each document's BM25F score summed over `words` (a word a document lacks adds nothing)."""
        lengths = self._lengths.setdefault(field, np.full(len(self._ids), -1.0))
        unknown = docs[lengths[docs] < 0]
        for docnum in unknown.tolist():
            lengths[docnum] = self._reader.doc_field_length(docnum, field, 1)
        length = lengths[docs]
        total = np.zeros(len(docs))
        for word in words:
            at, present = _find(word.docs, docs)
            if not present.any():
                continue
            tf = word.frequencies[at].astype(np.float64)
            # whoosh.scoring.bm25, term by term in the same order, on every document at once
            score = word.idf * ((tf * (word.k1 + 1)) / (tf + word.k1 * ((1 - word.b) + word.b * length / word.average_length)))
            total += np.where(present, score, 0.0)
        return total


def _find(sorted_docs: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of `docs` is (or would be) in the ascending array `sorted_docs`, and whether it is there."""
    if not len(sorted_docs):
        return np.zeros(len(docs), dtype=np.intp), np.zeros(len(docs), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_docs, docs), len(sorted_docs) - 1)
    return at, sorted_docs[at] == docs


def _contains(sorted_docs: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Which of `docs` are in the ascending array `sorted_docs`."""
    return _find(sorted_docs, docs)[1]


def _sorted_unique(docs: np.ndarray) -> np.ndarray:
    """`np.unique` by sorting (numpy's hash-based unique costs more on these small arrays)."""
    docs = np.sort(docs)
    return docs[np.concatenate(([True], docs[1:] != docs[:-1]))] if len(docs) else docs
