"""The Whoosh backend: two indexes (products, pages) under `DIR/whoosh/`, text fields only.

Each document has one searched `text` field: the words of the title three times, of the brand
twice, then of the body, so title and brand words weigh more under BM25F, as the FTS5 column
weights make them (three fields would triple the posting lists a query walks, and Whoosh walks
them in Python). Words are made by `query.words`, the same function that splits queries, and
handed to Whoosh as lists, so no Whoosh analyzer runs. Products also have a `scoped` field with every word prefixed by
the product's category, so a category restriction reads only that category's postings instead of
intersecting with a category list. Documents are added in static-rank order (most reviewed
first), so document numbers are the order in which `tiers` takes documents when a tier has more
matches than its budget. Ranking is `whoosh_ranker`: Whoosh's postings and BM25F, scored with numpy.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.fields import ID, TEXT, Schema
from whoosh.scoring import BM25F

from .query import words
from .tiers import SCORE_BUDGET
from .whoosh_ranker import WhooshRanker

WHOOSH_DIR = "whoosh"
PRODUCTS, PAGES = "products", "pages"
WRITER_LIMIT_MB = 512
TITLE_REPEAT, BRAND_REPEAT = 3, 2


def _schema(name: str) -> Schema:
    fields = {"id": ID(sortable=True), "text": TEXT(phrase=False)}
    if name == PRODUCTS:
        fields["scoped"] = TEXT(phrase=False)
    return Schema(**fields)


def scope(category: str) -> str:
    """The prefix of a category's words in the `scoped` field (hex, so no id can run into another)."""
    return category.encode().hex() + ":"


def _searched_words(doc: dict[str, str]) -> list[str]:
    title, brand = list(words(doc["title"])), list(words(doc.get("brand", "")))
    return title * TITLE_REPEAT + brand * BRAND_REPEAT + list(words(doc["body"]))


def build_whoosh(index_dir: Path, products: Iterable[dict[str, str]], pages: Iterable[dict[str, str]]) -> None:
    """(Re)create both indexes in `index_dir`, each written in one commit, documents in the given order.

    Products carry id, category, title, brand, body; pages id, title, body.
    """
    shutil.rmtree(index_dir, ignore_errors=True)
    index_dir.mkdir(parents=True)
    for name, docs in ((PRODUCTS, products), (PAGES, pages)):
        ix = whoosh_index.create_in(str(index_dir), _schema(name), indexname=name)
        writer = ix.writer(limitmb=WRITER_LIMIT_MB, procs=1, compound=False)  # compound files load into memory
        for doc in docs:
            searched = _searched_words(doc)
            fields: dict[str, str | list[str]] = {"id": doc["id"], "text": searched}
            if name == PRODUCTS:
                prefix = scope(doc["category"])
                fields["scoped"] = [prefix + word for word in searched]
            writer.add_document(**fields)
        writer.commit()
        ix.close()


class WhooshIndex:
    """Searchers opened once and kept for the life of the object."""

    def __init__(self, index_dir: Path, score_budget: int = SCORE_BUDGET) -> None:
        self._indexes = [whoosh_index.open_dir(str(index_dir), indexname=name) for name in (PRODUCTS, PAGES)]
        self._products, self._pages = (WhooshRanker(ix.searcher(weighting=BM25F()), score_budget)
                                       for ix in self._indexes)

    def search(self, query: str, limit: int, category: str | None = None) -> list[str]:
        if category is None:
            return self._products.search(query, limit)
        return self._products.search(query, limit, "scoped", scope(category))

    def search_pages(self, query: str, limit: int) -> list[str]:
        return self._pages.search(query, limit)

    def close(self) -> None:
        for ranker in (self._products, self._pages):
            ranker.searcher.close()
        for ix in self._indexes:
            ix.close()
