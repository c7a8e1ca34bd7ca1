"""One prompt format for every stage: llama.cpp and the HF tokenizer agree on its token ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopgym import format as fmt
from shopgym.agents.backends import embedded_model_path
from shopgym.agents.baselines import HeuristicResearcher
from shopgym.envs import ProductResearchEnv, tool_schemas
from shopgym.schema import Message, ToolCall


def _episode_messages(world: Path, seed: int) -> list[Message]:
    env = ProductResearchEnv(catalog=world)
    observation, _ = env.reset(seed=seed, options={"split": "test"})
    messages = fmt.episode_messages(env.episode.request, env.tool_schemas())
    actions = HeuristicResearcher().actions(env, observation["text"])
    action = next(actions)
    while True:
        observation, _, terminated, truncated, _ = env.step(action)
        messages += [Message(role="assistant", agent="researcher", tool_call=ToolCall.model_validate(action)),
                     Message(role="tool", agent="env", observation=observation["text"])]
        if terminated or truncated:
            return messages
        action = actions.send(observation["text"])


@pytest.fixture(scope="module")
def tokenizers():
    from transformers import AutoTokenizer

    from shopgym.agents.backends import LlamaBackend

    path = embedded_model_path()
    hf = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    llama = LlamaBackend(n_ctx=512)
    yield (lambda text: hf(text, add_special_tokens=False)["input_ids"]), llama.tokenize, llama.chat
    llama.close()


def test_llama_cpp_and_hf_tokenizers_agree_on_rendered_episodes(world_dir: Path, tokenizers) -> None:
    hf, llama, chat = tokenizers
    assert chat.source.startswith("gguf:") and chat.turn_end == "<|im_end|>"  # the embedded model's own template
    for seed in range(3):
        messages = _episode_messages(world_dir, seed)
        text = fmt.render(messages, chat, add_generation_prompt=True)
        assert text.count("<|im_start|>") == len(messages) + 1
        assert hf(text) == llama(text)


def test_assistant_spans_cover_exactly_the_assistant_turns(world_dir: Path, tokenizers) -> None:
    _, llama, chat = tokenizers
    messages = _episode_messages(world_dir, 0)
    ids, spans = fmt.assistant_spans(messages, chat, llama)
    assert ids == fmt.render_ids(messages, chat, llama)
    assistant = [m for m in messages if m.role == "assistant"]
    assert len(spans) == len(assistant)
    for (start, stop), message in zip(spans, assistant):
        assert ids[start:stop] == llama(fmt.turn_text(message) + chat.turn_end + "\n")  # ChatML's "\n" after the end


def test_budget_pages_observations_and_lists_tools_compactly() -> None:
    long = Message(role="tool", agent="env", observation="x" * 5000)
    assert len(fmt.turn_text(long)) == fmt.DEFAULT_BUDGET.observation_chars
    system = fmt.system_prompt(tool_schemas())
    assert "search_products(query?, category?" in system and "view_product(product_id, section?)" in system
    assert len(system) < 1500
