"""`shopgym/ProductResearch-v1`: research a shopper's request with tools, then submit a graded report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pydantic import ValidationError

from shopgym.catalog import CatalogReader
from shopgym.catalog.taxonomy import CATEGORY_BY_ID, Attribute, Category, ChoiceAttr, NumericAttr
from shopgym.catalog.truth import TaskTruth, TruthReader, observable_category
from shopgym.schema import ToolCall

from .default_world import default_world
from .episode import Episode
from .report import Report
from .request import STATED, canonical_request
from .result import ErrorKind, StepResult
from .reward import ProductFacts, grade
from .text import CHARSET, normalise
from .tools import TOOL_NAMES, TOOLS, ToolContext, tool_schema_hash, tool_schemas
from .user import ScriptedUser, UserSimulator

ENV_ID = "shopgym/ProductResearch-v1"  # v0 (the first reward) is retired: gym.make of it names v1
ENV_VERSION = "1"
MAX_OBSERVATION_CHARS = 2000
MAX_ACTION_CHARS = 8000
MAX_ACTION_DEPTH = 16  # nesting of objects and lists in an action; a report call nests 5 deep
SPLITS = ("train", "val", "test")


class ActionError(ValueError):
    """An action that is not a well-formed tool call (`kind`: malformed_action or unknown_tool)."""

    def __init__(self, message: str, kind: ErrorKind = "malformed_action") -> None:
        super().__init__(message)
        self.kind = kind


def _error_kind(error: Exception) -> ErrorKind:
    if isinstance(error, ActionError):
        return error.kind
    return "not_found" if isinstance(error, LookupError) else "refused"


def parse_action(action: str | dict) -> ToolCall:
    """A JSON string or dict `{"tool": NAME, "arguments": {...}}` as a ToolCall, or ActionError saying why not."""
    too_deep = f"action nests deeper than {MAX_ACTION_DEPTH} levels of objects and lists"
    if isinstance(action, str):
        try:
            action = json.loads(action)
        except json.JSONDecodeError as error:
            raise ActionError(f"action is not valid JSON ({error.msg} at position {error.pos}); send "
                              '{"tool": NAME, "arguments": {...}}') from None
        except RecursionError:  # the decoder's own guard, past about a thousand levels
            raise ActionError(too_deep) from None
    if _depth_exceeds(action):
        raise ActionError(too_deep)
    if not isinstance(action, dict):
        raise ActionError('action must be a JSON object {"tool": NAME, "arguments": {...}}')
    try:
        call = ToolCall.model_validate(action)
    except ValidationError:
        raise ActionError('action must have exactly the keys "tool" (a name) and "arguments" (an object)') from None
    if call.tool not in TOOLS:
        raise ActionError(f"unknown tool {call.tool!r}; valid tools: {', '.join(TOOL_NAMES)}", "unknown_tool")
    return call


def _depth_exceeds(action: object) -> bool:
    """Whether a decoded action nests deeper than MAX_ACTION_DEPTH, checked without recursion so that
    no depth can overflow the stack."""
    stack = [(action, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list | tuple):
            if depth > MAX_ACTION_DEPTH:
                return True
            stack.extend((child, depth + 1) for child in (value.values() if isinstance(value, dict) else value))
    return False


def _validation_message(tool: str, error: ValidationError) -> str:
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in error.errors()[:4])
    fields = ", ".join(TOOLS[tool].arguments.model_fields)
    return f"invalid arguments for {tool}: {problems}. Its arguments: {fields}"


def spec_filters_line(category: Category) -> str:
    """The category's spec names as search_products takes them: numbers by bounds, the rest by value."""
    def one(attr: Attribute) -> str:
        if isinstance(attr, NumericAttr):
            return f"{attr.name} ({attr.unit + ', ' if attr.unit else ''}spec_min/spec_max)"
        return f"{attr.name} ({'|'.join(attr.values) if isinstance(attr, ChoiceAttr) else 'true|false'})"
    return f"Specs of {category.id} for the search filters: " + "; ".join(one(a) for a in category.attributes) + "."


class ProductResearchEnv(gym.Env[dict, str]):
    """Each episode is one task: a shopper's request in one category. Actions are tool calls.

    The episode ends when `submit_report` is called with a valid report (reward in [0, 1]) or is
    truncated after `max_steps` actions (reward 0). Hidden truth appears in `info` only when the env
    is made with `evaluation=True`.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, catalog: str | Path | None = None, max_steps: int = 20, split: str = "train",
                 evaluation: bool = False, user: UserSimulator | None = None, render_mode: str | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"unknown render_mode {render_mode!r}; valid: ansi")
        self.catalog_dir = Path(catalog) if catalog is not None else default_world()
        self.reader = CatalogReader(self.catalog_dir)
        self.truth_reader = TruthReader(self.catalog_dir)
        self.max_steps = max_steps
        self.split = split
        self.evaluation = evaluation
        self.user = user or ScriptedUser()
        self.render_mode = render_mode
        self.tasks = {t.id: t for t in self.reader.tasks()}
        self.action_space = spaces.Text(max_length=MAX_ACTION_CHARS, min_length=0, charset=CHARSET)
        self.observation_space = spaces.Dict({
            "text": spaces.Text(max_length=MAX_OBSERVATION_CHARS, min_length=0, charset=CHARSET),
            "step": spaces.Discrete(max_steps + 1),
            "steps_left": spaces.Discrete(max_steps + 1),
            "valid_tools": spaces.MultiBinary(len(TOOL_NAMES)),
        })
        self._closed = False
        self._episode: Episode | None = None
        self._truth: TaskTruth | None = None
        self._category: Category | None = None
        self._last_text = ""
        self._facts = ProductFacts(self._price, self.truth_reader.true_specs, self._aspect_verdict,
                                   self.truth_reader.review_about, self.truth_reader.page_states)

    # --- harness-facing API ---
    def tool_schemas(self) -> list[dict[str, Any]]:
        return tool_schemas()

    @property
    def catalog(self) -> CatalogReader:
        """The shop's public catalog (categories, products, reviews, pages, shopper histories, the task list): what
        the tools read. Hidden truth is not in it."""
        return self.reader

    @property
    def task_truth(self) -> TaskTruth:
        """The hidden truth of the current task, for oracles and graders (`evaluation=True` only)."""
        if not self.evaluation:
            raise PermissionError("hidden truth is available only in an env made with evaluation=True")
        return self._require_truth()

    @property
    def episode(self) -> Episode:
        if self._episode is None:
            raise RuntimeError("call reset() first")
        return self._episode

    def grade_draft(self, report: Report | dict) -> dict[str, float]:
        """Grade a draft report without ending the episode (harness-only; never shown to an agent)."""
        draft = report if isinstance(report, Report) else Report.model_validate(report)
        return grade(self._require_truth(), draft, self.episode, self._facts)

    def snapshot(self) -> Episode:
        """The episode state, to `restore` after a tool call a reviewer rejects."""
        return self.episode.copy()

    def restore(self, snapshot: Episode) -> None:
        self._episode = snapshot.copy()

    # --- gymnasium API ---
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - {"task_id", "split", "difficulty", "request"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; valid: task_id, split, difficulty, request")
        task = self._pick_task(options)
        self._truth = self.truth_reader.task(task.id)
        need = self._truth.need
        self._category = CATEGORY_BY_ID.get(need.category) or observable_category(self.truth_reader.conn, need.category)
        request = canonical_request(self._category, need, task.difficulty)
        if options.get("request"):
            if self.evaluation:
                raise ValueError("evaluation always uses the canonical request; drop the 'request' option")
            request = str(options["request"])
        self._episode = Episode(task_id=task.id, category=need.category, request=request, max_steps=self.max_steps,
                                stated=set(STATED[task.difficulty]))
        spec_filters = spec_filters_line(self._category)
        text = (f"Request: {request}\nTools: {', '.join(TOOL_NAMES)}. You have {self.max_steps} steps; "
                f"finish with submit_report.\n{spec_filters}")
        return self._observation(text), {**self._info(error=False), "request": request, "category": need.category,
                                         "spec_filters": spec_filters}

    def step(self, action: str | dict) -> tuple[dict, float, bool, bool, dict]:
        episode = self.episode
        if episode.report is not None or episode.steps_left == 0:
            raise RuntimeError("the episode is over; call reset()")
        episode.step += 1
        tool, error = None, False
        result = StepResult()
        try:
            call = parse_action(action)
            tool = result.tool = call.tool
            ctx = ToolContext(self.reader, episode, self._truth.need, self._category, self.user, result)
            text = TOOLS[call.tool].run(ctx, call.arguments)
            episode.calls.append(json.dumps(call.model_dump(), sort_keys=True))
        except ValidationError as exc:
            text, error = f"Error: {_validation_message(tool, exc)}", True
            result.failed("invalid_arguments")
        except (ActionError, LookupError, ValueError) as exc:  # the one place a tool's exception becomes text
            text, error = f"Error: {exc.args[0] if exc.args else exc}", True
            result.failed(_error_kind(exc))
        if error:
            episode.errors += 1
        terminated = episode.report is not None
        truncated = not terminated and episode.steps_left == 0
        info = self._info(error=error, tool=tool)
        info["result"] = result.as_dict()
        reward = 0.0
        if terminated or truncated:
            parts = grade(self._truth, episode.report, episode, self._facts)
            reward = parts["total"]
            info["reward_parts"] = parts
            info["termination"] = "submitted" if terminated else "truncated"
        return self._observation(text), reward, terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._last_text
        return None

    def close(self) -> None:
        if not self._closed:
            self.reader.close()
            self.truth_reader.close()
            self._closed = True

    # --- internals ---
    def _pick_task(self, options: dict[str, Any]):
        if "task_id" in options:
            if options["task_id"] not in self.tasks:
                raise ValueError(f"unknown task_id {options['task_id']!r}")
            return self.tasks[options["task_id"]]
        split = options.get("split", self.split)
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
        pool = [t for t in self.tasks.values() if t.split == split
                and options.get("difficulty") in (None, t.difficulty)]
        if not pool:
            raise ValueError(f"no task in split {split!r} with difficulty {options.get('difficulty')!r}")
        return pool[int(self.np_random.integers(len(pool)))]

    def _require_truth(self) -> TaskTruth:
        if self._truth is None:
            raise RuntimeError("call reset() first")
        return self._truth

    def _observation(self, text: str) -> dict:
        episode = self.episode
        self._last_text = normalise(text, MAX_OBSERVATION_CHARS)
        valid = np.ones(len(TOOL_NAMES), dtype=np.int8)
        return {"text": self._last_text, "step": episode.step, "steps_left": episode.steps_left, "valid_tools": valid}

    def _info(self, error: bool, tool: str | None = None) -> dict:
        episode = self.episode
        info: dict[str, Any] = {"task_id": episode.task_id, "step": episode.step, "steps_left": episode.steps_left,
                                "tool": tool, "error": error, "tool_schema_hash": tool_schema_hash(),
                                "catalog_hash": self.reader.content_hash}
        if self.evaluation:
            truth = self._require_truth()
            info["truth"] = {"kind": truth.kind, "need": truth.need.model_dump(), "ideal": truth.ideal_ranking()[:5],
                             "canary": truth.canary}
        return info

    def _price(self, product_id: str) -> int | None:
        try:
            return self.reader.get_product(product_id, ["overview"]).price_cents
        except LookupError:
            return None

    def _aspect_verdict(self, product_id: str, aspect: str) -> str | None:
        mean = self.truth_reader.review_sentiment(product_id, aspect)
        return None if mean is None else "good" if mean >= 0 else "poor"
