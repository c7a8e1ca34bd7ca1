"""SIGKILL during `catalog build --overwrite`, `distill` and `train`: the next run of the same command completes,
with nothing lost or duplicated and nothing left behind.

The other verbs are killed elsewhere: `import` in `test_import.py`, the run folder `generate` and `evaluate`
share at random points in `test_runner.py`, and `evaluate --policy llm` through the CLI in
`test_cli_student.py`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from processes import SHOPGYM, kill_when
from shopgym.catalog import CatalogReader
from test_cli_student import _row


def _run(argv: list[str]) -> dict:
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _hidden_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if p.name.endswith((".partial", ".tmp")) or "-" in p.name)


def test_a_killed_build_overwrite_keeps_the_old_world_and_the_rerun_completes(tmp_path: Path) -> None:
    world = tmp_path / "w"
    argv = [*SHOPGYM, "catalog", "build", "--seed", "9", "--products", "1500", "--search", "fts5", "--out", str(world),
            "--overwrite", "--quiet", "--json"]
    digest = _run(argv)["content_hash"]
    for delay in (0.0, 0.3):
        kill_when(argv, lambda: any(tmp_path.glob(".w.building-*")), tmp_path / "killed.log", delay)
        with CatalogReader(world) as reader:  # the old world still stands, whole
            assert reader.content_hash == digest
    assert _run(argv)["content_hash"] == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed.log", "w"]  # no staging or set-aside folder


def test_a_killed_distill_reruns_to_the_same_files(world_dir: Path, tmp_path: Path) -> None:
    from test_distill import _records

    run = tmp_path / "run"
    run.mkdir()
    records = _records(world_dir)
    for index, record in enumerate(records):  # episode indices, as a run folder has them
        record.extra["episode"] = index
    (run / "trajectories.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records))
    clean, data = tmp_path / "clean", tmp_path / "data"
    _run([*SHOPGYM, "distill", str(run), "--out", str(clean), "--min-reward", "0", "--json"])
    argv = [*SHOPGYM, "distill", str(run), "--out", str(data), "--min-reward", "0", "--json"]
    kill_when(argv, lambda: True, tmp_path / "killed.log", delay=1.0)  # while it loads the tokenizer
    data.mkdir(exist_ok=True)  # and what a kill while writing would leave: a torn file and a partial one
    (data / "train.jsonl").write_text('{"messages": [{"role": "sys')
    (data / ".README.md.partial").write_text("# shopgym dist")
    _run(argv)
    assert sorted(p.name for p in data.iterdir()) == sorted(p.name for p in clean.iterdir())
    for name in ("train.jsonl", "test.jsonl", "report.json", "README.md"):
        assert (data / name).read_bytes() == (clean / name).read_bytes(), name


def test_a_killed_train_resumes_from_its_checkpoint_to_the_same_losses(student_base: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text("\n".join(_row(word) for word in ("kettle", "steel kettle", "2 litre")) + "\n")

    def argv(out: Path, folder: Path = data) -> list[str]:
        return [*SHOPGYM, "train", str(folder), "--base", str(student_base), "--out", str(out), "--max-steps", "24",
                "--grad-accum", "1", "--json"]

    clean = _run(argv(tmp_path / "clean"))
    student = tmp_path / "student"
    kill_when(argv(student), lambda: (student / "checkpoints" / "step-10").exists(), tmp_path / "killed.log")
    assert not (student / "adapter.gguf").exists()  # an adapter appears only after training succeeded
    (tmp_path / "same-data").symlink_to(data)  # the same data by another path resumes the same run
    resumed = _run(argv(student, tmp_path / "same-data"))
    assert resumed["resumed_from"] in (10, 20) and resumed["steps"] == clean["steps"] == 24

    def losses(out: Path) -> list[tuple[int, float]]:
        return [(e["step"], round(e["loss"], 5)) for e in map(json.loads, (out / "loss.jsonl").read_text().splitlines())]

    assert [step for step, _ in losses(student)] == list(range(1, 25))  # every step once
    assert losses(student) == losses(tmp_path / "clean")
    assert (student / "adapter.gguf").stat().st_size > 1_000_000 and _hidden_leftovers(student) == []
