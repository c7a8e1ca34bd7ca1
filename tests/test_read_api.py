"""The read API: standard sqlite3, read-only, and unable to reach hidden tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shopgym.catalog import CatalogReader, NotFound, SearchFilters
from shopgym.catalog.tables import HIDDEN_TABLES


@pytest.fixture()
def reader(world_dir: Path):
    with CatalogReader(world_dir) as r:
        yield r


@pytest.mark.parametrize("table", HIDDEN_TABLES)
def test_hidden_tables_cannot_be_read_through_the_reader(reader: CatalogReader, table: str) -> None:
    with pytest.raises(sqlite3.DatabaseError, match="not authorized|prohibited"):
        reader.conn.execute(f"SELECT * FROM {table}").fetchall()
    with pytest.raises(sqlite3.DatabaseError, match="not authorized|prohibited"):
        reader.conn.execute(f"SELECT count(*) FROM (SELECT * FROM {table})").fetchall()


def test_every_read_api_call_touches_only_observable_tables(reader: CatalogReader) -> None:
    touched: set[str] = set()

    def spy(action: int, table: str | None, *_: object) -> int:
        if table:
            touched.add(table)
        return sqlite3.SQLITE_DENY if table and table.startswith("hidden_") else sqlite3.SQLITE_OK

    reader.conn.set_authorizer(spy)
    task = reader.tasks("test")[0]
    hits = reader.search_products("battery", SearchFilters(max_price_cents=20000))
    product = hits.products[0]
    reader.get_product(product.id)
    reader.list_reviews(product.id, aspect="battery", sort="rating_low")
    reader.compare_products([p.id for p in hits.products[:2]])
    page = reader.search_pages("buying guide")[0]
    reader.get_page(page.id)
    reader.shopper_history(task.shopper_id)
    reader.categories()
    reader.stats()
    assert touched and not any(t.startswith("hidden_") for t in touched), touched


def test_reader_cannot_change_the_database(reader: CatalogReader) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.conn.execute("DELETE FROM products")


def test_unknown_ids_and_bad_arguments_say_what_is_valid(reader: CatalogReader) -> None:
    with pytest.raises(NotFound, match="no product with id 'P-nope'"):
        reader.get_product("P-nope")
    with pytest.raises(NotFound, match="no page"):
        reader.get_page("W-nope")
    with pytest.raises(NotFound, match="no shopper"):
        reader.shopper_history("U-nope")
    product = reader.search_products("").products[0]
    with pytest.raises(ValueError, match="valid: overview, specs, description, variants"):
        reader.get_product(product.id, ["price"])
    with pytest.raises(ValueError, match="valid: helpful, recent, rating_high, rating_low"):
        reader.list_reviews(product.id, sort="best")
    with pytest.raises(ValueError, match="page_size must be between 1 and 50"):
        reader.list_reviews(product.id, page_size=500)


def test_reviews_page_filter_and_sort(reader: CatalogReader) -> None:
    product = reader.search_products("", SearchFilters(category="headphones"), sort="review_count").products[0]
    everything = reader.list_reviews(product.id, page_size=50)
    assert everything.total == product.review_count == len(everything.reviews)
    low = reader.list_reviews(product.id, sort="rating_low", page_size=50).reviews
    assert [r.rating for r in low] == sorted(r.rating for r in low)
    comfort = reader.list_reviews(product.id, aspect="comfort", page_size=50)
    assert comfort.total == sum("comfort" in r.aspects for r in everything.reviews)
    fives = reader.list_reviews(product.id, rating=5, page_size=50)
    assert all(r.rating == 5 for r in fives.reviews)
    pages = [reader.list_reviews(product.id, page=k, page_size=3).reviews for k in (1, 2)]
    assert {r.id for r in pages[0]}.isdisjoint(r.id for r in pages[1])


def test_get_product_sections(reader: CatalogReader) -> None:
    product = reader.search_products("").products[0]
    only_specs = reader.get_product(product.id, ["specs"])
    assert only_specs.specs and only_specs.description is None and only_specs.variants is None
    full = reader.get_product(product.id)
    assert full.description and full.variants and full.price_cents == product.price_cents


def test_stats_and_history(reader: CatalogReader) -> None:
    stats = reader.stats()
    assert stats.products == 2000 and stats.shoppers == 1000 and stats.categories >= 12
    assert stats.tasks == sum(stats.splits.values())
    task = reader.tasks("train")[0]
    events = reader.shopper_history(task.shopper_id)
    assert events and [e.seq for e in events] == list(range(len(events)))
    assert {e.kind for e in events} <= {"search", "view", "cart", "purchase", "review", "service"}
    assert [e.day for e in events] == sorted(e.day for e in events)
