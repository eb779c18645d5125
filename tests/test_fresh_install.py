"""A fresh machine: no data configured, no ``../shared``; pretraining, search and the data check run on the
tables installed with the package, and every report says where its numbers came from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from a2v_jax.data import DATASETS
from a2v_jax.embed import load_embeddings
from a2v_jax.spaces.nb201 import NUM_CELLS

pytestmark = pytest.mark.slow  # subprocesses / notebooks / the DARTS network: pytest -m 'not slow' skips

REPO_ROOT = Path(__file__).resolve().parents[1]


def _fresh_env(home: Path) -> dict[str, str]:
    """The environment minus every A2V_* data variable, with a private home (so a private cache)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("A2V_")}
    if "A2V_JAX_CACHE_DIR" in os.environ:  # the session's compilation cache: speed only, no data
        env["A2V_JAX_CACHE_DIR"] = os.environ["A2V_JAX_CACHE_DIR"]
    env["HOME"] = str(home)
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A working directory with nothing beside it, and its environment."""
    root = tmp_path_factory.mktemp("fresh")
    (root / "home").mkdir()
    (root / "work").mkdir()
    assert not (root / "shared").exists()
    return root / "work", _fresh_env(root / "home")


@pytest.fixture(scope="module")
def pretrained(fresh):
    cwd, env = fresh
    args = [
        "a2v_jax.pretrain",
        "--epochs",
        "2",
        "--prior-samples",
        "200",
        "--workdir",
        "run",
        "--no-progress",
    ]
    _run(args, cwd, env)
    return cwd / "run"


def test_fresh__pretraining_uses_the_benchmark_index_order(pretrained):
    config = json.loads((pretrained / "config.json").read_text())
    assert config["order"] == "benchmark"
    emb = load_embeddings(pretrained / "embeddings.npz")
    assert emb.features.shape == (NUM_CELLS, 16) and emb.order == "benchmark"
    np.testing.assert_array_equal(emb.index, np.arange(NUM_CELLS))
    summary = json.loads((pretrained / "summary.json").read_text())
    assert summary["epochs"] == 2


@pytest.mark.parametrize("dataset", DATASETS)
def test_fresh__search_on_the_packaged_tables_reports_absent_test_accuracies(fresh, pretrained, dataset):
    cwd, env = fresh
    out = cwd / f"{dataset}.json"
    args = ["a2v_jax.search", "--dataset", dataset, "--method", "rl", "--seeds", "20", "--preset", "paper"]
    args += ["--embeddings", str(pretrained / "embeddings.npz"), "--out", str(out), "--no-progress"]
    proc = _run(args, cwd, env)
    summary = json.loads(out.read_text())["summary"]
    assert summary["table_source"] == "packaged" and summary["test_source"] is None
    assert summary["test_mean"] is None and summary["seeds"] == 20
    assert summary["test_note"].startswith("no test accuracies") and "--test-data" in summary["test_note"]
    assert 0 < summary["valid_mean"] <= 100
    assert "no test accuracies configured" in proc.stdout
    assert ("valid_model_test_mean" in summary) == (dataset == "cifar10")


def test_fresh__data_check_names_its_source(fresh):
    cwd, env = fresh
    proc = _run(["a2v_jax.data", "check", "nb201", "--dataset", "cifar100"], cwd, env)
    out = json.loads(proc.stdout)
    assert out["source"] == "packaged" and out["test_source"] is None
    assert out["runnable"]["arch2vec/cifar100"]["can_run"]
