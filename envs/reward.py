"""The episode reward: pure functions of (task truth, report, episode log). Formulas in docs/reward.md.

It pays for grounded research: ranking credit only for products the episode inspected, claims only
when their source backs that kind of claim for that product, coverage only through such claims, and
hard constraints, efficiency and readability only on a report that earns decision credit (an
inspected fitting recommendation, or "nothing fits" after looking, on a task where nothing fits).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from shopgym.catalog.truth import TaskTruth

from .episode import Episode
from .report import Claim, Report

K = 3  # NDCG cut-off and the number of products that earn full E.Prod credit
WEIGHTS = {"ndcg": 0.40, "hard_constraints": 0.10, "claim_precision": 0.10, "coverage": 0.15, "evidence": 0.10,
           "e_prod_score": 0.10, "efficiency": 0.05}
ERROR_PENALTY, MAX_ERROR_PENALTY = 0.02, 0.2
PARTS = (*WEIGHTS, "e_prod", "error_penalty", "comprehensiveness", "depth", "instruction_following", "readability",
         "total")  # every key of `reward_parts`


@dataclass(frozen=True)
class ProductFacts:
    """What grading looks up: prices, true specs, labelled review verdicts, and what each source covers."""

    price_cents: Callable[[str], int | None]
    specs: Callable[[str], dict | None]  # the true specs (a listing may misstate one)
    aspect_verdict: Callable[[str, str], str | None]  # "good" | "poor" from the genuine reviews' labels
    review_about: Callable[[str], tuple[str, frozenset[str]] | None]  # review -> (product, aspects it mentions)
    page_states: Callable[[str], frozenset[tuple[str, str]]]  # page -> {(product, field)} it states


def scaled_gains(utilities: Mapping[str, float], fitting: frozenset[str]) -> dict[str, float]:
    """Gains in [0, 1] within the task's fitting products: each one's utility percentile among them (the
    worst fit gains 0, the best 1, ties share their mean), so a random fitting triple scores about 0.5."""
    ids = sorted(fitting)
    if len(ids) == 1:
        return {ids[0]: 1.0}
    values = np.array([utilities[p] for p in ids])
    distinct, which = np.unique(values, return_inverse=True)
    ranks = np.empty(len(ids))
    ranks[np.argsort(values, kind="stable")] = np.arange(len(ids))
    mean_rank = np.bincount(which, weights=ranks, minlength=len(distinct)) / np.bincount(which)
    return dict(zip(ids, (mean_rank[which] / (len(ids) - 1)).tolist()))


def ndcg_at_k(ranking: list[str], gains: dict[str, float], credited: set[str] | frozenset[str] | None = None,
              k: int = K) -> float:
    """NDCG@k; a product not in `gains` (not fitting) or not `credited` (not inspected) gains 0."""
    def dcg(values: list[float]) -> float:
        return sum(g / math.log2(i + 2) for i, g in enumerate(values[:k]))

    ideal = dcg(sorted(gains.values(), reverse=True))
    earned = [gains.get(p, 0.0) if credited is None or p in credited else 0.0 for p in ranking]
    return dcg(earned) / ideal if ideal > 0 else 0.0


def _number(text: str) -> float | None:
    match = re.search(r"-?\d+(?:\.\d+)?", text.replace(",", "")[:64])
    if not match:
        return None
    value = float(match.group())
    return value if math.isfinite(value) else None


def claim_is_true(field: str, value: str, product_id: str, facts: ProductFacts) -> bool:
    """A price within a cent, a spec equal to the true spec, or an aspect verdict matching the review labels."""
    if field == "price":
        price, stated = facts.price_cents(product_id), _number(value)
        return price is not None and stated is not None and abs(stated * 100 - price) <= 1.5
    if field.startswith("aspect:"):
        verdict = facts.aspect_verdict(product_id, field.split(":", 1)[1])
        return verdict is not None and value.strip().lower() == verdict
    specs = facts.specs(product_id) or {}
    name = field.removeprefix("spec:")
    if name not in specs:
        return False
    actual = specs[name]
    if isinstance(actual, bool):
        return value.strip().lower() in (("yes", "true") if actual else ("no", "false"))
    if isinstance(actual, int | float):
        stated = _number(value)
        return stated is not None and math.isclose(stated, float(actual), rel_tol=1e-3, abs_tol=1e-6)
    return value.strip().lower() == str(actual).strip().lower()


def claim_is_backed(claim: Claim, episode: Episode, facts: ProductFacts) -> bool:
    """The cited source was seen in this episode and backs this kind of claim for this product.

    A price or spec: the product's own page (viewed or compared) or an opened page stating that field
    of that product. An aspect verdict: a review of that product that was read and mentions the aspect,
    or an opened page that judges that aspect of that product.
    """
    field = claim.field if claim.field == "price" or ":" in claim.field else f"spec:{claim.field}"
    if claim.source in episode.retrieved_pages:
        return (claim.product_id, field) in facts.page_states(claim.source)
    if field.startswith("aspect:"):
        if claim.source not in episode.retrieved_reviews:
            return False
        about = facts.review_about(claim.source)
        return about is not None and about[0] == claim.product_id and field[7:] in about[1]
    return claim.source == claim.product_id and claim.product_id in episode.viewed_products


def distinct_claims(report: Report) -> list[Claim]:
    """Claims once each: the same product, field and value count once whatever they cite."""
    seen: dict[tuple[str, str, str], Claim] = {}
    for claim in report.claims:
        seen.setdefault((claim.product_id, claim.field.strip().lower(), claim.value.strip().lower()), claim)
    return list(seen.values())


def readability(report: Report) -> float:
    """Structure a reader needs: a summary of sensible length, rationales for picks, a comparison table."""
    checks = [20 <= len(report.summary) <= 1500,
              bool(report.recommendations) and all(len(r.rationale) >= 10 for r in report.recommendations)
              or report.nothing_fits,
              bool(report.comparison) or report.nothing_fits]
    return sum(checks) / len(checks)


def grade(truth: TaskTruth, report: Report | None, episode: Episode, facts: ProductFacts) -> dict[str, float]:
    """Every reward part plus `total` in [0, 1]. No report (truncation) scores 0."""
    parts = dict.fromkeys(PARTS, 0.0)
    if report is None:
        return parts
    recs = list(dict.fromkeys(r.product_id for r in report.recommendations))
    researched = episode.researched_products & episode.inspected_products  # read about, and looked at
    researched_fitting = researched & truth.fitting
    if not truth.fitting:  # saying so counts only after looking: at least one product of the category inspected
        in_category = {p for p in episode.inspected_products if p in truth.utilities}
        decision = report.nothing_fits and not recs and bool(in_category)
        parts["ndcg"] = parts["hard_constraints"] = float(decision)
        parts["evidence"] = min(1.0, len(in_category & researched) / K) if decision else 0.0
        discussed = in_category & researched if decision else set()
        about = in_category
    elif report.nothing_fits or not recs:
        decision, discussed, about = False, set(), set()
    else:
        fitting_share = sum(p in truth.fitting for p in recs) / len(recs)
        decision = any(p in truth.fitting and p in episode.inspected_products for p in recs)
        parts["hard_constraints"] = fitting_share if decision else 0.0
        if fitting_share == 1:  # the gate: a violated constraint can never be traded for ranking credit
            parts["ndcg"] = ndcg_at_k(recs, scaled_gains(truth.utilities, truth.fitting), episode.inspected_products)
        parts["evidence"] = sum(p in researched_fitting for p in recs) / len(recs)
        discussed = researched_fitting & (set(recs) | {c.product_id for c in report.claims})
        about = set(recs)
    parts["e_prod"] = float(len(discussed))
    parts["e_prod_score"] = min(1.0, len(discussed) / K)
    claims = distinct_claims(report)
    valid = [c for c in claims if c.product_id in episode.retrieved_products and claim_is_backed(c, episode, facts)
             and claim_is_true(c.field, c.value, c.product_id, facts)]
    if claims:
        parts["claim_precision"] = len(valid) / len(claims)
    covered = {c.field[7:] for c in valid if c.field.startswith("aspect:") and c.product_id in about}
    total_weight = sum(p.weight for p in truth.need.priorities)
    if total_weight:
        parts["coverage"] = sum(p.weight for p in truth.need.priorities if p.aspect in covered) / total_weight
    if decision:
        parts["efficiency"] = max(0.0, 1 - max(0, episode.step - 1) / episode.max_steps)
        parts["readability"] = readability(report)
    parts["error_penalty"] = min(MAX_ERROR_PENALTY, ERROR_PENALTY * episode.errors)
    parts["comprehensiveness"] = (parts["coverage"] + parts["e_prod_score"]) / 2
    parts["depth"] = (parts["evidence"] + parts["claim_precision"]) / 2
    parts["instruction_following"] = (parts["hard_constraints"] + parts["ndcg"]) / 2
    score = sum(w * parts[name] for name, w in WEIGHTS.items()) - parts["error_penalty"]
    parts["total"] = min(1.0, max(0.0, score))
    return {k: round(v, 6) for k, v in parts.items()}
