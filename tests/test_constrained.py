"""The call checker: every text it lets through is a call that parses and validates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopgym import format as fmt
from shopgym.agents.call_rejection import CAUSES, rejection
from shopgym.agents.constrained import call_checker, split_turn
from shopgym.agents.json_shapes import JsonArgs
from shopgym.envs import ProductResearchEnv, parse_action, tool_schemas
from shopgym.envs.tools import TOOLS

SCHEMAS = tool_schemas()
json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=4))
def test_compact_json_objects_are_accepted(value: dict) -> None:
    text = json.dumps(value, separators=(", ", ": "))
    args = JsonArgs()
    assert args.feed_text(text[1:]) and args.done


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.text(alphabet='{}[]",: 0123456789.-truefalsn\\ab', max_size=30))
def test_whatever_is_accepted_parses(text: str) -> None:
    args = JsonArgs()
    if args.feed_text(text) and args.done:
        assert isinstance(json.loads("{" + text), dict)


def _drive(checker, text: str) -> bool:
    """Feed `text`, inserting forced parts where the checker demands them."""
    for char in text:
        if checker.complete:
            return False
        if not checker.feed_text(char):
            return False
    return True


def test_ids_enums_required_keys_and_types() -> None:
    checker = call_checker(SCHEMAS, ids=["P1", "P22"])
    assert checker.forced() == '{"tool": "'
    assert _drive(checker, '{"tool": "read_reviews", "arguments": {')
    assert checker.forced() == '"product_id":'
    assert not checker.accepts('"page": 1')  # required key first
    assert _drive(checker, '"product_id": ')
    assert checker.accepts('"P2') and not checker.accepts('"P3') and not checker.accepts('"P2"')
    assert _drive(checker, '"P22"')
    assert checker.accepts(', "sort": "recent"') and not checker.accepts(', "sort": "best"')
    assert not checker.accepts(', "page": "2"') and checker.accepts(', "page": 2')
    assert not checker.accepts(', "product_id"')  # no key twice
    assert not checker.accepts(',  "page"') and not checker.accepts(',\n"page"')  # compact whitespace only
    assert _drive(checker, ', "page": 2}}')
    assert checker.complete
    call = parse_action(checker.text)
    TOOLS[call.tool].arguments.model_validate(call.arguments)


@pytest.mark.parametrize("partial", [
    '{"tool": "search_products", "arguments": {"query": "quiet headph',
    '{"tool": "search_products", "arguments": {"query": "tent", "page": 2, "category": "te',
    '{"tool": "view_product", "arguments": {"product_id": "P22", "section": "spe',
    '{"tool": "compare_products", "arguments": {"product_ids": ["P1", "P22"], "fields": ["wei',
])
def test_finish_closes_a_call_cut_short_into_a_valid_one(partial: str) -> None:
    checker = call_checker(SCHEMAS, ids=["P1", "P22"])
    assert _drive(checker, partial)
    call = parse_action(checker.finish())
    TOOLS[call.tool].arguments.model_validate(call.arguments)


def test_the_embedded_model_writes_valid_calls(world_dir: Path) -> None:
    """Real decoding with SmolLM2-135M: every call parses and validates, on several episodes."""
    from shopgym.agents.backends import LlamaBackend

    backend = LlamaBackend(n_ctx=2048)
    env = ProductResearchEnv(catalog=world_dir)
    for seed in range(4):
        env.reset(seed=seed, options={"split": "test"})
        messages = fmt.episode_messages(env.episode.request, env.tool_schemas())
        prompt = fmt.render_ids(messages, backend.chat, backend.tokenize, add_generation_prompt=True)
        completion = backend.complete(prompt, role="researcher", max_tokens=80, seed=seed,
                                      checker=call_checker(env.tool_schemas(), ids=sorted(env.episode.retrieved_products)))
        call = parse_action(completion.text)
        TOOLS[call.tool].arguments.model_validate(call.arguments)
        assert completion.sampled + completion.forced <= 80
        again = backend.complete(prompt, role="researcher", max_tokens=8)
        assert again.reused == len(prompt) - 1 and again.evaluated == 1  # the prompt prefix was cached


def test_filter_values_can_be_pinned_to_the_request() -> None:
    checker = call_checker(SCHEMAS, values={"category": ["yoga_mats"]})
    assert _drive(checker, '{"tool": "search_products", "arguments": {')
    assert checker.accepts('"category": "yoga_mats"') and not checker.accepts('"category": "tents"')
    assert checker.accepts('"query": "tents"')  # free text stays free


def test_spec_filters_keep_to_the_category_specs() -> None:
    """With the request's category known, spec names and choice values are copied, not recalled."""
    checker = call_checker(SCHEMAS, specs=VACUUM_SPECS)
    assert _drive(checker, '{"tool": "search_products", "arguments": {')
    assert checker.accepts('"spec_min": {"suction": 11173}') and not checker.accepts('"spec_min": {"suction_')
    assert not checker.accepts('"spec_max": {"type"')  # a choice spec has no maximum
    assert checker.accepts('"specs": {"type": "upright", "hepa": true}')
    assert not checker.accepts('"specs": {"type": "uprights"') and not checker.accepts('"specs": {"hepa": "yes"')
    assert not checker.accepts('"specs": {"suction"')  # a numeric spec takes a minimum or a maximum
    only_choices = call_checker(SCHEMAS, specs=VACUUM_SPECS[2:])
    assert _drive(only_choices, '{"tool": "search_products", "arguments": {')
    assert only_choices.accepts('"spec_min": {}') and not only_choices.accepts('"spec_min": {"')
    anywhere = call_checker(SCHEMAS)  # no category named: any spec name may be tried
    assert _drive(anywhere, '{"tool": "search_products", "arguments": {')
    assert anywhere.accepts('"spec_min": {"suction_power": 1}')


def test_a_partly_written_opening_is_completed_not_skipped() -> None:
    """A model whose own first token is `{"` (a trained student's) must still get the rest of the opening forced;
    skipping to the tool name made every report decode spin to the token cap and come out empty."""
    for tools in (["submit_report"], None):
        schemas = [s for s in tool_schemas() if tools is None or s["name"] in tools]
        checker = call_checker(schemas)
        assert checker.feed_text('{"')
        assert checker.forced() == 'tool": "'
        assert checker.feed_text(checker.forced())
        if tools:
            assert checker.forced() == "submit_report" and checker.feed_text("submit_report")


REPORT_CALL = ('{"tool": "submit_report", "arguments": {"report": {"recommendations": [{"product_id": "P1", '
               '"rationale": "quiet and light"}, {"product_id": "P22"}], "claims": [{"product_id": "P1", "field": '
               '"price", "value": "39.99", "source": "P1"}, {"product_id": "P22", "field": "aspect:comfort", '
               '"value": "good", "source": "R7"}], "comparison": [{"name": "A", "weight_g": "120"}], '
               '"summary": "P1 fits best.", "nothing_fits": false}}}')


def _report_checker():
    return call_checker([s for s in SCHEMAS if s["name"] == "submit_report"], ids=["P1", "P22"])


def test_the_report_follows_its_schema_inside() -> None:
    """Keys of the report, its recommendations and claims are the schema's; required ones come first, in order."""
    checker = _report_checker()
    assert _drive(checker, '{"tool": "submit_report", "arguments": {"report": {')
    assert not checker.accepts('"product"') and not checker.accepts('"reviews"')  # invented report keys
    assert _drive(checker, '"claims": [{')
    assert checker.forced() == '"product_id":'
    assert not checker.accepts('"claim"')
    assert _drive(checker, '"product_id": "P1"')
    assert checker.forced() == ', "field":'
    assert _drive(checker, ', "field": "price", "value": ')
    assert not checker.accepts("39.99") and checker.accepts('"39.99"')  # claim values are strings
    assert _drive(checker, '"39.99", "source": "P1"}], "recommendations": [{"product_id": "P')
    assert not checker.accepts('3"') and checker.accepts('22"')  # recommended ids were retrieved
    assert _drive(checker, '22", "rationale": "')
    assert not checker.accepts("x" * 601) and checker.accepts("x" * 600)  # the schema's maxLength
    assert not checker.copy().feed_text('"}], "nothing_fits": "no"')  # a boolean, not a string


def test_a_full_list_is_closed_and_a_short_one_cannot_close() -> None:
    checker = _report_checker()
    assert _drive(checker, '{"tool": "submit_report", "arguments": {"report": {"recommendations": [')
    for i in range(10):
        assert _drive(checker, (", " if i else "") + '{"product_id": "P1"}')
    assert checker.forced() == "]" and not checker.accepts(", ")
    compare = call_checker(SCHEMAS, ids=["P1", "P22"])
    assert _drive(compare, '{"tool": "compare_products", "arguments": {"product_ids": ["P1"')
    assert not compare.accepts("]") and compare.accepts(', "P22"]')  # minItems 2


def test_the_whole_report_is_accepted_and_validates() -> None:
    checker = _report_checker()
    assert _drive(checker, REPORT_CALL) and checker.complete
    call = parse_action(checker.text)
    TOOLS[call.tool].arguments.model_validate(call.arguments)


def test_a_report_cut_anywhere_closes_at_its_last_complete_element() -> None:
    """The token cap may stop a report at any character: `finish` keeps what is complete and still validates."""
    kept_claims = []
    for cut in range(len('{"tool": "submit_report", "arguments": {"report": {'), len(REPORT_CALL)):
        checker = _report_checker()
        assert _drive(checker, REPORT_CALL[:cut])
        closed = checker.finish()
        assert closed.startswith(REPORT_CALL[: checker.safe])
        call = parse_action(closed)
        report = TOOLS[call.tool].arguments.model_validate(call.arguments).report
        kept_claims.append(len(report.claims))
    assert kept_claims == sorted(kept_claims) and kept_claims[-1] == 2  # claims are kept as soon as complete
    checker = _report_checker()
    assert _drive(checker, REPORT_CALL[: REPORT_CALL.index("and light") + 3])
    rationale = json.loads(checker.finish())["arguments"]["report"]["recommendations"][0]["rationale"]
    assert rationale == "quiet and"  # free text cut short is closed where it stopped


@pytest.mark.parametrize(("number", "kept"), [("2.", 2), ("2.5", 2.5), ("-", None), ("0", 0), ("12.75", 12.75)])
def test_a_cut_number_closes_only_where_json_reads_it(number: str, kept: float | None) -> None:
    """`finish` must not close a cut number that Python's float() reads but JSON does not (`2.`, `-`)."""
    checker = call_checker(SCHEMAS)
    assert _drive(checker, '{"tool": "search_products", "arguments": {"query": "tent", "spec_min": {"weight": ' + number)
    arguments = json.loads(checker.finish())["arguments"]
    assert arguments["spec_min"].get("weight") == kept


def test_a_bounded_number_takes_no_exponent() -> None:
    """Spec bounds are bounded by the schema (|x| <= 1e12), so `2.5e...` is refused where it starts."""
    checker = call_checker(SCHEMAS)
    assert not _drive(checker, '{"tool": "search_products", "arguments": {"spec_min": {"weight": 2.5e')


FRAGMENTS = ['"', "{", "}", "[", "]", ",", ", ", ": ", ":", " ", "2", ".", "5", "e", "-", "0", "true", "false", "null",
             "P1", "P22", "report", "claims", "product_id", "field", "value", "source", "recommendations", "rationale",
             "summary", "nothing_fits", "comparison", "quiet", "\\", "u", "n", "query", "max_price", "spec_min", "specs",
             "page", "sort", "rating", "submit_report", "search_products", "compare_products", "product_ids", "fields",
             '{"', '"claims": [', '"recommendations": [', '"comparison": [', '"rationale": "', '"summary": "', '", "',
             '"}', '"}, {', "]}", "]", "I check. ", "\n", "search_web", "ask_user", "question", "read_reviews",
             "open_page", "doc_id", "22", "222", "suction", "suction_power", "type", "upright", "hepa", "spec_max",
             "noise", '"specs": {"', '"spec_min": {"']
VACUUM_SPECS = [{"kind": "numeric", "name": "suction", "low": 1500.0, "high": 25000.0},
                {"kind": "numeric", "name": "noise", "low": 55.0, "high": 85.0},
                {"kind": "choice", "name": "type", "values": ["robot", "stick", "upright", "canister"]},
                {"kind": "bool", "name": "hepa"}]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.sampled_from([None, "submit_report", "compare_products", "search_web", "ask_user", "read_reviews",
                        "open_page", "search_products"]), st.sampled_from([0, 40]), st.booleans(),
       st.lists(st.integers(0, len(FRAGMENTS) - 1), max_size=160))
def test_whatever_a_decoder_writes_finishes_into_a_valid_call(tool: str | None, thought_chars: int, with_specs: bool,
                                                              choices: list[int]) -> None:
    """Decode like the backend (forced text, else the preferred piece or the next one down the ranking the checker
    accepts) and cut at any point: the call `finish` returns parses and validates."""
    checker = call_checker([s for s in SCHEMAS if tool in (None, s["name"])], ids=["P1", "P22"],
                           thought_chars=thought_chars, specs=VACUUM_SPECS if with_specs else None)
    for choice in choices:
        if checker.complete:
            break
        must = checker.forced()
        ranking = FRAGMENTS[choice:] + FRAGMENTS[:choice]
        piece = must or next((p for p in ranking if checker.accepts(p)), None)
        if piece is None:
            break
        assert checker.feed_text(piece)
    thought, closed = split_turn(checker.finish())
    assert len(thought) <= thought_chars
    if closed:
        call = parse_action(closed)
        TOOLS[call.tool].arguments.model_validate(call.arguments)
        if with_specs and call.tool == "search_products":
            bounded = set(call.arguments.get("spec_min", {})) | set(call.arguments.get("spec_max", {}))
            assert bounded <= {"suction", "noise"}
            assert set(call.arguments.get("specs", {})) <= {"type", "hepa"}


def test_a_line_of_reasoning_may_open_the_turn() -> None:
    reasoning = "P1 fits the budget; I read its reviews."
    checker = call_checker(SCHEMAS, ids=["P1"], thought_chars=len(reasoning))
    assert checker.forced() == "" and not checker.accepts(" ") and not checker.accepts("\n")
    assert _drive(checker, reasoning)
    assert checker.forced() == "\n" and not checker.accepts("x")  # the reasoning is capped
    assert _drive(checker, '\n{"tool": "read_reviews", "arguments": {"product_id": "P1"}}') and checker.complete
    thought, call = split_turn(checker.text)
    assert thought == reasoning and parse_action(call).tool == "read_reviews"
    direct = call_checker(SCHEMAS, ids=["P1"], thought_chars=40)
    assert direct.feed_text("{") and direct.forced() == '"tool": "'  # a first `{` is the call itself
    assert call_checker(SCHEMAS, thought_chars=40).finish() == ""
    assert not call_checker(SCHEMAS).accepts("I")  # without thought_chars the call starts at once


def test_numbers_and_strings_keep_to_their_bounds() -> None:
    """Integer pages within their range, ratings up to 5, a question of at least 3 characters."""
    checker = call_checker(SCHEMAS, ids=["P1"])
    assert _drive(checker, '{"tool": "read_reviews", "arguments": {"product_id": "P1", "page": ')
    assert not checker.accepts("-") and not checker.accepts("0,") and not checker.accepts("222")
    assert not checker.accepts("2.5") and checker.accepts("200,") and checker.accepts("2, ")
    assert _drive(checker, '2, "rating": ')
    assert not checker.accepts("6") and checker.accepts("5}")
    assert checker.accepts("5}") and not checker.accepts("0")  # rating is 1 to 5
    paging = call_checker(SCHEMAS)
    assert _drive(paging, '{"tool": "search_products", "arguments": {"page": ')
    assert not paging.accepts("0") and not paging.accepts("1e") and paging.accepts("100}")
    assert _drive(paging, '1, "min_rating": ')
    assert paging.accepts("4.5,") and not paging.accepts("5.5") and not paging.accepts("5e")
    asking = call_checker(SCHEMAS)
    assert _drive(asking, '{"tool": "ask_user", "arguments": {"question": "Wh')
    assert not asking.accepts('"') and asking.accepts('y?"}}')
    assert asking.finish() == ""  # too short to close: no valid call yet
    escaped = call_checker(SCHEMAS)
    assert _drive(escaped, '{"tool": "ask_user", "arguments": {"question": "\\u0041')
    assert not escaped.accepts('"')  # one character once decoded, not six


def test_no_step_leads_into_a_dead_end() -> None:
    """Each accepted step leaves a way to finish: no comma once every key is in, no id string without ids."""
    done = call_checker(SCHEMAS)
    assert _drive(done, '{"tool": "search_web", "arguments": {"query": "tents"')
    assert not done.accepts(",") and done.accepts("}}")
    empty = call_checker([s for s in SCHEMAS if s["name"] == "submit_report"], ids=[])
    assert _drive(empty, '{"tool": "submit_report", "arguments": {"report": {"recommendations": [{"product_id": ')
    assert not empty.accepts('"')
    own = call_checker(SCHEMAS)
    assert _drive(own, '{"tool": "search_web"')
    assert own.forced() == ', "arguments": {'  # the rest of the fixed middle, whoever wrote its first character
    closing = call_checker(SCHEMAS)
    assert _drive(closing, '{"tool": "search_web", "arguments": {"query": "x"}')
    assert not closing.accepts("\n}") and closing.accepts("}")  # one line, so the turn splits where it should


def test_a_refused_free_turn_says_why_and_where_it_broke() -> None:
    checker = call_checker(SCHEMAS, ids=["P-1"], values={"category": ["vacuums"]}, thought_chars=20,
                           specs=VACUUM_SPECS)
    good = 'I search.\n{"tool": "view_product", "arguments": {"product_id": "P-1"}}'
    assert rejection(checker, good) is None and checker.text == ""  # the checker itself is left unchanged
    cases = {
        "": ("no_call", 0),
        "I will search for the best one.": ("thought_too_long", 20),
        "Just thinking": ("no_call", 13),
        'Go.\n{"tool":"view_product"}': ("call_format", 12),
        'Go.\n{"tool": "buy_now", "arguments": {}}': ("tool_not_offered", 14),
        'Go.\n{"tool": "view_product", "arguments": {"product_id": "P-2"}}': ("arguments", 60),
        'Go.\n{"tool": "search_products", "arguments": {"category": "vacuums", "spec_min": {"weight": 3}}}':
            ("arguments", 83),
        'Go.\n{"tool": "view_product", "arguments": {"product_id": "P-1"': ("unfinished", 62),
        'Go.\n{"tool": "view_product", "arguments": {"product_id": "P-1"}} done': ("text_after_call", 64),
    }
    for text, (cause, at) in cases.items():
        refused = rejection(checker, text)
        assert (refused.cause, refused.at) == (cause, at), text
        assert refused.excerpt.endswith(text[at:at + 1]) and refused.cause in CAUSES
    report_only = call_checker([s for s in SCHEMAS if s["name"] == "submit_report"], ids=["P-1"])
    assert rejection(report_only, '{"tool": "view_product", "arguments": {"product_id": "P-1"}}').cause == \
        "tool_not_offered"
