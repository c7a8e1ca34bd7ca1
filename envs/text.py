"""The env's declared charset and the normaliser that keeps every observation inside it."""

from __future__ import annotations

import string
import unicodedata

CHARSET = string.printable.replace("\x0b", "").replace("\x0c", "").replace("\r", "")
_ALLOWED = frozenset(CHARSET)
_REPLACEMENTS = {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                 "\u2026": "...", "\u00d7": "x", "\u2022": "-", "\r": "", "\t": " "}


def normalise(text: str, max_length: int) -> str:
    """ASCII-fold `text` into CHARSET (accents dropped, typographic quotes straightened) and cap its length."""
    if not text.isascii():
        text = "".join(_REPLACEMENTS.get(c, c) for c in text)
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = "".join(c for c in text if c in _ALLOWED) if not _ALLOWED.issuperset(text) else text
    return text if len(text) <= max_length else text[: max_length - 3] + "..."
