"""The prompt format every stage shares: how an episode becomes model text and token ids, and its budget.

Rollout, distillation, training and evaluation all render through this module, so a student is
trained on exactly the text it later sees. The layout is ChatML (SmolLM2's chat template):
`<|im_start|>{role}\\n{content}<|im_end|>\\n`, with tool results in a `tool` turn.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from .schema import Message, ToolCall

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
SYSTEM_TEXT = (
    "You are a shopping research assistant. Research the user's request with the tools, one tool call per "
    "turn, then submit a report that recommends the best products that meet every constraint, with claims "
    "that cite what you saw. Reply with exactly one JSON object: {\"tool\": NAME, \"arguments\": {...}}."
)


class Budget(BaseModel):
    """Decoding caps of each kind of turn, and how much of a tool result the model sees."""

    model_config = ConfigDict(extra="forbid")

    observation_chars: int = 800  # about 200 tokens of catalog text
    call_tokens: int = 320  # a call (a search may carry a 300-character query) and the reasoning that opens it
    report_tokens: int = 1280  # the teacher's grounded reports run 500-1,000 tokens: the student must fit one
    thought_chars: int = 600  # the reasoning before a call: one line (a distilled reflection names 1-3 points)
    plan_tokens: int = 192  # a distilled plan turn (reflection + the corrected plan) runs 150-170 tokens


DEFAULT_BUDGET = Budget()


def compact_tool_list(schemas: Sequence[dict[str, Any]]) -> str:
    """One line per tool: `name(arg, arg?=default): description` — far shorter than JSON schemas."""
    lines = []
    for schema in schemas:
        parameters = schema["parameters"]
        required = set(parameters.get("required", []))
        args = [name if name in required else f"{name}?" for name in parameters.get("properties", {})]
        lines.append(f"- {schema['name']}({', '.join(args)}): {schema['description'].splitlines()[0]}")
    return "\n".join(lines)


def system_prompt(schemas: Sequence[dict[str, Any]]) -> str:
    return f"{SYSTEM_TEXT}\nTools:\n{compact_tool_list(schemas)}"


def render_call(call: ToolCall) -> str:
    return json.dumps({"tool": call.tool, "arguments": call.arguments}, separators=(", ", ": "))


def truncate_observation(text: str, budget: Budget = DEFAULT_BUDGET) -> str:
    return text if len(text) <= budget.observation_chars else text[: budget.observation_chars - 3] + "..."


def turn_text(message: Message, budget: Budget = DEFAULT_BUDGET) -> str:
    """The content of one turn as the model sees it."""
    if message.role == "tool":
        return truncate_observation(message.observation or message.content, budget)
    parts = [message.content] if message.content else []
    if message.tool_call is not None:
        parts.append(render_call(message.tool_call))
    return "\n".join(parts)


def render(messages: Sequence[Message], add_generation_prompt: bool = False, budget: Budget = DEFAULT_BUDGET) -> str:
    """ChatML text of the turns; with `add_generation_prompt` it ends where the assistant starts to write."""
    text = "".join(f"{IM_START}{m.role}\n{turn_text(m, budget)}{IM_END}\n" for m in messages)
    return text + (f"{IM_START}assistant\n" if add_generation_prompt else "")


def render_ids(messages: Sequence[Message], tokenize: Callable[[str], list[int]],
               add_generation_prompt: bool = False, budget: Budget = DEFAULT_BUDGET) -> list[int]:
    """Token ids of the rendered turns; `tokenize` must parse the special tokens `<|im_start|>`/`<|im_end|>`."""
    return tokenize(render(messages, add_generation_prompt, budget))


def assistant_spans(messages: Sequence[Message], tokenize: Callable[[str], list[int]],
                    budget: Budget = DEFAULT_BUDGET) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids and the [start, end) spans of each assistant turn's content plus its `<|im_end|>`.

    Rendering turn by turn keeps the spans exact; training masks everything else out of the loss.
    """
    ids: list[int] = []
    spans = []
    for message in messages:
        head = tokenize(f"{IM_START}{message.role}\n")
        body = tokenize(f"{turn_text(message, budget)}{IM_END}")
        ids += head
        if message.role == "assistant":
            spans.append((len(ids), len(ids) + len(body)))
        ids += body + tokenize("\n")
    return ids, spans


def episode_messages(request: str, schemas: Sequence[dict[str, Any]]) -> list[Message]:
    """The opening turns of every episode: the system prompt and the user's request."""
    return [Message(role="system", agent="env", content=system_prompt(schemas)),
            Message(role="user", agent="user", content=request)]


def to_trl(messages: Sequence[Message]) -> list[dict]:
    """Turns as TRL messages: roles system/user/assistant/tool; assistant actions in `tool_calls`."""
    out = []
    for m in messages:
        entry: dict = {"role": m.role, "content": m.observation if m.role == "tool" else m.content}
        if m.tool_call is not None:
            entry["tool_calls"] = [{"type": "function", "function": {"name": m.tool_call.tool,
                                                                     "arguments": m.tool_call.arguments}}]
        out.append(entry)
    return out


def from_trl(entries: Sequence[dict]) -> list[Message]:
    """The inverse of `to_trl`, so training renders exactly what synthesis rendered."""
    out = []
    for e in entries:
        call = e.get("tool_calls", [None])[0]
        tool_call = ToolCall(tool=call["function"]["name"], arguments=call["function"]["arguments"]) if call else None
        agent = {"system": "env", "user": "user", "assistant": "researcher", "tool": "env"}[e["role"]]
        if e["role"] == "tool":
            out.append(Message(role="tool", agent="env", observation=e["content"]))
        else:
            out.append(Message(role=e["role"], agent=agent, content=e["content"] or "", tool_call=tool_call))
    return out
