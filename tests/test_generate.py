"""`shopgym generate` end to end with the embedded GGUF: real episodes, recorded for distillation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import shopgym.format as fmt
from shopgym.agents.run_folder import read_trajectories
from shopgym.cli import main
from shopgym.distill.internalize import internalize


def test_two_real_supervised_episodes_with_the_embedded_model(world_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    argv = ["generate", "--catalog", str(world_dir), "--split", "train", "--episodes", "2", "--seed", "5",
            "--user-agent", "llm", "--out", str(out), "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["episodes_done"] == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["manifest_extra"]["model_sha256"]) == 64 and manifest["manifest_extra"]["catalog_hash"]
    records = read_trajectories(out / "trajectories.jsonl")
    assert [r.extra["episode"] for r in records] == [0, 1] and [r.seed for r in records] == [5, 6]
    for record in records:
        assert record.termination == "submitted" and 0.0 <= record.reward <= 1.0
        assert {m.agent for m in record.messages} >= {"user", "researcher", "env"}
        assert all(m.role in ("system", "user", "assistant", "tool") for m in record.messages)
        assert record.extra["draft_rewards"] and record.extra["intent_accuracy"] is not None
        assert record.model_ids["researcher"] == "SmolLM2-135M-Instruct.Q4_1.gguf"  # its name, never a path
        authorship = record.extra["authorship"]
        assert authorship["model_turns"] > 0 and authorship["rule_turns"] >= 1  # reviews are rules
        intent = record.extra["intent"]  # the model wrote the brief, its choices from the history
        assert intent["source"] == "llm" and intent["category"] in record.request
        assert all(f"not from {brand}" in record.request for brand in intent["deal_breakers"])
        for turn in internalize(record):  # a reflection's name=value fixes are in the call it opens
            if turn.role == "assistant" and turn.tool_call is not None and turn.content:
                call = fmt.render_call(turn.tool_call)
                for name, value in re.findall(r"\b([a-z_]+)='?([^\s,;)']+)", turn.content):
                    assert f'"{name}"' in call and (value in call or value.lower() in call), (turn.content, call)
    assert manifest["manifest_extra"]["chat_format"].startswith("gguf:")
    assert manifest["manifest_extra"]["roles"] == {"user": "llm", "researcher": "llm", "supervisor": "rules"}
    assert main(argv) == 0  # a finished run resumes to nothing
    assert json.loads(capsys.readouterr().out)["episodes_done"] == 0
    lines = (out / "trajectories.jsonl").read_bytes().splitlines(keepends=True)
    (out / "trajectories.jsonl").write_bytes(b"".join(lines[:-1]))  # lose the last episode, resume on 1 thread
    assert main([*argv, "--workers", "2"]) == 0 and json.loads(capsys.readouterr().out)["episodes_done"] == 1
    again = {r.task_id: r for r in read_trajectories(out / "trajectories.jsonl")}
    for record in records:  # the same text whatever the thread count (only timings differ)
        assert again[record.task_id].messages == record.messages and again[record.task_id].reward == record.reward
    assert main(["show", str(out), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["episodes"] == 2 and records[0].task_id in Path(shown["html"]).read_text()
