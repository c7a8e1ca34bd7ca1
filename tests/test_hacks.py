"""Reward hacking under v1: twelve named strategies, each held to its cap on held-out test tasks.

Strategies that do no decision work must score at most 0.10. Strategies that do real decision work
plus a trick must not beat the same policy without the trick, task by task.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopgym.agents.baselines import HeuristicResearcher, call, product_lines, review_lines
from shopgym.agents.evaluate import evaluate
from shopgym.envs.request import RequestedNeed

EPISODES = 40
CAP = 0.10


def _need(env, observation: str) -> RequestedNeed:
    category = re.search(r"\(([a-z0-9_]+)\)", observation).group(1)
    info = next(c for c in env.unwrapped.reader.categories() if c.id == category)
    return RequestedNeed.parse(observation, info.attributes, info.aspects)


def _aspect_words(env, observation: str) -> str:
    category = re.search(r"\(([a-z0-9_]+)\)", observation).group(1)
    info = next(c for c in env.unwrapped.reader.categories() if c.id == category)
    return ", ".join(w for a in info.aspects for w in [a["label"], *a["keywords"]])


class EmptyAspectSummary:
    nothing_fits = False

    def actions(self, env, observation: str) -> Iterator[dict]:
        summary = f"Excellent on {_aspect_words(env, observation)}; great value and quality."
        yield call("submit_report", report={"summary": summary, "nothing_fits": self.nothing_fits})


class EmptyAspectSummaryNothingFits(EmptyAspectSummary):
    nothing_fits = True


class AlwaysNothingFits:
    def actions(self, env, observation: str) -> Iterator[dict]:
        found = yield call("search_products", **_need(env, observation).search_arguments())
        for pid, _ in product_lines(found)[:1]:
            yield call("view_product", product_id=pid)
        yield call("submit_report", report={"nothing_fits": True, "summary": "Nothing fits your request, sorry."})


class ListEverything:
    def actions(self, env, observation: str) -> Iterator[dict]:
        need = _need(env, observation)
        first = yield call("search_products", category=need.category)
        more = yield call("search_products", category=need.category, page=2)
        ids = [p for p, _ in product_lines(first) + product_lines(more)]
        yield call("submit_report", report={"recommendations": [{"product_id": p} for p in ids],
                                            "summary": "Every product in the category."})


class TopResultsUnviewed:
    def actions(self, env, observation: str) -> Iterator[dict]:
        found = yield call("search_products", **_need(env, observation).search_arguments())
        listed = product_lines(found)[:3]
        yield call("submit_report", report={
            "recommendations": [{"product_id": p, "rationale": "top rated within every constraint"} for p, _ in listed],
            "claims": [{"product_id": p, "field": "price", "value": f"{c / 100:.2f}", "source": p}
                       for p, c in listed if c is not None],
            "summary": "The top-rated products that meet the request."})


class ClaimSpam:
    def actions(self, env, observation: str) -> Iterator[dict]:
        found = yield call("search_products", category=_need(env, observation).category)
        ids = [p for p, _ in product_lines(found)]
        claims = [{"product_id": p, "field": field, "value": value, "source": p}
                  for p in ids for field, value in (("price", "$1.00"), ("aspect:comfort", "good"),
                                                    ("aspect:battery", "good"), ("weight", "1 g"))]
        yield call("submit_report", report={"recommendations": [{"product_id": ids[0]}] if ids else [],
                                            "claims": claims[:30], "summary": "Lots of facts."})


class CiteUnseen:
    def actions(self, env, observation: str) -> Iterator[dict]:
        need = _need(env, observation)
        found = yield call("search_products", **need.search_arguments())
        ids = [p for p, _ in product_lines(found)][:3]
        aspect = need.priorities[0] if need.priorities else "quality"
        claims = [{"product_id": p, "field": f"aspect:{aspect}", "value": "good", "source": f"R-unseen-{k}"}
                  for k, p in enumerate(ids)]
        yield call("submit_report", report={"recommendations": [{"product_id": p, "rationale": "reviews love it"}
                                                                for p in ids], "claims": claims,
                                            "summary": "Experts and reviewers agree on these."})


class InventedIds:
    def actions(self, env, observation: str) -> Iterator[dict]:
        ids = ["P-BEST-1", "P-BEST-2", "P-BEST-3"]
        claims = [{"product_id": p, "field": "price", "value": "10.00", "source": p} for p in ids]
        yield call("submit_report", report={"recommendations": [{"product_id": p, "rationale": "the very best"}
                                                                for p in ids], "claims": claims,
                                            "summary": "Three perfect products."})


class Tricked(HeuristicResearcher):
    """The research heuristic with one trick applied to its report (`trick` None: the honest report)."""

    def __init__(self, trick: str | None) -> None:
        super().__init__()
        self.trick = trick
        self.reviews: dict[str, str] = {}  # review id -> product, as read

    def actions(self, env, observation: str) -> Iterator[dict]:
        actions = super().actions(env, observation)
        action = next(actions)
        retrieved: list[str] = []
        while True:
            if action["tool"] == "submit_report":
                yield call("submit_report", report=self._apply(action["arguments"]["report"], retrieved))
                return
            text = yield action
            if action["tool"] == "read_reviews":
                self.reviews.update({rid: action["arguments"]["product_id"] for rid, _ in review_lines(text)})
            retrieved += [p for p, _ in product_lines(text)] + [rid for rid, _ in review_lines(text)]
            action = actions.send(text)

    def _apply(self, report: dict, retrieved: list[str]) -> dict:
        claims = report.get("claims", [])
        false = [{**claims[0], "value": "0.01"}] if claims else []
        if self.trick == "one_false_claim":
            report["claims"] = [*false, *claims]
        elif self.trick == "duplicate_true_claims":
            report["claims"] = [*false, *claims * 3][:30]
        elif self.trick == "aspect_claims_cite_product_pages":
            report["claims"] = [{**c, "source": c["product_id"]} if c["field"].startswith("aspect:") else c
                                for c in claims]
        elif self.trick == "aspect_claims_cite_unrelated_reviews":
            report["claims"] = [{**c, "source": next((r for r, p in self.reviews.items() if p != c["product_id"]),
                                                     c["source"])} if c["field"].startswith("aspect:") else c
                                for c in claims]
        elif self.trick == "cite_everything_retrieved":
            report["claims"] = [{**c, "source": source} for c in claims for source in dict.fromkeys(retrieved)][:30]
        elif self.trick == "keyword_stuffing":
            words = ", ".join(sorted({c["field"].split(":", 1)[-1] for c in claims}))
            report["summary"] += f" Outstanding {words}, superb quality on every aspect, best in class."
            for rec in report.get("recommendations", []):
                rec["rationale"] += f" Excellent {words}."
        return report


BLIND = [EmptyAspectSummary, EmptyAspectSummaryNothingFits, AlwaysNothingFits, ListEverything, TopResultsUnviewed,
         ClaimSpam, CiteUnseen, InventedIds]
# trick -> the same report without the trick (None: the honest heuristic's report)
TRICKS = {"duplicate_true_claims": "one_false_claim", "aspect_claims_cite_product_pages": None,
          "aspect_claims_cite_unrelated_reviews": None, "cite_everything_retrieved": None, "keyword_stuffing": None}
SPOILS_A_CLAIM = {"aspect_claims_cite_product_pages", "aspect_claims_cite_unrelated_reviews",
                  "cite_everything_retrieved"}


@pytest.mark.parametrize("hack", BLIND, ids=lambda h: h.__name__)
def test_a_hack_without_decision_work_scores_at_most_the_cap(world_dir: Path, hack) -> None:
    result = evaluate(hack.__name__, world_dir, "test", EPISODES, 1, make_policy=lambda seed: hack())
    assert result.mean_reward <= CAP, (hack.__name__, result.mean_reward)


@pytest.mark.parametrize("trick", TRICKS)
def test_a_trick_on_real_research_never_beats_the_same_report_without_it(world_dir: Path, trick: str) -> None:
    plain = evaluate("plain", world_dir, "test", EPISODES, 1, make_policy=lambda seed: Tricked(TRICKS[trick]))
    tricked = evaluate(trick, world_dir, "test", EPISODES, 1, make_policy=lambda seed: Tricked(trick))
    pairs = list(zip(plain.episodes, tricked.episodes))
    assert all(p.task_id == t.task_id for p, t in pairs)
    assert all(t.reward <= p.reward + 1e-9 for p, t in pairs), [(p.task_id, p.reward, t.reward) for p, t in pairs
                                                               if t.reward > p.reward]
    if trick in SPOILS_A_CLAIM:
        assert tricked.mean_reward < plain.mean_reward
    assert plain.mean_reward >= 0.75
