"""Execute every example notebook (examples/*.ipynb) and fail on any error.

The notebooks run with the working directory ``examples/`` (they find the seed case as
``../seeds/khasham.yaml``) and with ``BELIEF_FAST=1``, which they read to shrink simulation and
sampling sizes so that the whole set runs in about a minute. A notebook whose metadata lists
``{"belief": {"requires": [module, ...]}}`` is skipped, with the reason, if a module is missing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))

pytestmark = pytest.mark.notebook


def test_there_are_notebooks():
    assert any(nb.name == "01_khasham.ipynb" for nb in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    for module in nb.metadata.get("belief", {}).get("requires", []):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{path.name} needs {module}, which is not in this checkout")
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        f"{path.name}: strip the outputs before committing"
    )
    monkeypatch.setenv("BELIEF_FAST", "1")
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
