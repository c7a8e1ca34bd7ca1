"""Untrusted query text to plain word tokens.

Nothing of the raw string reaches a query parser or SQL text: tokens are runs of Unicode letters
and digits, accent-folded and lowercased, and the backends get them only as programmatic Whoosh
terms or as double-quoted strings inside one bound FTS5 parameter.
"""

from __future__ import annotations

import re
import unicodedata

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
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def tokenize(text: str) -> list[str]:
    """Distinct folded lowercase word tokens of `text`, in order, without stopwords or very short/long ones."""
    tokens: list[str] = []
    for match in _TOKEN_RE.finditer(fold(text[:MAX_QUERY_CHARS]).lower()):
        token = match.group()
        if MIN_TOKEN_LEN <= len(token) <= MAX_TOKEN_LEN and token not in STOPWORDS and token not in tokens:
            tokens.append(token)
            if len(tokens) == MAX_TOKENS:
                break
    return tokens
