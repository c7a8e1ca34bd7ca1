"""The read API the env's tools use: standard `sqlite3`, read-only, and blind to hidden tables.

The connection carries an authorizer that denies every read of a `hidden_*` table, so no query
issued through a reader, however it is built, can reach the truth a report is graded against.
"""

from __future__ import annotations

import json
import sqlite3
from functools import cached_property
from pathlib import Path

from .models import (PRODUCT_SECTIONS, CatalogStats, CategoryInfo, HistoryEvent, Page, PageHit, Product,
                     ProductSummary, Review, ReviewPage, ReviewSort, SearchFilters, SearchResult, TaskInfo)
from .search import PageSearch, ProductSearch, open_search_index
from .store import DB_FILE
from .tables import HIDDEN_PREFIX

MAX_PAGE_SIZE = 50
_REVIEW_ORDER = {
    "helpful": "helpful_votes DESC, id",
    "recent": "date DESC, id",
    "rating_high": "rating DESC, helpful_votes DESC, id",
    "rating_low": "rating ASC, helpful_votes DESC, id",
}
_SUMMARY_COLUMNS = "id, title, brand, category, price_cents, rating, review_count"


class NotFound(LookupError):
    """An id that the catalog does not hold."""


def _deny_hidden(action: int, table: str | None, *_: object) -> int:
    if table is not None and table.startswith(HIDDEN_PREFIX):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _check_paging(page: int, page_size: int) -> None:
    if page < 1:
        raise ValueError(f"page must be 1 or more, got {page}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")


class CorruptCatalog(ValueError):
    """A catalog folder whose database or search index cannot be read."""


class CatalogReader:
    """Observable catalog data for one world folder (generated or imported)."""

    def __init__(self, catalog_dir: Path | str) -> None:
        self.dir = Path(catalog_dir)
        db_path = self.dir / DB_FILE
        if not db_path.exists():
            raise FileNotFoundError(f"no catalog at {self.dir} (expected {DB_FILE}); build one with `shopgym catalog build`")
        if db_path.is_dir():
            raise IsADirectoryError(f"{db_path} is a folder, not a catalog file")
        self.conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
        self.conn.set_authorizer(_deny_hidden)
        try:
            self.meta = dict(self.conn.execute("SELECT key, value FROM meta"))
            if "content_hash" not in self.meta:
                raise sqlite3.DatabaseError("it has no content hash (an unfinished build or import)")
            self._index = open_search_index(self.dir, self.conn, self.meta.get("search_backend", "whoosh"))
        except Exception as error:
            self.conn.close()
            raise CorruptCatalog(f"{db_path} is not a readable shopgym catalog ({' '.join(str(error).split())}); "
                                 "rebuild it with `shopgym catalog build --overwrite` or import it again") from error
        self._products = ProductSearch(self.conn, self._index)
        self._pages = PageSearch(self.conn, self._index)

    def close(self) -> None:
        self._index.close()
        self.conn.close()

    def __enter__(self) -> CatalogReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def content_hash(self) -> str:
        return self.meta["content_hash"]

    @cached_property
    def _categories(self) -> tuple[CategoryInfo, ...]:
        """Read once: the catalog is opened read-only, so its categories cannot change under the reader."""
        rows = self.conn.execute("SELECT id, name, department, noun, schema_json, aspects_json FROM categories ORDER BY id")
        return tuple(CategoryInfo(id=r[0], name=r[1], department=r[2], noun=r[3], attributes=json.loads(r[4]),
                                  aspects=json.loads(r[5])) for r in rows)

    @cached_property
    def _spec_names(self) -> dict[str, tuple[str, ...]]:
        return {c.id: tuple(sorted({a["name"] for a in c.attributes})) for c in self._categories}

    def categories(self) -> list[CategoryInfo]:
        """Every category with its public schema. The records are shared between calls (read once; copying
        them cost more than an env step): treat them as read-only."""
        return list(self._categories)

    def spec_names(self, category: str | None = None) -> list[str]:
        """Spec names of one category (all categories when None); unknown category raises NotFound."""
        if category is None:
            return sorted({name for names in self._spec_names.values() for name in names})
        if category not in self._spec_names:
            raise NotFound(f"no category {category!r}")
        return list(self._spec_names[category])

    def get_product(self, product_id: str, sections: list[str] | None = None) -> Product:
        """A product with the chosen sections (all by default: overview, specs, description, variants)."""
        wanted = set(sections or PRODUCT_SECTIONS)
        unknown = wanted - set(PRODUCT_SECTIONS)
        if unknown:
            raise ValueError(f"unknown sections {sorted(unknown)}; valid: {', '.join(PRODUCT_SECTIONS)}")
        row = self.conn.execute(f"SELECT {_SUMMARY_COLUMNS}, description, specs_json, variants_json FROM products "
                                "WHERE id = ?", (product_id,)).fetchone()
        if row is None:
            raise NotFound(f"no product with id {product_id!r}")
        return Product(
            **dict(zip(_SUMMARY_COLUMNS.split(", "), row[:7])),
            description=row[7] if "description" in wanted else None,
            specs=json.loads(row[8]) if "specs" in wanted else None,
            variants=json.loads(row[9]) if "variants" in wanted else None,
        )

    def product_summaries(self, product_ids: list[str]) -> list[ProductSummary]:
        """Summaries in the order asked; unknown ids raise NotFound naming them."""
        marks = ",".join("?" * len(product_ids))
        rows = {r[0]: r for r in self.conn.execute(
            f"SELECT {_SUMMARY_COLUMNS} FROM products WHERE id IN ({marks})", product_ids)}
        missing = [p for p in product_ids if p not in rows]
        if missing:
            raise NotFound(f"no product with id {', '.join(map(repr, missing))}")
        return [ProductSummary(**dict(zip(_SUMMARY_COLUMNS.split(", "), rows[p]))) for p in product_ids]

    def compare_products(self, product_ids: list[str], fields: list[str] | None = None) -> list[dict]:
        """One row per product: summary fields plus the chosen specs (all specs by default)."""
        if not 2 <= len(product_ids) <= 5:
            raise ValueError(f"compare 2 to 5 products, got {len(product_ids)}")
        out = []
        for product_id in product_ids:
            product = self.get_product(product_id, ["specs"])
            specs = product.specs or {}
            unknown = [f for f in fields or [] if f not in specs]
            if unknown:
                raise ValueError(f"{product_id} has no spec {unknown[0]!r}; its specs: {', '.join(sorted(specs))}")
            chosen = {f: specs[f] for f in fields} if fields else specs
            out.append({**product.model_dump(include=set(_SUMMARY_COLUMNS.split(", "))), "specs": chosen})
        return out

    def list_reviews(self, product_id: str, page: int = 1, page_size: int = 5, rating: int | None = None,
                     aspect: str | None = None, sort: ReviewSort = "helpful") -> ReviewPage:
        _check_paging(page, page_size)
        if sort not in _REVIEW_ORDER:
            raise ValueError(f"unknown review sort {sort!r}; valid: {', '.join(_REVIEW_ORDER)}")
        if rating is not None and not 1 <= rating <= 5:
            raise ValueError(f"rating filter must be 1 to 5, got {rating}")
        self.get_product(product_id, ["overview"])
        where, params = ["product_id = ?"], [product_id]
        if rating is not None:
            where.append("rating = ?")
            params.append(rating)
        if aspect:
            where.append("instr(aspects, ?) > 0")
            params.append(f",{aspect},")
        clause = " AND ".join(where)
        total = self.conn.execute(f"SELECT count(*) FROM reviews WHERE {clause}", params).fetchone()[0]
        rows = self.conn.execute(
            "SELECT id, product_id, author, rating, title, text, date, verified, helpful_votes, aspects FROM reviews "
            f"WHERE {clause} ORDER BY {_REVIEW_ORDER[sort]} LIMIT ? OFFSET ?",
            [*params, page_size, (page - 1) * page_size])
        reviews = [Review(id=r[0], product_id=r[1], author=r[2], rating=r[3], title=r[4], text=r[5], date=r[6],
                          verified=bool(r[7]), helpful_votes=r[8], aspects=[a for a in (r[9] or "").split(",") if a])
                   for r in rows]
        return ReviewPage(product_id=product_id, page=page, page_size=page_size, total=total, reviews=reviews)

    def get_page(self, page_id: str) -> Page:
        row = self.conn.execute("SELECT id, kind, category, title, text, date, author, product_ids_json FROM pages "
                                "WHERE id = ?", (page_id,)).fetchone()
        if row is None:
            raise NotFound(f"no page with id {page_id!r}")
        return Page(id=row[0], kind=row[1], category=row[2], title=row[3], text=row[4], date=row[5], author=row[6],
                    product_ids=json.loads(row[7]))

    def search_products(self, query: str, filters: SearchFilters | None = None, sort: str = "relevance",
                        page: int = 1, page_size: int = 10) -> SearchResult:
        _check_paging(page, page_size)
        return self._products.search(query, filters or SearchFilters(), sort, page, page_size)

    def search_pages(self, query: str, limit: int = 10) -> list[PageHit]:
        return self._pages.search(query, limit)

    def shopper_history(self, shopper_id: str) -> list[HistoryEvent]:
        """The observable behaviour of a shopper, oldest first (never their latent preferences)."""
        if self.conn.execute("SELECT 1 FROM shoppers WHERE id = ?", (shopper_id,)).fetchone() is None:
            raise NotFound(f"no shopper with id {shopper_id!r}")
        rows = self.conn.execute("SELECT seq, day, kind, category, product_id, query, text, price_cents "
                                 "FROM shopper_events WHERE shopper_id = ? ORDER BY seq", (shopper_id,))
        return [HistoryEvent(seq=r[0], day=r[1], kind=r[2], category=r[3], product_id=r[4], query=r[5], text=r[6],
                             price_cents=r[7]) for r in rows]

    def tasks(self, split: str | None = None) -> list[TaskInfo]:
        sql = "SELECT id, shopper_id, category, split, difficulty, truth_source FROM tasks"
        rows = self.conn.execute(sql + (" WHERE split = ? ORDER BY id" if split else " ORDER BY id"),
                                 (split,) if split else ())
        return [TaskInfo(id=r[0], shopper_id=r[1], category=r[2], split=r[3], difficulty=r[4], truth_source=r[5])
                for r in rows]

    def stats(self) -> CatalogStats:
        def count(table: str) -> int:
            return self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

        splits = dict(self.conn.execute("SELECT split, count(*) FROM tasks GROUP BY split ORDER BY split"))
        departments = self.conn.execute("SELECT count(DISTINCT department) FROM categories").fetchone()[0]
        return CatalogStats(
            content_hash=self.content_hash, generator_version=self.meta.get("generator_version", ""),
            source=self.meta.get("source", ""), products=count("products"), reviews=count("reviews"),
            pages=count("pages"), shoppers=count("shoppers"), tasks=count("tasks"), categories=count("categories"),
            departments=departments, splits=splits,
        )
