"""Distilled rows -> token ids and labels: the loss sees assistant turns (and their end-of-turn token) only."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ValidationError

import shopgym.format as fmt
from shopgym.chat_template import ChatTemplate
from shopgym.schema import Message

IGNORE = -100  # label of a token the loss skips (PyTorch's cross-entropy default)


class TokenizedExample(BaseModel):
    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        """Labelled tokens the model predicts (the first token has no prefix to predict it from)."""
        return sum(label != IGNORE for label in self.labels[1:])


def label_mask(messages: Sequence[Message], chat: ChatTemplate, tokenize: Callable[[str], list[int]],
               tools: Sequence[dict] | None = None) -> TokenizedExample:
    """Labels copy the ids inside `format.assistant_spans` and are IGNORE everywhere else."""
    ids, spans = fmt.assistant_spans(messages, chat, tokenize, tools=tools)
    labels = [IGNORE] * len(ids)
    for start, end in spans:
        labels[start:end] = ids[start:end]
    return TokenizedExample(input_ids=ids, labels=labels)


def read_examples(path: Path, chat: ChatTemplate, tokenize: Callable[[str], list[int]],
                  max_tokens: int) -> list[TokenizedExample]:
    """Every usable row of a distilled `{split}.jsonl`, rendered through `chat`; malformed, unrenderable or
    too-long rows are reported and skipped."""
    examples = []
    with path.open() as rows:
        for line_number, line in enumerate(rows, 1):
            try:
                row = json.loads(line)
                messages = fmt.from_trl(row["messages"])
                example = label_mask(messages, chat, tokenize, row.get("tools"))
            except (json.JSONDecodeError, KeyError, TypeError, IndexError, ValidationError, ValueError) as error:
                print(f"{path}:{line_number}: skipped, not a distilled example ({error})", file=sys.stderr)
                continue
            if len(example.input_ids) > max_tokens:
                print(f"{path}:{line_number}: skipped, {len(example.input_ids)} tokens > max_tokens {max_tokens}",
                      file=sys.stderr)
                continue
            if example.trained_tokens == 0:
                print(f"{path}:{line_number}: skipped, no assistant turn to learn from", file=sys.stderr)
                continue
            examples.append(example)
    return examples
