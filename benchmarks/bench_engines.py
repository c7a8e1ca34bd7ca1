"""Ray's overhead: the same run on the local engine and on the ray engine (local cluster), with 1 and 2 workers.

    python benchmarks/bench_engines.py --catalog DIR --episodes 8 [--mode single|supervised]

Every run goes through `shopgym.agents.generate.generate` on the same tasks and seeds, one after the other
in this process (never side by side: llama.cpp threads must not oversubscribe the cores); each run loads its
model afresh (the local engine's in-process cache is cleared), so both engines pay the same loads. Reports
episodes per hour of each run, the ray/local ratio per worker count, Ray's overhead per episode, the time to
start and stop a local Ray instance, and whether both engines wrote the same records (they should: the
engine decides speed, never content). Writes `benchmarks/out/engines.json`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from shopgym.agents import generate as generate_module
from shopgym.agents.generate import generate
from shopgym.agents.ray_engine import import_ray
from shopgym.agents.run_folder import read_trajectories
from shopgym.agents.runner import EngineSpec

OUT = Path(__file__).parent / "out"


def ray_start_stop_seconds() -> float:
    ray = import_ray()
    start = time.perf_counter()
    ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray.shutdown()
    return round(time.perf_counter() - start, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--mode", default="single", choices=["single", "supervised"])
    parser.add_argument("--split", default="test")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rows, same = [], True
    with tempfile.TemporaryDirectory() as scratch:
        for workers in (1, 2):
            seconds, texts = {}, {}
            for engine in ("local", "ray"):
                generate_module._worker_state.cache_clear()  # a fresh model load per run, as a Ray actor has
                out = Path(scratch) / f"{engine}-{workers}"
                start = time.perf_counter()
                generate(args.catalog, args.split, args.episodes, workers, args.seed, None, args.mode, out,
                         progress=False, engine=EngineSpec(name=engine))
                seconds[engine] = time.perf_counter() - start
                texts[engine] = [(r.task_id, [m.model_dump_json() for m in r.messages], r.reward)
                                 for r in read_trajectories(out)]
                print(f"{engine} x{workers}: {seconds[engine]:.1f} s", flush=True)
            same &= texts["local"] == texts["ray"]
            rate = {e: round(args.episodes / s * 3600, 1) for e, s in seconds.items()}
            rows.append({"workers": workers, "local_episodes_per_hour": rate["local"],
                         "ray_episodes_per_hour": rate["ray"], "ratio": round(rate["ray"] / rate["local"], 3),
                         "overhead_s_per_episode": round((seconds["ray"] - seconds["local"]) / args.episodes, 2),
                         "local_s": round(seconds["local"], 1), "ray_s": round(seconds["ray"], 1)})
    result = {"episodes": args.episodes, "mode": args.mode, "split": args.split, "seed": args.seed, "rows": rows,
              "ray_start_stop_s": ray_start_stop_seconds(), "same_records": same}
    OUT.mkdir(exist_ok=True)
    (OUT / "engines.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
