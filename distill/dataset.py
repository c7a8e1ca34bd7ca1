"""Distilled examples in HF TRL's conversational tool-calling format, split by shopper, with a card and a report."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from shopgym.format import CALL_RENDERING, hf_tools, to_trl
from shopgym.schema import Message, TrajectoryRecord

from .filters import Filter, FilterReport, apply, rule_share
from .internalize import Rewriter, internalize, leaks

SPLITS = ("train", "val", "test")


class DistillReport(BaseModel):
    total: int
    kept: int
    dropped: dict[str, int]
    reasons: dict[str, str]
    examples: dict[str, int]
    reward_before: list[float]
    reward_after: list[float]
    rule_share: float | None  # mean share of the kept runs' written turns that rules wrote (None: not counted)


def _write_whole(path: Path, text: str) -> None:
    """Write `path` through a partial file and a rename: a killed distill never leaves a torn file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


def _histograms(before: list[float], after: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = [i / 20 for i in range(21)]
    ax.hist(before, bins=bins, alpha=0.6, label=f"all runs ({len(before)})")
    ax.hist(after, bins=bins, alpha=0.6, label=f"kept ({len(after)})")
    ax.set_xlabel("episode reward")
    ax.set_ylabel("episodes")
    ax.set_title("Reward before and after filtering")
    ax.legend()
    fig.tight_layout()
    partial = path.with_name(f".{path.name}.partial")
    fig.savefig(partial, dpi=110, format="png")
    os.replace(partial, path)
    plt.close(fig)


def distill(records: Sequence[TrajectoryRecord], filters: Sequence[Filter], out_dir: Path,
            count_tokens: Callable[[list[Message], list[dict] | None], int] | None = None,
            rewrite: Rewriter | None = None, best_per_task: bool = False) -> DistillReport:
    """Filter, internalize, check for leaks, and write DATA_DIR/{split}.jsonl, README.md, report.json/png.

    `best_per_task`: of the runs that pass, keep one per task, the highest-reward one (expert iteration)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    kept, report = apply(records, filters, best_per_task)
    test_shoppers = {r.extra.get("shopper_id") for r in records if r.extra.get("split") == "test"}
    rows: dict[str, list[str]] = {s: [] for s in SPLITS}
    tokens: list[int] = []
    for record in kept:
        split = record.extra.get("split", "train")
        if split == "train" and record.extra.get("shopper_id") in test_shoppers:
            raise ValueError(f"shopper {record.extra.get('shopper_id')} is in both train and test runs")
        messages = internalize(record, rewrite)
        problems = leaks(messages, record)
        if problems:
            raise ValueError(f"episode {record.task_id}: internalized turns leak {problems[0]}")
        if count_tokens is not None:
            tokens.append(count_tokens(messages, record.extra.get("tools")))  # as training renders them
        meta = {"task_id": record.task_id, "seed": record.seed, "reward": record.reward, "split": split,
                "shopper_id": record.extra.get("shopper_id"), "catalog_hash": record.catalog_hash,
                "request": record.request, "episode": record.extra.get("episode"), "call_rendering": CALL_RENDERING}
        rows[split].append(json.dumps({"messages": to_trl(messages), "tools": hf_tools(record.extra.get("tools", [])),
                                       "meta": meta}))  # key order kept: it is the rendered call text
    for split, lines in rows.items():
        if lines:
            _write_whole(out_dir / f"{split}.jsonl", "\n".join(lines) + "\n")
    result = DistillReport(total=report.total, kept=report.kept, dropped=dict(report.dropped), reasons=report.reasons,
                           examples={s: len(v) for s, v in rows.items()},
                           reward_before=[r.reward for r in records], reward_after=[r.reward for r in kept],
                           rule_share=_mean_rule_share(kept))
    _write_whole(out_dir / "report.json", result.model_dump_json(indent=2))
    _histograms(result.reward_before, result.reward_after, out_dir / "rewards.png")
    _write_whole(out_dir / "README.md", _card(result, report, tokens))
    return result


def _mean_rule_share(records: Sequence[TrajectoryRecord]) -> float | None:
    shares = [share for share in map(rule_share, records) if share is not None]
    return round(sum(shares) / len(shares), 3) if shares else None


def _card(result: DistillReport, report: FilterReport, tokens: list[int]) -> str:
    lines = ["# shopgym distilled dataset", "",
             "Single-role tool-calling conversations (HF TRL format: `messages`, `tools`, `meta`).", "",
             f"Runs read: {result.total}; kept: {result.kept}.", "", "| filter | dropped | reason |", "|---|---|---|"]
    lines += [f"| {name} | {report.dropped.get(name, 0)} | {reason} |" for name, reason in report.reasons.items()]
    if result.rule_share is not None:
        lines += ["", f"Turns written by rules rather than the model (mean over kept runs): {result.rule_share:.0%}."]
    lines += ["", "| split | examples |", "|---|---|"] + [f"| {s} | {n} |" for s, n in result.examples.items()]
    if tokens:
        lines += ["", f"Tokens per example (student tokenizer): min {min(tokens)}, "
                      f"mean {sum(tokens) / len(tokens):.0f}, max {max(tokens)}."]
    lines += ["", "Calls are in `tool_calls` (with ids; tool turns carry `name` and `tool_call_id`). A model's own HF "
                  "template may not show tool calls, so the text trained on is rendered by `shopgym.format.render`: "
                  "the call's JSON object in the assistant's text, through the model's chat template.",
              "", "Reward histograms: `rewards.png`."]
    return "\n".join(lines) + "\n"
