"""Categories of the synthetic shop: typed spec schemas and review aspects tied to latent qualities."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class NumericAttr(BaseModel):
    """A numeric spec with a unit and a range; `higher_is_better` drives shopper weights."""

    kind: Literal["numeric"] = "numeric"
    name: str
    label: str
    unit: str
    low: float
    high: float
    decimals: int = 0
    higher_is_better: bool = True


class ChoiceAttr(BaseModel):
    """A categorical spec with a closed set of allowed values."""

    kind: Literal["choice"] = "choice"
    name: str
    label: str
    values: list[str]


class BoolAttr(BaseModel):
    """A yes/no feature."""

    kind: Literal["bool"] = "bool"
    name: str
    label: str


Attribute = NumericAttr | ChoiceAttr | BoolAttr


class Aspect(BaseModel):
    """A review aspect; its sentiment in reviews follows one latent quality of the product."""

    name: str
    label: str
    keywords: list[str] = Field(description="words that name the aspect in review text")


class Category(BaseModel):
    id: str
    name: str
    department: str
    noun: str
    price_low: float = Field(description="typical cheapest price in dollars")
    price_high: float = Field(description="typical dearest price in dollars")
    attributes: list[Attribute]
    aspects: list[Aspect]
    uses: list[str] = Field(description="use cases named by buying guides and shoppers")

    def attribute(self, name: str) -> Attribute:
        for attr in self.attributes:
            if attr.name == name:
                return attr
        raise KeyError(f"category {self.id!r} has no attribute {name!r}")


def _num(name: str, label: str, unit: str, low: float, high: float, decimals: int = 0, up: bool = True) -> NumericAttr:
    return NumericAttr(name=name, label=label, unit=unit, low=low, high=high, decimals=decimals, higher_is_better=up)


def _choice(name: str, label: str, *values: str) -> ChoiceAttr:
    return ChoiceAttr(name=name, label=label, values=list(values))


def _bool(name: str, label: str) -> BoolAttr:
    return BoolAttr(name=name, label=label)


def _aspect(name: str, label: str, *keywords: str) -> Aspect:
    return Aspect(name=name, label=label, keywords=list(keywords) or [label])


CATEGORIES: list[Category] = [
    Category(
        id="headphones", name="Headphones", department="electronics", noun="headphones",
        price_low=25, price_high=400,
        attributes=[
            _num("battery_life", "battery life", "h", 8, 60),
            _num("weight", "weight", "g", 150, 380, up=False),
            _choice("form", "form factor", "over-ear", "on-ear", "in-ear"),
            _bool("noise_cancelling", "active noise cancelling"),
            _choice("connection", "connection", "bluetooth", "wired", "bluetooth + wired"),
        ],
        aspects=[
            _aspect("sound", "sound quality", "sound", "audio", "bass"),
            _aspect("comfort", "comfort", "comfort", "fit"),
            _aspect("battery", "battery", "battery", "charge"),
            _aspect("build", "build quality", "build", "hinge", "materials"),
        ],
        uses=["commuting", "travel", "the gym", "working from home"],
    ),
    Category(
        id="smartwatches", name="Smartwatches", department="electronics", noun="smartwatch",
        price_low=40, price_high=500,
        attributes=[
            _num("battery_life", "battery life", "days", 1, 21),
            _num("water_resistance", "water resistance", "m", 0, 100),
            _choice("os", "platform", "wear os", "watchos", "proprietary"),
            _bool("gps", "built-in GPS"),
            _num("screen_size", "screen size", "mm", 38, 49, up=True),
        ],
        aspects=[
            _aspect("accuracy", "tracking accuracy", "tracking", "accuracy", "heart rate"),
            _aspect("battery", "battery", "battery", "charge"),
            _aspect("display", "display", "display", "screen"),
            _aspect("app", "companion app", "app", "software"),
        ],
        uses=["running", "swimming", "everyday wear", "sleep tracking"],
    ),
    Category(
        id="coffee_makers", name="Coffee makers", department="home", noun="coffee maker",
        price_low=20, price_high=350,
        attributes=[
            _num("capacity", "capacity", "cups", 1, 14),
            _choice("type", "brew type", "drip", "pod", "espresso", "pour-over"),
            _bool("programmable", "programmable timer"),
            _num("brew_time", "brew time", "min", 2, 12, up=False),
        ],
        aspects=[
            _aspect("taste", "coffee taste", "taste", "flavor", "coffee"),
            _aspect("cleaning", "ease of cleaning", "cleaning", "descaling"),
            _aspect("speed", "brewing speed", "speed", "brewing"),
            _aspect("durability", "durability", "durability", "lasted", "broke"),
        ],
        uses=["a busy morning", "a small office", "espresso drinks", "a single person"],
    ),
    Category(
        id="vacuums", name="Vacuum cleaners", department="home", noun="vacuum",
        price_low=60, price_high=700,
        attributes=[
            _num("suction", "suction power", "Pa", 1500, 25000),
            _num("runtime", "runtime", "min", 15, 120),
            _choice("type", "type", "robot", "stick", "upright", "canister"),
            _bool("hepa", "HEPA filter"),
            _num("noise", "noise level", "dB", 55, 85, up=False),
        ],
        aspects=[
            _aspect("suction", "suction", "suction", "pickup"),
            _aspect("noise", "noise", "noise", "loud"),
            _aspect("battery", "battery", "battery", "runtime"),
            _aspect("maneuverability", "maneuverability", "maneuverability", "steering"),
        ],
        uses=["pet hair", "carpets", "hard floors", "a small apartment"],
    ),
    Category(
        id="running_shoes", name="Running shoes", department="apparel", noun="running shoes",
        price_low=45, price_high=250,
        attributes=[
            _num("weight", "weight", "g", 180, 340, up=False),
            _num("drop", "heel-to-toe drop", "mm", 0, 12, up=False),
            _choice("surface", "surface", "road", "trail", "track"),
            _choice("width", "width", "narrow", "standard", "wide"),
            _bool("waterproof", "waterproof upper"),
        ],
        aspects=[
            _aspect("cushioning", "cushioning", "cushioning", "cushion"),
            _aspect("fit", "fit", "fit", "sizing"),
            _aspect("grip", "grip", "grip", "traction"),
            _aspect("durability", "durability", "durability", "outsole"),
        ],
        uses=["marathon training", "trail running", "daily jogging", "speed work"],
    ),
    Category(
        id="rain_jackets", name="Rain jackets", department="apparel", noun="rain jacket",
        price_low=30, price_high=400,
        attributes=[
            _num("waterproof_rating", "waterproof rating", "mm", 5000, 30000),
            _num("weight", "weight", "g", 150, 700, up=False),
            _choice("fit", "fit", "slim", "regular", "relaxed"),
            _bool("hood", "adjustable hood"),
            _bool("packable", "packable"),
        ],
        aspects=[
            _aspect("waterproofing", "waterproofing", "waterproofing", "rain"),
            _aspect("breathability", "breathability", "breathability", "sweaty"),
            _aspect("fit", "fit", "fit", "sizing"),
            _aspect("durability", "durability", "durability", "zipper"),
        ],
        uses=["hiking", "city commuting", "cycling", "travel"],
    ),
    Category(
        id="moisturizers", name="Moisturizers", department="beauty", noun="moisturizer",
        price_low=8, price_high=120,
        attributes=[
            _num("volume", "volume", "ml", 30, 250),
            _num("spf", "SPF", "", 0, 50),
            _choice("skin_type", "skin type", "dry", "oily", "combination", "sensitive"),
            _bool("fragrance_free", "fragrance-free"),
        ],
        aspects=[
            _aspect("hydration", "hydration", "hydration", "moisture"),
            _aspect("texture", "texture", "texture", "greasy"),
            _aspect("scent", "scent", "scent", "smell"),
            _aspect("irritation", "gentleness", "irritation", "breakouts", "gentle"),
        ],
        uses=["winter dryness", "daily sun protection", "sensitive skin", "night care"],
    ),
    Category(
        id="hair_dryers", name="Hair dryers", department="beauty", noun="hair dryer",
        price_low=15, price_high=450,
        attributes=[
            _num("power", "power", "W", 1000, 2400),
            _num("weight", "weight", "g", 300, 900, up=False),
            _num("heat_settings", "heat settings", "", 1, 5),
            _bool("ionic", "ionic technology"),
            _bool("foldable", "foldable handle"),
        ],
        aspects=[
            _aspect("drying", "drying speed", "drying", "dries"),
            _aspect("noise", "noise", "noise", "loud"),
            _aspect("weight", "handling", "handling", "heavy"),
            _aspect("frizz", "frizz control", "frizz", "smooth"),
        ],
        uses=["thick hair", "travel", "daily styling", "curly hair"],
    ),
    Category(
        id="strollers", name="Strollers", department="baby", noun="stroller",
        price_low=60, price_high=1000,
        attributes=[
            _num("weight", "weight", "kg", 4, 16, 1, up=False),
            _num("max_child_weight", "maximum child weight", "kg", 15, 25),
            _choice("type", "type", "full-size", "lightweight", "jogging", "travel system"),
            _bool("one_hand_fold", "one-hand fold"),
            _bool("reversible_seat", "reversible seat"),
        ],
        aspects=[
            _aspect("maneuverability", "maneuverability", "maneuverability", "steering"),
            _aspect("fold", "folding", "folding", "fold"),
            _aspect("comfort", "child comfort", "comfort", "padding"),
            _aspect("storage", "storage", "storage", "basket"),
        ],
        uses=["city walks", "travel", "jogging", "a newborn"],
    ),
    Category(
        id="baby_monitors", name="Baby monitors", department="baby", noun="baby monitor",
        price_low=25, price_high=350,
        attributes=[
            _num("range", "range", "m", 50, 400),
            _num("screen_size", "screen size", "in", 0, 7, 1),
            _choice("connection", "connection", "wifi", "local radio", "both"),
            _bool("night_vision", "night vision"),
            _bool("two_way_audio", "two-way audio"),
        ],
        aspects=[
            _aspect("video", "video quality", "video", "picture"),
            _aspect("reliability", "connection reliability", "connection", "dropouts"),
            _aspect("battery", "battery", "battery", "charge"),
            _aspect("setup", "setup", "setup", "pairing"),
        ],
        uses=["a large house", "travel", "twins", "night feeds"],
    ),
    Category(
        id="yoga_mats", name="Yoga mats", department="sports", noun="yoga mat",
        price_low=12, price_high=150,
        attributes=[
            _num("thickness", "thickness", "mm", 1.5, 10, 1),
            _num("length", "length", "cm", 170, 215),
            _choice("material", "material", "pvc", "tpe", "natural rubber", "cork"),
            _bool("non_slip", "non-slip texture"),
        ],
        aspects=[
            _aspect("grip", "grip", "grip", "slippery"),
            _aspect("cushioning", "cushioning", "cushioning", "knees"),
            _aspect("odor", "odor", "odor", "smell"),
            _aspect("durability", "durability", "durability", "peeling"),
        ],
        uses=["hot yoga", "pilates", "travel", "home workouts"],
    ),
    Category(
        id="tents", name="Tents", department="sports", noun="tent",
        price_low=50, price_high=800,
        attributes=[
            _num("capacity", "capacity", "persons", 1, 6),
            _num("weight", "weight", "kg", 1, 12, 1, up=False),
            _choice("season", "season rating", "3-season", "4-season", "summer"),
            _bool("freestanding", "freestanding"),
            _num("waterproof_rating", "waterproof rating", "mm", 1500, 5000),
        ],
        aspects=[
            _aspect("weatherproofing", "weather protection", "weather", "leaked"),
            _aspect("setup", "setup", "setup", "pitch"),
            _aspect("space", "space", "space", "roomy"),
            _aspect("durability", "durability", "durability", "poles"),
        ],
        uses=["backpacking", "family camping", "festivals", "winter camping"],
    ),
    Category(
        id="coffee_beans", name="Coffee beans", department="grocery", noun="coffee beans",
        price_low=6, price_high=60,
        attributes=[
            _num("weight", "bag weight", "g", 250, 2000),
            _choice("roast", "roast", "light", "medium", "dark"),
            _choice("origin", "origin", "ethiopia", "colombia", "brazil", "blend"),
            _bool("organic", "organic"),
            _bool("decaf", "decaf"),
        ],
        aspects=[
            _aspect("flavor", "flavor", "flavor", "taste"),
            _aspect("freshness", "freshness", "freshness", "stale"),
            _aspect("aroma", "aroma", "aroma", "smell"),
            _aspect("value", "value", "value", "price"),
        ],
        uses=["espresso", "cold brew", "filter coffee", "a french press"],
    ),
    Category(
        id="protein_powder", name="Protein powder", department="grocery", noun="protein powder",
        price_low=15, price_high=90,
        attributes=[
            _num("protein_per_serving", "protein per serving", "g", 15, 32),
            _num("servings", "servings", "", 15, 90),
            _choice("source", "protein source", "whey", "plant", "casein", "egg"),
            _bool("vegan", "vegan"),
            _bool("gluten_free", "gluten-free"),
        ],
        aspects=[
            _aspect("taste", "taste", "taste", "flavor"),
            _aspect("mixability", "mixability", "mixes", "clumps"),
            _aspect("digestion", "digestion", "digestion", "bloating"),
            _aspect("value", "value", "value", "price"),
        ],
        uses=["muscle gain", "weight loss", "post-run recovery", "a vegan diet"],
    ),
]

CATEGORY_BY_ID: dict[str, Category] = {c.id: c for c in CATEGORIES}
DEPARTMENTS: list[str] = sorted({c.department for c in CATEGORIES})
