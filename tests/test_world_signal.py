"""The world carries its signal: text, histories and pages reveal the hidden truth to a simple reader."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from shopgym.catalog.need import Need
from shopgym.catalog.taxonomy import CATEGORY_BY_ID, CATEGORIES, NumericAttr
from shopgym.catalog.utility import CategoryTable
from shopgym.catalog.wording import format_spec, spec_sentence

# A generic sentiment lexicon, written for this test (not the generator's word lists).
POSITIVE = {"good", "great", "excellent", "superb", "fantastic", "impressive", "outstanding", "solid", "top-notch",
            "happy", "love", "amazing", "perfect", "best", "nice", "awesome", "wonderful", "better"}
NEGATIVE = {"poor", "bad", "disappointing", "terrible", "weak", "awful", "mediocre", "subpar", "frustrating", "worse",
            "sadly", "hate", "broke", "useless", "cheap", "flimsy", "horrible"}


def _rows(world: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(world / "catalog.db")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    def ranks(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        for value in np.unique(v):  # average ranks of ties
            tied = v == value
            r[tied] = r[tied].mean()
        return r

    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


def _lexicon_sentiment(sentence: str) -> int:
    words = re.findall(r"[a-z\-]+", sentence.lower())
    score = 0
    for i, word in enumerate(words):
        sign = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
        if sign and i and words[i - 1] in {"not", "never", "no"}:
            sign = -sign
        score += sign
    return score


def test_mean_review_sentiment_tracks_latent_quality(world_dir: Path) -> None:
    rows = _rows(world_dir, "SELECT p.category, h.qualities_json, l.sentiments_json FROM hidden_review_labels l "
                            "JOIN reviews r ON r.id = l.review_id JOIN products p ON p.id = r.product_id "
                            "JOIN hidden_products h ON h.product_id = p.id WHERE l.fake = 0")
    by_category: dict[str, dict[tuple[str, str], list[int]]] = defaultdict(lambda: defaultdict(list))
    latent: dict[tuple[str, str], float] = {}
    for category, qualities_json, sentiments_json in rows:
        qualities = json.loads(qualities_json)
        for aspect, sign in json.loads(sentiments_json).items():
            key = (qualities_json, aspect)
            by_category[category][key].append(sign)
            latent[key] = qualities[aspect]
    assert set(by_category) == {c.id for c in CATEGORIES}
    for category, groups in by_category.items():
        keys = [k for k, signs in groups.items() if len(signs) >= 3]
        assert len(keys) >= 30, category
        mean_sentiment = np.array([np.mean(groups[k]) for k in keys])
        quality = np.array([latent[k] for k in keys])
        rho = _spearman(mean_sentiment, quality)
        assert rho >= 0.6, f"{category}: Spearman {rho:.2f}"


def test_lexicon_reader_recovers_labelled_aspect_sentiment(world_dir: Path) -> None:
    rows = _rows(world_dir, "SELECT r.text, p.category, l.sentiments_json FROM reviews r "
                            "JOIN hidden_review_labels l ON l.review_id = r.id JOIN products p ON p.id = r.product_id")
    right = total = 0
    for text, category, sentiments_json in rows:
        aspects = {a.name: a for a in CATEGORY_BY_ID[category].aspects}
        clauses = re.split(r"[.!?;,]|\bbut\b|\balthough\b|\bwhile\b", text.lower())  # mixed reviews: per clause
        for aspect, sign in json.loads(sentiments_json).items():
            keywords = aspects[aspect].keywords
            score = sum(_lexicon_sentiment(c) for c in clauses if any(k in c for k in keywords))
            total += 1
            right += (1 if score > 0 else -1 if score < 0 else 0) == sign
    assert total > 20000
    assert right / total >= 0.8, f"lexicon reader accuracy {right / total:.3f}"


def _bracket(price_cents: float, tertiles: np.ndarray) -> int:
    return int(np.searchsorted(tertiles, price_cents, side="right"))


def _guess_budget(events: list[tuple]) -> float | None:
    stated = [int(m) * 100 for _, _, _, query, _ in events if query for m in re.findall(r"under \$(\d+)", query)]
    if stated:
        return float(max(stated))
    bought = [price for kind, _, price, _, _ in events if kind in ("cart", "purchase") and price]
    viewed = [price for kind, _, price, _, _ in events if kind == "view" and price]
    return float(max(bought)) if bought else float(np.median(viewed)) if viewed else None


def _guess_must_have(category_id: str, events: list[tuple], specs: dict[str, dict]) -> str | None:
    """The attribute the shopper names most in searches and messages, else the spec their picks share."""
    category = CATEGORY_BY_ID[category_id]
    text = " ".join((q or "") + " " + (t or "") for _, _, _, q, t in events).lower()
    mentions = Counter({a.name: text.count(a.label.lower()) for a in category.attributes})
    for attr in category.attributes:
        for value in getattr(attr, "values", []):
            mentions[attr.name] += text.count(f"{value} {attr.label}".lower())
    name, count = mentions.most_common(1)[0]
    if count:
        return name
    picks = [specs[pid] for kind, pid, _, _, _ in events if kind in ("cart", "purchase", "view") and pid]
    shared = Counter((k, json.dumps(v)) for s in picks for k, v in s.items())
    return shared.most_common(1)[0][0][0] if shared else None


def test_simple_history_reader_recovers_budget_and_top_must_have(world_dir: Path) -> None:
    prices = defaultdict(list)
    specs = {}
    for pid, category, price, specs_json in _rows(world_dir, "SELECT id, category, price_cents, specs_json FROM products"):
        prices[category].append(price)
        specs[pid] = json.loads(specs_json)
    tertiles = {c: np.quantile(v, [1 / 3, 2 / 3]) for c, v in prices.items()}
    history = defaultdict(list)
    for shopper, category, kind, pid, price, query, text in _rows(
            world_dir, "SELECT shopper_id, category, kind, product_id, price_cents, query, text FROM shopper_events "
                       "ORDER BY shopper_id, seq"):
        history[(shopper, category)].append((kind, pid, price, query, text))
    budget_right = must_right = total = 0
    for shopper, category, prefs_json in _rows(world_dir, "SELECT shopper_id, category, prefs_json FROM hidden_shopper_prefs"):
        need = Need.model_validate_json(prefs_json)
        events = history[(shopper, category)]
        total += 1
        guess = _guess_budget(events)
        budget_right += guess is not None and _bracket(guess, tertiles[category]) == _bracket(need.budget_cents,
                                                                                          tertiles[category])
        must_right += _guess_must_have(category, events, specs) == need.must_haves[0].attr
    assert total >= 1000
    assert budget_right / total >= 0.6, f"budget bracket recovered {budget_right / total:.2f}"
    assert must_right / total >= 0.6, f"top must-have recovered {must_right / total:.2f}"
    # not trivially: a reader cannot read the need off the history verbatim every time
    assert budget_right / total < 0.99 or must_right / total < 0.99


def test_every_current_web_fact_matches_the_catalog(world_dir: Path) -> None:
    """Current facts match the truth: the catalog's price and the true spec (a listing may misstate one)."""
    products = {pid: (category, price, {**json.loads(specs), **json.loads(fix or "{}")}, json.loads(q))
                for pid, category, price, specs, q, fix in _rows(
        world_dir, "SELECT p.id, p.category, p.price_cents, p.specs_json, h.qualities_json, h.spec_corrections_json "
                   "FROM products p JOIN hidden_products h ON h.product_id = p.id")}
    page_products = {pid: json.loads(ids) for pid, ids in _rows(world_dir, "SELECT id, product_ids_json FROM pages")}
    texts = dict(_rows(world_dir, "SELECT id, text FROM pages"))
    facts = _rows(world_dir, "SELECT page_id, product_id, field, value, accuracy FROM hidden_page_facts")
    checked = Counter()
    for page_id, pid, field, value, accuracy in facts:
        category_id, price, specs, qualities = products[pid]
        category = CATEGORY_BY_ID[category_id]
        if field == "price":
            truth = str(price)
            assert f"${int(value) // 100}.{int(value) % 100:02d}" in texts[page_id]
        elif field.startswith("spec:"):
            name = field[5:]
            attr = category.attribute(name)
            truth = format_spec(attr, specs[name])
            stated = value == "yes" if attr.kind == "bool" else float(value.split()[0]) if attr.kind == "numeric" else value
            assert spec_sentence(attr, stated) in texts[page_id]
        elif field.startswith("aspect:"):
            truth = "good" if qualities[field[7:]] >= 0.5 else "poor"
        else:
            aspect = field.split(":", 1)[1]
            best = max(page_products[page_id], key=lambda p: products[p][3][aspect])
            truth = "yes" if best == pid else "no"
        if accuracy == "current":
            assert value == truth, (page_id, field, value, truth)
        else:
            assert value != truth, (page_id, field, value, truth)  # a flagged fact really is off
        checked[accuracy] += 1
    assert checked["current"] > 300 and checked["stale"] > 5 and checked["wrong"] > 0


def test_task_kinds_hold_in_the_catalog(world_dir: Path) -> None:
    tables = {c.id: _category_table_true(world_dir, c.id) for c in CATEGORIES}
    kinds = Counter()
    for task_id, kind, need_json, knobs_json in _rows(world_dir, "SELECT task_id, kind, need_json, knobs_json "
                                                                  "FROM hidden_task_needs"):
        need = Need.model_validate_json(need_json)
        table = tables[need.category]
        fits_vectorised = table.fits(need)
        fits_scalar = np.array([need.fits(b, p, r, s) for b, p, r, s in
                                zip(table.brands, table.prices.tolist(), table.ratings.tolist(),
                                    map(table.spec_of, range(len(table.ids))))])
        assert (fits_vectorised == fits_scalar).all(), task_id
        if kind == "nothing_fits":
            assert not fits_scalar.any(), f"{task_id} is nothing-fits but {fits_scalar.sum()} products fit"
            assert (table.prices > need.budget_cents).any()  # it is the combination that fails, not the shop
        else:
            assert fits_scalar.any(), task_id
        assert json.loads(knobs_json)["fitting_products"] == int(fits_scalar.sum())
        kinds[kind] += 1
    assert kinds["nothing_fits"] >= 20 and kinds["standard"] >= 100
    assert {"trade_off", "distractor", "conflict"} <= set(kinds), kinds


def test_splits_are_by_shopper_8_1_1(world_dir: Path) -> None:
    splits = Counter(s for (s,) in _rows(world_dir, "SELECT split FROM shoppers"))
    assert splits == {"train": 800, "val": 100, "test": 100}
    mixed = _rows(world_dir, "SELECT count(*) FROM tasks t JOIN shoppers s ON s.id = t.shopper_id "
                             "WHERE s.split != t.split")
    assert mixed == [(0,)]
    test_tasks = _rows(world_dir, "SELECT count(DISTINCT id) FROM tasks WHERE split = 'test'")[0][0]
    assert test_tasks >= 100


def test_schema_and_units(world_dir: Path) -> None:
    departments = {d for (d,) in _rows(world_dir, "SELECT department FROM categories")}
    assert len(_rows(world_dir, "SELECT id FROM categories")) >= 12 and len(departments) >= 6
    for pid, category_id, price, specs_json in _rows(world_dir, "SELECT id, category, price_cents, specs_json FROM products"):
        assert isinstance(price, int) and price > 0
        specs = json.loads(specs_json)
        for attr in CATEGORY_BY_ID[category_id].attributes:
            value = specs[attr.name]
            if isinstance(attr, NumericAttr):
                assert attr.low <= value <= attr.high, (pid, attr.name, value)
            elif attr.kind == "choice":
                assert value in attr.values
            else:
                assert isinstance(value, bool)


@pytest.mark.parametrize("flag", ["fake", "adversarial"])
def test_reviews_include_labelled_fakes_and_injections(world_dir: Path, flag: str) -> None:
    rows = _rows(world_dir, f"SELECT r.text FROM reviews r JOIN hidden_review_labels l ON l.review_id = r.id "
                            f"WHERE l.{flag} = 1")
    assert len(rows) >= 50
    if flag == "adversarial":
        assert all(re.search(r"\bAI\b|AGENTS|instructions", text) for (text,) in rows)


def _tables_and_truths(world: Path, split: str = "test") -> list[tuple[CategoryTable, Need]]:
    tables = {c.id: _category_table_true(world, c.id) for c in CATEGORIES}
    return [(tables[need.category], need) for need in (Need.model_validate_json(n) for (n,) in _rows(
        world, "SELECT h.need_json FROM hidden_task_needs h JOIN tasks t ON t.id = h.task_id WHERE t.split = ?",
        (split,)))]


def _category_table_true(world: Path, category_id: str) -> CategoryTable:
    rows = _rows(world, "SELECT p.id, p.brand, p.price_cents, p.rating, p.specs_json, h.qualities_json, "
                        "h.spec_corrections_json FROM products p JOIN hidden_products h ON h.product_id = p.id "
                        "WHERE p.category = ? ORDER BY p.id", (category_id,))
    return CategoryTable.from_rows(CATEGORY_BY_ID[category_id], [
        (r[0], r[1], r[2], r[3], {**json.loads(r[4]), **json.loads(r[6] or "{}")}, json.loads(r[5])) for r in rows])


def test_star_ratings_do_not_rank_products_by_the_shoppers_utility(world_dir: Path) -> None:
    differ = total = 0
    for table, need in _tables_and_truths(world_dir):
        fits = np.nonzero(table.fits(need))[0]
        if len(fits) < 3:
            continue
        utility = table.utility(need)
        by_rating = set(fits[np.argsort(-table.ratings[fits], kind="stable")][:3].tolist())
        by_utility = set(fits[np.argsort(-utility[fits], kind="stable")][:3].tolist())
        differ += by_rating != by_utility
        total += 1
    assert total >= 50
    assert differ / total >= 0.3, f"top 3 by rating differ from top 3 by utility on {differ / total:.2f} of tasks"


def test_defects_hide_in_a_minority_of_low_star_reviews(world_dir: Path) -> None:
    rows = _rows(world_dir, "SELECT h.defects_json, r.rating, l.sentiments_json FROM hidden_products h "
                            "JOIN reviews r ON r.product_id = h.product_id JOIN hidden_review_labels l "
                            "ON l.review_id = r.id WHERE h.defects_json != '[]' AND l.fake = 0")
    mentioning, ratings_mentioning, ratings_all = 0, [], []
    for defects_json, rating, sentiments_json in rows:
        aspect = json.loads(defects_json)[0]["aspect"]
        ratings_all.append(rating)
        if aspect in json.loads(sentiments_json):
            mentioning += 1
            ratings_mentioning.append(rating)
    assert len(rows) >= 300
    assert mentioning / len(rows) < 0.3, f"{mentioning / len(rows):.2f} of a defective product's reviews mention it"
    assert np.mean(ratings_mentioning) < np.mean(ratings_all) - 0.3


def test_listing_errors_are_rare_and_contradicted_by_reviews(world_dir: Path) -> None:
    fixes = {pid: json.loads(fix) for pid, fix in _rows(
        world_dir, "SELECT product_id, spec_corrections_json FROM hidden_products WHERE spec_corrections_json "
                   "IS NOT NULL")}
    products = _rows(world_dir, "SELECT count(*) FROM products")[0][0]
    assert 0.01 <= len(fixes) / products <= 0.05
    listed = dict(_rows(world_dir, "SELECT id, specs_json FROM products"))
    contradicted = 0
    for pid, fix in fixes.items():
        name, true_value = next(iter(fix.items()))
        assert json.loads(listed[pid])[name] != true_value
        texts = " ".join(t for (t,) in _rows(world_dir, "SELECT text FROM reviews WHERE product_id = ?", (pid,)))
        category = CATEGORY_BY_ID[_rows(world_dir, "SELECT category FROM products WHERE id = ?", (pid,))[0][0]]
        contradicted += format_spec(category.attribute(name), true_value) in texts
    assert contradicted / len(fixes) >= 0.6, f"only {contradicted} of {len(fixes)} listing errors show in reviews"


def test_histories_state_every_deal_breaker_in_varied_words(world_dir: Path) -> None:
    history = defaultdict(list)
    for shopper, category, text in _rows(world_dir, "SELECT shopper_id, category, text FROM shopper_events "
                                                    "WHERE text IS NOT NULL"):
        history[(shopper, category)].append(text)
    shown = total = 0
    wordings = set()
    for shopper, category, prefs_json in _rows(world_dir, "SELECT shopper_id, category, prefs_json "
                                                          "FROM hidden_shopper_prefs"):
        for breaker in Need.model_validate_json(prefs_json).deal_breakers:
            total += 1
            said = [t for t in history[(shopper, category)] if breaker.value in t]
            shown += bool(said)
            wordings.update(t.replace(breaker.value, "BRAND").split(".")[0] for t in said)
    assert total >= 200
    assert shown == total
    assert len(wordings) >= 6
