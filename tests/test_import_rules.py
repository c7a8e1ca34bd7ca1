"""DESIGN.md's import table, enforced by parsing every module's imports with `ast`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# folder -> the shopgym packages its modules may import (besides themselves)
ALLOWED = {
    "catalog": set(),
    "envs": {"shopgym.catalog", "shopgym.schema"},
    "agents": {"shopgym.envs", "shopgym.schema", "shopgym.format", "shopgym.chat_template"},
    "distill": {"shopgym.schema", "shopgym.format"},
    "train": {"shopgym.schema", "shopgym.format", "shopgym.chat_template"},
}
# the prompt format is three modules: the format, the model's chat template, and the GGUF header it comes from
ROOT_MODULES = {"schema": set(), "format": {"shopgym.schema", "shopgym.chat_template"},
                "chat_template": {"shopgym.gguf_header"}, "gguf_header": set()}
HEAVY = ("torch", "transformers", "llama_cpp", "pandas", "sqlite_utils", "peft", "datasets", "ray")


def _imports(path: Path, package: str) -> set[str]:
    """Absolute names of every module `path` imports (relative imports resolved against `package`)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                names.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                names.add(node.module)
    return names


def _ours(names: set[str]) -> set[str]:
    return {n for n in names if n == "shopgym" or n.startswith("shopgym.")}


def _package_of(folder: str, path: Path) -> str:
    parts = path.relative_to(ROOT / folder).with_suffix("").parts
    return ".".join(["shopgym", folder, *parts[:-1]])


def test_stage_packages_import_only_what_the_table_allows() -> None:
    checked = 0
    for folder, allowed in ALLOWED.items():
        for path in sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).exists() else []:
            own = f"shopgym.{folder}"
            for name in _ours(_imports(path, _package_of(folder, path))):
                assert name == own or name.startswith(own + ".") or any(
                    name == a or name.startswith(a + ".") for a in allowed), f"{path.relative_to(ROOT)} imports {name}"
            checked += 1
    assert checked >= 10


def test_shared_root_modules_follow_the_table() -> None:
    for module, allowed in ROOT_MODULES.items():
        path = ROOT / "shopgym" / f"{module}.py"
        if path.exists():
            for name in _ours(_imports(path, "shopgym")):
                assert any(name == a or name.startswith(a + ".") for a in allowed), f"shopgym/{module}.py imports {name}"


def test_the_env_path_stays_light(world_dir: Path) -> None:
    """Importing the env, opening a catalog and stepping must not pull in heavy libraries or build-time tools."""
    probe = ("import sys; import shopgym.envs; from shopgym.envs import ProductResearchEnv; "
             "env = ProductResearchEnv(catalog=sys.argv[1]); env.reset(seed=0); "
             "env.step({'tool': 'search_products', 'arguments': {'query': 'battery'}}); "
             f"print(sorted(m for m in {HEAVY!r} + ('faker',) if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe, str(world_dir)], capture_output=True, text=True, cwd=ROOT.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_ray_is_imported_only_when_its_engine_is_chosen() -> None:
    probe = ("import sys; import shopgym.cli, shopgym.agents.generate, shopgym.agents.evaluate_llm; "
             "from shopgym.cli import build_parser; build_parser().parse_args(['generate', '--episodes', '1', "
             "'--out', 'x', '--engine', 'ray']); print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
