"""Per-entity random streams derived from one world seed, stable across processes and machines."""

from __future__ import annotations

import hashlib

import numpy as np


def stable_int(text: str) -> int:
    """A 64-bit integer from text that does not depend on PYTHONHASHSEED."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def sub_rng(seed: int, kind: str, *keys: int | str) -> np.random.Generator:
    """The random stream for one entity kind (and optional keys) of the world `seed`.

    Adding a kind or a key never reshuffles the streams of the others.
    """
    entropy = [seed, stable_int(kind), *(k if isinstance(k, int) else stable_int(k) for k in keys)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def world_tag(seed: int) -> str:
    """Four letters that namespace ids per world, so ids learned in one world mean nothing in another."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    value = stable_int(f"world-{seed}")
    letters = []
    for _ in range(4):
        value, digit = divmod(value, len(alphabet))
        letters.append(alphabet[digit])
    return "".join(letters)
