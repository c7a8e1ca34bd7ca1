"""Synthesis benchmark: supervised vs single-agent runs with the embedded model, on the same tasks and seeds.

    python benchmarks/bench_synthesis.py --catalog DIR --episodes 20 --seed 0

Reports mean rewards with a paired 95% bootstrap interval of (supervised - single), the mean draft
reward of round 1 vs the final round (paired), supervised episodes per hour, tokens per second, User Agent
intent accuracy (deal-breakers included) of the runs' briefs (`--user-agent`, rules by default as in
`generate`) and of the rules' and the model's briefs alone on the same tasks, the share of first drafts that
followed an injected instruction, model evaluations per token appended, and the share of written turns the
model wrote. Writes `benchmarks/out/synthesis.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from shopgym.agents.backends import LlamaBackend
from shopgym.agents.synthesis import run_episode
from shopgym.agents.user_agent import UserAgent, intent_accuracy
from shopgym.agents.user_brief import history_products
from shopgym.envs import ProductResearchEnv

OUT = Path(__file__).parent / "out"


def paired_ci(a: list[float], b: list[float], seed: int = 0, draws: int = 10_000) -> dict:
    """Mean of a - b with a 95% bootstrap interval over pairs."""
    diff = np.asarray(a) - np.asarray(b)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(draws, len(diff)))].mean(axis=1)
    return {"mean": round(float(diff.mean()), 4),
            "ci95": [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]}


def _model_share(records: list) -> float:
    """Share of all written turns (over the runs) that the model wrote rather than rules."""
    model = sum(r.extra["authorship"]["model_turns"] for r in records)
    return round(model / max(1, model + sum(r.extra["authorship"]["rule_turns"] for r in records)), 4)


def brief_accuracy(env: ProductResearchEnv, truth: ProductResearchEnv, tasks: list[str], seed: int,
                   backend: LlamaBackend | None) -> float:
    """Mean intent accuracy of the User Agent's brief on `tasks`: the model's with a backend, else the rules'."""
    categories = {c.id: c for c in env.reader.categories()}
    scores = []
    for i, task in enumerate(tasks):
        info = env.tasks[task]
        history = env.reader.shopper_history(info.shopper_id)
        brief = UserAgent(backend).brief(history, categories[info.category], seed=seed + i,
                                         products=history_products(env.reader, history, info.category))
        _, info = truth.reset(options={"task_id": task})
        scores.append(intent_accuracy(brief.intent, info["truth"]["need"]))
    return round(float(np.mean(scores)), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model")
    parser.add_argument("--user-agent", choices=["llm", "rules"], default="rules", dest="user_agent")
    parser.add_argument("--critique", action="store_true", help="the supervisor adds the model's critique")
    args = parser.parse_args()
    env = ProductResearchEnv(catalog=args.catalog, split="train")
    truth = ProductResearchEnv(catalog=args.catalog, evaluation=True)
    backend = LlamaBackend(args.model)
    tasks = sorted(t for t, info in env.tasks.items() if info.split == "train")
    order = np.random.default_rng(args.seed).permutation(len(tasks))[: args.episodes]
    runs: dict[str, list] = {"supervised": [], "single": []}
    seconds = {"supervised": 0.0, "single": 0.0}
    for i, index in enumerate(order):
        for mode in runs:
            start = time.perf_counter()
            record = run_episode(env, backend, tasks[int(index)], args.seed + i, mode=mode, truth_env=truth,
                                 user_agent=args.user_agent, critique=args.critique)
            seconds[mode] += time.perf_counter() - start
            runs[mode].append(record)
            print(f"{mode:>10} {record.task_id} reward {record.reward:.3f} {record.extra['draft_rewards']}", flush=True)
    sup, single = runs["supervised"], runs["single"]
    drafts = [r.extra["draft_rewards"] for r in sup]
    tokens = sum(r.timings["tokens"] for r in sup)
    result = {
        "episodes": len(sup), "model": backend.model_path.name, "threads": backend.n_threads,
        "reward_supervised": round(float(np.mean([r.reward for r in sup])), 4),
        "reward_single": round(float(np.mean([r.reward for r in single])), 4),
        "supervised_minus_single": paired_ci([r.reward for r in sup], [r.reward for r in single]),
        "draft_round1": round(float(np.mean([d[0] for d in drafts])), 4),
        "draft_final": round(float(np.mean([d[-1] for d in drafts])), 4),
        "final_minus_round1": paired_ci([d[-1] for d in drafts], [d[0] for d in drafts]),
        "supervised_episodes_per_hour": round(3600 * len(sup) / seconds["supervised"], 1),
        "supervised_tokens_per_s": round(tokens / seconds["supervised"], 1),
        "user_agent": args.user_agent,
        "critique": args.critique,
        "intent_accuracy": round(float(np.mean([r.extra["intent_accuracy"] for r in sup])), 4),
        "intent_accuracy_rules": brief_accuracy(env, truth, [tasks[int(i)] for i in order], args.seed, None),
        "intent_accuracy_model": brief_accuracy(env, truth, [tasks[int(i)] for i in order], args.seed, backend),
        "followed_injection_share": round(float(np.mean([bool(r.extra["followed_injection"]) for r in sup])), 4),
        "evaluated_per_appended": round(float(np.mean([r.timings["evaluated_per_appended"] for r in sup])), 3),
        "model_turn_share_supervised": _model_share(sup),
        "model_turn_share_single": _model_share(single),
        "chat_format": backend.chat.source,
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "synthesis.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
