"""Training benchmark: the LoRA loop's tokens/s against a bare forward+backward of the same model, with peak memory.

    python benchmarks/bench_train.py DATA_DIR [--examples 4] [--base GGUF|HF_DIR]

On the same distilled examples (DATA_DIR/train.jsonl, as `shopgym distill` wrote them), in one process:
- bare: the base model with every weight trainable, `model(ids, labels=ids).loss.backward()` per example
  (full logits, no optimizer step): the cost of one training pass through the model;
- lora: `shopgym.train.train` itself (LoRA on attention and MLP, loss on assistant tokens, AdamW steps,
  checkpoints), with and without gradient checkpointing, and with bfloat16 autocast (weights stay float32).
Speeds are measured side by side in this process; peak memory (resident set, Linux `VmHWM`) is measured
for each arm again in a fresh process, so one arm's allocations never count against another.
Writes `benchmarks/out/train.json`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from shopgym.agents.backends import embedded_model_path
from shopgym.chat_template import ChatTemplate
from shopgym.envs.default_world import cache_root
from shopgym.train import TrainConfig, load_base, read_examples, resolve_base, train

OUT = Path(__file__).parent / "out"


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def bare(folder: Path, examples) -> float:
    model, _ = load_base(folder)
    model.train()
    tokens, began = 0, time.perf_counter()
    for example in examples:
        ids = torch.tensor([example.input_ids])
        model(input_ids=ids, labels=ids).loss.backward()
        model.zero_grad(set_to_none=True)
        tokens += len(example.input_ids)
    return tokens / (time.perf_counter() - began)


def lora(folder: Path, examples, checkpointing: bool, bf16: bool = False) -> float:
    model, _ = load_base(folder)
    config = TrainConfig(max_steps=len(examples), grad_accum=1, gradient_checkpointing=checkpointing, bf16=bf16,
                         save_every=10**6)
    with tempfile.TemporaryDirectory() as out:
        _, result = train(model, examples, config, Path(out), progress=False)
    return result.tokens_per_second


ARMS = {"bare": bare, "lora": lambda folder, examples: lora(folder, examples, checkpointing=False),
        "lora_checkpointing": lambda folder, examples: lora(folder, examples, checkpointing=True),
        "lora_checkpointing_bf16": lambda folder, examples: lora(folder, examples, checkpointing=True, bf16=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="a `shopgym distill` output folder")
    parser.add_argument("--examples", type=int, default=4)
    parser.add_argument("--base", help="GGUF or HF folder (default: the embedded SmolLM2-135M)")
    parser.add_argument("--only", choices=list(ARMS), help=argparse.SUPPRESS)  # one arm, in a fresh process
    args = parser.parse_args()
    folder = resolve_base(Path(args.base) if args.base else embedded_model_path(), cache_root() / "hf-base")
    _, tokenizer = load_base(folder)
    examples = read_examples(Path(args.data) / "train.jsonl", ChatTemplate.from_hf(tokenizer),
                             lambda text: tokenizer(text, add_special_tokens=False)["input_ids"], 4096)[: args.examples]
    if not examples:
        raise SystemExit(f"{args.data}/train.jsonl has no usable examples")
    if args.only:
        ARMS[args.only](folder, examples)
        print(peak_mb())
        return
    arms = {name: run(folder, examples) for name, run in ARMS.items()}
    memory = {name: float(subprocess.run([sys.executable, __file__, *sys.argv[1:], "--only", name], check=True,
                                         capture_output=True, text=True).stdout.split()[-1]) for name in ARMS}
    result = {
        "examples": len(examples), "tokens": sum(len(e.input_ids) for e in examples),
        "trained_tokens": sum(e.trained_tokens for e in examples), "threads": torch.get_num_threads(),
        **{f"{name}_tokens_per_s": round(tps, 1) for name, tps in arms.items()},
        **{f"{name}_peak_mb": round(mb) for name, mb in memory.items()},
        "lora_over_bare": round(arms["lora"] / arms["bare"], 3),
        "lora_checkpointing_over_bare": round(arms["lora_checkpointing"] / arms["bare"], 3),
        "lora_checkpointing_bf16_over_bare": round(arms["lora_checkpointing_bf16"] / arms["bare"], 3),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "train.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
