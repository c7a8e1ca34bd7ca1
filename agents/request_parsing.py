"""What the request states: the category, budget, rating, must-haves, deal-breakers and priorities, parsed from
the request text (plus the shopper's `ask_user` answers) against the public category schemas. Hidden truth is
never read: the checks grade against what the researcher was told."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .text_helpers import as_bool


class Rule(BaseModel):
    """One stated hard condition on a product: `attr` is a spec name or `brand`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attr: str
    op: Literal["eq", "gte", "lte"]
    value: str | float | bool
    text: str  # the request's own words, e.g. "capacity of at least 9 cups"
    label: str = ""  # the spec's label, e.g. "capacity"

    def holds(self, brand: str, specs: dict[str, Any]) -> bool:
        actual = brand if self.attr == "brand" else specs.get(self.attr)
        if actual is None:
            return False
        if self.op == "eq":
            if isinstance(self.value, bool) or isinstance(actual, bool):
                return as_bool(actual) == as_bool(self.value)
            return str(actual).strip().lower() == str(self.value).strip().lower()
        try:
            number, bound = float(actual), float(self.value)
        except (TypeError, ValueError):
            return False
        return number >= bound - 1e-9 if self.op == "gte" else number <= bound + 1e-9


class StatedNeed(BaseModel):
    """What the request and the shopper's answers state; `unparsed` holds constraint phrases not understood."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = None
    noun: str | None = None
    budget_cents: int | None = None
    min_rating: float | None = None
    must_haves: list[Rule] = []
    deal_breakers: list[Rule] = []
    priorities: list[str] = []  # aspect names when the category is known, else the request's labels
    priority_labels: list[str] = []
    asks_questions: bool = False  # "Ask me if you need to know more."
    unparsed: list[str] = []

    def rules_text(self) -> str:
        return "; ".join(r.text for r in self.must_haves)


def attribute_of(info: Any, name: str) -> dict | None:
    """A category's attribute schema by name (None when the category or the attribute is unknown)."""
    return next((a for a in info.attributes if a["name"] == name), None) if info is not None else None


def aspects_of(info: Any) -> list[dict]:
    """A category's review aspects (none when the category is unknown)."""
    return list(info.aspects) if info is not None else []


def _sentences(text: str, lead: str) -> list[str]:
    """Bodies of sentences starting with `lead` (a sentence ends at a period followed by space or the end)."""
    return [m.group(1).strip() for m in re.finditer(rf"{lead}(.*?)\.(?:\s|$)", text)]


def _feature_rule(attr: dict, words: str, phrase: str) -> Rule | None:
    """`words` naming a yes/no feature (`active noise cancelling`) or a choice (`over-ear form factor`)."""
    label = attr["label"]
    if attr["kind"] == "bool" and words.lower() == label.lower():
        return Rule(attr=attr["name"], op="eq", value=True, text=phrase, label=label)
    if attr["kind"] == "choice" and words.endswith(" " + label):
        value = words[: -len(label) - 1]
        if value in attr.get("values", [value]):
            return Rule(attr=attr["name"], op="eq", value=value, text=phrase, label=label)
    return None


def _must_have_rule(phrase: str, info: Any) -> Rule | None:
    if phrase.startswith("from ") and len(phrase) > 5:
        return Rule(attr="brand", op="eq", value=phrase[5:].strip(), text=phrase, label="brand")
    for attr in info.attributes if info is not None else []:
        label = attr["label"]
        bound = re.fullmatch(rf"{re.escape(label)} of at (least|most) (-?[\d.]+)(?: .*)?", phrase)
        if bound:
            return Rule(attr=attr["name"], op="gte" if bound.group(1) == "least" else "lte",
                        value=float(bound.group(2)), text=phrase, label=label)
        rule = _feature_rule(attr, phrase, phrase)
        if rule is not None:
            return rule
    generic = re.fullmatch(r"(.+?) of at (least|most) (-?[\d.]+)(?: .*)?", phrase)
    if generic and info is None:
        return Rule(attr=generic.group(1).replace(" ", "_"), op="gte" if generic.group(2) == "least" else "lte",
                    value=float(generic.group(3)), text=phrase, label=generic.group(1))
    return None


def _deal_breaker_rule(phrase: str, info: Any) -> Rule | None:
    if phrase.startswith("not from "):
        return Rule(attr="brand", op="eq", value=phrase[9:].strip(), text=phrase, label="brand")
    if not phrase.startswith("no "):
        return None
    rest = phrase[3:]
    for attr in info.attributes if info is not None else []:
        rule = _feature_rule(attr, rest, phrase)
        if rule is not None:
            return rule
    return None


def parse_request(text: str, categories: Sequence[Any] = ()) -> StatedNeed:
    """Parse a request (with the shopper's answers appended) against the public category schemas.

    `categories` are the reader's `CategoryInfo` records; without them only the category, budget,
    rating, priorities' labels and numeric bounds are understood.
    """
    infos = {c.id: c for c in categories}
    category = re.search(r"\(([a-z0-9_]+)\)", text)
    noun = re.search(r"looking for (?:an? )?(.+?) \(", text)
    need = StatedNeed(category=category.group(1) if category else None, noun=noun.group(1) if noun else None,
                      asks_questions="Ask me if you need to know more" in text)
    info = infos.get(need.category or "")
    budgets = re.findall(r"budget is \$([\d,]+)(?:\.(\d\d))?", text)
    if budgets:
        dollars, cents = budgets[-1]
        need.budget_cents = int(dollars.replace(",", "")) * 100 + int(cents or 0)
    rating = re.findall(r"rating of at least ([\d.]+) stars", text)
    if rating:
        need.min_rating = float(rating[-1])
    for lead, separator, make_rule, rules in (("It must have ", " and ", _must_have_rule, need.must_haves),
                                              ("Deal-breakers: ", ", ", _deal_breaker_rule, need.deal_breakers)):
        for body in _sentences(text, lead):
            for phrase in (p.strip() for p in body.split(separator)):
                rule = make_rule(phrase, info)
                if rule is None:
                    need.unparsed.append(phrase)
                elif rule not in rules:
                    rules.append(rule)
    for body in _sentences(text, "What matters most to me: "):
        for label in (p.strip() for p in body.split(", then ")):
            if label in need.priority_labels:
                continue
            need.priority_labels.append(label)
            names = [a["name"] for a in aspects_of(info) if a["label"].lower() == label.lower()]
            need.priorities.append(names[0] if names else label)
    return need


def search_arguments(need: StatedNeed) -> dict[str, Any]:
    """`search_products` arguments that apply every stated condition the search can filter on."""
    args: dict[str, Any] = {}
    if need.category:
        args["category"] = need.category
    if need.budget_cents is not None:
        args["max_price"] = need.budget_cents / 100
    if need.min_rating is not None:
        args["min_rating"] = need.min_rating
    for rule in need.must_haves:
        if rule.attr == "brand":
            args["brand"] = rule.value
        elif rule.op == "eq":
            args.setdefault("specs", {})[rule.attr] = rule.value
        else:
            args.setdefault("spec_min" if rule.op == "gte" else "spec_max", {})[rule.attr] = rule.value
    return args


def answers_in(observations: Iterable[str]) -> str:
    """The shopper's `ask_user` answers found in observation texts, joined."""
    return " ".join(o.strip()[len("User: "):] for o in observations if o.strip().startswith("User: "))
