"""`shopgym generate`: synthesis runs over distinct tasks, in worker processes, resumable after a kill."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from shopgym.envs import ProductResearchEnv
from shopgym.envs.tools import tool_schema_hash
from shopgym.schema import TrajectoryRecord

from .backends import LlamaBackend, embedded_model_path, threads_per_worker
from .evaluate import distinct_tasks
from .runner import RunConfig, RunSummary, run
from .synthesis import run_episode


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def _worker_state(catalog: str | None, model: str | None, workers: int) -> tuple:
    """One env, one truth env (harness-only scoring of the User Agent) and one backend per worker process."""
    env = ProductResearchEnv(catalog=catalog)
    truth = ProductResearchEnv(catalog=catalog, evaluation=True)
    return env, truth, LlamaBackend(model, workers=workers)


def synthesis_episode(config: RunConfig, index: int, task_id: str) -> TrajectoryRecord:
    env, truth, backend = _worker_state(config.catalog, config.model, config.workers)
    record = run_episode(env, backend, task_id, config.seed + index, mode=config.mode, truth_env=truth,
                         critique=bool(config.options.get("critique", False)))
    record.extra["episode"] = index
    return record


def generate(catalog: str | None, split: str, episodes: int, workers: int, seed: int, model: str | None, mode: str,
             out: Path, critique: bool = False, progress: bool = True) -> RunSummary:
    """Episode i runs with seed `seed + i` on the i-th of `episodes` distinct tasks of `split`."""
    if mode not in ("supervised", "single"):
        raise ValueError(f"unknown mode {mode!r}; valid: supervised, single")
    env = ProductResearchEnv(catalog=catalog)
    try:
        tasks = distinct_tasks(env, split, episodes, seed)
        catalog_hash = env.reader.content_hash
    finally:
        env.close()
    import llama_cpp

    model_path = Path(model) if model else embedded_model_path()
    config = RunConfig(catalog=catalog, split=split, episodes=episodes, workers=workers, seed=seed, mode=mode,
                       model=str(model_path) if model else None, options={"critique": critique})
    extra = {"catalog_hash": catalog_hash, "tool_schema_hash": tool_schema_hash(),
             "model_sha256": file_sha256(model_path), "model_file": model_path.name,
             "llama_cpp_python": llama_cpp.__version__, "n_threads": threads_per_worker(workers)}
    return run(config, out, synthesis_episode, tasks, extra, progress=progress)
