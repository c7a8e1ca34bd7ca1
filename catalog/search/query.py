"""Untrusted query text to plain word tokens.

Nothing of the raw string reaches a query parser or SQL text: tokens are runs of Unicode letters
and digits, accent-folded and lowercased, and the backends get them only as programmatic Whoosh
terms or as double-quoted strings inside one bound FTS5 parameter.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

TOKEN_PATTERN = r"[^\W_]+"  # letters and digits; underscore and everything else separate words
MIN_TOKEN_LEN = 2
MAX_TOKEN_LEN = 40
MAX_TOKENS = 16
MAX_QUERY_CHARS = 4096  # words past this are ignored, so hostile input costs little
STOPWORDS = frozenset(
    "a an and are as at be but by for from has have i if in into is it its me my not of on or "
    "our so such than that the their them then there these they this to was we what when which "
    "who will with you your".split()
)

_TOKEN_RE = re.compile(TOKEN_PATTERN)


def fold(text: str) -> str:
    """`text` without accents (é -> e), as SQLite's unicode61 tokenizer folds them."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def words(text: str) -> Iterator[str]:
    """The folded lowercase words of `text`, without stopwords or very short/long ones."""
    for match in _TOKEN_RE.finditer(fold(text).lower()):
        word = match.group()
        if MIN_TOKEN_LEN <= len(word) <= MAX_TOKEN_LEN and word not in STOPWORDS:
            yield word


def tokenize(text: str) -> list[str]:
    """The distinct words of a query, in order, at most `MAX_TOKENS`."""
    tokens: list[str] = []
    for word in words(text[:MAX_QUERY_CHARS]):
        if word not in tokens:
            tokens.append(word)
            if len(tokens) == MAX_TOKENS:
                break
    return tokens
