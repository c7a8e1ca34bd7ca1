"""Always-parseable tool calls at near-unconstrained speed.

Instead of masking the whole vocabulary with a grammar at every step, the decoder samples as usual
and consults this incremental checker only for the token it picked; only when that token would
break the call does it walk down the ranking to the best token that keeps the text valid. The
fixed parts of a call (`{"tool": "` and `", "arguments": {`) are forced without sampling.

The checker is a character-level push-down automaton for JSON, specialised for the call shape
`{"tool": NAME, "arguments": {...}}`: NAME must be a tool name, and string values of `product_id`
and `product_ids` must be ids the episode has retrieved (a dynamic grammar: copying, not recall).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

OPENING = '{"tool": "'
AFTER_NAME = '", "arguments": {'
_WS = " \t\n"
_NUMBER = "0123456789-+.eE"
_LITERALS = ("true", "false", "null")
ID_KEYS = ("product_id", "product_ids")


@dataclass
class _Frame:
    kind: str  # "object" | "array"
    expect: str  # object: key|colon|value|comma ; array: value|comma
    key: str = ""


@dataclass
class JsonArgs:
    """Incremental checker of one JSON object (the `arguments` of a call) with dynamic id sets."""

    ids: frozenset[str] | None = None  # allowed product ids; None allows any
    keys: frozenset[str] | None = None  # allowed top-level keys; None allows any
    required: tuple[str, ...] = ()  # top-level keys forced first, in this order
    used: frozenset[str] = frozenset()
    enums: dict[str, frozenset[str]] = field(default_factory=dict)  # top-level key -> allowed string values
    starts: dict[str, str] = field(default_factory=dict)  # top-level key -> characters its value may start with
    stack: list[_Frame] = field(default_factory=lambda: [_Frame("object", "first_key")])
    token: str = ""  # the scalar being read: a string (with its quote) or number/literal chars
    in_string: bool = False
    escape: bool = False
    string_is_key: bool = False
    done: bool = False
    prev: str = "{"  # last character outside strings: one space may follow only ':' or ','

    def copy(self) -> JsonArgs:
        return JsonArgs(self.ids, self.keys, self.required, self.used, self.enums, self.starts,
                        [_Frame(f.kind, f.expect, f.key) for f in self.stack],
                        self.token, self.in_string, self.escape, self.string_is_key, self.done, self.prev)

    @property
    def at_top(self) -> bool:
        return len(self.stack) == 1 and not self.in_string and not self.token

    def forced(self) -> str:
        """Required keys come first, each forced as soon as the previous value is complete."""
        pending = [k for k in self.required if k not in self.used]
        if not pending or not self.at_top:
            return ""
        expect = self.stack[0].expect
        return f'"{pending[0]}":' if expect in ("key", "first_key") else f', "{pending[0]}":' if expect == "comma" else ""

    def _key_ok(self, text: str, complete: bool) -> bool:
        if self.keys is None or len(self.stack) != 1:
            return True
        pending = [k for k in self.required if k not in self.used]
        free = {pending[0]} if pending else self.keys - self.used  # required keys come first, in order
        return text in free if complete else any(k.startswith(text) for k in free)

    def _allowed_values(self) -> frozenset[str] | None:
        """The closed set the current string value must come from (ids or an enum), if any."""
        key = self.stack[-1].key
        if key in ID_KEYS:
            return self.ids
        return self.enums.get(key) if len(self.stack) == 1 else None

    def _id_prefix_ok(self, text: str) -> bool:
        allowed = None if self.string_is_key else self._allowed_values()
        return allowed is None or any(i.startswith(text) for i in allowed)

    def _id_complete_ok(self, text: str) -> bool:
        allowed = None if self.string_is_key else self._allowed_values()
        return allowed is None or text in allowed

    def _end_value(self) -> None:
        frame = self.stack[-1]
        frame.expect = "comma"

    def _close_scalar(self) -> bool:
        if not self.token:
            return True
        word = self.token
        self.token = ""
        if word[0] in _NUMBER:
            try:
                float(word)
            except ValueError:
                return False
        elif word not in _LITERALS:
            return False
        self._end_value()
        return True

    def feed(self, char: str) -> bool:
        """Advance by one character; False when the text can no longer be valid."""
        if self.done:
            return False
        if self.in_string:
            if self.escape:
                self.escape = False
                self.token += char
                return True
            if char == "\\":
                self.escape = True  # escapes never occur in ids, enum values or restricted keys
                if self.string_is_key:
                    return self.keys is None or len(self.stack) != 1
                return self._allowed_values() is None
            if char == '"':
                self.in_string = False
                text = self.token
                self.token = ""
                if self.string_is_key:
                    if not self._key_ok(text, complete=True):
                        return False
                    if len(self.stack) == 1:
                        self.used = self.used | {text}
                    self.stack[-1].key = text
                    self.stack[-1].expect = "colon"
                    return True
                if not self._id_complete_ok(text):
                    return False
                self._end_value()
                return True
            if char in "\n\r" or ord(char) < 32:
                return False
            self.token += char
            if self.string_is_key:
                return self._key_ok(self.token, complete=False)
            return self._id_prefix_ok(self.token)
        frame = self.stack[-1]
        if self.token:  # reading a number or literal
            if char in _NUMBER or char.isalpha():
                candidate = self.token + char
                ok = char in _NUMBER if candidate[0] in _NUMBER else any(l.startswith(candidate) for l in _LITERALS)
                if ok:
                    self.token = candidate
                return ok
            if not self._close_scalar():
                return False
            frame = self.stack[-1]
        if char in _WS:  # compact JSON: a single space after ':' or ',' and nowhere else
            ok = char == " " and self.prev in ":,"
            self.prev = char
            return ok
        self.prev = char
        if frame.expect in ("key", "first_key"):
            if char == '"':
                self.in_string, self.string_is_key = True, True
                return True
            if char == "}" and frame.expect == "first_key":
                return self._closable() and self._close()
            return False
        if frame.expect == "colon":
            if char == ":":
                frame.expect = "value"
                return True
            return False
        if frame.expect == "value":
            if len(self.stack) == 1 and frame.key in self.starts and char not in self.starts[frame.key]:
                return False
            if char == "]" and frame.kind == "array":
                return self._close()
            if char == '"':
                self.in_string, self.string_is_key = True, False
                if frame.kind == "array":
                    parent_key = self.stack[-2].key if len(self.stack) > 1 else ""
                    frame.key = parent_key
                return True
            if char == "{":
                self.stack.append(_Frame("object", "first_key"))
                return True
            if char == "[":
                self.stack.append(_Frame("array", "value", key=frame.key))
                return True
            if char in _NUMBER or char in "tfn":
                self.token = char
                return char in _NUMBER or any(lit.startswith(char) for lit in _LITERALS)
            return False
        # expect comma
        if char == ",":
            frame.expect = "key" if frame.kind == "object" else "value"
            return True
        if (char == "}" and frame.kind == "object") or (char == "]" and frame.kind == "array"):
            return self._closable() and self._close()
        return False

    def _closable(self) -> bool:
        """The top-level object may close only once every required key is in."""
        return len(self.stack) > 1 or all(k in self.used for k in self.required)

    def _close(self) -> bool:
        self.stack.pop()
        if not self.stack:
            self.done = True
            return True
        self._end_value()
        return True

    def feed_text(self, text: str) -> bool:
        return all(self.feed(c) for c in text)


@dataclass
class CallChecker:
    """The whole call: forced opening, a tool name from the menu, forced middle, checked arguments, `}`."""

    tools: tuple[str, ...]
    ids: frozenset[str] | None = None
    arguments: dict[str, tuple[frozenset[str], tuple[str, ...], dict[str, frozenset[str]], dict[str, str]]] | None = None
    # tool -> (keys, required keys, enum values per key, first characters per key)
    text: str = ""
    safe: int = 0  # length of the longest prefix that `finish` can close into a valid call
    name: str = ""
    phase: str = "name"  # name | middle | args | close | done
    middle: int = 0  # characters of AFTER_NAME matched
    args: JsonArgs | None = None

    def copy(self) -> CallChecker:
        return CallChecker(self.tools, self.ids, self.arguments, self.text, self.safe, self.name, self.phase,
                           self.middle, self.args.copy() if self.args is not None else None)

    def can_close(self) -> bool:
        """True right after a complete top-level argument, when `}}` would end a valid call."""
        return (self.phase == "args" and self.args.at_top and self.args.stack[0].expect == "comma"
                and not self.args.forced())

    def finish(self) -> str:
        """A valid call from what was written so far, cut back to the last complete argument (for budgets)."""
        if self.complete:
            return self.text
        if self.phase == "close":
            return self.text + "}"
        args = self.args
        if (self.phase == "args" and len(args.stack) == 1 and args.in_string and not args.string_is_key
                and not args.escape and args._allowed_values() is None and not args.forced()):
            return self.text + '"}}'  # a free-text argument cut short: close it where it stopped
        if not self.safe:
            return ""
        return self.text[: self.safe] + "}}"

    def forced(self) -> str:
        """Text that must come next whatever the model prefers ('' when the model has a choice)."""
        if len(self.text) < len(OPENING):  # the model's own token may have written part of the opening
            return OPENING[len(self.text):]
        if self.phase == "name":
            matches = [t for t in self.tools if t.startswith(self.name)]
            if self.name in self.tools and len(matches) == 1:
                return AFTER_NAME
            common = _common_prefix(matches)
            return common[len(self.name):]
        if self.phase == "close":
            return "}"
        if self.phase == "args":
            return self.args.forced()
        return ""

    def feed_text(self, text: str) -> bool:
        for char in text:
            if not self._feed(char):
                return False
            self.text += char
            if self.phase == "args" and self.args.at_top and not self.args.forced():
                expect = self.args.stack[0].expect
                if expect in ("comma", "first_key"):
                    self.safe = len(self.text)
                elif expect == "key" and char == ",":  # a number or literal ends at its comma
                    self.safe = len(self.text) - 1
        return True

    def _feed(self, char: str) -> bool:
        if len(self.text) < len(OPENING):
            return char == OPENING[len(self.text)]
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
                keys, required, enums, starts = (self.arguments.get(self.name, (None, (), {}, {})) if self.arguments
                                                 else (None, (), {}, {}))
                self.phase, self.args = "args", JsonArgs(ids=self.ids, keys=keys, required=required, enums=enums,
                                                         starts=starts)
            return True
        if self.phase == "args":
            if not self.args.feed(char):
                return False
            if self.args.done:
                self.phase = "close"
            return True
        if self.phase == "close":
            if char in _WS:
                return True
            if char == "}":
                self.phase = "done"
                return True
            return False
        return char in _WS  # done: only trailing whitespace

    @property
    def complete(self) -> bool:
        return self.phase == "done"

    def accepts(self, piece: str) -> bool:
        """Would appending `piece` keep the call valid? (The checker itself is unchanged.)"""
        return self.copy().feed_text(piece)


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
                 values: dict[str, Iterable[str]] | None = None) -> CallChecker:
    """A checker for the tools in `schemas` (the env's `tool_schemas()`), ids limited to `ids` when given.

    `values` pins string arguments to values taken from the request (e.g. `{"category": ["headphones"]}`):
    a dynamic grammar that turns recall into copying for a small model.
    """
    pinned = {key: frozenset(options) for key, options in (values or {}).items()}
    arguments = {}
    id_set = frozenset(ids) if ids is not None else None
    for schema in schemas:
        properties = schema["parameters"].get("properties", {})
        needs_ids = set(schema["parameters"].get("required", [])) & set(ID_KEYS)
        if id_set is not None and not id_set and needs_ids:
            continue  # nothing retrieved yet: a tool that needs a product id cannot be called
        arguments[schema["name"]] = (
            frozenset(properties), tuple(schema["parameters"].get("required", [])),
            {k: pinned.get(k) or frozenset(_enum(p)) for k, p in properties.items() if _enum(p) or k in pinned},
            {k: _starts(p, schema["parameters"]) for k, p in properties.items()},
        )
    return CallChecker(tuple(arguments), id_set, arguments)


def _enum(prop: dict) -> list[str]:
    """String values a JSON-schema property allows, when it is a closed set (a Literal)."""
    if "enum" in prop:
        return [v for v in prop["enum"] if isinstance(v, str)]
    return []

_START_CHARS = {"string": '"', "integer": "-0123456789", "number": "-0123456789", "boolean": "tf", "null": "n",
                "object": "{", "array": "["}


def _starts(prop: dict, root: dict) -> str:
    """The characters a value of this property may start with, from its JSON-schema type(s)."""
    if "$ref" in prop:  # a nested model (the report): an object
        return "{"
    options = prop.get("anyOf", [prop])
    types = {o.get("type") for o in options} | ({"string"} if "enum" in prop else set())
    if "$ref" in str(options):
        types.add("object")
    chars = "".join(_START_CHARS.get(t, "") for t in types if t)
    return chars or '"-0123456789tfn{['
