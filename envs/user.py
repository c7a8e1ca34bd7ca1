"""Who answers `ask_user`: a deterministic scripted shopper by default, or any injected simulator."""

from __future__ import annotations

import re
from typing import Protocol

from shopgym.catalog.need import Need
from shopgym.catalog.taxonomy import Category

from .request import describe

_TOPICS = {
    "budget": r"budget|price|spend|cost|afford|expensive|cheap|\$|money|rating|stars",
    "must_haves": r"must|need|require|feature|spec|essential|have to|important feature|looking for",
    "deal_breakers": r"avoid|dislike|deal.?breaker|brand|don't want|do not want|exclude|never",
    "priorities": r"care|priorit|matter|important|value most|prefer|focus",
}
FALLBACK = ("I'm not sure what you mean. You can ask me about my budget, must-have features, "
            "brands or things to avoid, or what matters most to me.")


def topics_asked(question: str) -> list[str]:
    """Which parts of a need (budget, must_haves, deal_breakers, priorities) a question asks about."""
    return [topic for topic, pattern in _TOPICS.items() if re.search(pattern, question, re.IGNORECASE)]


class UserSimulator(Protocol):
    """Answers a researcher's question on behalf of the shopper whose need is given."""

    def answer(self, question: str, need: Need, category: Category) -> str: ...


class ScriptedUser:
    """Answers only the topics a question asks about, straight from the need; same question, same answer."""

    def answer(self, question: str, need: Need, category: Category) -> str:
        asked = topics_asked(question)
        if not asked:
            return FALLBACK
        lines = [describe(category, need, topic) for topic in asked]
        missing = {"budget": "I have no fixed budget.", "must_haves": "Nothing is strictly required.",
                   "deal_breakers": "No deal-breakers.", "priorities": "No strong preferences."}
        return " ".join(line or missing[topic] for topic, line in zip(asked, lines))
