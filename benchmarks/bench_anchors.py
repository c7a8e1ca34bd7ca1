"""Reward anchors of ProductResearch-v1 on world seeds not used for tuning (the seed-7 world is the tests').

    python benchmarks/bench_anchors.py --seeds 11 23 31 --episodes 150

For each seed it builds the default-size world (2,000 products, FTS5), evaluates the oracle, the
research heuristic, the shallow heuristic (no review or page read) and random on the same distinct
test tasks, and measures on that split how NDCG scores the worst and a random fitting triple and how
often the top 3 by stars differ from the top 3 by utility. Writes `benchmarks/out/anchors.json` and
prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from shopgym.agents.evaluate import evaluate
from shopgym.catalog.build import build_world
from shopgym.catalog.truth import TruthReader
from shopgym.catalog.world import WorldConfig
from shopgym.envs import ProductResearchEnv
from shopgym.envs.reward import ndcg_at_k, scaled_gains

OUT = Path(__file__).parent / "out"
POLICIES = ("oracle", "heuristic", "shallow", "random")


def calibration(world: Path) -> dict[str, float]:
    """NDCG of the worst fitting triple (tasks with >= 10 fits) and of random ones; stars vs utility."""
    env = ProductResearchEnv(catalog=world)
    truths = TruthReader(world)
    rng = np.random.default_rng(0)
    worst, random_triples, differ = [], [], []
    for task_id in sorted(t for t, task in env.tasks.items() if task.split == "test"):
        truth = truths.task(task_id)
        if len(truth.fitting) < 3:
            continue
        gains = scaled_gains(truth.utilities, truth.fitting)
        fitting = sorted(truth.fitting)
        random_triples.append(np.mean([ndcg_at_k(list(rng.choice(fitting, 3, replace=False)), gains)
                                       for _ in range(20)]))
        if len(fitting) >= 10:
            worst.append(ndcg_at_k(sorted(fitting, key=lambda p: gains[p])[:3], gains))
        table = truths.category_table(truth.need.category)
        stars = dict(zip(table.ids, table.ratings.tolist()))
        differ.append(set(sorted(fitting, key=lambda p: (-stars[p], p))[:3]) != set(truth.ideal[:3]))
    env.close()
    truths.close()
    return {"worst_triple_ndcg_max": round(max(worst), 4), "worst_triple_ndcg_mean": round(float(np.mean(worst)), 4),
            "random_triple_ndcg": round(float(np.mean(random_triples)), 4),
            "top3_stars_differ_from_utility": round(float(np.mean(differ)), 4), "fitting_tasks": len(differ)}


def bench(seed: int, episodes: int, work: Path) -> dict:
    world = work / f"world-{seed}"
    build_world(WorldConfig(seed=seed), world, search_backend="fts5", progress=False)
    result: dict = {"seed": seed, "episodes": episodes, **calibration(world)}
    for policy in POLICIES:
        evaluation = evaluate(policy, world, "test", episodes, 1)
        result[policy] = {"mean": evaluation.mean_reward, "ci95": list(evaluation.reward_ci95)}
    result["heuristic_minus_shallow"] = round(result["heuristic"]["mean"] - result["shallow"]["mean"], 4)
    return result


def markdown(results: list[dict]) -> str:
    lines = ["| world seed | tasks | oracle | heuristic | shallow | random | heuristic − shallow | worst triple NDCG "
             "(max) | random triple NDCG | top 3 by stars ≠ by utility |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        cells = [f"{r[p]['mean']:.3f} [{r[p]['ci95'][0]:.3f}, {r[p]['ci95'][1]:.3f}]" for p in POLICIES]
        lines.append(f"| {r['seed']} | {r['episodes']} | {' | '.join(cells)} | {r['heuristic_minus_shallow']:.3f} | "
                     f"{r['worst_triple_ndcg_max']:.3f} | {r['random_triple_ndcg']:.3f} | "
                     f"{r['top3_stars_differ_from_utility']:.0%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 23, 31])
    parser.add_argument("--episodes", type=int, default=150, help="distinct test tasks per world")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        results = [bench(seed, args.episodes, Path(work)) for seed in args.seeds]
    OUT.mkdir(exist_ok=True)
    (OUT / "anchors.json").write_text(json.dumps(results, indent=2))
    print(markdown(results))


if __name__ == "__main__":
    main()
