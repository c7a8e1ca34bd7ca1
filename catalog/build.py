"""Build a world: generate it category by category, store it, index it, and hash it."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

from .products import make_brands, make_products
from .reviews import make_reviews
from .shoppers import make_shopper
from .store import finalize_catalog, insert_rows, open_for_writing, set_meta
from .tasks import assign_splits, make_tasks
from .taxonomy import CATEGORIES
from .utility import CategoryTable
from .web import make_pages
from .world import (GENERATOR_VERSION, Ids, WorldConfig, category_row, page_rows, person_names, product_rows,
                    review_rows, shopper_rows, split_evenly, task_rows)


class BuildReport(BaseModel):
    out: str
    content_hash: str
    seconds: dict[str, float]  # generate, store, index
    counts: dict[str, int]


class _Clock:
    def __init__(self) -> None:
        self.seconds = {"generate": 0.0, "store": 0.0, "index": 0.0}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start


def _recover_killed_builds(out_dir: Path) -> None:
    """Undo what builds of `out_dir` whose process is gone left behind: their staging folders are deleted, and
    a world set aside for replacement is put back if the kill came before its replacement moved in."""
    for leftover in sorted(out_dir.parent.glob(f".{out_dir.name}.*-*")):
        kind, _, pid = leftover.name.rpartition("-")
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if kind.endswith(".replaced") and not out_dir.exists():
            leftover.rename(out_dir)
        elif kind.endswith((".building", ".replaced")):
            shutil.rmtree(leftover, ignore_errors=True)


def _move_into_place(staging: Path, out_dir: Path) -> None:
    """Replace `out_dir` by `staging` with two renames: a kill leaves one complete world, old or new."""
    old = out_dir.with_name(f".{out_dir.name}.replaced-{os.getpid()}")
    if out_dir.exists():
        out_dir.rename(old)
    staging.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


def build_world(config: WorldConfig, out_dir: Path, search_backend: str = "whoosh", progress: bool = True,
                overwrite: bool = False) -> BuildReport:
    """Write the world of `config` to `out_dir` atomically (built beside it, then renamed into place)."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    _recover_killed_builds(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(f"{out_dir} is not empty; choose another --out or pass --overwrite")
    staging = out_dir.with_name(f".{out_dir.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    clock = _Clock()
    ids = Ids(config.seed)
    counts = {"products": 0, "reviews": 0, "pages": 0, "shoppers": config.shoppers, "tasks": 0}
    bar = tqdm(total=config.products + config.shoppers, unit="entity", desc="building world", file=sys.stderr,
               disable=not progress)
    with clock.phase("generate"):
        names = person_names(config.seed, 4000)
    db = open_for_writing(staging)
    with clock.phase("store"):
        insert_rows(db, "categories", [category_row(c) for c in CATEGORIES])
    tables: dict[str, CategoryTable] = {}
    titles: dict[str, list[str]] = {}
    duplicates: dict[str, dict[int, int]] = {}
    defective: dict[str, set[int]] = {}
    first_product = 0
    sizes = split_evenly(config.products, len(CATEGORIES))
    page_sizes = split_evenly(config.page_count(), len(CATEGORIES))
    for category, size, page_count in zip(CATEGORIES, sizes, page_sizes):
        with clock.phase("generate"):
            brands = make_brands(config.seed, category)
            drafts = make_products(config.seed, category, brands, size, first_product,
                                   config.defect_rate, config.near_duplicate_rate, config.listing_error_rate)
            product_ids = {d.index: ids.product(d.index) for d in drafts}
            reviews = make_reviews(config.seed, category, drafts, names, config.reviews_per_product,
                                   config.fake_review_rate, config.adversarial_review_rate, product_ids,
                                   frozenset(b.name for b in brands if b.inflated))
            review_pairs = [review_rows(r, counts["reviews"] + k, ids) for k, r in enumerate(reviews)]
            product_pairs = [product_rows(d, ids) for d in drafts]
            pages = make_pages(config.seed, category, drafts, product_ids, page_count, names,
                               config.stale_page_rate, config.wrong_fact_rate)
            page_pairs = [page_rows(p, counts["pages"] + k, ids) for k, p in enumerate(pages)]
        with clock.phase("store"):
            insert_rows(db, "products", (o for o, _ in product_pairs))
            insert_rows(db, "hidden_products", (h for _, h in product_pairs))
            insert_rows(db, "reviews", (o for o, _ in review_pairs))
            insert_rows(db, "hidden_review_labels", (h for _, h in review_pairs))
            insert_rows(db, "pages", (o for o, _ in page_pairs))
            insert_rows(db, "hidden_page_facts", (f for _, facts in page_pairs for f in facts))
        position = {d.index: k for k, d in enumerate(drafts)}
        tables[category.id] = CategoryTable.from_rows(
            category, [(product_ids[d.index], d.brand, d.price_cents, d.rating, d.specs, d.qualities) for d in drafts])
        titles[category.id] = [d.title for d in drafts]
        duplicates[category.id] = {position[d.index]: position[d.near_duplicate_of] for d in drafts
                                   if d.near_duplicate_of is not None}
        defective[category.id] = {position[d.index] for d in drafts if d.defects}
        counts["products"] += len(drafts)
        counts["reviews"] += len(reviews)
        counts["pages"] += len(pages)
        first_product += size
        bar.update(size)
        del reviews, review_pairs
    with clock.phase("generate"):
        splits = assign_splits(config.seed, config.shoppers)
        shoppers = []
        for index in range(config.shoppers):
            shoppers.append(make_shopper(config.seed, index, names[index % len(names)], splits[index], tables, titles,
                                         config.nothing_fits_rate))
            bar.update(1)
        tasks = make_tasks(config.seed, shoppers, tables, duplicates, defective, config.tasks_per_shopper)
        shopper_data = [shopper_rows(s, ids) for s in shoppers]
        task_pairs = [task_rows(t, ids) for t in tasks]
    bar.close()
    counts["tasks"] = len(tasks)
    with clock.phase("store"):
        insert_rows(db, "shoppers", (s for s, _, _ in shopper_data))
        insert_rows(db, "shopper_events", (e for _, events, _ in shopper_data for e in events))
        insert_rows(db, "hidden_shopper_prefs", (p for _, _, prefs in shopper_data for p in prefs))
        insert_rows(db, "tasks", (o for o, _ in task_pairs))
        insert_rows(db, "hidden_task_needs", (h for _, h in task_pairs))
        set_meta(db, generator_version=GENERATOR_VERSION, config_json=config.model_dump_json(), seed=str(config.seed))
        db.conn.commit()
        db.close()
    with clock.phase("index"):
        digest = finalize_catalog(staging, source="generated", search_backend=search_backend)
    _move_into_place(staging, out_dir)
    return BuildReport(out=str(out_dir), content_hash=digest, seconds={k: round(v, 3) for k, v in clock.seconds.items()},
                       counts=counts)
