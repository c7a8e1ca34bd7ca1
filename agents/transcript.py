"""What the researcher has been shown, kept from the env's public outputs: `reset`/`step` and `info["result"]`.

Checks and the supervisor read an episode from here, never from the env's internal log. The harness records
each step it keeps (`record`); a step it undoes is simply not recorded.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from shopgym.envs import parse_action

VIEWING = ("view_product", "compare_products")  # tools that show a product's price and specs


@dataclass
class Shown:
    """One step the env took: the call (canonical JSON), its tool, its text and what it listed."""

    call: str
    tool: str
    text: str
    result: dict[str, Any]


@dataclass
class Transcript:
    """An episode as the researcher saw it; `catalog` is the shop's public catalog, to look up what was shown."""

    catalog: Any  # the env's public `catalog`
    request: str
    category: str | None
    steps_left: int
    shown: list[Shown] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # every observation after the first, failed calls' included
    submitted: bool = False
    spec_filters: str = ""  # reset's line naming the category's spec filters

    @classmethod
    def start(cls, catalog: Any, observation: dict, info: dict) -> Transcript:
        """The transcript of an episode just reset (`info` is reset's: it names the request, category and spec
        filters)."""
        return cls(catalog, info["request"], info.get("category"), int(observation["steps_left"]),
                   spec_filters=info.get("spec_filters", ""))

    @classmethod
    def reset(cls, env: Any, *, seed: int | None = None, options: dict | None = None) -> tuple[Transcript, dict]:
        """Reset `env` and start its transcript: (transcript, first observation)."""
        observation, info = env.reset(seed=seed, options=options)
        return cls.start(env.get_wrapper_attr("catalog"), observation, info), observation  # through wrappers

    def step(self, env: Any, action: str | dict) -> tuple[dict, float, bool, bool, dict]:
        """`env.step(action)`, recorded."""
        observation, reward, terminated, truncated, info = env.step(action)
        self.record(action, observation, info)
        return observation, reward, terminated, truncated, info

    def record(self, action: str | dict, observation: dict, info: dict) -> None:
        """Add one step's public outputs."""
        self.steps_left = int(observation["steps_left"])
        self.texts.append(str(observation["text"]))
        result = info["result"]
        if not result["ok"]:
            return
        call = parse_action(action)
        self.submitted = call.tool == "submit_report"
        self.shown.append(Shown(json.dumps(call.model_dump(), sort_keys=True), call.tool, self.texts[-1], result))

    def copy(self) -> Transcript:
        """An independent copy sharing the catalog."""
        return Transcript(self.catalog, self.request, self.category, self.steps_left, copy.deepcopy(self.shown),
                          list(self.texts), self.submitted, self.spec_filters)

    # --- what was shown, over the kept steps ---
    @property
    def calls(self) -> list[str]:
        """Canonical JSON of every call the env took."""
        return [step.call for step in self.shown]

    @property
    def retrieved(self) -> set[str]:
        """Products any step listed."""
        return {pid for step in self.shown for pid in step.result["listed"]}

    @property
    def inspected(self) -> set[str]:
        """Products viewed, compared, or whose reviews were read."""
        return {pid for step in self.shown for pid in step.result["inspected"]}

    @property
    def viewed(self) -> set[str]:
        """Products whose page or comparison row showed price and specs."""
        return {pid for step in self.shown if step.tool in VIEWING for pid in step.result["inspected"]}

    @property
    def reviews(self) -> set[str]:
        """Reviews any step showed."""
        return {rid for step in self.shown for rid in step.result["reviews"]}

    @property
    def opened_pages(self) -> set[str]:
        """Web pages opened with open_page (a search_web hit lists a page without opening it)."""
        return {pid for step in self.shown if step.tool == "open_page" for pid in step.result["pages"]}

    def sources(self) -> set[str]:
        """Every id a claim may cite: products inspected, reviews read, pages opened."""
        return self.inspected | self.reviews | self.opened_pages
