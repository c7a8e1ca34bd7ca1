"""`shopgym train`, `evaluate --policy llm` and `compare` from the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import shopgym.format as fmt
from processes import SHOPGYM, kill_when
from shopgym.agents.call_rejection import CAUSES
from shopgym.cli import main
from shopgym.schema import Message, ToolCall


def _json_out(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _row(answer: str) -> str:
    messages = [Message(role="system", agent="env", content="You are a shopping research assistant."),
                Message(role="user", agent="user", content="A kettle under $40."),
                Message(role="assistant", agent="researcher",
                        tool_call=ToolCall(tool="search_products", arguments={"query": answer})),
                Message(role="tool", agent="env", observation="P-1 Steel Kettle $35")]
    return json.dumps({"messages": fmt.to_trl(messages), "tools": [], "meta": {}})


def test_train_writes_a_student_and_a_rerun_resumes(student_base: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data, out = tmp_path / "data", tmp_path / "student"
    data.mkdir()
    (data / "train.jsonl").write_text("\n".join([_row("kettle"), "{not json", _row("steel kettle")]) + "\n")
    argv = ["train", str(data), "--base", str(student_base), "--out", str(out), "--max-steps", "2",
            "--grad-accum", "1", "--json"]
    summary = _json_out(capsys, argv)
    assert summary["examples"] == 2 and summary["steps"] == 2 and summary["resumed_from"] == 0
    assert (out / "adapter.gguf").stat().st_size > 1_000_000 and (out / "loss.png").stat().st_size > 1000
    config = json.loads((out / "train_config.json").read_text())
    assert config["max_steps"] == 2 and config["data_sha256"] and config["base"] == str(student_base)
    again = _json_out(capsys, argv)  # nothing left to train: the finished run's summary, not an empty session's
    assert again == summary and json.loads((out / "train_summary.json").read_text()) == summary
    kept = tmp_path / "kept"  # a finished student kept without its checkpoints (a folder copied to another machine)
    shutil.copytree(out, kept, ignore=shutil.ignore_patterns("checkpoints"))
    argv_kept = [*argv[:5], str(kept), *argv[6:]]
    assert _json_out(capsys, argv_kept) == {**summary, "out": str(kept), "adapter_gguf": str(kept / "adapter.gguf")}
    # a run to 3 steps killed after it saved its config leaves the 2-step summary: not a finished run of 3 steps
    config_file = out / "train_config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "max_steps": 3}))
    more = _json_out(capsys, [*argv[:7], "3", *argv[8:]])
    assert more["resumed_from"] == 2 and more["steps"] == 3


def test_train_explains_a_wrong_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "s")]) == 2
    assert "no train.jsonl" in capsys.readouterr().err


def test_llm_only_flags_are_refused_for_scripted_policies(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--policy", "heuristic", "--adapter", "a.gguf"]) == 2
    assert "--adapter" in capsys.readouterr().err
    assert main(["evaluate", "--policy", "heuristic", "--workers", "2"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert main(["evaluate", "--policy", "teacher", "--no-thoughts"]) == 2
    assert "--no-thoughts applies to --policy llm" in capsys.readouterr().err


def test_evaluate_llm_resumes_its_run_and_compare_tables_it(world_dir: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--catalog", str(world_dir), "--split", "test", "--episodes", "1", "--seed", "3"]
    run = ["evaluate", "--policy", "llm", *common, "--out", str(tmp_path / "run"), "--save",
           str(tmp_path / "base.json"), "--json"]
    (tmp_path / "same-world").symlink_to(world_dir)  # the same catalog by another path is the same run
    killed = [*SHOPGYM, *run[:4], str(tmp_path / "same-world"), *run[5:]]
    kill_when(killed, lambda: (tmp_path / "run" / "manifest.json").exists(), tmp_path / "killed.log", delay=5.0)
    base = _json_out(capsys, run)  # the killed run resumes: its one episode, once
    assert len(base["episodes"]) == 1 and base["details"]["adapter"] == "none" and base["call_validity"] is not None
    assert _json_out(capsys, run)["episodes"] == base["episodes"]  # resumed: nothing ran again
    assert base["rejected_causes"] == {}  # the grammar refuses nothing: it never lets a bad turn be written
    free = ["evaluate", "--policy", "llm", *common, "--no-grammar", "--out", str(tmp_path / "free")]
    unguided = _json_out(capsys, [*free, "--json"])  # the base model alone writes no valid call (validity 0 measured)
    records = [json.loads(line) for line in (tmp_path / "free" / "trajectories.jsonl").read_text().splitlines()]
    refused = [turn["cause"] for r in records for turn in r["extra"]["rejected_calls"]]
    assert unguided["call_validity"] < 1 and refused and set(refused) <= set(CAUSES)
    assert unguided["rejected_causes"] == {cause: refused.count(cause) for cause in set(refused)}
    assert main(free) == 0  # resumed, in words
    assert "refused calls by cause: " in capsys.readouterr().out
    assert len((tmp_path / "run" / "trajectories.jsonl").read_text().splitlines()) == 1
    _json_out(capsys, ["evaluate", "--policy", "heuristic", *common, "--save", str(tmp_path / "heuristic.json"),
                       "--json"])
    result = _json_out(capsys, ["compare", str(tmp_path / "base.json"), str(tmp_path / "heuristic.json"),
                                "--diff", "heuristic:base", "--out", str(tmp_path / "cmp"), "--json"])
    reward = next(d for d in result["differences"] if d["metric"] == "reward")
    assert reward["pairs"] == 1 and reward["mean"] == pytest.approx(
        json.loads((tmp_path / "heuristic.json").read_text())["mean_reward"] - base["mean_reward"], abs=1e-3)
    table = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "| base |" in table and "| heuristic |" in table and "heuristic - base" in table
    assert (tmp_path / "cmp" / "comparison.png").stat().st_size > 1000
    assert main(["compare", str(tmp_path / "base.json"), "--diff", "student:base", "--out", str(tmp_path)]) == 2
    assert "no evaluation labelled 'student'" in capsys.readouterr().err
