"""What an episode has done so far: the log the reward reads, and what `snapshot`/`restore` copy."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from .report import Report


@dataclass
class Episode:
    task_id: str
    category: str
    request: str
    max_steps: int
    step: int = 0
    errors: int = 0
    retrieved_products: set[str] = field(default_factory=set)  # shown in any observation
    inspected_products: set[str] = field(default_factory=set)  # viewed, reviews read, or compared
    viewed_products: set[str] = field(default_factory=set)  # product page viewed or compared (price and specs seen)
    researched_products: set[str] = field(default_factory=set)  # reviews read, or an opened page about it
    retrieved_reviews: set[str] = field(default_factory=set)
    retrieved_pages: set[str] = field(default_factory=set)  # opened with open_page
    calls: list[str] = field(default_factory=list)  # canonical JSON of each valid call
    stated: set[str] = field(default_factory=set)  # parts of the need the request states or the user answered
    report: Report | None = None

    @property
    def steps_left(self) -> int:
        return max(0, self.max_steps - self.step)

    def sources(self) -> set[str]:
        """Every id a claim may cite: products inspected, reviews read, pages opened."""
        return self.inspected_products | self.retrieved_reviews | self.retrieved_pages

    def copy(self) -> Episode:
        return copy.deepcopy(self)
