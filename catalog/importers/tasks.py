"""After loading a dump: summaries from imported reviews, category schemas, and observable tasks.

A dump has no latent truth, so a task's need is built only from what anyone can observe in the
catalog: prices (the budget is a price quantile of the category), ratings (a minimum rating),
aspects mined from review text (the priorities) and common spec values (an optional must-have).
Every need is checked to be satisfiable by at least one product. All of it is deterministic and
idempotent: rerunning replaces the previous result with the same rows.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter, defaultdict
from typing import Any

from ..need import Constraint, Need, Priority
from .aspects import LEXICON, aspect_info, parse_aspects

MIN_PRICED_PRODUCTS = 5
TASKS_PER_CATEGORY = 5
BUDGET_QUANTILES = (0.5, 0.75, 0.3, 0.9, 0.6)
MIN_RATINGS = (4.0, 3.5)
PRIORITY_WEIGHTS = (1.0, 0.6, 0.3)
PRIORITY_ORDERS = ((0, 1, 2), (1, 0, 2), (0, 2, 1), (2, 0, 1), (1, 2, 0))
MUST_HAVE_VARIANTS = (1, 3)  # which of a category's tasks try a must-have spec value
SCHEMA_MIN_SHARE = 0.2
SCHEMA_MAX_ATTRS = 12
CHOICE_MAX_VALUES = 10
MUST_HAVE_SHARE = (0.2, 0.8)
MAX_VALUE_CHARS = 40
SHOPPER_PREFIX = "S-imp-"
TASK_PREFIX = "T-imp-"


def summarise_from_reviews(conn: sqlite3.Connection) -> None:
    """Products with imported reviews take their rating and count from them (the others keep the dump's)."""
    conn.execute(
        """
        UPDATE products SET
            rating = (SELECT round(avg(r.rating), 2) FROM reviews r WHERE r.product_id = products.id),
            review_count = (SELECT count(*) FROM reviews r WHERE r.product_id = products.id)
        WHERE id IN (SELECT product_id FROM reviews)
        """
    )


def _aspect_mentions(conn: sqlite3.Connection) -> dict[str, Counter]:
    mentions: dict[str, Counter] = defaultdict(Counter)
    rows = conn.execute(
        "SELECT p.category, r.aspects FROM reviews r JOIN products p ON p.id = r.product_id WHERE r.aspects != ''")
    for category, aspects in rows:
        mentions[category].update(parse_aspects(aspects))
    return mentions


def _ranked_aspects(counter: Counter) -> list[str]:
    return [name for name, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])) if name in LEXICON]


def _spec_stats(conn: sqlite3.Connection, category: str) -> tuple[dict[str, dict], list[tuple[str, Any, int]]]:
    """One category's {spec key: {count, kinds, low, high}} and its frequent short (key, value, count)."""
    keys: dict[str, dict] = {}
    rows = conn.execute(
        """
        SELECT j.key, j.type, count(*), min(j.atom), max(j.atom)
        FROM products p, json_each(p.specs_json) j
        WHERE p.category = ?
        GROUP BY j.key, j.type
        """, (category,))
    for key, kind, n, low, high in rows:
        entry = keys.setdefault(key, {"count": 0, "kinds": set(), "low": None, "high": None})
        entry["count"] += n
        entry["kinds"].add(kind)
        if kind in ("integer", "real"):
            entry["low"] = low if entry["low"] is None else min(entry["low"], low)
            entry["high"] = high if entry["high"] is None else max(entry["high"], high)
    values: list[tuple[str, Any, int]] = []
    rows = conn.execute(
        f"""
        SELECT j.key, j.type, j.atom, count(*) AS n
        FROM products p, json_each(p.specs_json) j
        WHERE p.category = ? AND j.type IN ('text', 'true') AND length(j.atom) <= {MAX_VALUE_CHARS}
        GROUP BY j.key, j.type, j.atom
        ORDER BY j.key, n DESC, j.atom
        """, (category,))
    kept: Counter = Counter()
    for key, kind, atom, n in rows:
        if kept[key] < CHOICE_MAX_VALUES:
            kept[key] += 1
            values.append((key, True if kind == "true" else atom, n))
    return keys, values


def _schema(keys: dict[str, dict], values: list[tuple[str, Any, int]], products: int) -> list[dict[str, Any]]:
    """Spec attributes most products of the category have, in the shapes of `taxonomy` attributes."""
    by_key: dict[str, list[Any]] = defaultdict(list)
    for key, value, _ in values:
        by_key[key].append(value)
    common = [(key, e) for key, e in keys.items() if e["count"] >= max(2, SCHEMA_MIN_SHARE * products)]
    common.sort(key=lambda ke: (-ke[1]["count"], ke[0]))
    schema = []
    for key, entry in common[:SCHEMA_MAX_ATTRS]:
        label = key.replace("_", " ")
        kinds = entry["kinds"]
        if kinds <= {"integer", "real"}:
            decimals = 0 if kinds == {"integer"} else 2
            schema.append({"kind": "numeric", "name": key, "label": label, "unit": "", "low": entry["low"],
                           "high": entry["high"], "decimals": decimals, "higher_is_better": True})
        elif kinds <= {"true", "false"}:
            schema.append({"kind": "bool", "name": key, "label": label})
        else:
            schema.append({"kind": "choice", "name": key, "label": label,
                           "values": [str(v) for v in by_key.get(key, []) if v is not True]})
    return schema


def describe_category(conn: sqlite3.Connection, category: str, size: int, keys: dict[str, dict],
                      values: list[tuple[str, Any, int]], mentions: Counter) -> None:
    """Fill `schema_json` (common specs) and `aspects_json` (mined aspects, most mentioned first)."""
    schema = _schema(keys, values, size)
    aspects = [{**aspect_info(name), "mentions": mentions[name]} for name in _ranked_aspects(mentions)]
    conn.execute("UPDATE categories SET schema_json = ?, aspects_json = ? WHERE id = ?",
                 (json.dumps(schema, sort_keys=True), json.dumps(aspects, sort_keys=True), category))


def _fits(conn: sqlite3.Connection, category: str, budget: int, min_rating: float | None,
          must: Constraint | None) -> int:
    sql = "SELECT count(*) FROM products WHERE category = ? AND price_cents IS NOT NULL AND price_cents <= ?"
    params: list[Any] = [category, budget]
    if min_rating is not None:
        sql += " AND rating >= ?"
        params.append(min_rating)
    if must is not None:
        path = '$."' + must.attr + '"'
        if must.value is True:
            sql += " AND json_type(specs_json, ?) = 'true'"
            params.append(path)
        else:
            sql += " AND json_type(specs_json, ?) = 'text' AND json_extract(specs_json, ?) = ?"
            params.extend([path, path, must.value])
    return conn.execute(sql, params).fetchone()[0]


def _budget(conn: sqlite3.Connection, category: str, priced: int, quantile: float) -> int:
    """The nearest-rank `quantile` of the category's prices."""
    offset = max(0, math.ceil(quantile * priced) - 1)
    return conn.execute(
        "SELECT price_cents FROM products WHERE category = ? AND price_cents IS NOT NULL "
        "ORDER BY price_cents LIMIT 1 OFFSET ?", (category, offset)).fetchone()[0]


def _must_have_candidates(values: list[tuple[str, Any, int]], products: int) -> list[Constraint]:
    low, high = MUST_HAVE_SHARE
    picks = [(key, value, n) for key, value, n in values if low * products <= n <= high * products and n >= 2]
    picks.sort(key=lambda kvn: (-kvn[2], kvn[0], str(kvn[1])))
    return [Constraint(attr=key, op="eq", value=value) for key, value, _ in picks]


def category_tasks(conn: sqlite3.Connection, category: str, priced: int, size: int,
                   values: list[tuple[str, Any, int]], mentions: Counter) -> list[tuple[Need, dict[str, Any]]]:
    """Up to TASKS_PER_CATEGORY distinct satisfiable needs (with their knobs) for one category."""
    if priced < MIN_PRICED_PRODUCTS:
        return []
    aspects = _ranked_aspects(mentions)
    candidates = _must_have_candidates(values, size)
    out: list[tuple[Need, dict[str, Any]]] = []
    seen: set[str] = set()
    for variant in range(TASKS_PER_CATEGORY):
        quantile = BUDGET_QUANTILES[variant]
        budget = _budget(conn, category, priced, quantile)
        must = None
        if variant in MUST_HAVE_VARIANTS and candidates:
            must = candidates[MUST_HAVE_VARIANTS.index(variant) % len(candidates)]
            if _fits(conn, category, budget, None, must) == 0:
                must = None
        min_rating = next((r for r in MIN_RATINGS if _fits(conn, category, budget, r, must) > 0), None)
        order = [i for i in PRIORITY_ORDERS[variant] if i < len(aspects)]
        priorities = [Priority(aspect=aspects[i], weight=PRIORITY_WEIGHTS[rank]) for rank, i in enumerate(order)]
        need = Need(category=category, budget_cents=budget, min_rating=min_rating, priorities=priorities,
                    must_haves=[must] if must else [])
        key = need.model_dump_json()
        if key in seen:
            continue
        seen.add(key)
        knobs = {"truth_source": "observable", "budget_quantile": quantile, "priced_products": priced,
                 "fitting_products": _fits(conn, category, budget, min_rating, must),
                 "signals": ["price", "rating"] + (["review_aspects"] if priorities else [])
                 + (["specs"] if must else [])}
        out.append((need, knobs))
    return out


def _insert_task(conn: sqlite3.Connection, index: int, need: Need, knobs: dict[str, Any]) -> None:
    shopper_id, task_id = f"{SHOPPER_PREFIX}{index:04d}", f"{TASK_PREFIX}{index:04d}"
    split = split_for(index - 1)
    conn.execute("INSERT INTO shoppers (id, name, split) VALUES (?, ?, ?)",
                 (shopper_id, f"Imported shopper {index:04d}", split))
    conn.execute(
        "INSERT INTO tasks (id, shopper_id, category, split, difficulty, truth_source) "
        "VALUES (?, ?, ?, ?, 'easy', 'observable')", (task_id, shopper_id, need.category, split))
    conn.execute("INSERT INTO hidden_task_needs (task_id, kind, need_json, knobs_json) VALUES (?, 'observable', ?, ?)",
                 (task_id, need.model_dump_json(), json.dumps(knobs, sort_keys=True)))
    conn.execute("INSERT INTO hidden_shopper_prefs (shopper_id, category, prefs_json) VALUES (?, ?, ?)",
                 (shopper_id, need.category, need.model_dump_json()))


def split_for(shopper_index: int) -> str:
    """8:1:1 by shopper index: 0-7 train, 8 val, 9 test, repeating."""
    slot = shopper_index % 10
    return "train" if slot < 8 else ("val" if slot == 8 else "test")


def finish_import(conn: sqlite3.Connection) -> int:
    """Everything after the rows are in, one category at a time; returns the number of tasks.

    Replaces earlier results (so a rerun after a kill in here starts clean): product summaries
    from reviews, category schemas and aspects, and every task with its shopper and hidden need.
    """
    summarise_from_reviews(conn)
    mentions = _aspect_mentions(conn)
    for table in ("hidden_task_needs", "hidden_shopper_prefs", "tasks", "shoppers"):
        conn.execute(f"DELETE FROM {table}")
    sizes = conn.execute(
        "SELECT c.id, count(p.id), count(p.price_cents) FROM categories c LEFT JOIN products p ON p.category = c.id "
        "GROUP BY c.id ORDER BY c.id").fetchall()
    index = 0
    for category, size, priced in sizes:
        keys, values = _spec_stats(conn, category)
        counter = mentions.get(category, Counter())
        describe_category(conn, category, size, keys, values, counter)
        for need, knobs in category_tasks(conn, category, priced, size, values, counter):
            index += 1
            _insert_task(conn, index, need, knobs)
    return index
