"""What one step did, beside its text: agents read ids and errors here instead of parsing the observation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

ErrorKind = Literal["malformed_action", "unknown_tool", "invalid_arguments", "not_found", "refused"]


@dataclass
class StepResult:
    """`info["result"]` of every step (ids in the order the observation shows them).

    `listed`: product ids the text shows; `inspected`: those whose page, reviews or comparison row it shows;
    `reviews`/`pages`: review and web-page ids it shows; `total`: the matches a search or review listing
    reports; `error_kind` (when `ok` is false): what was wrong with the action.
    """

    tool: str | None = None
    ok: bool = True
    error_kind: ErrorKind | None = None
    listed: list[str] = field(default_factory=list)
    inspected: list[str] = field(default_factory=list)
    reviews: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    total: int | None = None

    def saw(self, listed: Iterable[str] = (), inspected: Iterable[str] = (), reviews: Iterable[str] = (),
            pages: Iterable[str] = (), total: int | None = None) -> None:
        self.listed += [i for i in listed if i not in self.listed]
        self.inspected += [i for i in inspected if i not in self.inspected]
        self.reviews += list(reviews)
        self.pages += [i for i in pages if i not in self.pages]
        if total is not None:
            self.total = total

    def failed(self, kind: ErrorKind) -> None:
        self.ok, self.error_kind = False, kind
        self.listed, self.inspected, self.reviews, self.pages, self.total = [], [], [], [], None

    def as_dict(self) -> dict[str, Any]:
        """A copy as plain data (`dataclasses.asdict` deep-copies element by element: slower on every step)."""
        return {"tool": self.tool, "ok": self.ok, "error_kind": self.error_kind, "listed": list(self.listed),
                "inspected": list(self.inspected), "reviews": list(self.reviews), "pages": list(self.pages),
                "total": self.total}
