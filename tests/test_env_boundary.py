"""The env's boundary under attack: arbitrary JSON actions never raise, and every episode still ends graded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopgym.catalog.store import content_hash
from shopgym.envs import TOOL_NAMES, ProductResearchEnv

EXTREMES = [0, -1, 1e18, -1e18, 1e300, -1e300, 10**30, -(10**30), 2**63, float("inf"), float("-inf"), float("nan"),
            1e-300, 0.5, True, False, None]
KEYS = ["query", "category", "min_price", "max_price", "min_rating", "specs", "spec_min", "spec_max", "sort", "page",
        "product_id", "product_ids", "fields", "section", "rating", "aspect", "doc_id", "question", "report",
        "recommendations", "claims", "price", "battery_life", "value", "source", "field", "summary", "nothing_fits"]


def _json(max_leaves: int = 12) -> st.SearchStrategy:
    leaves = st.one_of(st.sampled_from(EXTREMES), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                       st.text(max_size=40), st.binary(max_size=20).map(lambda b: b.decode("latin-1")),
                       st.sampled_from(["9" * 400, "x" * 20_000, "\x00\ud800", "P-1", "$1e999"]))
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), inner,
                                                     max_size=4)), max_leaves=max_leaves)


def _deep(depth: int, kind: str) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"report": value}
    return value


ACTIONS = st.one_of(
    st.builds(lambda tool, arguments: {"tool": tool, "arguments": arguments}, st.sampled_from(TOOL_NAMES),
              st.dictionaries(st.sampled_from(KEYS), _json(), max_size=5)),
    st.builds(lambda tool, arguments: json.dumps({"tool": tool, "arguments": arguments}, allow_nan=True),
              st.sampled_from(TOOL_NAMES), st.dictionaries(st.sampled_from(KEYS), _json(), max_size=5)),
    st.builds(lambda tool, depth, kind: {"tool": tool, "arguments": {"report": _deep(depth, kind)}},
              st.sampled_from(TOOL_NAMES), st.integers(10, 3000), st.sampled_from(["list", "dict"])),
    st.builds(lambda depth: "[" * depth + "]" * depth, st.integers(10, 100_000)),
    st.builds(lambda tool, big: {"tool": tool, "arguments": {"query": "x", "page": big, "min_price": big,
                                                             "spec_min": {"battery_life": big}}},
              st.sampled_from(["search_products"]), st.sampled_from(EXTREMES)),
    st.builds(lambda price: {"tool": "submit_report", "arguments": {"report": {"claims": [
        {"product_id": "P", "field": "price", "value": price, "source": "P"}]}}}, st.sampled_from(["9" * 400, "1e999",
                                                                                               "-0", "nan", "inf"])),
    _json(),
)


@pytest.fixture(scope="module")
def boundary_env(world_dir: Path):
    before = content_hash(world_dir / "catalog.db")
    env = ProductResearchEnv(catalog=world_dir, max_steps=6)
    yield env
    env.close()
    assert content_hash(world_dir / "catalog.db") == before  # nothing an agent sends changes the world


@settings(max_examples=2500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(first=ACTIONS, second=ACTIONS)
def test_arbitrary_json_actions_never_raise_and_the_episode_still_ends_with_a_reward(boundary_env, first,
                                                                                     second) -> None:
    env = boundary_env
    env.reset(seed=0)
    done = False
    for action in (first, second):
        observation, reward, terminated, truncated, info = env.step(action)
        assert env.observation_space.contains(observation)
        if info["error"]:
            assert observation["text"].startswith("Error:") and len(observation["text"]) > 20
        if terminated or truncated:
            assert 0.0 <= reward <= 1.0 and "total" in info["reward_parts"]
            done = True
            break
    while not done:  # whatever came before, the episode can still finish and be graded
        observation, reward, terminated, truncated, info = env.step({"tool": "submit_report", "arguments": {
            "report": {"summary": "Done."}}})
        done = terminated or truncated
    assert 0.0 <= reward <= 1.0


@pytest.mark.parametrize("action", [
    {"tool": "search_products", "arguments": {"min_price": 1e18}},
    {"tool": "search_products", "arguments": {"max_price": float("inf")}},
    {"tool": "search_products", "arguments": {"spec_min": {"battery_life": 1e300}}},
    "[" * 1000 + "]" * 1000,
    {"tool": "submit_report", "arguments": {"report": _deep(1000, "dict")}},
])
def test_known_crashers_are_error_observations_that_say_what_is_valid(boundary_env, action) -> None:
    boundary_env.reset(seed=0)
    observation, reward, _, _, info = boundary_env.step(action)
    assert info["error"] and reward == 0.0
    assert any(word in observation["text"] for word in ("less than or equal", "finite", "deeper than", "must be"))


def test_a_price_claim_of_400_nines_is_graded_false_not_raised(boundary_env) -> None:
    boundary_env.reset(seed=0)
    report = {"claims": [{"product_id": "P", "field": "price", "value": "9" * 190, "source": "P"}]}
    _, reward, terminated, _, info = boundary_env.step({"tool": "submit_report", "arguments": {"report": report}})
    assert terminated and info["reward_parts"]["claim_precision"] == 0.0 and reward == 0.0
