"""Always-parseable tool calls at near-unconstrained speed.

Instead of masking the whole vocabulary with a grammar at every step, the decoder samples as usual
and consults this incremental checker only for the token it picked; only when that token would
break the call does it walk down the ranking to the best token that keeps the text valid. The
fixed parts of a call (`{"tool": "` and `", "arguments": {`) are forced without sampling.

The checker is specialised for the call shape `{"tool": NAME, "arguments": {...}}`: NAME must be a
tool name, and the arguments are read by `json_shapes.JsonArgs`, a character-level push-down automaton
for JSON that follows the tool's JSON schema at every depth (allowed and required keys, value types and
numeric bounds, enums, list and string lengths); string values of `product_id` and `product_ids` must be
ids the episode has retrieved, and the category and spec filters keep to the request's category and its
specs (a dynamic grammar: copying, not recall). A line of reasoning may open the turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from .json_shapes import ANY, ID_KEYS, WHITESPACE, JsonArgs, Shape, shape_of, spec_filters

OPENING = '{"tool": "'
AFTER_NAME = '", "arguments": {'


@dataclass
class CallChecker:
    """The whole call: forced opening, a tool name from the menu, forced middle, checked arguments, `}`.

    With `thought_chars`, one line of free reasoning (at most that many characters, ended by a newline)
    may come before the call, as distilled turns open with a reflection; a first `{` skips it.
    """

    tools: tuple[str, ...]
    ids: frozenset[str] | None = None
    arguments: Mapping[str, Shape] | None = None  # tool -> shape of its arguments
    thought_chars: int = 0
    text: str = ""
    safe: int = 0  # length of the longest prefix that `finish` can close into a valid call
    safe_closing: str = ""  # the text that closes the arguments at `safe`
    start: int = 0  # where the call begins in `text` (after the thought and its newline)
    name: str = ""
    phase: str = ""  # thought | name | middle | args | close | done
    middle: int = 0  # characters of AFTER_NAME matched
    args: JsonArgs | None = None

    def __post_init__(self) -> None:
        self.phase = self.phase or ("thought" if self.thought_chars else "name")

    def copy(self) -> CallChecker:
        return CallChecker(self.tools, self.ids, self.arguments, self.thought_chars, self.text, self.safe,
                           self.safe_closing, self.start, self.name, self.phase, self.middle,
                           self.args.copy() if self.args is not None else None)

    def can_close(self) -> bool:
        """True right after a complete top-level argument, when `}}` would end a valid call."""
        return (self.phase == "args" and self.args.at_top and self.args.stack[0].expect == "comma"
                and not self.args.forced())

    def finish(self) -> str:
        """A valid call from what was written so far, cut back to the last point where it could close (for budgets).

        Open strings with free text are closed where they stopped; a report keeps every complete
        recommendation and claim.
        """
        if self.complete:
            return self.text
        if self.phase == "thought":
            return ""
        if self.phase == "close":
            return self.text + "}"
        if not self.safe:
            return ""
        return self.text[: self.safe] + self.safe_closing + "}"

    def forced(self) -> str:
        """Text that must come next whatever the model prefers ('' when the model has a choice)."""
        if self.phase == "thought":
            return "\n" if len(self.text) >= self.thought_chars else ""
        written = len(self.text) - self.start
        if written < len(OPENING):  # the model's own token may have written part of the opening
            return OPENING[written:]
        if self.phase == "name":
            matches = [t for t in self.tools if t.startswith(self.name)]
            if self.name in self.tools and len(matches) == 1:
                return AFTER_NAME
            common = _common_prefix(matches)
            return common[len(self.name):]
        if self.phase == "middle":
            return AFTER_NAME[self.middle:]
        if self.phase == "close":
            return "}"
        if self.phase == "args":
            return self.args.forced()
        return ""

    def feed_text(self, text: str, track: bool = True) -> bool:
        """Advance by `text`; False (with the checker left mid-way) when it breaks the call.

        `track=False` skips recording where the call could be closed (for throwaway probes).
        """
        for char in text:
            if not self._feed(char):
                return False
            self.text += char
            if track and self.phase == "args":
                closing = self.args.closing()
                if closing is not None:
                    self.safe, self.safe_closing = len(self.text), closing
        return True

    def _feed(self, char: str) -> bool:
        if self.phase == "thought":
            if char == "{" and not self.text:  # no reasoning: the call starts at once
                self.phase = "name"
                return True
            if char == "\n" and self.text:
                self.phase, self.start = "name", len(self.text) + 1
                return True
            return ord(char) >= 32 and len(self.text) < self.thought_chars and (self.text or char not in WHITESPACE)
        written = len(self.text) - self.start
        if written < len(OPENING):
            return char == OPENING[written]
        if self.phase == "name":
            if char == '"':
                if self.name not in self.tools:
                    return False
                self.phase, self.middle = "middle", 1
                return True
            candidate = self.name + char
            if not any(t.startswith(candidate) for t in self.tools):
                return False
            self.name = candidate
            return True
        if self.phase == "middle":
            if char != AFTER_NAME[self.middle]:
                return False
            self.middle += 1
            if self.middle == len(AFTER_NAME):
                shape = self.arguments.get(self.name, ANY) if self.arguments else ANY
                self.phase, self.args = "args", JsonArgs(ids=self.ids, shape=shape)
            return True
        if self.phase == "args":
            if not self.args.feed(char):
                return False
            if self.args.done:
                self.phase = "close"
            return True
        if self.phase == "close":  # one line: a newline here would split the turn in the wrong place
            if char == "}":
                self.phase = "done"
            return char in " }"
        return False  # done: nothing follows the call

    @property
    def complete(self) -> bool:
        return self.phase == "done"

    def accepts(self, piece: str) -> bool:
        """Would appending `piece` keep the call valid? (The checker itself is unchanged.)"""
        return self.copy().feed_text(piece, track=False)


def split_turn(text: str) -> tuple[str, str]:
    """(reasoning, call JSON) of a checked turn: the call is the last line (compact JSON has no newline)."""
    thought, _, call = text.rpartition("\n")
    return thought, call


def _common_prefix(words: Iterable[str]) -> str:
    words = list(words)
    if not words:
        return ""
    first = min(words)
    last = max(words)
    i = 0
    while i < len(first) and i < len(last) and first[i] == last[i]:
        i += 1
    return first[:i]


def call_checker(schemas: list[dict], ids: Iterable[str] | None = None,
                 values: dict[str, Iterable[str]] | None = None, thought_chars: int = 0,
                 specs: Iterable[Mapping] | None = None) -> CallChecker:
    """A checker for the tools in `schemas` (the env's `tool_schemas()`), ids limited to `ids` when given.

    `values` pins top-level string arguments to values taken from the request (e.g.
    `{"category": ["headphones"]}`) and `specs` (the catalog attributes of the request's category) limits
    the spec filters to that category's spec names and values: a dynamic grammar that turns recall
    into copying for a small model. `thought_chars` allows a line of reasoning of at most that many
    characters before the call.
    """
    arguments = {}
    id_set = frozenset(ids) if ids is not None else None
    for schema in schemas:
        parameters = schema["parameters"]
        needs_ids = set(parameters.get("required", [])) & set(ID_KEYS)
        if id_set is not None and not id_set and needs_ids:
            continue  # nothing retrieved yet: a tool that needs a product id cannot be called
        shape = shape_of(parameters, parameters)
        pinned = {key: replace(shape.fields[key], values=frozenset(options))
                  for key, options in (values or {}).items() if key in shape.fields}
        if specs is not None:
            pinned |= spec_filters(shape.fields, specs)
        arguments[schema["name"]] = replace(shape, fields={**shape.fields, **pinned})
    return CallChecker(tuple(arguments), id_set, arguments, thought_chars)
