"""Writing a catalog: the SQLite file through sqlite-utils, its content hash and its search index."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from itertools import chain, islice
from operator import itemgetter
from pathlib import Path
from typing import Any

from .tables import HIDDEN_TABLES, TABLES, canary

DB_FILE = "catalog.db"
HASHED_META_KEYS = ("generator_version", "source", "config_json")
SEARCH_BACKENDS = ("whoosh", "fts5")


def open_for_writing(out_dir: Path) -> Any:
    """A `sqlite_utils.Database` on `out_dir/catalog.db` with every table created, tuned for bulk loads."""
    import sqlite_utils

    from .tables import create_tables

    out_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(out_dir / DB_FILE)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    create_tables(db)
    return db


def insert_rows(db: Any, table: str, rows: Iterable[dict], batch_size: int = 5000) -> None:
    """Append rows, dicts with the keys of the first one, to a table in batches (one transaction per batch).

    Plain `executemany`: sqlite-utils' `insert_all` inspects every value for JSON conversion, which was a
    quarter of a world build. Values must already be SQLite types (str, int, float, bytes or None).
    """
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    columns = tuple(first)
    values = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    sql = f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in columns)}) VALUES ({', '.join('?' * len(columns))})"
    rows = chain([first], rows)
    while batch := list(islice(rows, batch_size)):
        odd = next((row for row in batch if len(row) != len(columns)), None)
        if odd is not None:
            raise ValueError(f"rows for {table} must all have the columns {list(columns)}; got {sorted(odd)}")
        with db.conn:
            db.conn.executemany(sql, map(values, batch))


def set_meta(db: Any, **values: str) -> None:
    db["meta"].upsert_all([{"key": k, "value": v} for k, v in values.items()], pk="key")


def _canonical(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def content_hash(db_path: Path) -> str:
    """sha256 over canonical rows of every table (sorted by key, fixed number formats), never file bytes."""
    digest = hashlib.sha256()
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        for name in sorted(TABLES):
            columns, pk, _ = TABLES[name]
            order = ", ".join([pk] if isinstance(pk, str) else pk)
            cols = ", ".join(columns)
            where = f" WHERE key IN ({', '.join('?' * len(HASHED_META_KEYS))})" if name == "meta" else ""
            params = HASHED_META_KEYS if name == "meta" else ()
            digest.update(f"#{name}\n".encode())
            for row in conn.execute(f"SELECT {cols} FROM {name}{where} ORDER BY {order}", params):
                digest.update(("\t".join(map(_canonical, row)) + "\n").encode())
    finally:
        conn.close()
    return digest.hexdigest()


def finalize_catalog(out_dir: Path, source: str, search_backend: str = "whoosh") -> str:
    """Record the source, build the search index, compute and store the content hash; return it."""
    if search_backend not in SEARCH_BACKENDS:
        raise ValueError(f"unknown search backend {search_backend!r}; valid: {', '.join(SEARCH_BACKENDS)}")
    from .search.build import build_search_index

    db = open_for_writing(out_dir)
    set_meta(db, source=source, search_backend=search_backend)
    with db.conn:
        for table in HIDDEN_TABLES:
            db.execute(f"UPDATE {table} SET canary = ?", [canary(table)])
    db.close()
    build_search_index(out_dir, search_backend)
    digest = content_hash(out_dir / DB_FILE)
    db = open_for_writing(out_dir)
    set_meta(db, content_hash=digest)
    db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    return digest
