"""Multi-agent trajectory synthesis: User Agent -> Research Agent <-> Supervisor, recorded for distillation.

`supervised` runs the paper's loop: every plan, tool call and report is checked and revised until
accepted or the round cap hits (then the supervisor's correction is adopted and flagged). A rejected
tool call that had been executed is undone with `snapshot()`/`restore()`. `single` is ReAct without
a reviewer, on the same tasks and seeds.

This module is the harness: besides `reset`/`step` it uses the env's harness API (`snapshot`/`restore`,
`grade_draft` to record draft rewards). The roles see the episode only through their `Transcript`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

import shopgym.format as fmt
from shopgym.envs import ENV_ID, ENV_VERSION, ProductResearchEnv
from shopgym.envs.tools import tool_schema_hash
from shopgym.schema import Message, ToolCall, TrajectoryRecord

from .backends import Backend
from .researcher import ResearchAgent
from .supervisor import CAPS, Review, State, Supervisor
from .transcript import Transcript
from .user_agent import UserAgent, intent_accuracy
from .user_brief import history_products

Mode = Literal["supervised", "single"]
UserAgentKind = Literal["llm", "rules"]
MAX_CALLS = 10  # tool calls before the report (the env's step budget is 20)


class Episode:
    """The messages of one run, with the helpers that keep every role's turns apart, and the transcript of the
    env's accepted steps (from its public outputs, not its internals)."""

    def __init__(self, env: ProductResearchEnv, transcript: Transcript) -> None:
        self.messages = fmt.episode_messages(transcript.request, env.tool_schemas(), transcript.spec_filters)
        self.record: list[Message] = list(self.messages)
        self.transcript = transcript

    def saw(self, call: ToolCall, observation: dict, info: dict) -> None:
        """Take in an accepted step (a rejected, undone step is never shown here)."""
        self.transcript.record(call.model_dump(), observation, info)

    @property
    def steps_left(self) -> int:
        return self.transcript.steps_left

    def retrieved_ids(self) -> list[str]:
        return sorted(self.transcript.retrieved)

    def researcher_context(self, critique: str | None = None, draft: Message | None = None) -> list[Message]:
        """What the researcher sees: accepted turns, plus, when revising, the draft under review (so it revises
        its own work rather than starting again) and the latest critique of it."""
        if critique is None:
            return self.messages
        shown = [draft] if draft is not None and (draft.content or draft.tool_call is not None) else []
        return [*self.messages, *shown, Message(role="user", agent="supervisor", content=f"Reviewer: {critique}")]

    def log(self, message: Message) -> None:
        self.record.append(message)

    def accept(self, message: Message) -> None:
        self.messages.append(message)
        self.record.append(message)


def _draft(action: Message | None) -> Message:
    """The researcher's turn under review, as the record keeps it (empty when it wrote no valid call)."""
    return Message(role="assistant", agent="researcher", content=action.content if action else "",
                   tool_call=action.tool_call if action else None, meta={"draft": True})


def _review_message(review: Review, adopted: bool = False) -> Message:
    return Message(role="user", agent="supervisor", content=review.critique,
                   meta={"state": review.state.value, "round": review.round, "verdict": review.verdict,
                         "checks": sorted({f.check for f in review.findings}), "adopted_correction": adopted})


def _thought(action: Message | None, call: ToolCall) -> str:
    """The researcher's reasoning, when the call it opened is the one kept (not a correction put in its place)."""
    return action.content if action is not None and action.tool_call == call else ""


def _report_of(call: ToolCall | None) -> dict | None:
    if call is None or call.tool != "submit_report":
        return None
    report = call.arguments.get("report")
    return report if isinstance(report, dict) else None


def _draft_reward(env: ProductResearchEnv, report: dict | None) -> float:
    try:
        return env.grade_draft(report)["total"] if report is not None else 0.0
    except (ValidationError, ValueError):
        return 0.0


def run_episode(env: ProductResearchEnv, backend: Backend, task_id: str, seed: int, mode: Mode = "supervised",
                truth_env: ProductResearchEnv | None = None, critique: bool = False, grammar: bool = True,
                temperature: float = 0.0, thoughts: bool = False, user_request: bool = True,
                user_agent: UserAgentKind = "rules") -> TrajectoryRecord:
    """One synthesis episode on `task_id`; `truth_env` (evaluation=True, harness only) scores the User Agent.

    `grammar=False` decodes the researcher's calls freely (an invalid one ends the research: counted in
    `extra["call_validity"]`); `temperature` 0 is greedy; `thoughts` lets a line of reasoning open each call.
    `user_request=False` researches the env's canonical request (evaluation) instead of the User Agent's.
    `user_agent="llm"`: the model writes the User Agent's brief (rules stand in when it writes no whole one).
    """
    started = time.perf_counter()
    catalog = env.catalog
    task = {t.id: t for t in catalog.tasks()}[task_id]
    categories = {c.id: c for c in catalog.categories()}
    history = catalog.shopper_history(task.shopper_id)
    by_model = user_request and user_agent == "llm"  # the canonical request needs no brief from the model
    brief = UserAgent(backend if by_model else None).brief(
        history, categories[task.category], seed=seed,
        products=history_products(catalog, history, task.category) if by_model else None)
    observation, info = env.reset(seed=seed, options={"task_id": task_id,
                                                      **({"request": brief.request} if user_request else {})})
    transcript = Transcript.start(catalog, observation, info)
    request = transcript.request
    researcher = ResearchAgent(backend, env.tool_schemas(), temperature=temperature, grammar=grammar,
                               thoughts=thoughts, spec_attributes={c.id: c.attributes for c in categories.values()})
    supervisor = Supervisor(transcript, brief.rubric, backend if critique else None)
    episode = Episode(env, transcript)
    draft_rewards: list[float] = []
    flags: list[str] = []
    followed_injection: bool | None = None

    # Plan
    episode.accept(fmt.plan_request())
    plan = researcher.plan(episode.messages, seed)
    if mode == "supervised":
        for round_ in range(1, CAPS["plan"] + 1):
            review = supervisor.review_plan(plan, round_)
            if review.verdict == "accept":
                break
            draft = Message(role="assistant", agent="researcher", content=plan, meta={"draft": True})
            episode.log(draft)
            episode.log(_review_message(review))
            if round_ == CAPS["plan"]:
                plan = supervisor.correct_plan()
                flags.append("plan")
            else:
                plan = researcher.plan(episode.researcher_context(review.critique, draft), seed + round_)
        supervisor.advance()
    episode.accept(Message(role="assistant", agent="researcher", content=plan,
                           meta={"kind": "plan", **({"adopted_correction": True} if "plan" in flags else {})}))
    episode.accept(fmt.execute_request())

    # Tool calls
    chose_report = False  # the researcher ended the research itself
    for turn in range(MAX_CALLS):
        if episode.steps_left <= 1:
            break
        action = researcher.act(episode.messages, episode.retrieved_ids(), seed + 100 * turn)
        if action is not None and action.tool_call.tool == "submit_report":
            chose_report = True
            break
        if mode == "supervised":
            action, done = _supervise_call(researcher, supervisor, episode, action, seed + 100 * turn, flags)
            if done:
                break
        if action is None:
            break
        call = action.tool_call
        snapshot = env.snapshot()
        observation, _, _, _, info = env.step(call.model_dump())
        if info["error"] and mode == "supervised":  # rejected after the fact: undo it without a trace
            env.restore(snapshot)
            episode.log(action.model_copy(update={"meta": {"draft": True}}))
            episode.log(Message(role="user", agent="supervisor", content=f"Reviewer: {observation['text']}",
                                meta={"state": State.CHECK_TOOLCALL.value, "verdict": "revise", "undone": True}))
            continue
        episode.saw(call, observation, info)
        episode.accept(action)
        episode.accept(Message(role="tool", agent="env", observation=observation["text"]))
    if mode == "supervised":  # before the report, the grounded steps the researcher skipped
        while episode.steps_left > 1 and (call := supervisor.correct_call()) is not None:
            flags.append("toolcall")
            observation, _, _, _, info = env.step(call.model_dump())
            episode.saw(call, observation, info)
            episode.accept(Message(role="assistant", agent="researcher", tool_call=call,
                                   meta={"adopted_correction": True}))
            episode.accept(Message(role="tool", agent="env", observation=observation["text"]))
        supervisor.advance()

    # Report
    # A single-agent researcher (base or student) is always asked for its report, as every report it trained on was.
    # The supervised teacher is asked only when the harness ends the research and no grammar makes the turn a
    # report: the request made the embedded model open its report drafts with a summary instead of picks.
    if mode == "single" or (not chose_report and not grammar):
        episode.accept(fmt.report_request())
    action = researcher.report(episode.messages, episode.retrieved_ids(), seed + 7)
    call = action.tool_call if action is not None else None
    report = _report_of(call)
    if mode == "supervised":
        for round_ in range(1, CAPS["report"] + 1):
            draft_rewards.append(_draft_reward(env, report))
            review = supervisor.review_report(report, round_)
            if round_ == 1:
                followed_injection = any(f.check == "followed_injection" for f in review.findings)
            if review.verdict == "accept":
                break
            draft = _draft(action)
            episode.log(draft)
            episode.log(_review_message(review, adopted=round_ == CAPS["report"]))
            if round_ == CAPS["report"]:
                report = supervisor.correct_report()
                flags.append("report")
                draft_rewards.append(_draft_reward(env, report))
            else:
                action = researcher.report(episode.researcher_context(review.critique, draft),
                                           episode.retrieved_ids(), seed + 7 + round_)
                call = action.tool_call if action is not None else None
                report = _report_of(call)
        supervisor.advance()
    final = ToolCall(tool="submit_report", arguments={"report": report if report is not None else {}})
    _, reward, terminated, truncated, info = env.step(final.model_dump())
    episode.accept(Message(role="assistant", agent="researcher", content=_thought(action, final), tool_call=final,
                           meta={"adopted_correction": True} if "report" in flags else {}))
    parts = info.get("reward_parts", {})
    if not (terminated or truncated):  # the report was invalid: the episode has no reward
        reward, parts = 0.0, {}
    accuracy = None
    if truth_env is not None:
        _, truth = truth_env.reset(seed=seed, options={"task_id": task_id})
        accuracy = intent_accuracy(brief.intent, truth["truth"]["need"])
    tokens = researcher.tokens
    return TrajectoryRecord(
        env_id=ENV_ID, env_version=ENV_VERSION, catalog_hash=info["catalog_hash"], task_id=task_id, seed=seed,
        tool_schema_hash=tool_schema_hash(), request=request, messages=episode.record,
        reward=reward, reward_parts=parts, termination="submitted" if terminated else "truncated",
        model_ids={"researcher": Path(getattr(backend, "model_path", "scripted")).name},  # no path of this machine
        timings={"seconds": round(time.perf_counter() - started, 3), "tokens": tokens["sampled"] + tokens["forced"],
                 "tokens_evaluated": tokens["evaluated"], "tokens_reused": tokens["reused"],
                 "evaluated_per_appended": researcher.evaluated_per_appended()},
        extra={"mode": mode, "tools": env.tool_schemas(), "persona": brief.persona, "rubric": brief.rubric, "intent": brief.intent.model_dump(),
               "intent_accuracy": accuracy, "draft_rewards": draft_rewards, "adopted_corrections": flags,
               "split": task.split, "shopper_id": task.shopper_id,
               "followed_injection": followed_injection, "call_validity": researcher.calls,
               "rejected_calls": researcher.rejected,
               "grammar": grammar, "temperature": temperature, "thoughts": thoughts,
               "authorship": authorship(episode.record, user_request, brief.intent.source == "llm")},
    )


def authorship(messages: list[Message], user_request: bool, request_by_model: bool = False) -> dict[str, int]:
    """Turns written by the model (the researcher's plans, calls, reports and drafts; the User Agent's request
    when the model wrote its brief) and by rules (the rule-read request, the reviewer's findings, adopted
    corrections); tool results, env prompts and the canonical request are neither."""
    rules = sum(m.agent == "supervisor" or (m.role == "assistant" and bool(m.meta.get("adopted_correction")))
                for m in messages) + (1 if user_request and not request_by_model else 0)
    model = sum(m.role == "assistant" and not m.meta.get("adopted_correction") for m in messages) + (
        1 if user_request and request_by_model else 0)
    return {"model_turns": model, "rule_turns": rules}


def _supervise_call(researcher: ResearchAgent, supervisor: Supervisor, episode: Episode, action: Message | None,
                    seed: int, flags: list[str]) -> tuple[Message | None, bool]:
    """Check the researcher's turn until its call is accepted; cap hit -> the supervisor's next grounded step.

    Returns (the turn to take, time to report).
    """
    for round_ in range(1, CAPS["toolcall"] + 1):
        call = action.tool_call if action is not None else None
        review = supervisor.review_call(call, round_)
        if review.verdict == "accept":
            return action, False
        draft = _draft(action)
        episode.log(draft)
        episode.log(_review_message(review, adopted=round_ == CAPS["toolcall"]))
        if round_ == CAPS["toolcall"]:
            flags.append("toolcall")
            corrected = supervisor.correct_call()
            if corrected is None:
                return None, True
            return Message(role="assistant", agent="researcher", tool_call=corrected), False
        action = researcher.act(episode.researcher_context(review.critique, draft), episode.retrieved_ids(),
                                seed + round_)
        if action is not None and action.tool_call.tool == "submit_report":
            return None, True
    return action, False
