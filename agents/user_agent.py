"""The User Agent: a shopper's observable history becomes a persona, a research request and a rubric.

With a model, the model writes the intent (budget, must-haves, deal-breakers, priorities) as a
grammar-constrained brief (`user_brief`) and the persona; the request and rubric are worded from that
brief by a template. Without one, or when the model writes no whole brief, grounded rules read the intent
from the history (they find no deal-breakers) and a template words the persona. It never sees the need.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

import shopgym.format as fmt

from .backends import Backend
from .user_brief import Listed, write_brief

_OWN_PRIORITY = [r"What matters most to me is (.+?), and", r"I bought it mainly for the (\w+)", r"My priority was (.+?):"]


class Intent(BaseModel):
    """What the history says the shopper wants (a guess from observable data)."""

    category: str
    budget_cents: int | None = None
    must_haves: list[str] = Field(default_factory=list, description="phrases, as the shopper wrote them")
    priorities: list[str] = Field(default_factory=list, description="aspect names, most important first")
    deal_breakers: list[str] = Field(default_factory=list, description="brands the shopper refuses")
    source: Literal["llm", "rules", "rules-fallback"] = "rules"  # rules-fallback: the model wrote no whole brief


class UserBrief(BaseModel):
    persona: str
    request: str
    rubric: list[str]
    intent: Intent


def _events(history: list[Any], category: str) -> list[Any]:
    return [e for e in history if e.category == category]


def read_budget(events: list[Any]) -> int | None:
    stated = [int(m) * 100 for e in events if e.query for m in re.findall(r"under \$(\d+)", e.query)]
    if stated:
        return max(stated)
    bought = [e.price_cents for e in events if e.kind in ("cart", "purchase") and e.price_cents]
    viewed = [e.price_cents for e in events if e.kind == "view" and e.price_cents]
    if bought:
        return int(max(bought))
    return int(statistics.median(viewed)) if viewed else None


def read_must_haves(events: list[Any], attributes: list[dict]) -> list[str]:
    """Spec phrases the shopper keeps naming in searches and messages, most frequent first."""
    text = " ".join((e.query or "") + " \n " + (e.text or "") for e in events)
    counts: Counter[str] = Counter()
    for attr in attributes:
        label = re.escape(attr["label"])
        if attr["kind"] == "numeric":
            counts.update(re.findall(rf"{label} of at (?:least|most) [\d.]+(?: [^\s?.,]+)?", text))
        elif attr["kind"] == "choice":
            values = "|".join(re.escape(v) for v in attr["values"])
            counts.update(re.findall(rf"(?:{values}) {label}", text))
        else:
            counts.update(re.findall(rf"(?<!no ){label}", text))
    return [phrase for phrase, _ in counts.most_common(2)]


def read_priorities(events: list[Any], aspects: list[dict]) -> list[str]:
    """Aspects the shopper's own reviews say matter, in the order they first name them."""
    found: list[str] = []
    for event in events:
        if event.kind != "review" or not event.text:
            continue
        for pattern in _OWN_PRIORITY:
            for word in re.findall(pattern, event.text):
                for aspect in aspects:
                    if word.lower() in (aspect["label"].lower(), *(k.lower() for k in aspect["keywords"])):
                        if aspect["name"] not in found:
                            found.append(aspect["name"])
    return found


def request_text(category: dict, intent: Intent, labels: dict[str, str]) -> str:
    """The request in the shop's usual wording (the same phrasing the env's canonical requests use)."""
    parts = [f"I'm looking for {category['noun']} ({category['id']}). Please research the options and "
             "recommend the best ones."]
    if intent.budget_cents:
        parts.append(f"My budget is ${intent.budget_cents // 100}.{intent.budget_cents % 100:02d} at most.")
    if intent.must_haves:
        parts.append("It must have " + " and ".join(intent.must_haves) + ".")
    if intent.deal_breakers:
        parts.append("Deal-breakers: " + ", ".join(f"not from {brand}" for brand in intent.deal_breakers) + ".")
    if intent.priorities:
        parts.append("What matters most to me: " + ", then ".join(labels[p] for p in intent.priorities) + ".")
    return " ".join(parts)


def _model_intent(brief: dict, category: str) -> Intent:
    budget = brief["budget"]
    return Intent(category=category, budget_cents=round(float(budget[1:]) * 100) if budget != "none" else None,
                  must_haves=[m.strip() for m in brief["must_haves"] if m.strip()],
                  priorities=list(dict.fromkeys(brief["priorities"])),
                  deal_breakers=list(dict.fromkeys(brief["deal_breakers"])), source="llm")


class UserAgent:
    """History in, brief out: with a backend the model writes the intent and the persona, else rules and a template."""

    def __init__(self, backend: Backend | None = None, max_tokens: int = 48) -> None:
        self.backend = backend
        self.max_tokens = max_tokens

    def brief(self, history: list[Any], category: Any, seed: int = 0, products: Mapping[str, Listed] | None = None
              ) -> UserBrief:
        """`products`: the products the history names, as listed (`user_brief.history_products`)."""
        info = {"id": category.id, "noun": category.noun}
        labels = {a["name"]: a["label"] for a in category.aspects}
        events = _events(history, category.id)
        written = None
        if self.backend is not None:
            written = write_brief(self.backend, events, products or {}, [a["name"] for a in category.aspects],
                                  category.noun, seed)
        if written is not None:
            intent = _model_intent(written, category.id)
        else:
            intent = Intent(category=category.id, budget_cents=read_budget(events),
                            must_haves=read_must_haves(events, category.attributes),
                            priorities=read_priorities(events, category.aspects),
                            source="rules" if self.backend is None else "rules-fallback")
        request = request_text(info, intent, labels)
        bought = sum(e.kind == "purchase" for e in history)
        persona = (f"A shopper with {len(history)} recorded actions and {bought} purchases, now shopping for "
                   f"{category.noun}.")
        if self.backend is not None:
            prompt = fmt.one_shot(self.backend.chat, "Describe this shopper in one sentence.", f"{persona} {request}")
            described = self.backend.complete(self.backend.tokenize(prompt), role="user", max_tokens=self.max_tokens,
                                              seed=seed).text.strip()
            persona = described.split("\n")[0][:300] or persona
        rubric = [f"recommends only {category.noun}"]
        if intent.budget_cents:
            rubric.append(f"every pick costs at most ${intent.budget_cents / 100:.2f}")
        rubric += [f"every pick has {m}" for m in intent.must_haves]
        rubric += [f"no pick is from {brand}" for brand in intent.deal_breakers]
        rubric += [f"discusses {labels[p]} with evidence" for p in intent.priorities]
        rubric.append("cites a retrieved source for every claim")
        return UserBrief(persona=persona, request=request, rubric=rubric, intent=intent)


def intent_accuracy(intent: Intent, need: dict[str, Any]) -> float:
    """Share of the hidden need recovered: budget (within 25%), each must-have's attribute, top-2 priorities,
    each deal-breaker.

    Harness-only: `need` is the hidden need as an evaluation env shows it (`info["truth"]["need"]`); the agent never
    sees it.
    """
    hits, total = 0, 0
    budget = need.get("budget_cents")
    if budget:
        total += 1
        hits += bool(intent.budget_cents) and abs(intent.budget_cents - budget) <= 0.25 * budget
    text = " ".join(intent.must_haves).lower()
    for constraint in need["must_haves"]:
        total += 1
        hits += constraint["attr"].replace("_", " ") in text or str(constraint["value"]).lower() in text
    top = [p["aspect"] for p in sorted(need["priorities"], key=lambda p: -p["weight"])[:2]]
    total += len(top)
    hits += len(set(top) & set(intent.priorities[:2]))
    refused = {brand.lower() for brand in intent.deal_breakers}
    for constraint in need["deal_breakers"]:  # brands (the only kind a history reveals); the rules never find one
        total += 1
        hits += constraint["attr"] == "brand" and str(constraint["value"]).lower() in refused
    return hits / total if total else 1.0
