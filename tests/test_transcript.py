"""A Transcript, kept from the env's public outputs alone, knows what the env's own episode log knows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shopgym.agents.baselines import HeuristicResearcher, RandomPolicy
from shopgym.agents.transcript import Transcript
from shopgym.envs import ProductResearchEnv


def _same_as_the_log(transcript: Transcript, env: ProductResearchEnv) -> None:
    log = env.episode
    assert transcript.calls == log.calls
    assert transcript.retrieved == log.retrieved_products and transcript.inspected == log.inspected_products
    assert transcript.viewed == log.viewed_products and transcript.reviews == log.retrieved_reviews
    assert transcript.opened_pages == log.retrieved_pages and transcript.sources() == log.sources()
    assert transcript.steps_left == log.steps_left and transcript.submitted == (log.report is not None)


def test_a_transcript_matches_the_envs_own_log_step_by_step(world_dir: Path) -> None:
    env = ProductResearchEnv(catalog=world_dir, split="test")
    tasks = [t.id for t in env.catalog.tasks("test")]
    order = np.random.default_rng(5).permutation(len(tasks))[:12]
    for i, index in enumerate(order):
        policy = HeuristicResearcher() if i % 2 else RandomPolicy(seed=i)  # random: failed steps of every kind
        transcript, observation = Transcript.reset(env, seed=i, options={"task_id": tasks[int(index)]})
        assert transcript.request == env.episode.request and transcript.category == env.episode.category
        actions = policy.actions(env, observation["text"])
        action = next(actions)
        while True:
            observation, _, terminated, truncated, _ = transcript.step(env, action)
            _same_as_the_log(transcript, env)
            if terminated or truncated:
                break
            try:
                action = actions.send(observation["text"])
            except StopIteration:  # the random policy may stop early; nothing more to compare
                break
        assert len(transcript.texts) == env.episode.step
    env.close()


def test_a_copy_is_independent(world_dir: Path) -> None:
    env = ProductResearchEnv(catalog=world_dir, split="test")
    transcript, _ = Transcript.reset(env, seed=0, options={"split": "test"})
    transcript.step(env, {"tool": "search_products", "arguments": {"category": transcript.category}})
    assert transcript.spec_filters.startswith(f"Specs of {transcript.category} ")
    copy = transcript.copy()
    copy.step(env, {"tool": "view_product", "arguments": {"product_id": sorted(copy.retrieved)[0]}})
    assert len(copy.shown) == 2 and len(transcript.shown) == 1 and not transcript.viewed and copy.viewed
    assert copy.spec_filters == transcript.spec_filters
    env.close()
