"""The one SQLite layout every catalog uses, generated or imported.

Observable tables are what the read API (and so the env's tools) may touch. Hidden tables carry
the truth a report is graded against; their names start with `hidden_` and the read API's
connection refuses to read them (see `reader.py`).
"""

from __future__ import annotations

from typing import Any

HIDDEN_PREFIX = "hidden_"

# name -> (columns with SQLite types, primary key, indexes)
TABLES: dict[str, tuple[dict[str, type | str], str | tuple[str, ...], list[tuple[str, ...]]]] = {
    "meta": ({"key": str, "value": str}, "key", []),
    "categories": (
        {"id": str, "name": str, "department": str, "noun": str, "schema_json": str, "aspects_json": str},
        "id",
        [],
    ),
    "products": (
        {
            "id": str,
            "title": str,
            "brand": str,
            "category": str,
            "price_cents": int,  # NULL when a real dump has no price
            "rating": float,  # mean star rating, 0 when unrated
            "review_count": int,
            "description": str,
            "specs_json": str,  # {attribute: value}
            "variants_json": str,  # [{"name": ..., "values": [...]}]
        },
        "id",
        [("category", "price_cents"), ("brand",), ("review_count",), ("rating",)],
    ),
    "reviews": (
        {
            "id": str,
            "product_id": str,
            "author": str,
            "rating": int,
            "title": str,
            "text": str,
            "date": str,  # ISO yyyy-mm-dd
            "verified": int,
            "helpful_votes": int,
            "aspects": str,  # ",comfort,battery," — aspects the text mentions (observable)
        },
        "id",
        [("product_id", "helpful_votes")],
    ),
    "pages": (
        {"id": str, "kind": str, "category": str, "title": str, "text": str, "date": str, "author": str,
         "product_ids_json": str},
        "id",
        [],
    ),
    "shoppers": ({"id": str, "name": str, "split": str}, "id", []),
    "shopper_events": (
        {
            "shopper_id": str,
            "seq": int,
            "day": int,  # days since the world's epoch
            "kind": str,  # search | view | cart | purchase | return | review | service
            "category": str,
            "product_id": str,  # NULL for searches
            "query": str,  # search text; NULL otherwise
            "text": str,  # review or service-message text; NULL otherwise
            "price_cents": int,  # price seen at the time; NULL for searches
        },
        ("shopper_id", "seq"),
        [],
    ),
    "tasks": (
        {"id": str, "shopper_id": str, "category": str, "split": str, "difficulty": str, "truth_source": str},
        "id",
        [("split",)],
    ),
    # --- hidden truth: never read by the read API ---
    "hidden_products": (
        {"product_id": str, "qualities_json": str, "defects_json": str, "near_duplicate_of": str,
         "spec_corrections_json": str,  # {spec: true value} where the listing misstates it; NULL otherwise
         "canary": str},
        "product_id",
        [],
    ),
    "hidden_review_labels": (
        {"review_id": str, "sentiments_json": str, "fake": int, "adversarial": int, "canary": str},
        "review_id",
        [],
    ),
    "hidden_page_facts": (
        {"page_id": str, "seq": int, "product_id": str, "field": str, "value": str, "accuracy": str,
         "canary": str},
        ("page_id", "seq"),
        [],
    ),
    "hidden_shopper_prefs": (
        {"shopper_id": str, "category": str, "prefs_json": str, "canary": str},
        ("shopper_id", "category"),
        [],
    ),
    "hidden_task_needs": ({"task_id": str, "kind": str, "need_json": str, "knobs_json": str, "canary": str}, "task_id", []),
}



def canary(table: str) -> str:
    """The string planted in every row of a hidden table: seeing it outside grading means a leak."""
    return f"SHOPGYM-CANARY-{table.removeprefix(HIDDEN_PREFIX).upper()}"


OBSERVABLE_TABLES = [name for name in TABLES if not name.startswith(HIDDEN_PREFIX)]
HIDDEN_TABLES = [name for name in TABLES if name.startswith(HIDDEN_PREFIX)]


def create_tables(db: Any) -> None:
    """Create every table (and its indexes) in a `sqlite_utils.Database` if missing."""
    for name, (columns, pk, indexes) in TABLES.items():
        table = db[name]
        if not table.exists():
            table.create(columns, pk=pk)
        for index in indexes:
            table.create_index(list(index), if_not_exists=True)
