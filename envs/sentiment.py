"""The words that an observation reader takes as praise or complaint: one lexicon for every reader.

The heuristic researcher, the RL menu and the supervisor's checks all read review text with these, so a
change to what counts as praise changes them together. (The world writes its reviews with its own
vocabulary in `catalog/reviews.py`: the hidden labels, not these words, are what grading uses.)
"""

from __future__ import annotations

import re

import numpy as np

POSITIVE = frozenset({"excellent", "great", "superb", "fantastic", "impressive", "outstanding", "good", "solid",
                      "top-notch", "happy", "love", "amazing", "perfect", "nice", "better"})
NEGATIVE = frozenset({"poor", "disappointing", "terrible", "weak", "awful", "mediocre", "bad", "subpar",
                      "frustrating", "worse", "sadly", "regret", "returning", "broke", "stopped"})
NEGATORS = frozenset({"not", "never", "no"})
_CLAUSE = re.compile(r"[.!?;,:]|\bbut\b|\balthough\b|\bwhile\b")


def sentiment(text: str) -> int:
    """Praise words minus complaint words; a negator ("not", "never", "no") flips the word after it."""
    words = re.findall(r"[a-z\-]+", text.lower())
    score = 0
    for i, word in enumerate(words):
        sign = (word in POSITIVE) - (word in NEGATIVE)
        score += -sign if i and words[i - 1] in NEGATORS else sign
    return score


def aspect_sentiment(text: str, keywords: list[str]) -> int:
    """The sign (-1, 0, 1) of what a text says about one aspect: only the clauses naming it (`keywords`) count."""
    clauses = _CLAUSE.split(text.lower())
    return int(np.sign(sum(sentiment(c) for c in clauses if any(k.lower() in c for k in keywords))))
