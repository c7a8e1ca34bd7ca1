"""Record episodes as typed trajectory records (JSONL), and replay a record to re-grade it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

from shopgym.schema import Message, ToolCall, TrajectoryRecord

from .env import ENV_ID, ENV_VERSION, ProductResearchEnv, parse_action
from .tools import tool_schema_hash


def _action_text(action: str | dict) -> str:
    return action if isinstance(action, str) else json.dumps(action, sort_keys=True)


class RecordEpisode(gym.Wrapper):
    """Keeps the current episode as a TrajectoryRecord; appends each finished one to `path` if given."""

    def __init__(self, env: gym.Env, path: str | Path | None = None, model_ids: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.path = Path(path) if path is not None else None
        self.model_ids = model_ids or {}
        self.record: TrajectoryRecord | None = None
        self._started = 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        base: ProductResearchEnv = self.env.unwrapped
        self._started = time.perf_counter()
        self.record = TrajectoryRecord(
            env_id=ENV_ID, env_version=ENV_VERSION, catalog_hash=base.reader.content_hash, task_id=info["task_id"],
            seed=seed, tool_schema_hash=tool_schema_hash(), request=base.episode.request,
            messages=[Message(role="user", agent="user", content=base.episode.request)],
            reward=0.0, reward_parts={}, termination="running", model_ids=self.model_ids,
            extra={"options": {k: v for k, v in (options or {}).items() if k != "request"}},
        )
        return observation, info

    def step(self, action: str | dict):
        observation, reward, terminated, truncated, info = self.env.step(action)
        try:
            tool_call: ToolCall | None = parse_action(action)
        except ValueError:
            tool_call = None
        record = self.record
        record.messages.append(Message(role="assistant", agent="researcher", content=_action_text(action),
                                       tool_call=tool_call))
        record.messages.append(Message(role="tool", agent="env", observation=observation["text"],
                                       meta={"error": info["error"]}))
        if terminated or truncated:
            record.reward = reward
            record.reward_parts = info["reward_parts"]
            record.termination = info["termination"]
            record.timings = {"episode_s": round(time.perf_counter() - self._started, 4)}
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a") as out:
                    out.write(record.model_dump_json() + "\n")
        return observation, reward, terminated, truncated, info


def replay(record: TrajectoryRecord, env: ProductResearchEnv) -> tuple[float, dict[str, float]]:
    """Re-run a record's actions on `env` (same catalog) and return the reward and parts it earns now."""
    if record.env_version != ENV_VERSION:
        raise ValueError(f"record was made on {record.env_id}; this env grades {ENV_ID} and cannot re-grade it")
    if env.reader.content_hash != record.catalog_hash:
        raise ValueError(f"record was made on catalog {record.catalog_hash[:12]}, env has {env.reader.content_hash[:12]}")
    env.reset(seed=record.seed, options={**record.extra.get("options", {}), "task_id": record.task_id})
    reward, parts = 0.0, {}
    for message in record.messages:
        if message.role != "assistant":
            continue
        _, reward, terminated, truncated, info = env.step(message.content)
        if terminated or truncated:
            parts = info["reward_parts"]
            break
    return reward, parts
