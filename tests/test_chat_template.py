"""Prompts through each model's own chat template: reference renderings, train/inference parity per family,
and labelled fallbacks or one-line errors for GGUF files that cannot give a template."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest

from shopgym import format as fmt
from shopgym.agents.backends import embedded_model_path
from shopgym.format import execute_request, plan_request
from shopgym.chat_template import FALLBACK, ChatTemplate, TemplateUnusable
from shopgym.envs import tool_schemas
from shopgym.gguf_header import NotGGUF, read_metadata
from shopgym.schema import Message, ToolCall
from test_format import _episode_messages

TEMPLATES = Path(__file__).parent / "fixtures" / "chat_templates"
CALL = ToolCall(tool="search_products", arguments={"query": "kettle"})
CONVERSATION = [Message(role="system", agent="env", content="S"), Message(role="user", agent="user", content="U"),
                Message(role="assistant", agent="researcher", content="why", tool_call=CALL),
                Message(role="tool", agent="env", observation="T"),
                Message(role="assistant", agent="researcher", content="B")]
CALL_TEXT = 'why\n{"tool": "search_products", "arguments": {"query": "kettle"}}'


def _families() -> dict[str, ChatTemplate]:
    return {"smollm2": ChatTemplate.from_gguf(embedded_model_path()),
            "llama3": ChatTemplate((TEMPLATES / "llama3.jinja").read_text(), "test:llama3",
                                   bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>"),
            "gemma": ChatTemplate((TEMPLATES / "gemma.jinja").read_text(), "test:gemma", bos_token="<bos>",
                                  eos_token="<eos>")}


FAMILIES = _families()
REFERENCE = {  # each family's documented prompt layout, written out by hand
    "smollm2": ("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
                f"<|im_start|>assistant\n{CALL_TEXT}<|im_end|>\n<|im_start|>tool\nT<|im_end|>\n"
                "<|im_start|>assistant\nB<|im_end|>\n"),
    "llama3": ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
               "<|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>"
               f"<|start_header_id|>assistant<|end_header_id|>\n\n{CALL_TEXT}<|eot_id|>"
               "<|start_header_id|>tool<|end_header_id|>\n\nT<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\nB<|eot_id|>"),
    "gemma": ("<bos><start_of_turn>user\nS\n\nU<end_of_turn>\n"
              f"<start_of_turn>model\n{CALL_TEXT}<end_of_turn>\n"
              "<start_of_turn>user\nTool result:\nT<end_of_turn>\n<start_of_turn>model\nB<end_of_turn>\n"),
}
TURN_END = {"smollm2": "<|im_end|>", "llama3": "<|eot_id|>", "gemma": "<end_of_turn>"}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_renders_its_reference_layout(family: str) -> None:
    chat = FAMILIES[family]
    assert fmt.render(CONVERSATION, chat) == REFERENCE[family]
    assert chat.turn_end == TURN_END[family]
    assert (chat.system_role, chat.tool_role) == ((False, False) if family == "gemma" else (True, True))


def _supervised_episode(world: Path) -> list[Message]:
    """A heuristic episode shaped like a supervised one: a plan turn, and a reviewer's turn after a tool result."""
    messages = _episode_messages(world, 4)
    plan = [plan_request(), Message(role="assistant", agent="researcher", content="1. Search.\n2. Read reviews."),
            execute_request()]
    review = Message(role="user", agent="supervisor", content="Reviewer: read the reviews.")
    return [*messages[:2], *plan, *messages[2:4], review, *messages[4:]]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_prompt_is_a_prefix_of_its_training_text(world_dir: Path, family: str) -> None:
    chat = FAMILIES[family]
    messages = _supervised_episode(world_dir)
    tools = fmt.hf_tools(tool_schemas())
    full = fmt.render(messages, chat, tools=tools)
    roles = [turn["role"] for turn in fmt.template_turns(messages, chat)]
    assert all(a != b for a, b in zip(roles, roles[1:]) if "user" in (a, b))  # no two user turns in a row
    ids, spans = fmt.assistant_spans(messages, chat, lambda text: [ord(c) for c in text], tools=tools)  # ids: characters
    assert "".join(map(chr, ids)) == full
    assistant = [m for m in messages if m.role == "assistant"]
    assert len(spans) == len(assistant) >= 4
    for index, ((start, stop), message) in enumerate(zip(spans, assistant)):
        position = messages.index(message)
        prompt = fmt.render(messages[:position], chat, add_generation_prompt=True, tools=tools)
        assert full.startswith(prompt) and start == len(prompt), f"turn {index}"
        written = full[start:stop]
        assert written.startswith(fmt.turn_text(message)) and written[len(fmt.turn_text(message)):].strip() \
            == chat.turn_end


def test_a_template_that_takes_tools_gets_them_in_hf_form() -> None:
    chat = ChatTemplate("{% if tools %}{{ tools | tojson }}\n{% endif %}" + (TEMPLATES / "llama3.jinja").read_text(),
                        "test:tools")
    assert chat.takes_tools and not FAMILIES["llama3"].takes_tools
    text = fmt.render(CONVERSATION, chat, tools=fmt.hf_tools(tool_schemas()))
    assert text.startswith('[{"type": "function", "function": {"name": "search_products"')
    assert fmt.render(CONVERSATION, FAMILIES["llama3"], tools=fmt.hf_tools(tool_schemas())) \
        == REFERENCE["llama3"]


def test_a_template_that_rewrites_earlier_turns_is_refused() -> None:
    """A template whose prompt differs from the same conversation with the answer appended cannot train."""
    unstable = ("{% for m in messages %}{{ m['role'] }}:{{ m['content'] }}{% if loop.last and m['role'] == 'user' %}"
                " (answer this){% endif %}|{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}")
    with pytest.raises(TemplateUnusable, match="prefix-stable"):
        ChatTemplate(unstable, "test:unstable")


def _write_gguf(path: Path, template: str | None, kind: str = "model", tokens: bool = True) -> Path:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_type(kind)
    if tokens:
        writer.add_token_list(["<unk>", "<|begin_of_text|>", "<|eot_id|>", "a"])
        writer.add_bos_token_id(1)
        writer.add_eos_token_id(2)
    if template is not None:
        writer.add_chat_template(template)
    writer.add_tensor("t", np.zeros(4, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_gguf_header_gives_the_template_and_its_special_tokens(tmp_path: Path) -> None:
    template = (TEMPLATES / "llama3.jinja").read_text()
    chat = ChatTemplate.from_gguf(_write_gguf(tmp_path / "m.gguf", template))
    assert chat.source.startswith("gguf:") and len(chat.source) == len("gguf:") + 12
    assert chat.bos_token == "<|begin_of_text|>" and chat.eos_token == "<|eot_id|>"
    assert fmt.render(CONVERSATION, chat) == REFERENCE["llama3"]
    assert read_metadata(embedded_model_path())["tokenizer.ggml.bos_token_id"] == 1


def test_gguf_files_without_a_usable_template_fall_back_to_labelled_chatml(tmp_path: Path, capsys) -> None:
    for name, template in (("plain", None), ("broken", "{% for m in messages %}"), ("unstable", "{{ messages | length }}")):
        chat = ChatTemplate.from_gguf(_write_gguf(tmp_path / f"{name}.gguf", template))
        assert chat.source == FALLBACK and chat.turn_end == "<|im_end|>", name
        assert f"{name}.gguf" in capsys.readouterr().err


def test_files_that_are_no_chat_model_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.gguf").write_text("not a model")
    truncated = _write_gguf(tmp_path / "cut.gguf", None)
    truncated.write_bytes(truncated.read_bytes()[:40])
    cases = {tmp_path / "missing.gguf": (FileNotFoundError, "no such file"),
             tmp_path / "notes.gguf": (NotGGUF, "not a GGUF file"),
             truncated: (NotGGUF, "ends inside its metadata"),
             _write_gguf(tmp_path / "lora.gguf", None, kind="adapter"): (NotGGUF, "LoRA adapter"),
             _write_gguf(tmp_path / "vocabless.gguf", None, tokens=False): (NotGGUF, "no tokenizer")}
    for path, (error, words) in cases.items():
        with pytest.raises(error, match=words) as raised:
            ChatTemplate.from_gguf(path)
        assert "\n" not in str(raised.value)


def test_generate_with_a_model_that_is_no_gguf_is_a_one_line_cli_error(world_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_text("not a model")
    for model in (tmp_path / "model.gguf", tmp_path / "absent.gguf"):
        out = subprocess.run([sys.executable, "-m", "shopgym.cli", "generate", "--catalog", str(world_dir),
                              "--episodes", "1", "--model", str(model), "--out", str(tmp_path / "run")],
                             capture_output=True, text=True)
        assert out.returncode == 2, out.stderr  # a usage error
        assert out.stderr.count("\n") == 1 and str(model) in out.stderr and "Traceback" not in out.stderr
