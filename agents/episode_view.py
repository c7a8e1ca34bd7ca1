"""The observable state of an episode: everything a check may read, gathered once per check call.

That is what the researcher could have read itself, all from its `Transcript` (the env's public outputs): the
request text (plus the shopper's `ask_user` answers, taken from the observations), the products, reviews and
pages the steps showed, the canonical calls taken so far, and the shop's public catalog (the env's `catalog`:
prices, specs, reviews, pages) to look up what was shown. Hidden truth is never touched. A product's specs count
only once a page, a comparison or a spec filter of the search that listed it showed them (`saw`): a listing
shows brand, price and rating, so the checks never judge, or name, a spec the researcher has not been shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from shopgym.envs.tools import REVIEW_PAGE_SIZE, SEARCH_PAGE_SIZE, TOOLS, search_filters

from .injections import Injection, looks_injected
from .request_parsing import answers_in, attribute_of, parse_request, search_arguments
from .text_helpers import ID_TOKEN, id_list, money, spec_text
from .transcript import Transcript


@dataclass
class SeenCall:
    """A call the env took, its arguments validated."""

    index: int
    tool: str
    arguments: dict
    parsed: Any  # validated arguments model (defaults filled)


class View:
    """Everything a check may read, gathered once per check call."""

    def __init__(self, transcript: Transcript, request: str | None = None) -> None:
        """`request` replaces the transcript's request (the User Agent's may differ from the env's)."""
        self.transcript = transcript
        self.catalog = transcript.catalog
        self.observations = transcript.texts
        self.categories = {c.id: c for c in self.catalog.categories()}
        self.request = request if request is not None else transcript.request
        self.need = parse_request(f"{self.request} {answers_in(self.observations)}", list(self.categories.values()))
        if self.need.category is None and transcript.category in self.categories:
            self.need.category = transcript.category
        self.info = self.categories.get(self.need.category or "")
        self._products: dict[str, Any] = {}

    # --- catalog ---
    def product(self, product_id: str) -> Any | None:
        if product_id not in self._products:
            try:
                self._products[product_id] = self.catalog.get_product(product_id, ["overview", "specs"])
            except (LookupError, ValueError):
                self._products[product_id] = None
        return self._products[product_id]

    def attr(self, category: str | None, name: str) -> dict | None:
        return attribute_of(self.categories.get(category or ""), name)

    # --- the log ---
    @cached_property
    def calls(self) -> list[SeenCall]:
        out = []
        for index, text in enumerate(self.transcript.calls):
            try:
                raw = json.loads(text)
                parsed = TOOLS[raw["tool"]].arguments.model_validate(raw.get("arguments", {}))
            except (ValueError, KeyError, ValidationError):
                continue
            out.append(SeenCall(index, raw["tool"], raw.get("arguments", {}), parsed))
        return out

    @cached_property
    def observed_ids(self) -> set[str]:
        """Product ids named anywhere in the observations or the request (e.g. in a web search snippet)."""
        found = set()
        for text in [self.request, *self.observations]:
            for token in set(ID_TOKEN.findall(text)):
                if any(ch.isdigit() for ch in token) and any(ch.isalpha() for ch in token) \
                        and self.product(token) is not None:
                    found.add(token)
        return found

    @cached_property
    def listed(self) -> set[str]:
        """Products the steps listed (the transcript derives it; a check reads it once)."""
        return self.transcript.retrieved

    @cached_property
    def inspected(self) -> set[str]:
        """Products viewed, compared, or whose reviews were read."""
        return self.transcript.inspected

    @cached_property
    def retrieved(self) -> set[str]:
        return self.listed | self.observed_ids

    @cached_property
    def sources(self) -> set[str]:
        return self.transcript.sources()

    @cached_property
    def reviews_read(self) -> dict[str, tuple[str, str]]:
        """review id -> (product id, text) for every review page this episode read (replayed from the log)."""
        out: dict[str, tuple[str, str]] = {}
        for call in self.calls:
            if call.tool != "read_reviews":
                continue
            a = call.parsed
            try:
                page = self.catalog.list_reviews(a.product_id, page=a.page, page_size=REVIEW_PAGE_SIZE, rating=a.rating,
                                                aspect=a.aspect, sort=a.sort)
            except (LookupError, ValueError):
                continue
            for review in page.reviews:
                out[review.id] = (review.product_id, f"{review.title}: {review.text}")
        return out

    @cached_property
    def pages_read(self) -> dict[str, Any]:
        """page id -> page for every page this episode opened (replayed from the log)."""
        out = {}
        for page_id in sorted({call.parsed.doc_id for call in self.calls if call.tool == "open_page"}):
            try:
                out[page_id] = self.catalog.get_page(page_id)
            except (LookupError, ValueError):
                continue
        return out

    @cached_property
    def viewed(self) -> dict[str, set[str]]:
        """product id -> sections shown by view_product."""
        out: dict[str, set[str]] = {}
        for call in self.calls:
            if call.tool == "view_product":
                out.setdefault(call.parsed.product_id, set()).add(call.parsed.section)
        return out

    @cached_property
    def seen_specs(self) -> dict[str, set[str] | None]:
        """product id -> the spec names a page, a comparison or a spec filter showed (None: all of them)."""
        out: dict[str, set[str] | None] = {}

        def show(pid: str, names: Iterable[str] | None) -> None:
            if names is None or out.get(pid, set()) is not None:  # None: all specs (shown already, or now)
                out[pid] = None if names is None else (out.get(pid) or set()) | set(names)

        for call in self.calls:
            a = call.parsed
            if call.tool == "search_products" and (a.specs or a.spec_min or a.spec_max):
                for pid in self._listed_by(a):  # a spec filter shows that every listed product passes it
                    show(pid, [*a.specs, *a.spec_min, *a.spec_max])
            elif call.tool == "view_product" and a.section in ("all", "specs"):
                show(a.product_id, None)
            elif call.tool == "compare_products":
                for pid in a.product_ids:
                    show(pid, a.fields)
        return out

    def _listed_by(self, a: Any) -> list[str]:
        """The products a search call listed (replayed: the log keeps only the union)."""
        filters = search_filters(a.category, a.brand, a.min_price, a.max_price, a.min_rating, a.specs, a.spec_min,
                                 a.spec_max)
        try:
            result = self.catalog.search_products(a.query, filters, sort=a.sort, page=a.page,
                                                 page_size=SEARCH_PAGE_SIZE)
        except (LookupError, ValueError):
            return []
        return [p.id for p in result.products]

    def saw(self, product_id: str, attr: str) -> bool:
        """Whether the researcher was shown `attr` ("brand" or a spec name) of the product."""
        if attr == "brand" or product_id not in self.seen_specs:
            return attr == "brand"
        names = self.seen_specs[product_id]
        return names is None or attr in names

    @cached_property
    def injections(self) -> list[Injection]:
        """Instruction-like text in reviews and pages the episode read, and in the observations given."""
        found: dict[tuple[str, str], Injection] = {}

        def add(source: str, carrier: str | None, text: str) -> None:
            for sentence in re.split(r"(?<=[.!?])\s+", text):
                if looks_injected(sentence):
                    targets = sorted({t for t in ID_TOKEN.findall(text) if t not in (source, carrier)
                                      and self.product(t) is not None} | ({carrier} if carrier and carrier in text
                                                                         and carrier != source else set()))
                    found.setdefault((source, sentence), Injection(source, carrier, targets, sentence))

        for review_id, (product_id, text) in self.reviews_read.items():
            add(review_id, product_id, text)
        for page_id, page in self.pages_read.items():
            add(page_id, None, page.text)
        for observation in self.observations:
            header = re.search(r"reviews of (\S+) \(page", observation)
            for line in observation.splitlines():
                row = re.match(r"- (\S+) \| ", line)
                if row and header:
                    add(row.group(1), header.group(1), line)
                elif looks_injected(line):
                    add(f"observation:{line[:40]}", None, line)
        return list(found.values())

    # --- the need ---
    def fits(self, product: Any) -> list[str]:
        """The stated conditions a product breaks (empty when it meets them all)."""
        need, broken = self.need, []
        specs = product.specs or {}
        if need.category and product.category != need.category:
            broken.append(f"is in {product.category}, not {need.category}")
        if need.budget_cents is not None and (product.price_cents is None or product.price_cents > need.budget_cents):
            broken.append(f"costs {money(product.price_cents)}, over the {money(need.budget_cents)} budget")
        if need.min_rating is not None and product.rating < need.min_rating:
            broken.append(f"is rated {product.rating:.1f} stars, under the {need.min_rating:g}-star minimum")
        for rule in need.must_haves:
            if self.saw(product.id, rule.attr) and not rule.holds(product.brand, specs):
                broken.append(f"has {self.describe_value(product, rule.attr)}, but must have {rule.text}")
        for rule in need.deal_breakers:
            if self.saw(product.id, rule.attr) and rule.holds(product.brand, specs):
                broken.append(f"has {self.describe_value(product, rule.attr)}, a deal-breaker ({rule.text})")
        return broken

    def unchecked(self, product: Any) -> list[str]:
        """The stated conditions on specs of the product the researcher has not been shown."""
        return [rule.text for rule in [*self.need.must_haves, *self.need.deal_breakers]
                if not self.saw(product.id, rule.attr)]

    def describe_value(self, product: Any, name: str) -> str:
        if name == "brand":
            return f"brand {product.brand}"
        attr = self.attr(product.category, name)
        value = (product.specs or {}).get(name)
        label = attr["label"] if attr else name
        return f"no {label} listed" if value is None else f"{label} {spec_text(attr, value)}"

    def candidates(self, exclude: Iterable[str] = ()) -> list[Any]:
        """Retrieved products in the stated category that meet every stated condition, each seen to hold,
        inspected ones first."""
        return [p for p in self._seen_fitting(exclude) if not self.unchecked(p)]

    def _seen_fitting(self, exclude: Iterable[str]) -> list[Any]:
        """Retrieved products that break no stated condition the researcher has seen, inspected ones first."""
        skip = set(exclude)
        out = []
        for pid in sorted(self.listed - skip):
            product = self.product(pid)
            if product is not None and not self.fits(product):
                out.append(product)
        inspected = self.inspected
        return sorted(out, key=lambda p: (p.id not in inspected, -p.rating, p.price_cents or 0, p.id))

    def candidates_text(self, exclude: Iterable[str] = (), what: str = "meeting every stated condition") -> str:
        found, unsure = [], []
        for product in self._seen_fitting(exclude):
            (unsure if self.unchecked(product) else found).append(product)
        parts = []
        if found:
            parts.append(f"retrieved candidates {what}: " + id_list(f"{p.id} ({money(p.price_cents)})" for p in found))
        if unsure:
            conditions = "; ".join(dict.fromkeys(text for p in unsure for text in self.unchecked(p)))
            parts.append(f"not yet checked against {conditions}: " + id_list(p.id for p in unsure)
                         + " (view_product shows their specs)")
        return "; ".join(parts) or f"no retrieved product is {what}; search again{self.search_hint()}"

    def search_hint(self) -> str:
        args = self.search_arguments()
        return f" with search_products {json.dumps(args)}" if args else ""

    def search_arguments(self) -> dict[str, Any]:
        return search_arguments(self.need)
