"""Student training: LoRA on distilled examples, checkpoints and resume, export to a llama.cpp GGUF adapter."""

from .base import file_sha256, load_base, resolve_base
from .config import TrainConfig
from .data import IGNORE, TokenizedExample, label_mask, read_examples
from .export import export_gguf_adapter
from .job import TrainSummary, bf16_supported, default_device, train_student
from .loop import TrainResult, add_lora, train

__all__ = ["IGNORE", "TokenizedExample", "TrainConfig", "TrainResult", "TrainSummary", "add_lora", "bf16_supported",
           "default_device", "export_gguf_adapter", "file_sha256", "label_mask", "load_base", "read_examples",
           "resolve_base", "train", "train_student"]
