"""Per-format row parsers: one raw dump object in, catalog rows out (or `BadRow` with the reason)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .rows import (
    BadRow,
    add_spec,
    brand_from,
    category_from,
    clean_text,
    count,
    dumps,
    iso_date_from_ms,
    typed_cell,
    optional_rating,
    price_cents,
    render_description,
    require_id,
    require_title,
    review_id,
    review_row,
    review_stars,
    text_list,
)

FORMATS = ("amazon2023", "webshop", "mapped")


def _product(pid: str, title: str, brand: str, category: tuple[str, str], price: int | None, rating: float | None,
             reviews: int, description: str, specs: dict[str, Any], variants: list[dict]) -> dict[str, Any]:
    return {
        "id": pid,
        "title": title[:500],
        "brand": brand,
        "category": category[0],
        "price_cents": price,
        "rating": round(rating, 2) if rating is not None else 0.0,
        "review_count": reviews if rating is not None else 0,
        "description": description,
        "specs_json": dumps(specs),
        "variants_json": dumps(variants),
        "_category_name": category[1],
    }


def _require_object(value: Any) -> dict:
    if not isinstance(value, dict):
        raise BadRow(f"not an object (a JSON {type(value).__name__ if value is not None else 'null'})")
    return value


# --- Amazon Reviews 2023 -------------------------------------------------------------------------

def amazon_product(value: Any) -> dict[str, Any]:
    row = _require_object(value)
    pid = require_id(row, "parent_asin")
    title = require_title(row, "title")
    rating = optional_rating(row, "average_rating")
    details = row.get("details") if isinstance(row.get("details"), dict) else {}
    specs: dict[str, Any] = {}
    for name, spec in details.items():
        add_spec(specs, name, spec)
    brand = brand_from(row.get("store"), details.get("Brand"), details.get("brand"))
    category = category_from(row.get("categories"), row.get("main_category"))
    description = render_description(text_list(row.get("description")), text_list(row.get("features")))
    return _product(pid, title, brand, category, price_cents(row.get("price")), rating,
                    count(row.get("rating_number")), description, specs, [])


def amazon_review(value: Any, line: int) -> dict[str, Any]:
    """A review row; its product is checked against the imported products by the caller."""
    row = _require_object(value)
    pid = require_id(row, "parent_asin")
    stars = review_stars(row.get("rating"))
    timestamp = row.get("timestamp")
    rid = review_id(pid, row.get("user_id"), timestamp, line)
    return review_row(rid=rid, product_id=pid, author=row.get("user_id"), rating=stars, title=row.get("title"),
                      text=row.get("text"), date=iso_date_from_ms(timestamp), verified=row.get("verified_purchase"),
                      helpful=row.get("helpful_vote"))


# --- WebShop -------------------------------------------------------------------------------------

def webshop_item(value: Any, line: int) -> tuple[dict[str, Any], list[dict[str, Any] | BadRow]]:
    """(product row, its embedded reviews: rows, or BadRow for each unusable one)."""
    row = _require_object(value)
    pid = require_id(row, "asin")
    title = require_title(row, "name", "title (name)")
    rating = optional_rating(row, "average_rating")
    specs: dict[str, Any] = {}
    variants: list[dict] = []
    options = row.get("customization_options")
    if isinstance(options, dict):
        for name, choices in options.items():
            values = []
            for choice in choices if isinstance(choices, list) else []:
                text = clean_text(choice.get("value") if isinstance(choice, dict) else choice)
                if text and text not in values:
                    values.append(text)
            if values and isinstance(name, str):
                variants.append({"name": clean_text(name), "values": values})
                add_spec(specs, name, values[0] if len(values) == 1 else values)
    for attribute in text_list(row.get("attributes")):
        add_spec(specs, attribute, True)
    category = category_from(row.get("product_category"), row.get("category"))
    brand = brand_from(row.get("brand"), row.get("store"))
    description = render_description(text_list(row.get("full_description")), text_list(row.get("small_description")))
    reviews: list[dict[str, Any] | BadRow] = []
    raw_reviews = row.get("Reviews") if isinstance(row.get("Reviews"), list) else []
    for number, review in enumerate(raw_reviews, 1):
        try:
            if not isinstance(review, dict):
                raise BadRow("not an object")
            stars_value = review.get("score", review.get("stars", review.get("rating")))
            stars = review_stars(stars_value)
        except BadRow as exc:
            reviews.append(BadRow(f"review {number} of {pid}: {exc}"))
            continue
        reviews.append(review_row(
            rid=review_id(pid, "webshop", number, line), product_id=pid,
            author=review.get("author") or review.get("user_id"), rating=stars, title=review.get("title"),
            text=review.get("body", review.get("review", review.get("text"))),
            date=iso_date_from_ms(review.get("timestamp")) or clean_text(review.get("date"))[:10],
            verified=review.get("verified_purchase", False), helpful=review.get("helpful_vote")))
    product = _product(pid, title, brand, category, price_cents(row.get("pricing", row.get("price"))), rating,
                       count(row.get("total_reviews", row.get("rating_number"))), description, specs, variants)
    return product, reviews


# --- Mapped CSV / JSON Lines ----------------------------------------------------------------------

class FieldMapping(BaseModel):
    """Which source column feeds each catalog field (`--mapping` file)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    brand: str | None = None
    category: str | None = None
    price: str | None = None
    price_unit: Literal["dollars", "cents"] = "dollars"
    rating: str | None = None
    review_count: str | None = None
    description: str | None = None
    specs: list[str] = Field(default_factory=list)

    def columns(self) -> list[str]:
        named = [self.id, self.title, self.brand, self.category, self.price, self.rating, self.review_count,
                 self.description]
        return [c for c in named if c] + list(self.specs)


def _lookup(row: dict, column: str | None) -> Any:
    if not column:
        return None
    if column in row:
        return row[column]
    value: Any = row
    for part in column.split("."):  # dotted paths reach into nested JSON objects
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def mapped_product(value: Any, mapping: FieldMapping, from_csv: bool) -> dict[str, Any]:
    row = _require_object(value)
    view = {"id": _lookup(row, mapping.id), "title": _lookup(row, mapping.title)}
    pid = require_id(view, "id", f"id (column {mapping.id!r})")
    title = require_title(view, "title", f"title (column {mapping.title!r})")
    rating_view = {"rating": _lookup(row, mapping.rating)}
    rating = optional_rating(rating_view, "rating")
    raw_price = _lookup(row, mapping.price)
    price = price_cents(raw_price)
    if price is not None and mapping.price_unit == "cents":
        price = round(price / 100)
    specs: dict[str, Any] = {}
    for column in mapping.specs:
        cell = _lookup(row, column)
        if from_csv and isinstance(cell, str):
            cell = typed_cell(cell) if cell.strip() else None
        add_spec(specs, column.rsplit(".", 1)[-1], cell)
    category = category_from(_lookup(row, mapping.category))
    description = render_description(text_list(_lookup(row, mapping.description)), [])
    return _product(pid, title, brand_from(_lookup(row, mapping.brand)), category, price, rating,
                    count(_lookup(row, mapping.review_count)), description, specs, [])
