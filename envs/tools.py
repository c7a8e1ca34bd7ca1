"""The one table of tools: typed functions whose signatures give both argument validation and JSON schemas."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from shopgym.catalog import CatalogReader, SearchFilters, SpecFilter
from shopgym.catalog.models import ProductSummary
from shopgym.catalog.need import Need
from shopgym.catalog.taxonomy import Category
from shopgym.catalog.wording import dollars

from .episode import Episode
from .report import Report
from .result import StepResult
from .user import UserSimulator, topics_asked

MAX_DOLLARS = 1e7  # prices the catalog can hold as integer cents, with room to spare
MAX_SPEC_VALUE = 1e12
SEARCH_PAGE_SIZE = 5
REVIEW_PAGE_SIZE = 3
PAGE_CHARS = 800


SpecName = Annotated[str, Field(max_length=60)]
SpecBound = Annotated[float, Field(ge=-MAX_SPEC_VALUE, le=MAX_SPEC_VALUE, allow_inf_nan=False)]
ProductId = Annotated[str, Field(max_length=100)]


@dataclass
class ToolContext:
    reader: CatalogReader
    episode: Episode
    need: Need
    category: Category
    user: UserSimulator
    result: StepResult = field(default_factory=StepResult)  # what the call showed, for `info["result"]`


def _money(cents: int | None) -> str:
    return "price n/a" if cents is None else dollars(cents)


def _summary_line(p: ProductSummary) -> str:
    return f"- {p.id} | {p.title} | {_money(p.price_cents)} | {p.rating:.1f} stars ({p.review_count} reviews)"


def search_filters(category: str | None = None, brand: str | None = None, min_price: float | None = None,
                   max_price: float | None = None, min_rating: float | None = None, specs: dict[str, Any] | None = None,
                   spec_min: dict[str, float] | None = None, spec_max: dict[str, float] | None = None) -> SearchFilters:
    """The catalog filters of `search_products` arguments (dollars to cents, spec conditions by name)."""
    specs, spec_min, spec_max = specs or {}, spec_min or {}, spec_max or {}
    return SearchFilters(
        category=category, brand=brand,
        min_price_cents=round(min_price * 100) if min_price is not None else None,
        max_price_cents=round(max_price * 100) if max_price is not None else None,
        min_rating=min_rating,
        specs=[SpecFilter(name=n, equals=specs.get(n), min=spec_min.get(n), max=spec_max.get(n))
               for n in sorted(set(specs) | set(spec_min) | set(spec_max))],
    )


def search_products(
    ctx: ToolContext,
    query: Annotated[str, Field(max_length=300, description="words to match in titles and descriptions")] = "",
    category: Annotated[str | None, Field(description="category id, e.g. headphones")] = None,
    brand: Annotated[str | None, Field(max_length=100)] = None,
    min_price: Annotated[float | None, Field(ge=0, le=MAX_DOLLARS, allow_inf_nan=False, description="dollars")] = None,
    max_price: Annotated[float | None, Field(ge=0, le=MAX_DOLLARS, allow_inf_nan=False, description="dollars")] = None,
    min_rating: Annotated[float | None, Field(ge=0, le=5, allow_inf_nan=False)] = None,
    specs: Annotated[dict[SpecName, Annotated[str, Field(max_length=100)] | bool],
                     Field(max_length=20, description="spec name -> required value")] = {},
    spec_min: Annotated[dict[SpecName, SpecBound], Field(max_length=20, description="numeric spec name -> minimum")] = {},
    spec_max: Annotated[dict[SpecName, SpecBound], Field(max_length=20, description="numeric spec name -> maximum")] = {},
    sort: Literal["relevance", "price_asc", "price_desc", "rating", "review_count"] = "relevance",
    page: Annotated[int, Field(ge=1, le=100)] = 1,
) -> str:
    """Search the shop's catalog with optional filters; 5 results a page."""
    names = sorted(set(specs) | set(spec_min) | set(spec_max))
    known = ctx.reader.spec_names(category) if names else []
    unknown = [n for n in names if n not in known]
    if unknown:
        scope = f"for category {category}" if category else "in any category"
        raise ValueError(f"unknown spec {unknown[0]!r}; valid specs {scope}: {', '.join(known)}")
    filters = search_filters(category, brand, min_price, max_price, min_rating, specs, spec_min, spec_max)
    result = ctx.reader.search_products(query, filters, sort=sort, page=page, page_size=SEARCH_PAGE_SIZE)
    ctx.episode.retrieved_products.update(p.id for p in result.products)
    ctx.result.saw(listed=[p.id for p in result.products], total=result.total)
    pages = max(1, -(-result.total // SEARCH_PAGE_SIZE))
    head = f"{result.total} products match (page {page} of {pages})."
    return "\n".join([head, *map(_summary_line, result.products)]) if result.products else head + " Try fewer filters."


def view_product(
    ctx: ToolContext,
    product_id: ProductId,
    section: Literal["all", "overview", "specs", "description", "variants"] = "all",
) -> str:
    """A product's page: price, rating, specs, variants and description."""
    sections = None if section == "all" else ["overview"] if section == "overview" else [section]
    p = ctx.reader.get_product(product_id, sections)
    ctx.episode.retrieved_products.add(p.id)
    ctx.episode.inspected_products.add(p.id)
    ctx.episode.viewed_products.add(p.id)
    ctx.result.saw(listed=[p.id], inspected=[p.id])
    lines = [f"{p.id}: {p.title}", f"Brand: {p.brand} | Category: {p.category} | {_money(p.price_cents)} | "
                                    f"{p.rating:.1f} stars ({p.review_count} reviews)"]
    if p.specs is not None:
        lines.append("Specs: " + "; ".join(f"{k}: {v}" for k, v in sorted(p.specs.items())))
    if p.variants:
        lines.append("Variants: " + "; ".join(f"{v['name']}: {', '.join(v['values'])}" for v in p.variants))
    if p.description:
        lines.append("Description: " + p.description[:PAGE_CHARS // 2])
    return "\n".join(lines)


def read_reviews(
    ctx: ToolContext,
    product_id: ProductId,
    page: Annotated[int, Field(ge=1, le=200)] = 1,
    rating: Annotated[int | None, Field(ge=1, le=5)] = None,
    aspect: Annotated[str | None, Field(max_length=40, description="only reviews that mention this aspect")] = None,
    sort: Literal["helpful", "recent", "rating_high", "rating_low"] = "helpful",
) -> str:
    """Customer reviews of a product, 3 a page."""
    result = ctx.reader.list_reviews(product_id, page=page, page_size=REVIEW_PAGE_SIZE, rating=rating, aspect=aspect,
                                     sort=sort)
    ctx.episode.retrieved_products.add(product_id)
    ctx.episode.inspected_products.add(product_id)
    ctx.episode.retrieved_reviews.update(r.id for r in result.reviews)
    if result.reviews:
        ctx.episode.researched_products.add(product_id)
    ctx.result.saw(listed=[product_id], inspected=[product_id], reviews=[r.id for r in result.reviews],
                   total=result.total)
    lines = [f"{result.total} reviews of {product_id} (page {page})."]
    lines += [f"- {r.id} | {r.rating} stars | {r.title}: {r.text[:220]}" for r in result.reviews]
    return "\n".join(lines)


def compare_products(
    ctx: ToolContext,
    product_ids: Annotated[list[ProductId], Field(min_length=2, max_length=5)],
    fields: Annotated[list[SpecName] | None, Field(max_length=10, description="spec names; all specs when omitted")] = None,
) -> str:
    """Side-by-side price, rating and specs of 2 to 5 products."""
    rows = ctx.reader.compare_products(product_ids, fields)
    ctx.episode.retrieved_products.update(product_ids)
    ctx.episode.inspected_products.update(product_ids)
    ctx.episode.viewed_products.update(product_ids)
    ctx.result.saw(listed=[row["id"] for row in rows], inspected=[row["id"] for row in rows])
    lines = []
    for row in rows:
        specs = "; ".join(f"{k}: {v}" for k, v in sorted(row["specs"].items()))
        lines.append(f"- {row['id']} | {_money(row['price_cents'])} | {row['rating']:.1f} stars | {specs}")
    return "\n".join(lines)


def search_web(ctx: ToolContext, query: Annotated[str, Field(min_length=1, max_length=300)]) -> str:
    """Search buying guides, expert reviews, comparisons and forum threads."""
    hits = ctx.reader.search_pages(query, limit=5)
    ctx.result.saw(pages=[h.id for h in hits], total=len(hits))
    if not hits:
        return "No pages match."
    return "\n".join(f"- {h.id} | {h.kind} | {h.title}: {h.snippet[:120]}" for h in hits)


def open_page(
    ctx: ToolContext,
    doc_id: Annotated[str, Field(max_length=100)],
    page: Annotated[int, Field(ge=1, le=50, description="800-character pages of the text")] = 1,
) -> str:
    """Read a web page found with search_web."""
    doc = ctx.reader.get_page(doc_id)
    chunks = max(1, -(-len(doc.text) // PAGE_CHARS))
    if page > chunks:
        raise ValueError(f"page {page} is past the end; {doc_id} has {chunks} page(s)")
    ctx.episode.retrieved_pages.add(doc.id)
    ctx.episode.retrieved_products.update(doc.product_ids)
    ctx.episode.researched_products.update(doc.product_ids)
    ctx.result.saw(listed=list(doc.product_ids), pages=[doc.id])
    body = doc.text[(page - 1) * PAGE_CHARS: page * PAGE_CHARS]
    return f"{doc.title} ({doc.kind}, {doc.date}, page {page} of {chunks})\n{body}"


def ask_user(ctx: ToolContext, question: Annotated[str, Field(min_length=3, max_length=500)]) -> str:
    """Ask the shopper a clarifying question."""
    ctx.episode.stated.update(topics_asked(question))
    return "User: " + ctx.user.answer(question, ctx.need, ctx.category)


def submit_report(ctx: ToolContext, report: Report) -> str:
    """Submit the final report; this ends the episode."""
    ctx.episode.report = report
    return "Report submitted."


@dataclass(frozen=True)
class Tool:
    name: str
    function: Callable[..., str]
    arguments: type[BaseModel]
    description: str

    def run(self, ctx: ToolContext, arguments: dict[str, Any]) -> str:
        """Validate `arguments` (pydantic raises on bad ones) and call the tool."""
        parsed = self.arguments.model_validate(arguments)
        return self.function(ctx, **{name: getattr(parsed, name) for name in type(parsed).model_fields})

    def json_schema(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.arguments.model_json_schema()}


def _tool(function: Callable[..., str]) -> Tool:
    hints = get_type_hints(function, include_extras=True)
    fields: dict[str, Any] = {}
    for name, param in inspect.signature(function).parameters.items():
        if name == "ctx":
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[name] = (hints[name], default)
    model = create_model(f"{function.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    return Tool(function.__name__, function, model, inspect.getdoc(function) or "")


TOOLS: dict[str, Tool] = {t.name: t for t in map(_tool, [
    search_products, view_product, read_reviews, compare_products, search_web, open_page, ask_user, submit_report])}
TOOL_NAMES: tuple[str, ...] = tuple(TOOLS)


def tool_schemas() -> list[dict[str, Any]]:
    """JSON schemas for LLMs, derived from the same models that validate arguments."""
    return [t.json_schema() for t in TOOLS.values()]


@functools.cache
def tool_schema_hash() -> str:
    return hashlib.sha256(json.dumps(tool_schemas(), sort_keys=True).encode()).hexdigest()[:16]
