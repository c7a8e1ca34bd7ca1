"""The student's base model: an HF folder, or a GGUF converted once to HF weights and cached by file hash."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def converted_gguf(gguf_path: Path, cache_dir: Path, sha256: str | None = None) -> Path:
    """HF weights and tokenizer of `gguf_path`, de-quantized once into `cache_dir/<sha256[:16]>`."""
    target = cache_dir / (sha256 or file_sha256(gguf_path))[:16]
    if (target / "config.json").exists():
        return target
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    if getattr(model, "hf_quantizer", None) is not None:  # transformers 5.x: else save/peft treat it as quantized
        model.hf_quantizer.remove_quantization_config(model)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    staging = cache_dir / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / "SOURCE").write_text(f"{gguf_path.name}\n")
    try:
        staging.rename(target)
    except OSError:  # another process finished first: its copy is the same
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_base(base: Path, cache_dir: Path, sha256: str | None = None) -> Path:
    """The HF folder for `base` (a GGUF file, `sha256` its digest if known, or an HF folder); else a clear error."""
    if base.is_file() and base.suffix == ".gguf":
        return converted_gguf(base, cache_dir, sha256)
    if base.is_dir() and (base / "config.json").exists():
        return base
    raise ValueError(f"base model {base}: expected a .gguf file or a Hugging Face model folder with config.json")


def load_base(folder: Path, device: str = "cpu") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(device)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return model, tokenizer
