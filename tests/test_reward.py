"""Reward on hand-built tasks: each fault loses exactly what docs/reward.md says."""

from __future__ import annotations

import pytest

from shopgym.catalog.need import Constraint, Need, Priority
from shopgym.catalog.taxonomy import CATEGORY_BY_ID
from shopgym.catalog.truth import TaskTruth
from shopgym.envs.episode import Episode
from shopgym.envs.report import Claim, Recommendation, Report
from shopgym.envs.reward import ERROR_PENALTY, WEIGHTS, ProductFacts, grade, ndcg_at_k

CATEGORY = CATEGORY_BY_ID["headphones"]
PRICES = {"A": 9000, "B": 8000, "C": 7000, "D": 6000, "X": 15000}  # X is over the $100 budget
SPECS = {p: {"battery_life": 30 + i, "noise_cancelling": True} for i, p in enumerate(PRICES)}
VERDICTS = {("A", "comfort"): "good", ("B", "comfort"): "poor"}
NEED = Need(category="headphones", budget_cents=10000,
            must_haves=[Constraint(attr="noise_cancelling", op="eq", value=True)],
            priorities=[Priority(aspect="comfort", weight=0.7), Priority(aspect="sound", weight=0.3)])
TRUTH = TaskTruth(task_id="T", kind="standard", truth_source="latent", need=NEED,
                  utilities={"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.2, "X": 0.95},
                  fitting=frozenset("ABCD"), canary="")
FACTS = ProductFacts(PRICES.get, SPECS.get, lambda p, a: VERDICTS.get((p, a)))
MAX_STEPS = 20


def _episode(steps: int = 8, errors: int = 0) -> Episode:
    episode = Episode(task_id="T", category="headphones", request="", max_steps=MAX_STEPS, step=steps, errors=errors)
    episode.retrieved_products = set(PRICES)
    episode.inspected_products = {"A", "B", "C", "X"}
    episode.retrieved_reviews = {"R1"}
    return episode


def _claims(n_extra_true: int = 0) -> list[Claim]:
    claims = [Claim(product_id="A", field="price", value="$90.00", source="A"),
              Claim(product_id="A", field="aspect:comfort", value="good", source="R1"),
              Claim(product_id="B", field="battery_life", value="31 h", source="B"),
              Claim(product_id="C", field="noise_cancelling", value="yes", source="C")]
    return claims[: 4 + n_extra_true]


def _perfect(recs: list[str] = ["A", "B", "C"], claims: list[Claim] | None = None) -> Report:
    return Report(recommendations=[Recommendation(product_id=p, rationale="great comfort and sound") for p in recs],
                  claims=_claims() if claims is None else claims, comparison=[{"product": "A"}],
                  summary="Ranked by comfort and sound within the budget and with noise cancelling.")


def test_perfect_report_gets_the_maximum() -> None:
    parts = grade(TRUTH, CATEGORY, _perfect(), _episode(), FACTS)
    for name in ("ndcg", "hard_constraints", "claim_precision", "coverage", "evidence", "e_prod_score"):
        assert parts[name] == 1.0, name
    efficiency = 1 - (8 - 1) / MAX_STEPS
    assert parts["total"] == pytest.approx(1 - WEIGHTS["efficiency"] * (1 - efficiency))
    assert parts["readability"] == 1.0 and parts["e_prod"] == 3


def test_one_false_claim_costs_its_share_of_claim_precision() -> None:
    base = grade(TRUTH, CATEGORY, _perfect(), _episode(), FACTS)
    wrong = _claims()
    wrong[0] = Claim(product_id="A", field="price", value="$80.00", source="A")
    parts = grade(TRUTH, CATEGORY, _perfect(claims=wrong), _episode(), FACTS)
    assert base["total"] - parts["total"] == pytest.approx(WEIGHTS["claim_precision"] / len(wrong))


def test_one_budget_violation_zeroes_the_ranking_credit() -> None:
    base = grade(TRUTH, CATEGORY, _perfect(), _episode(), FACTS)
    parts = grade(TRUTH, CATEGORY, _perfect(["A", "B", "X"]), _episode(), FACTS)
    # the gate drops NDCG to 0; 1 of 3 picks fails the constraints and is not fitting evidence;
    # E.Prod still counts A, B and C (C is discussed in a claim)
    expected = WEIGHTS["ndcg"] + WEIGHTS["hard_constraints"] / 3 + WEIGHTS["evidence"] / 3
    assert base["total"] - parts["total"] == pytest.approx(expected)
    assert parts["ndcg"] == 0 and parts["hard_constraints"] == pytest.approx(2 / 3)


def test_one_invented_product_id_is_a_violation_and_a_false_claim() -> None:
    base = grade(TRUTH, CATEGORY, _perfect(), _episode(), FACTS)
    claims = [*_claims()[:3], Claim(product_id="P-MADE-UP", field="price", value="$10", source="P-MADE-UP")]
    parts = grade(TRUTH, CATEGORY, _perfect(["A", "B", "P-MADE-UP"], claims), _episode(), FACTS)
    # C drops out of the discussed products too: E.Prod 2 of 3
    expected = (WEIGHTS["ndcg"] + WEIGHTS["hard_constraints"] / 3 + WEIGHTS["evidence"] / 3
                + WEIGHTS["claim_precision"] / 4 + WEIGHTS["e_prod_score"] / 3)
    assert base["total"] - parts["total"] == pytest.approx(expected)


def test_citing_an_unseen_source_makes_a_true_claim_count_as_false() -> None:
    claims = _claims()
    claims[1] = Claim(product_id="A", field="aspect:comfort", value="good", source="R-never-read")
    parts = grade(TRUTH, CATEGORY, _perfect(claims=claims), _episode(), FACTS)
    assert parts["claim_precision"] == pytest.approx(3 / 4)


def test_error_penalty_and_truncation() -> None:
    base = grade(TRUTH, CATEGORY, _perfect(), _episode(), FACTS)
    parts = grade(TRUTH, CATEGORY, _perfect(), _episode(errors=2), FACTS)
    assert base["total"] - parts["total"] == pytest.approx(2 * ERROR_PENALTY)
    assert grade(TRUTH, CATEGORY, None, _episode(), FACTS)["total"] == 0.0


def test_nothing_fits_rewards_saying_so_with_evidence() -> None:
    truth = TaskTruth(task_id="T", kind="nothing_fits", truth_source="latent", need=NEED,
                      utilities=TRUTH.utilities, fitting=frozenset(), canary="")
    honest = Report(nothing_fits=True, summary="Nothing fits: every noise-cancelling pair is over budget.")
    parts = grade(truth, CATEGORY, honest, _episode(), FACTS)
    assert parts["ndcg"] == parts["hard_constraints"] == parts["evidence"] == 1.0
    lazy = _episode()
    lazy.inspected_products = set()
    assert grade(truth, CATEGORY, honest, lazy, FACTS)["evidence"] == 0.0
    assert grade(truth, CATEGORY, _perfect(), _episode(), FACTS)["ndcg"] == 0.0
    assert grade(TRUTH, CATEGORY, honest, _episode(), FACTS)["ndcg"] == 0.0


def test_ndcg_orders_by_utility() -> None:
    assert ndcg_at_k(["A", "B", "C"], TRUTH.utilities, TRUTH.fitting) == 1.0
    assert 0 < ndcg_at_k(["C", "B", "A"], TRUTH.utilities, TRUTH.fitting) < 1.0
    assert ndcg_at_k(["D"], TRUTH.utilities, TRUTH.fitting) < ndcg_at_k(["A"], TRUTH.utilities, TRUTH.fitting)
