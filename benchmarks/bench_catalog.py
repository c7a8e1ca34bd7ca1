"""Catalog benchmark: build time (generate / store / index), Whoosh vs FTS5 search side by side, memory.

    python benchmarks/bench_catalog.py --products 10000 100000

For each size it builds one world (FTS5), then a Whoosh index over the same rows, and runs the same
queries through both backends in one process. Env-path memory is the peak RSS of a fresh process
that opens a reader and runs the queries. Writes `benchmarks/out/catalog.json` and prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from shopgym.catalog import CatalogReader, SearchFilters, SpecFilter
from shopgym.catalog.build import build_world
from shopgym.catalog.search import PageSearch, ProductSearch, build_search_index, open_search_index
from shopgym.catalog.taxonomy import CATEGORIES, BoolAttr
from shopgym.catalog.world import WorldConfig

OUT = Path(__file__).parent / "out"


def make_queries(reader: CatalogReader, count: int, seed: int = 0) -> list[tuple[str, SearchFilters]]:
    """`count` distinct queries from the catalog's own vocabulary; every third carries filters."""
    rng = np.random.default_rng(seed)
    titles = [p.title for p in reader.search_products("", SearchFilters(), page_size=50).products]
    for category in CATEGORIES:
        titles += [p.title for p in reader.search_products("", SearchFilters(category=category.id),
                                                            page_size=50).products]
    words = sorted({w.lower() for t in titles for w in t.split() if len(w) > 2})
    queries: dict[str, SearchFilters] = {}
    while len(queries) < count:
        category = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
        parts = [category.noun, *rng.choice(words, size=int(rng.integers(1, 3))),
                 category.uses[int(rng.integers(len(category.uses)))]]
        text = " ".join(dict.fromkeys(parts))
        filters = SearchFilters()
        if len(queries) % 3 == 0:
            flags = [a for a in category.attributes if isinstance(a, BoolAttr)]
            specs = [SpecFilter(name=flags[0].name, equals=True)] if flags else []
            filters = SearchFilters(category=category.id, max_price_cents=int(category.price_high * 60),
                                    min_rating=3.0, specs=specs)
        queries.setdefault(text, filters)
    return list(queries.items())


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3)}


def time_searches(search: ProductSearch, queries: list[tuple[str, SearchFilters]]) -> dict[str, float]:
    for text, filters in queries[:20]:  # warm caches
        search.search(text, filters)
    samples = []
    for text, filters in queries:
        start = time.perf_counter()
        search.search(text, filters)
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


_MEMORY_PROBE = """
import json, sys
from pathlib import Path
from shopgym.catalog import CatalogReader, SearchFilters
from shopgym.catalog.search import ProductSearch, open_search_index
world, backend, queries = Path(sys.argv[1]), sys.argv[2], json.loads(Path(sys.argv[3]).read_text())
reader = CatalogReader(world)
search = ProductSearch(reader.conn, open_search_index(world, reader.conn, backend))
for text, filters in queries:
    for product in search.search(text, SearchFilters.model_validate(filters)).products[:2]:
        reader.get_product(product.id)
        reader.list_reviews(product.id)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent across exec
print(int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024)
"""


def env_path_memory(world: Path, backend: str, queries: list[tuple[str, SearchFilters]]) -> float:
    """Peak RSS (MB) of a fresh process that opens a reader on `backend` and serves the queries."""
    query_file = world / "memory-probe-queries.json"
    query_file.write_text(json.dumps([(text, f.model_dump()) for text, f in queries]))
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(world), backend, str(query_file)],
                         check=True, capture_output=True, text=True)
    return round(float(out.stdout.strip()), 1)


def bench_size(products: int, queries: int, work: Path) -> dict:
    world = work / f"world-{products}"
    shutil.rmtree(world, ignore_errors=True)
    report = build_world(WorldConfig(seed=1, products=products), world, search_backend="fts5", progress=True)
    start = time.perf_counter()
    build_search_index(world, "whoosh")
    whoosh_index_s = time.perf_counter() - start
    base = report.seconds["generate"] + report.seconds["store"]
    result = {
        "products": products, "reviews": report.counts["reviews"], "pages": report.counts["pages"],
        "build_s": {"generate": report.seconds["generate"], "store": report.seconds["store"],
                    "index_fts5_and_hash": report.seconds["index"], "index_whoosh": round(whoosh_index_s, 3),
                    "total_fts5": round(base + report.seconds["index"], 3),
                    "total_whoosh": round(base + report.seconds["index"] + whoosh_index_s, 3)},
    }
    with CatalogReader(world) as reader:
        qs = make_queries(reader, queries)
        result["queries"] = {"distinct": len(qs), "with_filters": sum(1 for _, f in qs if f != SearchFilters())}
        for backend in ("whoosh", "fts5"):
            index = open_search_index(world, reader.conn, backend)
            result[f"search_{backend}"] = time_searches(ProductSearch(reader.conn, index), qs)
            page_search = PageSearch(reader.conn, index)
            start = time.perf_counter()
            for text, _ in qs[:100]:
                page_search.search(text)
            result[f"page_search_{backend}_mean_ms"] = round((time.perf_counter() - start) * 10, 3)
            index.close()
        ids = [p.id for text, f in qs[:60] for p in reader.search_products(text, f).products[:5]]
        samples = []
        for pid in ids:
            start = time.perf_counter()
            reader.get_product(pid)
            samples.append(time.perf_counter() - start)
        result["get_product"] = percentiles(samples)
    result["search_p50_ratio_whoosh_over_fts5"] = round(
        result["search_whoosh"]["p50_ms"] / result["search_fts5"]["p50_ms"], 2)
    result["env_path_rss_mb"] = {b: env_path_memory(world, b, qs) for b in ("whoosh", "fts5")}
    shutil.rmtree(world, ignore_errors=True)
    return result


def markdown(results: list[dict]) -> str:
    lines = ["| products | reviews | generate s | store s | FTS5 index+hash s | Whoosh index s | total FTS5 s | "
             "total Whoosh s | Whoosh p50/p99 ms | FTS5 p50/p99 ms | get_product p50 ms | env RSS MB (W/F) |",
             "|---" * 12 + "|"]
    for r in results:
        b = r["build_s"]
        lines.append(
            f"| {r['products']:,} | {r['reviews']:,} | {b['generate']:.1f} | {b['store']:.1f} | "
            f"{b['index_fts5_and_hash']:.1f} | {b['index_whoosh']:.1f} | {b['total_fts5']:.1f} | {b['total_whoosh']:.1f} | "
            f"{r['search_whoosh']['p50_ms']:.2f} / {r['search_whoosh']['p99_ms']:.2f} | "
            f"{r['search_fts5']['p50_ms']:.2f} / {r['search_fts5']['p99_ms']:.2f} | {r['get_product']['p50_ms']:.3f} | "
            f"{r['env_path_rss_mb']['whoosh']:.0f} / {r['env_path_rss_mb']['fts5']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--queries", type=int, default=330)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        results = [bench_size(n, args.queries, Path(work)) for n in args.products]
    OUT.mkdir(exist_ok=True)
    document = {"results": results, "bench_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    (OUT / "catalog.json").write_text(json.dumps(document, indent=2))
    print(markdown(results))


if __name__ == "__main__":
    main()
