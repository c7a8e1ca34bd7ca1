"""`gym.make` with no arguments: a default world built once, atomically, even when processes race."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RACE = "from shopgym.envs.default_world import default_world; print(default_world())"


def test_racing_processes_build_one_default_world_and_the_readme_example_runs(tmp_path: Path) -> None:
    env = {**os.environ, "SHOPGYM_CACHE": str(tmp_path / "cache")}
    racers = [subprocess.Popen([sys.executable, "-c", RACE], env=env, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
              for _ in range(3)]
    paths = {r.communicate()[0].strip() for r in racers}
    assert all(r.returncode == 0 for r in racers)
    assert len(paths) == 1
    world = Path(paths.pop())
    assert (world / "catalog.db").exists()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted([world.name, world.name + ".lock"])
    example = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], env=env, capture_output=True,
                             text=True, cwd=tmp_path)
    assert example.returncode == 0, example.stderr
    assert "'total'" in example.stdout
