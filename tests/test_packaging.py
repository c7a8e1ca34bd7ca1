"""A built wheel installs into a clean venv and imports `shopgym.catalog` (no generic top-level names)."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_and_imports(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"),
                    str(ROOT)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("shopgym-*.whl"))
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert top_level == {"shopgym", f"shopgym-{wheel.name.split('-')[1]}.dist-info"}
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, system_site_packages=False)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True)
    site = subprocess.run([sys.executable, "-c", "import numpy, pydantic, os; print(os.path.dirname(os.path.dirname(numpy.__file__)))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    probe = ("import sys; sys.path.append(sys.argv[1]); import shopgym.catalog as c; "
             "assert 'site-packages' in c.__file__ and 'shopgym/catalog' in c.__file__; print(c.WorldConfig().products)")
    out = subprocess.run([str(python), "-c", probe, site], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2000"
