"""Turning raw dump values into catalog columns: ids, prices in cents, ratings, slugs, specs, text."""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from .aspects import format_aspects, mine_aspects

MAX_SPEC_TEXT = 200
MAX_SPECS = 60
UNKNOWN_BRAND = "Unknown"
UNCATEGORIZED = ("uncategorized", "Uncategorized")
_NULL_TEXT = {"", "none", "null", "nan", "n/a", "na", "-", "—"}
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?|\.\d+")
_RATING_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:out of 5(?: stars)?|stars?|/\s*5)?\s*$", re.IGNORECASE)
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]{0,200}>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CATEGORY_SPLIT = re.compile(r"\s*(?:›|>|\|)\s*")


class BadRow(Exception):
    """A row that cannot be imported; the message is the reason reported for it."""


def clean_text(value: Any) -> str:
    """Plain text: HTML line breaks to newlines, other tags dropped, entities unescaped, no control chars."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    if "<" in value:
        value = _TAG.sub("", _BR.sub("\n", value))
    if "&" in value:
        value = html.unescape(value)
    return _CONTROL.sub("", value).strip()


def text_list(value: Any) -> list[str]:
    """A string or list of strings as cleaned, non-empty strings."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            text = clean_text(item)
            if text:
                out.append(text)
    return out


def require_id(row: dict, key: str, label: str | None = None) -> str:
    """The row's id under `key` (text or integer); BadRow "no <label>" when missing or blank."""
    value = row.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or value.strip().lower() in _NULL_TEXT:
        raise BadRow(f"no {label or key}")
    return value.strip()


def require_title(row: dict, key: str, label: str | None = None) -> str:
    title = clean_text(row.get(key)) if isinstance(row.get(key), str | int | float) else ""
    if not title:
        raise BadRow(f"no {label or key}")
    return title


def _as_number(value: Any) -> float | None:
    """A finite number from a number or numeric string; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        match = _RATING_TEXT.match(value)
        if not match:
            return None
        number = float(match.group(1))
    else:
        return None
    return number if math.isfinite(number) else None


def parse_rating(value: Any, field: str, low: float, high: float) -> float:
    """A star rating in [low, high]; BadRow when it is not numeric or out of range."""
    number = _as_number(value)
    if number is None:
        raise BadRow(f"{field} {value!r} is not a number")
    if not low <= number <= high:
        raise BadRow(f"{field} {value!r} is out of range {low:g}..{high:g}")
    return number


def optional_rating(row: dict, key: str, field: str | None = None) -> float | None:
    """A 0..5 summary rating when present (None/missing is fine), BadRow when present but invalid."""
    value = row.get(key)
    if value is None or (isinstance(value, str) and value.strip().lower() in _NULL_TEXT):
        return None
    return parse_rating(value, field or key, 0.0, 5.0)


def review_stars(value: Any, field: str = "rating") -> int:
    """A review's star rating, 1..5, as a whole number of stars (half stars round up)."""
    number = parse_rating(value, field, 1.0, 5.0)
    return int(math.floor(number + 0.5))


def count(value: Any) -> int:
    """A non-negative count from a number or numeric string ("1,234"); 0 when absent or unreadable."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int | float):
        return int(value) if math.isfinite(value) and value > 0 else 0
    if isinstance(value, str):
        match = _NUMBER.search(value)
        if match:
            try:
                return max(0, int(Decimal(match.group().replace(",", ""))))
            except InvalidOperation:
                return 0
    return 0


def price_cents(value: Any) -> int | None:
    """Integer cents from 12.99, "12.99", "$1,299.00", "$10.99 - $15.99" (the lowest) or a list of those.

    None for null, "None", "" and anything without a positive number: a price is optional.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, list):
        prices = [p for p in (price_cents(v) for v in value) if p is not None]
        return min(prices) if prices else None
    if isinstance(value, int | float):
        if not math.isfinite(value) or value <= 0:
            return None
        amount = Decimal(str(value))
    elif isinstance(value, str):
        if value.strip().lower() in _NULL_TEXT:
            return None
        numbers = [m.group().replace(",", "") for m in _NUMBER.finditer(value)]
        amounts = []
        for number in numbers:
            try:
                amounts.append(Decimal(number))
            except InvalidOperation:
                continue
        amounts = [a for a in amounts if a > 0]
        if not amounts:
            return None
        amount = min(amounts)
    else:
        return None
    cents = int((amount * 100).to_integral_value(rounding="ROUND_HALF_UP"))
    return cents if cents > 0 else None


def slug(text: str, sep: str = "_") -> str:
    """ASCII lowercase words joined by `sep` ("Over-Ear Headphones" -> "over_ear_headphones")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", sep, ascii_text.lower()).strip(sep)[:80]


def category_from(*candidates: Any) -> tuple[str, str]:
    """(id, name) of the first usable candidate: a list of path levels (its deepest level) or a path string."""
    for candidate in candidates:
        if isinstance(candidate, list):
            levels = [clean_text(c) for c in candidate if isinstance(c, str) and clean_text(c)]
        elif isinstance(candidate, str):
            levels = [p for p in _CATEGORY_SPLIT.split(clean_text(candidate)) if p]
        else:
            continue
        if levels and slug(levels[-1]):
            name = levels[-1]
            return slug(name), name
    return UNCATEGORIZED


def brand_from(*candidates: Any) -> str:
    for candidate in candidates:
        if isinstance(candidate, str):
            text = clean_text(candidate)
            if text and text.lower() not in _NULL_TEXT:
                return text[:120]
    return UNKNOWN_BRAND


def spec_value(value: Any) -> str | int | float | bool | None:
    """A scalar spec value (lists joined with ", "), or None for what does not fit a spec (dicts, empties)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = clean_text(value)
        return text[:MAX_SPEC_TEXT] if text else None
    if isinstance(value, list):
        parts = [str(v) for v in (spec_value(x) for x in value if not isinstance(x, dict | list)) if v is not None]
        return ", ".join(parts)[:MAX_SPEC_TEXT] if parts else None
    return None


def typed_cell(value: str) -> str | int | float | bool:
    """CSV cells: "250" -> 250, "2.5" -> 2.5, "true"/"false" -> bool, anything else unchanged."""
    text = value.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if re.fullmatch(r"-?\d{1,15}", text):
        return int(text)
    if re.fullmatch(r"-?\d{0,15}\.\d{1,10}", text):
        return float(text)
    return value


def add_spec(specs: dict[str, Any], name: Any, value: Any) -> None:
    if not isinstance(name, str) or len(specs) >= MAX_SPECS:
        return
    key = slug(name)
    scalar = spec_value(value)
    if key and scalar is not None and key not in specs:
        specs[key] = scalar


def render_description(paragraphs: list[str], bullets: list[str]) -> str:
    """Bullets as "About this item" lines, then the description paragraphs."""
    parts = []
    if bullets:
        parts.append("About this item:\n" + "\n".join(f"- {b}" for b in bullets))
    parts.extend(paragraphs)
    return "\n\n".join(parts)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def review_id(*parts: object) -> str:
    text = "\x1f".join(str(p) for p in parts)
    return "R-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def iso_date_from_ms(value: Any) -> str:
    """yyyy-mm-dd (UTC) from a millisecond (or second) Unix timestamp; "" when unreadable."""
    import datetime as dt

    number = _as_number(value) if not isinstance(value, str) else _as_number(value.strip())
    if number is None or number <= 0:
        return ""
    seconds = number / 1000 if number > 1e11 else number
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return ""


def review_row(*, rid: str, product_id: str, author: Any, rating: int, title: Any, text: Any, date: str,
               verified: Any, helpful: Any) -> dict[str, Any]:
    title_text, body = clean_text(title), clean_text(text)
    return {
        "id": rid,
        "product_id": product_id,
        "author": clean_text(author)[:120] or "anonymous",
        "rating": rating,
        "title": title_text,
        "text": body,
        "date": date,
        "verified": 1 if verified is True or str(verified).lower() in ("true", "1", "yes") else 0,
        "helpful_votes": count(helpful),
        "aspects": format_aspects(mine_aspects(title_text, body)),
    }
