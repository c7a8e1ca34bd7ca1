"""A small generic aspect lexicon: which review aspects a piece of review text mentions.

Real dumps have no aspect labels, so imported reviews get the aspects their text names, found by
keyword. The lexicon is deliberately generic (it must work for any category). Keywords match
case-insensitively on word boundaries; a trailing `*` matches any word ending ("comfort*" matches
"comfortable"), and a space also matches a hyphen ("well made" matches "well-made").
"""

from __future__ import annotations

import re

# aspect name -> (label, keywords). Names are stable ids: they go into the `reviews.aspects` column,
# category `aspects_json` and task priorities.
LEXICON: dict[str, tuple[str, tuple[str, ...]]] = {
    "battery": ("battery", ("battery", "batteries", "charge*", "charging", "recharg*")),
    "sound": ("sound", ("sound*", "audio", "bass", "treble", "volume", "speaker", "speakers", "loud*")),
    "comfort": ("comfort", ("comfort*", "uncomfortable", "cushion*", "ergonomic*")),
    "quality": ("quality", ("quality", "well made", "cheaply made", "flimsy", "sturdy", "solid")),
    "size_fit": ("size/fit", ("size", "sizes", "sizing", "fit", "fits", "fitting", "fitted", "too small", "too big",
                              "too large", "runs small", "runs large", "tight", "loose", "snug")),
    "price_value": ("price/value", ("price", "priced", "prices", "pricey", "value", "worth", "money", "expensive",
                                    "cheap", "bargain", "overpriced", "affordable")),
    "durability": ("durability", ("durable", "durability", "broke", "broken", "breaks", "lasted", "fell apart",
                                  "wore out", "cracked", "stopped working", "long lasting")),
    "ease_of_use": ("ease of use", ("easy to use", "easy to install", "easy to set up", "easy to assemble",
                                    "user friendly", "intuitive", "setup", "set up", "instructions", "complicated",
                                    "confusing")),
    "shipping": ("shipping", ("shipping", "shipped", "delivery", "delivered", "arrived", "packag*")),
    "appearance": ("appearance", ("look", "looks", "color", "colors", "colour", "colours", "design*", "stylish",
                                  "beautiful", "pretty", "cute", "gorgeous", "ugly")),
    "material": ("material", ("material", "materials", "fabric", "plastic", "metal", "leather", "cotton",
                              "stainless")),
    "performance": ("performance", ("performance", "performs", "powerful", "suction", "works great", "works well",
                                    "fast", "slow")),
    "scent": ("scent", ("smell*", "scent", "scents", "scented", "fragrance*", "odor", "odors", "odour")),
    "taste": ("taste", ("tast*", "flavor*", "flavour*", "delicious")),
    "cleaning": ("cleaning", ("clean", "cleans", "cleaned", "cleaning", "cleanup", "wash*", "dishwasher")),
    "customer_service": ("customer service", ("customer service", "seller", "refund*", "warranty", "replacement",
                                              "support")),
    "display": ("display", ("screen", "screens", "display*", "brightness")),
    "skin": ("skin feel", ("skin", "moistur*", "hydrat*", "greasy", "irritat*")),
    "weight": ("weight", ("weight", "weighs", "heavy", "lightweight", "light weight", "bulky")),
}

ASPECT_NAMES: tuple[str, ...] = tuple(LEXICON)



def _keyword_regex(keyword: str) -> str:
    prefix = keyword.endswith("*")
    words = [re.escape(w) for w in keyword.rstrip("*").split()]
    return r"[- ]".join(words) + (r"\w*" if prefix else "")


# One regex per aspect, run only when one of its keywords occurs as a substring of the lowercased text
# (with hyphens as spaces): a cheap C-level prefilter that keeps mining fast on millions of reviews.
_ASPECT_RE: dict[str, re.Pattern[str]] = {
    name: re.compile(rf"\b(?:{'|'.join(map(_keyword_regex, keywords))})\b", re.IGNORECASE)
    for name, (_, keywords) in LEXICON.items()
}
_LITERALS: dict[str, tuple[str, ...]] = {
    name: tuple(sorted({k.rstrip("*").lower() for k in keywords})) for name, (_, keywords) in LEXICON.items()
}


def mine_aspects(*texts: str | None) -> list[str]:
    """The lexicon aspects that any of `texts` mentions, in lexicon order."""
    text = "\n".join(t for t in texts if t)
    if not text:
        return []
    folded = text.lower().replace("-", " ")
    return [name for name in ASPECT_NAMES
            if any(lit in folded for lit in _LITERALS[name]) and _ASPECT_RE[name].search(text)]


def format_aspects(aspects: list[str]) -> str:
    """The `reviews.aspects` column value: ",a,b," (empty string when none)."""
    return "," + ",".join(aspects) + "," if aspects else ""


def parse_aspects(value: str | None) -> list[str]:
    return [a for a in (value or "").split(",") if a]


def aspect_info(name: str) -> dict[str, object]:
    """A category `aspects_json` entry for a lexicon aspect (the shape of `taxonomy.Aspect`)."""
    label, keywords = LEXICON[name]
    return {"name": name, "label": label, "keywords": [k.rstrip("*") for k in keywords]}
