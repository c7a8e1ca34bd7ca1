"""Decoding benchmark: tool calls under the call checker vs free decoding vs llama.cpp's grammar sampler.

    python benchmarks/bench_decode.py [--model GGUF] [--repeats 5]

The same 512-token context (system prompt, request and real observations from a heuristic episode)
is decoded greedily three ways, each after the context is already in the KV cache, so only decoding
is timed: free (no constraint), with `agents.constrained` (sample, check the chosen token, force the
fixed parts), and with llama-cpp-python's GBNF grammar from the call's JSON schema. Tokens written
per second (sampled + forced: the checker forces the fixed parts and required keys, evaluated in a
batch) are compared, sampled-only rates reported beside them. Writes `benchmarks/out/decode.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from shopgym import format as fmt
from shopgym.agents.backends import LlamaBackend
from shopgym.agents.baselines import HeuristicResearcher
from shopgym.agents.constrained import call_checker
from shopgym.envs import ProductResearchEnv
from shopgym.schema import Message, ToolCall

OUT = Path(__file__).parent / "out"
CONTEXT_TOKENS = 512
NEW_TOKENS = 96


def context(backend: LlamaBackend, catalog: str | None) -> list[int]:
    """About 512 tokens of a real episode, ending where the assistant writes its next call."""
    env = ProductResearchEnv(catalog=catalog)
    observation, _ = env.reset(seed=0, options={"split": "test"})
    messages = fmt.episode_messages(env.episode.request, env.tool_schemas())
    actions = HeuristicResearcher().actions(env, observation["text"])
    action = next(actions)
    while True:
        ids = fmt.render_ids(messages, backend.chat, backend.tokenize, add_generation_prompt=True)
        observation, *_ = env.step(action)
        messages += [Message(role="assistant", agent="researcher", tool_call=ToolCall.model_validate(action)),
                     Message(role="tool", agent="env", observation=observation["text"])]
        if len(fmt.render_ids(messages, backend.chat, backend.tokenize, add_generation_prompt=True)) > CONTEXT_TOKENS:
            return ids[-CONTEXT_TOKENS:] if len(ids) >= CONTEXT_TOKENS else ids
        action = actions.send(observation["text"])


def timed(fn, repeats: int) -> tuple[float, object]:
    fn()  # warm: the context is now cached
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def grammar_decode(backend: LlamaBackend, prompt: list[int], grammar) -> tuple[int, str]:
    llm = backend._context("grammar")
    backend._prefill(llm, prompt)
    tokens = []
    for token in llm.generate(prompt, temp=0.0, grammar=grammar, reset=False):
        if token in backend._end_ids or len(tokens) >= NEW_TOKENS:
            break
        tokens.append(token)
    return len(tokens), llm.detokenize(tokens).decode("utf-8", "replace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="GGUF path (default: the embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--catalog")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    backend = LlamaBackend(args.model, n_ctx=2048)
    prompt = context(backend, args.catalog)
    schemas = ProductResearchEnv(catalog=args.catalog).tool_schemas()
    free_s, free = timed(lambda: backend.complete(prompt, role="free", max_tokens=NEW_TOKENS), args.repeats)
    checked_s, checked = timed(lambda: backend.complete(prompt, role="checked", max_tokens=NEW_TOKENS,
                                                        checker=call_checker(schemas)), args.repeats)
    from llama_cpp import LlamaGrammar

    call_schema = {"type": "object", "properties": {"tool": {"type": "string", "enum": [s["name"] for s in schemas]},
                                                     "arguments": {"type": "object"}}, "required": ["tool", "arguments"]}
    grammar = LlamaGrammar.from_json_schema(json.dumps(call_schema), verbose=False)
    grammar_s, (grammar_tokens, grammar_text) = timed(lambda: grammar_decode(backend, prompt, grammar), args.repeats)
    result = {
        "context_tokens": len(prompt), "threads": backend.n_threads, "model": backend.model_path.name,
        "free": {"sampled": free.sampled, "tokens_per_s": round(free.sampled / free_s, 1)},
        "checked": {"sampled": checked.sampled, "forced": checked.forced, "rejected": checked.rejected,
                    "tokens_per_s": round((checked.sampled + checked.forced) / checked_s, 1),
                    "sampled_per_s": round(checked.sampled / checked_s, 1), "text": checked.text},
        "llama_grammar": {"sampled": grammar_tokens, "tokens_per_s": round(grammar_tokens / grammar_s, 1),
                          "text": grammar_text},
    }
    result["ratio_checked_over_free"] = round(result["checked"]["tokens_per_s"] / result["free"]["tokens_per_s"], 3)
    result["ratio_grammar_over_free"] = round(result["llama_grammar"]["tokens_per_s"] / result["free"]["tokens_per_s"], 3)
    OUT.mkdir(exist_ok=True)
    (OUT / "decode.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
