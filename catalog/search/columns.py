"""Columns in memory for searches without query words: numpy masks and orders in place of SQL scans.

`Columns` holds the filterable fields of one category's products (or of all products) in id order
and, on first use, each spec a filter names, read with the very `json_type`/`json_extract` calls
the SQL path makes, so that every comparison gives SQLite's answer. Values the arrays cannot
compare exactly are left to SQL (see `exact`). The catalog is read-only: nothing is invalidated.
"""

from __future__ import annotations

import math
import sqlite3
import string
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..models import SearchFilters, SpecFilter

JSON_TYPES = ("null", "true", "false", "integer", "real", "text", "array", "object")  # kind = index
NULL, TRUE, FALSE = 0, 1, 2
NUMBER_TYPES = ("integer", "real")
SQL_INT_MAX = 2**63 - 1  # larger Python ints do not bind: SQLite raises OverflowError
FLOAT_EXACT = 2**53  # integers up to this size compare exactly as float64
NO_TEXT, NO_CODE = -1, -2  # text code of a row without text; code of a value no row has
_NOCASE = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def nocase(text: str) -> str:
    """`text` as SQLite's NOCASE collation compares it: ASCII letters folded, nothing else."""
    return text.translate(_NOCASE)


def _exact_text(text: object, folded: bool) -> bool:
    """Whether SQLite gets `text` whole (it encodes to UTF-8) and compares it as Python does
    (a NUL ends a NOCASE comparison, which `folded` text gets)."""
    if not isinstance(text, str):
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return not (folded and "\x00" in text)


def _exact_int(value: object, limit: int) -> bool:
    return not isinstance(value, int) or -limit <= value <= limit


def _exact_spec(spec: SpecFilter) -> bool:
    return _exact_text(spec.equals, folded=True) and all(
        _exact_int(value, FLOAT_EXACT) for value in (spec.equals, spec.min, spec.max)
    )


def exact(filters: SearchFilters) -> bool:
    """Whether the columns answer `filters` exactly as SQL does: text SQLite can bind and compare as
    Python does, integers that bind (prices) or are exact as float64 (specs). SQL answers the rest,
    raising where it raises."""
    return (
        _exact_text(filters.category, folded=False)
        and _exact_text(filters.brand, folded=True)
        and all(_exact_int(bound, SQL_INT_MAX) for bound in (filters.min_price_cents, filters.max_price_cents))
        and all(map(_exact_spec, filters.specs))
    )


def _compact(values: array, fill: float) -> np.ndarray:
    """`values` as an array, or a broadcast `fill` (no memory) when every value is `fill`."""
    arr = np.array(values, dtype=np.float64 if values.typecode == "d" else np.int32)
    if np.array_equal(arr, np.full(len(arr), fill), equal_nan=True):
        return np.broadcast_to(arr.dtype.type(fill), arr.shape)
    return arr


class SpecColumn:
    """One spec at the rows of a scope where `json_type` finds it: its JSON type, its number (NaN
    unless integer or real) and the code of its NOCASE-folded `json_extract` text (text, and the
    JSON of arrays and objects; `NO_TEXT` otherwise)."""

    def __init__(self, rows: array, kinds: array, numbers: array, texts: array, codes: dict[str, int]) -> None:
        self.rows = np.array(rows, dtype=np.int32)
        self.kinds = np.array(kinds, dtype=np.int8)
        self.numbers = _compact(numbers, math.nan)
        self.texts = _compact(texts, NO_TEXT)
        self.codes = codes

    def mask(self, spec: SpecFilter, size: int) -> np.ndarray:
        """Rows of the scope that pass `spec`, as `_spec_clause` in hybrid.py words it: present and
        not JSON null, then each condition (booleans by type, text NOCASE, numbers only if numbers)."""
        ok = self.kinds != NULL
        if isinstance(spec.equals, bool):
            ok &= self.kinds == (TRUE if spec.equals else FALSE)
        elif isinstance(spec.equals, str):
            ok &= self.texts == self.codes.get(nocase(spec.equals), NO_CODE)
        elif spec.equals is not None:
            ok &= self.numbers == spec.equals
        if spec.min is not None:
            ok &= self.numbers >= spec.min
        if spec.max is not None:
            ok &= self.numbers <= spec.max
        mask = np.zeros(size, dtype=bool)
        mask[self.rows[ok]] = True
        return mask


ABSENT = SpecColumn(array("i"), array("b"), array("d"), array("i"), {})  # a spec no row of the scope has


SortKeys = Callable[["Columns"], tuple[np.ndarray, ...]]


def _by_reviews(c: Columns) -> tuple[np.ndarray, ...]:
    return (-c.reviews,)


# hybrid.ORDER_BY as sort keys, most significant first; the sort is stable, so ties stay in id order
SORT_KEYS: dict[str, SortKeys] = {
    "relevance": _by_reviews,
    "price_asc": lambda c: (~c.priced, c.prices),
    "price_desc": lambda c: (~c.priced, -c.prices),
    "rating": lambda c: (-c.ratings, -c.reviews),
    "review_count": _by_reviews,
}


@dataclass(eq=False)
class Columns:
    """Price, rating, review count and NOCASE brand of one category's products (all products for
    None) in id order, with the rowids to fetch a page by; specs and sort orders load on first use."""

    conn: sqlite3.Connection
    where: str  # the SQL that chose the scope, with its parameters
    params: list[object]
    rowids: np.ndarray
    brands: np.ndarray  # codes into brand_codes; NO_TEXT for a brand that is not text
    brand_codes: dict[str, int]
    prices: np.ndarray  # 0 where unpriced
    priced: np.ndarray
    ratings: np.ndarray
    reviews: np.ndarray
    specs: dict[str, SpecColumn | None] = field(default_factory=dict)
    orders: dict[SortKeys, np.ndarray] = field(default_factory=dict)  # one per distinct order

    @classmethod
    def load(cls, conn: sqlite3.Connection, category: str | None) -> Columns | None:
        """The columns of a scope, or None if SQLite refuses to read them or a value has a type they
        cannot hold (SQL then answers)."""
        where, params = (" WHERE category = ?", [category]) if category is not None else ("", [])
        rowids, brands, prices, priced, ratings, reviews = (array(t) for t in "qiqbdq")
        codes: dict[str, int] = {}
        sql = f"SELECT rowid, brand, price_cents, rating, review_count FROM products{where} ORDER BY id"
        try:
            for rowid, brand, price, rating, count in conn.execute(sql, params):
                if not (type(price) in (int, type(None)) and type(rating) is float and type(count) is int):
                    return None
                rowids.append(rowid)
                brands.append(codes.setdefault(nocase(brand), len(codes)) if isinstance(brand, str) else NO_TEXT)
                prices.append(price or 0)
                priced.append(price is not None)
                ratings.append(rating)
                reviews.append(count)
        except sqlite3.Error:
            return None
        return cls(conn, where, params, np.array(rowids, dtype=np.int64), np.array(brands, dtype=np.int32), codes,
                   np.array(prices, dtype=np.int64), np.array(priced, dtype=bool),
                   np.array(ratings, dtype=np.float64), np.array(reviews, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.rowids)

    def search(self, filters: SearchFilters, sort: str) -> np.ndarray | None:
        """Positions of the rows passing `filters` (all but the category, which chose the scope) in
        `sort` order, or None if a spec they name can only be compared by SQL."""
        mask = np.ones(len(self), dtype=bool)
        if filters.brand is not None:
            mask &= self.brands == self.brand_codes.get(nocase(filters.brand), NO_CODE)
        if filters.min_price_cents is not None:
            mask &= self.priced & (self.prices >= filters.min_price_cents)
        if filters.max_price_cents is not None:
            mask &= self.priced & (self.prices <= filters.max_price_cents)
        if filters.min_rating is not None:
            mask &= self.ratings >= filters.min_rating
        for spec in filters.specs:
            column = self._spec(spec.name)
            if column is None:
                return None
            mask &= column.mask(spec, len(self))
        order = self._order(sort)
        return order[mask[order]]

    def _order(self, sort: str) -> np.ndarray:
        keys = SORT_KEYS[sort]
        if keys not in self.orders:
            self.orders[keys] = np.lexsort(keys(self)[::-1]).astype(np.int32)
        return self.orders[keys]

    @cached_property
    def _keys(self) -> frozenset[str] | None:
        """Every top-level key in the scope's specs (the names `$.name` finds are among them), or
        None if some specs are not valid JSON."""
        sql = f"SELECT DISTINCT key FROM products, json_each(products.specs_json){self.where}"
        try:
            return frozenset(str(key) for (key,) in self.conn.execute(sql, self.params) if key is not None)
        except sqlite3.Error:
            return None

    def _spec(self, name: str) -> SpecColumn | None:
        if name not in self.specs:
            keys = self._keys
            if keys is None:
                return None
            self.specs[name] = self._load_spec(name) if name in keys else ABSENT
        return self.specs[name]

    def _load_spec(self, name: str) -> SpecColumn | None:
        """Spec `name` as the SQL path reads it, or None if SQLite refuses it or a number is too big
        to compare exactly as float64."""
        path = f"$.{name}"
        sql = f"SELECT json_type(specs_json, ?), json_extract(specs_json, ?) FROM products{self.where} ORDER BY id"
        rows, kinds, numbers, texts = (array(t) for t in "ibdi")
        codes: dict[str, int] = {}
        try:
            for row, (kind, value) in enumerate(self.conn.execute(sql, [path, path, *self.params])):
                if kind is None:
                    continue
                if type(value) is int and abs(value) > FLOAT_EXACT:
                    return None
                rows.append(row)
                kinds.append(JSON_TYPES.index(kind))
                numbers.append(value if kind in NUMBER_TYPES and value is not None else math.nan)
                texts.append(codes.setdefault(nocase(value), len(codes)) if isinstance(value, str) else NO_TEXT)
        except sqlite3.Error:
            return None
        return SpecColumn(rows, kinds, numbers, texts, codes)
