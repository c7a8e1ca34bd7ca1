"""Agents see the env only through its public API: `reset`, `step`, `info`, `tool_schemas` and the public `catalog`.

Issue 14: no module of `shopgym.agents` reaches into env internals (`env.unwrapped`, the env's `reader`, its
`episode` log, its `tasks` table) or hidden truth (`task_truth`, `truth_reader`). Checks and the supervisor read a
`Transcript` of the env's public outputs. The synthesis harness alone may use the env's harness API: `snapshot` and
`restore` to undo a step a reviewer rejects, `grade_draft` to record draft rewards (measurement, never shown to a
role). The oracle, the one policy that reads hidden truth, is part of the env (`shopgym.envs.oracle`).
"""

from __future__ import annotations

import ast
from pathlib import Path

AGENTS = Path(__file__).resolve().parents[1] / "agents"
INTERNALS = {"unwrapped", "reader", "truth_reader", "task_truth", "tasks", "episode", "_truth", "_episode"}
HARNESS_API = {"snapshot", "restore", "grade_draft"}
HARNESS = "synthesis.py"


def _reaches(source: str, allowed: set[str]) -> list[str]:
    """Attribute uses of env internals in `source` (a call of the public catalog's `tasks()` method is not one)."""
    tree = ast.parse(source)
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    forbidden = (INTERNALS | HARNESS_API) - allowed
    return [f"line {node.lineno}: .{node.attr}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in forbidden
            and not (node.attr == "tasks" and id(node) in called)]


def test_no_agent_module_reaches_into_the_env() -> None:
    reaching = {path.name: uses for path in sorted(AGENTS.glob("*.py"))
                if (uses := _reaches(path.read_text(), HARNESS_API if path.name == HARNESS else set()))}
    assert not reaching, f"agent modules reaching into env internals: {reaching}; use info['result'] or a Transcript"


def test_the_rule_catches_each_kind_of_reach() -> None:
    for source in ("env.unwrapped.reader.get_product('P-1')", "env.episode.retrieved_products", "env.tasks['T-1']",
                   "env.unwrapped.task_truth", "truth.truth_reader.review_sentiment('P-1', 'battery')",
                   "env.snapshot()", "env.grade_draft(report)"):
        assert _reaches(source, set()), source
    assert not _reaches("env.catalog.tasks('train')", set())  # the public catalog's task list
    assert not _reaches("env.snapshot()", HARNESS_API)
