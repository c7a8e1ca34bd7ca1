"""The Supervisor Agent's grounded checks: plan, tool call and report, judged on observable data only.

A product's specs count as seen once its page (all or specs), a comparison or a spec filter of a search that listed it
showed them; a check never states an unseen spec's value (`unverified_pick`, `claim_unseen` ask the researcher to look).

The public entry point; each topic lives in its own module:
- `findings`: what every check returns (`Finding`, `verdict`, `feedback`)
- `request_parsing`: what the request states (`parse_request`, `StatedNeed`, `Rule`, `search_arguments`)
- `transcript`: what the env showed the researcher, from its public outputs (`Transcript`)
- `episode_view`: what the researcher could have read (request, answers, the transcript, the public catalog)
- `injections`: instruction-like text in reviews and pages (`looks_injected`)
- `text_helpers`: formatting and word matching the checks share (`money`, ...)
- `plan_checks`, `call_checks`, `report_checks` (with `claim_checks`): the checks themselves

Check names (the `check` field), by entry point:
- plan: plan_empty, plan_category, plan_search, plan_budget, plan_must_haves, plan_deal_breakers, plan_reviews,
  plan_priorities, plan_ask_user, plan_report
- tool call: malformed_call, unknown_tool, invalid_arguments, episode_over, last_step, duplicate_call,
  redundant_call, unknown_id, unretrieved_id, wrong_category, search_ignores_category,
  search_ignores_budget, search_ignores_rating, search_ignores_must_have, search_contradicts_request,
  call_would_fail, empty_result, unknown_aspect, redundant_question
- report: report_schema, empty_report, nothing_fits_inconsistent, invented_id, uninspected_pick, unverified_pick,
  duplicate_pick, report_without_claims, report_without_summary, wrong_category, over_budget,
  below_min_rating, must_have_violated, deal_breaker_violated, uncited_claim, claim_source_mismatch,
  claim_contradicts_catalog, claim_unseen, unknown_field, invalid_claim_value, weak_source, aspect_claim_unsupported,
  unsupported_pick, priority_not_covered, followed_injection, cites_injected_review, injected_review_carrier,
  rubric_item_not_addressed, readability, unchecked_constraint
"""

from __future__ import annotations

from .call_checks import check_tool_call
from .findings import MAX_LISTED, Finding, Severity, feedback, verdict
from .injections import INJECTION_PATTERNS, Injection, looks_injected
from .plan_checks import check_plan
from .report_checks import check_report
from .request_parsing import Rule, StatedNeed, answers_in, parse_request, search_arguments
from .text_helpers import money
from .transcript import Transcript

__all__ = ["INJECTION_PATTERNS", "MAX_LISTED", "Finding", "Injection", "Rule", "Severity", "StatedNeed", "answers_in",
           "check_plan", "check_report", "check_tool_call", "feedback", "looks_injected", "money", "parse_request",
           "search_arguments", "Transcript", "verdict"]
