"""Policies side by side: a Markdown table and a PNG of mean reward and parts (95% CIs), plus paired differences."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from .evaluate import Evaluation, summarize

DECISION = ("ndcg", "hard_constraints", "claim_precision", "coverage", "evidence", "e_prod_score", "efficiency")
DIMENSIONS = ("comprehensiveness", "depth", "instruction_following", "readability")


class Difference(BaseModel):
    """Paired bootstrap of `a - b` over episodes both ran (same task and seed)."""

    a: str
    b: str
    metric: str
    mean: float
    ci95: tuple[float, float]
    pairs: int


class Comparison(BaseModel):
    labels: list[str]
    evaluations: dict[str, Evaluation]
    differences: list[Difference]
    gap_closed: dict[str, float]  # "a - b over teacher - b" for each difference when a teacher is named


def _values(evaluation: Evaluation, metric: str) -> dict[tuple[str, int], float]:
    return {(r.task_id, r.seed): (r.reward if metric == "reward" else r.parts.get(metric, 0.0))
            for r in evaluation.episodes}


def paired_difference(a: Evaluation, b: Evaluation, metric: str, names: tuple[str, str], resamples: int = 10_000,
                      seed: int = 0) -> Difference:
    left, right = _values(a, metric), _values(b, metric)
    keys = sorted(left.keys() & right.keys())
    if not keys:
        raise ValueError(f"{names[0]} and {names[1]} share no (task, seed) episodes: evaluate them with the same "
                         "--catalog, --split, --episodes and --seed")
    diffs = np.array([left[k] - right[k] for k in keys])
    draws = np.random.default_rng(seed).integers(0, len(diffs), size=(resamples, len(diffs)))
    means = diffs[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Difference(a=names[0], b=names[1], metric=metric, mean=round(float(diffs.mean()), 4),
                      ci95=(round(float(low), 4), round(float(high), 4)), pairs=len(keys))


def shared_episodes(evaluations: dict[str, Evaluation]) -> dict[str, Evaluation]:
    """Every evaluation cut to the (task, seed) episodes all of them ran, its means, CIs and pass^k recomputed, so
    a 10-task run stands beside the same 10 tasks of a 100-task one. A cut evaluation drops its call validity and
    refused-call causes (counted over its whole run) and says in `details` what it kept."""
    catalogs, splits = {e.catalog_hash for e in evaluations.values()}, {e.split for e in evaluations.values()}
    if len(catalogs) > 1 or len(splits) > 1:
        raise ValueError("the evaluations ran on different catalogs or splits ("
                         + ", ".join(f"{label}: {e.split} of catalog {e.catalog_hash[:12]}"
                                     for label, e in evaluations.items()) + "): no episode is shared")
    keys = set.intersection(*({(r.task_id, r.seed) for r in e.episodes} for e in evaluations.values()))
    if not keys:
        raise ValueError(f"{', '.join(evaluations)} share no (task, seed) episodes: evaluate them with the same "
                         "--split and --seed (the first N tasks of a seed are the same for every N)")
    cut = {}
    for label, e in evaluations.items():
        kept = [r for r in e.episodes if (r.task_id, r.seed) in keys]
        cut[label] = e if len(kept) == len(e.episodes) else summarize(
            e.policy, e.split, e.catalog_hash, kept, e.absent, trials=e.trials, temperature=e.temperature,
            details={**e.details, "shared": f"{len(kept)} of its {len(e.episodes)} episodes"})
    return cut


def compare(evaluations: dict[str, Evaluation], pairs: Sequence[tuple[str, str]] = (),
            teacher: str | None = None) -> Comparison:
    """`pairs` (a, b) get paired differences of reward and every decision part; with `teacher`, the gap closed."""
    for name in [n for pair in pairs for n in pair] + ([teacher] if teacher else []):
        if name not in evaluations:
            raise ValueError(f"no evaluation labelled {name!r}; labels: {', '.join(evaluations)}")
    differences = [paired_difference(evaluations[a], evaluations[b], metric, (a, b))
                   for a, b in pairs for metric in ("reward", *DECISION)]
    gap = {}
    if teacher:
        for a, b in pairs:
            span = evaluations[teacher].mean_reward - evaluations[b].mean_reward
            if span > 0:
                gap[f"{a} vs {b}"] = round((evaluations[a].mean_reward - evaluations[b].mean_reward) / span, 4)
    return Comparison(labels=list(evaluations), evaluations=evaluations, differences=differences, gap_closed=gap)


def _cell(mean: float, ci: tuple[float, float]) -> str:
    return f"{mean:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def markdown(comparison: Comparison) -> str:
    evals = comparison.evaluations
    first = next(iter(evals.values()))
    lines = [f"Split `{first.split}`; mean and 95% CI over each policy's distinct tasks.", "",
             "| policy | tasks | reward | " + " | ".join(DECISION) + " |", "|---" * (len(DECISION) + 3) + "|"]
    for label, e in evals.items():
        lines.append(f"| {label} | {len({r.task_id for r in e.episodes})} | {_cell(e.mean_reward, e.reward_ci95)} | "
                     + " | ".join(_cell(e.parts[p].mean, e.parts[p].ci95) for p in DECISION) + " |")
    lines += ["", "| policy | " + " | ".join(DIMENSIONS)
              + " | E.Prod | pass^k (k, T) | flip rate | call validity | setup |",
              "|---" * (len(DIMENSIONS) + 6) + "|"]
    for label, e in evals.items():
        temperature = "-" if e.temperature is None else f"{e.temperature:g}"
        validity = "-" if e.call_validity is None else f"{e.call_validity:.3f}"
        flips = "-" if e.trials == 1 else f"{e.flip_rate:.3f}"  # one trial cannot flip
        setup = ", ".join(f"{k} {v}" for k, v in e.details.items() if k != "run") or "-"
        lines.append(f"| {label} | " + " | ".join(_cell(e.parts[d].mean, e.parts[d].ci95) for d in DIMENSIONS)
                     + f" | {_cell(e.parts['e_prod'].mean, e.parts['e_prod'].ci95)} | {e.pass_k:.3f} "
                     f"(k={e.trials}, T={temperature}) | {flips} | {validity} | {setup} |")
    if comparison.differences:
        lines += ["", "Paired bootstrap (10,000 resamples) of the difference on the same tasks and seeds:", "",
                  "| difference | metric | mean | 95% CI | pairs |", "|---|---|---|---|---|"]
        lines += [f"| {d.a} - {d.b} | {d.metric} | {d.mean:+.3f} | [{d.ci95[0]:+.3f}, {d.ci95[1]:+.3f}] | {d.pairs} |"
                  for d in comparison.differences]
    for name, share in comparison.gap_closed.items():
        lines += ["", f"Gap to the teacher closed ({name}): {share:.1%}"]
    return "\n".join(lines) + "\n"


def plot(comparison: Comparison, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ("reward", "ndcg", "hard_constraints", "claim_precision", "coverage", "evidence", "e_prod_score")
    labels = comparison.labels
    width = 0.8 / len(labels)
    figure, axes = plt.subplots(figsize=(11, 4))
    for i, label in enumerate(labels):
        e = comparison.evaluations[label]
        stats = [(e.mean_reward, e.reward_ci95)] + [(e.parts[m].mean, e.parts[m].ci95) for m in metrics[1:]]
        means = np.array([s[0] for s in stats])
        errors = np.array([[m - s[1][0] for m, s in zip(means, stats)], [s[1][1] - m for m, s in zip(means, stats)]])
        axes.bar(np.arange(len(metrics)) + i * width, means, width, yerr=errors, capsize=2, label=label)
    axes.set_xticks(np.arange(len(metrics)) + width * (len(labels) - 1) / 2, metrics, rotation=20)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("mean (95% CI)")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes.set_title("policies on the same held-out tasks")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
