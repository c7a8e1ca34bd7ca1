"""What every check returns: `Finding`s, and the verdict and feedback text built from them.

An `error` means the step must be revised; a `warning` is advice. Messages are actionable: they name the ids
and values involved and what to do instead, e.g.
"PVDEY-123 costs $129.00, over the $100.00 budget; retrieved candidates within budget: PVDEY-7 ($80.99)".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["error", "warning"]
MAX_LISTED = 5  # ids named in one message


class Finding(BaseModel):
    """One problem a check found: which check, how bad, what to do, and about what (an id, a call, a claim)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str
    severity: Severity
    message: str
    subject: str | None = None


def verdict(findings: Iterable[Finding]) -> Literal["accept", "revise"]:
    """`revise` when any finding is an error, else `accept`."""
    return "revise" if any(f.severity == "error" for f in findings) else "accept"


def feedback(findings: Iterable[Finding]) -> str:
    """The findings as text for the researcher, errors first."""
    ordered = sorted(findings, key=lambda f: f.severity != "error")
    return "\n".join(f"- [{f.severity}] {f.message}" for f in ordered) or "No problems found."
