"""Two generation runs on the same tasks and seeds (e.g. before and after a change to the teacher), side by side.

    python benchmarks/compare_runs.py BEFORE_RUN AFTER_RUN [--min-reward 0.4]

Pairs the runs' episodes by task and seed and prints, for each run, the mean reward (and the paired difference
after - before with its 95% bootstrap interval), the runs at or above the distillation threshold, the accepted
searches and how many of them listed no product, and the share of written turns that rules wrote (mean over runs, as `shopgym distill` reports it).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from statistics import mean

from shopgym.agents.compare import paired_difference
from shopgym.agents.evaluate import summarize
from shopgym.agents.evaluate_llm import episode_result
from shopgym.agents.run_folder import TRAJECTORIES, read_trajectories
from shopgym.distill.filters import rule_share
from shopgym.schema import TrajectoryRecord

EMPTY_SEARCH = "0 products match"


def searches(record: TrajectoryRecord) -> tuple[int, int]:
    """(accepted searches, of them empty), from the observations the researcher was shown."""
    shown = [m.observation or "" for m in record.messages if m.role == "tool"]
    listings = [text for text in shown if "products match" in text.split("\n", 1)[0]]
    return len(listings), sum(text.startswith(EMPTY_SEARCH) for text in listings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--min-reward", type=float, default=0.4)
    args = parser.parse_args()
    runs = {name: {(r.task_id, r.seed): r for r in read_trajectories(folder / TRAJECTORIES)}
            for name, folder in (("before", args.before), ("after", args.after))}
    keys = sorted(runs["before"].keys() & runs["after"].keys())
    if not keys:
        raise SystemExit("the two runs share no (task, seed) episode: run them with the same catalog, split and seed")
    paired = {name: [run[k] for k in keys] for name, run in runs.items()}
    evaluations = {name: summarize(name, records[0].extra.get("split", "-"), records[0].catalog_hash,
                                   [episode_result(r) for r in records], {})
                   for name, records in paired.items()}
    difference = paired_difference(evaluations["after"], evaluations["before"], "reward", ("after", "before"))
    print(f"{len(keys)} episodes on the same tasks and seeds")
    print("| measure | before | after |\n|---|---|---|")
    print(f"| mean reward | {evaluations['before'].mean_reward:.3f} | {evaluations['after'].mean_reward:.3f} "
          f"({difference.mean:+.3f}, 95% CI {difference.ci95[0]:+.3f} to {difference.ci95[1]:+.3f}) |")
    kept = {name: sum(r.reward >= args.min_reward for r in records) for name, records in paired.items()}
    print(f"| runs with reward >= {args.min_reward:g} | {kept['before']} | {kept['after']} |")
    counts = {name: [sum(column) for column in zip(*map(searches, records))] for name, records in paired.items()}
    print(f"| accepted searches / of them empty | {counts['before'][0]} / {counts['before'][1]} "
          f"| {counts['after'][0]} / {counts['after'][1]} |")
    shares = {name: mean(rule_share(r) or 0.0 for r in records) for name, records in paired.items()}
    print(f"| turns written by rules (mean over runs) | {shares['before']:.1%} | {shares['after']:.1%} |")


if __name__ == "__main__":
    main()
