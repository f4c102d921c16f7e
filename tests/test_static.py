"""Static checks, run by the README's test command (so CI runs them): ruff, mypy, test names.

ruff lints and checks formatting of the package, tests, benchmarks and scripts; mypy checks the
package with the configuration in ``pyproject.toml`` (strict on the numeric core). Each is
skipped with a reason when the tool is not installed (``pip install -e ".[test]"`` brings both).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["belief", "tests", "benchmarks", "scripts"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_ruff_lint():
    done = _run("ruff", "check", *PATHS)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_ruff_format():
    done = _run("ruff", "format", "--check", *PATHS)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy():
    done = _run("mypy", "belief")
    assert done.returncode == 0, done.stdout + done.stderr


def test_test_files_have_unique_basenames():
    """pytest imports test modules by basename (no __init__.py): a clash is a collection error
    on a clean clone, which a run of one directory at a time does not show."""
    names = [p.name for p in ROOT.joinpath("tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
