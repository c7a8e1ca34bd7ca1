"""Distillation: filters with reasons, reflective internalization without leaks, replayable examples."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import shopgym.format as fmt
from shopgym.agents.backends import ScriptedBackend
from shopgym.agents.checks import Transcript, check_tool_call, feedback
from shopgym.agents.episode_view import View
from shopgym.agents.constrained import call_checker
from shopgym.agents.synthesis import run_episode
from shopgym.distill import filters as F
from shopgym.distill.dataset import distill
from shopgym.format import PLAN_PROMPT, REPORT_PROMPT, from_trl, to_trl
from shopgym.distill.internalize import critique_points, fitting_points, internalize, leaks, template_reflection
from shopgym.envs import ProductResearchEnv
from shopgym.schema import Message
from shopgym.chat_template import ChatTemplate
from test_agents import BAD_CALL, BAD_REPORT, _researcher_script

CHATML = ChatTemplate.chatml()
GEMMA = ChatTemplate((Path(__file__).parent / "fixtures" / "chat_templates" / "gemma.jinja").read_text(), "test:gemma",
                     bos_token="<bos>")


@pytest.fixture(scope="module")
def records(world_dir: Path):
    return _records(world_dir)


def _records(world_dir: Path) -> list:
    """Scripted synthesis runs: five supervised, one single-agent, and a duplicate of the first."""
    env = ProductResearchEnv(catalog=world_dir)
    by_split = {s: sorted(t for t, info in env.tasks.items() if info.split == s) for s in ("train", "test")}
    tasks = by_split["train"][:5] + by_split["test"][:1]
    out = []
    for i, task in enumerate(tasks):
        backend = ScriptedBackend({"researcher": _researcher_script("I will wing it.", BAD_CALL, BAD_REPORT)})
        record = run_episode(env, backend, task, seed=i, mode="supervised")
        record.extra["episode"] = i
        out.append(record)
    single = run_episode(env, ScriptedBackend({"researcher": _researcher_script("x", BAD_CALL, BAD_REPORT)}),
                         tasks[0], seed=0, mode="single")
    return out + [single, out[0].model_copy(deep=True)]


def test_internalized_turns_keep_the_correction_and_drop_the_reviewer(records) -> None:
    record = records[0]
    messages = internalize(record)
    assert leaks(messages, record) == []
    assert {m.role for m in messages} <= {"system", "user", "assistant", "tool"}
    text = fmt.render(messages, CHATML)
    assert "supervisor" not in text.lower() and "[error]" not in text
    first = next(m for m in messages if m.role == "assistant")
    assert first.content.startswith(("Before I act", "Let me check", "A quick check"))
    point = critique_points(next(m for m in record.messages if m.agent == "supervisor").content)[0]
    assert point[1:40] in first.content  # the reflection names what the critique corrected
    assert len([m for m in messages if m.tool_call]) == len(F.accepted_calls(record))


def test_a_critique_point_drops_the_list_of_valid_names_it_ends_with() -> None:
    critique = "\n".join([
        "- [error] search_products would fail: unknown spec 'cushion'; valid specs for category running_shoes: "
        "weight, heel_drop, surface",
        "- [error] invalid arguments for view_product: product_id: Field required; extra: not permitted. "
        "Its arguments: product_id",
        "- [error] unknown tool 'buy'; valid tools: search_products, view_product",
        "- [error] call 4 was exactly this search_products call; its result is already in the transcript: use it, "
        "or change the page, filters or ids",
        "- [warning] this search matches no product",
    ])
    assert critique_points(critique) == [
        "search_products would fail: unknown spec 'cushion'",
        "invalid arguments for view_product: product_id: Field required; extra: not permitted",
        "unknown tool 'buy'",
        "repeating call 4 (search_products) adds nothing; its result is already in the transcript: use it, "
        "or change the page, filters or ids",  # true before the revised call too, which is another call
    ]


def test_critique_points_rewrite_the_supervisors_real_messages(world_dir: Path) -> None:
    """The same rewrites on findings the call checker writes, so a reworded check message fails here."""
    env = ProductResearchEnv(catalog=world_dir)
    task = sorted(t for t, info in env.tasks.items() if info.split == "train")[0]
    transcript, _ = Transcript.reset(env, seed=0, options={"task_id": task})
    need = View(transcript).need
    fitting = {"query": "x", "category": need.category,
               **({"max_price": need.budget_cents / 100} if need.budget_cents is not None else {})}
    search = {"tool": "search_products", "arguments": fitting}
    transcript.step(env, search)
    calls = [{"tool": "buy", "arguments": {}}, {"tool": "view_product", "arguments": {"id": "X"}},
             {"tool": "search_products", "arguments": {**fitting, "specs": {"cushion": True}}},
             {"tool": "search_products", "arguments": {**fitting, "category": "toasters"}}, search]
    findings = [[f for f in check_tool_call(call, transcript) if f.severity == "error"] for call in calls]
    assert [[f.check for f in found] for found in findings] == [
        ["unknown_tool"], ["invalid_arguments"], ["call_would_fail"], ["wrong_category", "invalid_arguments"],
        ["duplicate_call"]]
    points = critique_points(feedback(f for found in findings for f in found))
    assert points[0] == "unknown tool 'buy'" and points[2].endswith("unknown spec 'cushion'")
    assert points[4] == "unknown category 'toasters'"
    assert points[5].startswith("repeating call 1 (search_products) adds nothing; its result is already in the")
    assert not any(re.search(r"\bvalid\b[^:;]*:|Its arguments", point) for point in points), points


def test_a_reflection_lowers_a_capitalised_word_but_never_an_id() -> None:
    reflection = template_reflection(["PVDEY-12 is recommended twice", "The plan never reads reviews"], 0)
    assert "this: PVDEY-12 is recommended twice." in reflection and "this: the plan never reads reviews." in reflection


def test_a_reflection_keeps_the_points_that_fit_one_line_of_reasoning() -> None:
    short = ["add max_price=40", "use category 'tents'", "view PVDEY-12 first", "read its reviews"]
    assert fitting_points(short, 0) == short[:3]  # three at most
    long = ["x" * 250, "y" * 250, "z" * 250]
    kept = fitting_points(long, 0)
    assert kept == long[:2] and len(template_reflection(kept, 0)) <= fmt.DEFAULT_BUDGET.thought_chars
    assert fitting_points(["w" * 900], 0) == ["w" * 900]  # one point always stays (the filter judges the turn)


def test_training_text_equals_the_prompt_format_rendering(records, tmp_path: Path) -> None:
    messages = internalize(records[1])
    assert fmt.render(from_trl(to_trl(messages)), CHATML) == fmt.render(messages, CHATML)
    distill(records, F.default_filters(0.0), tmp_path)  # through the file a trainer reads
    by_key = {(r.task_id, r.seed): r for r in records}
    rows = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert rows
    for row in rows:
        record = by_key[(row["meta"]["task_id"], row["meta"]["seed"])]
        assert fmt.render(from_trl(row["messages"]), CHATML) == fmt.render(internalize(record), CHATML)


def test_distilled_rows_follow_the_trl_tool_calling_format(records, tmp_path: Path) -> None:
    distill(records, F.default_filters(0.0), tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert rows
    for row in rows:
        assert row["tools"] and all(t["type"] == "function" and {"name", "description", "parameters"} <= set(t["function"])
                                    for t in row["tools"])
        assert row["meta"]["call_rendering"] == fmt.CALL_RENDERING
        roles = [m["role"] for m in row["messages"]]
        assert not any(a == b == "user" for a, b in zip(roles, roles[1:]))
        calls = {}
        for m in row["messages"]:
            for call in m.get("tool_calls", []):
                assert call["type"] == "function" and call["id"] not in calls
                calls[call["id"]] = call["function"]["name"]
            if m["role"] == "tool":
                assert calls[m["tool_call_id"]] == m["name"]
        assert sum(m["role"] == "tool" for m in row["messages"]) == len(calls) - 1  # the report gets no tool turn


def test_every_prompt_the_researcher_gets_is_a_prefix_of_its_training_text(world_dir: Path) -> None:
    """No prompt-format drift: what a single-agent policy is asked (plan request included) is what it trains on,
    under ChatML and under a template that refuses two user or assistant turns in a row (Gemma's)."""
    env = ProductResearchEnv(catalog=world_dir)
    task = sorted(t for t, info in env.tasks.items() if info.split == "train")[0]
    good_call = json.dumps({"tool": "search_web", "arguments": {"query": "guide"}})
    for chat in (CHATML, GEMMA):
        backend = ScriptedBackend({"researcher": _researcher_script("1. Search the web.", good_call, BAD_REPORT)},
                                  chat=chat)
        record = run_episode(env, backend, task, seed=0, mode="single")
        _assert_prompts_prefix(fmt.render(internalize(record), chat), backend)


def test_every_report_a_student_trains_on_or_writes_answers_the_report_request(records, world_dir: Path) -> None:
    """The supervised teacher (grammar on) is never asked for its report, yet each distilled report answers the
    report request once; a single-agent researcher is asked with it even when it chose to report itself."""
    teacher = records[0]
    assert REPORT_PROMPT not in "".join(m.content for m in teacher.messages)
    messages = internalize(teacher)
    assert messages[-1].tool_call.tool == "submit_report" and messages[-2] == fmt.report_request()
    assert sum(m.content == REPORT_PROMPT for m in messages) == 1
    env = ProductResearchEnv(catalog=world_dir)
    task = sorted(t for t, info in env.tasks.items() if info.split == "train")[0]
    good_call = json.dumps({"tool": "search_web", "arguments": {"query": "guide"}})
    backend = ScriptedBackend({"researcher": ["1. Search the web.", good_call, BAD_REPORT, BAD_REPORT]})
    record = run_episode(env, backend, task, seed=0, mode="single")  # its second call is a report: it chose to stop
    prompts = [prompt for role, prompt in backend.prompts if role == "researcher"]
    last_user_turn = prompts[3].rsplit("<|im_start|>", 2)[1]
    assert len(prompts) == 4 and REPORT_PROMPT not in prompts[2] and REPORT_PROMPT in last_user_turn
    single = internalize(record)
    assert sum(m.content == REPORT_PROMPT for m in single) == 1 and single[-2] == fmt.report_request()
    text = fmt.render(single, CHATML)
    assert all(text.startswith(prompts[i]) for i in (0, 1, 3))  # not the turn it stopped at: training has no such turn


def _assert_prompts_prefix(text: str, backend: ScriptedBackend) -> None:
    prompts = [prompt for role, prompt in backend.prompts if role == "researcher"]
    assert len(prompts) >= 3 and PLAN_PROMPT in prompts[0]
    for prompt in prompts:
        assert text.startswith(prompt), prompt[-300:]


def test_every_distilled_call_is_text_the_student_s_call_checker_accepts(records, tmp_path: Path) -> None:
    """Key order included: the checker wants required arguments first, so sorted JSON keys would be drift; a
    reflection must be one line the checker lets open the turn."""
    distill(records, F.default_filters(0.0), tmp_path)
    calls = 0
    for line in (tmp_path / "train.jsonl").read_text().splitlines():
        row = json.loads(line)
        messages = from_trl(row["messages"])
        category = re.search(r"\(([a-z0-9_]+)\)", messages[1].content)
        for message in messages:
            if message.tool_call is not None:
                checker = call_checker([t["function"] for t in row["tools"]], values={"category": [category.group(1)]} if category else None,
                                       thought_chars=fmt.DEFAULT_BUDGET.thought_chars)
                text = fmt.turn_text(message)  # the whole turn, the reflection that opens it included
                assert checker.feed_text(text) and checker.complete, text
                calls += 1
    assert calls > 10


def test_an_internalized_example_replays_to_the_same_reward(records, world_dir: Path) -> None:
    env = ProductResearchEnv(catalog=world_dir)
    for record in records[:3]:
        messages = internalize(record)
        env.reset(seed=record.seed, options={"task_id": record.task_id, "request": record.request})
        reward = None
        for message in messages:
            if message.tool_call is not None:
                _, reward, terminated, _, info = env.step(message.tool_call.model_dump())
        assert terminated and reward == record.reward


def test_filters_pipeline_report_and_dataset(records, tmp_path: Path) -> None:
    report = distill(records, F.default_filters(0.3), tmp_path / "data")
    assert report.total == len(records) and report.kept + sum(report.dropped.values()) == report.total
    assert report.dropped["duplicate"] == 1
    expected = [r for r in records[:-2] if r.reward >= 0.3 and len(F.accepted_calls(r)) > 3]
    assert report.kept == len(expected)  # the single-agent run is dropped, whichever filter refuses it first
    assert not F.supervisor_accepted().keep(records[-2]) and F.supervisor_accepted().keep(records[0])
    assert (tmp_path / "data" / "rewards.png").stat().st_size > 1000 and "| duplicate | 1 |" in (
        tmp_path / "data" / "README.md").read_text()
    from datasets import load_dataset

    train = load_dataset("json", data_files=str(tmp_path / "data" / "train.jsonl"), split="train")
    assert len(train) == report.examples["train"] and set(train.column_names) == {"messages", "tools", "meta"}
    for line in (tmp_path / "data" / "train.jsonl").read_text().splitlines():
        example = json.loads(line)
        assert example["meta"]["split"] == "train" and example["tools"]
        assert all(m["role"] in ("system", "user", "assistant", "tool") for m in example["messages"])


def test_best_per_task_keeps_the_highest_reward_attempt_of_each_task(records, tmp_path: Path) -> None:
    """Expert iteration's selection: of k passing attempts at a task, only the best one becomes an example."""
    attempts = []
    for k, reward in enumerate([0.4, 0.9, 0.9, 0.1]):  # four attempts at the first task; two tie for best
        attempt = records[0].model_copy(deep=True)
        attempt.reward, attempt.seed = reward, 100 + k
        attempts.append(attempt)
    others = [r for r in records[1:5] if r.task_id != records[0].task_id]
    pool = [*attempts, *others]
    kept, report = F.apply(pool, [F.min_reward(0.3)], best_per_task=True)
    assert [r.seed for r in kept if r.task_id == records[0].task_id] == [101]  # the best, the earlier of a tie
    assert {r.task_id for r in kept} == {r.task_id for r in pool if r.reward >= 0.3}
    assert report.dropped["min_reward"] == 1 + sum(r.reward < 0.3 for r in others)
    assert report.dropped[F.BEST_PER_TASK] == 2 and report.kept == len(kept)
    assert F.apply(pool, [F.min_reward(0.3)])[1].kept == len(kept) + 2  # without it every passing attempt stays
    written = distill(pool, [F.min_reward(0.3)], tmp_path / "data", best_per_task=True)
    assert written.kept == len(kept) and "| best_per_task | 2 |" in (tmp_path / "data" / "README.md").read_text()


def test_distill_drops_a_report_without_substance(records) -> None:
    keep = F.substantive_report().keep
    final = next(m for m in reversed(records[0].messages) if m.tool_call is not None)
    report = final.tool_call.arguments["report"]
    assert report["recommendations"] and keep(records[0])
    for broken in (dict(report, recommendations=report["recommendations"] * 2), dict(report, claims=[]),
                   dict(report, summary="")):
        record = records[0].model_copy(deep=True)
        next(m for m in reversed(record.messages) if m.tool_call is not None).tool_call.arguments["report"] = broken
        assert not keep(record)
    nothing = records[0].model_copy(deep=True)
    next(m for m in reversed(nothing.messages) if m.tool_call is not None).tool_call.arguments["report"] = {
        "nothing_fits": True, "summary": "No listed kettle holds 2 litres under $40."}
    assert keep(nothing)  # a "nothing fits" report needs no claims


def test_runs_mostly_written_by_rules_can_be_dropped(records, tmp_path: Path) -> None:
    shares = [F.rule_share(r) for r in records]
    assert all(share is not None and 0 < share < 1 for share in shares)
    limit = min(shares)  # the single-agent run: rules wrote only its request
    kept = [r for r in records if F.max_rule_share(limit).keep(r)]
    assert kept and len(kept) < len(records) and all(F.rule_share(r) <= limit for r in kept)
    unknown = records[0].model_copy(deep=True)
    del unknown.extra["authorship"]
    assert F.rule_share(unknown) is None and not F.max_rule_share(1.0).keep(unknown)
    report = distill(records, [F.max_rule_share(1.0)], tmp_path)
    assert report.rule_share == pytest.approx(sum(shares) / len(shares), abs=1e-3)


def test_a_test_split_shopper_never_reaches_training_data(records, tmp_path: Path) -> None:
    leaked = records[0].model_copy(deep=True)
    test_record = next(r for r in records if r.extra["split"] == "test")
    leaked.extra["shopper_id"] = test_record.extra["shopper_id"]
    leaked.extra["split"] = "train"
    with pytest.raises(ValueError, match="both train and test"):
        distill([test_record, leaked], [], tmp_path / "bad")


def test_an_llm_rewrite_is_used_only_when_it_passes_the_same_check(records) -> None:
    record = records[0]
    polished = internalize(record, rewrite=lambda points, template: "I double-check first. " + points)
    assert next(m for m in polished if m.role == "assistant").content.startswith("I double-check")
    vague = internalize(record, rewrite=lambda points, template: "I double-check first.")
    pairs = list(zip(vague, internalize(record)))
    for v, t in pairs:  # a rewrite that drops an id or amount the critique named is refused
        if v.content.startswith("I double-check first."):
            assert not any(ch.isdigit() for ch in t.content.split("\n", 1)[0])
    assert any(v == t and "$" in t.content.split("\n", 1)[0] for v, t in pairs)
    leaky = internalize(record, rewrite=lambda points, template: "The supervisor told me to fix this.")
    assert leaky == internalize(record) and leaks(leaky, record) == []


def test_a_turn_longer_than_the_student_s_decoding_cap_is_dropped(records) -> None:
    words = lambda text: len(text.split())  # noqa: E731
    record = records[0]
    turns = internalize(record)
    longest = {kind: max(words(fmt.turn_text(m)) for m in turns if m.role == "assistant" and test(m))
               for kind, test in {"plan": lambda m: m.tool_call is None,
                                  "report": lambda m: m.tool_call is not None and m.tool_call.tool == "submit_report",
                                  "call": lambda m: m.tool_call is not None and m.tool_call.tool != "submit_report"
                                  }.items()}
    roomy = fmt.Budget(plan_tokens=longest["plan"], call_tokens=longest["call"], report_tokens=longest["report"])
    assert F.within_decoding_caps(words, internalize, roomy).keep(record)
    for kind in longest:
        tight = roomy.model_copy(update={f"{kind}_tokens": longest[kind] - 1})
        assert not F.within_decoding_caps(words, internalize, tight).keep(record), kind
    longest_reflection = max(len(m.content) for m in turns if m.tool_call is not None)
    assert longest_reflection > 0  # the scripted drafts were rejected: call turns open with a reflection
    assert not F.within_decoding_caps(words, internalize, roomy.model_copy(
        update={"thought_chars": longest_reflection - 1})).keep(record)

def test_a_reflection_keeps_only_points_the_next_turn_acts_on_and_the_student_has_seen(records) -> None:
    record = records[0].model_copy(deep=True)
    index, call = next((i, m) for i, m in enumerate(record.messages)
                       if m.role == "assistant" and m.tool_call is not None and m.tool_call.tool == "search_products"
                       and not m.meta.get("draft"))
    arguments = call.tool_call.arguments
    carried = next(f"{k}={v}" for k, v in arguments.items() if isinstance(v, (str, int, float)))
    review = Message(role="user", agent="supervisor", content="\n".join([
        f"- [error] search with {carried}",  # the call that follows carries it
        "- [error] search with min_rating=4.7",  # it does not
        "- [error] PQQQQ-99123 is cheaper",  # an id the student never saw
    ]))
    record.messages.insert(index, review)
    turn = next(m for m in internalize(record) if m.tool_call == call.tool_call)
    reflection = turn.content
    assert carried.split("=")[1] in reflection
    assert "min_rating=4.7" not in reflection and "PQQQQ-99123" not in reflection
