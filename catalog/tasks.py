"""Research tasks: a shopper's need in one category, labelled with the difficulty knobs it exercises."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .need import Need
from .seeding import sub_rng
from .shoppers import Shopper
from .utility import CategoryTable

DIFFICULTIES = ("easy", "medium", "hard")  # easy: every constraint stated; hard: only the category
SPLITS = ("train", "val", "test")


@dataclass
class TaskDraft:
    index: int
    shopper_index: int
    category: str
    split: str
    difficulty: str
    kind: str  # standard | trade_off | distractor | conflict | nothing_fits
    need: Need
    knobs: dict[str, int | bool]


def assign_splits(seed: int, count: int) -> list[str]:
    """8:1:1 train/val/test over shoppers, by a seeded permutation."""
    order = sub_rng(seed, "split").permutation(count)
    n_train, n_val = round(count * 0.8), round(count * 0.1)
    splits = [""] * count
    for rank, index in enumerate(order):
        splits[int(index)] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
    return splits


def knobs_for(table: CategoryTable, need: Need, duplicates: dict[int, int], defective: set[int]) -> dict[str, int | bool]:
    """Which difficulty knobs a need exercises in this category (positions index `table`)."""
    fits = table.fits(need)
    utility = table.utility(need)
    fitting = np.nonzero(fits)[0]
    top = [int(i) for i in fitting[np.argsort(-utility[fitting], kind="stable")][:3]]
    looks_best = -1
    if len(fitting) and need.spec_weights:
        name = next(iter(need.spec_weights))
        values = table.spec_column(name)[fitting]
        higher = table.category.attribute(name).higher_is_better
        looks_best = int(fitting[np.argmax(values if higher else -values)])
    twins = {j for i, j in duplicates.items() if i in top} | {i for i, j in duplicates.items() if j in top}
    priority = need.priorities[0].aspect if need.priorities else None
    aspect_column = [a.name for a in table.category.aspects].index(priority) if priority else 0
    best_on_priority = int(fitting[np.argmax(table.qualities[fitting, aspect_column])]) if len(fitting) else -1
    return {
        "fitting_products": int(len(fitting)),
        "nothing_fits": not len(fitting),
        "conflict": looks_best in defective,
        "distractor": any(not fits[j] for j in twins),
        "trade_off": bool(len(fitting) >= 2 and top and best_on_priority != top[0]),
    }


def kind_of(knobs: dict[str, int | bool]) -> str:
    for kind in ("nothing_fits", "conflict", "distractor", "trade_off"):
        if knobs[kind]:
            return kind
    return "standard"


def make_tasks(seed: int, shoppers: list[Shopper], tables: dict[str, CategoryTable],
               duplicates: dict[str, dict[int, int]], defective: dict[str, set[int]],
               tasks_per_shopper: int) -> list[TaskDraft]:
    """Up to `tasks_per_shopper` tasks per shopper, one per category of interest."""
    tasks = []
    for shopper in shoppers:
        rng = sub_rng(seed, "tasks", shopper.index)
        for category_id in list(shopper.needs)[:tasks_per_shopper]:
            need = shopper.needs[category_id]
            knobs = knobs_for(tables[category_id], need, duplicates[category_id], defective[category_id])
            tasks.append(TaskDraft(
                index=len(tasks), shopper_index=shopper.index, category=category_id, split=shopper.split,
                difficulty=DIFFICULTIES[int(rng.choice(3, p=[0.4, 0.35, 0.25]))], kind=kind_of(knobs),
                need=need, knobs=knobs,
            ))
    return tasks
