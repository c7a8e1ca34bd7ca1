"""A world folder as bytes and back: how a world reaches machines that share no filesystem with the driver.

A machine that already holds the world (same path, same content hash) uses it in place; any other unpacks the
shipped copy once into its cache (`$SHOPGYM_CACHE/shipped/world-<hash>`), under a file lock, by rename.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

from filelock import FileLock

from shopgym.catalog import CatalogReader

from .default_world import cache_root, default_world


def world_folder(catalog: str | Path | None) -> Path:
    """The folder an env on `catalog` reads (the default world when None)."""
    return Path(catalog) if catalog is not None else default_world()


def world_hash(folder: Path) -> str | None:
    """The content hash of the world in `folder`, or None when there is no readable world there."""
    try:
        with CatalogReader(folder) as reader:
            return reader.content_hash
    except (OSError, ValueError):
        return None


def pack_world(folder: Path) -> bytes:
    """Every file of the world folder as an uncompressed tar (SQLite pages barely compress)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def local_world(folder: str | Path, content_hash: str, packed: bytes | None) -> Path:
    """`folder` when it holds the world `content_hash`, else the shipped copy unpacked into this machine's cache."""
    if world_hash(Path(folder)) == content_hash:
        return Path(folder)
    target = cache_root() / "shipped" / f"world-{content_hash[:16]}"
    if world_hash(target) == content_hash:
        return target
    if packed is None:
        raise FileNotFoundError(f"world {content_hash[:12]} is not at {folder} on this machine and was not shipped")
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if world_hash(target) != content_hash:
            staging = target.with_name(f".{target.name}.{os.getpid()}")
            shutil.rmtree(staging, ignore_errors=True)
            with tarfile.open(fileobj=io.BytesIO(packed), mode="r") as archive:
                archive.extractall(staging, filter="data")
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
    if world_hash(target) != content_hash:
        raise ValueError(f"the shipped world unpacked at {target} does not have content hash {content_hash[:12]}")
    return target
