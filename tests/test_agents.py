"""Each role and every transition of the supervisor's state machine, on a scripted backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopgym.agents.backends import ScriptedBackend
from shopgym.agents.researcher import PLAN_PROMPT, ResearchAgent, plan_request
from shopgym.agents.supervisor import CAPS, State, Supervisor
from shopgym.agents.synthesis import run_episode
from shopgym.agents.trajectory_html import trajectories_html
from shopgym.agents.user_agent import UserAgent, intent_accuracy
from shopgym.envs import ProductResearchEnv

BAD_CALL = json.dumps({"tool": "view_product", "arguments": {"product_id": "P-invented"}})
BAD_REPORT = json.dumps({"tool": "submit_report", "arguments": {"report": {"recommendations": [
    {"product_id": "P-invented", "rationale": "trust me"}]}}})


def _researcher_script(plan: str, call: str, report: str):
    def reply(prompt: str) -> str:
        if PLAN_PROMPT in prompt and prompt.split(PLAN_PROMPT, 1)[1].count("<|im_start|>assistant") == 1:
            return plan  # nothing accepted since the plan request
        if prompt.rstrip().endswith("assistant") and "Reviewer:" in prompt.rsplit("<|im_start|>user", 1)[-1]:
            return report if "report" in prompt.rsplit("Reviewer:", 1)[-1].lower() else call
        return call
    return reply


@pytest.fixture()
def envs(world_dir: Path):
    env = ProductResearchEnv(catalog=world_dir)
    truth = ProductResearchEnv(catalog=world_dir, evaluation=True)
    yield env, truth
    env.close()
    truth.close()


def _train_task(env: ProductResearchEnv, difficulty: str = "easy") -> str:
    return sorted(t for t, info in env.tasks.items() if info.split == "train" and info.difficulty == difficulty)[0]


def test_user_agent_reads_history_not_the_need(envs) -> None:
    env, truth = envs
    backend = ScriptedBackend({"user": ["A careful runner who buys mid-range gear."]})
    task = env.tasks[_train_task(env)]
    category = {c.id: c for c in env.reader.categories()}[task.category]
    brief = UserAgent(backend).brief(env.reader.shopper_history(task.shopper_id), category)
    assert brief.persona == "A careful runner who buys mid-range gear."
    assert f"({task.category})" in brief.request and brief.rubric[-1].startswith("cites")
    assert "Describe this shopper" in backend.prompts[0][1] and "prefs" not in backend.prompts[0][1]
    truth.reset(options={"task_id": task.id})
    accuracy = intent_accuracy(brief.intent, truth.unwrapped.task_truth.need)
    assert 0.0 <= accuracy <= 1.0


def test_research_agent_plans_and_acts(envs) -> None:
    env, _ = envs
    env.reset(seed=0, options={"split": "train"})
    backend = ScriptedBackend({"researcher": ["1. Search.", '{"tool": "search_web", "arguments": {"query": "guide"}}']})
    agent = ResearchAgent(backend, env.tool_schemas())
    assert agent.plan([plan_request()], seed=0) == "1. Search."
    turn = agent.act([], retrieved=[], seed=0)
    assert turn.content == "" and turn.tool_call.tool == "search_web" and turn.tool_call.arguments == {"query": "guide"}
    reasoning = ResearchAgent(ScriptedBackend({"researcher": ['I start broad.\n{"tool": "search_web", "arguments": '
                                                              '{"query": "guide"}}']}), env.tool_schemas(),
                              grammar=False, thoughts=True)
    turn = reasoning.act([], retrieved=[], seed=0)  # held to the checker (grammar off), which lets reasoning open it
    assert turn.content == "I start broad." and turn.tool_call.tool == "search_web"
    assert agent.tokens["sampled"] > 0


def test_free_decoding_records_each_refused_turn_with_its_cause(envs) -> None:
    env, _ = envs
    task = _train_task(env)
    category = env.tasks[task].category
    bad_spec = json.dumps({"tool": "search_products", "arguments": {"category": category, "spec_min": {"warp": 9}}})
    backend = ScriptedBackend({"researcher": ["1. Search.", f"I filter on warp speed.\n{bad_spec}", "x" * 700]})
    record = run_episode(env, backend, task, seed=3, mode="single", grammar=False, thoughts=True,
                         user_request=False)
    refused = record.extra["rejected_calls"]
    assert [(r["call"], r["report"], r["cause"]) for r in refused] == [(1, False, "arguments"),
                                                                        (2, True, "thought_too_long")]
    text, at = refused[0]["text"], refused[0]["at"]
    assert text.endswith(bad_spec) and text.index('{"warp"') < at <= text.index('": 9')  # in the unknown spec name
    assert refused[0]["excerpt"] == text[at - 80:at + 1]
    assert record.extra["call_validity"] == {"valid": 0, "total": 2} and record.reward == 0.0
    page = trajectories_html([record])
    assert "refused call (call 1): arguments" in page and f"<mark>{text[at]}</mark>" in page


def test_supervisor_state_machine_transitions(envs) -> None:
    env, _ = envs
    env.reset(seed=0, options={"task_id": _train_task(env)})
    request = env.episode.request
    supervisor = Supervisor(env, request)
    assert supervisor.state == State.CHECK_PLAN
    with pytest.raises(RuntimeError, match="check_plan, not check_toolcall"):
        supervisor.review_call(None, 1)
    assert supervisor.review_plan("", 1).verdict == "revise"
    assert supervisor.review_plan(supervisor.correct_plan(), 2).verdict == "accept"
    supervisor.advance()
    assert supervisor.state == State.CHECK_TOOLCALL
    assert supervisor.review_call(json.loads(BAD_CALL), 1).verdict == "revise"
    first = supervisor.correct_call()
    assert first.tool == "search_products" and supervisor.review_call(first, 2).verdict == "accept"
    supervisor.advance()
    assert supervisor.state == State.CHECK_REPORT
    review = supervisor.review_report(json.loads(BAD_REPORT)["arguments"]["report"], 1)
    assert review.verdict == "revise" and "P-invented" in review.critique
    supervisor.advance()
    assert supervisor.state == State.DONE


def test_supervised_episode_adopts_corrections_when_caps_hit(envs) -> None:
    env, truth = envs
    backend = ScriptedBackend({"researcher": _researcher_script("I will wing it.", BAD_CALL, BAD_REPORT)})
    record = run_episode(env, backend, _train_task(env), seed=3, mode="supervised", truth_env=truth)
    flags = record.extra["adopted_corrections"]
    assert flags[0] == "plan" and "toolcall" in flags and flags[-1] == "report"
    assert {m.agent for m in record.messages} == {"env", "user", "researcher", "supervisor"}
    reviews = [m for m in record.messages if m.agent == "supervisor"]
    assert [m.meta["round"] for m in reviews if m.meta["state"] == "check_plan"] == list(range(1, CAPS["plan"] + 1))
    assert [m.meta["round"] for m in reviews if m.meta["state"] == "check_report"] == list(range(1, CAPS["report"] + 1))
    rewards = record.extra["draft_rewards"]
    assert rewards[0] == 0.0 and record.reward > 0.3
    # the final draft is graded one step before the submit, which costs one step of efficiency
    assert rewards[-1] - record.reward == pytest.approx(0.05 / env.max_steps, abs=1e-6)
    assert record.termination == "submitted" and record.extra["intent_accuracy"] is not None
    corrections = [m for m in record.messages if m.meta.get("adopted_correction") and m.role == "assistant"]
    assert corrections[0].meta.get("kind") == "plan" and corrections[-1].tool_call.tool == "submit_report"
    drafts = sum(m.role == "assistant" and not m.meta.get("adopted_correction") for m in record.messages)
    assert record.extra["authorship"] == {"model_turns": drafts,
                                          "rule_turns": len(reviews) + len(corrections) + 1}  # + the request


def test_good_work_is_accepted_in_the_first_round(envs) -> None:
    env, _ = envs
    task = _train_task(env)
    env.reset(seed=0, options={"task_id": task})
    plan = Supervisor(env, env.episode.request).correct_plan()
    backend = ScriptedBackend({"researcher": _researcher_script(plan, BAD_CALL, BAD_REPORT)})
    record = run_episode(env, backend, task, seed=3, mode="supervised")
    assert "plan" not in record.extra["adopted_corrections"]
    assert not [m for m in record.messages if m.agent == "supervisor" and m.meta["state"] == "check_plan"]


def test_single_agent_mode_has_no_reviewer(envs) -> None:
    env, _ = envs
    backend = ScriptedBackend({"researcher": _researcher_script("Plan.", BAD_CALL, BAD_REPORT)})
    record = run_episode(env, backend, _train_task(env), seed=3, mode="single")
    assert "supervisor" not in {m.agent for m in record.messages}
    assert record.extra["draft_rewards"] == [] and record.reward < 0.2
    written = sum(m.role == "assistant" for m in record.messages)
    assert record.extra["authorship"] == {"model_turns": written, "rule_turns": 1}  # rules wrote only the request


def test_a_trajectory_renders_as_an_html_page(envs, tmp_path: Path) -> None:
    from shopgym.agents.trajectory_html import trajectories_html

    env, _ = envs
    backend = ScriptedBackend({"researcher": _researcher_script("<plan>", BAD_CALL, BAD_REPORT)})
    record = run_episode(env, backend, _train_task(env), seed=3, mode="supervised")
    page = trajectories_html([record])
    assert record.task_id in page and "rejected draft" in page and "check_report round 3" in page
    assert "&lt;plan&gt;" in page and "<plan>" not in page  # text is escaped
