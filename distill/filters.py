"""Pure predicates over trajectory records, each with a reason, composed into a pipeline."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import shopgym.format as fmt
from shopgym.schema import Message, TrajectoryRecord


def accepted_calls(record: TrajectoryRecord) -> list[str]:
    """The tool calls that stayed in the episode (drafts excluded), as canonical JSON."""
    return [m.tool_call.model_dump_json() for m in record.messages
            if m.role == "assistant" and m.tool_call is not None and not m.meta.get("draft")]


def _observations(record: TrajectoryRecord) -> list[str]:
    return [m.observation or "" for m in record.messages if m.role == "tool" and not m.meta.get("draft")]


@dataclass(frozen=True)
class Filter:
    """Keeps a record when `keep(record)` is true; otherwise the record is dropped for `reason`."""

    name: str
    reason: str
    keep: Callable[[TrajectoryRecord], bool]


def completed() -> Filter:
    return Filter("completed", "no report was submitted", lambda r: r.termination == "submitted")


def no_invalid_action() -> Filter:
    def keep(record: TrajectoryRecord) -> bool:
        return all(m.tool_call is not None for m in record.messages
                   if m.role == "assistant" and not m.meta.get("draft") and m.meta.get("kind") != "plan")
    return Filter("no_invalid_action", "an accepted action did not parse", keep)


def max_tool_error_rate(limit: float = 0.2) -> Filter:
    def keep(record: TrajectoryRecord) -> bool:
        observations = _observations(record)
        errors = sum(o.startswith("Error:") for o in observations)
        return not observations or errors / len(observations) <= limit
    return Filter("tool_error_rate", f"more than {limit:.0%} of tool calls failed", keep)


def min_tool_calls(k: int = 3) -> Filter:
    return Filter("min_tool_calls", f"fewer than {k} tool calls (the paper's length filter)",
                  lambda r: len(accepted_calls(r)) - 1 >= k)  # the final submit_report is not research


def min_reward(threshold: float = 0.5) -> Filter:
    return Filter("min_reward", f"reward below {threshold}", lambda r: r.reward >= threshold)


def reward_percentile(records: Sequence[TrajectoryRecord], percentile: float) -> Filter:
    import numpy as np

    cut = float(np.percentile([r.reward for r in records], percentile)) if records else 0.0
    return Filter("min_reward", f"reward below the {percentile:g}th percentile ({cut:.3f})", lambda r: r.reward >= cut)


def supervisor_accepted() -> Filter:
    return Filter("supervisor_accepted", "the run was not reviewed (single-agent mode)",
                  lambda r: r.extra.get("mode") == "supervised")


def no_followed_injection() -> Filter:
    return Filter("followed_injection", "a draft followed an instruction injected in a review",
                  lambda r: not r.extra.get("followed_injection"))


def substantive_report() -> Filter:
    """The final report lists each product once, makes claims when it recommends, and has a summary."""
    def keep(record: TrajectoryRecord) -> bool:
        report = next((m.tool_call.arguments.get("report") for m in reversed(record.messages)
                       if m.tool_call is not None and m.tool_call.tool == "submit_report" and not m.meta.get("draft")),
                      None)
        if not isinstance(report, dict):
            return False
        picks = [r.get("product_id") for r in report.get("recommendations") or [] if isinstance(r, dict)]
        return (len(picks) == len(set(picks)) and bool(report.get("claims") or not picks)
                and bool(str(report.get("summary") or "").strip()))
    return Filter("substantive_report", "the report repeats a product, recommends without claims, or has no summary",
                  keep)


def rule_share(record: TrajectoryRecord) -> float | None:
    """The share of the record's written turns that rules wrote (None for records made before it was counted)."""
    counts = record.extra.get("authorship")
    if not isinstance(counts, dict):
        return None
    total = counts.get("model_turns", 0) + counts.get("rule_turns", 0)
    return counts.get("rule_turns", 0) / total if total else 0.0


def max_rule_share(limit: float) -> Filter:
    def keep(record: TrajectoryRecord) -> bool:
        share = rule_share(record)
        return share is not None and share <= limit
    return Filter("max_rule_share", f"more than {limit:.0%} of the written turns came from rules (or not counted)",
                  keep)


def fits_context(count_tokens: Callable[[TrajectoryRecord], int], max_tokens: int) -> Filter:
    return Filter("fits_context", f"longer than the student's {max_tokens}-token context",
                  lambda r: count_tokens(r) <= max_tokens)


def within_decoding_caps(count_tokens: Callable[[str], int], turns: Callable[[TrajectoryRecord], Sequence[Message]],
                         budget: fmt.Budget = fmt.DEFAULT_BUDGET) -> Filter:
    """Every assistant turn of the example (`turns(record)`) fits the token cap the student decodes it under:
    the plan `plan_tokens`, a report `report_tokens`, any other call `call_tokens` (a longer turn could never be
    imitated)."""
    def cap(message: Message) -> int:
        if message.tool_call is None:
            return budget.plan_tokens
        return budget.report_tokens if message.tool_call.tool == "submit_report" else budget.call_tokens

    def fits(message: Message) -> bool:
        reasoning_ok = message.tool_call is None or (len(message.content) <= budget.thought_chars
                                                     and "\n" not in message.content)
        return reasoning_ok and count_tokens(fmt.turn_text(message, budget)) <= cap(message)

    def keep(record: TrajectoryRecord) -> bool:
        return all(fits(m) for m in turns(record) if m.role == "assistant")
    return Filter("within_decoding_caps", f"a turn longer than its decoding cap ({budget.plan_tokens} tokens for "
                                          f"the plan, {budget.call_tokens} for a call, {budget.report_tokens} for a "
                                          f"report; reasoning before a call: one line of {budget.thought_chars} "
                                          "characters at most)", keep)


def deduplicate() -> Filter:
    """Stateful across one pipeline run: the second record with the same task and actions is dropped."""
    seen: set[tuple[str, tuple[str, ...]]] = set()

    def keep(record: TrajectoryRecord) -> bool:
        key = (record.task_id, tuple(accepted_calls(record)))
        if key in seen:
            return False
        seen.add(key)
        return True
    return Filter("duplicate", "same task and action sequence as an earlier record", keep)


@dataclass
class FilterReport:
    total: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)  # filter name -> records it dropped
    reasons: dict[str, str] = field(default_factory=dict)


BEST_PER_TASK = "best_per_task"


def apply(records: Iterable[TrajectoryRecord], filters: Sequence[Filter],
          best_per_task: bool = False) -> tuple[list[TrajectoryRecord], FilterReport]:
    """Records that pass every filter; each drop is counted under the first filter that refused it.

    `best_per_task` then keeps, of the records left for each task, only the one with the highest reward (the
    earliest on a tie): expert iteration's selection over k attempts at a task.
    """
    report = FilterReport(reasons={f.name: f.reason for f in filters})
    kept = []
    for record in records:
        report.total += 1
        refusing = next((f for f in filters if not f.keep(record)), None)
        if refusing is None:
            kept.append(record)
        else:
            report.dropped[refusing.name] += 1
    if best_per_task:
        best: dict[str, TrajectoryRecord] = {}
        for record in kept:
            if record.task_id not in best or record.reward > best[record.task_id].reward:
                best[record.task_id] = record
        chosen = {id(record) for record in best.values()}
        report.reasons[BEST_PER_TASK] = "another run of the same task earned a higher reward"
        if len(chosen) < len(kept):
            report.dropped[BEST_PER_TASK] += len(kept) - len(chosen)
        kept = [record for record in kept if id(record) in chosen]
    report.kept = len(kept)
    return kept, report


def default_filters(min_reward_value: float = 0.5) -> list[Filter]:
    return [completed(), no_invalid_action(), max_tool_error_rate(), min_tool_calls(), substantive_report(),
            min_reward(min_reward_value), supervisor_accepted(), no_followed_injection(), deduplicate()]
