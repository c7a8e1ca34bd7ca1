"""Run a policy over distinct tasks of a split and report mean reward and every part with 95% intervals."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from shopgym.envs import ProductResearchEnv
from shopgym.envs.reward import PARTS

from .baselines import POLICIES, Policy


class Interval(BaseModel):
    mean: float
    ci95: tuple[float, float]


class EpisodeResult(BaseModel):
    task_id: str
    seed: int
    reward: float
    parts: dict[str, float]
    termination: str
    steps: int


class Evaluation(BaseModel):
    policy: str
    split: str
    catalog_hash: str
    mean_reward: float
    reward_ci95: tuple[float, float]
    parts: dict[str, Interval]
    absent: dict[str, str]
    episodes: list[EpisodeResult]
    trials: int = 1  # runs per task
    temperature: float | None = None  # of an LLM policy's decoding (None: not an LLM)
    pass_k: float  # share of tasks where every one of the `trials` runs succeeds
    flip_rate: float = 0.0  # share of tasks whose success differs between trials (the noise floor)
    call_validity: float | None = None  # share of an LLM's tool calls the call checker accepts
    rejected_causes: dict[str, int] = {}  # grammar off: refused calls by cause (agents.call_rejection.CAUSES)
    details: dict[str, str] = {}  # model, adapter, mode, grammar: what a reader needs to reproduce it


def succeeded(result: EpisodeResult) -> bool:
    """The pass^k success: every hard constraint met and reward at least 0.5."""
    return result.parts.get("hard_constraints", 0.0) >= 1.0 and result.reward >= 0.5


def _outcomes(results: list[EpisodeResult]) -> dict[str, list[bool]]:
    by_task: dict[str, list[bool]] = {}
    for result in results:
        by_task.setdefault(result.task_id, []).append(succeeded(result))
    return by_task


def pass_k(results: list[EpisodeResult]) -> float:
    """pass^k: the share of tasks whose every trial succeeded (k = trials per task)."""
    by_task = _outcomes(results)
    return round(sum(all(runs) for runs in by_task.values()) / len(by_task), 4)


def flip_rate(results: list[EpisodeResult]) -> float:
    """The share of tasks whose trials disagree (some succeed, some fail): the evaluation's noise floor."""
    by_task = _outcomes(results)
    return round(sum(len(set(runs)) > 1 for runs in by_task.values()) / len(by_task), 4)


def summarize(policy: str, split: str, catalog_hash: str, results: list[EpisodeResult], absent: dict[str, str],
              **fields) -> Evaluation:
    """Mean reward and every part with 95% intervals, and pass^k, over `results`."""
    return Evaluation(
        policy=policy, split=split, catalog_hash=catalog_hash,
        mean_reward=round(float(np.mean([r.reward for r in results])), 4),
        reward_ci95=interval([r.reward for r in results]).ci95,
        parts={n: interval([r.parts.get(n, 0.0) for r in results]) for n in PARTS},
        absent=absent, episodes=results, pass_k=pass_k(results), flip_rate=flip_rate(results), **fields,
    )


def interval(values: list[float]) -> Interval:
    """Mean with a normal-approximation 95% confidence interval, clipped to the range of the values."""
    array = np.asarray(values, dtype=float)
    mean = float(array.mean())
    half = 1.96 * float(array.std(ddof=1)) / math.sqrt(len(array)) if len(array) > 1 else 0.0
    low, high = max(mean - half, float(array.min())), min(mean + half, float(array.max()))
    return Interval(mean=round(mean, 4), ci95=(round(low, 4), round(high, 4)))


def distinct_tasks(env: ProductResearchEnv, split: str, count: int, seed: int) -> list[str]:
    """`count` distinct tasks of `split`, in an order fixed by `seed`."""
    ids = [t.id for t in env.catalog.tasks(split)]
    if count > len(ids):
        raise ValueError(f"asked for {count} episodes but split {split!r} has only {len(ids)} tasks")
    order = np.random.default_rng(seed).permutation(len(ids))[:count]
    return [ids[int(i)] for i in order]


def run_episode(env: ProductResearchEnv, policy: Policy, seed: int, task_id: str) -> EpisodeResult:
    observation, _ = env.reset(seed=seed, options={"task_id": task_id})
    actions = policy.actions(env, observation["text"])
    action = next(actions)
    while True:
        observation, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return EpisodeResult(task_id=task_id, seed=seed, reward=reward, parts=info["reward_parts"],
                                 termination=info["termination"], steps=info["step"])
        try:
            action = actions.send(observation["text"])
        except StopIteration:
            action = {"tool": "submit_report", "arguments": {"report": {}}}


def evaluate(policy_name: str, catalog: Path | None, split: str, episodes: int, seed: int,
             make_policy: Callable[[int], Policy] | None = None, progress: bool = False,
             trials: int = 1) -> Evaluation:
    """Episode i runs with seed `seed + i` on the (i // trials)-th of `episodes` distinct tasks, on the
    canonical request (as every policy is evaluated)."""
    from tqdm import tqdm

    if make_policy is None:
        if policy_name not in POLICIES:
            raise ValueError(f"unknown policy {policy_name!r}; valid: {', '.join(POLICIES)}")
        factory = POLICIES[policy_name]
        make_policy = (lambda s: factory(s)) if policy_name == "random" else (lambda s: factory())
    if trials < 1:
        raise ValueError(f"trials must be at least 1, got {trials}")
    env = ProductResearchEnv(catalog=catalog, split=split, evaluation=True)
    try:
        tasks = [task for task in distinct_tasks(env, split, episodes, seed) for _ in range(trials)]
        results = [run_episode(env, make_policy(seed + i), seed + i, task_id)
                   for i, task_id in enumerate(tqdm(tasks, desc=f"evaluating {policy_name}", disable=not progress))]
        chosen = set(tasks)
        observable = any(t.truth_source == "observable" for t in env.catalog.tasks(split) if t.id in chosen)
        catalog_hash = env.catalog.content_hash
    finally:
        env.close()
    return summarize(policy_name, split, catalog_hash, results, absent_parts(observable), trials=trials)


def absent_parts(observable: bool) -> dict[str, str]:
    """Parts a catalog cannot grade, and why (imported dumps have no review labels)."""
    return {"claim_precision (aspect claims)": "a real dump has no review labels, so aspect claims cannot be "
                                               "verified; utilities come from observable ratings and prices"} \
        if observable else {}
