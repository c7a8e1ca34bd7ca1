"""Importing real dumps: every good row in, every bad row reported by line, resumable, observable tasks."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopgym.catalog.importers import FORMATS, ImportConfigChanged, import_catalog
from shopgym.catalog.importers import core as import_core
from shopgym.catalog.importers.aspects import ASPECT_NAMES, format_aspects, mine_aspects, parse_aspects
from shopgym.catalog.importers.rows import price_cents
from shopgym.catalog.need import Need

FIXTURES = Path(__file__).parent / "fixtures"
META = FIXTURES / "amazon2023" / "meta.jsonl"
REVIEWS = FIXTURES / "amazon2023" / "reviews.jsonl"
WEBSHOP = FIXTURES / "webshop" / "items.json"
MAPPED_CSV = FIXTURES / "mapped" / "products.csv"
MAPPED_JSONL = FIXTURES / "mapped" / "products.jsonl"
MAPPING = FIXTURES / "mapped" / "mapping.json"

GOOD_PRODUCTS = {f"B0HP0000{i}" for i in range(1, 9)} | {f"B0YM0000{i}" for i in range(1, 7)} | {"B0MISC001"}
META_BAD = {4: "not JSON", 6: "not an object", 7: "no parent_asin", 8: "no title", 10: "out of range",
            22: "duplicate product id"}
REVIEWS_GOOD_LINES = [1, 2, 3, 5, 12, 13, 14, 15, 16, 18]
REVIEWS_BAD = {4: "not JSON", 6: "not an object", 7: "no parent_asin", 8: "not a number", 9: "out of range",
               11: "unknown product", 17: "unknown product"}


def amazon(out: Path, **kwargs):
    kwargs.setdefault("search_backend", "fts5")
    return import_catalog("amazon2023", out, meta=kwargs.pop("meta", META), reviews=kwargs.pop("reviews", REVIEWS),
                          **kwargs)


def rows(out: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(out / "catalog.db")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def nonblank_lines(*paths: Path) -> int:
    return sum(1 for p in paths for line in p.read_text(encoding="utf-8").splitlines() if line.strip())


def rejects_by_file(report) -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = {}
    for r in report.rejected:
        assert r.line not in out.get(r.file, {}), f"line {r.line} of {r.file} reported twice"
        out.setdefault(r.file, {})[r.line] = r.reason
    return out


def assert_reasons(found: dict[int, str], expected: dict[int, str]) -> None:
    assert sorted(found) == sorted(expected), found
    for line, fragment in expected.items():
        assert fragment in found[line], (line, found[line])


def table_dump(out: Path) -> dict[str, list[tuple]]:
    return {t: rows(out, f"SELECT * FROM {t} ORDER BY 1, 2")
            for t in ("products", "reviews", "categories", "tasks", "shoppers", "hidden_task_needs")}


@pytest.fixture(scope="module")
def amazon_out(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("amazon")
    return out, amazon(out)


# --- Amazon Reviews 2023 -------------------------------------------------------------------------

def test_amazon_every_good_row_in_every_bad_row_reported(amazon_out):
    out, report = amazon_out
    assert report.format == "amazon2023"
    assert {r[0] for r in rows(out, "SELECT id FROM products")} == GOOD_PRODUCTS
    assert report.imported.products == len(GOOD_PRODUCTS)
    assert report.imported.reviews == len(REVIEWS_GOOD_LINES)
    found = rejects_by_file(report)
    assert set(found) == {str(META), str(REVIEWS)}
    assert_reasons(found[str(META)], META_BAD)
    assert_reasons(found[str(REVIEWS)], REVIEWS_BAD)
    assert report.rows_read == nonblank_lines(META, REVIEWS)
    assert report.imported.products + report.imported.reviews + report.rejected_count == report.rows_read
    assert report.rejected_count == len(report.rejected) == len(META_BAD) + len(REVIEWS_BAD)
    assert report.bad_rate == pytest.approx(report.rejected_count / report.rows_read, abs=1e-6)
    assert report.content_hash == rows(out, "SELECT value FROM meta WHERE key = 'content_hash'")[0][0]
    assert rows(out, "SELECT value FROM meta WHERE key = 'source'") == [("amazon2023",)]


def test_amazon_rows_are_converted(amazon_out):
    out, _ = amazon_out
    products = {r[0]: r[1:] for r in rows(
        out, "SELECT id, brand, category, price_cents, rating, review_count, specs_json, description FROM products")}
    assert products["B0HP00001"][:5] == ("Aurora", "over_ear_headphones", 5999, 4.5, 2)  # rating from reviews
    assert products["B0HP00002"][2] == 12900
    assert products["B0HP00003"][2] is None  # price null
    assert products["B0HP00004"][2] == 2450  # "$24.50"
    assert products["B0HP00007"][2] is None  # "None"
    assert products["B0HP00008"][3:5] == (4.2, 310)  # no imported reviews: the dump's summary
    assert products["B0YM00003"][0] == "Unknown"  # no store
    assert products["B0YM00006"][1:3] == ("sports_outdoors", 3499)  # main_category; "$34.99 - $49.99"
    assert products["B0MISC001"][1] == "uncategorized"
    specs = json.loads(products["B0HP00001"][5])
    assert specs["connectivity_technology"] == "Bluetooth" and "best_sellers_rank" not in specs
    assert "About this item:" in products["B0HP00001"][6] and "noise cancelling" in products["B0HP00001"][6]
    categories = dict(rows(out, "SELECT id, department FROM categories"))
    assert categories == {"over_ear_headphones": "imported", "sports_outdoors": "imported",
                          "uncategorized": "imported"}
    reviews = rows(out, "SELECT id, product_id, rating, date, aspects, text, verified FROM reviews")
    assert len({r[0] for r in reviews}) == len(reviews) and all(r[0].startswith("R-") for r in reviews)
    first = next(r for r in reviews if r[1] == "B0HP00001" and r[2] == 5)
    assert first[3] == "2020-05-04" and first[6] == 1
    assert parse_aspects(first[4]) == ["battery", "sound", "comfort"] and first[4] == ",battery,sound,comfort,"
    assert all("<br" not in r[5] for r in reviews)


def test_bad_rate_over_max_sets_flag_but_keeps_good_rows(amazon_out):
    out, report = amazon_out
    assert report.bad_rate > 0.25 and report.exceeded_max_bad_rate
    assert report.imported.products == len(GOOD_PRODUCTS)  # kept all the same
    again = amazon(out, max_bad_rate=0.5)  # a finished import reruns as a no-op; only the verdict changes
    assert not again.exceeded_max_bad_rate
    assert again.content_hash == report.content_hash
    assert again.rejected == report.rejected and again.rows_read == report.rows_read


def test_gzip_by_suffix_and_by_magic(amazon_out, tmp_path):
    _, plain = amazon_out
    meta_gz = tmp_path / "meta.jsonl.gz"
    reviews_gz = tmp_path / "reviews.data"  # gzip without the suffix: found by its magic bytes
    meta_gz.write_bytes(gzip.compress(META.read_bytes()))
    reviews_gz.write_bytes(gzip.compress(REVIEWS.read_bytes()))
    report = amazon(tmp_path / "out", meta=meta_gz, reviews=reviews_gz)
    assert report.content_hash == plain.content_hash
    assert [(r.line, r.reason) for r in report.rejected] == [(r.line, r.reason) for r in plain.rejected]
    assert {r.file for r in report.rejected} == {str(meta_gz), str(reviews_gz)}


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    lines = [json.dumps({"parent_asin": f"T{i:05d}", "title": f"Thing {i} " + os.urandom(40).hex()})
             for i in range(3000)]
    data = gzip.compress("\n".join(lines).encode())
    meta_gz = tmp_path / "meta.jsonl.gz"
    meta_gz.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ValueError, match="cannot read past line"):
        amazon(tmp_path / "out", meta=meta_gz, reviews=None, batch_size=100)
    kept = rows(tmp_path / "out", "SELECT count(*) FROM products")[0][0]
    assert 0 < kept < 3000  # the rows before the break (less one read-ahead buffer) are committed


def test_tasks_are_observable_and_satisfiable(amazon_out):
    out, report = amazon_out
    tasks = rows(out, "SELECT id, shopper_id, category, split, difficulty, truth_source FROM tasks ORDER BY id")
    assert report.imported.tasks == len(tasks) > 0
    assert {t[2] for t in tasks} == {"over_ear_headphones", "sports_outdoors"}  # >= 5 priced products each
    assert max(sum(t[2] == c for t in tasks) for c in ("over_ear_headphones", "sports_outdoors")) <= 5
    shoppers = dict(rows(out, "SELECT id, split FROM shoppers"))
    for index, (tid, sid, category, split, difficulty, source) in enumerate(tasks):
        assert (difficulty, source) == ("easy", "observable")
        assert sid == f"S-imp-{index + 1:04d}" and shoppers[sid] == split
        assert split == ("train" if index % 10 < 8 else "val" if index % 10 == 8 else "test")
    needs = rows(out, "SELECT task_id, kind, need_json FROM hidden_task_needs ORDER BY task_id")
    assert [n[0] for n in needs] == [t[0] for t in tasks]
    products = rows(out, "SELECT category, brand, price_cents, rating, specs_json FROM products")
    for (tid, kind, need_json), task in zip(needs, tasks, strict=True):
        assert kind == "observable"
        need = Need.model_validate_json(need_json)
        assert need.category == task[2]
        prices = {p[2] for p in products if p[0] == need.category and p[2] is not None}
        assert need.budget_cents in prices  # a quantile of observed prices
        fits = [p for p in products if p[0] == need.category
                and need.fits(p[1], p[2], p[3], json.loads(p[4]))]
        assert fits, f"{tid} has no product that fits"
        mined = {a["name"] for a in json.loads(
            rows(out, "SELECT aspects_json FROM categories WHERE id = ?", (need.category,))[0][0])}
        assert need.priorities and {p.aspect for p in need.priorities} <= mined
    assert any(json.loads(n[2])["must_haves"] for n in needs)


# --- resuming ------------------------------------------------------------------------------------

class _Killed(Exception):
    pass


def test_resume_after_crash_in_reviews(amazon_out, tmp_path, monkeypatch):
    _, fresh = amazon_out
    out = tmp_path / "out"
    calls = []

    def crash(role: str, records_done: int) -> None:
        calls.append((role, records_done))
        if role == "reviews":
            raise _Killed

    monkeypatch.setattr(import_core, "_on_batch_committed", crash)
    with pytest.raises(_Killed):
        amazon(out, batch_size=3)
    progress = dict((r[0], r[1:]) for r in rows(out, "SELECT role, records_done, done FROM import_progress"))
    assert progress["meta"][1] == 1 and progress["reviews"][1] == 0 and 0 < progress["reviews"][0] < 18
    monkeypatch.undo()
    resumed = amazon(out, batch_size=3)
    assert resumed.content_hash == fresh.content_hash
    assert resumed.rejected == fresh.rejected and resumed.rows_read == fresh.rows_read
    assert resumed.imported == fresh.imported


def test_resume_after_sigkill(amazon_out, tmp_path):
    _, fresh = amazon_out
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from shopgym.catalog.importers import core, import_catalog
        def die(role, done):
            if role == "meta" and done >= 8:
                os.kill(os.getpid(), signal.SIGKILL)
        core._on_batch_committed = die
        import_catalog("amazon2023", Path({str(out)!r}), meta=Path({str(META)!r}), reviews=Path({str(REVIEWS)!r}),
                       search_backend="fts5", batch_size=2)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    done, = rows(out, "SELECT records_done FROM import_progress WHERE role = 'meta' AND done = 0")[0]
    assert 0 < done < 22
    assert rows(out, "SELECT count(*) FROM reviews") == [(0,)]
    resumed = amazon(out, batch_size=2)
    assert resumed.content_hash == fresh.content_hash
    assert resumed.rejected == fresh.rejected and resumed.rows_read == fresh.rows_read
    assert rows(out, "SELECT role, line, count(*) FROM import_rejects GROUP BY 1, 2 HAVING count(*) > 1") == []


@pytest.mark.parametrize(("fmt", "inputs"), [
    ("webshop", {"products": WEBSHOP}),
    ("mapped", {"products": MAPPED_CSV, "mapping": MAPPING}),
    ("mapped", {"products": MAPPED_JSONL, "mapping": MAPPING}),
])
def test_resume_other_readers(tmp_path, monkeypatch, fmt, inputs):
    fresh = import_catalog(fmt, tmp_path / "fresh", search_backend="fts5", **inputs)
    out = tmp_path / "resumed"
    batches = []

    def crash(role: str, records_done: int) -> None:
        batches.append(records_done)
        if len(batches) == 2:
            raise _Killed

    monkeypatch.setattr(import_core, "_on_batch_committed", crash)
    with pytest.raises(_Killed):
        import_catalog(fmt, out, search_backend="fts5", batch_size=2, **inputs)
    monkeypatch.undo()
    assert 0 < rows(out, "SELECT count(*) FROM products")[0][0] < fresh.imported.products
    resumed = import_catalog(fmt, out, search_backend="fts5", batch_size=2, **inputs)
    assert resumed.content_hash == fresh.content_hash
    assert table_dump(out) == table_dump(tmp_path / "fresh")
    assert [(r.line, r.reason) for r in resumed.rejected] == [(r.line, r.reason) for r in fresh.rejected]
    assert resumed.rows_read == fresh.rows_read


def _partial_import(out: Path, monkeypatch, **kwargs) -> None:
    def crash(role: str, records_done: int) -> None:
        raise _Killed

    monkeypatch.setattr(import_core, "_on_batch_committed", crash)
    with pytest.raises(_Killed):
        amazon(out, batch_size=3, **kwargs)
    monkeypatch.undo()


def test_resume_with_changed_input_refuses(tmp_path, monkeypatch):
    meta = tmp_path / "meta.jsonl"
    shutil.copy(META, meta)
    out = tmp_path / "out"
    _partial_import(out, monkeypatch, meta=meta)
    with meta.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"parent_asin": "B0NEW0001", "title": "Late addition"}) + "\n")
    with pytest.raises(ImportConfigChanged, match="not the file this import started from"):
        amazon(out, meta=meta)
    assert rows(out, "SELECT count(*) FROM products WHERE id = 'B0NEW0001'") == [(0,)]


def test_resume_with_changed_config_refuses(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _partial_import(out, monkeypatch)
    with pytest.raises(ImportConfigChanged, match="another configuration"):
        import_catalog("amazon2023", out, meta=META, search_backend="fts5")  # --reviews dropped
    with pytest.raises(ImportConfigChanged):
        import_catalog("mapped", out, products=MAPPED_JSONL, mapping=MAPPING, search_backend="fts5")


def test_import_into_a_generated_catalog_refuses(amazon_out, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(amazon_out[0] / "catalog.db", out / "catalog.db")
    conn = sqlite3.connect(out / "catalog.db")
    conn.execute("DROP TABLE import_progress")
    conn.commit()
    conn.close()
    with pytest.raises(ImportConfigChanged, match="no import started"):
        amazon(out)


# --- WebShop -------------------------------------------------------------------------------------

@pytest.mark.parametrize("chunk_chars", [1 << 20, 53])
def test_webshop_import(tmp_path, monkeypatch, chunk_chars):
    monkeypatch.setattr(import_core.readers, "CHUNK_CHARS", chunk_chars)
    report = import_catalog("webshop", tmp_path, products=WEBSHOP, search_backend="fts5")
    lines = WEBSHOP.read_text(encoding="utf-8").splitlines()
    bad_line = next(i for i, line in enumerate(lines, 1) if "Lost ASIN" in line) - 2  # the item's "{"
    assert lines[bad_line - 1].strip() == "{"
    assert [(r.file, r.line) for r in report.rejected] == [(str(WEBSHOP), bad_line)]
    assert "no asin" in report.rejected[0].reason
    items = json.loads(WEBSHOP.read_text(encoding="utf-8"))
    good = [i for i in items if "asin" in i]
    assert report.imported.products == len(good) and report.imported.reviews == 2
    assert report.rows_read == len(items) + 2  # items plus the embedded reviews
    assert report.imported.products + report.imported.reviews + report.rejected_count == report.rows_read
    products = {r[0]: r[1:] for r in rows(
        tmp_path, "SELECT id, category, price_cents, rating, specs_json, variants_json FROM products")}
    assert products["B0WS00001"][:3] == ("body_lotions", 1299, 4.0)  # rating from its embedded reviews
    assert products["B0WS00002"][1] == 1099  # "$10.99 - $15.99"
    assert products["B0WS00003"][1] == 850  # ["$8.50", "$9.00"]
    assert products["B0WS00006"][1] is None  # ""
    assert json.loads(products["B0WS00001"][3])["fragrance_free"] is True
    assert json.loads(products["B0WS00001"][4]) == [{"name": "size", "values": ["8 fl oz", "16 fl oz"]}]
    assert report.imported.tasks > 0


@pytest.mark.parametrize("chunk_chars", [1 << 20, 37])  # a tiny window: elements straddle reads
def test_webshop_resyncs_after_a_syntax_error(tmp_path, monkeypatch, chunk_chars):
    monkeypatch.setattr(import_core.readers, "CHUNK_CHARS", chunk_chars)
    items = [{"asin": f"B0SY{i:05d}", "name": f"Item {i}", "pricing": f"${i + 1}.00", "product_category": "Toys"}
             for i in range(6)]
    text = json.dumps(items, indent=2)
    broken = text.replace('"name": "Item 2"', '"name": "Item 2" "oops"')
    path = tmp_path / "items.json"
    path.write_text(broken, encoding="utf-8")
    report = import_catalog("webshop", tmp_path / "out", products=path, search_backend="fts5")
    start = broken.splitlines().index("  {", 10) + 1  # third element's "{" line
    item2_line = next(i for i, line in enumerate(broken.splitlines(), 1) if "Item 2" in line) - 2
    assert [r.line for r in report.rejected] == [item2_line] and item2_line >= start
    assert "not JSON" in report.rejected[0].reason
    assert {r[0] for r in rows(tmp_path / "out", "SELECT id FROM products")} == {
        f"B0SY{i:05d}" for i in range(6) if i != 2}
    # one line, no indentation: resynchronises at the next "}, {"
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps(items).replace('"name": "Item 4"', '"name" "Item 4"'), encoding="utf-8")
    report = import_catalog("webshop", tmp_path / "flat", products=flat, search_backend="fts5")
    assert [r.line for r in report.rejected] == [1]
    assert report.imported.products == 5


def test_webshop_needs_an_array(tmp_path):
    path = tmp_path / "items.json"
    path.write_text('{"asin": "B0X"}', encoding="utf-8")
    with pytest.raises(ValueError, match="JSON array"):
        import_catalog("webshop", tmp_path / "out", products=path, search_backend="fts5")


# --- mapped CSV / JSONL --------------------------------------------------------------------------

def test_mapped_csv(tmp_path):
    report = import_catalog("mapped", tmp_path, products=MAPPED_CSV, mapping=MAPPING, search_backend="fts5")
    assert_reasons({r.line: r.reason for r in report.rejected},
                   {6: "no title (column 'name')", 8: "not a number", 12: "fields"})
    products = {r[0]: r[1:] for r in rows(
        tmp_path, "SELECT id, brand, price_cents, description, specs_json FROM products")}
    assert set(products) == {"L-001", "L-002", "L-003", "L-005", "L-007", "L-008"}
    assert report.rows_read == 9  # header and the blank line are not rows
    assert report.imported.products + report.rejected_count == report.rows_read
    assert products["L-003"][1] == 124900 and "\n" in products["L-003"][2]  # "1,249.00", a two-line cell
    assert products["L-005"][1] == 5999 and products["L-007"][1] == 4500
    assert products["L-008"][:2] == ("Unknown", None)
    assert json.loads(products["L-005"][3]) == {"color": "black", "weight_g": 900, "wireless": True}
    assert report.imported.tasks > 0


def test_rows_that_are_not_utf8_are_reported_and_skipped_in_every_format(tmp_path):
    """A Latin-1 byte is never imported as a replacement character: its row is reported and skipped."""
    latin = tmp_path / "latin1.csv"
    latin.write_bytes(MAPPED_CSV.read_bytes().replace(b"Arc LED Desk Lamp", "Arc LED Desk Lamp caf\u00e9".encode("latin-1")))
    report = import_catalog("mapped", tmp_path / "csv", products=latin, mapping=MAPPING, search_backend="fts5")
    assert (2, "not valid UTF-8") in {(r.line, r.reason[:15]) for r in report.rejected}
    assert "L-001" not in {r[0] for r in rows(tmp_path / "csv", "SELECT id FROM products")}
    assert "L-002" in {r[0] for r in rows(tmp_path / "csv", "SELECT id FROM products")}
    shop = tmp_path / "latin1.json"
    shop.write_bytes(WEBSHOP.read_bytes().replace(b"Oat Milk Body Lotion", "Oat Milk Cr\u00e8me".encode("latin-1"), 1))
    report = import_catalog("webshop", tmp_path / "json", products=shop, search_backend="fts5")
    assert [r.reason for r in report.rejected if "UTF-8" in r.reason] and not rows(
        tmp_path / "json", "SELECT id FROM products WHERE id = 'B0WS00001'")
    assert rows(tmp_path / "json", "SELECT id FROM products WHERE id = 'B0WS00002'")
    header = tmp_path / "header.csv"
    header.write_bytes(b"sku,n\xe4me\nL-1,x\n")
    with pytest.raises(ValueError, match="header line is not valid UTF-8"):
        import_catalog("mapped", tmp_path / "h", products=header, mapping=MAPPING, search_backend="fts5")


def test_mapped_jsonl(tmp_path):
    report = import_catalog("mapped", tmp_path, products=MAPPED_JSONL, mapping=MAPPING, search_backend="fts5")
    assert_reasons({r.line: r.reason for r in report.rejected},
                   {4: "out of range", 5: "not JSON", 8: "no id (column 'sku')"})
    assert {r[0] for r in rows(tmp_path, "SELECT id FROM products")} == {"K-001", "K-002", "K-003", "K-005", "K-006"}
    assert rows(tmp_path, "SELECT price_cents FROM products WHERE id = 'K-002'") == [(3950,)]
    assert report.imported.products + report.rejected_count == report.rows_read == 8


def test_mapping_errors(tmp_path):
    bad_column = tmp_path / "bad_column.json"
    bad_column.write_text(json.dumps({"id": "sku", "title": "product_name"}), encoding="utf-8")
    with pytest.raises(ValueError, match="product_name"):
        import_catalog("mapped", tmp_path / "a", products=MAPPED_CSV, mapping=bad_column)
    unknown_key = tmp_path / "unknown_key.json"
    unknown_key.write_text(json.dumps({"id": "sku", "title": "name", "colour": "color"}), encoding="utf-8")
    with pytest.raises(ValueError, match="colour"):
        import_catalog("mapped", tmp_path / "b", products=MAPPED_CSV, mapping=unknown_key)
    with pytest.raises(ValueError, match="--mapping"):
        import_catalog("mapped", tmp_path / "c", products=MAPPED_CSV)


def test_unknown_format_and_wrong_inputs(tmp_path):
    with pytest.raises(ValueError) as info:
        import_catalog("ebay", tmp_path, products=MAPPED_CSV)
    assert all(fmt in str(info.value) for fmt in FORMATS)
    with pytest.raises(ValueError, match="--meta"):
        import_catalog("amazon2023", tmp_path, reviews=REVIEWS)
    with pytest.raises(ValueError, match="--reviews"):
        import_catalog("webshop", tmp_path, products=WEBSHOP, reviews=REVIEWS)


# --- search --------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["whoosh", "fts5"])
def test_imported_products_are_searchable(tmp_path, backend):
    search = pytest.importorskip("shopgym.catalog.search.build")
    amazon(tmp_path, search_backend=backend)
    conn = sqlite3.connect(tmp_path / "catalog.db")
    try:
        index = search.open_search_index(tmp_path, conn, backend)
        try:
            assert set(index.search("yoga mat", 20)) >= {"B0YM00001", "B0YM00004"}
            assert index.search("noise cancellation", 5, category="over_ear_headphones")[0] in GOOD_PRODUCTS
            assert "B0HP00010" not in index.search("broken average headphones", 20)  # a rejected row
        finally:
            index.close()
    finally:
        conn.close()


def test_read_api_serves_an_imported_catalog(amazon_out):
    reader_module = pytest.importorskip("shopgym.catalog.reader")
    from shopgym.catalog.models import SearchFilters

    out, report = amazon_out
    with reader_module.CatalogReader(out) as reader:
        assert reader.content_hash == report.content_hash
        stats = reader.stats()
        assert (stats.source, stats.products, stats.reviews, stats.tasks) == (
            "amazon2023", report.imported.products, report.imported.reviews, report.imported.tasks)
        assert {c.id for c in reader.categories()} == {"over_ear_headphones", "sports_outdoors", "uncategorized"}
        for product_id in sorted(GOOD_PRODUCTS):
            assert reader.get_product(product_id).id == product_id
        battery = reader.list_reviews("B0HP00001", aspect="battery")
        assert battery.total == 2 and all("battery" in r.aspects for r in battery.reviews)
        found = reader.search_products("yoga mat", SearchFilters(max_price_cents=3000))
        assert found.products and all(p.price_cents <= 3000 for p in found.products)
        assert {t.truth_source for t in reader.tasks()} == {"observable"}


# --- units and properties ------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "cents"), [
    (12.99, 1299), ("12.99", 1299), ("$1,299.00", 129900), ("$10.99 - $15.99", 1099), (["$9.00", "$8.50"], 850),
    (None, None), ("None", None), ("", None), (0, None), ("free", None), (True, None), (0.005, 1), (19, 1900),
])
def test_price_cents(value, cents):
    assert price_cents(value) == cents


def test_aspect_mining():
    assert mine_aspects("Very comfortable, the battery lasts and it's well-made.") == ["battery", "comfort", "quality"]
    assert mine_aspects("Nothing to say.") == [] and format_aspects([]) == ""
    assert format_aspects(["sound", "comfort"]) == ",sound,comfort,"
    assert set(ASPECT_NAMES) >= {"battery", "comfort", "sound", "quality", "size_fit", "price_value", "durability",
                                 "ease_of_use", "shipping"}


_GOOD = st.builds(lambda i, price: {"parent_asin": f"P{i:04d}", "title": f"Thing {i}", "price": price,
                                     "main_category": "Things"},
                  st.integers(0, 9999), st.one_of(st.none(), st.floats(0.01, 5000, allow_nan=False)))
_BAD = st.sampled_from(["{oops", "[1]", '"text"', '{"title": "no id"}', '{"parent_asin": "X1"}',
                        '{"parent_asin": "X2", "title": "t", "average_rating": "high"}'])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(_GOOD, _BAD, st.just("")), min_size=1, max_size=25))
def test_counts_add_up_for_any_mix(tmp_path_factory, lines):
    tmp = tmp_path_factory.mktemp("mix")
    meta = tmp / "meta.jsonl"
    meta.write_text("\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines) + "\n", encoding="utf-8")
    report = import_catalog("amazon2023", tmp / "out", meta=meta, search_backend="fts5", batch_size=4)
    seen: set[str] = set()
    expected_bad = []
    for number, item in enumerate(lines, 1):
        if isinstance(item, dict):
            if item["parent_asin"] in seen:
                expected_bad.append(number)
            seen.add(item["parent_asin"])
        elif item:
            expected_bad.append(number)
    assert [r.line for r in report.rejected] == expected_bad
    assert report.imported.products == len(seen)
    assert report.rows_read == sum(1 for x in lines if x) == report.imported.products + report.rejected_count
