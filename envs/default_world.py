"""The default world: built on first use into the user cache, atomically, under a file lock."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from filelock import FileLock

from shopgym.catalog.world import GENERATOR_VERSION, WorldConfig

DEFAULT_CONFIG = WorldConfig(seed=0, products=2000, shoppers=1000)
SEARCH_BACKEND = "whoosh"


def cache_root() -> Path:
    """`$SHOPGYM_CACHE`, else `$XDG_CACHE_HOME/shopgym`, else `~/.cache/shopgym`."""
    if os.environ.get("SHOPGYM_CACHE"):
        return Path(os.environ["SHOPGYM_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "shopgym"


def world_key(config: WorldConfig, search_backend: str) -> str:
    digest = hashlib.sha256(f"{config.model_dump_json()}|{search_backend}".encode()).hexdigest()[:12]
    return f"world-v{GENERATOR_VERSION}-{digest}"


def default_world(config: WorldConfig = DEFAULT_CONFIG, search_backend: str = SEARCH_BACKEND) -> Path:
    """The folder of the cached world for `config`, building it if missing (safe across processes)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / world_key(config, search_backend)
    if (target / "catalog.db").exists():
        return target
    with FileLock(str(target) + ".lock"):
        if not (target / "catalog.db").exists():
            from shopgym.catalog.build import build_world  # heavy (faker, sqlite-utils): only when building

            build_world(config, target, search_backend=search_backend, progress=False, overwrite=True)
    return target
