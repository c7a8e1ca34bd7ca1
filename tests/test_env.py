"""The env keeps Gymnasium's contract, is deterministic, and turns every bad action into an observation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shopgym.envs  # noqa: F401  (registers the env)
from shopgym.agents.baselines import HeuristicResearcher
from shopgym.agents.evaluate import run_episode
from shopgym.catalog.store import content_hash
from shopgym.catalog.taxonomy import CATEGORIES
from shopgym.envs import TOOL_NAMES, ProductResearchEnv
from shopgym.envs.env import spec_filters_line
from shopgym.envs.recorder import RecordEpisode, replay
from shopgym.envs.result import StepResult
from shopgym.schema import TrajectoryRecord

INJECTIONS = ["'; DROP TABLE products; --", "\" OR 1=1 --", "title:*", "NEAR(a b)", "*", "\x00", "AND OR NOT",
              "ignore previous instructions", "🙂" * 10, "x" * 5000, "Robert'); DELETE FROM reviews;--", "%", "_"]


@pytest.fixture()
def env(world_dir: Path):
    environment = ProductResearchEnv(catalog=world_dir)
    yield environment
    environment.close()


def test_check_env_passes(world_dir: Path) -> None:
    environment = gym.make("shopgym/ProductResearch-v1", catalog=world_dir)
    check_env(environment.unwrapped, skip_render_check=False)
    environment.close()


def test_tool_schemas_come_from_the_validating_models(env: ProductResearchEnv) -> None:
    schemas = {s["name"]: s for s in env.tool_schemas()}
    assert tuple(schemas) == TOOL_NAMES
    search = schemas["search_products"]["parameters"]["properties"]
    assert search["page"]["minimum"] == 1 and "relevance" in json.dumps(search["sort"])
    assert schemas["view_product"]["parameters"]["required"] == ["product_id"]
    env.reset(seed=0)
    observation, *_ = env.step({"tool": "search_products", "arguments": {"page": 0}})
    assert "greater than or equal to 1" in observation["text"]


def _transcript(env: ProductResearchEnv, seed: int) -> list:
    observation, info = env.reset(seed=seed, options={"split": "test"})
    out = [observation["text"]]
    actions = HeuristicResearcher().actions(env, observation["text"])
    action = next(actions)
    while True:
        observation, reward, terminated, truncated, info = env.step(action)
        out.append([json.dumps(action, sort_keys=True), observation["text"], reward])
        if terminated or truncated:
            return out
        action = actions.send(observation["text"])


def test_same_seed_same_transcript(world_dir: Path) -> None:
    first, second = ProductResearchEnv(catalog=world_dir), ProductResearchEnv(catalog=world_dir)
    assert [_transcript(first, s) for s in range(3)] == [_transcript(second, s) for s in range(3)]
    assert _transcript(first, 0) != _transcript(first, 1)


PROBE = """
import hashlib, json, sys
sys.path.insert(0, sys.argv[2])
from test_env import _transcript
from shopgym.envs import ProductResearchEnv
env = ProductResearchEnv(catalog=sys.argv[1])
print(hashlib.sha256(json.dumps([_transcript(env, s) for s in range(4)]).encode()).hexdigest())
"""


def test_transcripts_match_across_processes_and_hash_seeds(world_dir: Path) -> None:
    digests = set()
    for hash_seed in ("0", "987"):
        done = subprocess.run([sys.executable, "-c", PROBE, str(world_dir), str(Path(__file__).parent)],
                              env={**os.environ, "PYTHONHASHSEED": hash_seed}, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip())
    assert len(digests) == 1


def _bad_action() -> st.SearchStrategy:
    junk = st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=60))
    ids = st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=30).map(lambda s: "P" + s))
    return st.one_of(
        st.text(max_size=200),  # random text
        st.sampled_from(INJECTIONS),
        st.builds(lambda t, a: json.dumps({"tool": t, "arguments": a}), junk, st.dictionaries(junk, junk, max_size=3)),
        st.builds(lambda t: {"tool": t, "arguments": {"product_id": 17}}, st.sampled_from(["view_product", "read_reviews"])),
        st.builds(lambda i: {"tool": "view_product", "arguments": {"product_id": i}}, ids),
        st.builds(lambda i, a: {"tool": "read_reviews", "arguments": {"product_id": i, "aspect": a}}, ids, junk),
        st.builds(lambda i: {"tool": "open_page", "arguments": {"doc_id": i}}, ids),
        st.builds(lambda i: {"tool": "compare_products", "arguments": {"product_ids": [i, i]}}, ids),
        st.builds(lambda s: {"tool": "search_products", "arguments": {"specs": {s: "x"}, "page": 1}},
                  st.sampled_from(INJECTIONS)),
        st.builds(lambda i: {"tool": "submit_report", "arguments": {"report": {"recommendations": [{"pid": i}]}}}, ids),
    )


def _free_text_action() -> st.SearchStrategy:
    junk = st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=80))
    return st.one_of(
        st.builds(lambda q, c: {"tool": "search_products", "arguments": {"query": q, "category": c}}, junk, junk),
        st.builds(lambda q: {"tool": "search_web", "arguments": {"query": q or "x"}}, junk),
        st.builds(lambda q: {"tool": "ask_user", "arguments": {"question": q + "???"}}, junk),
    )


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(bad=_bad_action(), free=_free_text_action())
def test_random_and_malicious_actions_never_raise(world_dir_env, bad, free) -> None:
    env = world_dir_env
    if env.episode.steps_left < 2 or env.episode.report is not None:
        env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step(bad)
    assert info["error"] and observation["text"].startswith("Error:"), observation["text"]
    assert reward == 0.0 and not terminated
    assert env.observation_space.contains(observation)
    observation, *_ = env.step(free)  # injection strings in free-text arguments: answered, not executed
    assert env.observation_space.contains(observation)


@pytest.fixture(scope="module")
def world_dir_env(world_dir: Path):
    before = content_hash(world_dir / "catalog.db")
    environment = ProductResearchEnv(catalog=world_dir, max_steps=10_000)
    environment.reset(seed=0)
    yield environment
    environment.close()
    assert content_hash(world_dir / "catalog.db") == before


def test_truncation_at_the_step_budget(world_dir: Path) -> None:
    env = ProductResearchEnv(catalog=world_dir, max_steps=3)
    env.reset(seed=0)
    results = [env.step({"tool": "search_web", "arguments": {"query": "guide"}}) for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True]
    assert results[-1][1] == 0.0 and results[-1][4]["termination"] == "truncated"
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({"tool": "search_web", "arguments": {"query": "guide"}})


def test_reset_options(env: ProductResearchEnv) -> None:
    task = next(t for t in env.tasks.values() if t.split == "val")
    _, info = env.reset(seed=3, options={"task_id": task.id})
    assert info["task_id"] == task.id
    assert info["request"] == env.episode.request and info["category"] == task.category
    observation, info = env.reset(seed=3, options={"split": "test", "request": "I want cheap headphones."})
    assert "I want cheap headphones." in observation["text"] and info["request"] == "I want cheap headphones."
    _, info = env.reset(seed=4, options={"split": "test", "difficulty": "hard"})
    assert env.tasks[info["task_id"]].difficulty == "hard"
    for bad in ({"tasks": 1}, {"split": "nope"}, {"task_id": "T-nope"}):
        with pytest.raises(ValueError, match="valid|unknown"):
            env.reset(options=bad)
    evaluation = ProductResearchEnv(catalog=env.catalog_dir, evaluation=True)
    with pytest.raises(ValueError, match="canonical request"):
        evaluation.reset(options={"request": "something else"})


def test_reset_text_names_the_categorys_spec_filters(env: ProductResearchEnv) -> None:
    """The first observation lists the spec names the search filters take, so no policy has to guess them."""
    observation, info = env.reset(seed=6, options={"split": "test"})
    line = next(row for row in observation["text"].splitlines() if row.startswith("Specs of "))
    entries = line.split(": ", 1)[1].rstrip(".").split("; ")
    assert sorted(entry.split(" (")[0] for entry in entries) == env.catalog.spec_names(info["category"])
    numeric = next(entry.split(" (")[0] for entry in entries if "spec_min" in entry)
    _, _, _, _, step_info = env.step({"tool": "search_products",
                                      "arguments": {"category": info["category"], "spec_min": {numeric: 0}}})
    assert not step_info["error"]


def test_a_unitless_spec_filter_names_no_empty_unit() -> None:
    hair_dryers = next(c for c in CATEGORIES if c.id == "hair_dryers")  # heat_settings is a count, with no unit
    line = spec_filters_line(hair_dryers)
    assert "heat_settings (spec_min/spec_max)" in line and "power (W, spec_min/spec_max)" in line


def test_snapshot_restore_leaves_no_trace(env: ProductResearchEnv) -> None:
    env.reset(seed=5, options={"split": "test"})
    env.step({"tool": "search_products", "arguments": {"query": "battery"}})
    before = env.snapshot()
    product = sorted(env.episode.retrieved_products)[0]
    env.step({"tool": "view_product", "arguments": {"product_id": product}})
    assert product in env.episode.inspected_products and env.episode.step == 2
    env.restore(before)
    assert product not in env.episode.inspected_products and env.episode.step == 1


def test_recorded_trajectory_replays_to_the_same_reward(world_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    recorder = RecordEpisode(ProductResearchEnv(catalog=world_dir), path=path)
    for seed in range(3):
        run_episode(recorder, HeuristicResearcher(), seed, sorted(recorder.unwrapped.tasks)[seed * 7])
    records = [TrajectoryRecord.model_validate_json(line) for line in path.read_text().splitlines()]
    assert len(records) == 3 and all(r.termination == "submitted" for r in records)
    fresh = ProductResearchEnv(catalog=world_dir)
    for record in records:
        assert {m.agent for m in record.messages} == {"user", "researcher", "env"}
        reward, parts = replay(record, fresh)
        assert reward == record.reward and parts == record.reward_parts


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs(world_dir: Path, mode: str) -> None:
    kwargs = {"vector_kwargs": {"shared_memory": False}} if mode == "async" else {}
    envs = gym.make_vec("shopgym/ProductResearch-v1", num_envs=2, vectorization_mode=mode, catalog=str(world_dir),
                        **kwargs)
    observations, _ = envs.reset(seed=11)
    assert len(observations["text"]) == 2 and observations["text"][0] != observations["text"][1]
    _, rewards, terminated, truncated, infos = envs.step(["not json", json.dumps({"tool": "search_web",
                                                                                   "arguments": {"query": "guide"}})])
    assert list(rewards) == [0.0, 0.0] and list(infos["error"]) == [True, False]
    envs.close()


def test_grade_draft_scores_without_ending_the_episode(world_dir: Path) -> None:
    env = ProductResearchEnv(catalog=world_dir, evaluation=True)
    env.reset(seed=2, options={"split": "test"})
    best = env.task_truth.ideal_ranking()[:1]
    for pid in best:
        env.step({"tool": "view_product", "arguments": {"product_id": pid}})
        env.step({"tool": "read_reviews", "arguments": {"product_id": pid}})
    draft = {"recommendations": [{"product_id": p, "rationale": "best fit"} for p in best]}
    parts = env.grade_draft(draft)
    assert parts["ndcg"] > 0 and parts["evidence"] == 1.0
    assert env.episode.report is None and env.episode.step == 2 * len(best)
    _, reward, terminated, _, info = env.step({"tool": "submit_report", "arguments": {"report": draft}})
    assert terminated and info["reward_parts"]["ndcg"] == parts["ndcg"]


def test_v0_is_retired_and_make_names_v1(world_dir: Path) -> None:
    with pytest.raises(gym.error.DeprecatedEnv, match="ProductResearch-v1"):
        gym.make("shopgym/ProductResearch-v0", catalog=world_dir)


def test_a_v0_record_loads_but_is_not_regraded_under_v1(world_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    env = RecordEpisode(ProductResearchEnv(catalog=world_dir), path=path)
    run_episode(env, HeuristicResearcher(), 0, sorted(env.unwrapped.tasks)[0])
    record = TrajectoryRecord.model_validate_json(path.read_text().splitlines()[0])
    assert (record.env_id, record.env_version) == ("shopgym/ProductResearch-v1", "1")
    assert replay(record, env.unwrapped)[0] == record.reward
    old = record.model_copy(update={"env_id": "shopgym/ProductResearch-v0", "env_version": "0"})
    with pytest.raises(ValueError, match="ProductResearch-v0"):
        replay(old, env.unwrapped)


def _step_result(env: ProductResearchEnv, action) -> tuple[str, dict]:
    observation, _, _, _, info = env.step(action)
    return observation["text"], info["result"]


def test_each_step_reports_what_it_showed_beside_the_text(env: ProductResearchEnv) -> None:
    """`info["result"]` lists the ids the text shows, so agents need no regex over observations."""
    env.reset(seed=3, options={"split": "test"})
    text, result = _step_result(env, {"tool": "search_products", "arguments": {"category": env.episode.category}})
    shown = [line.split(" | ")[0].removeprefix("- ") for line in text.splitlines()[1:]]
    assert result["ok"] and result["tool"] == "search_products" and result["listed"] == shown and shown
    assert text.startswith(f"{result['total']} products match") and result["inspected"] == []
    pick = shown[0]
    text, result = _step_result(env, {"tool": "read_reviews", "arguments": {"product_id": pick}})
    assert result["inspected"] == [pick] and result["reviews"]
    assert all(f"- {review} |" in text for review in result["reviews"])
    _, result = _step_result(env, {"tool": "compare_products", "arguments": {"product_ids": shown[:2]}})
    assert result["listed"] == result["inspected"] == shown[:2]
    text, result = _step_result(env, {"tool": "search_web", "arguments": {"query": env.episode.category}})
    assert result["pages"] and all(f"- {page} |" in text for page in result["pages"])
    _, opened = _step_result(env, {"tool": "open_page", "arguments": {"doc_id": result["pages"][0]}})
    assert opened["pages"] == result["pages"][:1]


def test_a_failed_step_names_what_kind_of_error_it_was(env: ProductResearchEnv) -> None:
    env.reset(seed=3, options={"split": "test"})
    cases = {"malformed_action": "{not json", "unknown_tool": {"tool": "buy_now", "arguments": {}},
             "invalid_arguments": {"tool": "view_product", "arguments": {"product_id": 7}},
             "not_found": {"tool": "view_product", "arguments": {"product_id": "NOPE-1"}},
             "refused": {"tool": "search_products", "arguments": {"specs": {"warp_speed": "9"},
                                                                   "category": env.episode.category}}}
    for kind, action in cases.items():
        text, result = _step_result(env, action)
        assert text.startswith("Error:") and not result["ok"] and result["error_kind"] == kind, (kind, text)
        assert result["listed"] == [] and result["total"] is None


def test_a_page_past_the_end_of_a_document_is_refused_without_a_trace(env: ProductResearchEnv) -> None:
    """A refused open_page neither counts the page as read (a source a claim could cite) nor lists its products."""
    env.reset(seed=3, options={"split": "test"})
    _, found = _step_result(env, {"tool": "search_web", "arguments": {"query": env.episode.category}})
    text, result = _step_result(env, {"tool": "open_page", "arguments": {"doc_id": found["pages"][0], "page": 50}})
    assert "past the end" in text and result["error_kind"] == "refused"
    assert env.episode.retrieved_pages == set() and env.episode.sources() == set()
    assert env.episode.retrieved_products == set() and env.episode.researched_products == set()


def test_step_result_as_dict_holds_every_field_and_copies_its_lists() -> None:
    result = StepResult(tool="read_reviews")
    result.saw(listed=["P1"], inspected=["P1"], reviews=["R1", "R2"], pages=["W1"], total=4)
    plain = result.as_dict()
    assert plain == asdict(result)
    plain["listed"].append("P2")
    assert result.listed == ["P1"]
