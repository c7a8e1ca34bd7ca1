"""Typed records the read API returns: the boundary between the catalog and its callers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SpecValue = str | float | int | bool

ProductSort = Literal["relevance", "price_asc", "price_desc", "rating", "review_count"]
ReviewSort = Literal["helpful", "recent", "rating_high", "rating_low"]
ProductSection = Literal["overview", "specs", "description", "variants"]
PRODUCT_SECTIONS: tuple[str, ...] = ("overview", "specs", "description", "variants")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProductSummary(_Record):
    id: str
    title: str
    brand: str
    category: str
    price_cents: int | None
    rating: float
    review_count: int


class Product(ProductSummary):
    description: str | None = None
    specs: dict[str, SpecValue] | None = None
    variants: list[dict[str, str | list[str]]] | None = None


class Review(_Record):
    id: str
    product_id: str
    author: str
    rating: int
    title: str
    text: str
    date: str
    verified: bool
    helpful_votes: int
    aspects: list[str]


class ReviewPage(_Record):
    product_id: str
    page: int
    page_size: int
    total: int
    reviews: list[Review]


class Page(_Record):
    id: str
    kind: str
    category: str
    title: str
    text: str
    date: str
    author: str
    product_ids: list[str]


class PageHit(_Record):
    id: str
    kind: str
    title: str
    snippet: str


class SpecFilter(_Record):
    """One spec condition: equality for text and booleans, a range for numbers."""

    name: str
    equals: SpecValue | None = None
    min: float | None = None
    max: float | None = None


class SearchFilters(_Record):
    category: str | None = None
    brand: str | None = None
    min_price_cents: int | None = Field(default=None, ge=0)
    max_price_cents: int | None = Field(default=None, ge=0)
    min_rating: float | None = Field(default=None, ge=0, le=5)
    specs: list[SpecFilter] = Field(default_factory=list)


class SearchResult(_Record):
    query: str
    total: int = Field(description="matches after filters (text matches are capped at the relevance pool)")
    page: int
    page_size: int
    products: list[ProductSummary]


class HistoryEvent(_Record):
    seq: int
    day: int
    kind: str
    category: str
    product_id: str | None
    query: str | None
    text: str | None
    price_cents: int | None


class CategoryInfo(_Record):
    id: str
    name: str
    department: str
    noun: str
    attributes: list[dict]
    aspects: list[dict]


class TaskInfo(_Record):
    """The observable part of a task; its need lives in hidden tables."""

    id: str
    shopper_id: str
    category: str
    split: str
    difficulty: str
    truth_source: Literal["latent", "observable"]


class CatalogStats(_Record):
    content_hash: str
    generator_version: str
    source: str
    products: int
    reviews: int
    pages: int
    shoppers: int
    tasks: int
    categories: int
    departments: int
    splits: dict[str, int]
