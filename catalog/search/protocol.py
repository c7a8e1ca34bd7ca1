"""The interface every full-text backend offers: ids by relevance, nothing else."""

from __future__ import annotations

from typing import Protocol


class SearchIndex(Protocol):
    def search(self, query: str, limit: int, category: str | None = None) -> list[str]:
        """Up to `limit` product ids matching any word of `query`, best first, optionally within one category."""
        ...

    def search_pages(self, query: str, limit: int) -> list[str]:
        """Up to `limit` page ids matching any word of `query`, best first."""
        ...

    def close(self) -> None:
        """Release files and searchers held by the index."""
        ...
