"""Shared fixtures: one small generated world per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopgym.catalog.build import build_world
from shopgym.catalog.world import WorldConfig

SMALL_WORLD = WorldConfig(seed=7, products=2000)


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed-7 world with 2,000 products, indexed with Whoosh (the default backend)."""
    out = tmp_path_factory.mktemp("worlds") / "seed7"
    build_world(SMALL_WORLD, out, search_backend="whoosh", progress=False)
    return out


@pytest.fixture(scope="session")
def student_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded SmolLM2-135M GGUF de-quantized to an HF folder (what `shopgym train` caches)."""
    from shopgym.agents.backends import embedded_model_path
    from shopgym.train import resolve_base

    return resolve_base(embedded_model_path(), tmp_path_factory.mktemp("hf-base"))
