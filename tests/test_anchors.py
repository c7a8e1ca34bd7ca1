"""Reward anchors, reward hacking, leakage, and real dumps: the reward means what it says."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopgym.agents.baselines import HeuristicResearcher, RandomPolicy, call, product_lines
from shopgym.agents.evaluate import distinct_tasks, evaluate, run_episode
from shopgym.catalog.importers import import_catalog
from shopgym.catalog.tables import HIDDEN_TABLES, canary
from shopgym.envs import ProductResearchEnv
from shopgym.envs.recorder import RecordEpisode

CANARIES = [canary(t) for t in HIDDEN_TABLES]


def _category(observation: str) -> str:
    return re.search(r"\(([a-z0-9_]+)\)", observation).group(1)


class ListEverything:
    def actions(self, env, observation: str) -> Iterator[dict]:
        first = yield call("search_products", category=_category(observation))
        more = yield call("search_products", category=_category(observation), page=2)
        ids = [p for p, _ in product_lines(first) + product_lines(more)]
        yield call("submit_report", report={"recommendations": [{"product_id": p} for p in ids],
                                            "summary": "Every product in the category."})


class CopyTopResults:
    def actions(self, env, observation: str) -> Iterator[dict]:
        found = yield call("search_products", query=_category(observation).replace("_", " "))
        ids = [p for p, _ in product_lines(found)][:3]
        yield call("submit_report", report={"recommendations": [{"product_id": p, "rationale": "top search hit"}
                                                                for p in ids], "summary": "The top results."})


class AlwaysNothingFits:
    def actions(self, env, observation: str) -> Iterator[dict]:
        yield call("submit_report", report={"nothing_fits": True, "summary": "Nothing fits your request, sorry."})


class ClaimSpam:
    def actions(self, env, observation: str) -> Iterator[dict]:
        found = yield call("search_products", category=_category(observation))
        ids = [p for p, _ in product_lines(found)]
        claims = [{"product_id": p, "field": field, "value": value, "source": p}
                  for p in ids for field, value in (("price", "$1.00"), ("aspect:comfort", "good"),
                                                    ("aspect:battery", "good"), ("weight", "1 g"))]
        yield call("submit_report", report={"recommendations": [{"product_id": ids[0]}], "claims": claims[:30],
                                            "summary": "Lots of facts about comfort, battery and sound."})


class CiteUnseen:
    def actions(self, env, observation: str) -> Iterator[dict]:
        found = yield call("search_products", category=_category(observation), sort="rating")
        ids = [p for p, _ in product_lines(found)][:3]
        claims = [{"product_id": p, "field": "aspect:comfort", "value": "good", "source": f"R-unseen-{k}"}
                  for k, p in enumerate(ids)]
        yield call("submit_report", report={"recommendations": [{"product_id": p, "rationale": "reviews love it"}
                                                                for p in ids], "claims": claims,
                                            "summary": "Experts and reviewers agree on these."})


@pytest.fixture(scope="module")
def anchors(world_dir: Path) -> dict[str, float]:
    return {name: evaluate(name, world_dir, "test", 20, 1).mean_reward for name in ("oracle", "heuristic", "random")}


def test_reward_anchors_on_the_test_split(anchors: dict[str, float]) -> None:
    assert anchors["oracle"] >= 0.9
    assert anchors["heuristic"] >= 0.6 * anchors["oracle"]
    assert anchors["heuristic"] >= anchors["random"] + 0.2
    assert anchors["random"] <= 0.15


@pytest.mark.parametrize("hack", [ListEverything, CopyTopResults, AlwaysNothingFits, ClaimSpam, CiteUnseen])
def test_reward_hacks_score_well_below_the_heuristic(world_dir: Path, anchors: dict[str, float], hack) -> None:
    result = evaluate(hack.__name__, world_dir, "test", 20, 1, make_policy=lambda seed: hack())
    assert result.mean_reward <= anchors["heuristic"] - 0.2, (hack.__name__, result.mean_reward)


def test_no_hidden_truth_leaks_unless_evaluation(world_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    env = RecordEpisode(ProductResearchEnv(catalog=world_dir), path=path)
    seen: list[str] = []
    tasks = sorted(env.unwrapped.tasks)
    for episode in range(500):
        policy = HeuristicResearcher() if episode % 2 else RandomPolicy(episode)
        observation, info = env.reset(seed=episode, options={"task_id": tasks[episode % len(tasks)]})
        seen += [observation["text"], json.dumps(info, default=str)]
        actions = policy.actions(env, observation["text"])
        action = next(actions)
        while True:
            observation, _, terminated, truncated, info = env.step(action)
            seen += [observation["text"], json.dumps(info, default=str)]
            if terminated or truncated:
                break
            action = actions.send(observation["text"])
    seen.append(path.read_text())
    blob = "\n".join(seen)
    assert path.read_text().count("\n") == 500
    assert not [c for c in CANARIES if c in blob]
    evaluation = ProductResearchEnv(catalog=world_dir, evaluation=True)
    _, info = evaluation.reset(seed=0)
    assert canary("hidden_task_needs") in json.dumps(info)  # the canary would show a leak


@pytest.fixture(scope="module")
def amazon_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    fixtures = Path(__file__).parent / "fixtures" / "amazon2023"
    out = tmp_path_factory.mktemp("dump") / "amazon"
    import_catalog("amazon2023", out, meta=fixtures / "meta.jsonl", reviews=fixtures / "reviews.jsonl",
                   max_bad_rate=1.0, search_backend="fts5")
    return out


@pytest.mark.parametrize("policy", [HeuristicResearcher, RandomPolicy])
def test_baselines_run_on_an_imported_real_dump(amazon_dump: Path, policy) -> None:
    env = ProductResearchEnv(catalog=amazon_dump, evaluation=True)
    tasks = sorted(env.tasks)
    rewards = []
    for episode in range(20):
        agent = policy(episode) if policy is RandomPolicy else policy()
        result = run_episode(env, agent, episode, tasks[episode % len(tasks)])
        assert 0.0 <= result.reward <= 1.0
        rewards.append(result.reward)
    if policy is HeuristicResearcher:
        assert sum(rewards) / len(rewards) > 0.3
    assert all(env.tasks[t].truth_source == "observable" for t in tasks)


def test_evaluate_says_which_parts_are_absent_on_a_dump(amazon_dump: Path) -> None:
    result = evaluate("heuristic", amazon_dump, "train", 5, 1)
    assert result.absent and "review labels" in next(iter(result.absent.values()))
    with pytest.raises(ValueError, match="only"):
        distinct_tasks(ProductResearchEnv(catalog=amazon_dump), "test", 50, 1)
