"""Text and number helpers the checks share: formatting money, specs and id lists, reading numbers and yes/no
values, spotting id-shaped tokens, and matching a text's words against a phrase."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .findings import MAX_LISTED

ID_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)+|[A-Za-z0-9]*\d[A-Za-z0-9]*")


def money(cents: int | None) -> str:
    """Cents as dollars, e.g. `$80.99`."""
    return "price n/a" if cents is None else f"${cents // 100}.{cents % 100:02d}"


def as_bool(value: Any) -> bool | None:
    """A yes/no value read from a bool or text (None when it is neither)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in ("yes", "true", "1") else False if text in ("no", "false", "0") else None


def first_number(text: str) -> float | None:
    """The first number in a text (thousands separators ignored)."""
    match = re.search(r"-?\d+(?:\.\d+)?", str(text).replace(",", ""))
    return float(match.group()) if match else None


def spec_text(attr: dict | None, value: Any) -> str:
    """A spec value as the catalog shows it: yes/no, or a number with its decimals and unit."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if attr is not None and attr.get("kind") == "numeric" and isinstance(value, int | float):
        number = f"{float(value):.{int(attr.get('decimals', 0))}f}"
        return f"{number} {attr.get('unit', '')}".strip()
    return str(value)


def id_list(values: Iterable[str], limit: int = MAX_LISTED) -> str:
    """Up to `limit` values, comma-separated, with a count of the rest."""
    values = list(values)
    more = f" (+{len(values) - limit} more)" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def plain_words(text: str) -> str:
    """Lower-case words (letters, digits, `$` and `.`) separated and surrounded by single spaces."""
    return " " + re.sub(r"[^a-z0-9$.]+", " ", text.lower().replace("_", " ")) + " "


_STOP = {"the", "and", "for", "not", "any", "all", "its", "with", "from", "that", "this", "have", "least", "most",
         "than", "then", "what", "when", "which", "will", "your", "their", "about", "into", "must", "only", "also",
         "more", "less", "each", "some", "they"}


def content_words(text: str) -> list[str]:
    """Words of 4+ letters that carry meaning (no numbers, no filler)."""
    return [w for w in plain_words(text).split() if len(w) >= 4 and w not in _STOP and not w.replace(".", "").isdigit()]


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 4 else word


def mentions_any(text: str, words: Iterable[str]) -> bool:
    haystack = plain_words(text)
    return any(f" {_stem(w)}" in haystack for w in words if w)


def has_term(text: str, term: str) -> bool:
    """Whether the words of `term` occur consecutively in `text` (case- and plural-insensitive)."""
    words = [_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())]
    want = [_stem(w) for w in re.findall(r"[a-z0-9]+", term.lower())]
    return bool(want) and any(words[i:i + len(want)] == want for i in range(len(words) - len(want) + 1))


def stems(text: str) -> set[str]:
    """The plural-insensitive stems of a text's words."""
    return {_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower())}


def key_words(text: str) -> set[str]:
    """Stems of a phrase's words of 3+ letters that carry meaning (no numbers, no filler)."""
    return {w for w in stems(text) if len(w) >= 3 and w not in _STOP and not w.isdigit()}


def names_phrase(plan: str, phrase: str, common: set[str]) -> bool:
    """Whether a plan names a stated condition: one of its distinctive words (exact, plural-insensitive), or its
    number together with any of its words. `common` are words too general to count (the category's noun)."""
    plan_stems = stems(plan)
    words = key_words(phrase)
    distinctive = (words - common) or words
    if plan_stems & distinctive:
        return True
    numbers = {n.rstrip(".") for n in re.findall(r"\d+(?:\.\d+)?", phrase)}
    plan_numbers = {n.rstrip(".") for n in re.findall(r"\d+(?:\.\d+)?", plan)}
    return bool(numbers & plan_numbers and plan_stems & words)
