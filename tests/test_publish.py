"""examples/publish_fidelity.py: a pipeline's progress kept without machine paths, and resumed elsewhere."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch

from shopgym.agents.run_folder import MANIFEST, TRAJECTORIES
from shopgym.agents.runner import RunConfig, run
from test_runner import EXTRA, _tasks, heuristic_episode

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "publish_fidelity.py"
spec = importlib.util.spec_from_file_location("publish_fidelity", SCRIPT)
publish_fidelity = importlib.util.module_from_spec(spec)
spec.loader.exec_module(publish_fidelity)


def test_only_a_path_is_made_relative_never_the_text_of_a_url(tmp_path: Path) -> None:
    work = tmp_path / "fidelity-work"
    text = f'{{"run": "{work}/run", "url": "https://shop.example{tmp_path}/x"}} (see {work}/eval)'
    assert publish_fidelity.portable(text, work) == \
        f'{{"run": "fidelity-work/run", "url": "https://shop.example{tmp_path}/x"}} (see fidelity-work/eval)'


def test_a_path_left_in_a_copied_record_stops_the_copy(tmp_path: Path) -> None:
    work = tmp_path / "fidelity-work"
    records = tmp_path / "trajectories.jsonl"
    records.write_text(json.dumps({"catalog": f"{work}/world-train"}) + "\n")
    with pytest.raises(SystemExit, match="still names"):
        publish_fidelity.copy_portable(records, tmp_path / "kept" / "trajectories.jsonl", work)


def _pipeline_folder(machine: Path, world_dir: Path) -> Path:
    work = machine / "fidelity-work"
    work.mkdir(parents=True)
    (work / "world-train").symlink_to(world_dir)
    return work


def test_kept_progress_names_no_machine_path_and_resumes_on_another(world_dir: Path, tmp_path: Path) -> None:
    tasks = _tasks(world_dir, "train", 3, seed=4)
    work = _pipeline_folder(tmp_path / "machine-a", world_dir)
    config = RunConfig(catalog=str(work / "world-train"), episodes=3, seed=4, mode="heuristic",
                       options={"adapter": str(work / "student" / "adapter.gguf")})
    extra = {**EXTRA, "adapter_sha256": "a0"}
    run(config, work / "eval" / "student-run", heuristic_episode, tasks, extra, progress=False)
    (work / "eval" / "student.json").write_text(json.dumps({"details": {"adapter": config.options["adapter"]}}))
    student = work / "student"
    (student / "checkpoints" / "step-4").mkdir(parents=True)
    for name in publish_fidelity.STUDENT_FILES:
        (student / name).write_text('{"step": 1, "loss": 2.0}' if name.endswith(".jsonl") else "binary")
    (student / "train_config.json").write_text(json.dumps({"data": str(work / "data"),
                                                           "base": "/opt/models/base.gguf"}))
    (work / "data").mkdir()
    (work / "data" / "train.jsonl").write_text('{"messages": []}\n')
    (work / "data" / "report.json").write_text(json.dumps({"runs": [str(work / "run")]}))
    dest = tmp_path / "repo" / "in-progress"
    (dest / "eval" / "stale-run").mkdir(parents=True)

    kept = publish_fidelity.keep_progress(work, dest)

    assert kept == ["eval/student-run: 3 of 3 episodes", "student", "data", "eval/student.json"]
    assert (dest / "kept.txt").read_text().splitlines() == kept
    assert not (dest / "eval" / "stale-run").exists() and not (dest / "student" / "checkpoints").exists()
    texts = [p.read_text() for p in dest.rglob("*") if p.is_file() and p.suffix != ".gguf"]
    assert texts and not any(str(tmp_path) in text for text in texts)
    manifest = json.loads((dest / "eval" / "student-run" / MANIFEST).read_text())
    assert manifest["config"]["catalog"] == "fidelity-work/world-train"
    assert manifest["config"]["options"]["adapter"] == "fidelity-work/student/adapter.gguf"
    assert json.loads((dest / "student" / "train_config.json").read_text()) == {"data": "fidelity-work/data",
                                                                                "base": "base.gguf"}
    assert json.loads((dest / "data" / "report.json").read_text()) == {"runs": ["fidelity-work/run"]}

    elsewhere = _pipeline_folder(tmp_path / "machine-b", world_dir)
    shutil.copytree(dest, elsewhere, dirs_exist_ok=True)
    moved = config.model_copy(update={"catalog": str(elsewhere / "world-train"),
                                      "options": {"adapter": str(elsewhere / "student" / "adapter.gguf")}})
    resumed = run(moved, elsewhere / "eval" / "student-run", heuristic_episode, tasks, extra, progress=False)
    assert (resumed.episodes_done, resumed.episodes_skipped) == (0, 3)
    assert (elsewhere / "eval" / "student-run" / TRAJECTORIES).read_text() == \
        (work / "eval" / "student-run" / TRAJECTORIES).read_text()


def test_a_student_in_training_keeps_its_last_checkpoint_and_goes_on_from_it_elsewhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shopgym.train import TrainConfig, train
    from test_train import _tiny_examples, _tiny_llama, die_after_checkpoint

    def config(work: Path, base: str) -> TrainConfig:  # the same run, named by the paths of one machine
        return TrainConfig(rank=4, alpha=8, learning_rate=1e-2, max_steps=6, grad_accum=2, warmup_ratio=0.2,
                           save_every=2, base=base, base_sha256="b0", data=str(work / "data"), data_sha256="d0")

    straight, _ = train(_tiny_llama(), _tiny_examples(), config(tmp_path, "/x/base.gguf"), tmp_path / "straight",
                        progress=False)
    work = tmp_path / "machine-a" / "fidelity-work"
    die_after_checkpoint(monkeypatch, 4)  # the session ends
    with pytest.raises(KeyboardInterrupt):
        train(_tiny_llama(), _tiny_examples(), config(work, "/opt/models/base.gguf"), work / "student", progress=False)
    dest = tmp_path / "repo" / "in-progress"

    assert publish_fidelity.keep_progress(work, dest) == ["student: step-4 (unfinished)"]
    kept = dest / "student" / "checkpoints" / "step-4"
    assert (kept / "state.pt").read_bytes() == (work / "student" / "checkpoints" / "step-4" / "state.pt").read_bytes()
    assert str(tmp_path) not in (dest / "student" / "train_config.json").read_text()

    elsewhere = tmp_path / "machine-b" / "fidelity-work"
    shutil.copytree(dest, elsewhere)
    resumed, result = train(_tiny_llama(), _tiny_examples(), config(elsewhere, "/srv/base.gguf"),
                            elsewhere / "student", progress=False)
    assert result.resumed_from == 4 and [entry.step for entry in result.log] == [1, 2, 3, 4, 5, 6]
    a, b = straight.state_dict(), resumed.state_dict()
    lora = [k for k in a if "lora_" in k]
    assert lora and all(torch.allclose(a[k], b[k]) for k in lora)


def test_the_published_claim_keeps_the_records_behind_it_in_stages(world_dir: Path, tmp_path: Path) -> None:
    work = _pipeline_folder(tmp_path / "machine", world_dir)
    extra = {**EXTRA, "catalog_hash": "c0", "model_sha256": "m0", "model_file": "base.gguf",
             "llama_cpp_python": "0.3"}
    for folder, seed in (("run", 4), ("eval/student-run", 1)):
        config = RunConfig(catalog=str(work / "world-train"), episodes=2, seed=seed, mode="heuristic")
        run(config, work / folder, heuristic_episode, _tasks(world_dir, "train", 2, seed=seed), extra, progress=False)
    (work / "eval" / "student.json").write_text(json.dumps({"catalog_hash": "c0", "split": "test", "episodes": [{}],
                                                            "trials": 1, "temperature": 0.0,
                                                            "details": {"run": str(work / "eval" / "student-run")}}))
    (work / "pipeline.json").write_text(json.dumps({"train_world_seed": 7, "eval_world_seed": 11}))
    (work / "data").mkdir()
    (work / "data" / "train.jsonl").write_text('{"messages": []}\n')
    (work / "data" / "report.json").write_text(json.dumps({"runs": [str(work / "run")]}))
    (work / "student").mkdir()
    (work / "student" / "train_config.json").write_text(json.dumps({"base": "/opt/models/base.gguf"}))
    (work / "student" / "train_summary.json").write_text(json.dumps({"steps": 2}))
    for name in ("adapter.gguf", "loss.png"):
        (work / "student" / name).write_bytes(b"binary")
    (work / "comparison").mkdir()
    for name in ("comparison.md", "comparison.png", "comparison.json"):
        (work / "comparison" / name).write_text(f"see {work}/eval")
    results = tmp_path / "repo" / "results"

    publish_fidelity.publish(work, results)

    stages = results / "stages"
    assert (stages / "kept.txt").read_text().splitlines() == [
        "run: 2 of 2 episodes", "eval/student-run: 2 of 2 episodes", "data", "eval/student.json"]
    assert not (stages / "student").exists()  # the adapter is results/adapter.gguf, its training in the manifest
    saved = json.loads((stages / "eval" / "student.json").read_text())
    assert saved["details"]["run"] == "fidelity-work/eval/student-run"
    assert json.loads((results / "manifest.json").read_text())["training"]["config"]["base"] == "base.gguf"
    assert not any(str(tmp_path) in p.read_text() for p in results.rglob("*") if p.suffix in (".json", ".jsonl", ".md"))
