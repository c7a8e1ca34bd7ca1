"""Injected instructions: text in reviews and pages that addresses an AI agent rather than a shopper."""

from __future__ import annotations

import re
from dataclasses import dataclass

INJECTION_PATTERNS = [
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier|other) (?:instructions|prompts|rules)",
    r"disregard (?:all |any |the |your )?(?:user'?s?|previous|prior|above|earlier|instructions|budget|rules)",
    r"\bAI (?:shopping )?(?:assistant|agent|model)s?\b",
    r"\b(?:system|admin|developer) (?:note|prompt|message|instruction)s?\b",
    r"\bnote (?:for|to) (?:the )?(?:AI|agents?|assistants?|bots?|LLMs?)\b",
    r"\bif you are an? (?:AI|language model|LLM|assistant|agent|bot)\b",
    r"\byou (?:must|should|are required to) (?:rate|recommend|say|tell|rank|list)\b",
    r"\b(?:tell|inform) the (?:user|shopper|customer) that\b",
    r"\brecommend \S+ as the (?:top|best|first) (?:pick|choice|option)\b",
    r"\b(?:as|to) (?:an? )?(?:AI|LLM|language model)\b",
]
_INJECTION = re.compile("|".join(f"(?:{p})" for p in INJECTION_PATTERNS), re.IGNORECASE)


def looks_injected(text: str) -> bool:
    """True when text reads like an instruction to an AI agent rather than a shopper's opinion."""
    return bool(_INJECTION.search(text))


@dataclass
class Injection:
    """Instruction-like text the researcher was shown: where it was, whose review carried it, whom it names."""

    source: str  # review id or page id
    carrier: str | None  # product whose review carried it
    targets: list[str]  # product ids named in the text
    text: str
