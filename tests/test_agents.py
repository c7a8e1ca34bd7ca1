"""Each role and every transition of the supervisor's state machine, on a scripted backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopgym.agents.backends import ScriptedBackend
from shopgym.agents.researcher import ResearchAgent
from shopgym.agents.supervisor import CAPS, State, Supervisor
from shopgym.agents.synthesis import run_episode
from shopgym.agents.trajectory_html import trajectories_html
from shopgym.agents.transcript import Transcript
from shopgym.agents.user_agent import UserAgent, intent_accuracy
from shopgym.agents.user_brief import BRIEF_TOOL, history_products, named_brands, shopper_words, stated_amounts
from shopgym.envs import ProductResearchEnv
from shopgym.format import EXECUTE_PROMPT, PLAN_PROMPT, plan_request

BAD_CALL = json.dumps({"tool": "view_product", "arguments": {"product_id": "P-invented"}})
BAD_REPORT = json.dumps({"tool": "submit_report", "arguments": {"report": {"recommendations": [
    {"product_id": "P-invented", "rationale": "trust me"}]}}})


def _researcher_script(plan: str, call: str, report: str):
    def reply(prompt: str) -> str:
        if PLAN_PROMPT in prompt and EXECUTE_PROMPT not in prompt:
            return plan  # the plan (or its revision) is asked for until it is accepted
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


def _task_with_a_deal_breaker(env: ProductResearchEnv, truth: ProductResearchEnv) -> str:
    """The first train task whose hidden need has a deal-breaker (the truth env stays reset on it)."""
    for task in sorted(t for t, info in env.tasks.items() if info.split == "train"):
        truth.reset(options={"task_id": task})
        if truth.unwrapped.task_truth.need.deal_breakers:
            return task
    raise AssertionError("the test world has no task with a deal-breaker")


def _brief_call(**arguments) -> str:
    return json.dumps({"tool": BRIEF_TOOL, "arguments": arguments})


def test_user_agent_writes_its_brief_with_the_model_from_the_history_not_the_need(envs) -> None:
    env, truth = envs
    task = env.tasks[_task_with_a_deal_breaker(env, truth)]
    category = {c.id: c for c in env.reader.categories()}[task.category]
    history = env.reader.shopper_history(task.shopper_id)
    products = history_products(env.reader, history, task.category)
    need = truth.unwrapped.task_truth.need
    refused = need.deal_breakers[0].value
    events = [e for e in history if e.category == task.category]
    assert refused in named_brands(shopper_words(events), products)  # the model may choose it: the shopper names it
    budget = stated_amounts(events)[0]  # a dollar amount the shopper wrote
    own_words = " ".join(next(e.query or e.text for e in events if e.query or e.text).split()[:3])
    written = _brief_call(budget=budget, must_haves=[own_words, "a long warranty"], deal_breakers=[refused],
                          priorities=[category.aspects[0]["name"]])
    backend = ScriptedBackend({"user": [written, "A careful runner who buys mid-range gear."]})
    brief = UserAgent(backend).brief(history, category, products=products)
    assert brief.persona == "A careful runner who buys mid-range gear." and brief.intent.source == "llm"
    assert brief.intent.budget_cents == round(float(budget[1:]) * 100) and brief.intent.deal_breakers == [refused]
    assert brief.intent.must_haves == [own_words]  # a must-have the history does not contain was made up: dropped
    assert f"({task.category})" in brief.request and f"My budget is {budget}" in brief.request
    assert f"Deal-breakers: not from {refused}." in brief.request and f"It must have {own_words}." in brief.request
    assert f"no pick is from {refused}" in brief.rubric and brief.rubric[-1].startswith("cites")
    brief_prompt = backend.prompts[0][1]
    assert all(f"{pid} ({listed.brand})" in brief_prompt for pid, listed in products.items())  # brands shown
    assert "prefs" not in brief_prompt and "Describe this shopper" in backend.prompts[1][1]
    hit = UserAgent(ScriptedBackend({"user": [_brief_call(budget="none", must_haves=[], priorities=[], deal_breakers=[
        c.value for c in need.deal_breakers]), "persona"]})).brief(history, category, products=products)
    missed = UserAgent().brief(history, category)
    assert missed.intent.source == "rules" and missed.intent.deal_breakers == []
    assert intent_accuracy(hit.intent, need.model_dump()) > intent_accuracy(  # a named deal-breaker counts
        hit.intent.model_copy(update={"deal_breakers": []}), need.model_dump())  # (rules find none)


def test_user_agent_falls_back_to_rules_when_the_model_writes_no_brief(envs) -> None:
    env, _ = envs
    task = env.tasks[_train_task(env)]
    category = {c.id: c for c in env.reader.categories()}[task.category]
    history = env.reader.shopper_history(task.shopper_id)
    cut = _brief_call(budget="none")  # a brief the token cap cut short: not every part written
    unoffered = _brief_call(budget="$1000000", must_haves=[], deal_breakers=[], priorities=[])  # not in the history
    for reply in ("no JSON at all", cut, unoffered):
        brief = UserAgent(ScriptedBackend({"user": [reply, "persona"]})).brief(history, category)
        rules = UserAgent().brief(history, category)
        assert brief.intent.source == "rules-fallback"
        assert brief.intent.model_dump(exclude={"source"}) == rules.intent.model_dump(exclude={"source"})
        assert brief.request == rules.request


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
    transcript, _ = Transcript.reset(env, seed=0, options={"task_id": _train_task(env)})
    supervisor = Supervisor(transcript)
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


def test_rule_corrections_view_the_products_they_recommend(envs) -> None:
    """Products whose reviews were read but whose page was never viewed are viewed before a correction picks them."""
    from shopgym.agents.checks import check_report

    env, _ = envs
    transcript, _ = Transcript.reset(env, seed=0, options={"task_id": _train_task(env)})
    supervisor = Supervisor(transcript)
    while (call := supervisor.correct_call()).tool != "search_products":  # ask_user first where the request asks
        transcript.step(env, call.model_dump())
    transcript.step(env, call.model_dump())
    fitting = supervisor.fitting(supervisor.stated(), sorted(transcript.retrieved))[:3]
    assert fitting
    for pid in fitting:  # inspected through reviews only: the specs were never shown
        transcript.step(env, {"tool": "read_reviews", "arguments": {"product_id": pid}})
    assert supervisor.correct_report().get("nothing_fits") is True  # nothing viewed yet, so nothing to recommend
    viewed = []
    while (call := supervisor.correct_call()) is not None and call.tool == "view_product":
        viewed.append(call.arguments["product_id"])
        transcript.step(env, call.model_dump())
    assert viewed[:len(fitting)] == fitting
    report = supervisor.correct_report()
    assert report["recommendations"] and {r["product_id"] for r in report["recommendations"]} <= set(viewed)
    findings = check_report(report, transcript)
    assert "unverified_pick" not in {f.check for f in findings}


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
    seen = [p[:p.rfind("Reviewer:")] for role, p in backend.prompts if role == "researcher" and "Reviewer:" in p]
    for draft in ("I will wing it.", BAD_CALL, '"recommendations": [{"product_id": "P-invented"'):
        assert any(draft in before for before in seen), draft  # each revision sees the draft its critique is about


def test_good_work_is_accepted_in_the_first_round(envs) -> None:
    env, _ = envs
    task = _train_task(env)
    plan = Supervisor(Transcript.reset(env, seed=0, options={"task_id": task})[0]).correct_plan()
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
    opening = record.messages[1].content  # the request, then the env's spec filters for its category
    category = {t.id: t.category for t in env.catalog.tasks()}[record.task_id]
    assert opening.splitlines()[-1].startswith(f"Specs of {category} ")
    assert all(f"{name} (" in opening for name in env.catalog.spec_names(category))


def test_a_trajectory_renders_as_an_html_page(envs, tmp_path: Path) -> None:
    from shopgym.agents.trajectory_html import trajectories_html

    env, _ = envs
    backend = ScriptedBackend({"researcher": _researcher_script("<plan>", BAD_CALL, BAD_REPORT)})
    record = run_episode(env, backend, _train_task(env), seed=3, mode="supervised")
    page = trajectories_html([record])
    assert record.task_id in page and "rejected draft" in page and "check_report round 3" in page
    assert "&lt;plan&gt;" in page and "<plan>" not in page  # text is escaped
