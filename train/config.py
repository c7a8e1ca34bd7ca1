"""Everything that decides a training run, saved next to its outputs; a resume must match it."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

ATTENTION_AND_MLP = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# keys a resume may change: how far to go and how often to save, not what is learned
RESUMABLE = {"max_steps", "epochs", "save_every", "device", "gradient_checkpointing"}
# file paths a resume may change where the file's hash is on record: the content decides, not where it lies (a
# run folder may move to another machine)
HASHED_PATHS = {"base": "base_sha256", "data": "data_sha256"}


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: str = ""  # the GGUF file or HF folder named on the command line
    base_sha256: str = ""  # of the GGUF file (empty for an HF folder)
    data: str = ""
    data_sha256: str = ""  # of train.jsonl
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.0
    target_modules: list[str] = ATTENTION_AND_MLP
    target_parameters: list[str] = []  # MoE expert tensors (3-D, not nn.Linear); empty: every expert tensor
    learning_rate: float = 1e-3
    warmup_ratio: float = 0.1  # of the run's steps, then linear decay to 0
    epochs: float = 2.0
    max_steps: int | None = None
    grad_accum: int = 4
    max_tokens: int = 4096
    gradient_checkpointing: bool = True  # recompute activations in backward: ~40% of the memory for ~10% more time
    bf16: bool = False  # forward matmuls autocast to bfloat16 (LoRA weights and optimizer stay float32)
    seed: int = 0
    save_every: int = 10
    device: str = "cpu"

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.model_dump(), indent=2, sort_keys=True) + "\n")

    def check_resume(self, path: Path) -> None:
        """Raise if `path` holds a config that differs in anything that changes what is learned."""
        if not path.exists():
            return
        saved = json.loads(path.read_text())
        mine = self.model_dump()
        moved = {key for key, digest in HASHED_PATHS.items() if saved.get(digest) and mine.get(digest)}
        changed = sorted(k for k in mine.keys() | saved.keys()
                         if k not in RESUMABLE | moved and saved.get(k) != mine.get(k))
        if changed:
            raise ValueError(f"{path.parent} holds a training run with different {', '.join(changed)}; "
                             "resume with the same settings or train into a new --out folder")
