"""The web corpus: buying guides, expert reviews, comparisons and forum threads, each fact traceable.

Every product fact a page states is recorded as (product, field, value, accuracy). `current` facts
match the catalog and the latent truth; `stale` pages quote an old price; `wrong` facts misstate a spec.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from .products import ProductDraft
from .reviews import EPOCH, HISTORY_DAYS, NEGATIVE, POSITIVE
from .seeding import sub_rng
from .taxonomy import Category, ChoiceAttr, NumericAttr
from .wording import dollars, format_spec, spec_sentence

_GUIDE_LINES = [
    "For {use}, put {aspect} first and check the {attr} before anything else.",
    "Shoppers who buy for {use} tend to regret skimping on {aspect}.",
    "If {use} is your main goal, a good {attr} matters more than brand names.",
]
_EXPERT_OPENERS = ["We spent {weeks} weeks testing the {title}.", "The {title} arrived in our lab {weeks} weeks ago.",
                   "After {weeks} weeks with the {title}, here is our take."]
_FORUM_QUESTIONS = ["Anyone own the {title}? Thinking of buying one for {use}.",
                    "Is the {title} worth it for {use}?", "Long-term owners of the {title}, how is it holding up?"]
_FORUM_REPLIES = ["Had mine for a year. The {kw} is {adj}.", "In my experience the {kw} is {adj}.",
                  "Mine is fine overall, but the {kw} is {adj}."]


@dataclass
class PageDraft:
    kind: str
    category: str
    title: str
    lines: list[str]
    date: str
    author: str
    products: list[int]
    facts: list[tuple[int, str, str, str]] = field(default_factory=list)  # product, field, value, accuracy


def _verdict(quality: float, rng: np.random.Generator) -> tuple[str, str]:
    words = POSITIVE if quality >= 0.5 else NEGATIVE
    return ("good" if quality >= 0.5 else "poor"), words[int(rng.integers(len(words)))]


def _spec_fact(category: Category, product: ProductDraft, attr_index: int, wrong: bool) -> tuple[str, str, str]:
    """(field, value as printed, sentence) for one spec; `wrong` misstates it on purpose."""
    attr = category.attributes[attr_index]
    value = product.specs[attr.name]
    if wrong:
        if isinstance(attr, NumericAttr):
            bumped = float(value) + (attr.high - attr.low) * 0.3 * (1 if float(value) < (attr.low + attr.high) / 2 else -1)
            value = int(round(bumped)) if attr.decimals == 0 else round(bumped, attr.decimals)
        elif isinstance(attr, ChoiceAttr):
            value = [v for v in attr.values if v != value][0]
        else:
            value = not value
    return f"spec:{attr.name}", format_spec(attr, value), spec_sentence(attr, value)


def _date(rng: np.random.Generator, stale: bool) -> str:
    day = int(rng.integers(0, HISTORY_DAYS // 4)) if stale else int(rng.integers(HISTORY_DAYS // 2, HISTORY_DAYS))
    return (EPOCH + dt.timedelta(days=day)).isoformat()


def _guide(category: Category, rng: np.random.Generator, author: str) -> PageDraft:
    lines = [f"How to choose {category.noun}: a buying guide."]
    for use in category.uses:
        aspect = category.aspects[int(rng.integers(len(category.aspects)))].label
        attr = category.attributes[int(rng.integers(len(category.attributes)))].label
        lines.append(_GUIDE_LINES[int(rng.integers(len(_GUIDE_LINES)))].format(use=use, aspect=aspect, attr=attr))
    return PageDraft("guide", category.id, f"{category.name} buying guide", lines, _date(rng, False), author, [])


def _expert(category: Category, p: ProductDraft, pid: str, rng: np.random.Generator, author: str,
            stale: bool, wrong: bool) -> PageDraft:
    page = PageDraft("expert_review", category.id, f"{p.title} review", [], _date(rng, stale), author, [p.index])
    page.lines.append(_EXPERT_OPENERS[int(rng.integers(len(_EXPERT_OPENERS)))].format(
        weeks=int(rng.integers(2, 9)), title=f"{p.title} ({pid})"))
    price = int(p.price_cents * rng.uniform(1.1, 1.3)) // 100 * 100 + 99 if stale else p.price_cents
    page.lines.append(f"It sells for {dollars(price)}.")
    page.facts.append((p.index, "price", str(price), "stale" if stale else "current"))
    for name in sorted(p.listing_errors):  # the listing misstates it; the lab measured the truth
        attr = category.attribute(name)
        page.lines.append(f"Careful: the shop's listing gets the {attr.label} wrong. {spec_sentence(attr, p.specs[name])}")
        page.facts.append((p.index, f"spec:{name}", format_spec(attr, p.specs[name]), "current"))
    for k, attr_index in enumerate(rng.permutation(len(category.attributes))[:2]):
        field, value, sentence = _spec_fact(category, p, int(attr_index), wrong and k == 0)
        page.lines.append(sentence)
        page.facts.append((p.index, field, value, "wrong" if wrong and k == 0 else "current"))
    for a in rng.permutation(len(category.aspects))[:2]:
        aspect = category.aspects[int(a)]
        verdict, word = _verdict(p.qualities[aspect.name], rng)
        page.lines.append(f"In our tests the {aspect.label} was {word}.")
        page.facts.append((p.index, f"aspect:{aspect.name}", verdict, "current"))
    return page


def _comparison(category: Category, products: list[ProductDraft], ids: list[str], rng: np.random.Generator,
                author: str, stale: bool) -> PageDraft:
    title = " vs ".join(p.title for p in products)
    page = PageDraft("comparison", category.id, title, [f"We compared {len(products)} {category.noun} head to head."],
                     _date(rng, stale), author, [p.index for p in products])
    for p, pid in zip(products, ids):
        price = int(p.price_cents * rng.uniform(1.1, 1.3)) // 100 * 100 + 99 if stale else p.price_cents
        field, value, sentence = _spec_fact(category, p, int(rng.integers(len(category.attributes))), False)
        page.lines.append(f"The {p.title} ({pid}) costs {dollars(price)}. {sentence}")
        page.facts.append((p.index, "price", str(price), "stale" if stale else "current"))
        page.facts.append((p.index, field, value, "current"))
    aspect = category.aspects[int(rng.integers(len(category.aspects)))]
    best = max(products, key=lambda p: (p.qualities[aspect.name], -p.index))
    page.lines.append(f"On {aspect.label}, the {best.title} comes out ahead.")
    page.facts.append((best.index, f"best_aspect:{aspect.name}", "yes", "current"))
    return page


def _forum(category: Category, p: ProductDraft, pid: str, rng: np.random.Generator, names: list[str]) -> PageDraft:
    use = category.uses[int(rng.integers(len(category.uses)))]
    question = _FORUM_QUESTIONS[int(rng.integers(len(_FORUM_QUESTIONS)))].format(title=f"{p.title} ({pid})", use=use)
    page = PageDraft("forum", category.id, question, [f"{names[0]} asks: {question}"], _date(rng, False), names[0],
                     [p.index])
    for k, a in enumerate(rng.permutation(len(category.aspects))[:2]):
        aspect = category.aspects[int(a)]
        verdict, word = _verdict(p.qualities[aspect.name], rng)
        reply = _FORUM_REPLIES[int(rng.integers(len(_FORUM_REPLIES)))].format(kw=aspect.keywords[0], adj=word)
        page.lines.append(f"{names[k + 1]} replies: {reply}")
        page.facts.append((p.index, f"aspect:{aspect.name}", verdict, "current"))
    return page


def make_pages(seed: int, category: Category, products: list[ProductDraft], ids: dict[int, str], count: int,
               names: list[str], stale_rate: float = 0.1, wrong_rate: float = 0.05) -> list[PageDraft]:
    """`count` pages about one category: a guide, then expert reviews, comparisons and forum threads."""
    rng = sub_rng(seed, "pages", category.id)

    def author() -> str:
        return names[int(rng.integers(len(names)))]

    pages = [_guide(category, rng, author())]
    by_interest = sorted(products, key=lambda p: (-p.review_count, p.index))
    for k in range(1, count):
        p = by_interest[int(min(rng.geometric(0.02), len(by_interest))) - 1]
        kind = k % 3
        stale = bool(rng.random() < stale_rate)
        if kind == 0 and len(products) >= 3:
            picks = [products[int(i)] for i in rng.choice(len(products), size=int(rng.integers(2, 4)), replace=False)]
            pages.append(_comparison(category, picks, [ids[q.index] for q in picks], rng, author(), stale))
        elif kind == 1:
            pages.append(_expert(category, p, ids[p.index], rng, author(), stale, bool(rng.random() < wrong_rate)))
        else:
            pages.append(_forum(category, p, ids[p.index], rng, [author() for _ in range(3)]))
    return pages
