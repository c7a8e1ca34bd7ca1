"""The User Agent's model-written brief: a shopper's history in, a grammar-constrained JSON brief out.

The model reads the task category's part of the history (searches, purchases, returns, reviews and messages,
each product with its brand) and fills in a brief whose shape the call checker enforces: the budget chosen
among the dollar amounts the shopper wrote (or none), must-haves in the shopper's words (one the history
does not contain is dropped), deal-breakers chosen among the brands the shopper names outside product
titles, and priorities chosen among the category's aspects: choices are copied, not recalled. One worked
example opens the prompt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import shopgym.format as fmt

from .backends import Backend
from .constrained import call_checker, split_turn

BRIEF_TOOL = "write_brief"
INSTRUCTION = ("Read the shopper's history and write down what they want now. budget: the most they say they will "
               "spend (\"none\" if they never say). must_haves: features they insist on, copied from their words. "
               "deal_breakers: brands they complain about and refuse to buy again (usually none). priorities: the "
               "aspects they care about most, most important first.\n"
               "Example. History:\nday 3 search: waterproof hiking boots\nday 9 service: I need ankle support, "
               "full stop. My limit is $150.\nday 12 return B-7 (Aldo): Never buying Aldo again.\nday 20 review: "
               "Grip matters most to me, then comfort.\nBrief: "
               '{"tool": "write_brief", "arguments": {"budget": "$150", "must_haves": ["ankle support"], '
               '"deal_breakers": ["Aldo"], "priorities": ["grip", "comfort"]}}')
DOLLARS = re.compile(r"\$(\d[\d,]*(?:\.\d\d)?)")
BRIEF_TOKENS = 160


class Listed(NamedTuple):
    """A product the history names, as its public listing shows it."""

    brand: str
    title: str


def history_products(reader: Any, history: Sequence[Any], category: str) -> dict[str, Listed]:
    """Product id -> brand and title for the products of `category` the history names, from the public listing."""
    products = {}
    for product_id in sorted({e.product_id for e in history if e.category == category and e.product_id}):
        try:
            product = reader.get_product(product_id, ["overview"])
        except LookupError:  # a history may name a product an imported catalog no longer lists
            continue
        products[product_id] = Listed(product.brand, product.title)
    return products


def named_brands(words: str, products: Mapping[str, Listed]) -> list[str]:
    """Brands the shopper names on their own, not as part of a product's title ("the Vexzen Nova 500 ...")."""
    for listed in products.values():
        words = words.replace(listed.title.lower(), " ")
    return sorted({listed.brand for listed in products.values() if listed.brand.lower() in words})


def history_text(events: Sequence[Any], products: Mapping[str, Listed]) -> str:
    """One line per event: day, kind, product with its brand and price, then what the shopper typed or wrote."""
    lines = []
    for e in events:
        product = f" {e.product_id} ({products[e.product_id].brand})" if e.product_id in products else ""
        price = f" ${e.price_cents / 100:.2f}" if e.price_cents else ""
        words = e.query or e.text or ""
        lines.append(f"day {e.day} {e.kind}{product}{price}" + (f": {words}" if words else ""))
    return "\n".join(lines)


def shopper_words(events: Sequence[Any]) -> str:
    """Everything the shopper typed or wrote in `events` (searches, messages, reviews), lower-cased."""
    return " ".join(f"{e.query or ''} {e.text or ''}" for e in events).lower()


def stated_amounts(events: Sequence[Any]) -> list[str]:
    """Dollar amounts the shopper wrote, in order: the budget's candidates."""
    return list(dict.fromkeys(f"${m.replace(',', '')}" for m in DOLLARS.findall(shopper_words(events))))


def brief_schema(brands: Sequence[str], aspects: Sequence[str], amounts: Sequence[str]) -> dict:
    """The brief as a tool the model calls: budget, deal-breakers and priorities are closed sets (copied)."""
    def choices(values: Sequence[str]) -> dict:
        return {"type": "array", "maxItems": 3 if values else 0, "items": {"type": "string", "enum": sorted(values)}}

    return {"name": BRIEF_TOOL, "description": "What the shopper wants, read from their history.",
            "parameters": {"type": "object", "additionalProperties": False,
                           "required": ["budget", "must_haves", "deal_breakers", "priorities"],
                           "properties": {
                               "budget": {"type": "string", "enum": ["none", *amounts]},
                               "must_haves": {"type": "array", "maxItems": 3,
                                              "items": {"type": "string", "minLength": 3, "maxLength": 80}},
                               "deal_breakers": choices(brands),
                               "priorities": choices(aspects)}}}


def write_brief(backend: Backend, events: Sequence[Any], products: Mapping[str, Listed], aspects: Sequence[str],
                noun: str, seed: int) -> dict | None:
    """The model's brief (budget, must_haves, deal_breakers, priorities), or None when it wrote no whole brief."""
    words = shopper_words(events)
    schema = brief_schema(named_brands(words, products), aspects, stated_amounts(events))
    history = history_text(events, products) or "(no activity in this category)"
    prompt = fmt.one_shot(backend.chat, INSTRUCTION, f"The shopper is shopping for {noun}. History:\n{history}\nBrief:")
    completion = backend.complete(backend.tokenize(prompt), role="user", max_tokens=BRIEF_TOKENS, seed=seed,
                                  checker=call_checker([schema]))
    _, call = split_turn(completion.text)
    try:  # a backend that ignores the checker (a scripted one) may return anything
        arguments = json.loads(call)["arguments"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(arguments, dict) or set(arguments) != set(schema["parameters"]["required"]):
        return None  # cut short by the token cap before every part was written
    offered = schema["parameters"]["properties"]
    if (arguments["budget"] not in offered["budget"]["enum"]
            or not set(arguments["deal_breakers"]) <= set(offered["deal_breakers"]["items"]["enum"])
            or not set(arguments["priorities"]) <= set(aspects)):
        return None  # choices the history does not offer (a backend that ignores the checker)
    # a must-have is the shopper's own words: one the history does not contain was made up
    arguments["must_haves"] = list(dict.fromkeys(m for m in arguments["must_haves"] if m.strip().lower() in words))
    return arguments
