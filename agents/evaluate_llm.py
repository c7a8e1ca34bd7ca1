"""LLM policies in the env: a model (optionally with a LoRA adapter) single-agent, or the supervised teacher.

Both run through `generate` (same prompt format, call checker, step and token caps) on the env's canonical
request, like every scripted policy (the User Agent's request only when asked, and labelled), so an
evaluation is a resumable run folder whose records become an `Evaluation`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import shopgym.format as fmt
from shopgym.envs import ProductResearchEnv
from shopgym.schema import TrajectoryRecord

from .backends import embedded_model_path
from .evaluate import EpisodeResult, Evaluation, absent_parts, summarize
from .generate import Decoding, generate
from .run_folder import read_trajectories
from .runner import EngineSpec

LLM_POLICIES = {"llm": "single", "teacher": "supervised"}


def episode_result(record: TrajectoryRecord) -> EpisodeResult:
    steps = sum(1 for m in record.messages if m.role == "assistant" and m.tool_call is not None
                and not m.meta.get("draft"))
    return EpisodeResult(task_id=record.task_id, seed=record.seed, reward=record.reward, parts=record.reward_parts,
                         termination=record.termination, steps=steps)


def default_run_dir(cache: Path, key: dict) -> Path:
    """A run folder named by everything that decides its content (the turn caps included), so a rerun resumes it."""
    key = {**key, "budget": fmt.DEFAULT_BUDGET.model_dump()}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache / "evaluations" / f"{key['policy']}-{digest}"


def evaluate_llm(policy: str, catalog: Path | None, split: str, episodes: int, seed: int, model: Path | None,
                 decoding: Decoding, out: Path, progress: bool = False, workers: int = 1,
                 engine: EngineSpec = EngineSpec(), gpu_layers: int = 0) -> Evaluation:
    """Run (or resume) the LLM policy's episodes in `out` (over `workers` workers of `engine`) and summarize them."""
    if policy not in LLM_POLICIES:
        raise ValueError(f"unknown LLM policy {policy!r}; valid: {', '.join(LLM_POLICIES)}")
    generate(str(catalog) if catalog else None, split, episodes, workers, seed, str(model) if model else None,
             LLM_POLICIES[policy], out, progress=progress, decoding=decoding, engine=engine, gpu_layers=gpu_layers)
    records = read_trajectories(out / "trajectories.jsonl")
    env = ProductResearchEnv(catalog=catalog, split=split)
    try:
        ran = {r.task_id for r in records}
        observable = any(t.truth_source == "observable" for t in env.catalog.tasks(split) if t.id in ran)
    finally:
        env.close()
    calls = [r.extra.get("call_validity", {"valid": 0, "total": 0}) for r in records]
    total = sum(c["total"] for c in calls)
    causes = Counter(turn["cause"] for r in records for turn in r.extra.get("rejected_calls", []))
    details = {"mode": LLM_POLICIES[policy], "model": (model or embedded_model_path()).name,
               "adapter": decoding.adapter or "none", "grammar": "on" if decoding.grammar else "off",
               "thoughts": "on" if decoding.thoughts else "off", "run": str(out),
               "request": "user agent" if decoding.user_request else "canonical"}
    return summarize(policy, split, records[0].catalog_hash, [episode_result(r) for r in records],
                     absent_parts(observable), trials=decoding.trials, temperature=decoding.temperature,
                     call_validity=round(sum(c["valid"] for c in calls) / total, 4) if total else None,
                     rejected_causes=dict(causes.most_common()), details=details)
