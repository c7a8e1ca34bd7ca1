"""The canonical request: the hidden need in words (the difficulty decides what is left unsaid), and
`RequestedNeed`, which reads a request and the user's answers back against the public category schema."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from shopgym.catalog.need import Need
from shopgym.catalog.taxonomy import Category
from shopgym.catalog.wording import describe_deal_breaker, describe_must_have, dollars

# which parts of the need each difficulty states up front; the rest must be found with ask_user
STATED = {
    "easy": {"budget", "must_haves", "deal_breakers", "priorities"},
    "medium": {"budget", "priorities"},
    "hard": set(),
}


def aspect_label(category: Category, name: str) -> str:
    return next((a.label for a in category.aspects if a.name == name), name.replace("_", " "))


def describe(category: Category, need: Need, part: str) -> str:
    """One part of the need as a sentence ('' when the need has nothing there)."""
    if part == "budget" and need.budget_cents is not None:
        rating = f" and a rating of at least {need.min_rating:g} stars" if need.min_rating else ""
        return f"My budget is {dollars(need.budget_cents)} at most{rating}."
    if part == "must_haves" and need.must_haves:
        return "It must have " + " and ".join(describe_must_have(category, c) for c in need.must_haves) + "."
    if part == "deal_breakers" and need.deal_breakers:
        return "Deal-breakers: " + ", ".join(describe_deal_breaker(category, c) for c in need.deal_breakers) + "."
    if part == "priorities" and need.priorities:
        ranked = sorted(need.priorities, key=lambda p: -p.weight)
        return "What matters most to me: " + ", then ".join(aspect_label(category, p.aspect) for p in ranked) + "."
    return ""


def canonical_request(category: Category, need: Need, difficulty: str) -> str:
    if difficulty not in STATED:
        raise ValueError(f"unknown difficulty {difficulty!r}; valid: {', '.join(STATED)}")
    parts = [f"I'm looking for {category.noun} ({category.id}). Please research the options and recommend the best ones."]
    parts += [describe(category, need, p) for p in ("budget", "must_haves", "deal_breakers", "priorities")
              if p in STATED[difficulty]]
    if STATED[difficulty] != STATED["easy"]:
        parts.append("Ask me if you need to know more.")
    return " ".join(p for p in parts if p)


class RequestedNeed(BaseModel):
    """What a canonical request (plus the user's answers) states, read back from its text against the
    public category schema: the inverse of `describe`, and all a policy may know of the need."""

    category: str
    budget_cents: int | None = None
    min_rating: float | None = None
    specs: dict[str, str | bool] = {}
    spec_min: dict[str, float] = {}
    spec_max: dict[str, float] = {}
    avoid_brands: list[str] = []
    priorities: list[str] = []  # aspect names, most important first

    @classmethod
    def parse(cls, text: str, schema: list[dict], aspects: list[dict]) -> RequestedNeed:
        category = re.search(r"\(([a-z0-9_]+)\)", text)
        if category is None:
            raise ValueError("the text names no category id in parentheses, e.g. (headphones)")
        budget = re.search(r"budget is \$(\d+)\.(\d\d)", text)
        rating = re.search(r"rating of at least ([\d.]+) stars", text)
        need = cls(category=category.group(1),
                   budget_cents=int(budget.group(1)) * 100 + int(budget.group(2)) if budget else None,
                   min_rating=float(rating.group(1)) if rating else None,
                   avoid_brands=re.findall(r"not from ([A-Z][a-z]+)", text))
        must = re.search(r"It must have (.*?)\.(?: |$)", text)
        for phrase in must.group(1).split(" and ") if must else []:
            need._must_have(phrase.strip(), schema)
        ranked = re.search(r"What matters most to me: (.*?)\.", text)
        for label in ranked.group(1).split(", then ") if ranked else []:
            need.priorities += [a["name"] for a in aspects if a["label"] == label.strip()]
        return need

    def _must_have(self, phrase: str, schema: list[dict]) -> None:
        for attr in schema:
            bound = re.match(rf"{re.escape(attr['label'])} of at (least|most) ([\d.]+)", phrase)
            if bound:
                (self.spec_min if bound.group(1) == "least" else self.spec_max)[attr["name"]] = float(bound.group(2))
                return
            if attr["kind"] == "bool" and phrase == attr["label"]:
                self.specs[attr["name"]] = True
                return
            if attr["kind"] == "choice" and phrase.endswith(" " + attr["label"]):
                self.specs[attr["name"]] = phrase[: -len(attr["label"]) - 1]
                return

    def search_arguments(self) -> dict[str, Any]:
        """`search_products` arguments for every stated hard constraint, best-rated first."""
        arguments: dict[str, Any] = {"category": self.category, "sort": "rating"}
        if self.budget_cents is not None:
            arguments["max_price"] = self.budget_cents / 100
        if self.min_rating is not None:
            arguments["min_rating"] = self.min_rating
        for key in ("specs", "spec_min", "spec_max"):
            if getattr(self, key):
                arguments[key] = getattr(self, key)
        return arguments
