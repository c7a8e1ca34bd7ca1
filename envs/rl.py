"""A classic-RL view of the env: a Discrete menu of candidate tool calls and a numeric Box observation.

The menu is rebuilt every step from observable data only: the need as the request (and the user's
answers) state it, the products the last search showed, and what reviews said about them.
"""

from __future__ import annotations

import re
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from shopgym.catalog.need import Need

from .env import ProductResearchEnv

SLOTS = 5  # candidate products the menu can act on
POSITIVE = ("excellent", "great", "superb", "fantastic", "impressive", "outstanding", "good", "solid", "top-notch")
NEGATIVE = ("poor", "disappointing", "terrible", "weak", "awful", "mediocre", "bad", "subpar", "frustrating", "worse")
MENU = (["search_filtered", "search_plain", "ask_user"] + [f"view_{k}" for k in range(SLOTS)]
        + [f"reviews_{k}" for k in range(SLOTS)] + ["submit_best", "submit_first", "submit_nothing_fits"])


def _review_sentiment(text: str) -> float:
    lowered = text.lower()
    score = sum(lowered.count(w) for w in POSITIVE) - sum(lowered.count(w) for w in NEGATIVE)
    return float(np.sign(score))


class ToolMenu(gym.Wrapper):
    """Discrete(len(MENU)) actions over candidate calls; observations are 9 + 4·SLOTS features in [0, 1]."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.action_space = spaces.Discrete(len(MENU))
        self.observation_space = spaces.Box(0.0, 1.0, shape=(9 + 4 * SLOTS,), dtype=np.float32)
        self._candidates: list[tuple[str, float]] = []  # (id, rating)
        self._viewed: set[str] = set()
        self._sentiment: dict[str, float] = {}
        self._searched = self._asked = self._last_error = self._empty = False

    @property
    def base(self) -> ProductResearchEnv:
        return self.env.unwrapped

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        _, info = self.env.reset(seed=seed, options=options)
        self._candidates, self._viewed, self._sentiment = [], set(), {}
        self._searched = self._asked = self._last_error = self._empty = False
        return self._features(), info

    def step(self, action: int):
        call = self.tool_call(int(action))
        observation, reward, terminated, truncated, info = self.env.step(call)
        text = observation["text"]
        self._last_error = info["error"]
        if call["tool"] == "search_products" and not info["error"]:
            self._searched = True
            self._candidates = [(m.group(1), float(m.group(2))) for m in
                                re.finditer(r"^- (\S+) \| .*? \| ([\d.]+) stars", text, re.MULTILINE)][:SLOTS]
            self._empty = not self._candidates
        elif call["tool"] == "view_product" and not info["error"]:
            self._viewed.add(call["arguments"]["product_id"])
        elif call["tool"] == "read_reviews" and not info["error"]:
            self._sentiment[call["arguments"]["product_id"]] = _review_sentiment(text)
        elif call["tool"] == "ask_user":
            self._asked = True
        return self._features(), reward, terminated, truncated, info

    def tool_call(self, action: int) -> dict:
        """The tool call a menu entry stands for in the current state."""
        name = MENU[action]
        need: Need = self.base.stated_need()
        category = self.base.episode.category
        if name == "search_filtered":
            arguments: dict[str, Any] = {"category": category, "sort": "rating"}
            if need.budget_cents is not None:
                arguments["max_price"] = need.budget_cents / 100
            specs = {c.attr: c.value for c in need.must_haves if c.op == "eq" and c.attr != "brand"}
            spec_min = {c.attr: float(c.value) for c in need.must_haves if c.op == "gte"}
            spec_max = {c.attr: float(c.value) for c in need.must_haves if c.op == "lte"}
            arguments.update({k: v for k, v in (("specs", specs), ("spec_min", spec_min), ("spec_max", spec_max)) if v})
            return {"tool": "search_products", "arguments": arguments}
        if name == "search_plain":
            return {"tool": "search_products", "arguments": {"category": category}}
        if name == "ask_user":
            return {"tool": "ask_user", "arguments": {"question": "What is your budget, what must it have, which "
                                                                  "brands should I avoid, and what matters most?"}}
        if name.startswith(("view_", "reviews_")):
            slot = int(name.split("_")[1])
            pid = self._candidates[slot][0] if slot < len(self._candidates) else "none"
            if name.startswith("view_"):
                return {"tool": "view_product", "arguments": {"product_id": pid}}
            aspect = need.priorities[0].aspect if need.priorities else None
            return {"tool": "read_reviews", "arguments": {"product_id": pid, **({"aspect": aspect} if aspect else {})}}
        if name == "submit_nothing_fits":
            return {"tool": "submit_report", "arguments": {"report": {"nothing_fits": True, "summary":
                                                                      "No product meets every constraint."}}}
        ranked = [p for p, _ in self._candidates]
        if name == "submit_best":
            score = {p: rating / 5 + self._sentiment.get(p, 0.0) for p, rating in self._candidates}
            ranked = sorted((p for p in ranked if p in self._viewed), key=lambda p: -score[p])
        labels = ", ".join(p.aspect for p in need.priorities)
        report = {"recommendations": [{"product_id": p, "rationale": f"fits the request; strong on {labels}"}
                                      for p in ranked[:3]],
                  "summary": f"Ranked by {labels or 'rating'} within the stated constraints."}
        return {"tool": "submit_report", "arguments": {"report": report}}

    def _features(self) -> np.ndarray:
        episode = self.base.episode
        slots = []
        for k in range(SLOTS):
            pid, rating = self._candidates[k] if k < len(self._candidates) else (None, 0.0)
            slots += [float(pid is not None), float(pid in self._viewed), rating / 5,
                      (self._sentiment.get(pid, 0.0) + 1) / 2 if pid in self._sentiment else 0.0]
        head = [episode.step / episode.max_steps, float(self._searched), float(self._asked), float(self._last_error),
                float(self._empty), len(self._viewed) / SLOTS, len(self._sentiment) / SLOTS,
                float("must_haves" in episode.stated), float("budget" in episode.stated)]
        return np.clip(np.array(head + slots, dtype=np.float32), 0.0, 1.0)
