"""`shopgym train`: base -> examples -> LoRA -> adapter.gguf, with a summary written next to the outputs."""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import BaseModel

from shopgym.chat_template import ChatTemplate

from .base import file_sha256, load_base, resolve_base
from .config import TrainConfig
from .data import read_examples
from .export import export_gguf_adapter
from .loop import train


class TrainSummary(BaseModel):
    out: str
    adapter_gguf: str
    examples: int
    steps: int
    resumed_from: int
    first_loss: float
    last_loss: float  # mean of the last 10 steps
    tokens_per_second: float
    peak_memory_mb: float
    # the template the examples were rendered with: `gguf:<sha256 prefix>`, `hf:...` or ChatML (empty in summaries
    # written before this field)
    chat_format: str = ""


def default_device(asked: str | None = None) -> str:
    """The device to train on: `asked` if this machine has it (ValueError otherwise), else cuda when present."""
    if asked == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda, but torch sees no CUDA GPU here; pass --device cpu, or leave --device out "
                         "(the default takes cuda when present)")
    return asked or ("cuda" if torch.cuda.is_available() else "cpu")


def bf16_supported(device: str) -> bool:
    """Whether the device multiplies bfloat16 natively (emulated bfloat16 on a CPU would be slower than float32)."""
    if device == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())


def train_student(data: Path, base: Path, out: Path, config: TrainConfig, cache_dir: Path,
                  progress: bool = True) -> TrainSummary:
    """Train a LoRA student on `data/train.jsonl` into `out`; a rerun resumes from the last checkpoint."""
    rows = data / "train.jsonl"
    if not rows.exists():
        raise ValueError(f"{data} has no train.jsonl: pass the folder `shopgym distill --out` wrote")
    out.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails before minutes of loading
    config = config.model_copy(update={  # real paths: a relative path or a symlink resumes the same run
        "base": str(base.resolve()), "base_sha256": file_sha256(base) if base.is_file() else "",
        "data": str(data.resolve()), "data_sha256": file_sha256(rows)})
    model, tokenizer = load_base(resolve_base(base, cache_dir, config.base_sha256 or None), config.device)
    chat = ChatTemplate.from_gguf(base) if base.is_file() else ChatTemplate.from_hf(tokenizer)
    examples = read_examples(rows, chat, lambda text: tokenizer(text, add_special_tokens=False)["input_ids"],
                             config.max_tokens)
    student, result = train(model, examples, config, out, progress)
    saved, adapter = out / "train_summary.json", out / "adapter.gguf"
    if result.resumed_from == result.steps and saved.exists() and adapter.exists():
        return TrainSummary.model_validate_json(saved.read_text())  # a finished run: its speed and memory stand
    export_gguf_adapter(student, adapter)
    tail = [entry.loss for entry in result.log[-10:]]
    summary = TrainSummary(out=str(out), adapter_gguf=str(adapter), examples=len(examples), steps=result.steps,
                           resumed_from=result.resumed_from, first_loss=round(result.log[0].loss, 4),
                           last_loss=round(sum(tail) / len(tail), 4), tokens_per_second=result.tokens_per_second,
                           peak_memory_mb=result.peak_memory_mb, chat_format=chat.source)
    saved.write_text(summary.model_dump_json(indent=2) + "\n")
    return summary
