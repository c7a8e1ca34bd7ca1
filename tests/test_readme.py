"""The README's examples, run verbatim: every Python block, and every command line of the shell blocks that
names no placeholder (`[--option]`, `a|b`, `DIR`, `...`), in a fresh folder holding the files they read."""

from __future__ import annotations

import csv
import gzip
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
PLACEHOLDER = re.compile(r"\[|\||\.\.\.|\b[A-Z][A-Z_]{1,}\b")


def _blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def _commands(block: str) -> list[str]:
    """Each command of a shell block: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", "", block)
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # the venv's `shopgym`
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PATH": path})


def _inputs(folder: Path) -> None:
    """The files the README's commands name: the test fixtures without the rows they hold to be rejected
    (the README shows imports of clean dumps)."""
    from shopgym.catalog.importers import import_catalog

    meta, reviews = FIXTURES / "amazon2023" / "meta.jsonl", FIXTURES / "amazon2023" / "reviews.jsonl"
    report = import_catalog("amazon2023", folder / ".probe", meta=meta, reviews=reviews, search_backend="fts5",
                            max_bad_rate=1.0)
    bad = {(Path(r.file).name, r.line) for r in report.rejected}
    assert len(bad) == report.rejected_count  # every reject is listed, so every bad row is dropped
    for source in (meta, reviews):
        lines = source.read_bytes().splitlines(keepends=True)
        with gzip.open(folder / f"{source.stem}.jsonl.gz", "wb") as out:
            out.writelines(line for number, line in enumerate(lines, 1) if (source.name, number) not in bad)
    shutil.rmtree(folder / ".probe")
    mapping = FIXTURES / "mapped" / "mapping.json"
    report = import_catalog("mapped", folder / ".probe", products=FIXTURES / "mapped" / "products.csv",
                            mapping=mapping, search_backend="fts5", max_bad_rate=1.0)
    with (FIXTURES / "mapped" / "products.csv").open(newline="") as rows:
        table = list(csv.reader(rows))
    with closing(sqlite3.connect(folder / ".probe" / "catalog.db")) as db:
        kept = {row[0] for row in db.execute("SELECT id FROM products")}
    with (folder / "items.csv").open("w", newline="") as out:
        csv.writer(out).writerows([table[0], *(row for row in table[1:] if row and row[0] in kept)])
    shutil.rmtree(folder / ".probe")
    shutil.copy(mapping, folder / "mapping.json")


def test_the_readme_command_lines_run_as_written(tmp_path: Path) -> None:
    commands = [c for block in _blocks("bash") for c in _commands(block)
                if c.startswith("shopgym ") and not PLACEHOLDER.search(c)]
    assert any(c.startswith("shopgym catalog build") for c in commands)
    assert any("'battery_life>=30'" in c for c in commands)  # quoted: the shell must not read `>` as a redirect
    ran = set()
    for command in commands:
        folder = tmp_path / ("mapped" if "--format mapped" in command else "main")  # two imports, two dumps
        folder.mkdir(exist_ok=True)
        if not (folder / "items.csv").exists():
            _inputs(folder)
        done = _shell(command, folder)
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr
        ran.add(" ".join(command.split()[:3]))
    assert {"shopgym catalog build", "shopgym catalog stats", "shopgym catalog search", "shopgym catalog history",
            "shopgym catalog import"} <= ran
    assert not list((tmp_path / "main").glob("battery_life*")), "a redirect made a file"


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_the_readme_python_examples_run_as_written(world_dir: Path, tmp_path: Path, index: int) -> None:
    (tmp_path / "world").symlink_to(world_dir)  # the folder the build example makes
    done = subprocess.run([sys.executable, "-c", _blocks("python")[index]], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-3000:]
