"""Reward anchors, NDCG on real tasks, leakage, and real dumps: the reward means what it says (hacks: test_hacks)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shopgym.agents.baselines import HeuristicResearcher, RandomPolicy
from shopgym.agents.compare import compare, markdown, shared_episodes
from shopgym.agents.evaluate import distinct_tasks, evaluate, run_episode
from shopgym.catalog.importers import import_catalog
from shopgym.catalog.tables import HIDDEN_TABLES, canary
from shopgym.cli import main
from shopgym.envs import ProductResearchEnv
from shopgym.envs.recorder import RecordEpisode
from shopgym.envs.reward import ndcg_at_k, scaled_gains

CANARIES = [canary(t) for t in HIDDEN_TABLES]


@pytest.fixture(scope="module")
def anchors(world_dir: Path) -> dict[str, float]:
    return {name: evaluate(name, world_dir, "test", 60, 1).mean_reward
            for name in ("oracle", "heuristic", "shallow", "random")}


def test_reward_anchors_on_the_test_split(anchors: dict[str, float]) -> None:
    assert anchors["oracle"] >= 0.95
    assert anchors["heuristic"] >= 0.80
    assert anchors["shallow"] <= 0.55  # reading nothing: filter, sort by stars, cite prices
    assert anchors["heuristic"] - anchors["shallow"] >= 0.25  # research pays
    assert anchors["random"] <= 0.05


def test_ndcg_tells_good_picks_from_poor_ones_on_real_tasks(world_dir: Path) -> None:
    env = ProductResearchEnv(catalog=world_dir, evaluation=True)
    rng = np.random.default_rng(0)
    worst, random_mean = [], []
    for task_id in sorted(t for t, task in env.tasks.items() if task.split == "test"):
        truth = env.truth_reader.task(task_id)
        if len(truth.fitting) < 3:
            continue
        gains = scaled_gains(truth.utilities, truth.fitting)
        assert ndcg_at_k(list(truth.ideal[:3]), gains) == pytest.approx(1.0)
        fitting = sorted(truth.fitting)
        random_mean.append(np.mean([ndcg_at_k(list(rng.choice(fitting, 3, replace=False)), gains)
                                    for _ in range(20)]))
        if len(fitting) >= 10:
            worst.append(ndcg_at_k(sorted(fitting, key=lambda p: gains[p])[:3], gains))
    assert len(worst) >= 50 and max(worst) <= 0.10
    assert 0.4 <= float(np.mean(random_mean)) <= 0.6


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


def test_trials_report_pass_k_and_the_share_of_tasks_that_flip(world_dir: Path) -> None:
    steady = evaluate("heuristic", world_dir, "test", 10, 1, trials=2)
    assert len(steady.episodes) == 20 and steady.trials == 2
    assert [e.task_id for e in steady.episodes[::2]] == [e.task_id for e in steady.episodes[1::2]]
    assert steady.flip_rate == 0.0  # a deterministic policy never flips

    class EveryOtherSeed:  # the heuristic on even seeds, an empty report on odd ones: trials 1 and 2 disagree
        def __init__(self, seed: int) -> None:
            self.inner = HeuristicResearcher() if seed % 2 == 0 else None

        def actions(self, env, observation: str):
            if self.inner is None:
                yield {"tool": "submit_report", "arguments": {"report": {}}}
            else:
                yield from self.inner.actions(env, observation)

    flipping = evaluate("alternating", world_dir, "test", 10, 1, trials=2, make_policy=EveryOtherSeed)
    assert flipping.pass_k == 0.0
    assert flipping.flip_rate == steady.pass_k > 0  # exactly the tasks the heuristic passes flip
    once = evaluate("heuristic", world_dir, "test", 10, 1)
    rows = {line.split(" | ")[0]: line for line in markdown(compare({"steady": steady, "flipping": flipping,
                                                                     "once": once})).splitlines()
            if "(k=" in line}
    assert f"| {flipping.flip_rate:.3f} |" in rows["| flipping"] and "| 0.000 |" in rows["| steady"]
    assert "(k=1, T=-) | - |" in rows["| once"]  # one trial cannot flip
    with pytest.raises(ValueError, match="trials"):
        evaluate("heuristic", world_dir, "test", 10, 1, trials=0)


def test_compare_shared_cuts_every_evaluation_to_the_episodes_all_ran(world_dir: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    long = evaluate("heuristic", world_dir, "test", 10, 1).model_copy(update={"call_validity": 0.9})
    short = evaluate("shallow", world_dir, "test", 4, 1)
    assert [(r.task_id, r.seed) for r in short.episodes] == [(r.task_id, r.seed) for r in long.episodes[:4]]
    cut = shared_episodes({"heuristic": long, "shallow": short})
    assert cut["shallow"] is short  # nothing to cut
    first = [r.reward for r in long.episodes[:4]]
    assert [r.reward for r in cut["heuristic"].episodes] == first and first != [r.reward for r in long.episodes[4:8]]
    assert cut["heuristic"].mean_reward == pytest.approx(np.mean(first), abs=1e-4)
    assert cut["heuristic"].mean_reward != long.mean_reward
    assert cut["heuristic"].details["shared"] == "4 of its 10 episodes" and cut["heuristic"].call_validity is None
    elsewhere = long.model_copy(update={"catalog_hash": "0" * 64})
    with pytest.raises(ValueError, match="different catalogs or splits"):
        shared_episodes({"heuristic": elsewhere, "shallow": short})
    with pytest.raises(ValueError, match="share no"):
        shared_episodes({"heuristic": long, "later": evaluate("shallow", world_dir, "test", 2, 500)})
    (tmp_path / "heuristic.json").write_text(long.model_dump_json())
    (tmp_path / "shallow.json").write_text(short.model_dump_json())
    argv = ["compare", str(tmp_path / "heuristic.json"), str(tmp_path / "shallow.json"), "--diff",
            "heuristic:shallow", "--out", str(tmp_path / "cmp"), "--json"]
    assert main([*argv, "--shared"]) == 0
    result = json.loads(capsys.readouterr().out)
    reward = next(d for d in result["differences"] if d["metric"] == "reward")
    assert reward["pairs"] == 4 and reward["mean"] == pytest.approx(np.mean(first) - short.mean_reward, abs=1e-3)
    assert "| heuristic | 4 | " in (tmp_path / "cmp" / "comparison.md").read_text()
    assert main(argv) == 0  # without --shared each row keeps all its episodes (the pairs are the shared ones)
    assert "| heuristic | 10 | " in (tmp_path / "cmp" / "comparison.md").read_text()
