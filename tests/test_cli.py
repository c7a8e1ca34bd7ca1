"""The console script: one JSON document on stdout with --json, errors on stderr with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopgym.cli import main


def _json_out(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_search_with_filters_as_json(world_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _json_out(capsys, ["catalog", "search", str(world_dir), "headphones", "--category", "headphones",
                                "--max-price", "150", "--spec", "noise_cancelling=true", "--sort", "price_asc",
                                "--json"])
    products = result["products"]
    assert products and result["total"] >= len(products)
    assert all(p["category"] == "headphones" and p["price_cents"] <= 15000 for p in products)
    assert [p["price_cents"] for p in products] == sorted(p["price_cents"] for p in products)


def test_history_and_stats_as_json(world_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = _json_out(capsys, ["catalog", "history", str(world_dir), "--split", "test", "--json"])
    assert history["shopper_id"] and history["events"]
    stats = _json_out(capsys, ["catalog", "stats", str(world_dir), "--json"])
    assert stats["products"] == 2000


def test_bad_input_is_an_error_message_not_a_traceback(world_dir: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "stats", str(tmp_path / "missing")]) == 2
    assert "no catalog at" in capsys.readouterr().err
    assert main(["catalog", "build", "--products", "2000", "--out", str(world_dir), "--quiet"]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert main(["catalog", "search", str(world_dir), "x", "--spec", "bad name;=1"]) == 2
    assert "spec" in capsys.readouterr().err


def test_import_reports_rejects_and_exits_on_bad_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixtures = Path(__file__).parent / "fixtures" / "amazon2023"
    argv = ["catalog", "import", "--format", "amazon2023", "--meta", str(fixtures / "meta.jsonl"),
            "--reviews", str(fixtures / "reviews.jsonl"), "--json"]
    assert main([*argv, "--out", str(tmp_path / "strict")]) == 1
    strict = json.loads(capsys.readouterr().out)
    assert strict["exceeded_max_bad_rate"] and strict["rejected"]
    assert all({"file", "line", "reason"} <= set(r) for r in strict["rejected"])
    assert main([*argv, "--out", str(tmp_path / "lenient"), "--max-bad-rate", "0.5"]) == 0
    lenient = json.loads(capsys.readouterr().out)
    assert lenient["imported"] == strict["imported"] and lenient["content_hash"] == strict["content_hash"]
    total = lenient["imported"]["products"] + lenient["imported"]["reviews"] + lenient["rejected_count"]
    assert total == lenient["rows_read"]


def test_evaluate_shallow_and_heuristic_with_trials(world_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["evaluate", "--catalog", str(world_dir), "--split", "test", "--episodes", "8", "--json"]
    shallow = _json_out(capsys, [*common, "--policy", "shallow"])
    heuristic = _json_out(capsys, [*common, "--policy", "heuristic", "--trials", "2"])
    assert shallow["policy"] == "shallow" and len(shallow["episodes"]) == 8
    assert shallow["parts"]["coverage"]["mean"] == 0.0  # it reads nothing, so it can back no aspect claim
    assert heuristic["trials"] == 2 and len(heuristic["episodes"]) == 16 and heuristic["flip_rate"] == 0.0
    assert heuristic["mean_reward"] > shallow["mean_reward"]
    assert main([*common, "--policy", "shallow", "--user-request"]) == 2
    assert "--user-request apply to --policy llm or teacher" in capsys.readouterr().err
