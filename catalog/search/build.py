"""Building a catalog's search index and opening it for queries."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ..store import DB_FILE, SEARCH_BACKENDS
from .documents import product_body
from .fts5_index import Fts5Index, build_fts5
from .protocol import SearchIndex
from .tiers import SCORE_BUDGET


def _check_backend(backend: str) -> None:
    if backend not in SEARCH_BACKENDS:
        raise ValueError(f"unknown search backend {backend!r}; valid: {', '.join(SEARCH_BACKENDS)}")


def _product_docs(conn: sqlite3.Connection) -> Iterator[dict[str, str]]:
    """Products in static-rank order (most reviewed first), as the FTS5 build orders its rowids."""
    sql = "SELECT id, category, title, brand, description, specs_json FROM products ORDER BY review_count DESC, id"
    for id_, category, title, brand, description, specs_json in conn.execute(sql):
        yield {"id": id_, "category": category or "", "title": title or "", "brand": brand or "",
               "body": product_body(description, specs_json)}


def _page_docs(conn: sqlite3.Connection) -> Iterator[dict[str, str]]:
    for id_, title, text in conn.execute("SELECT id, title, text FROM pages ORDER BY id"):
        yield {"id": id_, "title": title or "", "body": text or ""}


def build_search_index(out_dir: Path, backend: str) -> None:
    """Index the products and pages of `out_dir/catalog.db` with `backend` ("whoosh" or "fts5")."""
    _check_backend(backend)
    conn = sqlite3.connect(out_dir / DB_FILE)
    try:
        if backend == "fts5":
            build_fts5(conn)
        else:
            from .whoosh_index import WHOOSH_DIR, build_whoosh

            build_whoosh(out_dir / WHOOSH_DIR, _product_docs(conn), _page_docs(conn))
    finally:
        conn.close()


def open_search_index(out_dir: Path, conn: sqlite3.Connection, backend: str,
                      score_budget: int = SCORE_BUDGET) -> SearchIndex:
    """The built index of `backend`; FTS5 reads through `conn`, Whoosh from `out_dir/whoosh/`.

    `score_budget` bounds the documents one query scores (see `tiers`).
    """
    _check_backend(backend)
    if backend == "fts5":
        return Fts5Index(conn, score_budget)
    from .whoosh_index import WHOOSH_DIR, WhooshIndex

    return WhooshIndex(out_dir / WHOOSH_DIR, score_budget)
