"""Hidden truth for grading only: task needs, utilities, latent qualities, review labels.

Tools never use this module; the env's reward does. Every record carries its table's canary, so a
record that reaches an observation or `info` shows up in the leakage test.
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .need import Need
from .store import DB_FILE
from .taxonomy import CATEGORY_BY_ID, Category
from .utility import CategoryTable

CACHED_TASKS = 4  # task truths kept in memory (every category table is kept once loaded: they are compact)
CACHED_SENTIMENTS = 64  # products whose labelled aspect sentiments are kept (a report's claims revisit a few)


class Utilities(Mapping[str, float]):
    """Product id -> utility for every product of a category, read from the task's utility column (a dict
    built per task cost more than grading the episode at 100k products)."""

    def __init__(self, positions: dict[str, int], values: np.ndarray) -> None:
        self._positions, self._values = positions, values.tolist()

    def __getitem__(self, product_id: str) -> float:
        return self._values[self._positions[product_id]]

    def __contains__(self, product_id: object) -> bool:
        return product_id in self._positions

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


@dataclass(frozen=True)
class TaskTruth:
    task_id: str
    kind: str
    truth_source: str
    need: Need
    utilities: Mapping[str, float]  # product id -> utility, for every product of the category
    fitting: frozenset[str]
    canary: str = field(repr=False)
    ideal: tuple[str, ...] = field(default=(), repr=False)  # fitting ids by utility, best first

    def __post_init__(self) -> None:
        if not self.ideal and self.fitting:
            object.__setattr__(self, "ideal", tuple(sorted(self.fitting, key=lambda p: (-self.utilities[p], p))))

    def ideal_ranking(self) -> list[str]:
        return list(self.ideal)


def observable_category(conn: sqlite3.Connection, category_id: str) -> Category:
    """A category of an imported dump, from its stored schema (no latent aspects)."""
    row = conn.execute("SELECT id, name, department, noun, schema_json, aspects_json FROM categories WHERE id = ?",
                       (category_id,)).fetchone()
    return Category(id=row[0], name=row[1], department=row[2], noun=row[3], price_low=1, price_high=2,
                    attributes=json.loads(row[4]), aspects=json.loads(row[5]), uses=[])


class TruthReader:
    """Read access to the hidden tables of a catalog folder."""

    def __init__(self, catalog_dir: Path | str) -> None:
        self.conn = sqlite3.connect(f"file:{Path(catalog_dir) / DB_FILE}?mode=ro", uri=True, check_same_thread=False)
        self._tables: dict[str, CategoryTable] = {}
        self._tasks: OrderedDict[str, TaskTruth] = OrderedDict()
        self._sentiments: OrderedDict[str, dict[str, float]] = OrderedDict()  # product -> aspect -> mean

    def close(self) -> None:
        self.conn.close()

    def category_table(self, category_id: str) -> CategoryTable:
        """The category's products with latent qualities (observable signals for imported dumps)."""
        if category_id not in self._tables:
            category = CATEGORY_BY_ID.get(category_id) or observable_category(self.conn, category_id)
            rows = self.conn.execute(
                "SELECT p.id, p.brand, p.price_cents, p.rating, p.specs_json, h.qualities_json, h.spec_corrections_json "
                "FROM products p "
                "LEFT JOIN hidden_products h ON h.product_id = p.id WHERE p.category = ? ORDER BY p.id",
                (category_id,)).fetchall()
            aspects = [a.name for a in category.aspects]
            self._tables[category_id] = CategoryTable.from_rows(category, [
                (r[0], r[1], r[2] if r[2] is not None else 2**62, r[3], {**json.loads(r[4]), **json.loads(r[6] or "{}")},
                 json.loads(r[5]) if r[5] else {a: r[3] / 5 for a in aspects}) for r in rows])
        return self._tables[category_id]

    def task(self, task_id: str) -> TaskTruth:
        if task_id in self._tasks:
            self._tasks.move_to_end(task_id)
        else:
            row = self.conn.execute(
                "SELECT h.kind, h.need_json, h.canary, t.truth_source FROM hidden_task_needs h "
                "JOIN tasks t ON t.id = h.task_id WHERE h.task_id = ?", (task_id,)).fetchone()
            if row is None:
                raise KeyError(f"no task {task_id!r}")
            need = Need.model_validate_json(row[1])
            table = self.category_table(need.category)
            utilities = table.utility(need)
            fitting = np.nonzero(table.fits(need))[0]
            ids = table.id_array()
            best_first = fitting[np.lexsort((ids[fitting], -utilities[fitting]))]
            self._tasks[task_id] = TaskTruth(
                task_id=task_id, kind=row[0], truth_source=row[3], need=need,
                utilities=Utilities(table.positions(), utilities), fitting=frozenset(ids[fitting].tolist()),
                canary=row[2] or "", ideal=tuple(ids[best_first].tolist()))
            if len(self._tasks) > CACHED_TASKS:
                self._tasks.popitem(last=False)
        return self._tasks[task_id]

    def review_sentiment(self, product_id: str, aspect: str) -> float | None:
        """Mean labelled sentiment (-1..1) of an aspect over a product's genuine reviews; None if unlabelled."""
        if product_id not in self._sentiments:
            rows = self.conn.execute(
                "SELECT l.sentiments_json FROM hidden_review_labels l JOIN reviews r ON r.id = l.review_id "
                "WHERE r.product_id = ? AND l.fake = 0", (product_id,)).fetchall()
            signs: dict[str, list[float]] = {}
            for (labels,) in rows:
                for name, sign in json.loads(labels).items():
                    signs.setdefault(name, []).append(sign)
            self._sentiments[product_id] = {name: float(np.mean(values)) for name, values in signs.items()}
            if len(self._sentiments) > CACHED_SENTIMENTS:
                self._sentiments.popitem(last=False)
        return self._sentiments[product_id].get(aspect)

    def true_specs(self, product_id: str) -> dict | None:
        """A product's real specs: the listing's, corrected where the listing misstates one."""
        row = self.conn.execute("SELECT p.specs_json, h.spec_corrections_json FROM products p LEFT JOIN hidden_products h "
                                "ON h.product_id = p.id WHERE p.id = ?", (product_id,)).fetchone()
        return {**json.loads(row[0] or "{}"), **json.loads(row[1] or "{}")} if row else None

    def review_about(self, review_id: str) -> tuple[str, frozenset[str]] | None:
        """The product a review is of and the aspects its text mentions."""
        row = self.conn.execute("SELECT product_id, aspects FROM reviews WHERE id = ?", (review_id,)).fetchone()
        return (row[0], frozenset(a for a in (row[1] or "").split(",") if a)) if row else None

    def page_states(self, page_id: str) -> frozenset[tuple[str, str]]:
        """The (product, field) pairs a web page states, whether current, stale or wrong."""
        rows = self.conn.execute("SELECT product_id, field FROM hidden_page_facts WHERE page_id = ?", (page_id,))
        return frozenset((product, field) for product, field in rows)
