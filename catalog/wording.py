"""How specs, constraints and prices read in the shop's text (shared by products, pages and shoppers)."""

from __future__ import annotations

from .models import SpecValue
from .need import Constraint
from .taxonomy import Attribute, BoolAttr, Category, ChoiceAttr


def dollars(cents: int) -> str:
    return f"${cents // 100}.{cents % 100:02d}"


def format_spec(attr: Attribute, value: SpecValue) -> str:
    """A spec value as the shop prints it: `30 h`, `6.5 kg`, `over-ear`, `yes`."""
    if isinstance(attr, BoolAttr):
        return "yes" if value else "no"
    if isinstance(attr, ChoiceAttr):
        return str(value)
    number = f"{float(value):.{attr.decimals}f}"
    return f"{number} {attr.unit}".strip()


def spec_sentence(attr: Attribute, value: SpecValue, template: str = "Its {label} is {value}.") -> str:
    """A spec as a sentence; booleans read `It has ...` / `It has no ...` whatever the template."""
    if isinstance(attr, BoolAttr):
        return f"It has {attr.label}." if value else f"It has no {attr.label}."
    return template.format(label=attr.label, value=format_spec(attr, value))


def describe_must_have(category: Category, constraint: Constraint) -> str:
    """A must-have in plain words: `active noise cancelling`, `battery life of at least 30 h`."""
    if constraint.attr == "brand":
        return f"from {constraint.value}"
    attr = category.attribute(constraint.attr)
    if isinstance(attr, BoolAttr):
        return attr.label
    if isinstance(attr, ChoiceAttr):
        return f"{constraint.value} {attr.label}"
    bound = "at least" if constraint.op == "gte" else "at most"
    return f"{attr.label} of {bound} {format_spec(attr, constraint.value)}"


def describe_deal_breaker(category: Category, constraint: Constraint) -> str:
    """A deal-breaker (a condition that rules a product out) in plain words: `not from Zentor`."""
    if constraint.attr == "brand":
        return f"not from {constraint.value}"
    attr = category.attribute(constraint.attr)
    return f"no {constraint.value} {attr.label}" if isinstance(attr, ChoiceAttr) else f"no {attr.label}"
