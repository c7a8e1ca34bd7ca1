"""The Ray engine on a local Ray cluster: the local engine's records, an actor killed mid-episode loses and
duplicates nothing, a killed driver resumes, and bad engine input fails in seconds with one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import test_runner
from processes import SHOPGYM
from test_runner import TESTS, _lines, _tasks, heuristic_episode

from shopgym.agents.run_folder import TRAJECTORIES, read_trajectories
from shopgym.agents.runner import EngineSpec, EpisodeFailed, RunConfig, run

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # as the engine does: nothing leaves the machine
ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
RAY = EngineSpec(name="ray")
EXTRA = {"catalog_hash": "c0ffee"}


@pytest.fixture(autouse=True)
def _episodes_by_value():
    """Ray workers cannot import the tests folder: ship the test episode function by value, without the envs an
    earlier test in this process cached in its module (they hold SQLite connections, which do not pickle)."""
    for env in test_runner._ENVS.values():
        env.close()
    test_runner._ENVS.clear()
    ray.cloudpickle.register_pickle_by_value(test_runner)
    yield
    ray.cloudpickle.unregister_pickle_by_value(test_runner)


def _content(records) -> list[dict]:
    return [r.model_dump(exclude={"timings"}) for r in records]


def test_ray_writes_the_local_records_and_a_killed_actor_loses_nothing(world_dir: Path, tmp_path: Path,
                                                                        capfd) -> None:
    tasks = _tasks(world_dir, "train", 6, seed=5)
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    config = RunConfig(catalog=str(world_dir), split="train", episodes=6, workers=2, seed=5,
                       options={"delay_s": 1.0, "pid_dir": str(pid_dir)})
    killed: list[int] = []

    def kill_the_first_actor_mid_episode() -> None:  # an episode writes its pid, then takes over a second
        deadline = time.monotonic() + 120
        while not any(pid_dir.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.01)
        killed.append(int(next(pid_dir.iterdir()).name))
        os.kill(killed[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_the_first_actor_mid_episode, daemon=True)
    killer.start()
    summary = run(config, tmp_path / "ray", heuristic_episode, tasks, EXTRA, progress=False, engine=RAY)
    killer.join()
    run(config, tmp_path / "local", heuristic_episode, tasks, EXTRA, progress=False)

    assert killed and killed[0] != os.getpid()
    assert (summary.engine, summary.episodes_done, summary.workers) == ("ray", 6, 2)
    raw = _lines(tmp_path / "ray" / TRAJECTORIES)
    assert len(raw) == 6, "an episode was lost or written twice"
    assert _content(read_trajectories(tmp_path / "ray")) == _content(read_trajectories(tmp_path / "local"))
    assert "its Ray actor died" in capfd.readouterr().err
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["engine"]["name"] == "ray" and manifest["engine"]["cpus"] >= 2
    assert manifest["engine"]["nodes"] == 1 and manifest["engine"]["address"] == "local"
    assert json.loads((tmp_path / "local" / "manifest.json").read_text())["engine"]["name"] == "local"

    again = run(config, tmp_path / "ray", heuristic_episode, tasks, EXTRA, progress=False)  # resumes locally
    assert (again.episodes_done, again.episodes_skipped) == (0, 6)


def test_an_episode_that_raises_stops_the_ray_run_with_its_error(world_dir: Path, tmp_path: Path) -> None:
    tasks = _tasks(world_dir, "train", 3, seed=2)
    flag = tmp_path / "fail"
    flag.touch()
    config = RunConfig(catalog=str(world_dir), split="train", episodes=3, seed=2,
                       options={"fail_if": str(flag), "fail_episode": 1})
    with pytest.raises(EpisodeFailed, match="episode 1 .* raised RuntimeError: injected failure"):
        run(config, tmp_path / "run", heuristic_episode, tasks, EXTRA, progress=False, engine=RAY)
    flag.unlink()
    summary = run(config, tmp_path / "run", heuristic_episode, tasks, EXTRA, progress=False, engine=RAY)
    assert summary.episodes_done + summary.episodes_skipped == 3
    assert [r.extra["episode"] for r in read_trajectories(tmp_path / "run")] == [0, 1, 2]


DRIVER = """
import json, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
import ray, test_runner
from test_runner import heuristic_episode
from shopgym.agents.runner import EngineSpec, RunConfig, run

if __name__ == "__main__":
    ray.cloudpickle.register_pickle_by_value(test_runner)
    spec = json.loads(Path(sys.argv[1]).read_text())
    run(RunConfig(**spec["config"]), Path(spec["out"]), heuristic_episode, spec["tasks"], {{}}, progress=False,
        engine=EngineSpec(name="ray"))
"""


def test_a_killed_ray_driver_resumes_without_loss_or_duplicates(world_dir: Path, tmp_path: Path) -> None:
    tasks = _tasks(world_dir, "train", 8, seed=9)
    config = RunConfig(catalog=str(world_dir), split="train", episodes=8, workers=2, seed=9, options={"delay_s": 0.3})
    out = tmp_path / "run"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"config": config.model_dump(mode="json"), "out": str(out), "tasks": tasks}))
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER.format(tests=str(TESTS))))

    with (tmp_path / "killed.log").open("w") as log:  # its own session: the kill takes Ray's helpers with it
        driver = subprocess.Popen([sys.executable, str(script), str(spec)], stdout=log, stderr=log,
                                  start_new_session=True)
    deadline = time.monotonic() + 120
    while len(_lines(out / TRAJECTORIES)) < 2 and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    assert driver.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()[-2000:]
    assert 2 <= len(_lines(out / TRAJECTORIES)) < 8

    done = subprocess.run([sys.executable, str(script), str(spec)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    local = run(config, tmp_path / "local", heuristic_episode, tasks, {}, progress=False)
    assert local.episodes_done == 8
    assert len(_lines(out / TRAJECTORIES)) == 8
    assert _content(read_trajectories(out)) == _content(read_trajectories(tmp_path / "local"))


def _shopgym(*argv: str, env: dict | None = None, prefix: list[str] = SHOPGYM) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def test_an_unreachable_ray_address_fails_in_seconds_naming_it(world_dir: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    started = time.monotonic()
    out = tmp_path / "run"
    result = _shopgym("generate", "--catalog", str(world_dir), "--episodes", "1", "--out", str(out),
                      "--engine", "ray", "--ray-address", f"127.0.0.1:{port}")
    assert time.monotonic() - started < 60  # ray.init alone would wait for minutes
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and f"cannot reach a Ray cluster at 127.0.0.1:{port}" in result.stderr
    assert not out.exists()
    evaluation = _shopgym("evaluate", "--policy", "llm", "--catalog", str(world_dir), "--episodes", "1", "--out",
                          str(out), "--engine", "ray", "--ray-address", f"127.0.0.1:{port}")
    assert evaluation.returncode == 2 and f"cannot reach a Ray cluster at 127.0.0.1:{port}" in evaluation.stderr
    assert not out.exists()


def test_engine_input_errors_are_one_line(world_dir: Path, tmp_path: Path) -> None:
    without_ray = [sys.executable, "-c", "import sys; sys.modules['ray'] = None; from shopgym.cli import main; "
                                         "sys.exit(main(sys.argv[1:]))"]
    cases = [
        (["generate", "--catalog", str(world_dir), "--episodes", "1", "--out", str(tmp_path / "a"), "--engine", "ray"],
         without_ray, "needs Ray, which is not installed: pip install"),
        (["generate", "--catalog", str(world_dir), "--episodes", "1", "--out", str(tmp_path / "b"),
          "--ray-address", "auto"], SHOPGYM, "--ray-address applies to --engine ray"),
        (["evaluate", "--policy", "heuristic", "--catalog", str(world_dir), "--episodes", "1", "--engine", "ray"],
         SHOPGYM, "--engine apply to --policy llm or teacher"),
        (["generate", "--catalog", str(world_dir), "--episodes", "1", "--out", str(tmp_path / "c"), "--engine", "ray",
          "--ray-address", "somewhere:port"], SHOPGYM, "expected host:port"),
        (["generate", "--catalog", str(world_dir), "--episodes", "1", "--out", str(tmp_path / "d"),
          "--gpus-per-worker", "1"], SHOPGYM, "--gpus-per-worker applies to --engine ray"),
        (["generate", "--catalog", str(world_dir), "--episodes", "1", "--out", str(tmp_path / "e"), "--engine", "ray",
          "--gpu-layers", "-1"], SHOPGYM, "needs --gpus-per-worker"),
        (["generate", "--catalog", str(world_dir), "--episodes", "1", "--out", str(tmp_path / "f"), "--engine", "ray",
          "--gpus-per-worker", "0.5", "--gpu-layers", "-1"], SHOPGYM, "the Ray cluster has 0 GPUs"),
        (["generate", "--catalog", str(world_dir), "--episodes", "4", "--workers", "64", "--out", str(tmp_path / "g"),
          "--engine", "ray"], SHOPGYM, "workers of 1 llama.cpp threads need 64"),
    ]
    for argv, prefix, message in cases:
        result = _shopgym(*argv, prefix=prefix)
        assert result.returncode == 2, (argv, result.stderr)
        assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr, \
            result.stderr
    assert not any((tmp_path / name).exists() for name in "abcdefg")
    threads = _shopgym("generate", "--catalog", str(world_dir), "--episodes", "1", "--out", str(tmp_path / "h"),
                       env={"SHOPGYM_THREADS": "many"})
    assert threads.returncode == 2 and "SHOPGYM_THREADS='many'" in threads.stderr and threads.stderr.count("\n") == 1


def test_generate_on_ray_writes_what_the_local_engine_writes(world_dir: Path, tmp_path: Path) -> None:
    """The embedded model at temperature 0 on two actors: the same messages and rewards as two local workers."""
    runs = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        result = _shopgym("generate", "--catalog", str(world_dir), "--episodes", "2", "--seed", "3", "--mode",
                          "single", "--workers", "2", "--engine", engine, "--out", str(out), "--json")
        assert result.returncode == 0, result.stderr[-2000:]
        assert json.loads(result.stdout)["engine"] == engine
        runs[engine] = read_trajectories(out)
    assert [r.extra["episode"] for r in runs["ray"]] == [0, 1]
    for local, on_ray in zip(runs["local"], runs["ray"], strict=True):
        assert (on_ray.task_id, on_ray.seed) == (local.task_id, local.seed)
        assert on_ray.messages == local.messages and on_ray.reward == local.reward
    manifests = [json.loads((tmp_path / e / "manifest.json").read_text()) for e in ("local", "ray")]
    assert manifests[0]["manifest_extra"] == manifests[1]["manifest_extra"]  # one run, resumable on either engine


def test_an_actor_on_a_machine_without_the_world_runs_on_the_shipped_copy(world_dir: Path, tmp_path: Path) -> None:
    """Another machine, simulated: the driver's world path does not exist for the actor, and its cache is empty."""
    from shopgym.agents.ray_engine import EpisodeActor
    from shopgym.envs.shipping import pack_world, world_hash

    tasks = _tasks(world_dir, "train", 2, seed=4)
    elsewhere = tmp_path / "driver-only" / "world"
    config = RunConfig(catalog=str(elsewhere), split="train", episodes=2, seed=4)
    cache = tmp_path / "node-cache"
    digest = world_hash(world_dir)
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             runtime_env={"env_vars": {"SHOPGYM_CACHE": str(cache)}})
    try:
        actor = ray.remote(EpisodeActor).remote(heuristic_episode, config, 1, {})
        world = (str(elsewhere), digest, [ray.put(pack_world(world_dir))])
        lines = ray.get([actor.run.remote((i, task), world) for i, task in enumerate(tasks)])
        model = tmp_path / "model.gguf"
        model.write_bytes(b"a different file at the driver's path")
        stale = ray.remote(EpisodeActor).remote(heuristic_episode, config, 1, {str(model): "0" * 64})
        with pytest.raises(ray.exceptions.RayTaskError, match="not the driver's 000000000000: put the same file"):
            ray.get(stale.run.remote((0, tasks[0]), world))
    finally:
        ray.shutdown()
    (shipped,) = [p for p in (cache / "shipped").iterdir() if p.is_dir()]
    assert world_hash(shipped) == digest and not elsewhere.exists()
    local = run(config.model_copy(update={"catalog": str(world_dir)}), tmp_path / "local", heuristic_episode, tasks,
                EXTRA, progress=False)
    assert local.episodes_done == 2
    from shopgym.schema import TrajectoryRecord

    on_ray = [TrajectoryRecord.model_validate_json(line) for _, line, _ in lines]
    assert _content(on_ray) == _content(read_trajectories(tmp_path / "local"))


def test_a_shipped_world_is_unpacked_once_and_checked(world_dir: Path, tmp_path: Path, monkeypatch) -> None:
    from shopgym.envs.shipping import local_world, pack_world, world_hash

    monkeypatch.setenv("SHOPGYM_CACHE", str(tmp_path / "cache"))
    digest, packed = world_hash(world_dir), pack_world(world_dir)
    assert local_world(world_dir, digest, None) == world_dir  # in place: nothing unpacked
    assert not (tmp_path / "cache").exists()
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="not at .* and was not shipped"):
        local_world(missing, digest, None)
    first = local_world(missing, digest, packed)
    stamp = (first / "catalog.db").stat().st_mtime_ns
    assert local_world(missing, digest, packed) == first and (first / "catalog.db").stat().st_mtime_ns == stamp
    assert local_world(missing, digest, None) == first  # already on this machine: no copy needed
    with pytest.raises(ValueError, match="does not have content hash"):
        local_world(missing, "0" * 64, packed)

