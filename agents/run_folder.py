"""A run folder's files: the manifest written once, the append-only trajectories, and the lock.

- `manifest.json` is written once, before the first episode: the run's config, the seed and task of every
  episode, and `manifest_extra` (model file hashes, catalog content hash, env/tool-schema hash, llama.cpp
  build: whatever the caller says decides the output; the thread count rides along), and the engine that
  started the run. A later run on the same folder resumes it only if config and `manifest_extra` are unchanged
  but for `SPEED_KEYS` (workers, threads) and the paths of `HASHED_PATHS` whose content hash it records (a
  run folder may move to another machine); otherwise `check_manifest` raises `RunConfigChanged` naming the
  differing keys.
- `trajectories.jsonl` gets one `TrajectoryRecord` per finished episode, in finishing order (not index order;
  `read_trajectories` sorts), each line flushed and fsync-ed before the next. A line counts once its newline is
  on disk: on resume (`scan`) a torn or unparsable *last* line is reported on stderr and truncated away (its
  episode runs again); any other bad line, an unknown or duplicate episode index, or a record of the wrong task
  is an error, never silently repaired.
- `.lock` keeps a second run off the folder while one is writing (an OS lock, so a killed run leaves none).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from errno import ENOSYS
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shopgym.schema import TrajectoryRecord

MANIFEST = "manifest.json"
TRAJECTORIES = "trajectories.jsonl"
LOCK = ".lock"
MANIFEST_FORMAT = "shopgym.run/1"
#: keys a resume may change: they decide how fast the run goes, not what it writes (llama.cpp splits a matmul by
#: rows, never inside a dot product, so its output does not depend on threads)
SPEED_KEYS = frozenset({"config.workers", "manifest_extra.n_threads"})
#: file paths a resume may change where the manifest records the file's content hash (key in manifest_extra):
#: then the content decides, not where it lies
HASHED_PATHS = {"config.catalog": "catalog_hash", "config.model": "model_sha256",
                "config.options.adapter": "adapter_sha256"}


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


def new_manifest(config: dict, tasks: list[str], manifest_extra: dict) -> dict:
    """The manifest of a run of `config` (as JSON) over `tasks`; `manifest_extra` must be JSON."""
    return {
        "format": MANIFEST_FORMAT,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "seeds": [config["seed"] + i for i in range(config["episodes"])],
        "tasks": list(tasks),
        "manifest_extra": _jsonable(manifest_extra),
    }


def check_manifest(path: Path, fresh: dict) -> None:
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise RunError(f"{path} is unreadable ({error}); it is written once at the start of a run, so this "
                       "folder was not made by this runner or was damaged; use a new output folder") from error
    hashed = {key for key, hash_key in HASHED_PATHS.items()
              if hash_key in fresh["manifest_extra"] and hash_key in (old.get("manifest_extra") or {})}
    diffs = [diff for section in ("config", "manifest_extra")
             for diff in _differences(old.get(section, {}), fresh[section], section)
             if diff[0] not in SPEED_KEYS | hashed]
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


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
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


def _parse_line(raw: bytes, tasks: list[str]) -> tuple[int, TrajectoryRecord]:
    record = TrajectoryRecord.model_validate_json(raw)
    episode = record.extra.get("episode")
    if not isinstance(episode, int) or isinstance(episode, bool) or not 0 <= episode < len(tasks):
        raise ValueError(f"extra.episode is {episode!r}, not an episode index of this run (0..{len(tasks) - 1})")
    if record.task_id != tasks[episode]:
        raise ValueError(f"episode {episode} is task {record.task_id!r} but this run gives it {tasks[episode]!r}")
    return episode, record


def scan(path: Path, tasks: list[str]) -> tuple[set[int], bool]:
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


def lock_folder(out_dir: Path):
    """Hold `out_dir`'s lock (None where the filesystem has no locks: a warning says so); raises RunLocked."""
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
