"""Conformance of both search backends (Whoosh, FTS5) behind the hybrid product and page search."""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st

from shopgym.catalog.models import SearchFilters, SpecFilter
from shopgym.catalog.search import PageSearch, ProductSearch, build_search_index, open_search_index
from shopgym.catalog.search.query import tokenize
from shopgym.catalog.search.tiers import Tier, plan
from shopgym.catalog.store import content_hash
from shopgym.catalog.tables import create_tables

BACKENDS = ["whoosh", "fts5"]
CATEGORIES = {  # id -> (brands, noun, specs: name -> allowed values)
    "headphones": (
        ["Sonora", "Acoustix", "Beatline"],
        "headphones",
        {"battery_hours": [10, 20, 30, 40], "noise_cancelling": [True, False], "weight_g": [180.5, 250.0, 310.25]},
    ),
    "blenders": (
        ["Blendco", "Whirlo", "Kitchara"],
        "blender",
        {"watts": [600, 900, 1200, 1500], "dishwasher_safe": [True, False], "capacity_l": [1.2, 1.5, 2.0]},
    ),
    "running_shoes": (
        ["Stridex", "Pacer", "Trailo"],
        "shoes",
        {"drop_mm": [4, 8, 10, 12], "waterproof": [True, False], "weight_g": [220.0, 260.5, 300.0]},
    ),
}
COLORS = ["black", "white", "blue"]
ADJECTIVES = ["Wireless", "Compact", "Classic", "Studio"]
CODENAMES = (
    "falcon otter lynx heron badger marten puffin ibis quokka tapir walrus yak zebra bison condor dingo "
    "egret ferret gecko hyena iguana jackal koala lemur mink narwhal ocelot panda quail raven serval "
    "toucan urchin viper wombat xerus alpaca beluga cobra dugong"
).split()
PAGES = [
    ("G1", "guide", "headphones", "Headphones buying guide",
     "Battery life matters most for commuters. " * 6 + "Noise cancelling helps on planes and trains."),
    ("G2", "guide", "blenders", "How to choose a blender",
     "Power in watts decides how well ice is crushed. " * 6 + "A dishwasher safe jar saves time."),
    ("F1", "forum", "running_shoes", "Forum: trail shoes for wet weather",
     "Several runners asked about grip. " * 8 + "Most people preferred waterproof trail models."),
    ("R1", "review", "headphones", "Expert review of the Sonora Falcon",
     "We tested the Sonora Falcon for two weeks and found the battery strong and the fit comfortable."),
]
INJECTIONS = [
    "'; DROP TABLE products; --",
    "title:*",
    "NEAR(",
    '"unbalanced',
    "AND OR NOT",
    "*",
    "head\x00phones\x00",
    "x" * 10_000,
    "🎧🎧 headphones 🎧",
    "body:(a OR b) ^ -c",
    "\") OR 1=1 --",
    "fts_products MATCH '*'",
]


def make_products(seed: int = 7) -> list[dict]:
    """40 products across 3 categories; each title carries a unique codename, each description names
    its own codename and a neighbour's, and prices, ratings and review counts repeat to force ties."""
    rng = random.Random(seed)
    products = []
    for i, codename in enumerate(CODENAMES):
        category = list(CATEGORIES)[i % 3]
        brands, noun, spec_values = CATEGORIES[category]
        brand = brands[(i // 3) % 3]
        specs = {name: rng.choice(values) for name, values in spec_values.items()}
        specs["color"] = rng.choice(COLORS)
        neighbour = CODENAMES[(i + 3) % len(CODENAMES)]
        products.append({
            "id": f"P{i:03d}",
            "title": f"{brand} {codename.capitalize()} {ADJECTIVES[i % 4]} {noun.capitalize()}",
            "brand": brand,
            "category": category,
            "price_cents": None if i == 5 else rng.choice([1999, 2999, 4999, 7999, 12999]),
            "rating": rng.choice([3.5, 4.0, 4.2, 4.5, 4.8]),
            "review_count": rng.choice([0, 5, 12, 40, 100]),
            "description": f"The {brand} {codename} {noun} in {specs['color']}. Pairs well with the {neighbour}.",
            "specs_json": json.dumps(specs),
            "variants_json": "[]",
        })
    return products


PRODUCTS = make_products()


def write_catalog(out_dir: Path) -> None:
    db = sqlite_utils.Database(out_dir / "catalog.db")
    create_tables(db)
    db["products"].insert_all(PRODUCTS)
    db["pages"].insert_all(
        {"id": id_, "kind": kind, "category": cat, "title": title, "text": text, "date": "2024-01-01",
         "author": "staff", "product_ids_json": "[]"}
        for id_, kind, cat, title, text in PAGES
    )
    db["hidden_products"].insert({"product_id": "P000", "qualities_json": "{}", "defects_json": "[]",
                                  "near_duplicate_of": None})
    db.close()


def open_reader(db_path: Path) -> sqlite3.Connection:
    """Like the read API: read-only, and an authorizer that denies every `hidden_` table."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)

    def authorize(action: int, arg1: str | None, arg2: str | None, db_name: str | None, source: str | None) -> int:
        hidden = any(arg and arg.startswith("hidden_") for arg in (arg1, arg2))
        return sqlite3.SQLITE_DENY if hidden else sqlite3.SQLITE_OK

    conn.set_authorizer(authorize)
    return conn


def products_digest(db_path: Path) -> str:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    digest = hashlib.sha256()
    for row in conn.execute("SELECT * FROM products ORDER BY id"):
        digest.update(repr(row).encode())
    for row in conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"):
        digest.update(repr(row).encode())
    conn.close()
    return digest.hexdigest()


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out_dir = tmp_path_factory.mktemp("catalog")
    write_catalog(out_dir)
    for backend in BACKENDS:
        build_search_index(out_dir, backend)
    return out_dir


@pytest.fixture(scope="module")
def engines(catalog_dir: Path):
    """backend -> (ProductSearch, PageSearch, reader connection)."""
    opened = {}
    for backend in BACKENDS:
        conn = open_reader(catalog_dir / "catalog.db")
        index = open_search_index(catalog_dir, conn, backend)
        opened[backend] = (ProductSearch(conn, index), PageSearch(conn, index), conn, index)
    yield {backend: parts[:3] for backend, parts in opened.items()}
    for _, _, conn, index in opened.values():
        index.close()
        conn.close()


@pytest.fixture(params=BACKENDS)
def products(request, engines) -> ProductSearch:
    return engines[request.param][0]


@pytest.fixture(params=BACKENDS)
def pages(request, engines) -> PageSearch:
    return engines[request.param][1]


def all_ids(search: ProductSearch, query: str, filters: SearchFilters, sort: str = "relevance") -> list[str]:
    result = search.search(query, filters, sort=sort, page_size=50)
    assert result.total == len(result.products)
    return [p.id for p in result.products]


def spec(product: dict, name: str):
    return json.loads(product["specs_json"]).get(name)


# (filters, predicate over a product dict) — all within "headphones" words or the whole table
FILTER_CASES = [
    (SearchFilters(category="headphones"), lambda p: p["category"] == "headphones"),
    (SearchFilters(brand="sonora"), lambda p: p["brand"] == "Sonora"),
    (SearchFilters(min_price_cents=2999, max_price_cents=7999),
     lambda p: p["price_cents"] is not None and 2999 <= p["price_cents"] <= 7999),
    (SearchFilters(min_rating=4.5), lambda p: p["rating"] >= 4.5),
    (SearchFilters(specs=[SpecFilter(name="battery_hours", min=20, max=30)]),
     lambda p: spec(p, "battery_hours") is not None and 20 <= spec(p, "battery_hours") <= 30),
    (SearchFilters(specs=[SpecFilter(name="weight_g", max=250)]),
     lambda p: spec(p, "weight_g") is not None and spec(p, "weight_g") <= 250),
    (SearchFilters(specs=[SpecFilter(name="color", equals="BLACK")]), lambda p: spec(p, "color") == "black"),
    (SearchFilters(specs=[SpecFilter(name="noise_cancelling", equals=True)]),
     lambda p: spec(p, "noise_cancelling") is True),
    (SearchFilters(specs=[SpecFilter(name="waterproof", equals=False)]), lambda p: spec(p, "waterproof") is False),
    (SearchFilters(specs=[SpecFilter(name="watts", equals=1200)]), lambda p: spec(p, "watts") == 1200),
    (SearchFilters(specs=[SpecFilter(name="drop_mm")]), lambda p: spec(p, "drop_mm") is not None),
    (SearchFilters(category="blenders", brand="Whirlo", max_price_cents=12999,
                   specs=[SpecFilter(name="dishwasher_safe", equals=True), SpecFilter(name="watts", min=900)]),
     lambda p: p["category"] == "blenders" and p["brand"] == "Whirlo" and (p["price_cents"] or 10**9) <= 12999
     and spec(p, "dishwasher_safe") is True and spec(p, "watts") >= 900),
]


def test_catalog_data_exercises_every_filter() -> None:
    for _, predicate in FILTER_CASES:
        assert 0 < sum(map(predicate, PRODUCTS)) < len(PRODUCTS)


def test_title_word_finds_product_first(products: ProductSearch) -> None:
    for product in PRODUCTS:
        codename = product["title"].split()[1]
        result = products.search(codename, SearchFilters())
        assert result.products[0].id == product["id"]
        assert result.total == 2  # its own title and a neighbour's description


@pytest.mark.parametrize("case", range(len(FILTER_CASES)))
def test_filters_respected(products: ProductSearch, case: int) -> None:
    filters, predicate = FILTER_CASES[case]
    expected = {p["id"] for p in PRODUCTS if predicate(p)}
    assert set(all_ids(products, "", filters)) == expected
    noun_matches = {p["id"] for p in PRODUCTS if predicate(p) and p["category"] in ("headphones", "blenders")}
    assert set(all_ids(products, "headphones blender", filters)) == noun_matches


def test_category_restricts_text_matches(products: ProductSearch) -> None:
    ids = all_ids(products, "wireless", SearchFilters(category="running_shoes"))
    expected = {p["id"] for p in PRODUCTS if p["category"] == "running_shoes" and "Wireless" in p["title"]}
    assert set(ids) == expected and expected
    assert all_ids(products, "wireless", SearchFilters(category="no_such_category")) == []


SORT_KEYS = {
    "price_asc": lambda p: (p["price_cents"] is None, p["price_cents"] or 0, p["id"]),
    "price_desc": lambda p: (p["price_cents"] is None, -(p["price_cents"] or 0), p["id"]),
    "rating": lambda p: (-p["rating"], -p["review_count"], p["id"]),
    "review_count": lambda p: (-p["review_count"], p["id"]),
    "relevance": lambda p: (-p["review_count"], p["id"]),  # without query words
}


@pytest.mark.parametrize("sort", list(SORT_KEYS))
@pytest.mark.parametrize("query", ["", "wireless compact"])
def test_sorts_ordered(products: ProductSearch, sort: str, query: str) -> None:
    ids = all_ids(products, query, SearchFilters(), sort=sort)
    matching = [p for p in PRODUCTS if not query or p["title"].split()[2] in ("Wireless", "Compact")]
    if query and sort == "relevance":
        assert set(ids) == {p["id"] for p in matching}
    else:
        assert ids == [p["id"] for p in sorted(matching, key=SORT_KEYS[sort])]


@pytest.mark.parametrize("query", ["", "studio classic", "headphones"])
def test_paging_covers_all_without_duplicates(products: ProductSearch, query: str) -> None:
    full = all_ids(products, query, SearchFilters(), sort="price_asc")
    seen: list[str] = []
    for page in range(1, 20):
        result = products.search(query, SearchFilters(), sort="price_asc", page=page, page_size=3)
        assert result.total == len(full) and result.page == page
        if not result.products:
            break
        seen += [p.id for p in result.products]
    assert seen == full and len(set(seen)) == len(seen) > 3


def test_junk_query_behaves_like_empty(products: ProductSearch) -> None:
    filters = SearchFilters(category="headphones", min_rating=4.0)
    empty = products.search("", filters)
    junk = products.search("the a of !!! *", filters)
    assert junk.query == "" and junk.products == empty.products and junk.total == empty.total > 0


def test_unknown_words_find_nothing(products: ProductSearch) -> None:
    result = products.search("zzyzx quaggaboo", SearchFilters())
    assert result.total == 0 and result.products == []


def test_title_outranks_description(products: ProductSearch) -> None:
    result = products.search("ibis", SearchFilters())  # P007's title; P004's description
    assert [p.id for p in result.products] == ["P007", "P004"]


QUERIES_FOR_AGREEMENT = ["headphones", "wireless blender", "black studio", "noise cancelling", "pacer shoes", "falcon"]


@pytest.mark.parametrize("query", QUERIES_FOR_AGREEMENT)
@pytest.mark.parametrize("case", [0, 2, 6, 11])
def test_backends_return_same_ids(engines, query: str, case: int) -> None:
    filters = FILTER_CASES[case][0]
    results = [set(all_ids(engines[backend][0], query, filters)) for backend in BACKENDS]
    assert results[0] == results[1]


def test_page_search_finds_page_by_title_word(pages: PageSearch) -> None:
    hits = pages.search("blender")
    assert hits[0].id == "G2" and hits[0].kind == "guide" and hits[0].title == "How to choose a blender"
    forum = pages.search("forum")
    assert [h.id for h in forum] == ["F1"]
    assert len(forum[0].snippet) <= 210 and "\n" not in forum[0].snippet
    late = pages.search("waterproof")[0]  # the word sits past the first 200 characters
    assert late.id == "F1" and "waterproof" in late.snippet and late.snippet.startswith("...")
    assert pages.search("") == [] and pages.search("zzyzx") == []


def test_page_search_limit_validated(pages: PageSearch) -> None:
    with pytest.raises(ValueError, match="between 1 and 50"):
        pages.search("guide", limit=0)


@pytest.mark.parametrize("name", ["Color", "color; DROP TABLE products", "$.color", "a.b", "", "colour-name"])
def test_invalid_spec_name_rejected(products: ProductSearch, name: str) -> None:
    with pytest.raises(ValueError, match=r"\^\[a-z0-9_\]\+\$"):
        products.search("headphones", SearchFilters(specs=[SpecFilter(name=name, equals="x")]))


def test_paging_and_sort_validated(products: ProductSearch) -> None:
    with pytest.raises(ValueError, match="page must be 1 or more"):
        products.search("", SearchFilters(), page=0)
    with pytest.raises(ValueError, match="between 1 and 50"):
        products.search("", SearchFilters(), page_size=51)
    with pytest.raises(ValueError, match="price_asc"):
        products.search("", SearchFilters(), sort="cheapest")


def test_page_past_the_end_is_empty(products: ProductSearch) -> None:
    result = products.search("headphones", SearchFilters(), page=9)
    assert result.products == [] and result.total == 14


def test_reader_connection_really_hides_hidden_tables(engines) -> None:
    for _, _, conn in engines.values():
        with pytest.raises(sqlite3.DatabaseError, match="prohibited|not authorized"):
            conn.execute("SELECT * FROM hidden_products").fetchall()


def test_rebuild_replaces_index_and_keeps_content_hash(tmp_path: Path) -> None:
    write_catalog(tmp_path)
    before = content_hash(tmp_path / "catalog.db")
    for backend in BACKENDS:
        build_search_index(tmp_path, backend)
        build_search_index(tmp_path, backend)
        conn = open_reader(tmp_path / "catalog.db")
        index = open_search_index(tmp_path, conn, backend)
        assert index.search("falcon", 10) == ["P000", "P037"]
        assert index.search("falcon", 10, category="blenders") == ["P037"]
        assert index.search("shoes", 10, category="running") == []  # a word of an id is not the id
        index.close()
        conn.close()
    assert content_hash(tmp_path / "catalog.db") == before
    with pytest.raises(ValueError, match="whoosh, fts5"):
        build_search_index(tmp_path, "lucene")


@pytest.mark.parametrize("backend", BACKENDS)
def test_catalog_without_pages(tmp_path: Path, backend: str) -> None:
    db = sqlite_utils.Database(tmp_path / "catalog.db")
    create_tables(db)
    db["products"].insert_all(PRODUCTS[:3])
    db.close()
    build_search_index(tmp_path, backend)
    conn = open_reader(tmp_path / "catalog.db")
    index = open_search_index(tmp_path, conn, backend)
    assert PageSearch(conn, index).search("guide") == []
    assert [p.id for p in ProductSearch(conn, index).search("lynx", SearchFilters()).products] == ["P002"]
    index.close()
    conn.close()


def test_tokenize_folds_and_drops_noise() -> None:
    assert tokenize("Café ÉCOUTEURS, the usb_c 4K!! a 2.5mm") == ["cafe", "ecouteurs", "usb", "4k", "5mm"]
    assert tokenize(" ".join(f"w{i}" for i in range(40))) == [f"w{i}" for i in range(16)]
    assert tokenize("AND OR NOT * NEAR( \x00 🎧") == ["near"]


def test_plan_tiers() -> None:
    doc_freq = {"kaikor": 40, "vista": 300, "headphones": 900, "absent": 0}
    assert plan(["absent"], doc_freq, 500) == []
    assert plan(["kaikor", "vista", "absent"], doc_freq, 500) == [Tier(("kaikor", "vista"))]  # all fit: exact
    assert plan(["headphones", "vista", "kaikor"], doc_freq, 500) == [
        Tier(("kaikor", "vista"), every=True), Tier(("kaikor", "vista")), Tier(("headphones", "vista", "kaikor"))
    ]
    assert plan(["headphones", "vista", "kaikor"], doc_freq, 100) == [
        Tier(("kaikor", "vista"), every=True), Tier(("kaikor",)), Tier(("headphones", "vista", "kaikor"))
    ]


TIER_QUERIES = ["headphones blender shoes", "sonora falcon wireless headphones", "black white blue studio",
                "wireless compact classic", "pairs well with the otter"]


@pytest.mark.parametrize("budget", [2, 5, 9])
@pytest.mark.parametrize("category", [None, "headphones"])
def test_budgeted_tiers_score_the_same_documents_in_both_backends(catalog_dir: Path, budget: int,
                                                                  category: str | None) -> None:
    conn = open_reader(catalog_dir / "catalog.db")
    indexes = [open_search_index(catalog_dir, conn, backend, score_budget=budget) for backend in BACKENDS]
    for query in TIER_QUERIES:
        words = set(tokenize(query))
        matching = {p["id"] for p in PRODUCTS if words & set(tokenize(" ".join([p["title"], p["description"],
                                                                                  p["specs_json"]])))
                    and category in (None, p["category"])}
        found = [index.search(query, budget, category) for index in indexes]
        assert set(found[0]) == set(found[1]) <= matching, query
        assert len(found[0]) == len(set(found[0])) == min(budget, len(matching)), query
    assert indexes[0].search("sonora falcon wireless headphones", 2)[0] == "P000"  # the core words come first
    for index in indexes:
        index.close()
    conn.close()


@pytest.mark.parametrize("cache", [1, 2_000_000])
@pytest.mark.parametrize("category", [None, "headphones"])
def test_whoosh_ranker_ranks_as_whooshs_own_bm25f_matchers(catalog_dir: Path, cache: int, category: str | None,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The numpy ranking over cached postings gives Whoosh's own scores and order (all matches fit one tier),
    also when the postings cache holds one word at a time."""
    from whoosh import index as whoosh_index
    from whoosh.query import Or, Term
    from whoosh.scoring import BM25F

    from shopgym.catalog.search import whoosh_ranker
    from shopgym.catalog.search.whoosh_index import PRODUCTS, WHOOSH_DIR, WhooshIndex, scope

    monkeypatch.setattr(whoosh_ranker, "POSTINGS_CACHE", cache)
    ours = WhooshIndex(catalog_dir / WHOOSH_DIR, score_budget=1000)
    ix = whoosh_index.open_dir(str(catalog_dir / WHOOSH_DIR), indexname=PRODUCTS)
    field, prefix = ("text", "") if category is None else ("scoped", scope(category))
    with ix.searcher(weighting=BM25F()) as searcher:
        ids = searcher.reader().column_reader("id")
        for query in [*TIER_QUERIES, "wireless studio headphones", "blender falcon otter"] * 2:
            matcher = Or([Term(field, prefix + w) for w in tokenize(query)]).matcher(searcher, searcher.context())
            scored = []
            while matcher.is_active():
                scored.append((-matcher.score(), matcher.id()))
                matcher.next()
            expected = [ids[docnum] for _, docnum in sorted(scored)]
            assert expected, query
            assert ours.search(query, 1000, category) == expected, query
    ix.close()
    ours.close()


HOSTILE_TEXT = st.one_of(
    st.sampled_from(INJECTIONS),
    st.text(max_size=300),
    st.text(alphabet="\"'*:()^-+ ;\x00NEARORANDNOTtitle", max_size=60),
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(query=HOSTILE_TEXT, brand=HOSTILE_TEXT, value=HOSTILE_TEXT)
def test_hostile_text_never_raises_or_writes(catalog_dir: Path, engines, query: str, brand: str, value: str) -> None:
    before = products_digest(catalog_dir / "catalog.db")
    for product_search, page_search, _ in engines.values():
        for filters in (SearchFilters(), SearchFilters(brand=brand, specs=[SpecFilter(name="color", equals=value)])):
            result = product_search.search(query, filters)
            assert result.total >= len(result.products)
        page_search.search(query)
    assert products_digest(catalog_dir / "catalog.db") == before
