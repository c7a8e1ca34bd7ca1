"""Full-text search behind one protocol (Whoosh or SQLite FTS5), made hybrid with SQLite filters."""

from .build import build_search_index, open_search_index
from .hybrid import POOL, PageSearch, ProductSearch
from .protocol import SearchIndex
from .query import tokenize

__all__ = ["POOL", "PageSearch", "ProductSearch", "SearchIndex", "build_search_index", "open_search_index", "tokenize"]
