"""The SQLite FTS5 backend: virtual tables inside `catalog.db`, ranked with weighted bm25.

Rows are inserted in static-rank order (most reviewed first), so rowid order is the order in which
`tiers` takes documents when a tier has more matches than its budget. The category is indexed as
one opaque token (weight 0) so a category restriction is a cheap posting-list intersection, and
each index has a table of document frequencies for planning.
"""

from __future__ import annotations

import sqlite3

from .documents import product_body
from .query import tokenize
from .tiers import SCORE_BUDGET, Tier, plan, ranked_pool

PRODUCTS, PAGES = "fts_products", "fts_pages"
TEXT_COLUMNS = {PRODUCTS: "{title brand body}", PAGES: "{title body}"}
DOC_FREQ = {PRODUCTS: "fts_df_products", PAGES: "fts_df_pages"}

_BUILD = f"""
DROP TABLE IF EXISTS {PRODUCTS};
DROP TABLE IF EXISTS {PAGES};
DROP TABLE IF EXISTS {DOC_FREQ[PRODUCTS]};
DROP TABLE IF EXISTS {DOC_FREQ[PAGES]};
CREATE VIRTUAL TABLE {PRODUCTS} USING fts5(id UNINDEXED, category, title, brand, body);
CREATE VIRTUAL TABLE {PAGES} USING fts5(id UNINDEXED, title, body);
INSERT INTO {PRODUCTS}({PRODUCTS}, rank) VALUES ('rank', 'bm25(0.0, 0.0, 3.0, 2.0, 1.0)');
INSERT INTO {PAGES}({PAGES}, rank) VALUES ('rank', 'bm25(0.0, 3.0, 1.0)');
INSERT INTO {PRODUCTS}(rowid, id, category, title, brand, body)
    SELECT row_number() OVER (ORDER BY review_count DESC, id), id, category_token(category),
           coalesce(title, ''), coalesce(brand, ''), product_body(description, specs_json)
    FROM products;
INSERT INTO {PAGES}(rowid, id, title, body)
    SELECT row_number() OVER (ORDER BY id), id, coalesce(title, ''), coalesce(text, '') FROM pages;
INSERT INTO {PRODUCTS}({PRODUCTS}) VALUES ('optimize');
INSERT INTO {PAGES}({PAGES}) VALUES ('optimize');
CREATE VIRTUAL TABLE temp.vocab_products USING fts5vocab(main, {PRODUCTS}, row);
CREATE VIRTUAL TABLE temp.vocab_pages USING fts5vocab(main, {PAGES}, row);
CREATE TABLE {DOC_FREQ[PRODUCTS]}(term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE {DOC_FREQ[PAGES]}(term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO {DOC_FREQ[PRODUCTS]} SELECT term, doc FROM temp.vocab_products;
INSERT INTO {DOC_FREQ[PAGES]} SELECT term, doc FROM temp.vocab_pages;
DROP TABLE temp.vocab_products;
DROP TABLE temp.vocab_pages;
"""


def category_token(category: str | None) -> str:
    """A category id as one FTS5 token that no other category id shares."""
    return "c" + (category or "").encode().hex()


def build_fts5(conn: sqlite3.Connection) -> None:
    """(Re)create the FTS5 tables from `products` and `pages` on a writable connection, and commit."""
    conn.create_function("product_body", 2, product_body, deterministic=True)
    conn.create_function("category_token", 1, category_token, deterministic=True)
    conn.executescript("BEGIN;" + _BUILD + "COMMIT;")


def _quoted(words: tuple[str, ...], joiner: str) -> str:
    return "(" + f" {joiner} ".join('"' + w.replace('"', '""') + '"' for w in words) + ")"


def match_expression(table: str, tier: Tier, category: str | None) -> str:
    """The FTS5 MATCH text for one tier: built only from quoted word tokens."""
    expr = f"{TEXT_COLUMNS[table]} : {_quoted(tier.match, 'AND' if tier.every else 'OR')}"
    if category is not None:
        expr = f'{{category}} : "{category_token(category)}" AND {expr}'
    return expr


class Fts5Index:
    """Queries the FTS5 tables through the caller's (possibly read-only, authorizer-guarded) connection."""

    def __init__(self, conn: sqlite3.Connection, score_budget: int = SCORE_BUDGET) -> None:
        names = (PRODUCTS, PAGES, *DOC_FREQ.values())
        found = conn.execute(f"SELECT count(*) FROM sqlite_master WHERE name IN ({', '.join('?' * len(names))})",
                             names).fetchone()[0]
        if found != len(names):
            raise FileNotFoundError("catalog has no FTS5 search index; build it with search backend 'fts5'")
        self._conn = conn
        self._budget = score_budget

    def _doc_freq(self, table: str, tokens: list[str]) -> dict[str, int]:
        sql = f"SELECT term, docs FROM {DOC_FREQ[table]} WHERE term IN ({', '.join('?' * len(tokens))})"
        return dict(self._conn.execute(sql, tokens).fetchall())

    def _search(self, table: str, query: str, limit: int, category: str | None) -> list[str]:
        tokens = tokenize(query)
        if not tokens:
            return []
        taken: list[int] = []  # rowids scored by earlier tiers

        def rank(tier: Tier, want: int, budget: int) -> tuple[list[str], int]:
            expr = match_expression(table, tier, category)
            fresh = f"rowid NOT IN ({', '.join('?' * len(taken))})"
            probe = f"SELECT rowid FROM {table} WHERE {table} MATCH ? AND {fresh} ORDER BY rowid LIMIT ?"
            rowids = [row[0] for row in self._conn.execute(probe, (expr, *taken, budget))]
            if not rowids:
                return [], 0
            sql = (f"SELECT id FROM {table} WHERE {table} MATCH ? AND rowid <= ? AND {fresh} "
                   "ORDER BY rank, rowid LIMIT ?")
            ids = [row[0] for row in self._conn.execute(sql, (expr, rowids[-1], *taken, want))]
            taken.extend(rowids)
            return ids, len(rowids)

        tiers = plan(tokens, self._doc_freq(table, tokens), self._budget)
        return ranked_pool(tiers, rank, limit, self._budget)

    def search(self, query: str, limit: int, category: str | None = None) -> list[str]:
        return self._search(PRODUCTS, query, limit, category)

    def search_pages(self, query: str, limit: int) -> list[str]:
        return self._search(PAGES, query, limit, None)

    def close(self) -> None:
        """The connection belongs to the caller; nothing to release."""
