"""Ground-truth utility of every product of a category for a need (a pure, vectorised function).

utility = 0.6 * aspect term + 0.25 * spec term + 0.15 * price term, each in [0, 1]:
- aspect term: latent aspect qualities weighted by the need's priorities (their mean without priorities);
- spec term: numeric specs scaled to [0, 1] over the schema range (flipped where lower is better),
  weighted by the need's spec weights (0.5 without weights);
- price term: 1 - price / budget, clipped to [0, 1] (against the dearest product without a budget).
`fits` is the hard-constraint mask: a product that does not fit has no value to the shopper.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .models import SpecValue
from .need import Constraint, Need
from .taxonomy import Category, NumericAttr

ASPECT_WEIGHT, SPEC_WEIGHT, PRICE_WEIGHT = 0.7, 0.15, 0.15


def _number(value: object) -> float:
    """A numeric spec as a float; NaN when absent or not a number (an imported dump may hold text there)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else np.nan


@dataclass
class CategoryTable:
    """Column arrays of one category's products, truth included (compact: one array per spec)."""

    category: Category
    ids: list[str]
    brands: list[str]
    prices: np.ndarray  # cents
    ratings: np.ndarray
    qualities: np.ndarray  # (products, aspects), latent
    columns: dict[str, np.ndarray] = field(repr=False)  # spec -> values; floats (NaN: absent) for numeric specs
    _brand_column: np.ndarray | None = field(default=None, repr=False)
    _id_array: np.ndarray | None = field(default=None, repr=False)
    _positions: dict[str, int] | None = field(default=None, repr=False)

    @classmethod
    def from_rows(cls, category: Category, rows: list[tuple[str, str, int, float, dict, dict]]) -> CategoryTable:
        """Rows of (id, brand, price_cents, rating, specs, qualities)."""
        names = dict.fromkeys([a.name for a in category.attributes] + sorted({k for r in rows for k in r[4]}))
        numeric = {a.name for a in category.attributes if isinstance(a, NumericAttr)}
        columns = {name: np.array([_number(r[4].get(name)) for r in rows], dtype=float) if name in numeric
                   else np.array([r[4].get(name) for r in rows], dtype=object) for name in names}
        return cls(
            category=category,
            ids=[r[0] for r in rows],
            brands=[r[1] for r in rows],
            prices=np.array([r[2] for r in rows], dtype=np.int64),
            ratings=np.array([r[3] for r in rows], dtype=float),
            qualities=np.array([[r[5][a.name] for a in category.aspects] for r in rows], dtype=float).reshape(
                len(rows), len(category.aspects)),
            columns=columns,
        )

    def id_array(self) -> np.ndarray:
        """The ids as a string array (cached), for vectorised selection and sorting."""
        if self._id_array is None:
            self._id_array = np.array(self.ids, dtype=str)
        return self._id_array

    def positions(self) -> dict[str, int]:
        """Product id -> row (cached)."""
        if self._positions is None:
            self._positions = {pid: i for i, pid in enumerate(self.ids)}
        return self._positions

    def spec_of(self, index: int) -> dict[str, SpecValue]:
        """One product's specs as a dict (numeric specs with no decimals as int)."""
        whole = {a.name for a in self.category.attributes if isinstance(a, NumericAttr) and a.decimals == 0}
        out: dict[str, SpecValue] = {}
        for name, column in self.columns.items():
            value = column[index]
            if isinstance(value, float | np.floating):
                if not np.isnan(value):
                    out[name] = int(value) if name in whole else float(value)
            elif value is not None:
                out[name] = value
        return out

    def spec_column(self, name: str) -> np.ndarray:
        """One spec (or `brand`) across products; floats for numeric specs."""
        if name == "brand":
            if self._brand_column is None:
                self._brand_column = np.array(self.brands, dtype=object)
            return self._brand_column
        if name not in self.columns:
            return np.full(len(self.ids), None, dtype=object)
        return self.columns[name]

    def holds(self, constraint: Constraint) -> np.ndarray:
        """Vectorised `Constraint.holds` over the products."""
        column = self.spec_column(constraint.attr)
        if constraint.op == "eq":
            return column == constraint.value
        if constraint.op == "ne":
            return column != constraint.value
        if constraint.op == "gte":
            return column >= float(constraint.value)
        return column <= float(constraint.value)

    def fits(self, need: Need) -> np.ndarray:
        mask = np.ones(len(self.ids), dtype=bool)
        if need.budget_cents is not None:
            mask &= self.prices <= need.budget_cents
        if need.min_rating is not None:
            mask &= self.ratings >= need.min_rating
        for constraint in need.must_haves:
            mask &= self.holds(constraint).astype(bool)
        for constraint in need.deal_breakers:
            mask &= ~self.holds(constraint).astype(bool)
        return mask

    def utility(self, need: Need) -> np.ndarray:
        aspect_names = [a.name for a in self.category.aspects]
        if need.priorities:
            weights = np.zeros(len(aspect_names))
            for p in need.priorities:
                weights[aspect_names.index(p.aspect)] += p.weight
            aspect_term = self.qualities @ (weights / weights.sum())
        else:
            aspect_term = self.qualities.mean(axis=1)
        spec_term = np.full(len(self.ids), 0.5)
        if need.spec_weights:
            total = sum(need.spec_weights.values())
            spec_term = np.zeros(len(self.ids))
            for name, weight in need.spec_weights.items():
                attr = self.category.attribute(name)
                if not isinstance(attr, NumericAttr):
                    raise ValueError(f"spec weight on {name!r}, which is not numeric")
                scaled = (self.spec_column(name) - attr.low) / (attr.high - attr.low)
                spec_term += weight / total * (scaled if attr.higher_is_better else 1 - scaled)
        scale = need.budget_cents or max(int(self.prices.max()), 1)
        price_term = np.clip(1 - self.prices / scale, 0, 1)
        return np.round(ASPECT_WEIGHT * aspect_term + SPEC_WEIGHT * spec_term + PRICE_WEIGHT * price_term, 6)
