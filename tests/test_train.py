"""Student training: label mask, exact resume, MoE expert LoRA, and the CLI on distilled rows."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, Qwen3MoeConfig

import shopgym.format as fmt
from shopgym.agents.backends import embedded_model_path
from shopgym.chat_template import ChatTemplate
from shopgym.schema import Message, ToolCall
from shopgym.train import IGNORE, TokenizedExample, TrainConfig, export_gguf_adapter, label_mask, train
from shopgym.train import loop
from shopgym.train.loop import example_loss


def _episode() -> list[Message]:
    return [Message(role="system", agent="env", content="You are a shopping research assistant."),
            Message(role="user", agent="user", content="Headphones under $150 with noise cancelling."),
            Message(role="assistant", agent="researcher", content="Plan: search, read reviews, report."),
            Message(role="assistant", agent="researcher",
                    tool_call=ToolCall(tool="search_products", arguments={"query": "noise cancelling"})),
            Message(role="tool", agent="env", observation="P-1 Quiet One $120 4.5 stars"),
            Message(role="assistant", agent="researcher",
                    tool_call=ToolCall(tool="submit_report", arguments={"report": {"nothing_fits": False}}))]


def _tiny_llama(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    return AutoModelForCausalLM.from_config(config)


def _tiny_examples(count: int = 6) -> list[TokenizedExample]:
    generator = torch.Generator().manual_seed(1)
    out = []
    for _ in range(count):
        ids = torch.randint(0, 96, (24,), generator=generator).tolist()
        out.append(TokenizedExample(input_ids=ids, labels=[IGNORE] * 12 + ids[12:]))
    return out


def die_after_checkpoint(monkeypatch: pytest.MonkeyPatch, at: int) -> None:
    """The next training raises KeyboardInterrupt right after writing checkpoint `at` (a kill, in process)."""
    real_save = loop._save_checkpoint

    def save_then_die(out, model, optimizer, scheduler, step, log):
        real_save(out, model, optimizer, scheduler, step, log)
        if step == at:
            monkeypatch.setattr(loop, "_save_checkpoint", real_save)
            raise KeyboardInterrupt(f"killed after step {at}")

    monkeypatch.setattr(loop, "_save_checkpoint", save_then_die)


def test_labels_cover_exactly_the_assistant_turns_and_their_end_token(student_base: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(student_base)
    chat = ChatTemplate.from_hf(tokenizer)
    assert chat.template_text == ChatTemplate.from_gguf(embedded_model_path()).template_text  # kept by conversion
    messages = _episode()
    example = label_mask(messages, chat, lambda t: tokenizer(t, add_special_tokens=False)["input_ids"])
    assert example.input_ids == tokenizer(fmt.render(messages, chat), add_special_tokens=False)["input_ids"]
    runs, current = [], []
    for token, label in zip(example.input_ids, example.labels):
        if label != IGNORE:
            assert label == token
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    runs += [current] if current else []
    expected = [fmt.turn_text(m) + chat.turn_end + "\n" for m in messages if m.role == "assistant"]
    assert [tokenizer.decode(run) for run in runs] == expected
    assert example.trained_tokens == sum(len(run) for run in runs)


def test_the_loss_is_the_mean_over_labelled_tokens_only() -> None:
    model = _tiny_llama()
    example = _tiny_examples(1)[0]
    ids = torch.tensor([example.input_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0]
        labels = torch.tensor(example.labels)
        full = F.cross_entropy(logits[:-1], labels[1:], ignore_index=IGNORE, reduction="sum")
        ours = example_loss(model, example, "cpu")
    assert torch.allclose(ours, full, atol=1e-4)
    # a token outside the labelled span changes the context, never a target: the loss has 12 terms
    assert example.trained_tokens == 12


def test_bf16_autocast_keeps_the_loss_and_float32_weights() -> None:
    """bfloat16 only in the forward matmuls: the loss stays close, parameters and gradients stay float32."""
    model = _tiny_llama()
    example = _tiny_examples(1)[0]
    full = example_loss(model, example, "cpu")
    half = example_loss(model, example, "cpu", bf16=True)
    assert half.dtype == torch.float32 and torch.allclose(half, full, rtol=2e-2)
    half.backward()
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in model.parameters())


def test_a_killed_run_resumes_to_the_same_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = TrainConfig(rank=4, alpha=8, learning_rate=1e-2, max_steps=6, grad_accum=2, warmup_ratio=0.2, save_every=2)
    straight, _ = train(_tiny_llama(), _tiny_examples(), config, tmp_path / "straight", progress=False)

    die_after_checkpoint(monkeypatch, 4)
    with pytest.raises(KeyboardInterrupt):
        train(_tiny_llama(), _tiny_examples(), config, tmp_path / "resumed", progress=False)
    resumed, result = train(_tiny_llama(), _tiny_examples(), config, tmp_path / "resumed", progress=False)
    assert result.resumed_from == 4 and [e.step for e in result.log] == [1, 2, 3, 4, 5, 6]
    a, b = straight.state_dict(), resumed.state_dict()
    lora = [k for k in a if "lora_" in k]
    assert lora and all(torch.allclose(a[k], b[k]) for k in lora)
    assert (tmp_path / "resumed" / "loss.png").stat().st_size > 0
    assert json.loads((tmp_path / "resumed" / "train_config.json").read_text())["learning_rate"] == 1e-2


def test_a_resume_with_other_settings_is_refused(tmp_path: Path) -> None:
    config = TrainConfig(rank=4, max_steps=2, grad_accum=1, save_every=1)
    train(_tiny_llama(), _tiny_examples(), config, tmp_path, progress=False)
    with pytest.raises(ValueError, match="learning_rate"):
        train(_tiny_llama(), _tiny_examples(), config.model_copy(update={"learning_rate": 0.1}), tmp_path,
              progress=False)
    _, more = train(_tiny_llama(), _tiny_examples(), config.model_copy(update={"max_steps": 3}), tmp_path,
                    progress=False)
    assert more.resumed_from == 2 and more.steps == 3


def test_a_moved_base_or_data_resumes_where_its_hash_is_on_record(tmp_path: Path) -> None:
    saved = tmp_path / "train_config.json"
    TrainConfig(base="/a/model.gguf", base_sha256="b0", data="/a/data", data_sha256="d0").save(saved)
    TrainConfig(base="/b/model.gguf", base_sha256="b0", data="/b/data", data_sha256="d0").check_resume(saved)
    with pytest.raises(ValueError, match="different data_sha256;"):
        TrainConfig(base="/b/model.gguf", base_sha256="b0", data="/b/data", data_sha256="d1").check_resume(saved)
    TrainConfig(base="/a/hf-folder", data="/a/data", data_sha256="d0").save(saved)  # a folder has no hash
    with pytest.raises(ValueError, match="different base;"):
        TrainConfig(base="/b/hf-folder", data="/b/data", data_sha256="d0").check_resume(saved)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_cuda_matches_cpu_and_its_checkpoint_resumes_on_cpu(tmp_path: Path) -> None:
    config = TrainConfig(rank=4, alpha=8, learning_rate=1e-2, max_steps=4, grad_accum=2, warmup_ratio=0, save_every=2)
    on_cpu, _ = train(_tiny_llama(), _tiny_examples(), config, tmp_path / "cpu", progress=False)
    gpu = config.model_copy(update={"device": "cuda"})
    on_gpu, result = train(_tiny_llama().cuda(), _tiny_examples(), gpu, tmp_path / "cuda", progress=False)
    assert result.peak_memory_mb > 0
    a, b = on_cpu.state_dict(), on_gpu.state_dict()
    lora = [k for k in a if "lora_" in k]
    assert lora and all(b[k].is_cuda and torch.allclose(a[k], b[k].cpu(), atol=1e-4) for k in lora)
    adapter = export_gguf_adapter(on_gpu, tmp_path / "adapter.gguf")
    assert len(gguf.GGUFReader(adapter).tensors) == 2 * len([k for k in lora if "lora_A" in k])
    _, resumed = train(_tiny_llama(), _tiny_examples(), config.model_copy(update={"max_steps": 6}), tmp_path / "cuda",
                       progress=False)
    assert resumed.resumed_from == 4 and resumed.steps == 6
    _, bf16 = train(_tiny_llama().cuda(), _tiny_examples(), gpu.model_copy(update={"bf16": True}), tmp_path / "bf16",
                    progress=False)
    assert all(abs(half.loss - full.loss) < 2e-2 * full.loss for half, full in zip(bf16.log, result.log, strict=True))


def test_lora_trains_the_experts_of_a_tiny_moe(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = Qwen3MoeConfig(vocab_size=96, hidden_size=32, intermediate_size=64, moe_intermediate_size=16,
                            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                            num_experts=4, num_experts_per_tok=2, max_position_embeddings=128, initializer_range=0.2)
    model = AutoModelForCausalLM.from_config(config)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    ids = [(3 * i) % 96 for i in range(24)]
    example = TokenizedExample(input_ids=ids, labels=[IGNORE] * 4 + ids[4:])
    student, result = train(model, [example], TrainConfig(rank=8, alpha=16, learning_rate=1e-2, max_steps=40,
                                                          grad_accum=1, warmup_ratio=0, save_every=100),
                            tmp_path, progress=False)
    assert result.log[-1].loss < 0.25 * result.log[0].loss
    experts = {n: p for n, p in student.named_parameters() if ".experts." in n and "lora_B" in n}
    assert experts and all(p.abs().sum() > 0 for p in experts.values())  # B starts at zero: the experts trained
    with torch.no_grad():
        trained = example_loss(student, example, "cpu").item()
        for p in experts.values():
            p.zero_()
        without_experts = example_loss(student, example, "cpu").item()
    assert without_experts > trained + 1.0  # the expert LoRA carries part of what was learned
    base = {n.replace(".base_layer", ""): p for n, p in student.base_model.model.named_parameters() if "lora_" not in n}
    assert base.keys() == before.keys() and all(torch.equal(before[n], base[n]) for n in before)  # base frozen
