"""The report's claims: each cited, cited to a source that backs it, and true to the catalog and the reviews."""

from __future__ import annotations

import math
from typing import Any

from shopgym.envs import aspect_sentiment
from shopgym.envs.report import Report

from .episode_view import View
from .findings import Finding
from .request_parsing import aspects_of
from .text_helpers import as_bool, first_number, id_list, money

def claim_value_ok(field_name: str, value: str, product: Any) -> tuple[bool, str]:
    """(whether a price/spec claim matches the catalog, the catalog's value as text)."""
    if field_name == "price":
        stated = first_number(value)
        ok = (product.price_cents is not None and stated is not None
              and abs(round(stated * 100) - product.price_cents) <= 1)
        return ok, money(product.price_cents)
    actual = (product.specs or {})[field_name.removeprefix("spec:")]
    if isinstance(actual, bool):
        return as_bool(value.strip().split()[0] if value.strip() else "") == actual, "yes" if actual else "no"
    if isinstance(actual, int | float):
        stated = first_number(value)
        return stated is not None and math.isclose(stated, float(actual), rel_tol=1e-3, abs_tol=1e-6), f"{actual:g}"
    return value.strip().lower() == str(actual).strip().lower(), str(actual)


def check_claims(view: View, draft: Report) -> list[Finding]:
    found: list[Finding] = []
    read_by_product: dict[str, list[str]] = {}
    for review_id, (product_id, _) in view.reviews_read.items():
        read_by_product.setdefault(product_id, []).append(review_id)
    for number, claim in enumerate(draft.claims, start=1):
        pid, name = claim.product_id, claim.field.strip()
        tag = f"claim {number} ({pid} {name}={claim.value!r})"
        product = view.product(pid)
        if pid not in view.listed or product is None:
            where = "does not exist in this shop" if product is None else "was never retrieved in this episode"
            found.append(Finding(check="invented_id", severity="error", subject=pid,
                                 message=f"{tag}: {pid} {where}; make claims only about products you retrieved"))
            continue
        backing = sorted({pid} & view.inspected) + sorted(read_by_product.get(pid, []))
        hint = f"cite {id_list(backing)}" if backing else f"view_product {pid} and cite it"
        source = claim.source.strip()
        if not source:
            found.append(Finding(check="uncited_claim", severity="error", subject=f"claim {number}",
                                 message=f"{tag} cites no source; {hint}"))
        elif source not in view.sources:
            known = view.product(source) is not None or source in view.reviews_read
            found.append(Finding(check="uncited_claim", severity="error", subject=source,
                                 message=f"{tag} cites {source}, which this episode never "
                                         f"{'inspected or read' if known else 'retrieved'}; {hint}"))
        else:
            found += _source_backs(view, claim, number, tag, hint)
        is_aspect = name.startswith("aspect:")
        if is_aspect:
            found += _check_aspect_claim(view, claim, product, number, tag)
        elif name == "price" or name.removeprefix("spec:") in (product.specs or {}):
            ok, actual = claim_value_ok(name, claim.value, product)
            label = "price" if name == "price" else name.removeprefix("spec:")
            if not ok and label != "price" and not view.saw(pid, label):  # never name a value it was not shown
                found.append(Finding(check="claim_unseen", severity="error", subject=pid,
                                     message=f"{tag}: {pid}'s {label} was never shown in this episode; "
                                             f"view_product {pid} and claim what it shows"))
            elif not ok:
                found.append(Finding(check="claim_contradicts_catalog", severity="error", subject=pid,
                                     message=f"{tag}: the catalog lists {pid}'s {label} as {actual}; correct the "
                                             "claim or drop it"))
        else:
            specs = ", ".join(sorted(product.specs or {}))
            found.append(Finding(check="unknown_field", severity="error", subject=pid,
                                 message=f"{tag}: {pid} has no field {name!r}; use 'price', a spec ({specs}) or "
                                         "'aspect:<aspect>'"))
    return found


def _source_backs(view: View, claim: Any, number: int, tag: str, hint: str) -> list[Finding]:
    pid, source, name = claim.product_id, claim.source.strip(), claim.field.strip()
    is_aspect = name.startswith("aspect:")
    if source in view.reviews_read:
        owner = view.reviews_read[source][0]
        if owner != pid:
            return [Finding(check="claim_source_mismatch", severity="error", subject=source,
                            message=f"{tag} cites {source}, a review of {owner}, not of {pid}; {hint}")]
        if not is_aspect:
            return [Finding(check="weak_source", severity="warning", subject=source,
                            message=f"{tag} cites a review for a catalog fact; cite {pid}'s product page")]
        return []
    if source in view.pages_read:
        page = view.pages_read[source]
        if page.product_ids and pid not in page.product_ids:
            return [Finding(check="claim_source_mismatch", severity="error", subject=source,
                            message=f"{tag} cites page {source}, which is about {id_list(page.product_ids)}, not "
                                    f"{pid}; {hint}")]
        return []
    if source != pid and view.product(source) is not None:
        return [Finding(check="claim_source_mismatch", severity="error", subject=source,
                        message=f"{tag} cites {source}, another product's page; {hint}")]
    if is_aspect:
        return [Finding(check="weak_source", severity="warning", subject=source,
                        message=f"{tag} cites the product page for what reviewers say; cite a review of {pid} "
                                "that you read")]
    return []


def _check_aspect_claim(view: View, claim: Any, product: Any, number: int, tag: str) -> list[Finding]:
    aspect = claim.field.strip().split(":", 1)[1]
    info = view.categories.get(product.category)
    aspects = {a["name"]: a for a in aspects_of(info)}
    if aspects and aspect not in aspects:
        return [Finding(check="unknown_field", severity="error", subject=product.id,
                        message=f"{tag}: {aspect!r} is not a review aspect of {product.category}; "
                                f"valid: {', '.join(aspects)}")]
    value = claim.value.strip().lower()
    if value not in ("good", "poor"):
        return [Finding(check="invalid_claim_value", severity="error", subject=f"claim {number}",
                        message=f"{tag}: an aspect claim's value is 'good' or 'poor'")]
    source = claim.source.strip()
    if source in view.reviews_read and aspect in aspects:
        a = aspects[aspect]
        sign = aspect_sentiment(view.reviews_read[source][1], [a["label"], *a["keywords"]])
        if sign and (sign > 0) != (value == "good"):
            return [Finding(check="aspect_claim_unsupported", severity="warning", subject=source,
                            message=f"{tag}: review {source} speaks {'well' if sign > 0 else 'badly'} of "
                                    f"{a['label']}; check the claim against the reviews you read")]
    return []
