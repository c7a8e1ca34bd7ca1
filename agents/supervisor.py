"""The Supervisor Agent: Check Plan -> Check Toolcall (each call) -> Check Report, with grounded fixes.

Each check returns a verdict and feedback from `checks` (observable data only) plus, with a backend,
a short LLM critique. When a state's round cap is hit, the supervisor's own correction is adopted
and flagged. Corrections are built from the same observable data: never from hidden truth.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import Enum

from pydantic import BaseModel

import shopgym.format as fmt
from shopgym.envs import sentiment
from shopgym.schema import ToolCall

from .backends import Backend
from .call_checks import check_tool_call
from .findings import Finding, feedback, verdict
from .plan_checks import check_plan
from .report_checks import check_report
from .request_parsing import StatedNeed, answers_in, parse_request, search_arguments
from .text_helpers import money
from .transcript import Transcript

CAPS = {"plan": 2, "toolcall": 2, "report": 3}


class State(str, Enum):
    CHECK_PLAN = "check_plan"
    CHECK_TOOLCALL = "check_toolcall"
    CHECK_REPORT = "check_report"
    DONE = "done"


class Review(BaseModel):
    """One round of a check: what was found, the verdict, and the text sent back to the researcher."""

    state: State
    round: int
    verdict: str
    findings: list[Finding]
    critique: str


class Supervisor:
    """The state machine and its grounded corrections; `state` advances plan -> calls -> report -> done."""

    def __init__(self, transcript: Transcript, rubric: Sequence[str] = (), backend: Backend | None = None,
                 critique_tokens: int = 40) -> None:
        """`transcript`: the episode as the researcher saw it, recorded by the harness as steps are taken."""
        self.transcript = transcript
        self.request = transcript.request
        self.rubric = list(rubric)
        self.backend = backend
        self.critique_tokens = critique_tokens
        self.state = State.CHECK_PLAN
        self.categories = transcript.catalog.categories()

    @property
    def observations(self) -> list[str]:
        return self.transcript.texts

    # --- the state machine ---
    def stated(self) -> StatedNeed:
        return parse_request(self.request + " " + answers_in(self.observations), self.categories)

    def review_plan(self, plan: str, round_: int) -> Review:
        self._expect(State.CHECK_PLAN)
        findings = check_plan(plan, self.request, answers_in(self.observations))
        return self._review(findings, round_)

    def review_call(self, call: ToolCall | dict | str | None, round_: int) -> Review:
        self._expect(State.CHECK_TOOLCALL)
        if call is None:
            findings = [Finding(check="malformed_call", severity="error", message="No tool call was written.")]
        else:
            findings = check_tool_call(call if not isinstance(call, ToolCall) else call.model_dump(), self.transcript)
        return self._review(findings, round_)

    def review_report(self, report: dict | None, round_: int) -> Review:
        self._expect(State.CHECK_REPORT)
        if report is None:
            findings = [Finding(check="report_schema", severity="error", message="No report was written.")]
        else:
            findings = check_report(report, self.transcript, self.rubric)
        return self._review(findings, round_)

    def advance(self) -> None:
        order = [State.CHECK_PLAN, State.CHECK_TOOLCALL, State.CHECK_REPORT, State.DONE]
        self.state = order[order.index(self.state) + 1]

    def _expect(self, state: State) -> None:
        if self.state != state:
            raise RuntimeError(f"the supervisor is in {self.state.value}, not {state.value}")

    def _review(self, findings: list[Finding], round_: int) -> Review:
        text = feedback(findings)
        if self.backend is not None and verdict(findings) == "revise":
            text += "\n" + self._critique(text)
        return Review(state=self.state, round=round_, verdict=verdict(findings), findings=findings, critique=text)

    def _critique(self, findings_text: str) -> str:
        prompt = fmt.one_shot(self.backend.chat, "You review a shopping researcher's work. In one sentence, say "
                              "what to fix.", findings_text[:600])
        text = self.backend.complete(self.backend.tokenize(prompt), role="supervisor",
                                     max_tokens=self.critique_tokens).text.strip()
        return text.split("\n")[0]

    # --- grounded corrections, adopted when a round cap is hit ---
    def correct_plan(self) -> str:
        need = self.stated()
        rules = f" with {need.rules_text()}" if need.must_haves else ""
        budget = f" under {money(need.budget_cents)}" if need.budget_cents else ""
        steps = []
        if need.asks_questions:
            steps.append("Ask the user for the budget, must-haves and priorities.")
        steps.append(f"Search {need.category or 'the category'}{budget}{rules}.")
        focus = ", ".join(need.priority_labels) or "overall quality"
        steps.append(f"View the top candidates and read their reviews about {focus}.")
        steps.append("Submit a report with the best three, each claim citing a source.")
        return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))

    def fitting(self, need: StatedNeed, ids: Sequence[str]) -> list[str]:
        """Retrieved ids that meet every stated condition, by the catalog, best rated first."""
        out = []
        for pid in ids:
            p = self.transcript.catalog.get_product(pid, ["specs"])
            if need.category and p.category != need.category:
                continue
            if need.budget_cents is not None and (p.price_cents is None or p.price_cents > need.budget_cents):
                continue
            if need.min_rating is not None and p.rating < need.min_rating:
                continue
            specs = p.specs or {}
            if all(r.holds(p.brand, specs) for r in need.must_haves) and \
                    not any(r.holds(p.brand, specs) for r in need.deal_breakers):
                out.append((-p.rating, pid))
        return [pid for _, pid in sorted(out)]

    def correct_call(self) -> ToolCall | None:
        """The next grounded step (None when it is time to report)."""
        transcript = self.transcript
        need = self.stated()
        if need.asks_questions and "ask_user" not in {step.tool for step in transcript.shown}:
            return ToolCall(tool="ask_user", arguments={"question": "What is your budget, what must it have, which "
                                                                    "brands should I avoid, and what matters most?"})
        search = ToolCall(tool="search_products", arguments={**search_arguments(need), "sort": "rating"})
        searched = json.dumps(search.model_dump(), sort_keys=True) in transcript.calls
        fitting = self.fitting(need, sorted(transcript.retrieved))
        if not searched and len(fitting) < 3:  # the researcher's own searches found too few that fit
            return search
        viewed = transcript.viewed
        inspected = [p for p in fitting if p in viewed]  # its page shows the specs the checks need
        todo = [p for p in fitting if p not in viewed]
        if len(inspected) < 3 and todo:
            return ToolCall(tool="view_product", arguments={"product_id": todo[0]})
        read = {step.result["inspected"][0] for step in transcript.shown if step.tool == "read_reviews"}
        for pid in inspected[:3]:
            if pid not in read:
                aspect = {"aspect": need.priorities[0]} if need.priorities else {}
                return ToolCall(tool="read_reviews", arguments={"product_id": pid, **aspect})
        return None

    def correct_report(self) -> dict:
        """A report built from what the episode saw: viewed products meeting the stated conditions."""
        need = self.stated()
        inspected = self.fitting(need, sorted(self.transcript.viewed))
        if not inspected:
            return {"nothing_fits": True, "recommendations": [], "summary": (
                f"No retrieved {need.noun or 'product'} meets every stated condition"
                f"{' (' + need.rules_text() + ')' if need.must_haves else ''}; the closest ones each miss one.")}
        verdicts = review_verdicts(self.transcript)
        labels = dict(zip(need.priorities, need.priority_labels))
        score = {p: self.transcript.catalog.get_product(p, ["overview"]).rating / 5 + sum(v for (q, _), (v, _) in
                                                                                    verdicts.items() if q == p)
                 for p in inspected}
        picks = sorted(inspected, key=lambda p: (-score[p], p))[:3]
        claims, recommendations, comparison = [], [], []
        for pid in picks:
            product = self.transcript.catalog.get_product(pid)
            claims.append({"product_id": pid, "field": "price", "value": money(product.price_cents), "source": pid})
            for rule in need.must_haves:
                if rule.attr in (product.specs or {}):
                    claims.append({"product_id": pid, "field": rule.attr, "value": str(product.specs[rule.attr]),
                                   "source": pid})
            notes = []
            for (q, aspect), (sign, review_id) in verdicts.items():
                if q == pid and aspect in need.priorities:
                    word = "good" if sign > 0 else "poor"
                    claims.append({"product_id": pid, "field": f"aspect:{aspect}", "value": word, "source": review_id})
                    notes.append(f"reviewers call its {labels.get(aspect, aspect)} {word}")
            rationale = f"{product.title} at {money(product.price_cents)} meets the stated conditions"
            recommendations.append({"product_id": pid, "rationale": rationale + (f"; {', '.join(notes)}." if notes else ".")})
            comparison.append({"product": pid, "price": money(product.price_cents), "rating": f"{product.rating:.1f}"})
        focus = ", ".join(need.priority_labels) or "overall quality"
        summary = (f"I compared {len(inspected)} inspected {need.noun or 'products'} that meet the stated conditions "
                   f"and ranked them by rating and what reviews say about {focus}. Top pick: {picks[0]}.")
        return {"recommendations": recommendations, "claims": claims, "comparison": comparison, "summary": summary}


def review_verdicts(transcript: Transcript) -> dict[tuple[str, str], tuple[int, str]]:
    """(product, aspect) -> (sign, review id) where every review read on that aspect agrees."""
    out: dict[tuple[str, str], tuple[int, str]] = {}
    for step in transcript.shown:
        aspect = json.loads(step.call)["arguments"].get("aspect")
        if step.tool != "read_reviews" or not aspect or not step.result["reviews"]:
            continue
        lines = [line for line in step.text.splitlines() if line.startswith("- ")]  # one line per review shown
        signs = {1 if sentiment(line) > 0 else -1 for line in lines}
        if len(signs) == 1:
            out[(step.result["inspected"][0], aspect)] = (signs.pop(), step.result["reviews"][0])
    return out
