"""The prompt format every stage shares: how an episode becomes model text and token ids, and its budget.

Rollout, distillation, training and evaluation all render through this module and the model's own chat
template (`ChatTemplate`), so a student is trained on exactly the text it later sees. A call is the JSON
object `{"tool": ..., "arguments": ...}` in the assistant's text; tool results are `tool` turns, or user
turns opened by `Tool result:` where the template has no tool role.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from .chat_template import ChatTemplate
from .schema import Message, ToolCall

SYSTEM_TEXT = (
    "You are a shopping research assistant. Research the user's request with the tools, one tool call per "
    "turn, then submit a report that recommends the best products that meet every constraint, with claims "
    "that cite what you saw. Reply with exactly one JSON object: {\"tool\": NAME, \"arguments\": {...}}."
)
TOOL_RESULT = "Tool result:\n"  # opens a tool result shown as a user turn
CALL_RENDERING = "shopgym.format: a call is its JSON object in the assistant's text, rendered by the model's template"


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


def template_turns(messages: Sequence[Message], chat: ChatTemplate,
                   budget: Budget = DEFAULT_BUDGET) -> list[dict[str, str]]:
    """The turns a chat template renders: tool and system turns folded into user turns where the template has
    no such role, and consecutive user turns joined (templates that check alternation refuse them)."""
    turns: list[dict[str, str]] = []
    pending_system = ""
    for message in messages:
        role, content = message.role, turn_text(message, budget)
        if role == "system" and not chat.system_role:
            pending_system += content + "\n\n"
            continue
        if role == "tool" and not chat.tool_role:
            role, content = "user", TOOL_RESULT + content
        if role == "user" and pending_system:
            content, pending_system = pending_system + content, ""
        if role == "user" and turns and turns[-1]["role"] == "user":
            turns[-1]["content"] += "\n\n" + content
        else:
            turns.append({"role": role, "content": content})
    if pending_system:  # a system turn with no user turn after it
        turns.append({"role": "user", "content": pending_system.rstrip()})
    return turns


def hf_tools(schemas: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool schemas in the HF/TRL form templates take: `{"type": "function", "function": schema}`."""
    return [{"type": "function", "function": dict(schema)} for schema in schemas]


def render(messages: Sequence[Message], chat: ChatTemplate, add_generation_prompt: bool = False,
           budget: Budget = DEFAULT_BUDGET, tools: Sequence[dict[str, Any]] | None = None) -> str:
    """The turns through the model's chat template; with `add_generation_prompt` it ends where the assistant
    starts to write. `tools` are HF function schemas, shown by templates that take them."""
    return chat.render(template_turns(messages, chat, budget), add_generation_prompt, tools)


def render_ids(messages: Sequence[Message], chat: ChatTemplate, tokenize: Callable[[str], list[int]],
               add_generation_prompt: bool = False, budget: Budget = DEFAULT_BUDGET,
               tools: Sequence[dict[str, Any]] | None = None) -> list[int]:
    """Token ids of the rendered turns; `tokenize` must parse the template's special tokens."""
    return tokenize(render(messages, chat, add_generation_prompt, budget, tools))


def assistant_spans(messages: Sequence[Message], chat: ChatTemplate, tokenize: Callable[[str], list[int]],
                    budget: Budget = DEFAULT_BUDGET, tools: Sequence[dict[str, Any]] | None = None,
                    ) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids and the [start, end) span of each assistant turn: its content and the text that closes it.

    A span starts where the prompt that asked for the turn ends (`render_ids(..., add_generation_prompt=True)`
    at inference), so training sees exactly the inference prompt; a template or tokenizer that breaks that
    parity is a ValueError, never a silent mismatch.
    """
    ids = render_ids(messages, chat, tokenize, budget=budget, tools=tools)
    spans = []
    for index, message in enumerate(messages):
        if message.role != "assistant":
            continue
        start = len(prompt := render_ids(messages[:index], chat, tokenize, True, budget, tools))
        end = len(through := render_ids(messages[: index + 1], chat, tokenize, budget=budget, tools=tools))
        if ids[:start] != prompt or ids[:end] != through:
            raise ValueError(f"turn {index}: the prompt for this assistant turn is not a prefix of the whole "
                             f"conversation's tokens under {chat.source}, so training would not match inference")
        spans.append((start, end))
    return ids, spans


def one_shot(chat: ChatTemplate, instruction: str, text: str) -> str:
    """A single-question prompt (a role's side task): the instruction as system turn, `text` as the user's."""
    return render([Message(role="system", agent="env", content=instruction),
                   Message(role="user", agent="user", content=text)], chat, add_generation_prompt=True)


def episode_messages(request: str, schemas: Sequence[dict[str, Any]], spec_filters: str = "") -> list[Message]:
    """The opening turns of every episode: the system prompt and the user's request, followed by the env's line
    naming the category's spec filters when there is one."""
    return [Message(role="system", agent="env", content=system_prompt(schemas)),
            Message(role="user", agent="user", content=f"{request}\n\n{spec_filters}" if spec_filters else request)]


PLAN_PROMPT = "First write a short plan (3 steps at most) for researching this request. Do not call a tool yet."
EXECUTE_PROMPT = "Now carry out the plan: one tool call per turn, then submit the report."
REPORT_PROMPT = "Stop researching now: submit the report (submit_report) with what you have found."


def plan_request() -> Message:
    """The turn that asks for the plan: part of the episode, so the student trains on what it is asked."""
    return Message(role="user", agent="env", content=PLAN_PROMPT)


def execute_request() -> Message:
    """The turn after the plan that asks for the calls (templates that check alternation refuse two assistant
    turns in a row)."""
    return Message(role="user", agent="env", content=EXECUTE_PROMPT)


def report_request() -> Message:
    """The turn that asks for the report: a student's every report answers it (distillation adds it where the
    teacher's run had none), so a freely decoding student knows a report is due."""
    return Message(role="user", agent="env", content=REPORT_PROMPT)


def to_trl(messages: Sequence[Message]) -> list[dict]:
    """Turns in the HF/TRL tool-calling format: calls in `tool_calls` with ids, tool turns with `name` and
    `tool_call_id`, consecutive user turns joined (as `template_turns` renders them)."""
    out: list[dict] = []
    call: dict | None = None
    for m in messages:
        if m.role == "tool":
            entry: dict = {"role": "tool", "content": m.observation if m.observation is not None else m.content}
            if call is not None:
                entry |= {"name": call["function"]["name"], "tool_call_id": call["id"]}
        else:
            entry = {"role": m.role, "content": m.content}
        if m.tool_call is not None:
            call = {"id": f"call_{sum('tool_calls' in e for e in out) + 1}", "type": "function",
                    "function": {"name": m.tool_call.tool, "arguments": m.tool_call.arguments}}
            entry["tool_calls"] = [call]
        if entry["role"] == "user" and out and out[-1]["role"] == "user":
            out[-1]["content"] += "\n\n" + entry["content"]
        else:
            out.append(entry)
    return out


def from_trl(entries: Sequence[dict]) -> list[Message]:
    """The inverse of `to_trl` up to joined user turns, so training renders exactly what synthesis rendered."""
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
