"""The synthesis runner: parallel equals sequential, SIGKILL at random points loses and duplicates nothing,
a torn last line is dropped and redone, a changed config is refused by name."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from shopgym.agents.baselines import HeuristicResearcher
from shopgym.agents.evaluate import distinct_tasks, run_episode
from shopgym.agents.run_folder import (
    TRAJECTORIES, CorruptTrajectories, RunConfigChanged, RunLocked, read_trajectories,
)
from shopgym.agents.runner import EpisodeFailed, RunConfig, run
from shopgym.envs import ProductResearchEnv
from shopgym.envs.recorder import RecordEpisode
from shopgym.schema import TrajectoryRecord

TESTS = Path(__file__).resolve().parent
EXTRA = {"catalog_hash": "c0ffee", "tool_schema_hash": "t00l", "models": {}}

_ENVS: dict[tuple, RecordEpisode] = {}


def heuristic_episode(config: RunConfig, episode: int, task_id: str) -> TrajectoryRecord:
    """A real episode: the heuristic researcher on the env, recorded. Top-level so spawn workers import it.

    Test-only knobs in `config.options`: `delay_s` (slow episodes down so kills land mid-run), `pid_dir` (each
    process that runs an episode leaves its pid there), `fail_if` (raise on `fail_episode` while that file exists),
    `hang_if` (sleep `hang_s` while that file exists, like a long model call).
    """
    options = config.options
    if options.get("pid_dir"):
        (Path(options["pid_dir"]) / str(os.getpid())).touch()
    if options.get("hang_if") and Path(options["hang_if"]).exists():
        time.sleep(options["hang_s"])
    if options.get("fail_if") and episode == options["fail_episode"] and Path(options["fail_if"]).exists():
        raise RuntimeError("injected failure")
    key = (config.catalog, config.split)
    if key not in _ENVS:
        _ENVS[key] = RecordEpisode(ProductResearchEnv(catalog=config.catalog, split=config.split))
    env = _ENVS[key]
    observation, _ = env.reset(seed=config.seed + episode, options={"task_id": task_id})
    actions = HeuristicResearcher().actions(env.unwrapped, observation["text"])
    action = next(actions)
    while True:
        observation, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
        try:
            action = actions.send(observation["text"])
        except StopIteration:
            action = {"tool": "submit_report", "arguments": {"report": {}}}
    time.sleep(options.get("delay_s", 0.0))
    record = env.record.model_copy(deep=True)
    record.timings["tokens"] = float(sum(len(m.content) for m in record.messages) // 4)  # stand-in count
    return record


def _tasks(world_dir: Path, split: str, count: int, seed: int) -> list[str]:
    env = ProductResearchEnv(catalog=world_dir, split=split)
    try:
        return distinct_tasks(env, split, count, seed)
    finally:
        env.close()


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True) if path.exists() else []


def _alive(pid: int) -> bool:
    """Running and not a zombie (a container's init may never reap orphans)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _assert_pids_gone(pid_dir: Path, timeout: float = 10.0) -> None:
    pids = [int(p.name) for p in pid_dir.iterdir()]
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [p for p in pids if _alive(p)]
    for pid in left:  # ours: don't leave them behind for the next test
        os.kill(pid, signal.SIGKILL)
    assert not left, f"worker processes outlived their runner: {left}"


def test_two_workers_write_the_same_records_as_one(world_dir: Path, tmp_path: Path) -> None:
    tasks = _tasks(world_dir, "train", 12, seed=5)
    config = RunConfig(catalog=str(world_dir), split="train", episodes=12, workers=2, seed=5)
    parallel = run(config, tmp_path / "par", heuristic_episode, tasks, EXTRA, progress=False)
    serial = run(config.model_copy(update={"workers": 1}), tmp_path / "seq", heuristic_episode, tasks, EXTRA,
                 progress=False)

    assert (parallel.episodes_done, parallel.episodes_skipped, parallel.workers) == (12, 0, 2)
    assert (serial.episodes_done, serial.workers) == (12, 1)
    assert parallel.episodes_per_hour > 0 and parallel.tokens and parallel.tokens_per_second
    raw = _lines(tmp_path / "par" / TRAJECTORIES)
    assert len(raw) == 12 and all(line.endswith(b"\n") for line in raw)
    a, b = read_trajectories(tmp_path / "par"), read_trajectories(tmp_path / "seq")
    assert [r.extra["episode"] for r in a] == list(range(12)) == [r.extra["episode"] for r in b]
    assert [r.reward for r in a] == [r.reward for r in b]
    assert [r.model_dump(exclude={"timings"}) for r in a] == [r.model_dump(exclude={"timings"}) for r in b]
    assert [(r.task_id, r.seed) for r in a] == [(t, 5 + i) for i, t in enumerate(tasks)]
    assert len({r.reward for r in a}) > 1, "rewards should vary across tasks"
    assert parallel.tokens == sum(int(r.timings["tokens"]) for r in a)

    manifest = json.loads((tmp_path / "par" / "manifest.json").read_text())
    assert manifest["config"] == config.model_dump(mode="json")
    assert manifest["seeds"] == list(range(5, 17)) and manifest["tasks"] == tasks
    assert manifest["manifest_extra"] == EXTRA

    again = run(config, tmp_path / "par", heuristic_episode, tasks, EXTRA, progress=False)
    assert (again.episodes_done, again.episodes_skipped) == (0, 12)
    assert _lines(tmp_path / "par" / TRAJECTORIES) == raw


KILL_SCRIPT = """
import json, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_runner import heuristic_episode
from shopgym.agents.runner import RunConfig, run

if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    summary = run(RunConfig(**spec["config"]), Path(spec["out"]), heuristic_episode, spec["tasks"], spec["extra"],
                  progress=False)
    print(summary.model_dump_json())
"""


def test_sigkill_at_random_points_then_resume_loses_and_duplicates_nothing(world_dir: Path, tmp_path: Path) -> None:
    episodes, seed = 40, 11
    tasks = _tasks(world_dir, "train", episodes, seed)
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    out = tmp_path / "run"
    config = RunConfig(catalog=str(world_dir), split="train", episodes=episodes, workers=2, seed=seed,
                       options={"delay_s": 0.05, "pid_dir": str(pid_dir)})
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"config": config.model_dump(mode="json"), "out": str(out), "tasks": tasks,
                                "extra": EXTRA}))
    script = tmp_path / "kill_run.py"
    script.write_text(textwrap.dedent(KILL_SCRIPT.format(tests=str(TESTS))))
    trajectories = out / TRAJECTORIES

    def start(log: Path) -> subprocess.Popen:
        # output to files, not pipes: an orphaned worker holding a pipe would make reading it wait for that worker
        with log.open("w") as err:
            return subprocess.Popen([sys.executable, str(script), str(spec)], stdout=err, stderr=err)

    rng = random.Random(20240611)
    for _ in range(3):
        before = sum(line.endswith(b"\n") for line in _lines(trajectories))
        wanted = before + rng.randint(1, 4)
        proc = start(tmp_path / "killed.log")
        deadline = time.monotonic() + 60
        while (sum(line.endswith(b"\n") for line in _lines(trajectories)) < wanted and proc.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
        _assert_pids_gone(pid_dir)
        for line in _lines(trajectories)[:-1]:  # a kill may tear only the last line
            TrajectoryRecord.model_validate_json(line)
    after_kills = _lines(trajectories)
    complete = [line for line in after_kills if line.endswith(b"\n")]
    assert 3 <= len(complete) < episodes

    # tear the tail by hand: drop the last complete record and leave half of it
    victim = complete[-1]
    victim_episode = json.loads(victim)["extra"]["episode"]
    trajectories.write_bytes(b"".join(complete[:-1]) + victim[: len(victim) // 2])

    log = tmp_path / "final.log"
    proc = start(log)
    proc.wait(timeout=120)
    output = log.read_text()
    assert proc.returncode == 0, output
    summary, stderr = json.loads(output.strip().splitlines()[-1]), output
    assert summary["torn_line_dropped"] is True and "dropped a torn last line" in stderr
    assert summary["episodes_skipped"] == len(complete) - 1
    assert summary["episodes_done"] == episodes - len(complete) + 1
    _assert_pids_gone(pid_dir)

    final = _lines(trajectories)
    assert len(final) == episodes and all(line.endswith(b"\n") for line in final)
    records = [TrajectoryRecord.model_validate_json(line) for line in final]
    indices = [r.extra["episode"] for r in records]
    assert sorted(indices) == list(range(episodes)), "every episode exactly once"
    assert final[: len(complete) - 1] == complete[:-1], "resumes only append"
    redone = next(r for r in records if r.extra["episode"] == victim_episode)
    assert redone.reward == json.loads(victim)["reward"]
    env = ProductResearchEnv(catalog=world_dir, split="train")
    try:  # every reward is the one an uninterrupted heuristic episode earns
        expected = {i: run_episode(env, HeuristicResearcher(), seed + i, t).reward for i, t in enumerate(tasks)}
    finally:
        env.close()
    assert {r.extra["episode"]: r.reward for r in records} == expected


def test_workers_busy_in_an_episode_exit_when_the_runner_is_killed(world_dir: Path, tmp_path: Path) -> None:
    """A worker deep in a long episode (a model call) must not outlive a SIGKILL-ed runner by minutes."""
    tasks = _tasks(world_dir, "train", 4, seed=9)
    pid_dir, marker, out = tmp_path / "pids", tmp_path / "hang", tmp_path / "run"
    pid_dir.mkdir()
    marker.touch()
    config = RunConfig(catalog=str(world_dir), episodes=4, workers=2, seed=9,
                       options={"pid_dir": str(pid_dir), "hang_if": str(marker), "hang_s": 120})
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"config": config.model_dump(mode="json"), "out": str(out), "tasks": tasks,
                                "extra": EXTRA}))
    script = tmp_path / "kill_run.py"
    script.write_text(textwrap.dedent(KILL_SCRIPT.format(tests=str(TESTS))))
    proc = subprocess.Popen([sys.executable, str(script), str(spec)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(pid_dir.iterdir())) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(list(pid_dir.iterdir())) == 2, "both workers should be inside an episode"
    _assert_pids_gone(pid_dir, timeout=5.0)
    marker.unlink()
    summary = run(config, out, heuristic_episode, tasks, EXTRA, progress=False)
    assert summary.episodes_done == 4 and len(read_trajectories(out)) == 4


def test_resume_refuses_a_changed_config_model_or_catalog(world_dir: Path, tmp_path: Path) -> None:
    tasks = _tasks(world_dir, "train", 3, seed=2)
    config = RunConfig(catalog=str(world_dir), episodes=3, seed=2, mode="heuristic")
    out = tmp_path / "run"
    run(config, out, heuristic_episode, tasks, EXTRA, progress=False)
    before = _lines(out / TRAJECTORIES)

    with pytest.raises(RunConfigChanged, match=r"config\.seed: 2 -> 3") as changed:
        run(config.model_copy(update={"seed": 3}), out, heuristic_episode, tasks, EXTRA, progress=False)
    assert changed.value.keys == ["config.seed", "seeds"]
    with pytest.raises(RunConfigChanged, match=r"manifest_extra\.catalog_hash") as changed:
        run(config, out, heuristic_episode, tasks, {**EXTRA, "catalog_hash": "beef"}, progress=False)
    assert changed.value.keys == ["manifest_extra.catalog_hash"]
    with pytest.raises(RunConfigChanged, match=r"manifest_extra\.models\.researcher") as changed:
        run(config, out, heuristic_episode, tasks, {**EXTRA, "models": {"researcher": "sha256:1"}}, progress=False)
    with pytest.raises(RunConfigChanged, match=r"config\.options\.temperature"):
        run(config.model_copy(update={"options": {"temperature": 0.7}}), out, heuristic_episode, tasks, EXTRA,
            progress=False)
    assert _lines(out / TRAJECTORIES) == before

    # the worker count may change: it decides speed, not content
    same = run(config.model_copy(update={"workers": 2}), out, heuristic_episode, tasks, EXTRA, progress=False)
    assert (same.episodes_done, same.episodes_skipped) == (0, 3)
    # and where the catalog lies: the folder moved to another machine, its content hash unchanged
    moved = tmp_path / "elsewhere"
    moved.symlink_to(world_dir)
    same = run(config.model_copy(update={"catalog": str(moved)}), out, heuristic_episode, tasks, EXTRA, progress=False)
    assert (same.episodes_done, same.episodes_skipped) == (0, 3)


def test_a_moved_file_resumes_only_where_its_content_hash_is_on_record(world_dir: Path, tmp_path: Path) -> None:
    tasks = _tasks(world_dir, "train", 2, seed=2)
    config = RunConfig(catalog=str(world_dir), episodes=2, seed=2, mode="heuristic", model="/a/model.gguf",
                       options={"adapter": "/a/adapter.gguf"})
    hashes = {**EXTRA, "model_sha256": "m0", "adapter_sha256": "a0"}
    moved = config.model_copy(update={"model": "/b/model.gguf", "options": {"adapter": "/b/adapter.gguf"}})
    out = tmp_path / "run"
    run(config, out, heuristic_episode, tasks, hashes, progress=False)
    same = run(moved, out, heuristic_episode, tasks, hashes, progress=False)
    assert (same.episodes_done, same.episodes_skipped) == (0, 2)
    with pytest.raises(RunConfigChanged) as changed:  # same place, other content
        run(moved, out, heuristic_episode, tasks, {**hashes, "adapter_sha256": "a1"}, progress=False)
    assert changed.value.keys == ["manifest_extra.adapter_sha256"]

    unhashed = tmp_path / "unhashed"  # no content hash on record: the path is all that identifies the file
    run(config, unhashed, heuristic_episode, tasks, EXTRA, progress=False)
    with pytest.raises(RunConfigChanged) as changed:
        run(moved, unhashed, heuristic_episode, tasks, EXTRA, progress=False)
    assert changed.value.keys == ["config.model", "config.options.adapter"]


def test_a_bad_line_before_the_last_is_an_error_not_a_repair(world_dir: Path, tmp_path: Path) -> None:
    tasks = _tasks(world_dir, "train", 4, seed=1)
    config = RunConfig(catalog=str(world_dir), episodes=4, seed=1)
    out = tmp_path / "run"
    run(config, out, heuristic_episode, tasks, EXTRA, progress=False)
    lines = _lines(out / TRAJECTORIES)

    (out / TRAJECTORIES).write_bytes(lines[0] + b'{"half": \n' + b"".join(lines[1:]))
    with pytest.raises(CorruptTrajectories, match=r"trajectories\.jsonl:2: bad record"):
        run(config, out, heuristic_episode, tasks, EXTRA, progress=False)
    (out / TRAJECTORIES).write_bytes(b"".join(lines) + lines[1])
    with pytest.raises(CorruptTrajectories, match=r":5: episode \d is already in the file"):
        run(config, out, heuristic_episode, tasks, EXTRA, progress=False)

    # a complete record whose newline never reached the disk is not committed: dropped and redone, never glued
    (out / TRAJECTORIES).write_bytes(b"".join(lines[:3]) + lines[3].rstrip(b"\n"))
    summary = run(config, out, heuristic_episode, tasks, EXTRA, progress=False)
    assert summary.torn_line_dropped and (summary.episodes_done, summary.episodes_skipped) == (1, 3)
    assert [r.extra["episode"] for r in read_trajectories(out)] == [0, 1, 2, 3]

    # a torn tail (here: NUL bytes after its newline, as a crashed filesystem may leave) is dropped and redone
    (out / TRAJECTORIES).write_bytes(b"".join(lines[:3]) + b"\0" * 40 + b"\n")
    summary = run(config, out, heuristic_episode, tasks, EXTRA, progress=False)
    assert summary.torn_line_dropped and (summary.episodes_done, summary.episodes_skipped) == (1, 3)
    now = _lines(out / TRAJECTORIES)
    assert now[:3] == lines[:3] and len(now) == 4
    redone, original = (TrajectoryRecord.model_validate_json(x[3]) for x in (now, lines))
    assert redone.model_dump(exclude={"timings"}) == original.model_dump(exclude={"timings"})


def test_a_failing_episode_stops_the_run_and_a_resume_finishes_it(world_dir: Path, tmp_path: Path) -> None:
    tasks = _tasks(world_dir, "train", 5, seed=4)
    marker = tmp_path / "fail"
    marker.touch()
    config = RunConfig(catalog=str(world_dir), episodes=5, seed=4,
                       options={"fail_if": str(marker), "fail_episode": 2})
    out = tmp_path / "run"
    with pytest.raises(EpisodeFailed, match="episode 2 .* injected failure"):
        run(config, out, heuristic_episode, tasks, EXTRA, progress=False)
    assert [r.extra["episode"] for r in read_trajectories(out)] == [0, 1]
    marker.unlink()
    summary = run(config, out, heuristic_episode, tasks, EXTRA, progress=False)
    assert (summary.episodes_done, summary.episodes_skipped) == (3, 2)
    assert [r.extra["episode"] for r in read_trajectories(out)] == list(range(5))


def test_a_second_run_on_the_same_folder_is_refused(world_dir: Path, tmp_path: Path) -> None:
    from filelock import FileLock

    tasks = _tasks(world_dir, "train", 2, seed=0)
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from filelock import FileLock; "
                               "lock = FileLock(sys.argv[1]); lock.acquire(); print('held', flush=True); time.sleep(60)",
                               str(out / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked, match="another run is writing"):
            run(RunConfig(catalog=str(world_dir), episodes=2), out, heuristic_episode, tasks, EXTRA, progress=False)
    finally:
        holder.kill()
        holder.wait()
    assert FileLock(out / ".lock", timeout=1).acquire()  # a killed holder leaves no stale lock
