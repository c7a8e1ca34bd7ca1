"""A model's own chat template: turns -> prompt text, rendered with Jinja2 as llama.cpp and transformers do.

The template comes from the GGUF's `tokenizer.chat_template` (or an HF tokenizer's). A file without one
gets ChatML, labelled `chatml-fallback` wherever the format is recorded. What a template can show is
probed once: whether it takes a system turn and a tool turn, and what text closes an assistant turn.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .gguf_header import NotGGUF, read_metadata

CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
FALLBACK = "chatml-fallback"
_PROBE = ("\x01sys\x01", "\x01user\x01", "\x01said\x01", "\x01tool\x01")


class TemplateUnusable(ValueError):
    """A chat template that cannot render this project's conversations."""


def _raise(message: str) -> None:
    raise jinja2.TemplateError(message)


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False, sort_keys: bool = False) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys)


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda spec: datetime.now().strftime(spec)
    return env


class ChatTemplate:
    """Renders turns (`{"role", "content"}` dicts) into the text a model was tuned on.

    `source` names where the template came from: `gguf:<sha256 prefix>`, `hf:<sha256 prefix>` or
    `chatml-fallback`. `system_role`/`tool_role` say whether the template shows those turns itself;
    `turn_end` is the text that closes an assistant turn (its first token stops generation).
    """

    def __init__(self, template: str, source: str, bos_token: str = "", eos_token: str = "") -> None:
        self.template_text = template
        self.source = source
        self.bos_token, self.eos_token = bos_token, eos_token
        environment = _environment()
        try:
            self._template = environment.from_string(template)
            self.takes_tools = "tools" in meta.find_undeclared_variables(environment.parse(template))
        except jinja2.TemplateError as error:
            raise TemplateUnusable(f"the chat template does not compile: {error}") from None
        system, user, said, tool = _PROBE
        self.system_role = self._shows([{"role": "system", "content": system}, {"role": "user", "content": user}],
                                       system)
        opening = [{"role": "system", "content": system}] if self.system_role else []
        exchange = [*opening, {"role": "user", "content": user}, {"role": "assistant", "content": said}]
        self.tool_role = self._shows([*exchange, {"role": "tool", "content": tool}], tool)
        self.turn_end = self._turn_end(exchange)

    @classmethod
    def chatml(cls) -> ChatTemplate:
        return cls(CHATML, FALLBACK)

    @classmethod
    def from_gguf(cls, path: str | Path) -> ChatTemplate:
        """The GGUF's own template; ChatML (labelled, with a warning) where it has none or one that cannot work.

        A missing file, a file that is not a GGUF, or a GGUF that is not a language model raises a one-line error.
        """
        metadata = read_metadata(path)
        kind = metadata.get("general.type", "model")
        if kind != "model" or "tokenizer.ggml.tokens" not in metadata:
            what = ("a LoRA adapter (pass it as --adapter)" if kind == "adapter"
                    else f"of type {kind!r} with no tokenizer")
            raise NotGGUF(f"model {path}: not a language model but {what}")
        tokens = metadata["tokenizer.ggml.tokens"]

        def token(key: str) -> str:
            index = metadata.get(f"tokenizer.ggml.{key}_token_id")
            return tokens[index] if isinstance(index, int) and 0 <= index < len(tokens) else ""

        return cls._labelled(metadata.get("tokenizer.chat_template"), "gguf", f"model {Path(path).name}",
                             token("bos"), token("eos"))

    @classmethod
    def from_hf(cls, tokenizer: Any) -> ChatTemplate:
        """An HF tokenizer's template (ChatML, labelled, where it has none)."""
        return cls._labelled(getattr(tokenizer, "chat_template", None), "hf", "the tokenizer",
                             tokenizer.bos_token or "", tokenizer.eos_token or "")

    @classmethod
    def _labelled(cls, template: Any, origin: str, owner: str, bos_token: str, eos_token: str) -> ChatTemplate:
        """`template` labelled `origin:<sha256 prefix>`, or labelled ChatML (with a warning naming `owner`) where it
        is missing or cannot work."""
        if not isinstance(template, str) or not template:
            return cls._fallback(f"{owner} has no chat template")
        digest = hashlib.sha256(template.encode()).hexdigest()[:12]
        try:
            return cls(template, f"{origin}:{digest}", bos_token=bos_token, eos_token=eos_token)
        except TemplateUnusable as error:
            return cls._fallback(f"{owner}: {error}")

    @classmethod
    def _fallback(cls, reason: str) -> ChatTemplate:
        print(f"shopgym: {reason}; prompts use ChatML, recorded as {FALLBACK!r}", file=sys.stderr)
        return cls.chatml()

    def render(self, turns: Sequence[dict[str, Any]], add_generation_prompt: bool = False,
               tools: Sequence[dict[str, Any]] | None = None) -> str:
        """The template's text for `turns`; `tools` (HF function schemas) reach templates that take them."""
        context: dict[str, Any] = {"messages": list(turns), "add_generation_prompt": add_generation_prompt,
                                   "bos_token": self.bos_token, "eos_token": self.eos_token}
        if tools is not None and self.takes_tools:
            context["tools"] = list(tools)
        try:
            return self._template.render(**context)
        except jinja2.TemplateError as error:
            raise TemplateUnusable(f"the chat template ({self.source}) refused the conversation: {error}") from None

    def _shows(self, turns: list[dict[str, Any]], sentinel: str) -> bool:
        try:
            return sentinel in self.render(turns)
        except TemplateUnusable:
            return False

    def _turn_end(self, exchange: list[dict[str, Any]]) -> str:
        """The text after an assistant turn's content; it must extend the generation prompt unchanged."""
        said = exchange[-1]["content"]
        prompt, full = self.render(exchange[:-1], add_generation_prompt=True), self.render(exchange)
        if not full.startswith(prompt + said):
            raise TemplateUnusable("the template renders an answer differently from the prompt that asked for it "
                                   "(it is not prefix-stable), so training text could not match inference prompts")
        return full[len(prompt) + len(said):].strip() or self.eos_token
