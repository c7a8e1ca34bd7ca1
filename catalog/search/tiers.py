"""Bounded relevance ranking, planned the same way for both backends.

Ranking every document that shares a common word with the query (a category noun matches a whole
category) costs time in proportion to the catalog. So each query scores at most `budget` documents.
When the words' document frequencies add up to no more than that, one tier ranks every match
exactly. Otherwise the pool is filled tier by tier, each tier ranked within itself:

1. documents with every word;
2. documents with one of the selective words (the rarest, whose frequencies fit in the budget),
   scored by all words plus the selective ones again;
3. the rest of the documents with any word.

Within a tier that has more matches than the budget left, the documents scored are the first ones
in index order, which the build makes the static rank (most reviewed first). Whenever all matches
fit in the budget, the pool holds all of them (in tier order), so both backends agree on the set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

SCORE_BUDGET = 1000


@dataclass(frozen=True)
class Tier:
    """Documents with any of `match` (all of them when `every`) that have none of the excluded sets."""

    match: tuple[str, ...]
    every: bool = False
    also_score: tuple[str, ...] = ()  # words added to the score (never required)
    exclude_every: tuple[str, ...] = ()  # drop documents that have all of these
    exclude_any: tuple[str, ...] = ()  # drop documents that have any of these


# (tier, most ids to return, most documents to score) -> (ids best first, documents scored)
RankTier = Callable[[Tier, int, int], tuple[list[str], int]]


def plan(tokens: list[str], doc_freq: dict[str, int], budget: int) -> list[Tier]:
    """The tiers for `tokens`, dropping words no document has."""
    words = [t for t in tokens if doc_freq.get(t, 0) > 0]
    if not words:
        return []
    everything = tuple(words)
    if len(words) == 1 or sum(doc_freq[t] for t in words) <= budget:
        return [Tier(everything)]
    selective: list[str] = []
    total = 0
    for word in sorted(words, key=lambda t: (doc_freq[t], t)):
        total += doc_freq[word]
        if total > budget:
            break
        selective.append(word)
    tiers = [Tier(everything, every=True)]
    if selective:
        tiers.append(Tier(tuple(selective), also_score=everything, exclude_every=everything))
    tiers.append(Tier(everything, exclude_every=everything, exclude_any=tuple(selective)))
    return tiers


def ranked_pool(tiers: list[Tier], rank: RankTier, limit: int, budget: int) -> list[str]:
    """Up to `limit` ids from the tiers in order, scoring at most max(budget, limit) documents in all."""
    ids: list[str] = []
    left = max(budget, limit)
    for tier in tiers:
        if len(ids) >= limit or left <= 0:
            break
        found, scored = rank(tier, limit - len(ids), left)
        ids += found
        left -= scored
    return ids
