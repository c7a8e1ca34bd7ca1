"""Why a freely decoded turn is not a valid call: the cause, and where the call checker stopped reading.

With the grammar off the model writes its turn alone and the same checker judges it afterwards; these
records say what broke (the issue of a student that "writes no valid call" is which of these it is).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from .constrained import OPENING, CallChecker

Cause = Literal["no_call", "thought_too_long", "call_format", "tool_not_offered", "arguments", "unfinished",
                "text_after_call"]
CAUSES: dict[str, str] = {
    "no_call": "no call at all: reasoning only, or nothing",
    "thought_too_long": "the reasoning line ran past its cap before the call began",
    "call_format": 'the call does not open as {"tool": "NAME", "arguments": {',
    "tool_not_offered": "a tool this turn does not offer (any tool but submit_report at the report)",
    "arguments": "arguments the checker refuses: an id not retrieved, a spec the category lacks, a wrong type, "
                 "a missing key, broken JSON",
    "unfinished": "the text stops before the call closes (end of turn or token cap)",
    "text_after_call": "more text after the call's closing brace",
}
EXCERPT = 80  # characters before the break that a record keeps


class CallRejection(BaseModel):
    """A turn the checker refuses: `at` characters were accepted; `excerpt` ends with the refused one."""

    cause: Cause
    at: int
    excerpt: str


def _cause(checker: CallChecker) -> Cause:
    """The cause of a break at the checker's state (it refused the next character)."""
    if checker.phase == "thought":
        return "thought_too_long" if len(checker.text) >= checker.thought_chars else "call_format"
    if len(checker.text) - checker.start < len(OPENING) or checker.phase == "middle":
        return "call_format"
    if checker.phase == "name":
        return "tool_not_offered"
    if checker.phase == "args":
        return "arguments"
    return "text_after_call"


def rejection(checker: CallChecker, text: str) -> CallRejection | None:
    """None if `text` is a whole valid call under `checker` (left unchanged), else why it is not."""
    probe = checker.copy()
    for at, char in enumerate(text):
        if not probe.feed_text(char, track=False):
            return CallRejection(cause=_cause(probe), at=at, excerpt=text[max(0, at - EXCERPT):at + 1])
    if probe.complete:
        return None
    return CallRejection(cause="no_call" if probe.phase == "thought" or not text else "unfinished", at=len(text),
                         excerpt=text[-EXCERPT:])
