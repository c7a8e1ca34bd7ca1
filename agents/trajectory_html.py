"""Trajectories as one HTML page: every turn by role, drafts and critiques marked, rewards up top."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from shopgym.schema import Message, TrajectoryRecord

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
.ep{border:1px solid #ccc;border-radius:8px;padding:1em;margin:1.5em 0}
.turn{margin:.4em 0;padding:.5em .8em;border-radius:6px;white-space:pre-wrap;font-size:.9em}
.user{background:#eef5ff}.researcher{background:#f3f3f3}.supervisor{background:#fff4e0}.env{background:#f0fff0}
.draft{opacity:.6;border-left:4px solid #c00}.tag{font-weight:600;font-size:.8em;color:#555}
mark{background:#fbb}table{border-collapse:collapse}td{padding:.15em .6em;border-bottom:1px solid #eee;font-size:.85em}
"""


def _turn(message: Message) -> str:
    body = message.content or message.observation or ""
    if message.tool_call is not None:
        body = (body + "\n" if body else "") + json.dumps(message.tool_call.model_dump(), indent=1)
    tags = [message.agent, message.role]
    if message.meta.get("draft"):
        tags.append("rejected draft")
    if message.meta.get("adopted_correction"):
        tags.append("supervisor's correction adopted")
    if "state" in message.meta:
        tags.append(f"{message.meta['state']} round {message.meta.get('round', '')}: {message.meta.get('verdict', '')}")
    css = f"turn {message.agent}" + (" draft" if message.meta.get("draft") else "")
    return f'<div class="{css}"><div class="tag">{html.escape(" · ".join(tags))}</div>{html.escape(body)}</div>'


def _rejected(turn: dict) -> str:
    """A freely decoded turn the checker refused: the text up to the break, the refused character marked."""
    text, at = turn["text"], turn["at"]
    shown = (html.escape(text[:at]) + f'<mark>{html.escape(text[at:at + 1]) or "(end)"}</mark>'
             + html.escape(text[at + 1:]))
    what = "report" if turn["report"] else "call"
    tag = f"researcher · refused {what} (call {turn['call']}): {turn['cause']} at character {at}"
    return f'<div class="turn researcher draft"><div class="tag">{html.escape(tag)}</div>{shown}</div>'


def episode_html(record: TrajectoryRecord) -> str:
    parts = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.3f}</td></tr>" for k, v in record.reward_parts.items())
    drafts = ", ".join(f"{r:.3f}" for r in record.extra.get("draft_rewards", [])) or "none"
    head = (f"<h2>Episode {record.extra.get('episode', '')}: task {html.escape(record.task_id)} "
            f"(seed {record.seed}, {html.escape(str(record.extra.get('mode', '')))})</h2>"
            f"<p>Reward <b>{record.reward:.3f}</b> · draft rewards by round: {drafts} · "
            f"intent accuracy: {record.extra.get('intent_accuracy')}</p><table>{parts}</table>")
    rejected = "".join(_rejected(turn) for turn in record.extra.get("rejected_calls", []))
    return f'<div class="ep">{head}{"".join(_turn(m) for m in record.messages)}{rejected}</div>'


def trajectories_html(records: Sequence[TrajectoryRecord], title: str = "shopgym trajectories") -> str:
    body = "".join(episode_html(r) for r in records)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")
