"""Reflective internalization: each draft -> critique -> revision chain becomes one assistant turn.

The reflection is first-person, anticipates the critique and names the corrected object (an id, a
constraint, a field) in terms the context already shows; reviewer turns and rejected drafts vanish.
Only accepted calls and their observations remain (rejected calls were undone in the env). A critique
point is kept only when the student could have known it and the turn after it acts on it: every id,
price and number it names is in the student's context or that turn, and every `name=value` fix it
names is carried by that turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import shopgym.format as fmt
from shopgym.schema import Message, TrajectoryRecord

FORBIDDEN = re.compile(r"supervisor", re.IGNORECASE)
_OPENERS = ["Before I act, I check my work.", "Let me check this step first.", "A quick check before I go on."]

Rewriter = Callable[[str, str], str]  # (critique lines, template reflection) -> reflection
REFLECTION_CHARS = fmt.DEFAULT_BUDGET.thought_chars  # the line of reasoning the student may write before a call


# The list of valid names an error ends with ("; valid specs for tents: a, b", "; valid: a, b", ". Its arguments: a, b"):
# the student's context already lists them (the tool schemas, the spec-filter line), and a student trained on
# reflections that recite them learns to recite, and loops until its line of reasoning is cut.
_VALID_NAMES = re.compile(r"(?:; valid(?: [^:;]*)?|\. Its arguments): [\w, ]*$")


# A repeated call is named by the draft it rejected ("call 4 was exactly this search_products call; ..."); before
# the revised call, which is another call, "this" would be false, so the point names the repetition instead.
_REPEATED = re.compile(r"^call (\d+) was exactly this (\w+) call; its result is already in the transcript")


def critique_points(critique: str) -> list[str]:
    """The error lines of grounded feedback, without their markers and the lists of valid names they end with,
    worded to hold before the revised turn (an LLM critique line is not used)."""
    points = [line.split("]", 1)[1].strip() for line in critique.splitlines() if line.startswith("- [error]")]
    points = [_VALID_NAMES.sub("", FORBIDDEN.sub("check", p)) for p in points]
    return [_REPEATED.sub(r"repeating call \1 (\2) adds nothing; its result is already in the transcript", p)
            for p in points]


_OBJECTS = re.compile(r"\b[A-Z]{5}-\d+\b|\$\d+(?:\.\d\d)?|\b\d+(?:\.\d+)?\b")
_FIXES = re.compile(r"\b([a-z_]+)=('?)([^\s,;)']+)\2")


def grounded_point(point: str, context: str, turn: Message) -> bool:
    """Whether the point names only what `context` (the student's text so far) or `turn` shows, and `turn`
    (the turn the reflection opens) carries each `name=value` fix the point names (a call: the argument's
    name and value; a plan: the value)."""
    text = fmt.turn_text(turn)
    carried = all((value in text or value.lower() in text) and (turn.tool_call is None or f'"{name}"' in text)
                  for name, _, value in _FIXES.findall(point))
    return carried and all(obj in context or obj in text for obj in _OBJECTS.findall(point))


def valid_reflection(text: str, points: Sequence[str]) -> bool:
    """One non-empty line that fits the student's line of reasoning (it writes it before a call), never names
    the reviewer, and keeps every id, price and number the critique named."""
    named = set(_OBJECTS.findall(" ".join(points)))
    return (bool(text) and "\n" not in text and len(text) <= REFLECTION_CHARS and not FORBIDDEN.search(text)
            and all(obj in text for obj in named))


def _sentence_case(point: str) -> str:
    """The point continuing a sentence: a capitalised first word is lowered, an id ("PVDEY-12") or acronym is not."""
    return point[0].lower() + point[1:] if point[:2].istitle() else point


def template_reflection(points: Sequence[str], turn: int) -> str:
    """First person, anticipating each point; deterministic (the opener rotates with the turn)."""
    opener = _OPENERS[turn % len(_OPENERS)]
    body = " ".join(f"I must not miss this: {_sentence_case(p)}." if p else "" for p in points[:3])
    return f"{opener} {body}".strip()


def fitting_points(points: Sequence[str], turn: int) -> list[str]:
    """The first points (3 at most, 1 at least) whose template reflection fits one line of reasoning."""
    count = 1
    while count < min(3, len(points)) and len(template_reflection(points[:count + 1], turn)) <= REFLECTION_CHARS:
        count += 1
    return list(points[:count])


def _is_report(message: Message) -> bool:
    return message.role == "assistant" and message.tool_call is not None and message.tool_call.tool == "submit_report"


def internalize(record: TrajectoryRecord, rewrite: Rewriter | None = None) -> list[Message]:
    """Single-role turns: system, user, assistant (reflection + accepted action), tool. The report answers the
    report request (`shopgym.format.report_request`), added where the run had none (a teacher's run with the
    grammar), as a single-agent researcher is asked for its report."""
    out: list[Message] = []
    pending: list[str] = []
    for message in record.messages:
        if _is_report(message) and not message.meta.get("draft") and out[-1].content != fmt.REPORT_PROMPT:
            out.append(fmt.report_request())
        if message.agent == "supervisor":
            pending += critique_points(message.content)
            continue
        if message.meta.get("draft"):
            continue
        if message.role == "assistant" and pending:
            context = "\n".join(fmt.turn_text(m) for m in out)
            pending = [p for p in dict.fromkeys(pending) if grounded_point(p, context, message)]
        if message.role == "assistant" and pending:
            points = fitting_points(pending, len(out))
            reflection = template_reflection(points, len(out))
            if rewrite is not None:  # an LLM rewrite must pass the same check as the template, else the template stays
                candidate = rewrite("\n".join(points), reflection).strip()
                reflection = candidate if valid_reflection(candidate, points) else reflection
            joint = "\n" if message.tool_call is None else " "  # before a call, the reasoning is one line
            content = reflection + (joint + message.content if message.content else "")
            message = Message(role="assistant", agent="researcher", content=content, tool_call=message.tool_call)
            pending = []
        else:
            message = Message(role=message.role, agent=message.agent if message.agent != "supervisor" else "user",
                              content=message.content, tool_call=message.tool_call, observation=message.observation)
        out.append(message)
    return out


def leaks(messages: Sequence[Message], record: TrajectoryRecord) -> list[str]:
    """Why these turns are not a clean single-role example ([] when clean)."""
    problems = []
    accepted = {m.tool_call.model_dump_json() for m in messages if m.tool_call is not None}
    for message in messages:
        text = " ".join([message.content, message.observation or ""])
        if message.role not in ("system", "user", "assistant", "tool"):
            problems.append(f"role {message.role!r}")
        if message.agent == "supervisor":
            problems.append("a reviewer turn")
        if FORBIDDEN.search(text):
            problems.append(f"the word {FORBIDDEN.search(text).group()!r} in a {message.role} turn")
    for draft in (m for m in record.messages if m.meta.get("draft") and m.tool_call is not None):
        if draft.tool_call.model_dump_json() not in accepted and any(
                draft.tool_call.model_dump_json() in (m.content or "") for m in messages):
            problems.append("a rejected draft")
    return problems
