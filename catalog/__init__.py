"""The world: a seeded synthetic shop that knows its own truth, its store, search and importers."""

from .models import CatalogStats, Page, Product, ProductSummary, Review, SearchFilters, SearchResult, SpecFilter
from .reader import CatalogReader, NotFound
from .world import GENERATOR_VERSION, WorldConfig

__all__ = [
    "GENERATOR_VERSION", "CatalogReader", "CatalogStats", "NotFound", "Page", "Product", "ProductSummary", "Review",
    "SearchFilters", "SearchResult", "SpecFilter", "WorldConfig",
]
