"""A shopper's need in one category: hard constraints and soft priorities (hidden truth)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .models import SpecValue


class Constraint(BaseModel):
    """One hard condition on a product; `attr` is a spec name or `brand`."""

    model_config = ConfigDict(extra="forbid")

    attr: str
    op: Literal["eq", "ne", "gte", "lte"]
    value: SpecValue

    def holds(self, brand: str, specs: dict[str, SpecValue]) -> bool:
        actual = brand if self.attr == "brand" else specs.get(self.attr)
        if actual is None:
            return self.op == "ne"
        if self.op == "eq":
            return actual == self.value
        if self.op == "ne":
            return actual != self.value
        if self.op == "gte":
            return float(actual) >= float(self.value)
        return float(actual) <= float(self.value)


class Priority(BaseModel):
    model_config = ConfigDict(extra="forbid")

    aspect: str
    weight: float = Field(ge=0, le=1)


class Need(BaseModel):
    """What a task's shopper wants. `must_haves` and `deal_breakers` are hard, the rest soft."""

    model_config = ConfigDict(extra="forbid")

    category: str
    budget_cents: int | None = None
    must_haves: list[Constraint] = Field(default_factory=list)
    deal_breakers: list[Constraint] = Field(default_factory=list)
    min_rating: float | None = None
    priorities: list[Priority] = Field(default_factory=list)
    spec_weights: dict[str, float] = Field(default_factory=dict)

    def fits(self, brand: str, price_cents: int | None, rating: float, specs: dict[str, SpecValue]) -> bool:
        """True when a product meets every hard constraint."""
        if self.budget_cents is not None and (price_cents is None or price_cents > self.budget_cents):
            return False
        if self.min_rating is not None and rating < self.min_rating:
            return False
        if not all(c.holds(brand, specs) for c in self.must_haves):
            return False
        return not any(c.holds(brand, specs) for c in self.deal_breakers)
