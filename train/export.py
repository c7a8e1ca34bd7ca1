"""A trained LoRA as llama.cpp's GGUF adapter (`general.type=adapter`), so `Llama(base, lora_path=...)` serves it."""

from __future__ import annotations

import math
import os
from pathlib import Path

import gguf
import numpy as np
import torch
from peft import PeftModel
from peft.utils import get_peft_model_state_dict

# HF model_type -> (llama.cpp architecture, whether llama.cpp permutes q/k rows for rotary embeddings)
ARCHITECTURES = {
    "llama": (gguf.MODEL_ARCH.LLAMA, True),
    "mistral": (gguf.MODEL_ARCH.LLAMA, True),
    "qwen2": (gguf.MODEL_ARCH.QWEN2, False),
    "qwen3": (gguf.MODEL_ARCH.QWEN3, False),
}


def permute_rows(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """llama.cpp's q/k row order: within each head, the two rotary halves interleaved."""
    return weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(
        weight.shape)


def export_gguf_adapter(model: PeftModel, path: Path) -> Path:
    """Write the model's active LoRA to `path` in llama.cpp's adapter format (f32 tensors)."""
    config = model.base_model.model.config
    if config.model_type not in ARCHITECTURES:
        raise ValueError(f"GGUF adapter export supports {sorted(ARCHITECTURES)} models, not {config.model_type!r}")
    lora = model.peft_config[model.active_adapter]
    if lora.target_parameters:
        raise ValueError("GGUF adapter export covers nn.Linear targets; expert-parameter LoRA (MoE) is not supported")
    arch, permutes = ARCHITECTURES[config.model_type]
    names = gguf.get_tensor_name_map(arch, config.num_hidden_layers)
    heads = {"q_proj": config.num_attention_heads, "k_proj": config.num_key_value_heads}
    alpha = lora.lora_alpha * (math.sqrt(lora.r) if lora.use_rslora else 1.0)  # llama.cpp scales by alpha / r
    partial = path.with_name(f".{path.name}.partial")  # a killed export never leaves a torn adapter
    writer = gguf.GGUFWriter(str(partial), gguf.MODEL_ARCH_NAMES[arch])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    state = get_peft_model_state_dict(model)
    for key in sorted(k for k in state if ".lora_A." in k):
        module = key.removeprefix("base_model.model.").split(".lora_A.")[0]
        target = names.get_name(f"{module}.weight", try_suffixes=(".weight",))
        if target is None:
            raise ValueError(f"no llama.cpp tensor for {module}")
        a, b = state[key].float(), state[key.replace(".lora_A.", ".lora_B.")].float()
        kind = module.rsplit(".", 1)[-1]
        if permutes and kind in heads:
            b = permute_rows(b, heads[kind])
        writer.add_tensor(f"{target}.lora_a", np.ascontiguousarray(a.cpu().numpy()))
        writer.add_tensor(f"{target}.lora_b", np.ascontiguousarray(b.cpu().numpy()))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(partial, path)
    return path
