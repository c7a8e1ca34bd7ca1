"""A classic-RL view of the env: a Discrete menu of candidate tool calls and a numeric Box observation.

The menu is rebuilt every step from observations only: the need as the request text (and the user's
answers) state it, read back with `RequestedNeed`; the products the last search showed; and what
reviews said about them. The hidden need and the hidden tables are never read on this path.
"""

from __future__ import annotations

import re
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .env import ProductResearchEnv
from .request import RequestedNeed
from .sentiment import sentiment

SLOTS = 5  # candidate products the menu can act on
MENU = (["search_filtered", "search_plain", "ask_user"] + [f"view_{k}" for k in range(SLOTS)]
        + [f"reviews_{k}" for k in range(SLOTS)] + ["submit_best", "submit_first", "submit_nothing_fits"])


def _review_verdict(text: str) -> tuple[float, str | None]:
    """The sign of what a page of reviews says, and the first review that says it (to cite)."""
    signs = []
    for match in re.finditer(r"^- (\S+) \| [^|]*\| (.*)$", text, re.MULTILINE):
        signs.append((np.sign(sentiment(match.group(2))), match.group(1)))
    total = float(np.sign(sum(sign for sign, _ in signs)))
    return total, next((review for sign, review in signs if sign == total and total), None)


class ToolMenu(gym.Wrapper):
    """Discrete(len(MENU)) actions over candidate calls; observations are 9 + 4·SLOTS features in [0, 1]."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.action_space = spaces.Discrete(len(MENU))
        self.observation_space = spaces.Box(0.0, 1.0, shape=(9 + 4 * SLOTS,), dtype=np.float32)
        self._candidates: list[tuple[str, float, str]] = []  # (id, rating, price as listed)
        self._viewed: set[str] = set()
        self._sentiment: dict[str, float] = {}
        self._quotes: dict[str, str] = {}  # product -> a review that states the verdict
        self._searched = self._asked = self._last_error = self._empty = False
        self._said = ""  # the request and the user's answers, as observed
        self._categories = {c.id: c for c in self.base.reader.categories()}  # the public schema, read once
        self._step = 0

    @property
    def base(self) -> ProductResearchEnv:
        return self.env.unwrapped

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        self._said, self._step = observation["text"], observation["step"]
        self._candidates, self._viewed, self._sentiment, self._quotes = [], set(), {}, {}
        self._searched = self._asked = self._last_error = self._empty = False
        return self._features(), info

    def step(self, action: int):
        call = self.tool_call(int(action))
        observation, reward, terminated, truncated, info = self.env.step(call)
        text, self._step = observation["text"], observation["step"]
        self._last_error = info["error"]
        if call["tool"] == "search_products" and not info["error"]:
            self._searched = True
            self._candidates = [(m.group(1), float(m.group(3)), m.group(2)) for m in re.finditer(
                r"^- (\S+) \| .*? \| \$([\d.]+) \| ([\d.]+) stars", text, re.MULTILINE)][:SLOTS]
            self._empty = not self._candidates
        elif call["tool"] == "view_product" and not info["error"]:
            self._viewed.add(call["arguments"]["product_id"])
        elif call["tool"] == "read_reviews" and not info["error"]:
            pid = call["arguments"]["product_id"]
            self._sentiment[pid], quote = _review_verdict(text)
            if quote is not None:
                self._quotes[pid] = quote
        elif call["tool"] == "ask_user":
            self._asked = True
            self._said += " " + text
        return self._features(), reward, terminated, truncated, info

    def tool_call(self, action: int) -> dict:
        """The tool call a menu entry stands for in the current state."""
        name = MENU[action]
        need = self._requested()
        if name == "search_filtered":
            return {"tool": "search_products", "arguments": need.search_arguments()}
        if name == "search_plain":
            return {"tool": "search_products", "arguments": {"category": need.category}}
        if name == "ask_user":
            return {"tool": "ask_user", "arguments": {"question": "What is your budget, what must it have, which "
                                                                  "brands should I avoid, and what matters most?"}}
        if name.startswith(("view_", "reviews_")):
            slot = int(name.split("_")[1])
            pid = self._candidates[slot][0] if slot < len(self._candidates) else "none"
            if name.startswith("view_"):
                return {"tool": "view_product", "arguments": {"product_id": pid}}
            aspect = need.priorities[0] if need.priorities else None
            return {"tool": "read_reviews", "arguments": {"product_id": pid, **({"aspect": aspect} if aspect else {})}}
        if name == "submit_nothing_fits":
            return {"tool": "submit_report", "arguments": {"report": {"nothing_fits": True, "summary":
                                                                      "No product meets every constraint."}}}
        ranked = [p for p, _, _ in self._candidates]
        if name == "submit_best":
            score = {p: rating / 5 + self._sentiment.get(p, 0.0) for p, rating, _ in self._candidates}
            ranked = sorted((p for p in ranked if p in self._viewed or p in self._sentiment), key=lambda p: -score[p])
        prices = {p: price for p, _, price in self._candidates}
        claims = [{"product_id": p, "field": "price", "value": prices[p], "source": p}
                  for p in ranked[:3] if p in self._viewed]
        if need.priorities:
            claims += [{"product_id": p, "field": f"aspect:{need.priorities[0]}", "source": self._quotes[p],
                        "value": "good" if self._sentiment[p] > 0 else "poor"} for p in ranked[:3] if p in self._quotes]
        labels = ", ".join(need.priorities)
        report = {"recommendations": [{"product_id": p, "rationale": f"fits the request; strong on {labels}"}
                                      for p in ranked[:3]], "claims": claims,
                  "summary": f"Ranked by {labels or 'rating'} within the stated constraints."}
        return {"tool": "submit_report", "arguments": {"report": report}}

    def _requested(self) -> RequestedNeed:
        category = re.search(r"\(([a-z0-9_]+)\)", self._said)
        info = self._categories.get(category.group(1)) if category else None
        if info is None:
            raise ValueError("the request names no known category")
        return RequestedNeed.parse(self._said, info.attributes, info.aspects)

    def _features(self) -> np.ndarray:
        need = self._requested()
        slots = []
        for k in range(SLOTS):
            pid, rating, _ = self._candidates[k] if k < len(self._candidates) else (None, 0.0, "")
            slots += [float(pid is not None), float(pid in self._viewed), rating / 5,
                      (self._sentiment.get(pid, 0.0) + 1) / 2 if pid in self._sentiment else 0.0]
        step, max_steps = self._step, self.base.max_steps
        head = [step / max_steps, float(self._searched), float(self._asked), float(self._last_error),
                float(self._empty), len(self._viewed) / SLOTS, len(self._sentiment) / SLOTS,
                float(bool(need.specs or need.spec_min or need.spec_max)), float(need.budget_cents is not None)]
        return np.clip(np.array(head + slots, dtype=np.float32), 0.0, 1.0)
