"""The Research Agent: a plan, tool calls (valid under the call checker; counted when it is off), the report."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import shopgym.format as fmt
from shopgym.schema import Message, ToolCall

from .backends import Backend, Completion
from .call_rejection import rejection
from .constrained import call_checker, split_turn

REJECTED_TEXT = 1000  # characters of a refused turn a record keeps


class ResearchAgent:
    """Writes plans, tool calls and reports from the episode's messages; the checker keeps calls valid."""

    def __init__(self, backend: Backend, schemas: list[dict], budget: fmt.Budget = fmt.DEFAULT_BUDGET,
                 temperature: float = 0.0, grammar: bool = True, thoughts: bool = False,
                 spec_attributes: Mapping[str, Sequence[Mapping]] | None = None) -> None:
        self.backend = backend
        self.schemas = schemas
        self.tools = fmt.hf_tools(schemas)  # what templates that take `tools` are given
        self.spec_attributes = spec_attributes or {}  # category id -> its catalog attributes (spec names, values)
        self.budget = budget
        self.temperature = temperature
        self.grammar = grammar  # off: decode freely, then hold the text to the same checker (validity counted)
        self.thoughts = thoughts  # a line of reasoning may open a call turn, as in distilled training text
        self.calls = {"valid": 0, "total": 0}
        self.rejected: list[dict] = []  # grammar off: each refused turn, its cause and where it broke
        self.tokens = {"sampled": 0, "forced": 0, "evaluated": 0, "reused": 0, "appended": 0}
        self._last_prompt = 0

    def _complete(self, messages: Sequence[Message], max_tokens: int, seed: int, checker=None) -> Completion:
        prompt = fmt.render_ids(messages, self.backend.chat, self.backend.tokenize, add_generation_prompt=True,
                                budget=self.budget, tools=self.tools)
        completion = self.backend.complete(prompt, role="researcher", max_tokens=max_tokens,
                                           temperature=self.temperature, seed=seed, checker=checker)
        for key in ("sampled", "forced", "evaluated", "reused"):
            self.tokens[key] += getattr(completion, key)
        # tokens the context grew by: new prompt tokens (turns added since the last call) plus the output
        self.tokens["appended"] += max(0, len(prompt) - self._last_prompt) + completion.sampled + completion.forced
        self._last_prompt = len(prompt)
        return completion

    def evaluated_per_appended(self) -> float:
        """Model evaluations per token the context grew by (1.0 = every token run exactly once)."""
        done = self.tokens["evaluated"] + self.tokens["sampled"] + self.tokens["forced"]
        return round(done / max(1, self.tokens["appended"]), 3)

    def plan(self, messages: Sequence[Message], seed: int) -> str:
        """The plan, for messages that end with `plan_request()` (recorded, so training text has it too)."""
        return self._complete(messages, self.budget.plan_tokens, seed).text.strip()

    def act(self, messages: Sequence[Message], retrieved: Sequence[str], seed: int,
            tools: Sequence[str] | None = None) -> Message | None:
        """The next assistant turn: a tool call, opened by a line of reasoning when `thoughts` is on (None if the
        budget cut it before any valid argument).

        Product ids are limited to those retrieved so far, the category filter to the one the request
        names, and the spec filters to that category's specs.
        """
        schemas = [s for s in self.schemas if tools is None or s["name"] in tools]
        request = next((m.content for m in messages if m.role == "user" and m.agent == "user"), "")
        category = re.search(r"\(([a-z0-9_]+)\)", request)
        checker = call_checker(schemas, ids=sorted(retrieved),
                               values={"category": [category.group(1)]} if category else None,
                               thought_chars=self.budget.thought_chars if self.thoughts else 0,
                               specs=self.spec_attributes.get(category.group(1)) if category else None)
        max_tokens = self.budget.report_tokens if tools == ("submit_report",) else self.budget.call_tokens
        text = self._complete(messages, max_tokens, seed, checker if self.grammar else None).text
        self.calls["total"] += 1
        if not self.grammar:
            text = text.strip()
            rejected = rejection(checker, text)
            if rejected is not None:
                self.rejected.append({"call": self.calls["total"], "report": tools == ("submit_report",),
                                      **rejected.model_dump(), "text": text[:REJECTED_TEXT]})
                return None
        thought, call = split_turn(text)
        if not call:
            return None
        self.calls["valid"] += 1
        parsed = json.loads(call)
        return Message(role="assistant", agent="researcher", content=thought,
                       tool_call=ToolCall(tool=parsed["tool"], arguments=parsed["arguments"]))

    def report(self, messages: Sequence[Message], retrieved: Sequence[str], seed: int) -> Message | None:
        return self.act(messages, retrieved, seed, tools=("submit_report",))
