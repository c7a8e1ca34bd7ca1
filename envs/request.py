"""The canonical request: the hidden need in words, with the difficulty deciding what is left unsaid."""

from __future__ import annotations

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
