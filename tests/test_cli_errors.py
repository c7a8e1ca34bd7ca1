"""Expected failures of the console script: one line on stderr, exit 2 (bad input) or 1, no traceback, no leftovers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shopgym import __version__
from shopgym.cli_args import one_line
from shopgym.envs.tools import MAX_DOLLARS

FIXTURES = Path(__file__).parent / "fixtures"


def _run(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shopgym.cli", *argv], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=300)


def _one_line_error(result: subprocess.CompletedProcess, rc: int, *words: str) -> str:
    err = result.stderr.strip()
    assert result.returncode == rc, (result.returncode, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("shopgym: error: ") and all(w in err for w in words), err
    return err


@pytest.mark.parametrize(("argv", "words"), [
    (["evaluate", "--episodes", "-3"], ["--episodes", "at least 1", "-3"]),
    (["evaluate", "--episodes", "0"], ["--episodes", "at least 1"]),
    (["evaluate", "--policy", "llm", "--temperature", "-1"], ["--temperature", "at least 0"]),
    (["evaluate", "--trials", "0"], ["--trials"]),
    (["generate", "--episodes", "-1", "--out", "run"], ["--episodes"]),
    (["generate", "--episodes", "2", "--workers", "0", "--out", "run"], ["--workers"]),
    (["train", "data", "--out", "student", "--max-steps", "-1"], ["--max-steps"]),
    (["train", "data", "--out", "student", "--rank", "0"], ["--rank"]),
    (["train", "data", "--out", "student", "--learning-rate", "nan"], ["--learning-rate", "finite"]),
    (["catalog", "search", "world", "x", "--max-price", "inf"], ["--max-price", "finite"]),
    (["catalog", "search", "world", "x", "--max-price", "1e300"], ["--max-price", f"at most {MAX_DOLLARS:g}"]),
    (["catalog", "search", "world", "x", "--min-price", f"{2 * MAX_DOLLARS:g}"], ["--min-price", "at most"]),
    (["catalog", "search", "world", "x", "--spec", "battery_life"], ["no operator", "quote"]),
    (["catalog", "build", "--products", "5", "--out", "w"], ["--products", "at least 70"]),
    (["distill", "run", "--out", "data", "--min-reward", "2"], ["--min-reward", "at most 1"]),
])
def test_nonsense_values_are_refused_by_the_parser_and_nothing_is_left(tmp_path: Path, argv: list[str],
                                                                       words: list[str]) -> None:
    _one_line_error(_run(*argv, cwd=tmp_path), 2, *words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", ["garbage", "empty", "folder", "text", "truncated", "missing_index",
                                    "damaged_index"])
def test_a_corrupt_catalog_is_named_with_a_rebuild_hint(world_dir: Path, tmp_path: Path, damage: str) -> None:
    import shutil

    catalog = tmp_path / "world"
    if damage in ("missing_index", "damaged_index", "truncated"):
        shutil.copytree(world_dir, catalog)
        if damage == "missing_index":
            shutil.rmtree(catalog / "whoosh")
        elif damage == "damaged_index":
            for segment in (catalog / "whoosh").iterdir():
                segment.write_bytes(b"\0" * 64)
        else:
            db = catalog / "catalog.db"
            db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])
    elif damage == "text":
        catalog.mkdir()
        (catalog / "catalog.db").write_text("id,title\nP-1,kettle\n")
    else:
        catalog.mkdir()
        db = catalog / "catalog.db"
        if damage == "garbage":
            db.write_bytes(bytes(range(256)) * 40)
        elif damage == "empty":
            db.write_bytes(b"")
        else:
            db.mkdir()
    for argv in (["catalog", "stats", str(catalog)], ["evaluate", "--policy", "heuristic", "--catalog", str(catalog),
                                                      "--episodes", "2"]):
        err = _one_line_error(_run(*argv), 2, "catalog.db")
        assert "rebuild" in err or "folder" in err


def test_debug_shows_the_traceback_and_version_prints(tmp_path: Path) -> None:
    (tmp_path / "catalog.db").write_bytes(b"not sqlite at all" * 100)
    for result in (_run("--debug", "catalog", "stats", str(tmp_path)),
                   _run("catalog", "stats", str(tmp_path), env={"SHOPGYM_DEBUG": "1"})):
        assert result.returncode == 2 and "Traceback" in result.stderr and "CorruptCatalog" in result.stderr
    version = _run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"shopgym {__version__}"


def test_a_pydantic_error_reads_as_one_human_line() -> None:
    from shopgym.catalog.world import WorldConfig

    with pytest.raises(ValueError) as caught:
        WorldConfig(products=3, shoppers=-1)
    line = one_line(caught.value)
    assert "\n" not in line and "https://" not in line
    assert line.startswith("invalid WorldConfig: products: ") and "shoppers: " in line


def test_a_refused_import_and_a_missing_gpu_are_one_line_errors(world_dir: Path, tmp_path: Path) -> None:
    import shutil

    import torch

    fixtures = Path(__file__).parent / "fixtures" / "amazon2023"
    target = tmp_path / "world"
    shutil.copytree(world_dir, target)
    before = (target / "catalog.db").read_bytes()
    refused = _run("catalog", "import", "--format", "amazon2023", "--meta", str(fixtures / "meta.jsonl"),
                   "--reviews", str(fixtures / "reviews.jsonl"), "--out", str(target))
    _one_line_error(refused, 2, "already holds a catalog", "empty folder")
    assert (target / "catalog.db").read_bytes() == before
    if not torch.cuda.is_available():
        missing = _run("train", str(tmp_path / "data"), "--out", str(tmp_path / "student"), "--device", "cuda")
        _one_line_error(missing, 2, "--device cuda", "--device cpu")
        assert not (tmp_path / "student").exists()


def test_a_killed_build_leaves_a_staging_folder_that_the_next_build_removes(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    abandoned = tmp_path / f".world.building-{dead.pid}"
    (abandoned / "whoosh").mkdir(parents=True)
    (abandoned / "catalog.db").write_bytes(b"half a build")
    result = _run("catalog", "build", "--products", "140", "--shoppers", "20", "--search", "fts5", "--quiet",
                  "--out", str(tmp_path / "world"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world"]


def test_every_option_says_what_it_does_and_its_default() -> None:
    import argparse

    from shopgym.cli import build_parser

    def options(parser: argparse.ArgumentParser, verb: str):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from options(sub, f"{verb} {name}")
            elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                yield verb, action

    checked = 0
    for verb, action in options(build_parser(), "shopgym"):
        name = action.option_strings[0] if action.option_strings else action.dest
        assert action.help, f"{verb} {name} has no help"
        flag = isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
        if action.option_strings and not flag and not action.required:
            assert "default" in action.help or "required" in action.help, f"{verb} {name}: {action.help!r}"
        checked += 1
    assert checked > 60


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs sysfs, where no one may create files")
def test_an_output_nobody_may_write_is_a_one_line_error(world_dir: Path, tmp_path: Path) -> None:
    """sysfs refuses new files even to root, as a read-only folder refuses a user (root ignores file modes)."""
    evaluation = tmp_path / "heuristic.json"
    assert _run("evaluate", "--policy", "heuristic", "--catalog", str(world_dir), "--episodes", "2",
                "--save", str(evaluation)).returncode == 0
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "trajectories.jsonl").write_text("")
    (tmp_path / "run" / "train.jsonl").write_text("")  # the folder doubles as train's data folder
    cases = [["catalog", "build", "--products", "100", "--out", "/sys/shopgym-world", "--quiet"],
             ["catalog", "import", "--format", "mapped", "--products", str(FIXTURES / "mapped" / "products.csv"),
              "--mapping", str(FIXTURES / "mapped" / "mapping.json"), "--out", "/sys/shopgym-dump"],
             ["evaluate", "--policy", "heuristic", "--catalog", str(world_dir), "--episodes", "2",
              "--save", "/sys/shopgym.json", "--json"],
             ["compare", str(evaluation), "--out", "/sys/shopgym-cmp"],
             ["show", str(tmp_path / "run"), "--out", "/sys/shopgym.html"],
             ["generate", "--catalog", str(world_dir), "--episodes", "1", "--out", "/sys/shopgym-run"],
             ["evaluate", "--policy", "llm", "--catalog", str(world_dir), "--episodes", "1", "--out", "/sys/shopgym-eval"],
             ["distill", str(tmp_path / "run"), "--out", "/sys/shopgym-data"],
             ["train", str(tmp_path / "run"), "--out", "/sys/shopgym-student"]]
    for argv in cases:
        _one_line_error(_run(*argv), 1, "/sys/")


def test_a_file_where_a_folder_belongs_and_back_is_a_one_line_error(world_dir: Path, tmp_path: Path) -> None:
    folder, file = tmp_path / "folder", tmp_path / "file.json"
    folder.mkdir()
    file.write_text("{}")
    cases = [(["compare", str(folder), "--out", str(tmp_path / "cmp")], "folder"),
             (["evaluate", "--policy", "heuristic", "--catalog", str(world_dir), "--episodes", "2", "--save",
               str(folder), "--json"], "folder"),
             (["evaluate", "--policy", "llm", "--catalog", str(world_dir), "--model", str(folder)], "folder"),
             (["catalog", "build", "--products", "100", "--out", str(file)], "file.json"),
             (["catalog", "stats", str(file)], "file.json"),
             (["show", str(file)], "file.json"),
             (["show", str(folder), "--out", str(folder)], "folder"),
             (["distill", str(file), "--out", str(tmp_path / "data")], "file.json"),
             (["train", str(file), "--out", str(tmp_path / "student")], "file.json")]
    before = sorted(p.name for p in tmp_path.iterdir())
    for argv, named in cases:
        result = _run(*argv)
        assert result.returncode in (1, 2), (argv, result.stderr)
        _one_line_error(result, result.returncode, named)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing made
