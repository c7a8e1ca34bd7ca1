"""The upper anchor of the yardstick: a policy that knows the hidden truth (evaluation env only).

It knows the need, the ideal ranking and the reviews' hidden sentiment labels, and still acts only through tools, so
its score shows what a perfect researcher earns. It belongs with the env and its grader: no agent reads hidden truth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from .env import ProductResearchEnv

LISTED_ID = re.compile(r"^- (\S+) \|", re.MULTILINE)  # the first field of a listing or review line


def _call(tool: str, **arguments: object) -> dict:
    return {"tool": tool, "arguments": arguments}


class OraclePolicy:
    """Knows the hidden need and the ideal ranking (evaluation env only) but acts only through tools."""

    def actions(self, env: ProductResearchEnv, first_observation: str) -> Iterator[dict]:
        base: ProductResearchEnv = env.unwrapped
        truth = base.task_truth
        verdict_of = base.truth_reader.review_sentiment
        category = {c.id: c for c in base.catalog.categories()}[truth.need.category]
        labels = {a["name"]: a["label"] for a in category.aspects}
        priorities = [p.aspect for p in sorted(truth.need.priorities, key=lambda p: -p.weight)]
        if truth.fitting:
            picks = truth.ideal_ranking()[:3]
        else:
            found = yield _call("search_products", category=truth.need.category)
            picks = LISTED_ID.findall(found)[:3]
        claims, recommendations, uncovered = [], [], list(priorities)
        for pid in picks:
            page = yield _call("view_product", product_id=pid)
            claims.append({"product_id": pid, "field": "price", "value": re.search(r"\$(\d+\.\d\d)", page).group(1),
                           "source": pid})
            for aspect in [a for a in priorities if a in uncovered or a == priorities[0]][:2]:
                mean = verdict_of(pid, aspect)
                reviews = LISTED_ID.findall((yield _call("read_reviews", product_id=pid, aspect=aspect)))
                if reviews and mean is not None:
                    claims.append({"product_id": pid, "field": f"aspect:{aspect}", "value": "good" if mean >= 0 else "poor",
                                   "source": reviews[0]})
                    uncovered = [a for a in uncovered if a != aspect]
            recommendations.append({"product_id": pid, "rationale": f"Best fit for {json.dumps(labels.get(priorities[0], ''))} "
                                                                    "within every constraint."})
        if not truth.fitting:
            yield _call("submit_report", report={"nothing_fits": True, "recommendations": [], "claims": claims, "summary": (
                "Nothing meets every hard constraint; I checked the closest products and each misses one.")})
            return
        summary = "Ranked by " + ", ".join(labels.get(a, a) for a in priorities) + " within budget and must-haves."
        yield _call("submit_report", report={"recommendations": recommendations, "claims": claims, "summary": summary,
                                             "comparison": [{"product": p} for p in picks]})
