"""Copy a pipeline's results into results/, naming no path of this machine.

    python examples/publish_fidelity.py PIPELINE_DIR results/fidelity
        the finished claim: the student's adapter, the comparison, a manifest of hashes, and in stages/ the records
        behind them (teacher runs, distilled data, every evaluation's run folder and JSON, which examples/demo.sh reads)
    python examples/publish_fidelity.py PIPELINE_DIR results/fidelity/v1-in-progress --in-progress
        the stages finished so far (run folders, trained students or the last checkpoint of one in training, saved
        evaluations), for another machine to resume from: `cp -r DEST/. PIPELINE_DIR/` there, then the same `make` target

Paths under the repository (or the pipeline folder's parent) become relative to it. A run resumes from them: the
runner and `shopgym train` know a moved catalog, model, adapter or data folder by its content hash.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
RUN_FILES = ("manifest.json", "trajectories.jsonl")  # a run folder's record (its HTML is rebuilt on demand)
STUDENT_FILES = ("train_config.json", "train_summary.json", "adapter.gguf", "loss.jsonl", "loss.png")


def sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _roots(work: Path) -> list[Path]:
    """The folders whose paths are made relative: the repository and `work`'s parent (as given and resolved)."""
    roots = {REPOSITORY, work.absolute().parent, work.resolve().parent}
    if Path("/") in roots:
        raise SystemExit(f"{work} lies directly under /: its paths cannot be made relative; move it")
    return sorted(roots, key=lambda p: -len(str(p)))


def portable(text: str, work: Path) -> str:
    """`text` with each path under a root of `_roots` made relative to it (only where a path starts: after a
    quote, a space or a parenthesis, so the text of a URL is left alone)."""
    for root in _roots(work):
        text = re.sub(rf"(?<=[\"\s(]){re.escape(str(root))}/", "", text)
    return text


def copy_portable(source: Path, target: Path, work: Path) -> None:
    """Copy a file; JSON and Markdown with their paths made portable. Anything else is copied as it is (a run's
    records name no path), then checked to name none."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix in (".json", ".md"):
        target.write_text(portable(source.read_text(), work))
    else:
        shutil.copy(source, target)
    if target.suffix in (".json", ".jsonl", ".md"):
        text = target.read_text()
        for root in (*_roots(work), *([Path.home()] if Path.home() != Path("/") else [])):
            if f"{root}/" in text:
                raise SystemExit(f"{target} still names {root}/ (from {source}): remove that path, then run again")


def base_by_name(training: dict) -> dict:
    """A training config with its base model named by file name (the model may lie outside the repository; a
    resume knows it by its hash)."""
    return {**training, "base": Path(training["base"]).name}


def last_checkpoint(student: Path) -> Path | None:
    """The checkpoint an unfinished training goes on from (`shopgym train` keeps only its latest)."""
    found = sorted((student / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    return found[-1] if found else None


def env_id(run_dir: Path) -> str:
    """The env (and so the reward) a run's episodes were graded by, from its first record."""
    with (run_dir / "trajectories.jsonl").open() as handle:
        return json.loads(handle.readline())["env_id"]


def keep_progress(work: Path, dest: Path, with_students: bool = True) -> list[str]:
    """Copy the finished and partial stages of `work` into `dest` (replacing what an earlier call kept there),
    the students' folders too unless `with_students` is false; returns what was kept, as `dest/kept.txt` lists it."""
    stages = [p for p in (work / "run", *sorted((work / "eval").glob("*-run")), work / "improve" / "samples")
              if (p / "manifest.json").exists()]
    students = [p for p in (work / "student", work / "improved")
                if with_students and (p / "train_config.json").exists()]
    # a student in training: its last checkpoint (adapter, optimizer and loss log, tens of MB) saves its hours
    unfinished = {p: last_checkpoint(p) for p in students if not (p / "train_summary.json").exists()}
    # a student's data too: a resumed `shopgym train` checks its hash, and distill's code may have changed since
    data = [p for p in (work / "data", work / "improve" / "data") if (p / "train.jsonl").exists()]
    saved = sorted((work / "eval").glob("*.json")) + sorted((work / "improve").glob("*.json"))
    for folder in ("run", "eval", "improve", "data", "student", "improved"):
        shutil.rmtree(dest / folder, ignore_errors=True)
    for stage in stages:
        for name in RUN_FILES:
            copy_portable(stage / name, dest / stage.relative_to(work) / name, work)
    for student in students:
        for name in STUDENT_FILES:
            if (student / name).exists():
                copy_portable(student / name, dest / student.name / name, work)
        config = dest / student.name / "train_config.json"
        config.write_text(json.dumps(base_by_name(json.loads(config.read_text())), indent=2, sort_keys=True) + "\n")
        if checkpoint := unfinished.get(student):
            for name in ("state.pt", "log.json"):
                copy_portable(checkpoint / name, dest / checkpoint.relative_to(work) / name, work)
    for folder in data:
        for name in ("train.jsonl", "report.json"):
            copy_portable(folder / name, dest / folder.relative_to(work) / name, work)
    for result in saved:
        copy_portable(result, dest / result.relative_to(work), work)
    kept = [f"{stage.relative_to(work)}: {_lines(dest / stage.relative_to(work) / 'trajectories.jsonl')} of "
            f"{json.loads((stage / 'manifest.json').read_text())['config']['episodes']} episodes" for stage in stages]
    kept += [f"{p.relative_to(work)}: {unfinished[p].name if unfinished[p] else 'no checkpoint yet'} (unfinished)"
             if p in unfinished else str(p.relative_to(work)) for p in students]
    kept += [str(p.relative_to(work)) for p in (*data, *saved)]
    (dest / "kept.txt").write_text("".join(f"{line}\n" for line in kept))
    return kept


def _lines(path: Path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


def publish(work: Path, results: Path) -> None:
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
        "training": {"config": base_by_name(training),
                     "summary": json.loads((work / "student" / "train_summary.json").read_text())},
        "adapter_sha256": sha256(work / "student" / "adapter.gguf"),
        "evaluation": {"split": evaluation["split"], "episodes": len(evaluation["episodes"]),
                       "trials": evaluation["trials"], "temperature": evaluation["temperature"]},
    }
    shutil.copy(work / "student" / "adapter.gguf", results / "adapter.gguf")
    shutil.copy(work / "student" / "loss.png", results / "loss.png")
    for name in ("comparison.md", "comparison.png", "comparison.json"):
        copy_portable(work / "comparison" / name, results / name, work)
    (results / "manifest.json").write_text(portable(json.dumps(manifest, indent=2, sort_keys=True) + "\n", work))
    keep_progress(work, results / "stages", with_students=False)  # the adapter and its training are in the manifest
    print(f"published {results}: adapter.gguf, comparison.md/png/json, loss.png, manifest.json, and in stages/ the "
          "records behind them (teacher runs, distilled data, every evaluation's run and saved JSON)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("work", type=Path, help="the folder examples/pipeline.sh wrote")
    parser.add_argument("dest", type=Path)
    parser.add_argument("--in-progress", action="store_true", help="keep the stages finished so far, to resume")
    args = parser.parse_args()
    if args.in_progress:
        kept = keep_progress(args.work, args.dest)
        print(f"kept in {args.dest}: {'; '.join(kept) or 'nothing (no stage has started)'}")
    else:
        publish(args.work, args.dest)


if __name__ == "__main__":
    main()
