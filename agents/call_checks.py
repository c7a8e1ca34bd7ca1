"""Check Toolcall: one tool call, checked before the env executes it."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from shopgym.envs.episode import Episode
from shopgym.envs.result import StepResult
from shopgym.envs.tools import TOOL_NAMES, TOOLS, ToolContext
from shopgym.schema import ToolCall

from .episode_view import View
from .findings import MAX_LISTED, Finding
from .request_parsing import Rule, aspects_of
from .text_helpers import as_bool, id_list, money
from .transcript import Transcript


def _canonical(tool: str, arguments: dict) -> str:
    return json.dumps(ToolCall(tool=tool, arguments=arguments).model_dump(), sort_keys=True)


def _normalised(tool: str, arguments: dict) -> str | None:
    """Arguments with defaults filled in, so `{"product_id": X}` equals `{"product_id": X, "section": "all"}`."""
    try:
        parsed = TOOLS[tool].arguments.model_validate(arguments)
    except (ValidationError, KeyError):
        return None
    return json.dumps({"tool": tool, "arguments": parsed.model_dump(mode="json")}, sort_keys=True)


def _as_call(call: Any) -> tuple[str | None, dict | None, str | None]:
    """(tool, arguments, error) from a dict, JSON text or ToolCall."""
    if isinstance(call, ToolCall):
        return call.tool, dict(call.arguments), None
    if isinstance(call, str):
        try:
            call = json.loads(call)
        except json.JSONDecodeError as error:
            return None, None, f"the call is not valid JSON ({error.msg} at position {error.pos})"
    if not isinstance(call, dict) or set(call) - {"tool", "arguments"} or "tool" not in call:
        return None, None, 'a call is one JSON object with the keys "tool" and "arguments"'
    arguments = call.get("arguments", {})
    if not isinstance(call["tool"], str) or not isinstance(arguments, dict):
        return None, None, '"tool" must be a name and "arguments" an object'
    return call["tool"], arguments, None


def check_tool_call(call: dict | str | ToolCall, transcript: Transcript, request: str | None = None) -> list[Finding]:
    """Check one tool call before the env executes it, against what `transcript` shows.

    Its observations supply the shopper's ask_user answers and ids shown outside listings (e.g. in web search
    snippets). `request` replaces the transcript's. A `submit_report` call is checked for its schema only here; run
    `check_report` on its report.
    """
    tool, arguments, problem = _as_call(call)
    if problem:
        return [Finding(check="malformed_call", severity="error", message=problem)]
    if tool not in TOOLS:
        return [Finding(check="unknown_tool", severity="error", subject=tool,
                        message=f"unknown tool {tool!r}; valid tools: {', '.join(TOOL_NAMES)}")]
    try:
        parsed = TOOLS[tool].arguments.model_validate(arguments)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in error.errors()[:4])
        return [Finding(check="invalid_arguments", severity="error", subject=tool,
                        message=f"invalid arguments for {tool}: {problems}. Its arguments: "
                                f"{', '.join(TOOLS[tool].arguments.model_fields)}")]
    view = View(transcript, request)
    found: list[Finding] = []
    if transcript.submitted or transcript.steps_left == 0:
        return [Finding(check="episode_over", severity="error", message="the episode is over; no call can run")]
    if transcript.steps_left == 1 and tool != "submit_report":
        found.append(Finding(check="last_step", severity="error", subject=tool,
                             message="this is the last step: any call but submit_report ends the episode with no "
                                     "report (reward 0); submit the report now"))
    canonical, normal = _canonical(tool, arguments), _normalised(tool, arguments)
    for earlier in view.calls:
        if transcript.calls[earlier.index] == canonical or _normalised(earlier.tool, earlier.arguments) == normal:
            found.append(Finding(check="duplicate_call", severity="error", subject=f"call {earlier.index + 1}",
                                 message=f"call {earlier.index + 1} was exactly this {tool} call; its result is "
                                         "already in the transcript: use it, or change the page, filters or ids"))
            return found
    checker = {"search_products": _check_search, "view_product": _check_view, "read_reviews": _check_reviews,
               "compare_products": _check_compare, "open_page": _check_page, "ask_user": _check_ask}.get(tool)
    if checker is not None:
        found += checker(view, parsed)
    if tool != "ask_user" and tool != "submit_report" and tool != "search_web" \
            and not any(f.severity == "error" for f in found):
        found += _dry_run(view, tool, arguments)
    return found


def _dry_run(view: View, tool: str, arguments: dict) -> list[Finding]:
    """Run the read-only tool on the public catalog, with a scratch log, to see whether it fails or shows nothing
    new."""
    scratch = Episode(task_id="", category=view.need.category or "", request="", max_steps=1)
    result = StepResult()
    try:
        TOOLS[tool].run(ToolContext(view.catalog, scratch, None, None, None, result), arguments)  # type: ignore[arg-type]
    except (LookupError, ValueError) as error:
        message = error.args[0] if error.args else str(error)
        return [Finding(check="call_would_fail", severity="error", subject=tool,
                        message=f"{tool} would fail: {message}")]
    if tool == "search_products" and result.total == 0:
        return [Finding(check="empty_result", severity="error", subject=tool,  # a step spent on nothing
                        message="this search matches no product; drop the least important filter or widen a bound")]
    if tool == "read_reviews":
        shown = set(result.reviews)
        new = shown - view.transcript.reviews
        if not shown:
            return [Finding(check="empty_result", severity="warning", subject=arguments.get("product_id"),
                            message=f"no review of {arguments.get('product_id')} matches these filters; "
                                    "drop the aspect or rating filter")]
        if not new:
            return [Finding(check="redundant_call", severity="warning", subject=arguments.get("product_id"),
                            message=f"this page shows only reviews already read ({id_list(sorted(shown))}); "
                                    "read another page or aspect, or move on")]
    return []


def _check_ids(view: View, ids: Sequence[str], tool: str) -> list[Finding]:
    found = []
    for pid in ids:
        product = view.product(pid)
        if product is None:
            close = sorted(view.retrieved)[:MAX_LISTED]
            found.append(Finding(check="unknown_id", severity="error", subject=pid,
                                 message=f"{pid} is not a product id in this shop; use an id from your search "
                                         f"results" + (f", e.g. {id_list(close)}" if close else "")))
        elif pid not in view.retrieved:
            found.append(Finding(check="unretrieved_id", severity="error", subject=pid,
                                 message=f"{pid} was never shown in this episode; {tool} only ids you retrieved "
                                         f"({id_list(sorted(view.retrieved)) or 'none yet: search first'})"))
        elif view.need.category and product.category != view.need.category:
            found.append(Finding(check="wrong_category", severity="warning", subject=pid,
                                 message=f"{pid} is a {product.category} product; the request is about "
                                         f"{view.need.category}"))
    return found


def _check_search(view: View, a: Any) -> list[Finding]:
    need, found = view.need, []
    earlier = [c.parsed for c in view.calls if c.tool == "search_products"]
    if need.category and a.category and a.category != need.category:
        found.append(Finding(check="wrong_category", severity="error", subject=a.category,
                             message=f"category {a.category!r} is not the requested {need.category!r}; "
                                     f"search with category={need.category!r}"))
    elif need.category and a.category is None:
        before = any(e.category == need.category for e in earlier)
        found.append(Finding(check="search_ignores_category", severity="warning" if before else "error",
                             subject=need.category,
                             message=f"this search has no category filter; add \"category\": \"{need.category}\""))
    if a.category and a.category not in view.categories:
        found.append(Finding(check="invalid_arguments", severity="error", subject=a.category,
                             message=f"unknown category {a.category!r}; valid: {', '.join(sorted(view.categories))}"))
    if need.budget_cents is not None:
        limit = need.budget_cents / 100
        if a.min_price is not None and a.min_price > limit + 1e-9:
            found.append(Finding(check="search_contradicts_request", severity="error", subject=money(need.budget_cents),
                                 message=f"min_price {a.min_price:g} is above the {money(need.budget_cents)} budget; "
                                         f"use max_price={limit:g}"))
        if a.max_price is None or a.max_price > limit + 1e-9:
            before = any(e.max_price is not None and e.max_price <= limit + 1e-9 for e in earlier)
            what = "has no max_price" if a.max_price is None else f"allows up to ${a.max_price:g}"
            found.append(Finding(check="search_ignores_budget", severity="warning" if before else "error",
                                 subject=money(need.budget_cents),
                                 message=f"the request states a {money(need.budget_cents)} budget but this search "
                                         f"{what}; add \"max_price\": {limit:g}"))
    if need.min_rating is not None and (a.min_rating is None or a.min_rating < need.min_rating):
        found.append(Finding(check="search_ignores_rating", severity="warning", subject=f"{need.min_rating:g} stars",
                             message=f"the request asks for at least {need.min_rating:g} stars; "
                                     f"add \"min_rating\": {need.min_rating:g}"))
    for rule in need.deal_breakers:
        if rule.attr == "brand" and a.brand and a.brand.lower() == str(rule.value).lower():
            found.append(Finding(check="search_contradicts_request", severity="error", subject=a.brand,
                                 message=f"brand {a.brand} is a deal-breaker ({rule.text}); drop the brand filter"))
    uppers = dict(a.spec_max)
    for rule in need.must_haves:
        if rule.attr == "brand":
            if a.brand and a.brand.lower() != str(rule.value).lower():
                found.append(Finding(check="search_contradicts_request", severity="error", subject=a.brand,
                                     message=f"brand filter {a.brand} contradicts the must-have '{rule.text}'"))
            continue
        if rule.op == "eq":
            given = a.specs.get(rule.attr)
            if given is None:
                found.append(_ignored_rule(rule, {"specs": {rule.attr: rule.value}}))
            elif not (as_bool(given) == rule.value if isinstance(rule.value, bool)
                      else str(given).lower() == str(rule.value).lower()):
                found.append(Finding(check="search_contradicts_request", severity="error", subject=rule.attr,
                                     message=f"specs filter {rule.attr}={given!r} contradicts the must-have "
                                             f"'{rule.text}'; use {rule.attr}={rule.value!r}"))
        elif rule.op == "gte":
            low, high = a.spec_min.get(rule.attr), uppers.get(rule.attr)
            if high is not None and high < float(rule.value) - 1e-9:
                found.append(Finding(check="search_contradicts_request", severity="error", subject=rule.attr,
                                     message=f"spec_max {rule.attr}={high:g} excludes every product meeting "
                                             f"'{rule.text}'"))
            elif low is None or low < float(rule.value) - 1e-9:
                found.append(_ignored_rule(rule, {"spec_min": {rule.attr: rule.value}}))
        else:
            low, high = a.spec_min.get(rule.attr), uppers.get(rule.attr)
            if low is not None and low > float(rule.value) + 1e-9:
                found.append(Finding(check="search_contradicts_request", severity="error", subject=rule.attr,
                                     message=f"spec_min {rule.attr}={low:g} excludes every product meeting "
                                             f"'{rule.text}'"))
            elif high is None or high > float(rule.value) + 1e-9:
                found.append(_ignored_rule(rule, {"spec_max": {rule.attr: rule.value}}))
    return found


def _ignored_rule(rule: Rule, add: dict) -> Finding:
    return Finding(check="search_ignores_must_have", severity="warning", subject=rule.attr,
                   message=f"the search does not filter on the must-have '{rule.text}'; add {json.dumps(add)}")


def _check_view(view: View, a: Any) -> list[Finding]:
    found = _check_ids(view, [a.product_id], "view_product")
    sections = view.viewed.get(a.product_id, set())
    if not found and ("all" in sections or a.section in sections):
        found.append(Finding(check="redundant_call", severity="warning", subject=a.product_id,
                             message=f"{a.product_id}'s page ({'all sections' if 'all' in sections else a.section}) "
                                     "was already viewed; use that observation"))
    return found


def _check_reviews(view: View, a: Any) -> list[Finding]:
    found = _check_ids(view, [a.product_id], "read_reviews")
    product = view.product(a.product_id)
    if a.aspect and product is not None:
        aspects = [x["name"] for x in aspects_of(view.categories.get(product.category))]
        if aspects and a.aspect not in aspects:
            found.append(Finding(check="unknown_aspect", severity="warning", subject=a.aspect,
                                 message=f"{a.aspect!r} is not a review aspect of {product.category}; "
                                         f"valid: {', '.join(aspects)}"))
    return found


def _check_compare(view: View, a: Any) -> list[Finding]:
    found = _check_ids(view, a.product_ids, "compare_products")
    repeated = sorted({p for p in a.product_ids if a.product_ids.count(p) > 1})
    if repeated:
        found.append(Finding(check="invalid_arguments", severity="error", subject=", ".join(repeated),
                             message=f"compare lists {', '.join(repeated)} more than once; compare distinct products"))
    for earlier in view.calls:
        if earlier.tool == "compare_products" and set(earlier.parsed.product_ids) == set(a.product_ids) \
                and (earlier.parsed.fields is None or set(a.fields or []) <= set(earlier.parsed.fields)) \
                and (a.fields is not None or earlier.parsed.fields is None):
            found.append(Finding(check="redundant_call", severity="warning", subject=f"call {earlier.index + 1}",
                                 message=f"call {earlier.index + 1} already compared these products"))
            break
    return found


def _check_page(view: View, a: Any) -> list[Finding]:
    try:
        view.catalog.get_page(a.doc_id)
    except (LookupError, ValueError):
        return [Finding(check="unknown_id", severity="error", subject=a.doc_id,
                        message=f"{a.doc_id} is not a page id; open an id listed by search_web")]
    if view.observations and not any(a.doc_id in o for o in view.observations):
        return [Finding(check="unretrieved_id", severity="warning", subject=a.doc_id,
                        message=f"{a.doc_id} was never listed by search_web in this episode; search the web first")]
    return []


def _check_ask(view: View, a: Any) -> list[Finding]:
    question = a.question.lower()
    topics = {"budget": r"budget|price|spend|cost|afford", "priorities": r"matter|priorit|care|prefer|important"}
    known = {"budget": view.need.budget_cents is not None, "priorities": bool(view.need.priorities)}
    asked = [t for t, pattern in topics.items() if re.search(pattern, question)]
    if asked and all(known[t] for t in asked) and not re.search(r"must|need|require|avoid|brand|deal", question):
        return [Finding(check="redundant_question", severity="warning", subject=", ".join(asked),
                        message=f"the request already states the {' and '.join(asked)}; ask about what is unstated "
                                "(must-haves, brands to avoid) or go on researching")]
    return []
