"""Worker processes vs threads: the same run with 1 process of all cores' threads and with W processes.

    python benchmarks/bench_workers.py --catalog DIR --episodes 8 --workers 2 [--mode single|supervised]

Both runs go through `shopgym.agents.generate.generate` on the same tasks and seeds, one after the
other in this process (never side by side: llama.cpp threads must not oversubscribe the cores).
Reports episodes per hour of each, their ratio, and whether the records' text is identical (it
should be: llama.cpp's output does not depend on the thread count). Writes `benchmarks/out/workers.json`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from shopgym.agents.generate import generate
from shopgym.agents.run_folder import read_trajectories

OUT = Path(__file__).parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mode", default="single", choices=["single", "supervised"])
    parser.add_argument("--split", default="test")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    if args.workers < 2:
        parser.error("--workers must be at least 2 (it is compared with 1)")
    rates, texts = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        for workers in (1, args.workers):
            out = Path(scratch) / f"workers-{workers}"
            start = time.perf_counter()
            generate(args.catalog, args.split, args.episodes, workers, args.seed, None, args.mode, out,
                     progress=False)
            seconds = time.perf_counter() - start
            rates[workers] = round(args.episodes / seconds * 3600, 1)
            texts[workers] = {r.task_id: [m.model_dump_json() for m in r.messages]
                              for r in read_trajectories(out / "trajectories.jsonl")}
            print(f"{workers} worker(s): {seconds:.1f} s, {rates[workers]} episodes/h", flush=True)
    result = {"episodes": args.episodes, "mode": args.mode, "episodes_per_hour": rates,
              "ratio": round(rates[args.workers] / rates[1], 2), "same_text": texts[1] == texts[args.workers]}
    OUT.mkdir(exist_ok=True)
    (OUT / "workers.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
