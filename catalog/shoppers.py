"""Shoppers: latent per-category needs and behaviour histories drawn from a choice model over utility."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .need import Constraint, Need, Priority
from .reviews import HISTORY_DAYS, NEGATIVE, POSITIVE
from .seeding import sub_rng
from .taxonomy import BoolAttr, Category, ChoiceAttr, NumericAttr
from .utility import CategoryTable
from .wording import describe_must_have

_SERVICE_ASK = [
    "Hi, before I order: does the {title} really have {phrase}? I can't use one without it.",
    "Do you sell any {noun} with {phrase} for under ${budget}?",
    "Quick question about the {title}: I need {phrase}, is that right for this model?",
]
_SERVICE_BUDGET = [
    "Is the {title} going on sale soon? ${budget} is really my limit.",
    "Do you price match? I don't want to spend more than ${budget} on a {noun}.",
]
_OWN_REVIEW = [
    "What matters most to me is {label}, and here the {kw} is {adj}.",
    "I bought it mainly for the {kw}. It is {adj}.",
    "My priority was {label}: {adj}.",
    "Honestly I only really care about the {kw}, which is {adj} on this one.",
    "For me it's all about {label}. Verdict: {adj}.",
]
# Every part of a need a request must carry shows up somewhere in the history, worded in several ways.
_BRAND_COMPLAINTS = {
    "return": ["Returned the {title}. Never buying {brand} again, it was a mess from day one.",
               "Sent it back. {brand} quality control is a joke, I'm done with that brand.",
               "Return reason: fell apart. Lesson learned about {brand}."],
    "review": ["One star. My second {brand} {noun} to fail. Avoid {brand}.",
               "Terrible. I should have known better than to buy {brand} again.",
               "Do yourself a favour and skip {brand}. One star."],
    "service": ["Please stop recommending {brand} products to me, I've had nothing but trouble with them.",
                "Can you make sure my next {noun} is not a {brand}? Two of theirs broke on me.",
                "No more {brand} for me, thanks. Anything else is fine."],
}
_PRIORITY_NOTES = [
    "Looking for a new {noun}. {first} is the thing I care about most, then {second}.",
    "What I want from a {noun}: great {first}, and decent {second} if possible.",
    "Last one let me down on {first}. This time {first} comes first, {second} second.",
    "Wishlist note: {noun}, {first} above all, {second} would be nice.",
]
_MUST_HAVE_NOTES = [
    "Is there a {noun} with {phrase}? That part is not negotiable for me.",
    "Note to self: only {noun} with {phrase}.",
    "I keep seeing {noun} without {phrase}. I need {phrase}, full stop.",
]
_BUDGET_NOTES = [
    "Saving up for a {noun}, ${budget} tops.",
    "Can't go above ${budget} for the {noun} this month.",
    "My limit for a {noun} is ${budget}.",
]


@dataclass
class Shopper:
    index: int
    name: str
    split: str
    needs: dict[str, Need]  # category id -> need, in order of interest
    nothing_fits: dict[str, bool]
    events: list[dict] = field(default_factory=list)


def _budget(table: CategoryTable, rng: np.random.Generator) -> int:
    cents = float(np.quantile(table.prices, rng.uniform(0.2, 0.9)))
    return int(np.ceil(cents / 500) * 500)


def _must_have_from(attr, value) -> Constraint | None:
    if isinstance(attr, ChoiceAttr):
        return Constraint(attr=attr.name, op="eq", value=value)
    if isinstance(attr, BoolAttr):
        return Constraint(attr=attr.name, op="eq", value=True) if value else None
    return Constraint(attr=attr.name, op="gte" if attr.higher_is_better else "lte", value=value)


def _impossible_need(table: CategoryTable, need: Need, under: np.ndarray) -> Need | None:
    """A must-have no product within budget offers, though dearer products do: nothing fits."""
    for attr in table.category.attributes:
        if not (isinstance(attr, NumericAttr) and attr.higher_is_better):
            continue
        values = table.spec_column(attr.name)
        best_affordable = values[under].max()
        above = values[~under]
        better = above[above > best_affordable]
        if len(better):
            threshold = float(better.min())
            threshold = int(threshold) if attr.decimals == 0 else round(threshold, attr.decimals)
            candidate = need.model_copy(update={
                "must_haves": [Constraint(attr=attr.name, op="gte", value=threshold)], "deal_breakers": []})
            if not table.fits(candidate).any():
                return candidate
    return None


def make_need(table: CategoryTable, rng: np.random.Generator, nothing_fits: bool) -> tuple[Need, bool]:
    """A need anchored on a real affordable product, so it can be met (unless made impossible on purpose)."""
    category = table.category
    budget = _budget(table, rng)
    under = table.prices <= budget
    anchor = int(rng.choice(np.nonzero(under)[0]))
    must_haves: list[Constraint] = []
    for attr_index in rng.permutation(len(category.attributes)):
        attr = category.attributes[int(attr_index)]
        constraint = _must_have_from(attr, table.spec_of(anchor)[attr.name])
        if constraint is not None:
            must_haves.append(constraint)
        if len(must_haves) == (1 if rng.random() < 0.6 else 2):
            break
    deal_breakers = []
    other_brands = sorted(set(table.brands) - {table.brands[anchor]})
    if other_brands and rng.random() < 0.4:
        deal_breakers.append(Constraint(attr="brand", op="eq", value=other_brands[int(rng.integers(len(other_brands)))]))
    aspects = rng.permutation(len(category.aspects))[:2]
    top = round(float(rng.uniform(0.55, 0.8)), 2)
    priorities = [Priority(aspect=category.aspects[int(aspects[0])].name, weight=top),
                  Priority(aspect=category.aspects[int(aspects[1])].name, weight=round(1 - top, 2))]
    numeric = [a.name for a in category.attributes if isinstance(a, NumericAttr)]
    spec_weights = {numeric[int(rng.integers(len(numeric)))]: 1.0} if numeric else {}
    need = Need(category=category.id, budget_cents=budget, must_haves=must_haves, deal_breakers=deal_breakers,
                priorities=priorities, spec_weights=spec_weights)
    if nothing_fits:
        impossible = _impossible_need(table, need, under)
        if impossible is not None:
            return impossible, True
    return need, False


def _query(category: Category, need: Need, rng: np.random.Generator) -> str:
    words = []
    if need.must_haves and rng.random() < 0.6:
        words.append(describe_must_have(category, need.must_haves[int(rng.integers(len(need.must_haves)))]))
    words.append(category.noun)
    if rng.random() < 0.5:
        words.append(f"under ${need.budget_cents // 100}")
    if rng.random() < 0.3:
        words.append(f"for {category.uses[int(rng.integers(len(category.uses)))]}")
    return " ".join(words)


def _event(kind: str, day: int, category: str, table: CategoryTable | None = None, index: int | None = None,
           query: str | None = None, text: str | None = None) -> dict:
    return {"day": day, "kind": kind, "category": category,
            "product": table.ids[index] if table is not None and index is not None else None,
            "query": query, "text": text,
            "price_cents": int(table.prices[index]) if table is not None and index is not None else None}


def make_history(table: CategoryTable, need: Need, titles: list[str], rng: np.random.Generator,
                 start_day: int) -> list[dict]:
    """Searches, views, carts, a purchase, an own review and service messages for one category."""
    category = table.category
    utility = table.utility(need)
    fits = table.fits(need)
    matches = np.ones(len(table.ids), dtype=bool)
    for c in need.must_haves:
        matches &= table.holds(c).astype(bool)
    over = np.clip(table.prices / need.budget_cents - 1, 0, None)
    events: list[dict] = []
    day = start_day
    viewed: set[int] = set()
    for _ in range(int(rng.integers(2, 5))):
        day += int(rng.integers(1, 20))
        events.append(_event("search", day, category.id, query=_query(category, need, rng)))
        pool = np.nonzero(matches)[0]
        shown = np.concatenate([rng.choice(pool, size=min(20, len(pool)), replace=False) if len(pool) else pool,
                                rng.choice(len(table.ids), size=min(10, len(table.ids)), replace=False)])
        noisy = utility[shown] - 0.6 * over[shown] + rng.gumbel(0, 0.04, size=len(shown))
        picks = [int(shown[i]) for i in np.argsort(-noisy, kind="stable")[:3]]
        for index in dict.fromkeys(picks):
            viewed.add(index)
            events.append(_event("view", day, category.id, table, index))
        fitting = [i for i in picks if fits[i]]
        if fitting and rng.random() < 0.5:
            events.append(_event("cart", day, category.id, table, fitting[0]))
    candidates = sorted((i for i in viewed if fits[i]), key=lambda i: (-utility[i], i))
    if candidates and rng.random() < 0.85:
        bought = candidates[0]
        day += 1
        events.append(_event("purchase", day, category.id, table, bought))
        if rng.random() < 0.6:
            day += int(rng.integers(5, 30))
            events.append(_event("review", day, category.id, table, bought,
                                 text=_own_review(table, need, bought, rng)))
    if rng.random() < 0.5 and viewed:
        day += 1
        product = sorted(viewed)[int(rng.integers(len(viewed)))]
        budget = need.budget_cents // 100
        if need.must_haves and rng.random() < 0.7:
            template = _SERVICE_ASK[int(rng.integers(len(_SERVICE_ASK)))]
            phrase = describe_must_have(category, need.must_haves[0])
        else:
            template, phrase = _SERVICE_BUDGET[int(rng.integers(len(_SERVICE_BUDGET)))], ""
        events.append(_event("service", day, category.id, table, product,
                             text=template.format(title=titles[product], phrase=phrase, noun=category.noun,
                                                  budget=budget)))
    return events + _revealing_events(table, need, titles, events, rng, day)


def _pick(templates: list[str], rng: np.random.Generator) -> str:
    return templates[int(rng.integers(len(templates)))]


def _revealing_events(table: CategoryTable, need: Need, titles: list[str], events: list[dict],
                      rng: np.random.Generator, day: int) -> list[dict]:
    """Events that state the parts of the need the history has not shown yet: deal-breakers (a return, a
    one-star review or a message about the brand), unstated must-haves, budget and priorities."""
    category = table.category
    text = " ".join((e["query"] or "") + " " + (e["text"] or "") for e in events)
    added: list[dict] = []
    for breaker in need.deal_breakers:
        if breaker.attr != "brand":
            continue
        day += int(rng.integers(1, 15))
        channel = ("return", "review", "service")[int(rng.integers(3))]
        owned = [i for i, b in enumerate(table.brands) if b == breaker.value]
        index = owned[int(rng.integers(len(owned)))] if owned else None
        words = _pick(_BRAND_COMPLAINTS[channel], rng).format(
            brand=breaker.value, noun=category.noun, title=titles[index] if index is not None else category.noun)
        if channel == "return" and index is not None:
            added.append(_event("purchase", day - 1, category.id, table, index))
        added.append(_event(channel, day, category.id, table if index is not None else None, index, text=words))
    for constraint in need.must_haves:
        phrase = describe_must_have(category, constraint)
        if phrase not in text:
            day += int(rng.integers(1, 10))
            added.append(_event("service", day, category.id,
                                text=_pick(_MUST_HAVE_NOTES, rng).format(noun=category.noun, phrase=phrase)))
    budget = need.budget_cents // 100
    if f"${budget}" not in text:
        day += int(rng.integers(1, 10))
        added.append(_event("service", day, category.id,
                            text=_pick(_BUDGET_NOTES, rng).format(noun=category.noun, budget=budget)))
    ranked = sorted(need.priorities, key=lambda p: -p.weight)
    labels = {a.name: a.label for a in category.aspects}
    if len(ranked) >= 2 and not any(e["kind"] == "review" and e["text"] for e in events):
        day += int(rng.integers(1, 10))
        added.append(_event("service", day, category.id, text=_pick(_PRIORITY_NOTES, rng).format(
            noun=category.noun, first=labels[ranked[0].aspect], second=labels[ranked[1].aspect])))
    return added


def _own_review(table: CategoryTable, need: Need, index: int, rng: np.random.Generator) -> str:
    category = table.category
    names = [a.name for a in category.aspects]
    sentences = []
    for priority in need.priorities[:2]:
        aspect = category.aspects[names.index(priority.aspect)]
        good = table.qualities[index, names.index(priority.aspect)] >= 0.5
        words = POSITIVE if good else NEGATIVE
        template = _OWN_REVIEW[int(rng.integers(len(_OWN_REVIEW)))]
        sentences.append(template.format(label=aspect.label, kw=aspect.keywords[0],
                                         adj=words[int(rng.integers(len(words)))]))
    return " ".join(sentences)


def make_shopper(seed: int, index: int, name: str, split: str, tables: dict[str, CategoryTable],
                 titles: dict[str, list[str]], nothing_fits_rate: float) -> Shopper:
    rng = sub_rng(seed, "shopper", index)
    order = list(tables)
    chosen = [order[int(i)] for i in rng.permutation(len(order))[: int(rng.integers(1, 4))]]
    shopper = Shopper(index=index, name=name, split=split, needs={}, nothing_fits={})
    day = int(rng.integers(0, HISTORY_DAYS // 3))
    for category_id in chosen:
        need, impossible = make_need(tables[category_id], rng, rng.random() < nothing_fits_rate)
        shopper.needs[category_id] = need
        shopper.nothing_fits[category_id] = impossible
        events = make_history(tables[category_id], need, titles[category_id], rng, day)
        shopper.events.extend(events)
        day = events[-1]["day"] if events else day
    return shopper
