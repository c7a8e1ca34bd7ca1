"""The LoRA training loop: token-weighted loss on assistant tokens, checkpoints every few steps, exact resume.

Step `s` trains on items `s*grad_accum ... (s+1)*grad_accum - 1` of a stream that concatenates one
seeded permutation of the examples per epoch, so a resumed run sees exactly the batches an
uninterrupted one would.
"""

from __future__ import annotations

import json
import math
import resource
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model, set_peft_model_state_dict
from peft.utils import get_peft_model_state_dict
from pydantic import BaseModel
from tqdm import tqdm
from transformers import PreTrainedModel

from .config import TrainConfig
from .curves import plot_loss
from .data import IGNORE, TokenizedExample


class StepLog(BaseModel):
    step: int
    loss: float
    learning_rate: float
    tokens: int  # input tokens in the step's batch
    trained_tokens: int  # of those, tokens in the loss
    seconds: float


class TrainResult(BaseModel):
    steps: int
    resumed_from: int
    log: list[StepLog]
    tokens_per_second: float  # input tokens of this session's steps / their seconds
    peak_memory_mb: float


def expert_parameters(model: PreTrainedModel) -> list[str]:
    """Names (below the layer) of a MoE's 3-D expert tensors, e.g. `mlp.experts.gate_up_proj`."""
    names = {name.split(".", 3)[-1] for name, p in model.named_parameters() if p.ndim == 3 and ".experts." in name}
    return sorted(names)


def add_lora(model: PreTrainedModel, config: TrainConfig) -> PeftModel:
    """LoRA on the configured projections (those the model has) and, in a MoE, every expert tensor."""
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    modules = [m for m in config.target_modules if m in present]
    parameters = config.target_parameters or expert_parameters(model)
    if not modules and not parameters:
        raise ValueError(f"none of the LoRA targets {config.target_modules} is a module of this model")
    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout, target_modules=modules,
                      target_parameters=parameters or None, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def item_order(count: int, seed: int, epoch: int) -> list[int]:
    return np.random.default_rng([seed, epoch]).permutation(count).tolist()


def batch_indices(count: int, seed: int, step: int, grad_accum: int) -> list[int]:
    """Example indices of optimizer step `step` (0-based) in the seeded epoch stream."""
    items = range(step * grad_accum, (step + 1) * grad_accum)
    return [item_order(count, seed, i // count)[i % count] for i in items]


def total_steps(count: int, config: TrainConfig) -> int:
    return config.max_steps or max(1, math.ceil(config.epochs * count / config.grad_accum))


def example_loss(model: torch.nn.Module, example: TokenizedExample, device: str, bf16: bool = False) -> torch.Tensor:
    """Summed cross-entropy over the example's labelled tokens; logits only where a label follows."""
    ids = torch.tensor([example.input_ids], device=device)
    labels = torch.tensor(example.labels, device=device)
    positions = (labels[1:] != IGNORE).nonzero().squeeze(1)  # position p predicts token p + 1
    with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=ids, logits_to_keep=positions).logits[0]
    return F.cross_entropy(logits.float(), labels[positions + 1], reduction="sum")


def _schedule(config: TrainConfig, steps: int):
    warmup = round(config.warmup_ratio * steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (steps - step) / max(1, steps - warmup))
    return factor


def _latest_checkpoint(out: Path) -> Path | None:
    found = sorted((out / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    return found[-1] if found else None


def _save_checkpoint(out: Path, model: PeftModel, optimizer, scheduler, step: int, log: list[StepLog]) -> None:
    """Write `checkpoints/step-N` atomically (staging folder + rename), then drop older ones."""
    root = out / "checkpoints"
    staging = root / f".step-{step}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    torch.save({"adapter": get_peft_model_state_dict(model), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict()}, staging / "state.pt")
    (staging / "log.json").write_text(json.dumps([entry.model_dump() for entry in log]))
    staging.rename(root / f"step-{step}")
    for old in root.glob("step-*"):
        if old.name != f"step-{step}":
            shutil.rmtree(old)


def train(model: PreTrainedModel, examples: Sequence[TokenizedExample], config: TrainConfig, out: Path,
          progress: bool = True) -> tuple[PeftModel, TrainResult]:
    """Train LoRA on `examples` into `out` (adapter/, checkpoints/, loss.png, train_config.json)."""
    if not examples:
        raise ValueError("no training examples: the data folder's train.jsonl is empty or every row was skipped")
    out.mkdir(parents=True, exist_ok=True)
    config.check_resume(out / "train_config.json")
    config.save(out / "train_config.json")
    torch.manual_seed(config.seed)
    model.config.use_cache = False  # no generation while training
    model = add_lora(model, config)
    if config.gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=0.0)
    steps = total_steps(len(examples), config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, steps))
    log: list[StepLog] = []
    start = 0
    if (checkpoint := _latest_checkpoint(out)) is not None:
        state = torch.load(checkpoint / "state.pt", map_location="cpu", weights_only=True)  # resumable on any device
        set_peft_model_state_dict(model, state["adapter"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        log = [StepLog(**entry) for entry in json.loads((checkpoint / "log.json").read_text())]
        start = len(log)
    if config.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    session_tokens, session_seconds = 0, 0.0
    bar = tqdm(range(start, steps), initial=start, total=steps, desc="train", unit="step", disable=not progress)
    for step in bar:
        began = time.perf_counter()
        batch = [examples[i] for i in batch_indices(len(examples), config.seed, step, config.grad_accum)]
        labelled = sum(e.trained_tokens for e in batch)
        total = 0.0
        for example in batch:
            loss = example_loss(model, example, config.device, config.bf16)
            (loss / labelled).backward()
            total += loss.item()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        seconds = time.perf_counter() - began
        tokens = sum(len(e.input_ids) for e in batch)
        session_tokens, session_seconds = session_tokens + tokens, session_seconds + seconds
        log.append(StepLog(step=step + 1, loss=total / labelled, learning_rate=scheduler.get_last_lr()[0],
                           tokens=tokens, trained_tokens=labelled, seconds=round(seconds, 3)))
        bar.set_postfix(loss=f"{log[-1].loss:.3f}", tok_s=f"{tokens / seconds:.0f}")
        if (step + 1) % config.save_every == 0 or step + 1 == steps:
            _save_checkpoint(out, model, optimizer, scheduler, step + 1, log)
            plot_loss(log, out / "loss.png")
    model.save_pretrained(out / "adapter")
    (out / "loss.jsonl").write_text("".join(entry.model_dump_json() + "\n" for entry in log))
    plot_loss(log, out / "loss.png")
    return model, TrainResult(steps=steps, resumed_from=start, log=log,
                              tokens_per_second=round(session_tokens / max(session_seconds, 1e-9), 1),
                              peak_memory_mb=round(peak_memory_mb(config.device), 1))


def peak_memory_mb(device: str) -> float:
    """Peak GPU memory on CUDA; on CPU the process's peak resident set (Linux reports KiB)."""
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
