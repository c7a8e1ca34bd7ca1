"""Synthesis runs: many episodes over parallel workers, appended to one JSONL file, resumable after a kill.

`run` owns an output folder (`run_folder`: manifest, trajectories, lock) and writes it alone.

Episode i runs `episode_fn(config, i, tasks[i])` with seed `config.seed + i`. The `local` engine runs it here,
or with `workers > 1` in a pool of "spawn" processes (safe with llama.cpp's threads); the `ray` engine runs it
on Ray actors (`ray_engine`). Either way `episode_fn` must be a top-level function, and should cache its
env/model per process; local workers exit when the parent dies, even by SIGKILL. An episode that raises stops
the run (what was written stays; a resume retries it). The engine decides speed, never content: a run started
on one engine resumes on the other.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import multiprocessing.connection
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shopgym.schema import TrajectoryRecord

from .run_folder import (MANIFEST, TRAJECTORIES, CorruptTrajectories, RunError, check_manifest, fsync_dir,
                         lock_folder, new_manifest, scan, write_atomic)

#: `timings` keys read as generated tokens (first present wins), for tokens/s
TOKEN_KEYS = ("tokens", "generated_tokens", "tokens_generated")


class RunConfig(BaseModel):
    """Everything that decides a run's content (and `workers`, which only decides its speed)."""

    model_config = ConfigDict(extra="forbid")

    catalog: str | None = None
    split: str = "train"
    episodes: int = Field(ge=1)
    workers: int = Field(default=1, ge=1)
    seed: int = 0
    mode: str = "heuristic"
    model: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class EngineSpec(BaseModel):
    """Where episodes run: `local` (this machine's processes) or `ray` (actors on a Ray cluster)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["local", "ray"] = "local"
    #: ray only: a running cluster (`host:port`, `ray://host:port` or `auto`); None starts one for the run
    address: str | None = None
    #: ray only: GPUs each actor reserves (0.25: four actors share a GPU); Ray hides GPUs from actors that
    #: reserve none
    gpus_per_worker: float = Field(default=0.0, ge=0.0)

    @model_validator(mode="after")
    def _ray_options_need_ray(self) -> EngineSpec:
        if self.name != "ray" and (self.address is not None or self.gpus_per_worker):
            raise ValueError(f"a Ray address and GPUs per worker apply to the ray engine, not {self.name}")
        return self


class RunSummary(BaseModel):
    """What one call of `run` did. Rates count this call's episodes over this call's wall time."""

    out_dir: Path
    manifest: Path
    trajectories: Path
    episodes_total: int
    episodes_done: int
    episodes_skipped: int
    episodes_per_hour: float
    seconds: float
    tokens: int | None = None
    tokens_per_second: float | None = None
    torn_line_dropped: bool
    workers: int
    engine: str = "local"


EpisodeFn = Callable[[RunConfig, int, str], TrajectoryRecord]


class EpisodeFailed(RuntimeError):
    """`episode_fn` raised or returned something that is not a record of its episode (or, on Ray, its actor
    died too often)."""


# ---------------------------------------------------------------- episodes


_WORKER: dict[str, Any] = {}


def _watch_parent() -> None:
    """Exit this worker as soon as the parent is gone (SIGKILL included), so no orphan keeps a model in memory."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        try:
            multiprocessing.connection.wait([parent.sentinel])
        except (OSError, ValueError):
            pid = parent.pid
            while os.getppid() == pid:
                time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def init_worker(episode_fn: EpisodeFn, config: RunConfig) -> None:
    """Make this process run `config`'s episodes with `episode_fn` (every engine's workers start here)."""
    _WORKER["fn"], _WORKER["config"] = episode_fn, config


def _init_pool_worker(episode_fn: EpisodeFn, config: RunConfig) -> None:
    _watch_parent()
    init_worker(episode_fn, config)


def episode_line(item: tuple[int, str]) -> tuple[int, bytes, float]:
    """Run one episode in this worker: (index, the JSON line to append, tokens or NaN)."""
    episode, task_id = item
    try:
        record = _WORKER["fn"](_WORKER["config"], episode, task_id)
    except Exception as error:
        raise EpisodeFailed(f"episode {episode} (task {task_id}) raised {type(error).__name__}: {error}") from error
    if not isinstance(record, TrajectoryRecord):
        raise EpisodeFailed(f"episode {episode}: episode_fn returned {type(record).__name__}, not a TrajectoryRecord")
    if record.task_id != task_id:
        raise EpisodeFailed(f"episode {episode}: record is for task {record.task_id!r}, asked for {task_id!r}")
    if record.extra.setdefault("episode", episode) != episode:
        raise EpisodeFailed(f"episode {episode}: record says extra.episode={record.extra['episode']!r}")
    tokens = next((record.timings[k] for k in TOKEN_KEYS if k in record.timings), math.nan)
    return episode, (record.model_dump_json() + "\n").encode(), tokens


class LocalEngine:
    """Episodes in this process (one worker) or in a pool of spawned processes on this machine."""

    def describe(self) -> dict:
        return {"name": "local", "cpus": os.cpu_count()}

    def results(self, config: RunConfig, episode_fn: EpisodeFn, todo: list[tuple[int, str]],
                workers: int) -> Iterator[tuple[int, bytes, float]]:
        if workers == 1:
            init_worker(episode_fn, config)
            try:
                yield from map(episode_line, todo)
            finally:
                _WORKER.clear()
            return
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers, initializer=_init_pool_worker, initargs=(episode_fn, config)) as pool:
            yield from pool.imap_unordered(episode_line, todo, chunksize=1)


@contextmanager
def _engine(spec: EngineSpec, workers: int) -> Iterator[Any]:
    if spec.name == "local":
        yield LocalEngine()
        return
    from .ray_engine import ray_engine  # Ray is an optional extra, imported only when chosen

    with ray_engine(spec.address, workers, spec.gpus_per_worker) as engine:
        yield engine


def run(config: RunConfig, out_dir: Path, episode_fn: EpisodeFn, tasks: list[str], manifest_extra: dict,
        progress: bool = True, engine: EngineSpec = EngineSpec()) -> RunSummary:
    """Run (or resume) every episode of `config` not yet in `out_dir`; see the module docstring."""
    from tqdm import tqdm

    started = time.perf_counter()
    tasks = list(tasks)
    if len(tasks) != config.episodes:
        raise ValueError(f"{len(tasks)} tasks for {config.episodes} episodes; give one task per episode")
    try:
        fresh = new_manifest(config.model_dump(mode="json"), tasks, manifest_extra)
    except TypeError as error:
        raise ValueError(f"manifest_extra must be JSON: {error}") from error
    if config.workers > 1 or engine.name != "local":
        try:
            pickle.dumps(episode_fn)
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            raise ValueError(f"episode_fn {episode_fn!r} cannot go to worker processes ({error}); make it a "
                             "top-level function of an importable module") from error

    out_dir = Path(out_dir)
    manifest, trajectories = out_dir / MANIFEST, out_dir / TRAJECTORIES
    with _engine(engine, config.workers) as pool:  # a cluster that cannot be reached or hold the workers fails here,
        # before anything is written
        out_dir.mkdir(parents=True, exist_ok=True)
        lock = lock_folder(out_dir)
        try:
            if manifest.exists():
                check_manifest(manifest, fresh)
            elif trajectories.exists() and trajectories.stat().st_size:
                raise RunError(f"{trajectories} exists without {MANIFEST}; this folder was not started by this "
                               "runner, so it cannot be resumed: use a new output folder")
            else:  # the engine that started the run is on record; a resume may use another
                write_atomic(manifest, json.dumps({**fresh, "engine": pool.describe()}, indent=2, sort_keys=True)
                              + "\n")
            done, torn = scan(trajectories, tasks)
            todo = [(i, tasks[i]) for i in range(config.episodes) if i not in done]
            workers = max(1, min(config.workers, len(todo)))

            written, tokens, token_records = 0, 0.0, 0
            bar = tqdm(total=config.episodes, initial=len(done), desc="episodes", unit="ep", file=sys.stderr,
                       disable=not progress, dynamic_ncols=True)
            try:
                with trajectories.open("ab") as out:
                    if out.tell() == 0:
                        fsync_dir(out_dir)
                    for episode, line, episode_tokens in pool.results(config, episode_fn, todo, workers) if todo \
                            else ():
                        if episode in done:  # cannot happen: each engine yields each index of todo once
                            raise CorruptTrajectories(f"episode {episode} finished twice; refusing to write it again")
                        out.write(line)
                        out.flush()
                        os.fsync(out.fileno())
                        done.add(episode)
                        written += 1
                        if not math.isnan(episode_tokens):
                            tokens, token_records = tokens + episode_tokens, token_records + 1
                        elapsed = time.perf_counter() - started
                        postfix = {"ep/h": f"{written / elapsed * 3600:.0f}"}
                        if token_records:
                            postfix["tok/s"] = f"{tokens / elapsed:.1f}"
                        bar.set_postfix(postfix, refresh=False)
                        bar.update(1)
            finally:
                bar.close()
        finally:
            if lock is not None:
                lock.release()

    seconds = time.perf_counter() - started
    return RunSummary(
        out_dir=out_dir, manifest=manifest, trajectories=trajectories, episodes_total=config.episodes,
        episodes_done=written, episodes_skipped=config.episodes - len(todo),
        episodes_per_hour=round(written / seconds * 3600, 1) if written else 0.0, seconds=round(seconds, 3),
        tokens=int(tokens) if token_records else None,
        tokens_per_second=round(tokens / seconds, 2) if token_records else None,
        torn_line_dropped=torn, workers=workers, engine=engine.name,
    )
