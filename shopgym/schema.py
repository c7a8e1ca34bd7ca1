"""Records every stage exchanges: tool calls, messages and the per-episode trajectory record."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]
Agent = Literal["user", "researcher", "supervisor", "env"]


class ToolCall(BaseModel):
    """One action: a tool name and its JSON arguments."""

    model_config = ConfigDict(extra="forbid")

    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Message(BaseModel):
    """One turn of an episode. `tool_call` is set on assistant actions, `observation` on tool results."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    agent: Agent
    content: str = ""
    tool_call: ToolCall | None = None
    observation: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class TrajectoryRecord(BaseModel):
    """Everything needed to replay and re-grade one episode."""

    model_config = ConfigDict(extra="forbid")

    env_id: str
    env_version: str
    catalog_hash: str
    task_id: str
    seed: int | None
    tool_schema_hash: str
    request: str
    messages: list[Message]
    reward: float
    reward_parts: dict[str, float]
    termination: Literal["submitted", "truncated", "running"]
    model_ids: dict[str, str] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    def actions(self) -> list[ToolCall]:
        return [m.tool_call for m in self.messages if m.tool_call is not None]
