"""Env benchmark: overhead of `env.step` over the bare catalog call, per tool; steps/s; worker memory.

    python benchmarks/bench_env.py --products 2000 100000

For each size it builds a world (Whoosh, the default backend), then times each tool through
`env.step` and the same catalog call made directly, side by side on the same arguments; then
heuristic steps/s with grading on up to 200 test tasks, after one pass over the train tasks has loaded
the truth tables and search columns (timed apart). Worker memory is the peak RSS of a fresh process that makes the env
and runs the heuristic once on every task.
Writes `benchmarks/out/env.json` and prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shopgym.agents.baselines import HeuristicResearcher
from shopgym.agents.evaluate import run_episode
from shopgym.catalog import SearchFilters
from shopgym.catalog.build import build_world
from shopgym.catalog.world import WorldConfig
from shopgym.envs import ProductResearchEnv

OUT = Path(__file__).parent / "out"
REPEATS = 200


def p50_ms(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return float(np.percentile(samples, 50) * 1000)


def tool_overheads(env: ProductResearchEnv) -> dict[str, dict[str, float]]:
    env.reset(seed=0, options={"split": "test"})
    reader = env.reader
    category = env.episode.category
    products = reader.search_products("", SearchFilters(category=category), page_size=5).products
    pid, other = products[0].id, products[1].id
    page = reader.search_pages(category.replace("_", " "))[0].id
    cases = {
        "search_products": ({"query": "battery", "category": category},
                            lambda: reader.search_products("battery", SearchFilters(category=category), page_size=5)),
        "view_product": ({"product_id": pid}, lambda: reader.get_product(pid)),
        "read_reviews": ({"product_id": pid}, lambda: reader.list_reviews(pid, page_size=3)),
        "compare_products": ({"product_ids": [pid, other]}, lambda: reader.compare_products([pid, other])),
        "search_web": ({"query": "buying guide"}, lambda: reader.search_pages("buying guide", limit=5)),
        "open_page": ({"doc_id": page}, lambda: reader.get_page(page)),
    }
    out = {}
    for tool, (arguments, bare) in cases.items():
        action = {"tool": tool, "arguments": arguments}

        def through_env() -> None:
            if env.episode.steps_left < 2:
                env.reset(seed=0, options={"split": "test"})
            env.step(action)

        env_ms, bare_ms = p50_ms(through_env), p50_ms(bare)
        out[tool] = {"env_p50_ms": round(env_ms, 4), "bare_p50_ms": round(bare_ms, 4),
                     "overhead_ms": round(env_ms - bare_ms, 4), "ratio": round(env_ms / bare_ms, 2)}
    return out


def steps_per_second(env: ProductResearchEnv, episodes: int = 200) -> dict[str, float]:
    """Heuristic steps/s with grading on test tasks, after one pass over the train split (an RL epoch):
    what a long RL run sees once every category's truth table and the spec columns its filters name are
    loaded; that first pass is timed apart."""
    start = time.perf_counter()
    for i, task in enumerate(sorted(t for t, info in env.tasks.items() if info.split == "train")):
        run_episode(env, HeuristicResearcher(), i, task)
    warm_up = time.perf_counter() - start
    start, steps = time.perf_counter(), 0
    for i, task in enumerate(sorted(t for t, info in env.tasks.items() if info.split == "test")[:episodes]):
        steps += run_episode(env, HeuristicResearcher(), i, task).steps
    return {"steps_per_s": round(steps / (time.perf_counter() - start), 1), "warm_up_s": round(warm_up, 2)}


_WORKER = """
import sys
from shopgym.agents.baselines import HeuristicResearcher
from shopgym.agents.evaluate import run_episode
from shopgym.envs import ProductResearchEnv
env = ProductResearchEnv(catalog=sys.argv[1], evaluation=True)
for i, task in enumerate(sorted(env.tasks)):  # every task once: every category and spec column loaded
    run_episode(env, HeuristicResearcher(), i, task)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent across exec
print(int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024)
"""


def worker_rss_mb(world: Path) -> float:
    out = subprocess.run([sys.executable, "-c", _WORKER, str(world)], check=True, capture_output=True, text=True)
    return round(float(out.stdout.strip()), 1)


def bench(products: int, work: Path) -> dict:
    world = work / f"world-{products}"
    build_world(WorldConfig(seed=1, products=products), world, search_backend="whoosh", progress=True)
    env = ProductResearchEnv(catalog=world, evaluation=True, max_steps=10_000)
    result = {"products": products, "tools": tool_overheads(env)}
    env.close()
    env = ProductResearchEnv(catalog=world, evaluation=True)
    speed = steps_per_second(env)
    result["heuristic_steps_per_s"], result["warm_up_s"] = speed["steps_per_s"], speed["warm_up_s"]
    env.close()
    result["worker_rss_mb"] = worker_rss_mb(world)
    shutil.rmtree(world)
    return result


def markdown(results: list[dict]) -> str:
    lines = ["| products | tool | env.step p50 ms | bare call p50 ms | overhead ms | ratio |", "|---|---|---|---|---|---|"]
    for r in results:
        for tool, t in r["tools"].items():
            lines.append(f"| {r['products']:,} | {tool} | {t['env_p50_ms']:.3f} | {t['bare_p50_ms']:.3f} | "
                         f"{t['overhead_ms']:.3f} | {t['ratio']:.2f} |")
    lines += ["", "| products | heuristic steps/s (grading included) | train pass s (loads included) | "
                  "worker peak RSS MB |", "|---|---|---|---|"]
    lines += [f"| {r['products']:,} | {r['heuristic_steps_per_s']:,.0f} | {r['warm_up_s']} | {r['worker_rss_mb']} |"
              for r in results]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, nargs="+", default=[2000, 100000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        results = [bench(n, Path(work)) for n in args.products]
    OUT.mkdir(exist_ok=True)
    (OUT / "env.json").write_text(json.dumps(results, indent=2))
    print(markdown(results))


if __name__ == "__main__":
    main()
