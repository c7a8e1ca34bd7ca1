"""Hybrid search: the text index ranks, SQLite filters, sorts and pages.

With query words the index returns the best `POOL` ids (within the category, when given) and one
SQL query keeps those that pass the filters. Without words (an empty query, or only stopwords and
punctuation) the category's columns in memory filter and sort (see columns.py), and SQLite only
fetches the page; values the columns cannot compare exactly go to SQL over the whole table, which
gives the same answer. All SQL is parametrised.
"""

from __future__ import annotations

import re
import sqlite3
from typing import get_args

from ..models import PageHit, ProductSort, ProductSummary, SearchFilters, SearchResult, SpecFilter
from .columns import SQL_INT_MAX, Columns, exact
from .protocol import SearchIndex
from .query import tokenize

POOL = 300
MAX_PAGE_SIZE = 50
MAX_PAGE_HITS = 50
SNIPPET_CHARS = 200
SPEC_NAME = re.compile(r"^[a-z0-9_]+$")
SORTS: tuple[str, ...] = get_args(ProductSort)
SUMMARY_COLUMNS = ("id", "title", "brand", "category", "price_cents", "rating", "review_count")
SUMMARY_SQL = ", ".join(SUMMARY_COLUMNS)
# Every order ends with the id, so equal keys still give one deterministic order (columns.SORT_KEYS
# says the same for the columns).
ORDER_BY = {
    "relevance": "review_count DESC, id",  # only without query words; with words the index order is kept
    "price_asc": "price_cents ASC NULLS LAST, id",
    "price_desc": "price_cents DESC NULLS LAST, id",
    "rating": "rating DESC, review_count DESC, id",
    "review_count": "review_count DESC, id",
}


def _check_paging(sort: str, page: int, page_size: int) -> None:
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; valid: {', '.join(SORTS)}")
    if page < 1:
        raise ValueError(f"page must be 1 or more, got {page}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")


def _spec_clause(spec: SpecFilter) -> tuple[str, list[object]]:
    """SQL over `specs_json` for one spec filter: text compares case-insensitively, booleans by JSON type,
    numbers by range; a filter with no condition asks only that the spec is present."""
    if not SPEC_NAME.match(spec.name):
        raise ValueError(
            f"invalid spec filter name {spec.name!r}: names must match ^[a-z0-9_]+$ "
            "(lowercase letters, digits and underscores, as in the category's spec list)"
        )
    path = f"$.{spec.name}"
    clauses: list[str] = []
    params: list[object] = []
    if isinstance(spec.equals, bool):
        clauses.append("json_type(specs_json, ?) = ?")
        params += [path, "true" if spec.equals else "false"]
    elif isinstance(spec.equals, str):
        clauses.append("json_extract(specs_json, ?) = ? COLLATE NOCASE")
        params += [path, spec.equals]
    elif spec.equals is not None:
        clauses.append("json_type(specs_json, ?) IN ('integer', 'real') AND json_extract(specs_json, ?) = ?")
        params += [path, path, spec.equals]
    for op, bound in ((">=", spec.min), ("<=", spec.max)):
        if bound is not None:
            clauses.append(f"json_type(specs_json, ?) IN ('integer', 'real') AND json_extract(specs_json, ?) {op} ?")
            params += [path, path, bound]
    if not clauses:
        clauses.append("json_type(specs_json, ?) <> 'null'")
        params.append(path)
    return " AND ".join(clauses), params


def _where(filters: SearchFilters, use_indexes: bool = True) -> tuple[str, list[object]]:
    """One WHERE condition (never empty) and its parameters for every filter set.

    Without `use_indexes` the columns are written `+col`, so that SQLite looks the pooled ids up by
    primary key instead of scanning a whole category through the (category, price) index.
    """
    clauses: list[str] = []
    params: list[object] = []
    col = "" if use_indexes else "+"
    for clause, value in (
        (f"{col}category = ?", filters.category),
        (f"{col}brand = ? COLLATE NOCASE", filters.brand),
        (f"{col}price_cents >= ?", filters.min_price_cents),
        (f"{col}price_cents <= ?", filters.max_price_cents),
        (f"{col}rating >= ?", filters.min_rating),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    for spec in filters.specs:
        clause, spec_params = _spec_clause(spec)
        clauses.append(clause)
        params += spec_params
    return " AND ".join(clauses) or "1", params


class ProductSearch:
    """`search_products` over one catalog connection and its text index."""

    def __init__(self, conn: sqlite3.Connection, index: SearchIndex) -> None:
        self._conn = conn
        self._index = index
        self._columns: dict[str | None, Columns | None] = {}

    def search(
        self, query: str, filters: SearchFilters, sort: str = "relevance", page: int = 1, page_size: int = 10
    ) -> SearchResult:
        """One page of products matching any query word (or all, without words) that pass `filters`.

        Raises ValueError for an unknown sort, a bad page or page size, or an invalid spec name.
        """
        _check_paging(sort, page, page_size)
        tokens = tokenize(query)
        where, params = _where(filters, use_indexes=not tokens)
        offset = (page - 1) * page_size
        if tokens:
            total, rows = self._text_page(query, filters.category, where, params, sort, offset, page_size)
        else:
            total, rows = (self._columns_page(filters, sort, offset, page_size)
                           or self._sql_page(where, params, sort, offset, page_size))
        return SearchResult(
            query=" ".join(tokens),
            total=total,
            page=page,
            page_size=page_size,
            products=[ProductSummary(**dict(zip(SUMMARY_COLUMNS, row))) for row in rows],
        )

    def _text_page(self, query: str, category: str | None, where: str, params: list[object], sort: str,
                   offset: int, page_size: int) -> tuple[int, list[tuple]]:
        """Total and page rows among the index's best `POOL` matches of `query`."""
        ids = self._index.search(query, POOL, category)
        order = "" if sort == "relevance" else f" ORDER BY {ORDER_BY[sort]}"
        sql = f"SELECT {SUMMARY_SQL} FROM products WHERE id IN ({', '.join('?' * len(ids))}) AND {where}{order}"
        rows = self._conn.execute(sql, [*ids, *params]).fetchall() if ids else []
        if sort == "relevance":
            rank = {id_: i for i, id_ in enumerate(ids)}
            rows.sort(key=lambda row: rank[row[0]])
        return len(rows), rows[offset : offset + page_size]

    def _sql_page(self, where: str, params: list[object], sort: str, offset: int,
                  page_size: int) -> tuple[int, list[tuple]]:
        """Total and page rows by SQL over the whole table: what the columns reproduce."""
        total = self._conn.execute(f"SELECT count(*) FROM products WHERE {where}", params).fetchone()[0]
        sql = f"SELECT {SUMMARY_SQL} FROM products WHERE {where} ORDER BY {ORDER_BY[sort]} LIMIT ? OFFSET ?"
        return total, self._conn.execute(sql, [*params, page_size, offset]).fetchall()

    def _columns_page(self, filters: SearchFilters, sort: str, offset: int,
                      page_size: int) -> tuple[int, list[tuple]] | None:
        """Total and page rows from the category's columns, or None where only SQL answers exactly."""
        if offset > SQL_INT_MAX or not exact(filters):
            return None
        columns = self._scope(filters.category)
        hits = columns.search(filters, sort) if columns is not None else None
        if hits is None:
            return None
        rowids = columns.rowids[hits[offset : offset + page_size]].tolist()
        if not rowids:
            return len(hits), []
        sql = f"SELECT rowid, {SUMMARY_SQL} FROM products WHERE rowid IN ({', '.join('?' * len(rowids))})"
        found = {row[0]: row[1:] for row in self._conn.execute(sql, rowids)}
        return len(hits), [found[rowid] for rowid in rowids]

    def _scope(self, category: str | None) -> Columns | None:
        """The columns of `category` (of all products for None), loaded once; an empty scope is not kept."""
        if category in self._columns:
            return self._columns[category]
        columns = Columns.load(self._conn, category)
        if columns is None or len(columns):
            self._columns[category] = columns
        return columns


def snippet(text: str, tokens: list[str], width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of `text` on one line, starting shortly before the first query word."""
    flat = " ".join(text.split())
    found = re.search("|".join(rf"(?<![^\W_]){re.escape(t)}(?![^\W_])" for t in tokens), flat, re.I) if tokens else None
    start = 0
    if found and found.start() > width // 4:
        start = flat.find(" ", found.start() - width // 4) + 1
    end = start + width
    if end >= len(flat):
        return ("..." if start else "") + flat[start:]
    cut = flat.rfind(" ", start, end)
    return ("..." if start else "") + flat[start : cut if cut > start else end] + "..."


class PageSearch:
    """`search_web` over the catalog's pages."""

    def __init__(self, conn: sqlite3.Connection, index: SearchIndex) -> None:
        self._conn = conn
        self._index = index

    def search(self, query: str, limit: int = 10) -> list[PageHit]:
        """Up to `limit` pages matching any query word, best first, each with a snippet."""
        if not 1 <= limit <= MAX_PAGE_HITS:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_HITS}, got {limit}")
        ids = self._index.search_pages(query, limit)
        if not ids:
            return []
        sql = f"SELECT id, kind, title, text FROM pages WHERE id IN ({', '.join('?' * len(ids))})"
        rows = {row[0]: row for row in self._conn.execute(sql, ids)}
        tokens = tokenize(query)
        return [
            PageHit(id=id_, kind=rows[id_][1], title=rows[id_][2], snippet=snippet(rows[id_][3] or "", tokens))
            for id_ in ids
            if id_ in rows
        ]
