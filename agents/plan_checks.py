"""Check Plan: the logical completeness of a research plan against the request."""

from __future__ import annotations

import re

from .findings import Finding
from .request_parsing import parse_request
from .text_helpers import content_words, has_term, key_words, money, names_phrase, plain_words, stems


def check_plan(plan_text: str, request: str, answers: str = "") -> list[Finding]:
    """Logical completeness of a research plan against the request (plus any `answers` the shopper gave).

    The plan should say it will search the right category, apply the stated budget and must-haves,
    read reviews on the stated priorities, and finish with a report.
    """
    plan = plan_text or ""
    if len(content_words(plan)) < 3:
        return [Finding(check="plan_empty", severity="error",
                        message="the plan is empty; say what you will search for, which filters you will apply, "
                                "which reviews you will read and that you will submit a report")]
    need = parse_request(f"{request} {answers}")
    found: list[Finding] = []
    words = plain_words(plan)
    if need.category:
        names = {need.category, need.category.replace("_", " ")}
        if need.noun:
            names |= {need.noun, need.noun.split()[-1]}
        named = [c for c in re.findall(r"\bcategor(?:y|ies)\W{0,3}([a-z0-9_]+)", plan) if c != need.category]
        if named:
            found.append(Finding(check="plan_category", severity="error", subject=named[0],
                                 message=f"the plan searches category '{named[0]}', but the request is about "
                                         f"'{need.category}' ({need.noun or need.category})"))
        elif not any(has_term(plan, n) for n in names):
            found.append(Finding(check="plan_category", severity="error", subject=need.category,
                                 message=f"the plan never names the category; search category '{need.category}' "
                                         f"({need.noun or need.category})"))
    if not re.search(r"\b(search|find|look|browse|query|filter)", words):
        found.append(Finding(check="plan_search", severity="error",
                             message="the plan has no catalog search step; start with search_products"
                                     + (f" in category '{need.category}'" if need.category else "")))
    if need.budget_cents is not None:
        dollars = need.budget_cents / 100
        spellings = {f"{dollars:g}", f"{dollars:.2f}", f"{need.budget_cents // 100}"}
        if not (any(re.search(rf"(?<![\d.]){re.escape(s)}(?![\d])", plan) for s in spellings)
                or re.search(r"\b(budget|max.?price|price cap)\b", plan, re.IGNORECASE)):
            found.append(Finding(check="plan_budget", severity="error", subject=money(need.budget_cents),
                                 message=f"the plan ignores the {money(need.budget_cents)} budget; "
                                         f"search with max_price={dollars:g}"))
    common = stems(f"{need.noun or ''} {need.category or ''}")
    priority_words = {w for label in need.priority_labels for w in key_words(label)}
    missing = [r.text for r in need.must_haves if not names_phrase(plan, r.text, common | priority_words)]
    missing += [p for p in need.unparsed
                if not p.startswith(("no ", "not ")) and not names_phrase(plan, p, common | priority_words)]
    if missing:
        found.append(Finding(check="plan_must_haves", severity="error", subject=", ".join(missing),
                             message=f"the plan does not apply the must-have(s): {'; '.join(missing)}; "
                                     "filter the search on them and check them on each product page"))
    avoid = [r.text for r in need.deal_breakers if not names_phrase(plan, str(r.value), set())]
    if avoid:
        found.append(Finding(check="plan_deal_breakers", severity="warning", subject=", ".join(avoid),
                             message=f"the plan does not mention the deal-breaker(s): {'; '.join(avoid)}; "
                                     "say how you will rule those products out"))
    if not re.search(r"\breview", words):
        found.append(Finding(check="plan_reviews", severity="error",
                             message="the plan never reads reviews; read_reviews on the shortlisted products"
                                     + (f" with aspect filters for {', '.join(need.priority_labels)}"
                                        if need.priority_labels else "")))
    uncovered = [label for label in need.priority_labels if not names_phrase(plan, label, common)]
    if uncovered:
        found.append(Finding(check="plan_priorities", severity="error", subject=", ".join(uncovered),
                             message=f"the plan skips the shopper's priorities: {', '.join(uncovered)}; "
                                     "read reviews on those aspects and rank by them"))
    if need.asks_questions and not re.search(r"\b(ask|clarif|question|confirm)", words):
        nothing_stated = need.budget_cents is None and not need.priority_labels
        found.append(Finding(check="plan_ask_user", severity="error" if nothing_stated else "warning",
                             message="the request invites questions and leaves constraints unstated; plan an "
                                     "ask_user call about budget, must-haves, brands to avoid and priorities"))
    if not re.search(r"\b(report|submit|recommend)", words):
        found.append(Finding(check="plan_report", severity="error",
                             message="the plan never ends; finish with submit_report: ranked picks with rationales, "
                                     "cited claims and a comparison"))
    return found
