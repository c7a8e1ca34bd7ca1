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

ASPECT_WEIGHT, SPEC_WEIGHT, PRICE_WEIGHT = 0.6, 0.25, 0.15


@dataclass
class CategoryTable:
    """Column arrays of one category's products, truth included."""

    category: Category
    ids: list[str]
    brands: list[str]
    prices: np.ndarray  # cents
    ratings: np.ndarray
    specs: list[dict[str, SpecValue]]
    qualities: np.ndarray  # (products, aspects), latent
    _columns: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def from_rows(cls, category: Category, rows: list[tuple[str, str, int, float, dict, dict]]) -> CategoryTable:
        """Rows of (id, brand, price_cents, rating, specs, qualities)."""
        return cls(
            category=category,
            ids=[r[0] for r in rows],
            brands=[r[1] for r in rows],
            prices=np.array([r[2] for r in rows], dtype=np.int64),
            ratings=np.array([r[3] for r in rows], dtype=float),
            specs=[r[4] for r in rows],
            qualities=np.array([[r[5][a.name] for a in category.aspects] for r in rows], dtype=float).reshape(
                len(rows), len(category.aspects)),
        )

    def spec_column(self, name: str) -> np.ndarray:
        """One spec (or `brand`) across products, cached; floats for numeric specs."""
        if name not in self._columns:
            values = self.brands if name == "brand" else [s.get(name) for s in self.specs]
            numeric = name != "brand" and isinstance(self.category.attribute(name), NumericAttr)
            self._columns[name] = np.array(values, dtype=float if numeric else object)
        return self._columns[name]

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
