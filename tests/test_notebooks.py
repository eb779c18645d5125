"""Every notebook in notebooks/ runs top to bottom (nbclient, small mode) without an error.

The notebooks read ``A2V_NOTEBOOK_SMALL=1`` in their first code cell and shrink epochs, seeds and
budgets; they share pre-training runs through ``A2V_NOTEBOOK_RUNS`` (one directory per test session,
so the first notebook that needs a run trains it and the others reuse it). They need the real
NAS-Bench-201 tables and skip without them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # subprocesses / notebooks / the DARTS network: pytest -m 'not slow' skips

nbformat = pytest.importorskip(
    "nbformat", reason="the notebooks extra is not installed (pip install -e .[notebooks])"
)
nbclient = pytest.importorskip(
    "nbclient", reason="the notebooks extra is not installed (pip install -e .[notebooks])"
)
pytest.importorskip("ipykernel", reason="the notebooks extra is not installed (pip install -e .[notebooks])")
pytest.importorskip("matplotlib", reason="the notebooks extra is not installed (pip install -e .[notebooks])")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300


@pytest.fixture(scope="session")
def notebook_runs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("notebook_runs")


def test_notebooks__are_committed_without_outputs():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} cell {i} has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook__runs_top_to_bottom_in_small_mode(path, nb201_dir, notebook_runs, monkeypatch):
    monkeypatch.setenv("A2V_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("A2V_NOTEBOOK_RUNS", str(notebook_runs))
    monkeypatch.setenv("A2V_NB201_DIR", str(nb201_dir))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    t0 = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:  # names the cell and the traceback
        pytest.fail(f"{path.name} failed:\n{e}")
    print(f"{path.name}: {time.perf_counter() - t0:.1f} s in small mode")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0]}"
    assert os.environ["A2V_NOTEBOOK_SMALL"] == "1"
