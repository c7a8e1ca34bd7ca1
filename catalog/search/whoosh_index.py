"""The Whoosh backend: two indexes (products, pages) under `DIR/whoosh/`, text fields only.

Documents are added in static-rank order (most reviewed first), so document numbers are the order
in which `tiers` takes documents when a tier has more matches than its budget.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StopFilter
from whoosh.fields import ID, TEXT, Schema
from whoosh.query import And, AndMaybe, AndNot, Or, Query, Require, Term
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from .query import MAX_TOKEN_LEN, MIN_TOKEN_LEN, STOPWORDS, TOKEN_PATTERN, tokenize
from .tiers import SCORE_BUDGET, Tier, plan, ranked_pool

WHOOSH_DIR = "whoosh"
PRODUCTS, PAGES = "products", "pages"
WRITER_LIMIT_MB = 512
# Title words count most, then brand, then description and spec values; no stemming, no positions.
BOOSTS = {PRODUCTS: {"title": 3.0, "brand": 2.0, "body": 1.0}, PAGES: {"title": 3.0, "body": 1.0}}


def _text() -> TEXT:
    # The same tokens as `query.tokenize` makes from accent-folded text (documents are folded before indexing).
    analyzer = RegexTokenizer(TOKEN_PATTERN) | LowercaseFilter() | StopFilter(STOPWORDS, MIN_TOKEN_LEN, MAX_TOKEN_LEN)
    return TEXT(analyzer=analyzer, phrase=False)


def _schema(name: str) -> Schema:
    if name == PRODUCTS:
        return Schema(id=ID(stored=True), category=ID, title=_text(), brand=_text(), body=_text())
    return Schema(id=ID(stored=True), title=_text(), body=_text())


def build_whoosh(index_dir: Path, products: Iterable[dict[str, str]], pages: Iterable[dict[str, str]]) -> None:
    """(Re)create both indexes in `index_dir`, each written in one commit, documents in the given order."""
    shutil.rmtree(index_dir, ignore_errors=True)
    index_dir.mkdir(parents=True)
    for name, docs in ((PRODUCTS, products), (PAGES, pages)):
        ix = whoosh_index.create_in(str(index_dir), _schema(name), indexname=name)
        writer = ix.writer(limitmb=WRITER_LIMIT_MB, procs=1)
        for doc in docs:
            writer.add_document(**doc)
        writer.commit()
        ix.close()


class _Ranker:
    """Tiers over one open searcher."""

    def __init__(self, searcher: Searcher, boosts: dict[str, float], budget: int) -> None:
        self.searcher = searcher
        self._boosts = boosts
        self._budget = budget

    def _any(self, words: tuple[str, ...]) -> Query:
        return Or([Term(field, word, boost=boost) for word in words for field, boost in self._boosts.items()])

    def _query(self, tier: Tier, category: str | None) -> Query:
        if tier.every:
            query: Query = And([self._any((word,)) for word in tier.match])
        else:
            query = self._any(tier.match)
        if tier.also_score:
            query = AndMaybe(query, self._any(tier.also_score))
        excluded = [And([self._any((w,)) for w in tier.exclude_every])] if tier.exclude_every else []
        excluded += [self._any(tier.exclude_any)] if tier.exclude_any else []
        if excluded:
            query = AndNot(query, Or(excluded))
        if category is not None:
            query = Require(query, Term("category", category))
        return query

    def _rank(self, tier: Tier, want: int, budget: int, category: str | None) -> tuple[list[str], int]:
        matcher = self._query(tier, category).matcher(self.searcher, self.searcher.context())
        scored: list[tuple[float, int]] = []
        while matcher.is_active() and len(scored) < budget:
            scored.append((-matcher.score(), matcher.id()))
            matcher.next()
        scored.sort()
        return [self.searcher.stored_fields(docnum)["id"] for _, docnum in scored[:want]], len(scored)

    def search(self, query: str, limit: int, category: str | None = None) -> list[str]:
        tokens = tokenize(query)
        if not tokens:
            return []
        fields = list(self._boosts)
        doc_freq = {t: sum(self.searcher.doc_frequency(f, t) for f in fields) for t in tokens}
        tiers = plan(tokens, doc_freq, self._budget)
        return ranked_pool(tiers, lambda tier, want, budget: self._rank(tier, want, budget, category), limit,
                           self._budget)


class WhooshIndex:
    """Searchers opened once and kept for the life of the object."""

    def __init__(self, index_dir: Path, score_budget: int = SCORE_BUDGET) -> None:
        self._indexes = [whoosh_index.open_dir(str(index_dir), indexname=name) for name in (PRODUCTS, PAGES)]
        self._products, self._pages = (
            _Ranker(ix.searcher(weighting=BM25F()), BOOSTS[name], score_budget)
            for ix, name in zip(self._indexes, (PRODUCTS, PAGES))
        )

    def search(self, query: str, limit: int, category: str | None = None) -> list[str]:
        return self._products.search(query, limit, category)

    def search_pages(self, query: str, limit: int) -> list[str]:
        return self._pages.search(query, limit)

    def close(self) -> None:
        for ranker in (self._products, self._pages):
            ranker.searcher.close()
        for ix in self._indexes:
            ix.close()
