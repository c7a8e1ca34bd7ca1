"""`import_catalog`: stream a real dump into the catalog store, resumably, then make observable tasks.

Each batch of rows is committed in one transaction together with the rejects of that batch and
the file's progress row (fingerprint, records done, last line), in private tables
`import_progress` and `import_rejects` that are not part of the catalog layout (so they never
touch the content hash). Rerunning the same command after a kill skips what is committed and
goes on; a changed input file or configuration refuses with `ImportConfigChanged`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from tqdm import tqdm

from ..store import DB_FILE, finalize_catalog, open_for_writing
from ..tables import TABLES
from . import readers
from .formats import FORMATS, FieldMapping, amazon_product, amazon_review, mapped_product, webshop_item
from .rows import BadRow
from .tasks import finish_import

IMPORTER_VERSION = "shopgym-import/1"
DEFAULT_BATCH_SIZE = 2000
MAX_REPORTED_REJECTS = 10_000
PROGRESS_TABLE = "import_progress"
REJECTS_TABLE = "import_rejects"
ROLE_ORDER = {"meta": 0, "products": 0, "reviews": 1}

_PRIVATE_DDL = f"""
CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (
    role TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    config_json TEXT NOT NULL,
    records_done INTEGER NOT NULL,
    last_line INTEGER NOT NULL,
    rows_read INTEGER NOT NULL,
    done INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS {REJECTS_TABLE} (
    seq INTEGER PRIMARY KEY,
    role TEXT NOT NULL,
    line INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {REJECTS_TABLE}_by_line ON {REJECTS_TABLE} (role, line);
"""


class ImportConfigChanged(ValueError):
    """The output folder holds an import started from other inputs or settings; it will not be mixed."""


class ImportCounts(BaseModel):
    products: int = 0
    reviews: int = 0
    tasks: int = 0


class RejectedRow(BaseModel):
    file: str
    line: int
    reason: str


class ImportReport(BaseModel):
    format: str
    imported: ImportCounts
    rejected: list[RejectedRow] = Field(description=f"the first {MAX_REPORTED_REJECTS} rejects, in file order")
    rejected_count: int = Field(description="all rejected rows (imported + rejected_count == rows_read)")
    rows_read: int = Field(description="non-blank records read: product rows plus review rows")
    bad_rate: float
    max_bad_rate: float
    exceeded_max_bad_rate: bool
    content_hash: str
    out_dir: str


def _on_batch_committed(role: str, records_done: int) -> None:
    """Called after every committed batch; a seam for tests that simulate a kill."""


@dataclass
class _Source:
    role: str
    path: Path
    read: Callable[[Path, int], Iterator[readers.Record]]


@dataclass
class _Batch:
    products: list[dict] = field(default_factory=list)
    reviews: list[dict] = field(default_factory=list)  # each with "_line" for rejects of unknown products
    categories: dict[str, str] = field(default_factory=dict)  # id -> name, of the products kept
    rejects: list[tuple[int, str]] = field(default_factory=list)
    orphans: set[tuple[str, int]] = field(default_factory=set)  # (id, line) of duplicate products
    rows: int = 0
    records_done: int = 0
    last_line: int = 0

    def size(self) -> int:
        return len(self.products) + len(self.reviews) + len(self.rejects)


def _columns(table: str) -> list[str]:
    return list(TABLES[table][0])


_PRODUCT_COLS = _columns("products")
_REVIEW_COLS = _columns("reviews")


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    if conn.in_transaction:
        conn.commit()
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def _config(fmt: str, sources: list[_Source], mapping: FieldMapping | None) -> dict[str, Any]:
    return {
        "importer": IMPORTER_VERSION,
        "format": fmt,
        "inputs": sorted(s.role for s in sources),
        "mapping": mapping.model_dump() if mapping else None,
    }


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _sources(fmt: str, meta: Path | None, reviews: Path | None, products: Path | None,
             mapping: FieldMapping | None) -> list[_Source]:
    given = {"meta": meta, "reviews": reviews, "products": products}
    allowed = {"amazon2023": ({"meta"}, {"reviews"}), "webshop": ({"products"}, set()),
               "mapped": ({"products"}, set())}[fmt]
    required, optional = allowed
    for role, path in given.items():
        if path is not None and role not in required | optional:
            raise ValueError(f"format {fmt!r} takes no --{role} file (it reads: "
                             f"{', '.join('--' + r for r in sorted(required | optional))})")
    for role in required:
        if given[role] is None:
            raise ValueError(f"format {fmt!r} needs --{role}")
    for role, path in given.items():
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"--{role} {path}: no such file")
    if fmt == "amazon2023":
        out = [_Source("meta", Path(meta), readers.iter_jsonl)]  # type: ignore[arg-type]
        if reviews is not None:
            out.append(_Source("reviews", Path(reviews), readers.iter_jsonl))
        return out
    if fmt == "webshop":
        return [_Source("products", Path(products), readers.iter_json_array)]  # type: ignore[arg-type]
    path = Path(products)  # type: ignore[arg-type]
    if readers.looks_like_csv(path):
        header = readers.csv_header(path)
        missing = [c for c in (mapping.columns() if mapping else []) if c not in header]
        if missing:
            raise ValueError(f"mapping names columns missing from {path}'s header: {', '.join(missing)} "
                             f"(header: {', '.join(header)})")
        return [_Source("products", path, readers.iter_csv)]
    return [_Source("products", path, readers.iter_jsonl)]


def _load_mapping(mapping: Path | None, fmt: str) -> FieldMapping | None:
    if fmt != "mapped":
        if mapping is not None:
            raise ValueError(f"format {fmt!r} takes no --mapping file")
        return None
    if mapping is None:
        raise ValueError("format 'mapped' needs --mapping (a JSON object: our field -> source column)")
    try:
        return FieldMapping.model_validate_json(Path(mapping).read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise ValueError(f"--mapping {mapping}: {exc}") from exc


def _refuse_foreign_catalog(out_dir: Path) -> None:
    """A catalog no import started (a generated world, say) is refused before anything is written to it."""
    path = out_dir / DB_FILE
    if not path.is_file():
        return
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
    if "products" in tables and PROGRESS_TABLE not in tables:
        raise ImportConfigChanged(f"{path} already holds a catalog that no import started; import into an empty folder")


def _check_resume(conn: sqlite3.Connection, out_dir: Path, config_json: str, config_hash: str,
                  sources: list[_Source], fingerprints: dict[str, str]) -> dict[str, tuple]:
    """The committed progress per role; raises ImportConfigChanged when inputs or settings differ."""
    rows = conn.execute(f"SELECT role, fingerprint, config_hash, config_json, records_done, last_line, rows_read, "
                        f"done FROM {PROGRESS_TABLE}").fetchall()
    if not rows:
        used = [t for t in ("products", "reviews", "pages", "shoppers")
                if conn.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()]
        if used:
            raise ImportConfigChanged(
                f"{out_dir / DB_FILE} already holds a catalog ({', '.join(used)}) that no import started; "
                "import into an empty folder")
        return {}
    for role, fingerprint, stored_hash, stored_json, *_ in rows:
        if stored_hash != config_hash:
            raise ImportConfigChanged(
                f"{out_dir / DB_FILE} holds an import started with another configuration:\n"
                f"  then: {stored_json}\n  now:  {config_json}\n"
                "rerun with the original settings, or import into a new folder")
        if role in fingerprints and fingerprint != fingerprints[role]:
            path = next(s.path for s in sources if s.role == role)
            raise ImportConfigChanged(
                f"--{role} {path} is not the file this import started from (size or content changed: "
                f"fingerprint was {fingerprint}, now {fingerprints[role]}); rerun with the original file, "
                "or import into a new folder")
    return {row[0]: row for row in rows}


def _stored_product_ids(conn: sqlite3.Connection, ids: list[str]) -> set[str]:
    """Which of `ids` the products table already holds (queried in chunks of 500)."""
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found.update(r[0] for r in conn.execute(
            f"SELECT id FROM products WHERE id IN ({','.join('?' * len(chunk))})", chunk))
    return found


def _flush(conn: sqlite3.Connection, source: _Source, batch: _Batch, config_hash: str, config_json: str,
           fingerprint: str, done: bool) -> None:
    """Commit one batch with its rejects and the progress row in one transaction."""
    with _transaction(conn):
        if batch.products:
            existing = _stored_product_ids(conn, [p["id"] for p in batch.products])
            keep = []
            for product in batch.products:
                if product["id"] in existing:
                    batch.rejects.append((product["_line"], f"duplicate product id {product['id']!r}"))
                    batch.orphans.add((product["id"], product["_line"]))
                else:
                    existing.add(product["id"])
                    keep.append(product)
                    batch.categories.setdefault(product["category"], product["_category_name"])
            conn.executemany(
                "INSERT OR IGNORE INTO categories (id, name, department, noun, schema_json, aspects_json) "
                "VALUES (?, ?, 'imported', ?, '[]', '[]')",
                [(cid, name, name.lower()) for cid, name in batch.categories.items()])
            conn.executemany(
                f"INSERT INTO products ({', '.join(_PRODUCT_COLS)}) VALUES ({', '.join('?' * len(_PRODUCT_COLS))})",
                [tuple(p[c] for c in _PRODUCT_COLS) for p in keep])
        if batch.reviews:
            known = _stored_product_ids(conn, sorted({r["product_id"] for r in batch.reviews}))
            keep = []
            for review in batch.reviews:
                if (review["product_id"], review["_line"]) in batch.orphans:
                    batch.rejects.append((review["_line"], f"review of the rejected duplicate product "
                                                           f"{review['product_id']!r}"))
                elif review["product_id"] in known:
                    keep.append(review)
                else:
                    batch.rejects.append((review["_line"], f"unknown product: parent_asin {review['product_id']!r} "
                                                           "is not among the imported products"))
            conn.executemany(
                f"INSERT INTO reviews ({', '.join(_REVIEW_COLS)}) VALUES ({', '.join('?' * len(_REVIEW_COLS))})",
                [tuple(r[c] for c in _REVIEW_COLS) for r in keep])
        conn.executemany(f"INSERT INTO {REJECTS_TABLE} (role, line, reason) VALUES (?, ?, ?)",
                         [(source.role, line, reason) for line, reason in batch.rejects])
        conn.execute(
            f"""INSERT INTO {PROGRESS_TABLE} (role, fingerprint, config_hash, config_json, records_done, last_line,
                                              rows_read, done)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (role) DO UPDATE SET records_done = excluded.records_done,
                    last_line = excluded.last_line, rows_read = rows_read + excluded.rows_read,
                    done = excluded.done""",
            (source.role, fingerprint, config_hash, config_json, batch.records_done, batch.last_line, batch.rows,
             int(done)))


def _parse(fmt: str, source: _Source, record: readers.Record, batch: _Batch, mapping: FieldMapping | None) -> None:
    """Add one decoded record's rows (or its reject) to the batch."""
    try:
        if record.error is not None:
            raise BadRow(record.error)
        if source.role == "reviews":
            review = amazon_review(record.value, record.line)
            review["_line"] = record.line
            batch.reviews.append(review)
            return
        reviews: list = []
        if fmt == "amazon2023":
            product = amazon_product(record.value)
        elif fmt == "webshop":
            product, reviews = webshop_item(record.value, record.line)
        else:
            product = mapped_product(record.value, mapping, source.read is readers.iter_csv)  # type: ignore[arg-type]
    except BadRow as exc:
        batch.rejects.append((record.line, str(exc)))
        return
    product["_line"] = record.line
    batch.products.append(product)
    for review in reviews:
        batch.rows += 1
        if isinstance(review, BadRow):
            batch.rejects.append((record.line, str(review)))
        else:
            review["_line"] = record.line
            batch.reviews.append(review)


def _load(conn: sqlite3.Connection, fmt: str, source: _Source, state: tuple | None, batch_size: int,
          config_hash: str, config_json: str, fingerprint: str, mapping: FieldMapping | None,
          progress: bool | None) -> None:
    start_after = state[4] if state else 0
    bar = tqdm(total=readers.file_size(source.path), unit="B", unit_scale=True, file=sys.stderr,
               desc=f"{fmt} {source.role}", disable=None if progress is None else not progress, leave=False)
    shown = 0
    batch = _Batch(records_done=start_after, last_line=state[5] if state else 0)
    try:
        try:
            for record in source.read(source.path, start_after):
                batch.records_done, batch.last_line = record.index, record.line
                if not record.blank:
                    batch.rows += 1
                    _parse(fmt, source, record, batch, mapping)
                if record.pos > shown:
                    bar.update(record.pos - shown)
                    shown = record.pos
                if batch.size() >= batch_size:
                    _flush(conn, source, batch, config_hash, config_json, fingerprint, done=False)
                    _on_batch_committed(source.role, batch.records_done)
                    batch = _Batch(records_done=batch.records_done, last_line=batch.last_line)
        except (ValueError, EOFError, OSError) as exc:  # an unreadable file: keep what was read, then stop
            _flush(conn, source, batch, config_hash, config_json, fingerprint, done=False)
            if isinstance(exc, ValueError) and str(source.path) in str(exc):
                raise
            raise ValueError(f"{source.path}: cannot read past line {batch.last_line}: {exc}") from exc
        _flush(conn, source, batch, config_hash, config_json, fingerprint, done=True)
        _on_batch_committed(source.role, batch.records_done)
    finally:
        bar.close()


def _report(conn: sqlite3.Connection, fmt: str, sources: list[_Source], out_dir: Path, tasks: int, digest: str,
            max_bad_rate: float) -> ImportReport:
    paths = {s.role: str(s.path) for s in sources}
    rows_read = conn.execute(f"SELECT coalesce(sum(rows_read), 0) FROM {PROGRESS_TABLE}").fetchone()[0]
    rejected_count = conn.execute(f"SELECT count(*) FROM {REJECTS_TABLE}").fetchone()[0]
    order = " ".join(f"WHEN '{role}' THEN {rank}" for role, rank in ROLE_ORDER.items())
    listed = conn.execute(
        f"SELECT role, line, reason FROM {REJECTS_TABLE} ORDER BY CASE role {order} ELSE 9 END, line, seq LIMIT ?",
        (MAX_REPORTED_REJECTS,))
    rejected = [RejectedRow(file=paths.get(role, role), line=line, reason=reason) for role, line, reason in listed]
    counts = ImportCounts(
        products=conn.execute("SELECT count(*) FROM products").fetchone()[0],
        reviews=conn.execute("SELECT count(*) FROM reviews").fetchone()[0],
        tasks=tasks,
    )
    bad_rate = rejected_count / rows_read if rows_read else 0.0
    return ImportReport(format=fmt, imported=counts, rejected=rejected, rejected_count=rejected_count,
                        rows_read=rows_read, bad_rate=round(bad_rate, 6), max_bad_rate=max_bad_rate,
                        exceeded_max_bad_rate=bad_rate > max_bad_rate, content_hash=digest, out_dir=str(out_dir))


def import_catalog(
    fmt: str,
    out_dir: Path,
    meta: Path | None = None,
    reviews: Path | None = None,
    products: Path | None = None,
    mapping: Path | None = None,
    max_bad_rate: float = 0.25,
    search_backend: str = "whoosh",
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool | None = None,
) -> ImportReport:
    """Import a real dump into `out_dir` (resuming an unfinished import of the same inputs there).

    fmt: "amazon2023" (`meta` JSONL, optional `reviews` JSONL), "webshop" (`products`: one JSON array)
    or "mapped" (`products` CSV or JSONL plus a `mapping` JSON file). Files may be gzip-compressed.
    Bad rows are skipped and reported; every good row is kept even when the share of bad rows passes
    `max_bad_rate` (the report's `exceeded_max_bad_rate` says so). `progress`: None shows a tqdm bar
    on stderr only when it is a terminal.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown import format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if not 0.0 <= max_bad_rate <= 1.0:
        raise ValueError(f"max_bad_rate must be within 0..1, got {max_bad_rate}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    out_dir = Path(out_dir)
    field_mapping = _load_mapping(mapping, fmt)
    sources = _sources(fmt, meta, reviews, products, field_mapping)
    config = _config(fmt, sources, field_mapping)
    config_json = _canonical_json(config)
    config_hash = hashlib.sha256(config_json.encode()).hexdigest()
    fingerprints = {s.role: readers.fingerprint(s.path) for s in sources}

    _refuse_foreign_catalog(out_dir)
    db = open_for_writing(out_dir)
    conn: sqlite3.Connection = db.conn
    try:
        conn.executescript(_PRIVATE_DDL)
        states = _check_resume(conn, out_dir, config_json, config_hash, sources, fingerprints)
        for source in sources:
            state = states.get(source.role)
            if state is not None and state[7]:
                continue  # this file is fully committed
            _load(conn, fmt, source, state, batch_size, config_hash, config_json, fingerprints[source.role],
                  field_mapping, progress)
        with _transaction(conn):
            tasks = finish_import(conn)
            conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             [("generator_version", IMPORTER_VERSION), ("config_json", config_json)])
    finally:
        if conn.in_transaction:
            conn.rollback()
        db.close()

    digest = finalize_catalog(out_dir, source=fmt, search_backend=search_backend)
    conn = sqlite3.connect(out_dir / DB_FILE)
    try:
        return _report(conn, fmt, sources, out_dir, tasks, digest, max_bad_rate)
    finally:
        conn.close()
