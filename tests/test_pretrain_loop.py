"""``python -m a2v_jax.pretrain`` end to end on tiny configs: files, resume, refusal, retrace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from a2v_jax.embed import load_embeddings
from a2v_jax.pretrain import PretrainConfig, run_pretraining
from a2v_jax.pretrain.checkpoint import WorkdirMismatchError

TINY = {"subset": 96, "prior_samples": 64, "batch_size": 16, "progress": False}
SUMMARY_FRACTIONS = (
    "acc_ops",
    "mean_corr_adj",
    "mean_fal_pos_adj",
    "acc_adj",
    "recon_exact",
    "validity",
    "validity_strict",
    "uniqueness",
)


@pytest.fixture
def no_table(monkeypatch):
    monkeypatch.delenv("A2V_NB201_DIR", raising=False)


@pytest.mark.slow
def test_cli__end_to_end_on_a_tiny_config(tmp_path, monkeypatch):
    monkeypatch.delenv("A2V_NB201_DIR", raising=False)
    workdir = tmp_path / "run"
    cmd = [sys.executable, "-m", "a2v_jax.pretrain", "--epochs", "2", "--seed", "5", "--preset", "default"]
    cmd += ["--subset", "64", "--prior-samples", "50", "--workdir", str(workdir), "--no-progress"]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ}, timeout=300)
    assert res.returncode == 0, res.stderr
    summary = json.loads((workdir / "summary.json").read_text())
    assert json.loads(res.stdout) == summary
    for key in SUMMARY_FRACTIONS:
        assert 0.0 <= summary[key] <= 1.0, key
    for key in ("wall_s", "device", "preset", "space", "epochs", "seed", "versions"):
        assert key in summary, key
    assert (summary["preset"], summary["space"], summary["epochs"], summary["seed"]) == (
        "default",
        "nb201",
        2,
        5,
    )
    lines = [json.loads(ln) for ln in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [ln["epoch"] for ln in lines] == [1, 2]
    emb = load_embeddings(workdir / "embeddings.npz")
    assert emb.features.shape == (64, 16) and emb.preset == "default" and emb.order == "benchmark"
    assert (workdir / "checkpoints" / "2").is_dir()


@pytest.mark.slow
def test_cli__bad_flag_value_gets_a_clear_error(tmp_path):
    cmd = [sys.executable, "-m", "a2v_jax.pretrain", "--epochs", "0", "--workdir", str(tmp_path / "w")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "--epochs must be at least 1" in res.stderr


def test_resume__killed_run_ends_equal_to_uninterrupted(tmp_path, no_table):
    full = run_pretraining(PretrainConfig(epochs=3, workdir=str(tmp_path / "full"), **TINY))
    # First process "dies" after epoch 2 (its summary and embeddings are never read) ...
    run_pretraining(PretrainConfig(epochs=2, workdir=str(tmp_path / "resumed"), **TINY))
    # ... and left a metrics line for an epoch whose checkpoint was never written.
    with (tmp_path / "resumed" / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"epoch": 3, "loss": -1.0}) + "\n")
    resumed = run_pretraining(PretrainConfig(epochs=3, workdir=str(tmp_path / "resumed"), **TINY))
    assert resumed["resumed_from_epoch"] == 2
    a = load_embeddings(tmp_path / "full" / "embeddings.npz").features
    b = load_embeddings(tmp_path / "resumed" / "embeddings.npz").features
    np.testing.assert_array_equal(a, b)
    for key in ("acc_ops", "acc_adj", "validity", "loss"):
        assert full[key] == resumed[key], key
    lines = [json.loads(ln) for ln in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [ln["epoch"] for ln in lines] == [1, 2, 3]
    assert lines[2]["loss"] == full["loss"]


def test_workdir__another_config_is_refused(tmp_path, no_table):
    run_pretraining(PretrainConfig(epochs=1, workdir=str(tmp_path / "w"), **TINY))
    with pytest.raises(WorkdirMismatchError, match="preset"):
        run_pretraining(PretrainConfig(epochs=1, preset="default", workdir=str(tmp_path / "w"), **TINY))


def test_population__members_match_single_runs_and_compile_once(tmp_path, no_table, monkeypatch):
    from a2v_jax.pretrain import loop

    made = []
    original = loop.Programs

    def spy(*args, **kwargs):
        made.append(original(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(loop, "Programs", spy)
    pop = run_pretraining(
        PretrainConfig(epochs=2, seed=7, population=2, workdir=str(tmp_path / "pop"), **TINY)
    )
    assert made[0].epoch._cache_size() == 1  # two epochs, one compiled program
    single = run_pretraining(PretrainConfig(epochs=2, seed=8, workdir=str(tmp_path / "one"), **TINY))
    with np.load(tmp_path / "pop" / "embeddings.npz") as f:
        pop_feats = f["features_population"]
    one = load_embeddings(tmp_path / "one" / "embeddings.npz").features
    # Same seed, same data: equal up to float reassociation, which Adam's sign-like early steps
    # amplify (exact equality of vmap vs loop is tested with SGD in test_pretrain_steps.py).
    np.testing.assert_allclose(pop_feats[1], one, atol=2e-2)
    assert pop["population_seeds"] == [7, 8]
    first = [json.loads(ln) for ln in (tmp_path / "pop" / "metrics.jsonl").read_text().splitlines()][0]
    first_single = json.loads((tmp_path / "one" / "metrics.jsonl").read_text().splitlines()[0])
    np.testing.assert_allclose(first["population"][1]["loss"], first_single["loss"], rtol=1e-4)
    assert abs(pop["population"][1]["loss"] - single["loss"]) < 1e-2


def _snapshot(root) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (a refused run must leave them as they were)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_workdir__fewer_epochs_than_done_is_refused_and_nothing_changes(tmp_path, no_table):
    run_pretraining(PretrainConfig(epochs=2, workdir=str(tmp_path / "w"), **TINY))
    before = _snapshot(tmp_path / "w")
    with pytest.raises(WorkdirMismatchError, match="2 completed epochs; --epochs 1"):
        run_pretraining(PretrainConfig(epochs=1, workdir=str(tmp_path / "w"), **TINY))
    assert _snapshot(tmp_path / "w") == before
    # The same epochs again rewrites the outputs from the last checkpoint, truly labelled.
    again = run_pretraining(PretrainConfig(epochs=2, workdir=str(tmp_path / "w"), **TINY))
    assert again["epochs"] == 2 and again["resumed_from_epoch"] == 2
    lines = (tmp_path / "w" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(ln)["epoch"] for ln in lines] == [1, 2]


def test_workdir__a_file_is_refused_before_any_work(tmp_path, no_table):
    from a2v_jax.pretrain.checkpoint import WorkdirError

    (tmp_path / "f").write_text("not a directory")
    with pytest.raises(WorkdirError, match="is a file, not a directory"):
        run_pretraining(PretrainConfig(epochs=1, workdir=str(tmp_path / "f"), **TINY))
    with pytest.raises(WorkdirError, match="a parent is a file"):
        run_pretraining(PretrainConfig(epochs=1, workdir=str(tmp_path / "f" / "w"), **TINY))
    assert (tmp_path / "f").read_text() == "not a directory"


def test_workdir__a_live_lock_refuses_a_dead_one_is_taken_over(tmp_path, no_table):
    import socket

    from a2v_jax.pretrain.checkpoint import LOCK_NAME, WorkdirBusyError

    w = tmp_path / "w"
    w.mkdir()
    live = {"host": socket.gethostname(), "pid": os.getppid(), "started": 0.0}
    (w / LOCK_NAME).write_text(json.dumps(live))
    with pytest.raises(WorkdirBusyError, match=f"process {os.getppid()} on {socket.gethostname()}"):
        run_pretraining(PretrainConfig(epochs=1, workdir=str(w), **TINY))
    assert _snapshot(w) == {LOCK_NAME: json.dumps(live).encode()}
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    (w / LOCK_NAME).write_text(json.dumps({**live, "pid": int(gone.stdout)}))
    run_pretraining(PretrainConfig(epochs=1, workdir=str(w), **TINY))
    assert not (w / LOCK_NAME).exists()  # released at the end
    assert (w / "summary.json").exists()


@pytest.mark.slow
def test_workdir__a_second_run_is_refused_while_the_first_writes(tmp_path):
    w = tmp_path / "w"
    cmd = [sys.executable, "-m", "a2v_jax.pretrain", "--epochs", "3", "--subset", "96", "--batch-size", "16"]
    cmd += ["--prior-samples", "64", "--no-progress", "--workdir", str(w)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # the first run takes the lock before it loads anything
            if (w / ".lock").exists() or first.poll() is not None:
                break
            time.sleep(0.1)
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == 2 and "is in use by process" in second.stderr, second.stderr
    assert "Traceback" not in second.stderr
    lines = (w / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(ln)["epoch"] for ln in lines] == [1, 2, 3]


def test_batch_size__larger_than_the_training_set_is_clamped_with_a_warning(tmp_path, no_table, capsys):
    cfg = {**TINY, "batch_size": 500}  # 96 graphs: 86 train
    summary = run_pretraining(PretrainConfig(epochs=1, workdir=str(tmp_path / "w"), **cfg))
    assert "--batch-size 500 is larger than the 86 training graphs; using 86" in capsys.readouterr().err
    stored = json.loads((tmp_path / "w" / "config.json").read_text())
    assert stored["train"]["batch_size"] == 86 and summary["num_train"] == 86
