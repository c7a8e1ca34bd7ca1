"""The world's configuration and the rows each generated entity becomes."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

from .products import ProductDraft
from .reviews import ReviewDraft
from .seeding import sub_rng, world_tag
from .shoppers import Shopper
from .tasks import TaskDraft
from .taxonomy import CATEGORIES, Category
from .web import PageDraft

GENERATOR_VERSION = "2"  # 2: ProductResearch-v1 worlds (ratings apart from utility, hidden defects, listing errors)


class WorldConfig(BaseModel):
    """Everything that decides a generated world; same config, same content hash."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    products: int = Field(default=2000, ge=len(CATEGORIES) * 5)
    reviews_per_product: float = Field(default=10.0, ge=0)
    pages: int | None = Field(default=None, ge=len(CATEGORIES), description="default: products / 10, at least 8 per category")
    shoppers: int = Field(default=1000, ge=10)
    tasks_per_shopper: int = Field(default=2, ge=1, le=3)
    fake_review_rate: float = Field(default=0.04, ge=0, le=1)
    adversarial_review_rate: float = Field(default=0.01, ge=0, le=1)
    stale_page_rate: float = Field(default=0.1, ge=0, le=1)
    wrong_fact_rate: float = Field(default=0.05, ge=0, le=1)
    defect_rate: float = Field(default=0.06, ge=0, le=1)
    listing_error_rate: float = Field(default=0.03, ge=0, le=1, description="listings that misstate one spec")
    near_duplicate_rate: float = Field(default=0.05, ge=0, le=1)
    nothing_fits_rate: float = Field(default=0.08, ge=0, le=1)

    def page_count(self) -> int:
        return self.pages if self.pages is not None else max(8 * len(CATEGORIES), self.products // 10)


def split_evenly(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def person_names(seed: int, count: int) -> list[str]:
    """A seeded pool of names for reviewers, authors and shoppers (Faker once, never per sentence)."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(int(sub_rng(seed, "names").integers(1 << 31)))
    return [fake.name() for _ in range(count)]


class Ids:
    """Ids namespaced by the world seed."""

    def __init__(self, seed: int) -> None:
        self.tag = world_tag(seed)

    def product(self, index: int) -> str:
        return f"P{self.tag}-{index}"

    def review(self, index: int) -> str:
        return f"R{self.tag}-{index}"

    def page(self, index: int) -> str:
        return f"W{self.tag}-{index}"

    def shopper(self, index: int) -> str:
        return f"U{self.tag}-{index}"

    def task(self, index: int) -> str:
        return f"T{self.tag}-{index}"


def category_row(category: Category) -> dict:
    return {"id": category.id, "name": category.name, "department": category.department, "noun": category.noun,
            "schema_json": json.dumps([a.model_dump() for a in category.attributes], sort_keys=True),
            "aspects_json": json.dumps([a.model_dump() for a in category.aspects], sort_keys=True)}


def product_rows(p: ProductDraft, ids: Ids) -> tuple[dict, dict]:
    """The observable row and the hidden-truth row of a product."""
    pid = ids.product(p.index)
    observable = {"id": pid, "title": p.title, "brand": p.brand, "category": p.category, "price_cents": p.price_cents,
                  "rating": p.rating, "review_count": p.review_count, "description": p.description,
                  "specs_json": json.dumps(p.listed_specs, sort_keys=True), "variants_json": json.dumps(p.variants)}
    hidden = {"product_id": pid, "qualities_json": json.dumps(p.qualities, sort_keys=True),
              "defects_json": json.dumps(p.defects, sort_keys=True),
              "spec_corrections_json": json.dumps({k: p.specs[k] for k in p.listing_errors}, sort_keys=True)
              if p.listing_errors else None,
              "near_duplicate_of": ids.product(p.near_duplicate_of) if p.near_duplicate_of is not None else None}
    return observable, hidden


def review_rows(r: ReviewDraft, index: int, ids: Ids) -> tuple[dict, dict]:
    rid = ids.review(index)
    observable = {"id": rid, "product_id": ids.product(r.product_index), "author": r.author, "rating": r.rating,
                  "title": r.title, "text": r.text, "date": r.date, "verified": int(r.verified),
                  "helpful_votes": r.helpful_votes, "aspects": "," + ",".join(r.sentiments) + "," if r.sentiments else ""}
    hidden = {"review_id": rid, "sentiments_json": json.dumps(r.sentiments, sort_keys=True), "fake": int(r.fake),
              "adversarial": int(r.adversarial)}
    return observable, hidden


def page_rows(page: PageDraft, index: int, ids: Ids) -> tuple[dict, list[dict]]:
    wid = ids.page(index)
    observable = {"id": wid, "kind": page.kind, "category": page.category, "title": page.title,
                  "text": "\n".join(page.lines), "date": page.date, "author": page.author,
                  "product_ids_json": json.dumps([ids.product(i) for i in page.products])}
    facts = [{"page_id": wid, "seq": k, "product_id": ids.product(product), "field": field, "value": value,
              "accuracy": accuracy} for k, (product, field, value, accuracy) in enumerate(page.facts)]
    return observable, facts


def shopper_rows(s: Shopper, ids: Ids) -> tuple[dict, list[dict], list[dict]]:
    sid = ids.shopper(s.index)
    events = [{"shopper_id": sid, "seq": k, "day": e["day"], "kind": e["kind"], "category": e["category"],
               "product_id": e["product"], "query": e["query"], "text": e["text"], "price_cents": e["price_cents"]}
              for k, e in enumerate(s.events)]
    prefs = [{"shopper_id": sid, "category": c, "prefs_json": need.model_dump_json()} for c, need in s.needs.items()]
    return {"id": sid, "name": s.name, "split": s.split}, events, prefs


def task_rows(t: TaskDraft, ids: Ids) -> tuple[dict, dict]:
    tid = ids.task(t.index)
    observable = {"id": tid, "shopper_id": ids.shopper(t.shopper_index), "category": t.category, "split": t.split,
                  "difficulty": t.difficulty, "truth_source": "latent"}
    hidden = {"task_id": tid, "kind": t.kind, "need_json": t.need.model_dump_json(),
              "knobs_json": json.dumps(t.knobs, sort_keys=True)}
    return observable, hidden
