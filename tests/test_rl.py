"""The RL hook-up: a Discrete menu wrapper that classic algorithms can learn on."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from gymnasium.utils.env_checker import check_env

from shopgym.catalog.truth import TruthReader
from shopgym.envs import ProductResearchEnv
from shopgym.envs.rl import MENU, ToolMenu

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "reinforce.py"


def _example():
    spec = importlib.util.spec_from_file_location("reinforce_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_menu_wrapper_keeps_the_contract(world_dir: Path) -> None:
    env = ToolMenu(ProductResearchEnv(catalog=world_dir))
    check_env(env, skip_render_check=True)
    features, _ = env.reset(seed=0)
    assert env.observation_space.contains(features) and env.action_space.n == len(MENU)
    first = env.tool_call(MENU.index("search_filtered"))
    assert first["tool"] == "search_products" and first["arguments"]["category"] == env.base.episode.category


def test_menu_is_built_from_observable_data_only(world_dir: Path) -> None:
    env = ToolMenu(ProductResearchEnv(catalog=world_dir))
    for seed in range(20):
        env.reset(seed=seed, options={"difficulty": "hard"})
        arguments = env.tool_call(MENU.index("search_filtered"))["arguments"]
        assert set(arguments) == {"category", "sort"}  # nothing stated yet, so nothing filtered
        env.step(MENU.index("ask_user"))
        assert "max_price" in env.tool_call(MENU.index("search_filtered"))["arguments"]


def test_the_menu_never_reads_the_hidden_need_or_hidden_tables(world_dir: Path, monkeypatch) -> None:
    """Every hidden-truth entry point raises while the menu builds a call or an observation."""
    inside = {"menu": False}

    def guarded(function):
        def run(*args, **kwargs):
            assert not inside["menu"], f"{function.__qualname__} read hidden truth for the menu"
            return function(*args, **kwargs)
        return run

    def menu_side(function):
        def run(*args, **kwargs):
            inside["menu"] = True
            try:
                return function(*args, **kwargs)
            finally:
                inside["menu"] = False
        return run

    for name in ("task", "category_table", "review_sentiment", "true_specs", "review_about", "page_states"):
        monkeypatch.setattr(TruthReader, name, guarded(getattr(TruthReader, name)))
    monkeypatch.setattr(ProductResearchEnv, "_require_truth", guarded(ProductResearchEnv._require_truth))
    monkeypatch.setattr(ToolMenu, "tool_call", menu_side(ToolMenu.tool_call))
    monkeypatch.setattr(ToolMenu, "_features", menu_side(ToolMenu._features))
    env = ToolMenu(ProductResearchEnv(catalog=world_dir))
    rng = np.random.default_rng(0)
    rewards = []
    for seed in range(30):
        env.reset(seed=seed)
        for action in [MENU.index("ask_user"), MENU.index("search_filtered"), *rng.integers(len(MENU), size=12)]:
            _, reward, terminated, truncated, _ = env.step(int(action))
            if terminated or truncated:
                rewards.append(reward)
                break
    assert rewards  # episodes ended and were graded (grading itself reads the truth, outside the menu)


def test_reinforce_beats_random_over_three_seeds(world_dir: Path) -> None:
    example = _example()
    results = [example.train(str(world_dir), 1500, seed) for seed in range(3)]
    summary = example.summarize(results)
    assert summary["gain_ci95"][0] >= 0.1, summary
    assert all(np.isfinite(r["last10_mean"]) for r in results)
