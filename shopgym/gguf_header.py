"""The key-value metadata at the head of a GGUF file, read without touching its tensors.

`gguf.GGUFReader` parses every tensor's description too (seconds for a small model); a chat template and
its special tokens need only the header, read here in tens of milliseconds.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
MAX_STRING_BYTES = 1 << 26  # a longer string means the file is not what its header claims


class NotGGUF(ValueError):
    """The file is not a readable GGUF model."""


def _read(handle: BinaryIO, size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise NotGGUF("the file ends inside its metadata header (truncated download?)")
    return data


def _string(handle: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", _read(handle, 8))
    if length > MAX_STRING_BYTES:
        raise NotGGUF(f"a metadata string claims {length} bytes")
    return _read(handle, length).decode("utf-8", "replace")


def _value(handle: BinaryIO, kind: int) -> Any:
    if kind == _STRING:
        return _string(handle)
    if kind == _ARRAY:
        (item_kind,), (count,) = struct.unpack("<I", _read(handle, 4)), struct.unpack("<Q", _read(handle, 8))
        return [_value(handle, item_kind) for _ in range(count)]
    if kind not in _SCALARS:
        raise NotGGUF(f"unknown metadata value type {kind}")
    fmt = _SCALARS[kind]
    return struct.unpack(fmt, _read(handle, struct.calcsize(fmt)))[0]


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Every metadata key of the GGUF at `path`; `NotGGUF` or `FileNotFoundError` with a one-line reason."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model {path}: no such file (pass the path of a .gguf model)")
    with path.open("rb") as handle:
        if handle.read(4) != MAGIC:
            raise NotGGUF(f"model {path}: not a GGUF file (it does not start with 'GGUF')")
        try:
            version, _tensors, count = struct.unpack("<IQQ", _read(handle, 20))
            if version < 2:
                raise NotGGUF(f"GGUF version {version} is too old (2 and later are read)")
            return {_string(handle): _value(handle, struct.unpack("<I", _read(handle, 4))[0]) for _ in range(count)}
        except (NotGGUF, struct.error) as error:
            raise NotGGUF(f"model {path}: unreadable GGUF header: {error}") from None
