"""The episode reward: pure functions of (task truth, report, episode log). Formulas in docs/reward.md."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from shopgym.catalog.taxonomy import Category
from shopgym.catalog.truth import TaskTruth

from .episode import Episode
from .report import Report

K = 3  # NDCG cut-off and the number of products that earn full E.Prod credit
WEIGHTS = {"ndcg": 0.40, "hard_constraints": 0.10, "claim_precision": 0.15, "coverage": 0.10, "evidence": 0.10,
           "e_prod_score": 0.10, "efficiency": 0.05}
ERROR_PENALTY, MAX_ERROR_PENALTY = 0.02, 0.2
PARTS = (*WEIGHTS, "e_prod", "error_penalty", "comprehensiveness", "depth", "instruction_following", "readability",
         "total")  # every key of `reward_parts`


class ProductFacts:
    """What the reward needs to know about products: price, specs, and the labelled review verdict."""

    def __init__(self, price_cents: Callable[[str], int | None], specs: Callable[[str], dict | None],
                 aspect_verdict: Callable[[str, str], str | None]) -> None:
        self.price_cents = price_cents
        self.specs = specs
        self.aspect_verdict = aspect_verdict


def ndcg_at_k(ranking: list[str], utilities: dict[str, float], fitting: frozenset[str], k: int = K) -> float:
    """NDCG@k with gain = utility for fitting products and 0 otherwise."""
    def dcg(ids: list[str]) -> float:
        return sum((utilities.get(p, 0.0) if p in fitting else 0.0) / math.log2(i + 2) for i, p in enumerate(ids[:k]))

    ideal = dcg(sorted(fitting, key=lambda p: (-utilities[p], p)))
    return dcg(ranking) / ideal if ideal > 0 else 0.0


def _number(text: str) -> float | None:
    match = re.search(r"-?\d+(?:\.\d+)?", text.replace(",", ""))
    return float(match.group()) if match else None


def claim_is_true(field: str, value: str, product_id: str, facts: ProductFacts) -> bool:
    """A price within a cent, a spec equal to the catalog's, or an aspect verdict matching the review labels."""
    if field == "price":
        price, stated = facts.price_cents(product_id), _number(value)
        return price is not None and stated is not None and abs(round(stated * 100) - price) <= 1
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


def _mentions(text: str, category: Category, aspect: str) -> bool:
    words = {aspect.replace("_", " ")}
    for a in category.aspects:
        if a.name == aspect:
            words |= {a.label.lower(), *(k.lower() for k in a.keywords)}
    lowered = text.lower()
    return any(w in lowered for w in words)


def readability(report: Report) -> float:
    """Structure a reader needs: a summary of sensible length, rationales for picks, a comparison table."""
    checks = [20 <= len(report.summary) <= 1500,
              bool(report.recommendations) and all(len(r.rationale) >= 10 for r in report.recommendations)
              or report.nothing_fits,
              bool(report.comparison) or report.nothing_fits]
    return sum(checks) / len(checks)


def grade(truth: TaskTruth, category: Category, report: Report | None, episode: Episode,
          facts: ProductFacts) -> dict[str, float]:
    """Every reward part plus `total` in [0, 1]. No report (truncation) scores 0."""
    parts = dict.fromkeys(PARTS, 0.0)
    if report is None:
        return parts
    recs = list(dict.fromkeys(r.product_id for r in report.recommendations))
    nothing_fits_task = not truth.fitting
    inspected_fitting = episode.inspected_products & truth.fitting
    if nothing_fits_task:
        said_so = report.nothing_fits and not recs
        in_category = {p for p in episode.inspected_products if p in truth.utilities}
        parts["ndcg"] = parts["hard_constraints"] = float(said_so)
        parts["evidence"] = min(1.0, len(in_category) / K) if said_so else 0.0
        discussed = in_category if said_so else set()
    elif report.nothing_fits or not recs:
        discussed = set()
    else:
        fit_share = sum(p in truth.fitting for p in recs) / len(recs)
        parts["hard_constraints"] = fit_share
        parts["ndcg"] = ndcg_at_k(recs, truth.utilities, truth.fitting) if fit_share == 1 else 0.0  # the gate
        parts["evidence"] = sum(p in inspected_fitting for p in recs) / len(recs)
        discussed = inspected_fitting & (set(recs) | {c.product_id for c in report.claims})
    parts["e_prod"] = float(len(discussed))
    parts["e_prod_score"] = min(1.0, len(discussed) / K)
    if report.claims:
        sources = episode.sources()
        valid = sum(c.product_id in episode.retrieved_products and c.source in sources
                    and claim_is_true(c.field, c.value, c.product_id, facts) for c in report.claims)
        parts["claim_precision"] = valid / len(report.claims)
    text = " ".join([report.summary, *(r.rationale for r in report.recommendations),
                     *(c.field for c in report.claims)])
    total_weight = sum(p.weight for p in truth.need.priorities)
    if total_weight:
        parts["coverage"] = sum(p.weight for p in truth.need.priorities
                                if _mentions(text, category, p.aspect)) / total_weight
    parts["efficiency"] = max(0.0, 1 - max(0, episode.step - 1) / episode.max_steps)
    parts["error_penalty"] = min(MAX_ERROR_PENALTY, ERROR_PENALTY * episode.errors)
    parts["comprehensiveness"] = (parts["coverage"] + parts["e_prod_score"]) / 2
    parts["depth"] = (parts["evidence"] + parts["claim_precision"]) / 2
    parts["instruction_following"] = (parts["hard_constraints"] + parts["ndcg"]) / 2
    parts["readability"] = readability(report)
    score = sum(w * parts[name] for name, w in WEIGHTS.items()) - parts["error_penalty"]
    parts["total"] = min(1.0, max(0.0, score))
    return {k: round(v, 6) for k, v in parts.items()}
