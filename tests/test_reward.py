"""Reward (v1) on hand-built tasks: each fault loses exactly what docs/reward.md says."""

from __future__ import annotations

import pytest

from shopgym.catalog.need import Constraint, Need, Priority
from shopgym.catalog.truth import TaskTruth
from shopgym.envs.episode import Episode
from shopgym.envs.report import Claim, Recommendation, Report
from shopgym.envs.reward import ERROR_PENALTY, WEIGHTS, ProductFacts, grade, ndcg_at_k, scaled_gains

PRICES = {"A": 9000, "B": 8000, "C": 7000, "D": 6000, "X": 15000}  # X is over the $100 budget
SPECS = {p: {"battery_life": 30 + i, "noise_cancelling": True} for i, p in enumerate(PRICES)}
VERDICTS = {("A", "comfort"): "good", ("B", "comfort"): "poor", ("A", "sound"): "good"}
REVIEWS = {"R1": ("A", frozenset({"comfort"})), "R2": ("A", frozenset({"sound"})), "RB": ("B", frozenset({"comfort"})),
           "RC": ("C", frozenset({"build"}))}
PAGES = {"W1": frozenset({("A", "spec:battery_life"), ("A", "aspect:sound")})}
NEED = Need(category="headphones", budget_cents=10000,
            must_haves=[Constraint(attr="noise_cancelling", op="eq", value=True)],
            priorities=[Priority(aspect="comfort", weight=0.7), Priority(aspect="sound", weight=0.3)])
TRUTH = TaskTruth(task_id="T", kind="standard", truth_source="latent", need=NEED,
                  utilities={"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.2, "X": 0.95},
                  fitting=frozenset("ABCD"), canary="")
FACTS = ProductFacts(PRICES.get, SPECS.get, lambda p, a: VERDICTS.get((p, a)), REVIEWS.get,
                     lambda page: PAGES.get(page, frozenset()))
MAX_STEPS = 20


def _episode(steps: int = 8, errors: int = 0) -> Episode:
    episode = Episode(task_id="T", category="headphones", request="", max_steps=MAX_STEPS, step=steps, errors=errors)
    episode.retrieved_products = set(PRICES)
    episode.inspected_products = {"A", "B", "C", "X"}
    episode.viewed_products = {"A", "B", "C", "X"}
    episode.researched_products = {"A", "B", "C"}
    episode.retrieved_reviews = {"R1", "R2", "RB", "RC"}
    return episode


def _claims(n_extra_true: int = 0) -> list[Claim]:
    claims = [Claim(product_id="A", field="price", value="$90.00", source="A"),
              Claim(product_id="A", field="aspect:comfort", value="good", source="R1"),
              Claim(product_id="A", field="aspect:sound", value="good", source="R2"),
              Claim(product_id="B", field="battery_life", value="31 h", source="B"),
              Claim(product_id="C", field="noise_cancelling", value="yes", source="C")]
    return claims[: 5 + n_extra_true]


def _perfect(recs: list[str] = ["A", "B", "C"], claims: list[Claim] | None = None) -> Report:
    return Report(recommendations=[Recommendation(product_id=p, rationale="great comfort and sound") for p in recs],
                  claims=_claims() if claims is None else claims, comparison=[{"product": "A"}],
                  summary="Ranked by comfort and sound within the budget and with noise cancelling.")


def test_perfect_report_gets_the_maximum() -> None:
    parts = grade(TRUTH, _perfect(), _episode(), FACTS)
    for name in ("ndcg", "hard_constraints", "claim_precision", "coverage", "evidence", "e_prod_score"):
        assert parts[name] == 1.0, name
    efficiency = 1 - (8 - 1) / MAX_STEPS
    assert parts["total"] == pytest.approx(1 - WEIGHTS["efficiency"] * (1 - efficiency))
    assert parts["readability"] == 1.0 and parts["e_prod"] == 3


def test_one_false_claim_costs_its_share_of_claim_precision() -> None:
    base = grade(TRUTH, _perfect(), _episode(), FACTS)
    wrong = _claims()
    wrong[0] = Claim(product_id="A", field="price", value="$80.00", source="A")
    parts = grade(TRUTH, _perfect(claims=wrong), _episode(), FACTS)
    assert base["total"] - parts["total"] == pytest.approx(WEIGHTS["claim_precision"] / len(wrong))


def test_one_budget_violation_zeroes_the_ranking_credit() -> None:
    base = grade(TRUTH, _perfect(), _episode(), FACTS)
    parts = grade(TRUTH, _perfect(["A", "B", "X"]), _episode(), FACTS)
    # the gate drops NDCG to 0; 1 of 3 picks fails the constraints and is not fitting evidence;
    # E.Prod still counts A, B and C (C is discussed in a claim)
    expected = WEIGHTS["ndcg"] + WEIGHTS["hard_constraints"] / 3 + WEIGHTS["evidence"] / 3
    assert base["total"] - parts["total"] == pytest.approx(expected)
    assert parts["ndcg"] == 0 and parts["hard_constraints"] == pytest.approx(2 / 3)


def test_one_invented_product_id_is_a_violation_and_a_false_claim() -> None:
    base = grade(TRUTH, _perfect(), _episode(), FACTS)
    claims = [*_claims()[:4], Claim(product_id="P-MADE-UP", field="price", value="$10", source="P-MADE-UP")]
    parts = grade(TRUTH, _perfect(["A", "B", "P-MADE-UP"], claims), _episode(), FACTS)
    # C drops out of the discussed products too: E.Prod 2 of 3
    expected = (WEIGHTS["ndcg"] + WEIGHTS["hard_constraints"] / 3 + WEIGHTS["evidence"] / 3
                + WEIGHTS["claim_precision"] / 5 + WEIGHTS["e_prod_score"] / 3)
    assert base["total"] - parts["total"] == pytest.approx(expected)


def test_citing_an_unseen_source_makes_a_true_claim_count_as_false() -> None:
    claims = _claims()
    claims[1] = Claim(product_id="A", field="aspect:comfort", value="good", source="R-never-read")
    parts = grade(TRUTH, _perfect(claims=claims), _episode(), FACTS)
    assert parts["claim_precision"] == pytest.approx(4 / 5)
    assert parts["coverage"] == pytest.approx(0.3)  # comfort is no longer backed; sound still is


def test_error_penalty_and_truncation() -> None:
    base = grade(TRUTH, _perfect(), _episode(), FACTS)
    parts = grade(TRUTH, _perfect(), _episode(errors=2), FACTS)
    assert base["total"] - parts["total"] == pytest.approx(2 * ERROR_PENALTY)
    assert grade(TRUTH, None, _episode(), FACTS)["total"] == 0.0


def test_nothing_fits_rewards_saying_so_with_evidence() -> None:
    truth = TaskTruth(task_id="T", kind="nothing_fits", truth_source="latent", need=NEED,
                      utilities=TRUTH.utilities, fitting=frozenset(), canary="")
    honest = Report(nothing_fits=True, summary="Nothing fits: every noise-cancelling pair is over budget.")
    parts = grade(truth, honest, _episode(), FACTS)
    assert parts["ndcg"] == parts["hard_constraints"] == parts["evidence"] == 1.0
    lazy = _episode()
    lazy.inspected_products = set()
    assert grade(truth, honest, lazy, FACTS)["total"] == 0.0  # saying so without looking earns nothing
    assert grade(truth, _perfect(), _episode(), FACTS)["ndcg"] == 0.0
    assert grade(TRUTH, honest, _episode(), FACTS)["ndcg"] == 0.0


def test_ndcg_uses_percentile_gains_and_credits_only_inspected_picks() -> None:
    gains = scaled_gains(TRUTH.utilities, TRUTH.fitting)
    assert gains == {"A": 1.0, "B": pytest.approx(2 / 3), "C": pytest.approx(1 / 3), "D": 0.0}
    assert ndcg_at_k(["A", "B", "C"], gains) == 1.0
    assert 0 < ndcg_at_k(["C", "B", "A"], gains) < 1.0
    assert ndcg_at_k(["D", "C", "B"], gains) < ndcg_at_k(["C", "B", "A"], gains)
    assert ndcg_at_k(["A", "B", "C"], gains, credited={"B", "C"}) < ndcg_at_k(["A", "B", "C"], gains)
    uninspected = _episode()
    uninspected.inspected_products = {"B", "C"}
    assert grade(TRUTH, _perfect(), uninspected, FACTS)["ndcg"] == pytest.approx(
        ndcg_at_k(["A", "B", "C"], gains, credited={"B", "C"}))


def test_claims_count_once_and_need_a_source_that_backs_them() -> None:
    duplicated = [*_claims(), *_claims()]
    assert grade(TRUTH, _perfect(claims=duplicated), _episode(), FACTS) == grade(TRUTH, _perfect(), _episode(), FACTS)
    false_beside_duplicates = [Claim(product_id="A", field="price", value="$1.00", source="A"), *_claims() * 3]
    assert grade(TRUTH, _perfect(claims=false_beside_duplicates), _episode(), FACTS)["claim_precision"] == \
        pytest.approx(5 / 6)
    cases = {  # claim -> backed and true
        ("A", "aspect:comfort", "good", "A"): False,  # a product page does not back a review verdict
        ("A", "aspect:comfort", "good", "RB"): False,  # a review of another product
        ("A", "aspect:comfort", "good", "R2"): False,  # a review of A that does not mention comfort
        ("A", "aspect:sound", "good", "W1"): True,  # a page that judges A's sound
        ("A", "battery_life", "30 h", "W1"): True,  # a page that states A's battery life
        ("B", "battery_life", "31 h", "W1"): False,  # the page says nothing about B
        ("D", "price", "$60.00", "D"): False,  # D's page was never viewed
    }
    for (product, field, value, source), valid in cases.items():
        claim = Claim(product_id=product, field=field, value=value, source=source)
        episode = _episode()
        episode.retrieved_pages = {"W1"}
        parts = grade(TRUTH, _perfect(claims=[claim]), episode, FACTS)
        assert parts["claim_precision"] == float(valid), (product, field, source)


def test_coverage_comes_only_from_valid_aspect_claims_not_summary_words() -> None:
    words = Report(recommendations=[Recommendation(product_id="A", rationale="superb comfort and sound")],
                   claims=[Claim(product_id="A", field="price", value="90", source="A")],
                   summary="Comfort, comfort, sound, fit, audio, bass: all excellent.")
    assert grade(TRUTH, words, _episode(), FACTS)["coverage"] == 0.0
    comfort = words.model_copy(update={"claims": [*words.claims, _claims()[1]]})
    assert grade(TRUTH, comfort, _episode(), FACTS)["coverage"] == pytest.approx(0.7)


def test_a_report_without_decision_credit_earns_no_efficiency_readability_or_constraints() -> None:
    empty = Report(summary="Comfort and sound matter most; great options exist in this category.")
    parts = grade(TRUTH, empty, _episode(steps=1), FACTS)
    assert parts["total"] == 0.0 and parts["efficiency"] == parts["readability"] == 0.0
    wrong_nothing_fits = empty.model_copy(update={"nothing_fits": True})
    assert grade(TRUTH, wrong_nothing_fits, _episode(steps=1), FACTS)["total"] == 0.0
    unviewed = _episode()
    unviewed.inspected_products = set()
    parts = grade(TRUTH, _perfect(claims=[]), unviewed, FACTS)
    assert parts["hard_constraints"] == parts["ndcg"] == parts["efficiency"] == parts["total"] == 0.0


def test_spec_claims_are_judged_on_the_true_spec() -> None:
    listed = {**SPECS, "A": {**SPECS["A"], "battery_life": 45}}  # what the listing says
    true_facts = ProductFacts(PRICES.get, SPECS.get, lambda p, a: VERDICTS.get((p, a)), REVIEWS.get,
                              lambda page: frozenset())
    claim = Claim(product_id="A", field="battery_life", value=f"{listed['A']['battery_life']} h", source="A")
    assert grade(TRUTH, _perfect(claims=[claim]), _episode(), true_facts)["claim_precision"] == 0.0
