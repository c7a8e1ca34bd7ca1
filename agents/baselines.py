"""Non-LLM policies on the env's tools: random (lower anchor), a heuristic researcher, and the env's oracle (upper
anchor, `shopgym.envs.oracle`: the one policy that reads hidden truth)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from shopgym.envs import TOOL_NAMES, ProductResearchEnv, aspect_sentiment
from shopgym.envs.oracle import OraclePolicy
from shopgym.envs.request import RequestedNeed

class Policy(Protocol):
    """Drives one episode: `actions` yields tool calls, receiving each observation text in turn."""

    def actions(self, env: ProductResearchEnv, first_observation: str) -> Iterator[dict]: ...


def call(tool: str, **arguments: Any) -> dict:
    return {"tool": tool, "arguments": arguments}


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
        for _ in range(env.observation_space["step"].n - 1):  # max_steps
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


def review_lines(text: str) -> list[tuple[str, str]]:
    """(review id, text) of each review line in a read_reviews observation."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^- (\S+) \| \d stars \| (.*)$", text, re.MULTILINE)]


class HeuristicResearcher:
    """A genuinely useful researcher without an LLM: filter by the stated constraints, read reviews on the
    shopper's priorities, rank by what reviews say, inspect the picks and cite what it saw.

    `read=False` is the shallow reference (`--policy shallow`): the same search and picks, ranked by star
    rating, with no review or web page read.
    """

    def __init__(self, read: bool = True, candidates: int = 9, picks: int = 3) -> None:
        self.read = read
        self.candidates = candidates
        self.picks = picks

    def actions(self, env: ProductResearchEnv, first_observation: str) -> Iterator[dict]:
        categories = {c.id: c for c in env.get_wrapper_attr("catalog").categories()}  # through wrappers
        text = first_observation
        category = categories[re.search(r"\(([a-z0-9_]+)\)", text).group(1)]
        if "Ask me if you need to know more" in text:
            answer = yield call("ask_user", question="What is your budget, what must it have, which brands should "
                                                     "I avoid, and what matters most to you?")
            text += " " + answer
        request = RequestedNeed.parse(text, category.attributes, category.aspects)
        pages = [(yield call("search_products", **request.search_arguments()))]
        if len(product_lines(pages[0])) >= 5 and self.read:
            pages.append((yield call("search_products", **request.search_arguments(), page=2)))
        listed = [line for page in pages for line in product_lines(page)]
        titles = dict(re.findall(r"^- (\S+) \| (.*?) \|", "\n".join(pages), re.MULTILINE))
        candidates = [p for p, _ in listed if titles.get(p, "").split(" ")[0] not in request.avoid_brands]
        prices = dict(listed)
        if not candidates:
            yield from self._nothing_fits(request, category)
            return
        keywords = {a["name"]: [a["label"].lower(), *a["keywords"]] for a in category.aspects}
        verdicts: dict[str, dict[str, tuple[int, str]]] = {}  # product -> aspect -> (sign, review id)
        scores = {p: -k * 1e-3 for k, p in enumerate(candidates)}  # search order (by rating) breaks ties
        if self.read and request.priorities:
            for pid in candidates[: self.candidates]:
                verdicts[pid] = {}
                scores[pid] += yield from self._read(pid, request.priorities[0], keywords, verdicts[pid])
            for pid in sorted(verdicts, key=lambda p: -scores[p])[: self.picks]:
                for aspect in request.priorities[1:2]:
                    scores[pid] += 0.5 * (yield from self._read(pid, aspect, keywords, verdicts[pid]))
            if request.budget_cents:
                for pid in verdicts:
                    scores[pid] += 0.6 * max(0.0, 1 - (prices.get(pid) or request.budget_cents) / request.budget_cents)
        ranked = sorted(verdicts or candidates, key=lambda p: -scores[p])[: self.picks]
        viewed = {}
        for pid in ranked:
            viewed[pid] = yield call("view_product", product_id=pid)
        yield call("submit_report", report=self._report(request, category, ranked, viewed, verdicts))

    def _read(self, pid: str, aspect: str, keywords: dict[str, list[str]],
              verdicts: dict[str, tuple[int, str]]) -> Iterator[dict]:
        """Read one page of a product's reviews on `aspect`; note the verdict; return its score in [-1, 1]."""
        page = yield call("read_reviews", product_id=pid, aspect=aspect)
        signs = [(aspect_sentiment(body, keywords[aspect]), rid) for rid, body in review_lines(page)]
        total = sum(sign for sign, _ in signs)
        if signs and total:
            verdict = int(np.sign(total))
            verdicts[aspect] = (verdict, next(rid for sign, rid in signs if sign == verdict))
        return total / len(signs) if signs else 0.0

    def _nothing_fits(self, request: RequestedNeed, category: Any) -> Iterator[dict]:
        relaxed = yield call("search_products", category=request.category, sort="rating")
        inspected = [p for p, _ in product_lines(relaxed)][:3]
        keywords = {a["name"]: [a["label"].lower(), *a["keywords"]] for a in category.aspects}
        claims = []
        for pid in inspected:
            page = yield call("view_product", product_id=pid)
            claims.append({"product_id": pid, "field": "price", "value": re.search(r"\$(\d+\.\d\d)", page).group(1),
                           "source": pid})
            if self.read and request.priorities:
                verdicts: dict[str, tuple[int, str]] = {}
                yield from self._read(pid, request.priorities[0], keywords, verdicts)
                claims += [{"product_id": pid, "field": f"aspect:{a}", "value": "good" if sign > 0 else "poor",
                            "source": rid} for a, (sign, rid) in verdicts.items()]
        summary = ("No product in the catalog meets every hard constraint: searching with the budget and "
                   "must-haves returned nothing, and the closest products I inspected each miss one of them.")
        yield call("submit_report", report={"nothing_fits": True, "summary": summary, "recommendations": [],
                                            "claims": claims})

    def _report(self, request: RequestedNeed, category: Any, ranked: list[str], viewed: dict[str, str],
                verdicts: dict[str, dict[str, tuple[int, str]]]) -> dict:
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
            for aspect, (sign, review_id) in verdicts.get(pid, {}).items():
                verdict = "good" if sign > 0 else "poor"
                claims.append({"product_id": pid, "field": f"aspect:{aspect}", "value": verdict, "source": review_id})
                notes.append(f"reviewers call its {labels.get(aspect, aspect)} {verdict}")
            title = page.split("\n", 1)[0].split(": ", 1)[-1]
            rationale = f"{title} at ${price} meets the stated constraints" + (f"; {', '.join(notes)}" if notes else "")
            recommendations.append({"product_id": pid, "rationale": rationale + "."})
            comparison.append({"product": pid, "price": f"${price}", **{k: v for k, v in list(specs.items())[:3]}})
        focus = ", ".join(labels.get(a, a) for a in request.priorities) or "overall quality"
        basis = f"what reviews say about {focus}" if verdicts else "star rating"
        summary = f"I compared {len(verdicts) or len(viewed)} {category.noun} that meet the constraints and ranked " \
                  f"them by {basis}. Top pick: {ranked[0]}."
        return {"recommendations": recommendations, "claims": claims, "comparison": comparison, "summary": summary}


POLICIES = {"random": RandomPolicy, "heuristic": HeuristicResearcher, "oracle": OraclePolicy,
            "shallow": lambda: HeuristicResearcher(read=False)}
