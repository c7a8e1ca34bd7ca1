"""The exported GGUF adapter in llama.cpp matches transformers+peft, and a taught fact survives the export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from llama_cpp import Llama

import shopgym.format as fmt
from shopgym.chat_template import ChatTemplate
from shopgym.agents.backends import LlamaBackend, embedded_model_path
from shopgym.schema import Message
from shopgym.train import TrainConfig, add_lora, export_gguf_adapter, label_mask, load_base, train
from shopgym.train import export

PROMPTS = [
    "<|im_start|>user\nWhich noise cancelling headphones are best under $150?<|im_end|>\n<|im_start|>assistant\n",
    "The most important thing when buying a laptop is",
    '{"tool": "search_products", "arguments": {"query": "',
    "<|im_start|>system\nYou are a shopping research assistant.<|im_end|>\n<|im_start|>user\nA quiet blender",
    "Reviews say the battery lasts",
    "Paris is the capital of",
]
# llama.cpp multiplies Q4_1 weights with 8-bit quantized activations: a top-1 lead under this many logits
# is within its rounding, so only clearer leads must keep the same argmax
CLEAR_LEAD = 0.1


def _last_logits(llm: Llama, ids: list[int]) -> np.ndarray:
    llm.reset()
    llm.eval(ids)
    return np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).copy()


def _llama(adapter: Path | None) -> Llama:
    return Llama(model_path=str(embedded_model_path()), lora_path=str(adapter) if adapter else None, n_ctx=256,
                 n_threads=2, verbose=False)


@pytest.fixture(scope="module")
def random_student(student_base: Path):
    """The base with a LoRA whose B matrices are large and random: far from the base, so parity means something."""
    model, tokenizer = load_base(student_base)
    torch.manual_seed(0)
    student = add_lora(model, TrainConfig(rank=8, alpha=16))
    with torch.no_grad():
        for name, parameter in student.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.2)
    student.eval()
    return student, tokenizer


def _hf_logits(student, ids: list[int], adapter: bool = True) -> np.ndarray:
    with torch.no_grad():
        if adapter:
            return student(input_ids=torch.tensor([ids])).logits[0, -1].numpy()
        with student.disable_adapter():
            return student(input_ids=torch.tensor([ids])).logits[0, -1].numpy()


def test_llama_cpp_with_the_exported_adapter_matches_transformers_and_peft(random_student, tmp_path: Path) -> None:
    student, tokenizer = random_student
    path = export_gguf_adapter(student, tmp_path / "adapter.gguf")
    llm = _llama(path)
    clear = 0
    try:
        for text in PROMPTS:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert ids == llm.tokenize(text.encode(), add_bos=False, special=True)
            ours, theirs = _last_logits(llm, ids), _hf_logits(student, ids)
            assert np.corrcoef(_hf_logits(student, ids, adapter=False), theirs)[0, 1] < 0.95  # the LoRA matters
            assert np.corrcoef(ours, theirs)[0, 1] > 0.99, text
            second, first = np.sort(theirs)[-2:]
            if first - second >= CLEAR_LEAD:
                clear += 1
                assert ours.argmax() == theirs.argmax(), (text, first - second)
    finally:
        llm.close()
    assert clear >= 4


def test_without_the_q_k_row_permutation_parity_breaks(random_student, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    student, tokenizer = random_student
    monkeypatch.setattr(export, "permute_rows", lambda weight, heads: weight)
    llm = _llama(export_gguf_adapter(student, tmp_path / "unpermuted.gguf"))
    try:
        ids = tokenizer(PROMPTS[0], add_special_tokens=False)["input_ids"]
        assert np.corrcoef(_last_logits(llm, ids), _hf_logits(student, ids))[0, 1] < 0.99
    finally:
        llm.close()


SECRET = "zorblat"


def test_a_secret_word_taught_in_a_few_steps_changes_greedy_output_in_both_runtimes(student_base: Path,
                                                                                     tmp_path: Path) -> None:
    model, tokenizer = load_base(student_base)

    def tokenize(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    question = [Message(role="system", agent="env", content="You are a helpful assistant."),
                Message(role="user", agent="user", content="What is the secret word?")]
    answer = Message(role="assistant", agent="researcher", content=f"The secret word is {SECRET}.")
    chat = ChatTemplate.from_hf(tokenizer)
    prompt = fmt.render_ids(question, chat, tokenize, add_generation_prompt=True)

    def hf_greedy(m) -> str:
        with torch.no_grad():
            out = m.generate(input_ids=torch.tensor([prompt]), max_new_tokens=12, do_sample=False)
        return tokenizer.decode(out[0, len(prompt):])

    before_hf = hf_greedy(model)
    config = TrainConfig(rank=8, alpha=16, learning_rate=2e-3, max_steps=20, grad_accum=1, warmup_ratio=0,
                         save_every=100)
    student, result = train(model, [label_mask([*question, answer], chat, tokenize)], config, tmp_path, progress=False)
    student.eval()
    after_hf = hf_greedy(student)
    adapter = export_gguf_adapter(student, tmp_path / "adapter.gguf")

    outputs = {}
    for name, lora in (("base", None), ("student", adapter)):
        backend = LlamaBackend(lora_path=lora, n_ctx=256, n_threads=2)
        try:
            outputs[name] = backend.complete(prompt, role="answer", max_tokens=12).text
        finally:
            backend.close()
    assert SECRET not in before_hf and SECRET not in outputs["base"]
    assert SECRET in after_hf, after_hf
    assert SECRET in outputs["student"], outputs["student"]
    assert result.log[-1].loss < result.log[0].loss
