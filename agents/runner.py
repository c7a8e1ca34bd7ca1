"""Synthesis runs: many episodes over parallel workers, appended to one JSONL file, resumable after a kill.

`run` owns an output folder:

- `manifest.json` is written once, before the first episode: the run's config, the seed and task of every
  episode, and `manifest_extra` (model file hashes, catalog content hash, env/tool-schema hash, llama.cpp
  build: whatever the caller says decides the output; the thread count rides along). A later `run` on the same folder
  resumes it only if config and `manifest_extra` are unchanged but for `RESUMABLE_CHANGES` (workers,
  threads); otherwise it raises `RunConfigChanged` naming the differing keys.
- `trajectories.jsonl` gets one `TrajectoryRecord` per finished episode, in finishing order (not index order;
  `read_trajectories` sorts), each line flushed and fsync-ed before the next. Only the parent writes. A line
  counts once its newline is on disk: on resume a torn or unparsable *last* line is reported on stderr and
  truncated away (its episode runs again); any other bad line, an unknown or duplicate episode index, or a
  record of the wrong task is an error, never silently repaired.
- `.lock` keeps a second run off the folder while one is writing (an OS lock, so a killed run leaves none).

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
from datetime import datetime, timezone
from errno import ENOSYS
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shopgym.schema import TrajectoryRecord

MANIFEST = "manifest.json"
TRAJECTORIES = "trajectories.jsonl"
LOCK = ".lock"
MANIFEST_FORMAT = "shopgym.run/1"
#: config or manifest_extra keys a resume may change: they decide how fast the run goes, not what it writes
#: (llama.cpp splits a matmul by rows, never inside a dot product, so its output does not depend on threads)
RESUMABLE_CHANGES = frozenset({"workers", "n_threads"})
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
    #: ray only: GPUs each actor reserves (0.25: four actors share a GPU); Ray hides GPUs from actors without
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


class RunError(ValueError):
    """A run cannot start or go on; the message says why and what to do."""


class RunConfigChanged(RunError):
    """The output folder was started with another config, model or catalog."""

    def __init__(self, message: str, keys: list[str] | None = None) -> None:
        super().__init__(message)
        self.keys = keys or []

    def __reduce__(self) -> tuple:
        return type(self), (self.args[0], self.keys)


class CorruptTrajectories(RunError):
    """A line other than the last one of trajectories.jsonl is bad: the runner will not guess."""


class RunLocked(RunError):
    """Another run is writing to the same output folder."""


class EpisodeFailed(RuntimeError):
    """`episode_fn` raised or returned something that is not a record of its episode."""


# ---------------------------------------------------------------- manifest


def _jsonable(value: Any) -> Any:
    """`value` as it reads back from JSON (tuples become lists, keys strings); raises if it is not JSON."""
    return json.loads(json.dumps(value, sort_keys=True))


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_ABSENT = "(absent)"


def _differences(old: Any, new: Any, prefix: str) -> list[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            out += _differences(old.get(key, _ABSENT), new.get(key, _ABSENT), f"{prefix}.{key}")
        return out
    return [] if old == new else [(prefix, old, new)]


def _manifest(config: RunConfig, tasks: list[str], manifest_extra: dict) -> dict:
    return {
        "format": MANIFEST_FORMAT,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config.model_dump(mode="json"),
        "seeds": [config.seed + i for i in range(config.episodes)],
        "tasks": list(tasks),
        "manifest_extra": _jsonable(manifest_extra),
    }


def _check_manifest(path: Path, fresh: dict) -> None:
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise RunError(f"{path} is unreadable ({error}); it is written once at the start of a run, so this "
                       "folder was not made by this runner or was damaged; use a new output folder") from error
    diffs: list[tuple[str, Any, Any]] = []
    for section in ("config", "manifest_extra"):
        before, after = old.get(section, {}), fresh[section]
        if isinstance(before, dict):
            before = {k: v for k, v in before.items() if k not in RESUMABLE_CHANGES}
            after = {k: v for k, v in after.items() if k not in RESUMABLE_CHANGES}
        diffs += _differences(before, after, section)
    details = [f"{key}: {_short(o)} -> {_short(n)}" for key, o, n in diffs]
    for section in ("seeds", "tasks"):  # follow from config and catalog; compared whole
        if old.get(section) != fresh[section]:
            diffs.append((section, None, None))
            details.append(f"{section} differ")
    if diffs:
        raise RunConfigChanged(
            f"{path.parent} holds a run made with different settings ({'; '.join(details)}); a resume must use "
            "the same config, model and catalog: restore them or write to a new output folder",
            [key for key, _, _ in diffs])


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------- existing output


def _parse_line(raw: bytes, tasks: list[str]) -> tuple[int, TrajectoryRecord]:
    record = TrajectoryRecord.model_validate_json(raw)
    episode = record.extra.get("episode")
    if not isinstance(episode, int) or isinstance(episode, bool) or not 0 <= episode < len(tasks):
        raise ValueError(f"extra.episode is {episode!r}, not an episode index of this run (0..{len(tasks) - 1})")
    if record.task_id != tasks[episode]:
        raise ValueError(f"episode {episode} is task {record.task_id!r} but this run gives it {tasks[episode]!r}")
    return episode, record


def _scan(path: Path, tasks: list[str]) -> tuple[set[int], bool]:
    """Episode indices already in `path`; drops a torn last line (returns True then). Streams the file."""
    if not path.exists():
        return set(), False
    done: set[int] = set()
    bad: tuple[int, int, str, Exception] | None = None  # line number, byte offset, reason, error
    offset = 0
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            if bad is not None:
                if raw.strip():  # a bad line with a good one after it: not a torn tail
                    line, _, reason, error = bad
                    raise CorruptTrajectories(
                        f"{path}:{line}: bad record ({reason}); only a torn last line is repaired automatically, "
                        "so fix or remove this line by hand") from error
                continue
            try:
                if not raw.endswith(b"\n"):
                    raise ValueError("no newline: the write was cut off")
                episode, _ = _parse_line(raw, tasks)
            except (ValueError, ValidationError) as error:
                bad = (number, offset, str(error).splitlines()[0], error)
                continue
            if episode in done:
                raise CorruptTrajectories(f"{path}:{number}: episode {episode} is already in the file; the runner "
                                          "never writes duplicates, so this file was edited or shared by two runs")
            done.add(episode)
            offset += len(raw)
        size = lines.tell()
    if bad is None:
        return done, False
    line, offset, reason, _ = bad
    with path.open("r+b") as out:
        out.truncate(offset)
        out.flush()
        os.fsync(out.fileno())
    print(f"shopgym: {path}:{line}: dropped a torn last line ({size - offset} bytes: {reason}); "
          "its episode will run again", file=sys.stderr)
    return done, True


def read_trajectories(path: str | Path) -> list[TrajectoryRecord]:
    """The records of a run folder (or its trajectories.jsonl), sorted by episode index."""
    path = Path(path)
    path = path / TRAJECTORIES if path.is_dir() else path
    records = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if line.strip():
            try:
                records.append(TrajectoryRecord.model_validate_json(line))
            except ValidationError as error:
                raise CorruptTrajectories(f"{path}:{number}: not a trajectory record ({error.errors()[0]['msg']})") \
                    from None
    if all(isinstance(r.extra.get("episode"), int) for r in records):
        records.sort(key=lambda r: r.extra["episode"])
    return records  # records from elsewhere (no episode index) keep their file order


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


def _lock(out_dir: Path):
    from filelock import FileLock, Timeout

    lock = FileLock(out_dir / LOCK, timeout=0, fallback_to_soft=False)
    try:
        lock.acquire()
    except Timeout as error:
        raise RunLocked(f"another run is writing to {out_dir} (it holds {out_dir / LOCK}); wait for it or "
                        "stop it first") from error
    except OSError as error:
        if error.errno != ENOSYS:
            raise
        print(f"shopgym: warning: {out_dir} does not support file locks; make sure no other run writes there",
              file=sys.stderr)
        return None
    return lock


def run(config: RunConfig, out_dir: Path, episode_fn: EpisodeFn, tasks: list[str], manifest_extra: dict,
        progress: bool = True, engine: EngineSpec = EngineSpec()) -> RunSummary:
    """Run (or resume) every episode of `config` not yet in `out_dir`; see the module docstring."""
    from tqdm import tqdm

    started = time.perf_counter()
    tasks = list(tasks)
    if len(tasks) != config.episodes:
        raise ValueError(f"{len(tasks)} tasks for {config.episodes} episodes; give one task per episode")
    try:
        fresh = _manifest(config, tasks, manifest_extra)
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
        lock = _lock(out_dir)
        try:
            if manifest.exists():
                _check_manifest(manifest, fresh)
            elif trajectories.exists() and trajectories.stat().st_size:
                raise RunError(f"{trajectories} exists without {MANIFEST}; this folder was not started by this "
                               "runner, so it cannot be resumed: use a new output folder")
            else:  # the engine that started the run is on record; a resume may use another
                _write_atomic(manifest, json.dumps({**fresh, "engine": pool.describe()}, indent=2, sort_keys=True)
                              + "\n")
            done, torn = _scan(trajectories, tasks)
            todo = [(i, tasks[i]) for i in range(config.episodes) if i not in done]
            workers = max(1, min(config.workers, len(todo)))

            written, tokens, token_records = 0, 0.0, 0
            bar = tqdm(total=config.episodes, initial=len(done), desc="episodes", unit="ep", file=sys.stderr,
                       disable=not progress, dynamic_ncols=True)
            try:
                with trajectories.open("ab") as out:
                    if out.tell() == 0:
                        _fsync_dir(out_dir)
                    for episode, line, episode_tokens in pool.results(config, episode_fn, todo, workers) if todo \
                            else ():
                        if episode in done:  # an engine that ran an episode twice (a retry): written once
                            continue
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
