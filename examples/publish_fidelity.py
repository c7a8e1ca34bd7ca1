"""Copy a finished pipeline's claim into results/: the student's adapter, the comparison, and a manifest of hashes.

    python examples/publish_fidelity.py PIPELINE_DIR results/fidelity
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path


def sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def env_id(run_dir: Path) -> str:
    """The env (and so the reward) a run's episodes were graded by, from its first record."""
    with (run_dir / "trajectories.jsonl").open() as handle:
        return json.loads(handle.readline())["env_id"]


def main(work: Path, results: Path) -> None:
    results.mkdir(parents=True, exist_ok=True)
    run = json.loads((work / "run" / "manifest.json").read_text())
    evaluation = json.loads((work / "eval" / "student.json").read_text())
    scale = json.loads((work / "pipeline.json").read_text())
    training = json.loads((work / "student" / "train_config.json").read_text())
    graded_by = {env_id(work / "run"), env_id(work / "eval" / "student-run")}
    if len(graded_by) != 1:
        raise SystemExit(f"the training run and the evaluation were graded by different envs: {sorted(graded_by)}")
    manifest = {
        "env_id": graded_by.pop(),
        "pipeline": scale,
        "training_world": {"seed": scale["train_world_seed"], "catalog_hash": run["manifest_extra"]["catalog_hash"]},
        "evaluation_world": {"seed": scale["eval_world_seed"], "catalog_hash": evaluation["catalog_hash"]},
        "generation": {"config": run["config"], "model_sha256": run["manifest_extra"]["model_sha256"],
                       "model_file": run["manifest_extra"]["model_file"],
                       "llama_cpp_python": run["manifest_extra"]["llama_cpp_python"]},
        "data": {"train_jsonl_sha256": sha256(work / "data" / "train.jsonl"),
                 "report": json.loads((work / "data" / "report.json").read_text())},
        "training": {"config": {**training, "base": Path(training["base"]).name},  # no path of this machine
                     "summary": json.loads((work / "student" / "train_summary.json").read_text())},
        "adapter_sha256": sha256(work / "student" / "adapter.gguf"),
        "evaluation": {"split": evaluation["split"], "episodes": len(evaluation["episodes"]),
                       "trials": evaluation["trials"], "temperature": evaluation["temperature"]},
    }
    shutil.copy(work / "student" / "adapter.gguf", results / "adapter.gguf")
    shutil.copy(work / "student" / "loss.png", results / "loss.png")
    for name in ("comparison.md", "comparison.png", "comparison.json"):
        shutil.copy(work / "comparison" / name, results / name)
    (results / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"published {results}: adapter.gguf, comparison.md/png/json, loss.png, manifest.json")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
