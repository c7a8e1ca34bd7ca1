"""Same seed and config, same content hash, in separate processes with different hash seeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _build(out: Path, seed: int, hash_seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-m", "shopgym.cli", "catalog", "build", "--seed", str(seed), "--products", "2000",
         "--out", str(out), "--search", "fts5", "--json", "--quiet"],
        env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_content_hash_is_reproducible_across_processes(tmp_path: Path) -> None:
    first = _build(tmp_path / "a", 7, "1")
    second = _build(tmp_path / "b", 7, "4242")
    other = _build(tmp_path / "c", 8, "1")
    assert first["content_hash"] == second["content_hash"]
    assert other["content_hash"] != first["content_hash"]
    stats = subprocess.run([sys.executable, "-m", "shopgym.cli", "catalog", "stats", str(tmp_path / "a"), "--json"],
                           capture_output=True, text=True, check=True)
    document = json.loads(stats.stdout)
    assert document["content_hash"] == first["content_hash"]
    for key in ("products", "reviews", "pages", "shoppers", "tasks", "categories"):
        assert document[key] > 0, key


def test_ids_are_namespaced_per_world(tmp_path: Path) -> None:
    from shopgym.catalog.seeding import world_tag

    assert world_tag(7) != world_tag(8)
    assert len({world_tag(s) for s in range(200)}) == 200
