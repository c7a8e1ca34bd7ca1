"""Brands and products of one category, drawn from latent brand quality and price tier."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .models import SpecValue
from .seeding import sub_rng
from .taxonomy import BoolAttr, Category, ChoiceAttr, NumericAttr
from .wording import spec_sentence

_SYLLABLES = ["zen", "tor", "vex", "ari", "lum", "kor", "nov", "bri", "sol", "tek", "qua", "mar",
              "pix", "ora", "vel", "dyn", "kai", "rho", "sta", "lio", "fen", "gal", "obi", "tru"]
_SERIES = ["Aero", "Pulse", "Core", "Flex", "Prime", "Nova", "Edge", "Air", "Max", "Lite", "Studio",
           "Sport", "Trek", "Pure", "Zen", "Halo", "Vista", "Echo", "Orbit", "Swift"]
_DUPLICATE_SUFFIXES = ["(2024 Edition)", "Plus", "SE", "(Renewed Box)", "II"]
_COLORS = ["black", "white", "grey", "navy", "red", "green", "beige", "blue"]
_VARIANTS = {
    "apparel": ("size", ["XS", "S", "M", "L", "XL"]),
    "grocery": ("pack", ["single", "2-pack", "3-pack"]),
}
INFLATED_BRAND_RATE = 0.25
BRAND_SHARE = 0.35  # how much of an aspect's quality the brand decides; the rest varies per aspect
_DEFECT_ISSUES = ["stopped working properly after a few weeks", "is inconsistent from unit to unit",
                  "degrades quickly with regular use", "has a known flaw that many owners report"]
_DESCRIPTION_OPENERS = [
    "The {title} is built for {use}.",
    "Designed with {use} in mind, the {title} keeps things simple.",
    "Meet the {title}, a {noun} made for {use}.",
    "If you shop for {use}, the {title} deserves a look.",
]
_SPEC_SENTENCES = [
    "It offers {label} of {value}.",
    "Its {label} is {value}.",
    "You get {label}: {value}.",
]


@dataclass
class Brand:
    name: str
    quality: float
    tier: float  # 0 budget .. 1 premium
    inflated: bool = False  # buys fake five-star reviews, so its ratings overstate satisfaction


@dataclass
class ProductDraft:
    """A product with its hidden truth, before reviews fill in the rating summary."""

    index: int
    category: str
    brand: str
    title: str
    price_cents: int
    specs: dict[str, SpecValue]  # the truth; hard constraints are judged on it
    variants: list[dict[str, str | list[str]]]
    description: str
    qualities: dict[str, float]
    defects: list[dict[str, str]] = field(default_factory=list)
    near_duplicate_of: int | None = None
    listing_errors: dict[str, SpecValue] = field(default_factory=dict)  # spec -> the wrong value the listing shows
    rating: float = 0.0
    review_count: int = 0

    @property
    def listed_specs(self) -> dict[str, SpecValue]:
        """The specs as the shop's listing states them (the truth, except for listing errors)."""
        return {**self.specs, **self.listing_errors}


def _clamp(value: float, low: float, high: float) -> float:
    """`float(np.clip(value, low, high))` for one number, without numpy's per-call cost."""
    return float(min(max(value, low), high))


def make_brands(seed: int, category: Category) -> list[Brand]:
    rng = sub_rng(seed, "brands", category.id)
    count = int(rng.integers(8, 15))
    names: set[str] = set()
    brands = []
    while len(brands) < count:
        parts = rng.choice(_SYLLABLES, size=2, replace=False)
        name = (parts[0] + parts[1]).capitalize()
        if name in names:
            continue
        names.add(name)
        quality = float(rng.uniform(0.25, 0.85))
        tier = _clamp(quality + rng.normal(0, 0.2), 0, 1)
        brands.append(Brand(name=name, quality=round(quality, 4), tier=round(tier, 4),
                            inflated=bool(rng.random() < INFLATED_BRAND_RATE)))
    return brands


def _spec_value(attr, rng: np.random.Generator, tier: float) -> SpecValue:
    if isinstance(attr, NumericAttr):
        position = _clamp(rng.beta(2, 2) * 0.7 + (tier if attr.higher_is_better else 1 - tier) * 0.3, 0, 1)
        value = attr.low + position * (attr.high - attr.low)
        return int(round(value)) if attr.decimals == 0 else round(value, attr.decimals)
    if isinstance(attr, ChoiceAttr):
        return str(attr.values[int(rng.integers(len(attr.values)))])
    return bool(rng.random() < 0.3 + 0.4 * tier)


def _spec_score(category: Category, specs: dict[str, SpecValue]) -> float:
    scores = []
    for attr in category.attributes:
        if isinstance(attr, NumericAttr):
            position = (float(specs[attr.name]) - attr.low) / (attr.high - attr.low)
            scores.append(position if attr.higher_is_better else 1 - position)
        elif isinstance(attr, BoolAttr):
            scores.append(1.0 if specs[attr.name] else 0.0)
    return sum(scores) / len(scores) if scores else 0.5  # as np.mean sums under 8 values


def _price_cents(category: Category, score: float) -> int:
    low, high = np.log(category.price_low), np.log(category.price_high)
    dollars = float(np.exp(low + _clamp(score, 0, 1) * (high - low)))
    return max(1, int(dollars)) * 100 + 99


def _title(category: Category, brand: str, series: str, number: int, specs: dict[str, SpecValue]) -> str:
    feature = ""
    for attr in category.attributes:
        if isinstance(attr, BoolAttr) and specs[attr.name]:
            feature = attr.label.title()
            break
        if isinstance(attr, ChoiceAttr):
            feature = str(specs[attr.name]).title()
            break
    return " ".join(part for part in (brand, series, str(number), feature, category.noun.title()) if part)


def _variants(category: Category, rng: np.random.Generator) -> list[dict[str, str | list[str]]]:
    colors = sorted(rng.choice(_COLORS, size=int(rng.integers(1, 4)), replace=False).tolist())
    variants: list[dict[str, str | list[str]]] = [{"name": "color", "values": colors}]
    if category.department in _VARIANTS:
        name, values = _VARIANTS[category.department]
        variants.append({"name": name, "values": list(values)})
    return variants


def _description(category: Category, title: str, specs: dict[str, SpecValue], rng: np.random.Generator) -> str:
    use = category.uses[int(rng.integers(len(category.uses)))]
    opener = _DESCRIPTION_OPENERS[int(rng.integers(len(_DESCRIPTION_OPENERS)))]
    sentences = [opener.format(title=title, use=use, noun=category.noun)]
    for attr in category.attributes:
        template = _SPEC_SENTENCES[int(rng.integers(len(_SPEC_SENTENCES)))]
        sentences.append(spec_sentence(attr, specs[attr.name], template))
    return " ".join(sentences)


def _listing_error(category: Category, specs: dict[str, SpecValue], rng: np.random.Generator) -> dict[str, SpecValue]:
    """One numeric or yes/no spec the listing misstates in the product's favour."""
    attrs = [a for a in category.attributes if isinstance(a, NumericAttr | BoolAttr)]
    attr = attrs[int(rng.integers(len(attrs)))]
    if isinstance(attr, BoolAttr):
        return {attr.name: True} if not specs[attr.name] else {}
    span = (attr.high - attr.low) * float(rng.uniform(0.2, 0.4))
    value = _clamp(float(specs[attr.name]) + (span if attr.higher_is_better else -span), attr.low, attr.high)
    value = int(round(value)) if attr.decimals == 0 else round(value, attr.decimals)
    return {attr.name: value} if value != specs[attr.name] else {}


def make_products(seed: int, category: Category, brands: list[Brand], count: int, first_index: int,
                  defect_rate: float = 0.06, duplicate_rate: float = 0.05,
                  listing_error_rate: float = 0.03) -> list[ProductDraft]:
    """`count` products of one category; ids are assigned later from `first_index` on."""
    rng = sub_rng(seed, "products", category.id)
    popularity = np.array([0.5 + b.quality for b in brands])
    brand_choice = rng.choice(len(brands), size=count, p=popularity / popularity.sum())
    drafts: list[ProductDraft] = []
    for offset in range(count):
        index = first_index + offset
        if drafts and rng.random() < duplicate_rate:
            drafts.append(_near_duplicate(category, drafts[int(rng.integers(len(drafts)))], index, rng))
            continue
        brand = brands[int(brand_choice[offset])]
        specs = {attr.name: _spec_value(attr, rng, brand.tier) for attr in category.attributes}
        qualities = {a.name: round(_clamp(BRAND_SHARE * brand.quality + (1 - BRAND_SHARE) * rng.uniform(0.1, 0.95)
                                          + rng.normal(0, 0.05), 0.02, 0.98), 4) for a in category.aspects}
        score = 0.45 * brand.tier + 0.3 * _spec_score(category, specs) + 0.25 * (sum(qualities.values()) / len(qualities))
        price = _price_cents(category, score + float(rng.normal(0, 0.08)))
        series = _SERIES[int(rng.integers(len(_SERIES)))]
        model_number = int(rng.integers(1, 10)) * 100 + int(rng.integers(0, 10)) * 10
        defects = []
        if rng.random() < defect_rate:
            aspect = category.aspects[int(rng.integers(len(category.aspects)))]
            qualities[aspect.name] = round(float(rng.uniform(0.04, 0.2)), 4)
            defects.append({"aspect": aspect.name, "issue": _DEFECT_ISSUES[int(rng.integers(len(_DEFECT_ISSUES)))]})
        errors = _listing_error(category, specs, rng) if rng.random() < listing_error_rate else {}
        listed = {**specs, **errors}
        title = _title(category, brand.name, series, model_number, listed)
        drafts.append(ProductDraft(
            index=index, category=category.id, brand=brand.name, title=title, price_cents=price, specs=specs,
            variants=_variants(category, rng), description=_description(category, title, listed, rng),
            qualities=qualities, defects=defects, listing_errors=errors,
        ))
    return drafts


def _near_duplicate(category: Category, source: ProductDraft, index: int, rng: np.random.Generator) -> ProductDraft:
    """A distractor: same brand and look, one spec changed, a slightly different price."""
    specs = dict(source.specs)
    attr = category.attributes[int(rng.integers(len(category.attributes)))]
    if isinstance(attr, BoolAttr):
        specs[attr.name] = not specs[attr.name]
    elif isinstance(attr, ChoiceAttr):
        others = [v for v in attr.values if v != specs[attr.name]]
        specs[attr.name] = others[int(rng.integers(len(others)))]
    else:
        span = (attr.high - attr.low) * 0.25
        worse = -span if attr.higher_is_better else span
        value = _clamp(float(specs[attr.name]) + worse, attr.low, attr.high)
        specs[attr.name] = int(round(value)) if attr.decimals == 0 else round(value, attr.decimals)
    suffix = _DUPLICATE_SUFFIXES[int(rng.integers(len(_DUPLICATE_SUFFIXES)))]
    title = f"{source.title} {suffix}"
    qualities = {k: round(_clamp(v + rng.normal(0, 0.05), 0.02, 0.98), 4) for k, v in source.qualities.items()}
    price = max(199, int(source.price_cents * rng.uniform(0.9, 1.05)) // 100 * 100 + 99)
    return ProductDraft(  # a listing of its own: the source's listing errors are not copied
        index=index, category=category.id, brand=source.brand, title=title, price_cents=price, specs=specs,
        variants=source.variants, description=_description(category, title, specs, rng), qualities=qualities,
        defects=list(source.defects), near_duplicate_of=source.index,
    )
