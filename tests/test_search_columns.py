"""Searches without query words: the in-memory columns give exactly what the SQL over the whole table gives."""

from __future__ import annotations

import json
import random
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from shopgym.catalog.models import SearchFilters, SearchResult, SpecFilter
from shopgym.catalog.search import ProductSearch
from shopgym.catalog.search.hybrid import SORTS, SUMMARY_COLUMNS, _where
from shopgym.catalog.tables import create_tables


def open_search(db_path: Path) -> ProductSearch:
    """A product search over a read-only connection; searches without words never touch the index."""
    return ProductSearch(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True), index=None)


def sql_result(search: ProductSearch, filters: SearchFilters, sort: str, page: int, page_size: int) -> SearchResult:
    """What `search` answered before the columns: SQL over the whole table."""
    total, rows = search._sql_page(*_where(filters), sort, (page - 1) * page_size, page_size)
    return SearchResult(query="", total=total, page=page, page_size=page_size,
                        products=[dict(zip(SUMMARY_COLUMNS, row)) for row in rows])


def assert_same(search: ProductSearch, filters: SearchFilters, sort: str, page: int, page_size: int) -> int:
    """Assert that the columns answer and that `search` gives the SQL answer byte for byte; its total."""
    expected = sql_result(search, filters, sort, page, page_size)
    assert search._columns_page(filters, sort, (page - 1) * page_size, page_size) is not None, filters
    got = search.search("", filters, sort=sort, page=page, page_size=page_size)
    assert got.model_dump_json() == expected.model_dump_json(), (filters, sort, page, page_size)
    return got.total


def spec_values(db_path: Path) -> tuple[list[str], dict[str | None, list[str]], dict[str | None, dict[str, list]],
                                        list[int]]:
    """Categories; category (None: any) -> brands, and -> spec -> values; and the prices of a catalog."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    values: dict[str | None, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    brands: dict[str | None, list[str]] = defaultdict(list)
    prices = []
    for category, brand, price, specs in conn.execute("SELECT category, brand, price_cents, specs_json FROM products"):
        brands[category].append(brand)
        brands[None].append(brand)
        prices.append(price)
        for name, value in json.loads(specs).items():
            values[category][name].append(value)
            values[None][name].append(value)
    conn.close()
    return sorted(k for k in values if k), brands, values, sorted(p for p in prices if p is not None)


def random_case(rng: random.Random, text: str) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def random_spec(rng: random.Random, name: str, values: list) -> SpecFilter:
    """A filter on `name`: presence, equality with a value it takes (text in any case), a range, or a mismatch."""
    value = rng.choice(values) if values else rng.choice([1, "x", True])
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)] or [0]
    kind = rng.choice(["present", "equals", "equals", "range", "min", "max", "wrong_type"])
    if kind == "present":
        return SpecFilter(name=name)
    if kind == "equals":
        return SpecFilter(name=name, equals=random_case(rng, value) if isinstance(value, str) else value)
    if kind == "wrong_type":
        return SpecFilter(name=name, equals=rng.choice([str(value), True, 1, float(numbers[0])]))
    numbers.sort()
    low, high = rng.choice(numbers[: len(numbers) // 2 + 1]), rng.choice(numbers[len(numbers) // 2 :])
    return SpecFilter(name=name, min=low if kind != "max" else None, max=high if kind != "min" else None)


def random_filters(rng: random.Random, categories: list[str], brands: dict[str | None, list[str]],
                   values: dict[str | None, dict[str, list]], prices: list[int]) -> SearchFilters:
    category = rng.choice([*categories * 6, None, None, "no_such_category", categories[0].upper()])
    names = sorted(values[category] if category in values else values[None])
    other = sorted(set(values[None]) - set(names)) or ["zz_missing"]
    specs = []
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
        name = rng.choice([*names * 4, rng.choice(other), "zz_missing"])
        specs.append(random_spec(rng, name, values[category if category in values else None].get(name, [])))
    half = len(prices) // 2
    return SearchFilters(
        category=category,
        brand=rng.choice([None] * 6 + [random_case(rng, rng.choice(brands[category] or ["x"])), "No Such Brand"]),
        min_price_cents=rng.choice([None, None, rng.choice(prices[:half])]),
        max_price_cents=rng.choice([None, None, rng.choice(prices[half:])]),
        min_rating=rng.choice([None, None, None, 0.0, 3.0, 3.6, 4.2, 5.0]),
        specs=specs,
    )


def test_columns_match_sql_on_generated_world(world_dir: Path) -> None:
    db_path = world_dir / "catalog.db"
    categories, brands, values, prices = spec_values(db_path)
    search = open_search(db_path)
    rng = random.Random(11)
    totals = []
    for _ in range(400):
        filters = random_filters(rng, categories, brands, values, prices)
        sort = rng.choice(SORTS)
        page_size = rng.choice([1, 3, 5, 10, 50])
        for page in sorted({1, rng.randint(2, 4), rng.randint(5, 40)}):
            totals.append(assert_same(search, filters, sort, page, page_size))
    assert sum(t >= 10 for t in totals) > len(totals) // 4  # pages of many rows to order, not only empty answers
    assert sum(t == 0 for t in totals) > 20
    assert None in search._columns and set(categories) <= set(search._columns)
    search._conn.close()


TRICKY_SPECS = [  # for spec "n" unless named: every JSON type, text that differs in case or only outside ASCII
    '{"n": 30}', '{"n": 30.0}', '{"n": "30"}', '{"n": "30 "}', '{"n": true}', '{"n": false}', '{"n": null}',
    '{"n": [1, 2]}', '{"n": {"a": 1}}', '{"n": "Thirty"}', '{"n": "THIRTY"}', '{"n": "thİrty"}', '{"n": -0.0}',
    '{"n": 1e400}', '{"n": 2.5}', '{"n": 1, "n": "x"}', '{"n": "x\\u0000y"}', '{"n": "Ünïcode"}',
    '{"n": "ünïcode"}', '{"n": ""}', '{}', None, '[1, 2]', '"n"', '{"N": 5}', '{"n\\u0062": 3}', '{"nb": 3, "n": 1}',
    '{"big": 9007199254740993}', '{"big": 3}',
]
TRICKY_BRANDS = ["Acme", "ACME", "acme", "Ácme", "ácme", "Beta", "beta ", "Zeta"]
TRICKY_FILTERS = [
    SpecFilter(name="n"), SpecFilter(name="nb"), SpecFilter(name="missing"),
    *(SpecFilter(name="n", equals=v) for v in (
        True, False, 30, 30.0, 1, 0, -0.0, 2.5, float("inf"), float("nan"), "30", "thirty", "THİRTY", "thİrty",
        "[1,2]", '{"a":1}', "true", "", "x", "X", "ünïcode", "ÜNÏCODE", "Ünïcode")),
    SpecFilter(name="n", min=0), SpecFilter(name="n", min=30), SpecFilter(name="n", max=30),
    SpecFilter(name="n", max=-0.0), SpecFilter(name="n", min=-1, max=3), SpecFilter(name="n", min=float("-inf")),
    SpecFilter(name="n", equals="30", min=0), SpecFilter(name="n", equals=30, max=29), SpecFilter(name="nb", equals=3),
    SpecFilter(name="big", max=10),
]


def tricky_products() -> Iterator[dict]:
    rng = random.Random(3)
    for i, specs in enumerate(TRICKY_SPECS * 3):
        yield {"id": f"T{(i * 37) % 100:03d}", "title": f"Thing {i}", "brand": TRICKY_BRANDS[i % len(TRICKY_BRANDS)],
               "category": "a" if i % 3 else "b", "price_cents": rng.choice([None, 999, 999, 1500, 0]),
               "rating": rng.choice([0.0, 4.0, 4.0, 4.5]), "review_count": rng.choice([0, 3, 3, 10]),
               "description": "", "specs_json": specs, "variants_json": "[]"}


@pytest.fixture(scope="module")
def tricky_search(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductSearch]:
    db_path = tmp_path_factory.mktemp("tricky") / "catalog.db"
    db = sqlite_utils.Database(db_path)
    create_tables(db)
    db["products"].insert_all(tricky_products())
    db.close()
    search = open_search(db_path)
    yield search
    search._conn.close()


@pytest.mark.parametrize("category", ["a", "b", None, "A"])
@pytest.mark.parametrize("spec", TRICKY_FILTERS, ids=repr)
def test_columns_match_sql_on_tricky_specs(tricky_search: ProductSearch, category: str | None,
                                           spec: SpecFilter) -> None:
    for brand, low, high, rating in ((None, None, None, None), ("acme", None, 1500, None), ("ÁCME", 999, None, 4.0),
                                     ("beta", 0, 999, None), (None, None, 999, 0.0)):
        filters = SearchFilters(category=category, brand=brand, min_price_cents=low, max_price_cents=high,
                                min_rating=rating, specs=[spec])
        for sort in SORTS:
            if spec.name == "big" and category != "A":  # past float64 precision: SQL answers
                assert tricky_search._columns_page(filters, sort, 0, 50) is None
                assert tricky_search.search("", filters, sort=sort, page_size=50) == sql_result(
                    tricky_search, filters, sort, 1, 50)
            else:
                assert_same(tricky_search, filters, sort, 1, 50)


@pytest.mark.parametrize("filters", [
    SearchFilters(brand="ac\x00me"),  # NOCASE stops at a NUL
    SearchFilters(specs=[SpecFilter(name="n", equals="x\x00y")]),
    SearchFilters(specs=[SpecFilter(name="n", equals=2**53 + 1)]),  # not exact as float64
    SearchFilters(min_price_cents=2**63),  # does not bind
    SearchFilters(category="\ud800"),  # does not encode
], ids=repr)
def test_values_the_columns_cannot_compare_go_to_sql(tricky_search: ProductSearch, filters: SearchFilters) -> None:
    assert tricky_search._columns_page(filters, "rating", 0, 10) is None
    try:
        expected: object = sql_result(tricky_search, filters, "rating", 1, 10)
    except (OverflowError, UnicodeEncodeError) as error:
        expected = type(error)
    try:
        got: object = tricky_search.search("", filters, sort="rating")
    except (OverflowError, UnicodeEncodeError) as error:
        got = type(error)
    assert got == expected


@pytest.mark.parametrize("name", ["Color", "$.n", "n.b", ""])
def test_invalid_spec_name_rejected_without_words(tricky_search: ProductSearch, name: str) -> None:
    with pytest.raises(ValueError, match=r"\^\[a-z0-9_\]\+\$"):
        tricky_search.search("", SearchFilters(category="a", specs=[SpecFilter(name="n"), SpecFilter(name=name)]))
