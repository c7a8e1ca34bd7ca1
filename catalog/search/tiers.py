"""Bounded relevance ranking, planned the same way for both backends.

Ranking every document that shares a common word with the query (a category noun matches a whole
category) costs time in proportion to the catalog. So each query scores at most `budget` documents.
When the words' document frequencies add up to no more than that, one tier ranks every match
exactly. Otherwise the pool is filled tier by tier, each tier ranked within itself:

1. documents with all of the `CORE_WORDS` rarest words, the core, scored by those words;
2. documents with one of the selective words (the rarest, whose frequencies fit in the budget),
   scored by those words;
3. the rest of the documents with any word, scored by all words.

(Scoring the first two tiers by all words would cost Whoosh a skip in every word's postings per
candidate.)

Each tier leaves out the documents that earlier tiers scored. A tier runs only when the earlier
ones scored all their matches (else the budget is spent and the limit reached), so this is the
same as leaving out everything the earlier tiers match. Within a tier that has more matches than
the budget left, the documents scored are the first ones in index order, which both builds make the static rank (most reviewed first). So both backends
score the same documents and differ only in how they order them; when the limit is at least the
documents scored (always so when all matches fit in the budget and the limit), they return the
same set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

SCORE_BUDGET = 500
CORE_WORDS = 2  # each further list costs Whoosh a skip per candidate


@dataclass(frozen=True)
class Tier:
    """Documents with any of `match` (all of them when `every`), less those earlier tiers scored."""

    match: tuple[str, ...]
    every: bool = False


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
    by_rarity = sorted(words, key=lambda t: (doc_freq[t], t))
    selective: list[str] = []
    total = 0
    for word in by_rarity:
        total += doc_freq[word]
        if total > budget:
            break
        selective.append(word)
    tiers = [Tier(tuple(by_rarity[:CORE_WORDS]), every=True)]
    if selective:
        tiers.append(Tier(tuple(selective)))
    return [*tiers, Tier(everything)]


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
