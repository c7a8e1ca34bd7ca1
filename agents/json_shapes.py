"""What a JSON value may be, and an incremental checker of one JSON object against it.

A `Shape` is the part of a JSON schema that can be enforced character by character: types, allowed
and required keys, numeric bounds, enums, list and string lengths. `JsonArgs` is a character-level
push-down automaton that reads compact JSON one character at a time and refuses the first character
after which the object can no longer meet its shape; string values under `ID_KEYS` must be given ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

WHITESPACE = " \t\n"
_NUMBER = "0123456789-+.eE"
_LITERALS = ("true", "false", "null")
_JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_NUMBER_PREFIX = re.compile(r"-|-?(0|[1-9][0-9]*)(\.|(\.[0-9]+)?([eE][-+]?[0-9]*)?)")  # every prefix of a number
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_INTEGER_PREFIX = re.compile(r"-|-?(0|[1-9][0-9]*)")
_ESCAPES = '"\\/bfnrtu'
ID_KEYS = ("product_id", "product_ids")
ANY_START = '"-0123456789tfn{['
_START_CHARS = {"string": '"', "integer": "-0123456789", "number": "-0123456789", "boolean": "tf", "null": "n",
                "object": "{", "array": "["}


@dataclass(frozen=True)
class Shape:
    """The part of a JSON schema the checker enforces on one value (the default allows any JSON)."""

    starts: str = ANY_START  # characters the value may start with (its types)
    keys: frozenset[str] | None = None  # object: allowed keys; None allows any
    required: tuple[str, ...] = ()  # object: keys forced first, in this order
    fields: Mapping[str, Shape] = field(default_factory=dict)  # object: the value under each named key
    other: Shape | None = None  # object: values under any other key
    items: Shape | None = None  # array: every item
    min_items: int = 0
    max_items: int | None = None
    values: frozenset[str] | None = None  # string: a closed set (an enum, or values pinned to the request)
    min_length: int = 0  # string
    max_length: int | None = None  # string
    integer: bool = False  # number: no fraction, no exponent
    minimum: float | None = None  # number
    maximum: float | None = None  # number

    def under(self, key: str) -> Shape:
        return self.fields.get(key) or self.other or ANY

    def item(self) -> Shape:
        return self.items or ANY


ANY = Shape()


def shape_of(schema: Mapping, root: Mapping) -> Shape:
    """The enforceable part of a pydantic JSON schema (`$ref` into `root["$defs"]`, `anyOf` for Optional)."""
    if "$ref" in schema:
        return shape_of(root["$defs"][schema["$ref"].rsplit("/", 1)[-1]], root)
    if "anyOf" in schema:
        options = [shape_of(option, root) for option in schema["anyOf"]]
        structured = next((o for o in options if o.starts != "n"), options[0])  # Optional[X]: X carries the rest
        return replace(structured, starts="".join(dict.fromkeys("".join(o.starts for o in options))))
    kind = schema.get("type")
    if "enum" in schema:
        return Shape(starts='"', values=frozenset(v for v in schema["enum"] if isinstance(v, str)))
    if kind == "object":
        extra = schema.get("additionalProperties", True)
        properties = schema.get("properties", {})
        return Shape(starts="{", keys=frozenset(properties) if extra is False else None,
                     required=tuple(schema.get("required", ())),
                     fields={k: shape_of(p, root) for k, p in properties.items()},
                     other=shape_of(extra, root) if isinstance(extra, Mapping) else None)
    if kind == "array":
        return Shape(starts="[", items=shape_of(schema.get("items", {}), root),
                     min_items=schema.get("minItems", 0), max_items=schema.get("maxItems"))
    if kind == "string":
        return Shape(starts='"', min_length=schema.get("minLength", 0), max_length=schema.get("maxLength"))
    if kind in ("integer", "number"):
        return Shape(starts=_START_CHARS[kind], integer=kind == "integer", minimum=schema.get("minimum"),
                     maximum=schema.get("maximum"))
    return Shape(starts=_START_CHARS.get(kind, ANY_START)) if isinstance(kind, str) else ANY


@dataclass
class _Frame:
    kind: str  # "object" | "array"
    expect: str  # object: first_key|key|colon|value|comma ; array: value|comma
    shape: Shape  # of this object or array
    key: str = ""  # object: the key being read or valued; array: the key that holds the array
    used: frozenset[str] = frozenset()  # object: keys already written
    count: int = 0  # array: complete items


@dataclass
class JsonArgs:
    """Incremental checker of one JSON object (the `arguments` of a call) against a Shape, with dynamic ids."""

    ids: frozenset[str] | None = None  # allowed product ids; None allows any
    shape: Shape = ANY
    stack: list[_Frame] = field(default_factory=list)
    token: str = ""  # the scalar being read: string content or number/literal chars
    in_string: bool = False
    escape: bool = False
    hex_left: int = 0  # hex digits still due in a \uXXXX escape
    length: int = 0  # characters of the string being read, escapes decoded
    string_is_key: bool = False
    done: bool = False
    prev: str = "{"  # last character outside strings: one space may follow only ':' or ','

    def __post_init__(self) -> None:
        if not self.stack:
            self.stack.append(_Frame("object", "first_key", self.shape))

    def copy(self) -> JsonArgs:
        return JsonArgs(self.ids, self.shape, [replace(f) for f in self.stack], self.token, self.in_string,
                        self.escape, self.hex_left, self.length, self.string_is_key, self.done, self.prev)

    @property
    def at_top(self) -> bool:
        return len(self.stack) == 1 and not self.in_string and not self.token

    def forced(self) -> str:
        """Required keys come first, each forced as soon as the previous value is complete; a full list closes."""
        if self.done or self.in_string or self.token:
            return ""
        frame = self.stack[-1]
        if frame.kind == "array":
            full = frame.shape.max_items is not None and frame.count >= frame.shape.max_items
            return "]" if full and frame.expect == "comma" else ""
        pending = [k for k in frame.shape.required if k not in frame.used]
        if not pending:
            return ""
        return (f'"{pending[0]}":' if frame.expect in ("key", "first_key")
                else f', "{pending[0]}":' if frame.expect == "comma" else "")

    def closing(self) -> str | None:
        """The text that would end the whole object here as valid JSON meeting its schema (None: no such text)."""
        if self.done:
            return ""
        frame = self.stack[-1]
        if self.in_string:
            if (self.string_is_key or self.escape or self.hex_left or self._allowed_values() is not None
                    or self.length < self._value_shape().min_length):
                return None
            suffix, pending = '"', True
        elif self.token:
            if not _scalar_ok(self.token, self._value_shape()):
                return None
            suffix, pending = "", True
        elif frame.expect == "comma" or frame.expect == "first_key" or (
                frame.kind == "array" and frame.expect == "value" and frame.count == 0):
            suffix, pending = "", False
        else:
            return None
        for depth, frame in enumerate(reversed(self.stack)):
            if frame.kind == "object":
                if any(k not in frame.used for k in frame.shape.required):
                    return None
                suffix += "}"
            else:
                if frame.count + (pending or depth > 0) < frame.shape.min_items:
                    return None
                suffix += "]"
        return suffix

    def _value_shape(self) -> Shape:
        frame = self.stack[-1]
        return frame.shape.under(frame.key) if frame.kind == "object" else frame.shape.item()

    def _key_ok(self, text: str, complete: bool) -> bool:
        frame = self.stack[-1]
        if frame.shape.keys is None:
            return True
        pending = [k for k in frame.shape.required if k not in frame.used]
        free = {pending[0]} if pending else frame.shape.keys - frame.used  # required keys come first, in order
        return text in free if complete else any(k.startswith(text) for k in free)

    def _allowed_values(self) -> frozenset[str] | None:
        """The closed set the current string value must come from (retrieved ids or an enum), if any."""
        if self.stack[-1].key in ID_KEYS:
            return self.ids
        return self._value_shape().values

    def _end_value(self) -> None:
        frame = self.stack[-1]
        frame.expect = "comma"
        frame.count += frame.kind == "array"

    def _close_scalar(self) -> bool:
        word, self.token = self.token, ""
        if not _scalar_ok(word, self._value_shape()):
            return False
        self._end_value()
        return True

    def _feed_string(self, char: str) -> bool:
        if self.hex_left:
            self.hex_left -= 1
            self.token += char
            self.length += not self.hex_left
            return char in "0123456789abcdefABCDEF" and self._length_ok()
        if self.escape:
            self.escape = False
            self.token += char
            self.hex_left = 4 if char == "u" else 0
            self.length += not self.hex_left
            return char in _ESCAPES and self._length_ok()
        if char == "\\":
            self.escape = True  # escapes never occur in ids, enum values or schema keys
            if self.string_is_key:
                return self.stack[-1].shape.keys is None
            return self._allowed_values() is None
        frame = self.stack[-1]
        if char == '"':
            self.in_string = False
            text, self.token = self.token, ""
            if self.string_is_key:
                if not self._key_ok(text, complete=True):
                    return False
                frame.used = frame.used | {text}
                frame.key, frame.expect = text, "colon"
                return True
            allowed = self._allowed_values()
            if (allowed is not None and text not in allowed) or self.length < self._value_shape().min_length:
                return False
            self._end_value()
            return True
        if ord(char) < 32:
            return False
        self.token += char
        self.length += 1
        if self.string_is_key:
            return self._key_ok(self.token, complete=False)
        allowed = self._allowed_values()
        if allowed is not None:
            return any(value.startswith(self.token) for value in allowed)
        return self._length_ok()

    def _length_ok(self) -> bool:
        limit = None if self.string_is_key else self._value_shape().max_length
        return limit is None or self.length <= limit

    def feed(self, char: str) -> bool:
        """Advance by one character; False when the text can no longer be valid."""
        if self.done:
            return False
        if self.in_string:
            return self._feed_string(char)
        if self.token:  # reading a number or literal
            if char in _NUMBER or char.isalpha():
                candidate = self.token + char
                ok = (_number_prefix_ok(candidate, self._value_shape()) if candidate[0] in _NUMBER
                      else any(lit.startswith(candidate) for lit in _LITERALS))
                if ok:
                    self.token = candidate
                return ok
            if not self._close_scalar():
                return False
        frame = self.stack[-1]
        if char in WHITESPACE:  # compact JSON: a single space after ':' or ',' and nowhere else
            ok = char == " " and self.prev in ":,"
            self.prev = char
            return ok
        self.prev = char
        if frame.expect in ("key", "first_key"):
            if char == '"':
                self.in_string, self.string_is_key = True, True
                return self._key_ok("", complete=False)  # an object that allows no key takes only `}`
            return char == "}" and frame.expect == "first_key" and self._close()
        if frame.expect == "colon":
            if char != ":":
                return False
            frame.expect = "value"
            return True
        if frame.expect == "value":
            if char == "]" and frame.kind == "array" and frame.count == 0:
                return self._close()
            shape = self._value_shape()
            if char not in shape.starts:
                return False
            if char == '"':
                self.in_string, self.string_is_key, self.length = True, False, 0
                return self._allowed_values() != frozenset()  # an empty closed set (no id retrieved) has no string
            if char == "{":
                self.stack.append(_Frame("object", "first_key", shape))
            elif char == "[":
                self.stack.append(_Frame("array", "value", shape, key=frame.key))
            else:
                self.token = char
                return (_number_prefix_ok(char, shape) if char in _NUMBER
                        else any(lit.startswith(char) for lit in _LITERALS))
            return True
        # expect comma
        if char == ",":
            if frame.kind == "array" and frame.shape.max_items is not None and frame.count >= frame.shape.max_items:
                return False
            if frame.kind == "object" and frame.shape.keys is not None and not frame.shape.keys - frame.used:
                return False  # every allowed key is in: only `}` may follow
            frame.expect = "key" if frame.kind == "object" else "value"
            return True
        if (char == "}" and frame.kind == "object") or (char == "]" and frame.kind == "array"):
            return self._close()
        return False

    def _close(self) -> bool:
        """Close the innermost object (once its required keys are in) or array (once it has enough items)."""
        frame = self.stack[-1]
        if frame.kind == "object" and any(k not in frame.used for k in frame.shape.required):
            return False
        if frame.kind == "array" and frame.count < frame.shape.min_items:
            return False
        self.stack.pop()
        if not self.stack:
            self.done = True
        else:
            self._end_value()
        return True

    def feed_text(self, text: str) -> bool:
        return all(self.feed(c) for c in text)


def _scalar_ok(word: str, shape: Shape) -> bool:
    """A complete JSON literal, or number within the shape's type and bounds (Python's float() also takes `2.`
    and `+1`; JSON does not)."""
    if word in _LITERALS:
        return True
    if not (_INTEGER if shape.integer else _JSON_NUMBER).fullmatch(word):
        return False
    value = float(word)
    return ((shape.minimum is None or value >= shape.minimum)
            and (shape.maximum is None or value <= shape.maximum))


def _number_prefix_ok(text: str, shape: Shape) -> bool:
    """`text` can still grow into a number the shape takes (digits past the maximum are refused early)."""
    if not (_INTEGER_PREFIX if shape.integer else _NUMBER_PREFIX).fullmatch(text):
        return False
    if shape.minimum is None and shape.maximum is None or text.startswith("-"):
        return not (text.startswith("-") and shape.minimum is not None and shape.minimum >= 0)
    if "e" in text.lower():
        return False  # no exponent where bounds apply: its digits could only be refused one by one
    whole, dot, _ = text.partition(".")
    value = float(text.rstrip("."))
    reachable = int(whole) + 1 if dot or whole == "0" else float("inf")  # appended digits only ever grow it
    return ((shape.maximum is None or value <= shape.maximum)
            and (shape.minimum is None or reachable > shape.minimum))


def spec_filters(shapes: Mapping[str, Shape], attributes: Iterable[Mapping]) -> dict[str, Shape]:
    """The spec filter arguments in `shapes` limited to one category's specs (its catalog `attributes`).

    `spec_min` and `spec_max` take its numeric specs; `specs` its choice specs (one of their values)
    and its yes/no specs (true or false).
    """
    attributes = list(attributes)
    numeric = frozenset(a["name"] for a in attributes if a["kind"] == "numeric")
    exact = {a["name"]: Shape(starts='"', values=frozenset(a["values"])) if a["kind"] == "choice"
             else Shape(starts=_START_CHARS["boolean"]) for a in attributes if a["kind"] in ("choice", "bool")}
    limited = {"spec_min": {"keys": numeric}, "spec_max": {"keys": numeric},
               "specs": {"keys": frozenset(exact), "fields": exact}}
    return {key: replace(shapes[key], **change) for key, change in limited.items() if key in shapes}
