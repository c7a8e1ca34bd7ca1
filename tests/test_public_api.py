"""Agents should see the env only through its public API (`reset`, `step`, `info["result"]`, `tool_schemas`).

Issue 14 asks that no module of `shopgym.agents` reach into env internals (`env.unwrapped`, its catalog
`reader`, the `episode` log, `tasks`, hidden truth). Until the modules below are rewritten this test is a
ratchet: it fails when a module reaches in more often than it does today, or when a new one reaches in.
Lower a count when you remove uses; delete the entry at zero.
"""

from __future__ import annotations

import ast
from pathlib import Path

AGENTS = Path(__file__).resolve().parents[1] / "agents"
INTERNALS = {"unwrapped", "reader", "truth_reader", "task_truth", "tasks", "episode", "snapshot", "restore",
             "grade_draft", "_truth", "_episode"}
STILL_REACHING_IN = {  # module -> attribute uses left to remove
    "baselines.py": 9,  # the oracle's truth, category schemas, max_steps
    "call_checks.py": 5,  # steps left and calls made, a dry run on a copy of the episode, the catalog's pages
    "claim_checks.py": 1,  # claims are checked against the products the episode retrieved
    "episode_view.py": 16,  # what the researcher has seen: the episode log and the public catalog
    "evaluate.py": 3,  # task lists and the catalog hash
    "evaluate_llm.py": 1,
    "generate.py": 1,
    "report_checks.py": 2,  # picks are checked against the products the episode retrieved and inspected
    "supervisor.py": 7,
    "synthesis.py": 9,  # the shopper history, task info, snapshot/restore, the request
}


def _reaches(path: Path) -> int:
    return sum(isinstance(node, ast.Attribute) and node.attr in INTERNALS for node in ast.walk(ast.parse(path.read_text())))


def test_no_agent_module_reaches_further_into_the_env() -> None:
    counts = {path.name: _reaches(path) for path in sorted(AGENTS.glob("*.py"))}
    grown = {name: n for name, n in counts.items() if n > STILL_REACHING_IN.get(name, 0)}
    assert not grown, f"modules reaching into env internals more than allowed: {grown}; use info['result'] instead"
    stale = {name: (STILL_REACHING_IN[name], counts.get(name, 0)) for name in STILL_REACHING_IN
             if counts.get(name, 0) < STILL_REACHING_IN[name]}
    assert not stale, f"uses were removed: lower these counts (allowed, found): {stale}"
