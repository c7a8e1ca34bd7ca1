"""Non-LLM policies on the env's tools: random (lower anchor), a heuristic researcher, an oracle (upper anchor)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from shopgym.envs import TOOL_NAMES, ProductResearchEnv

POSITIVE = {"excellent", "great", "superb", "fantastic", "impressive", "outstanding", "good", "solid", "top-notch",
            "happy", "love", "amazing", "perfect", "nice"}
NEGATIVE = {"poor", "disappointing", "terrible", "weak", "awful", "mediocre", "bad", "subpar", "frustrating",
            "worse", "sadly", "regret", "returning", "broke", "stopped"}


class Policy(Protocol):
    """Drives one episode: `actions` yields tool calls, receiving each observation text in turn."""

    def actions(self, env: ProductResearchEnv, first_observation: str) -> Iterator[dict]: ...


def call(tool: str, **arguments: Any) -> dict:
    return {"tool": tool, "arguments": arguments}


def sentiment(text: str) -> int:
    words = re.findall(r"[a-z\-]+", text.lower())
    return sum((w in POSITIVE) - (w in NEGATIVE) for w in words)


def product_lines(text: str) -> list[tuple[str, int | None]]:
    """(id, price in cents) of each product line in a search observation."""
    out = []
    for line in text.splitlines():
        match = re.match(r"- (\S+) \| .* \| (?:\$(\d+)\.(\d\d)|price n/a) \|", line)
        if match:
            price = int(match.group(2)) * 100 + int(match.group(3)) if match.group(2) else None
            out.append((match.group(1), price))
    return out


class RandomPolicy:
    """Uniformly random tools with random or junk arguments; ends after a random number of steps."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def actions(self, env: ProductResearchEnv, first_observation: str) -> Iterator[dict | str]:
        seen: list[str] = []
        for _ in range(env.unwrapped.max_steps):
            roll = self.rng.random()
            if roll < 0.15:
                observation = yield "".join(self.rng.choice(list("{}[]\":,abc xyz0123"), size=20))
                continue
            tool = TOOL_NAMES[int(self.rng.integers(len(TOOL_NAMES)))]
            pid = seen[int(self.rng.integers(len(seen)))] if seen and self.rng.random() < 0.8 else "P-unknown"
            arguments = {
                "search_products": {"query": str(self.rng.choice(["good", "cheap", "best", "new"]))},
                "view_product": {"product_id": pid},
                "read_reviews": {"product_id": pid},
                "compare_products": {"product_ids": [pid, pid]},
                "search_web": {"query": "review"},
                "open_page": {"doc_id": "W-unknown"},
                "ask_user": {"question": "What do you want?"},
                "submit_report": {"report": {"recommendations": [{"product_id": pid}] if seen else []}},
            }[tool]
            observation = yield call(tool, **arguments)
            seen += [p for p, _ in product_lines(observation or "")]


class _Request:
    """What a request (plus the user's answers) states, parsed against the public category schema."""

    def __init__(self, text: str, schema: list[dict], aspects: list[dict]) -> None:
        self.category = re.search(r"\(([a-z0-9_]+)\)", text).group(1)
        budget = re.search(r"budget is \$(\d+)\.(\d\d)", text)
        self.budget_cents = int(budget.group(1)) * 100 + int(budget.group(2)) if budget else None
        rating = re.search(r"rating of at least ([\d.]+) stars", text)
        self.min_rating = float(rating.group(1)) if rating else None
        self.specs: dict[str, Any] = {}
        self.spec_min: dict[str, float] = {}
        self.spec_max: dict[str, float] = {}
        must = re.search(r"It must have (.*?)\.(?: |$)", text)
        for phrase in must.group(1).split(" and ") if must else []:
            self._must_have(phrase.strip(), schema)
        self.avoid_brands = re.findall(r"not from ([A-Z][a-z]+)", text)
        self.priorities: list[str] = []
        ranked = re.search(r"What matters most to me: (.*?)\.", text)
        for label in ranked.group(1).split(", then ") if ranked else []:
            self.priorities += [a["name"] for a in aspects if a["label"] == label.strip()]

    def _must_have(self, phrase: str, schema: list[dict]) -> None:
        for attr in schema:
            bound = re.match(rf"{re.escape(attr['label'])} of at (least|most) ([\d.]+)", phrase)
            if bound:
                (self.spec_min if bound.group(1) == "least" else self.spec_max)[attr["name"]] = float(bound.group(2))
                return
            if attr["kind"] == "bool" and phrase == attr["label"]:
                self.specs[attr["name"]] = True
                return
            if attr["kind"] == "choice" and phrase.endswith(" " + attr["label"]):
                self.specs[attr["name"]] = phrase[: -len(attr["label"]) - 1]
                return

    def search_arguments(self) -> dict[str, Any]:
        arguments: dict[str, Any] = {"category": self.category, "sort": "rating"}
        if self.budget_cents is not None:
            arguments["max_price"] = self.budget_cents / 100
        if self.min_rating is not None:
            arguments["min_rating"] = self.min_rating
        for key in ("specs", "spec_min", "spec_max"):
            if getattr(self, key):
                arguments[key] = getattr(self, key)
        return arguments


class HeuristicResearcher:
    """A genuinely useful researcher without an LLM: filter by the stated constraints, read reviews on the
    shopper's priorities, rank by what reviews say, inspect the picks and cite what it saw."""

    def __init__(self, candidates: int = 5, picks: int = 3) -> None:
        self.candidates = candidates
        self.picks = picks

    def actions(self, env: ProductResearchEnv, first_observation: str) -> Iterator[dict]:
        categories = {c.id: c for c in env.unwrapped.reader.categories()}
        text = first_observation
        category = categories[re.search(r"\(([a-z0-9_]+)\)", text).group(1)]
        if "Ask me if you need to know more" in text:
            answer = yield call("ask_user", question="What is your budget, what must it have, which brands should "
                                                     "I avoid, and what matters most to you?")
            text += " " + answer
        request = _Request(text, category.attributes, category.aspects)
        found = yield call("search_products", **request.search_arguments())
        candidates = [p for p, _ in product_lines(found)]
        if len(candidates) == len(product_lines(found)) and len(candidates) >= 5:
            more = yield call("search_products", **request.search_arguments(), page=2)
            candidates += [p for p, _ in product_lines(more)]
        if not candidates:
            yield from self._nothing_fits(request)
            return
        scores: dict[str, float] = {}
        quotes: dict[str, list[tuple[str, int, str]]] = {}
        viewed: dict[str, str] = {}
        for pid in candidates[: self.candidates + 2]:
            if len(scores) >= self.candidates:
                break
            page = yield call("view_product", product_id=pid)
            brand = re.search(r"Brand: (.*?) \|", page)
            if brand and brand.group(1) in request.avoid_brands:
                continue
            viewed[pid] = page
            rating = float(re.search(r"\| ([\d.]+) stars", page).group(1))
            score = rating / 5
            for weight, aspect in zip((0.6, 0.4), request.priorities or [None]):
                if aspect is None:
                    break
                reviews = yield call("read_reviews", product_id=pid, aspect=aspect)
                lines = [line for line in reviews.splitlines() if line.startswith("- ")]
                signs = [np.sign(sentiment(line.split(":", 1)[-1])) for line in lines]
                if signs:
                    score += weight * float(np.mean(signs))
                    agree = signs.count(signs[0]) == len(signs) and signs[0] != 0
                    if agree:
                        quotes.setdefault(pid, []).append((aspect, int(signs[0]), lines[0][2:].split(" |")[0]))
            scores[pid] = score
        ranked = sorted(scores, key=lambda p: (-scores[p], candidates.index(p)))[: self.picks]
        yield call("submit_report", report=self._report(request, category, ranked, viewed, quotes))

    def _nothing_fits(self, request: _Request) -> Iterator[dict]:
        relaxed = yield call("search_products", category=request.category, sort="rating")
        inspected = [p for p, _ in product_lines(relaxed)][:3]
        for pid in inspected:
            yield call("view_product", product_id=pid)
        summary = ("No product in the catalog meets every hard constraint: searching with the budget and "
                   "must-haves returned nothing, and the closest products I inspected each miss one of them.")
        yield call("submit_report", report={"nothing_fits": True, "summary": summary, "recommendations": []})

    def _report(self, request: _Request, category: Any, ranked: list[str], viewed: dict[str, str],
                quotes: dict[str, list]) -> dict:
        labels = {a["name"]: a["label"] for a in category.aspects}
        claims, comparison, recommendations = [], [], []
        for pid in ranked:
            page = viewed[pid]
            price = re.search(r"\$(\d+\.\d\d)", page).group(1)
            claims.append({"product_id": pid, "field": "price", "value": price, "source": pid})
            specs = dict(re.findall(r"(\w+): ([^;\n]+)", page.split("Specs: ", 1)[1].split("\n", 1)[0]))
            for name in [*request.specs, *request.spec_min, *request.spec_max][:2]:
                if name in specs:
                    claims.append({"product_id": pid, "field": name, "value": specs[name], "source": pid})
            notes = []
            for aspect, sign, review_id in quotes.get(pid, []):
                verdict = "good" if sign > 0 else "poor"
                claims.append({"product_id": pid, "field": f"aspect:{aspect}", "value": verdict, "source": review_id})
                notes.append(f"reviewers call its {labels.get(aspect, aspect)} {verdict}")
            title = page.split("\n", 1)[0].split(": ", 1)[-1]
            rationale = f"{title} at ${price} meets the stated constraints" + (f"; {', '.join(notes)}" if notes else "")
            recommendations.append({"product_id": pid, "rationale": rationale + "."})
            comparison.append({"product": pid, "price": f"${price}", **{k: v for k, v in list(specs.items())[:3]}})
        focus = ", ".join(labels.get(a, a) for a in request.priorities) or "overall quality"
        summary = (f"I compared {len(viewed)} {category.noun} that meet the constraints and ranked them by what "
                   f"reviews say about {focus}. Top pick: {ranked[0]}.")
        return {"recommendations": recommendations, "claims": claims, "comparison": comparison, "summary": summary}


class OraclePolicy:
    """Knows the hidden need and the ideal ranking (evaluation env only) but acts only through tools."""

    def actions(self, env: ProductResearchEnv, first_observation: str) -> Iterator[dict]:
        truth = env.unwrapped.task_truth
        category = {c.id: c for c in env.unwrapped.reader.categories()}[truth.need.category]
        labels = {a["name"]: a["label"] for a in category.aspects}
        priorities = [p.aspect for p in sorted(truth.need.priorities, key=lambda p: -p.weight)]
        if not truth.fitting:
            found = yield call("search_products", category=truth.need.category)
            for pid, _ in product_lines(found)[:3]:
                yield call("view_product", product_id=pid)
            yield call("submit_report", report={"nothing_fits": True, "recommendations": [], "summary": (
                "Nothing meets every hard constraint; I checked the closest products and each misses one.")})
            return
        picks = truth.ideal_ranking()[:3]
        claims, recommendations = [], []
        for pid in picks:
            page = yield call("view_product", product_id=pid)
            price = re.search(r"\$(\d+\.\d\d)", page).group(1)
            claims.append({"product_id": pid, "field": "price", "value": price, "source": pid})
            if priorities:
                reviews = yield call("read_reviews", product_id=pid, aspect=priorities[0])
                review = re.search(r"^- (\S+) \|", reviews, re.MULTILINE)
                mean = env.unwrapped.truth_reader.review_sentiment(pid, priorities[0])
                verdict = None if mean is None else "good" if mean >= 0 else "poor"
                if review and verdict:
                    claims.append({"product_id": pid, "field": f"aspect:{priorities[0]}", "value": verdict,
                                   "source": review.group(1)})
            recommendations.append({"product_id": pid, "rationale": f"Best fit for {json.dumps(labels.get(priorities[0], ''))} "
                                                                    "within every constraint."})
        summary = "Ranked by " + ", ".join(labels.get(a, a) for a in priorities) + " within budget and must-haves."
        yield call("submit_report", report={"recommendations": recommendations, "claims": claims, "summary": summary,
                                            "comparison": [{"product": p} for p in picks]})


POLICIES = {"random": RandomPolicy, "heuristic": HeuristicResearcher, "oracle": OraclePolicy}
