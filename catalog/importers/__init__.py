"""Importing real catalog dumps (Amazon Reviews 2023, WebShop, mapped CSV/JSONL) into the catalog store."""

from __future__ import annotations

from .core import ImportConfigChanged, ImportCounts, ImportReport, RejectedRow, import_catalog
from .formats import FORMATS, FieldMapping

__all__ = [
    "FORMATS",
    "FieldMapping",
    "ImportConfigChanged",
    "ImportCounts",
    "ImportReport",
    "RejectedRow",
    "import_catalog",
]
