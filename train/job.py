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
from .loop import total_steps, train


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


def _finished_run(config: TrainConfig, out: Path) -> TrainSummary | None:
    """The summary of a run of `config` that `out` holds finished, even without its checkpoints (a student kept
    without them, maybe on another machine); None when there is none or `config` goes further."""
    saved_config, saved = out / "train_config.json", out / "train_summary.json"
    if not (saved_config.exists() and saved.exists() and (out / "adapter.gguf").exists()):
        return None
    before = TrainConfig.model_validate_json(saved_config.read_text())
    # a changed setting is refused, as in a resume; the precision is the machine's, and nothing is trained here
    config.model_copy(update={"bf16": before.bf16}).check_resume(saved_config)
    summary = TrainSummary.model_validate_json(saved.read_text())
    if summary.steps != total_steps(summary.examples, config):
        return None
    return summary.model_copy(update={"out": str(out), "adapter_gguf": str(out / "adapter.gguf")})


def train_student(data: Path, base: Path, out: Path, config: TrainConfig, cache_dir: Path,
                  progress: bool = True) -> TrainSummary:
    """Train a LoRA student on `data/train.jsonl` into `out`; a rerun resumes from the last checkpoint, and returns
    a finished run's summary without training."""
    rows = data / "train.jsonl"
    if not rows.exists():
        raise ValueError(f"{data} has no train.jsonl: pass the folder `shopgym distill --out` wrote")
    out.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails before minutes of loading
    config = config.model_copy(update={  # real paths: a relative path or a symlink resumes the same run
        "base": str(base.resolve()), "base_sha256": file_sha256(base) if base.is_file() else "",
        "data": str(data.resolve()), "data_sha256": file_sha256(rows)})
    saved, adapter = out / "train_summary.json", out / "adapter.gguf"
    finished = _finished_run(config, out)
    if finished is not None:
        return finished  # its speed and memory stand (a rerun would measure an empty session)
    saved.unlink(missing_ok=True)  # a run that goes on writes its own when it ends
    model, tokenizer = load_base(resolve_base(base, cache_dir, config.base_sha256 or None), config.device)
    chat = ChatTemplate.from_gguf(base) if base.is_file() else ChatTemplate.from_hf(tokenizer)
    examples = read_examples(rows, chat, lambda text: tokenizer(text, add_special_tokens=False)["input_ids"],
                             config.max_tokens)
    student, result = train(model, examples, config, out, progress)
    export_gguf_adapter(student, adapter)
    tail = [entry.loss for entry in result.log[-10:]]
    summary = TrainSummary(out=str(out), adapter_gguf=str(adapter), examples=len(examples), steps=result.steps,
                           resumed_from=result.resumed_from, first_loss=round(result.log[0].loss, 4),
                           last_loss=round(sum(tail) / len(tail), 4), tokens_per_second=result.tokens_per_second,
                           peak_memory_mb=result.peak_memory_mb, chat_format=chat.source)
    saved.write_text(summary.model_dump_json(indent=2) + "\n")
    return summary
