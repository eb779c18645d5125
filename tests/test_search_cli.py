"""``python -m a2v_jax.search`` end to end on small pools, and the embeddings checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from a2v_jax.data import DATASETS, NB201DatasetResults, NB201Table
from a2v_jax.search import __main__ as cli
from a2v_jax.search import nb201
from a2v_jax.search.config import SearchConfig
from a2v_jax.spaces.nb201 import all_codes, arch_str_from_codes

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("A2V_NB201_DIR", REPO.parent / "shared" / "data" / "nb201"))


def synthetic_table(seed=0) -> NB201Table:
    """625 NB201 cells (edges 4, 5 'none') with made-up results on all three datasets."""
    codes = all_codes()
    codes = codes[(codes[:, 4] == 0) & (codes[:, 5] == 0)]
    p = codes.shape[0]
    rng = np.random.default_rng(seed)
    quality = -np.abs(codes[:, :4].astype(float) - 3).sum(1)  # (P,)
    datasets = {}
    for k, ds in enumerate(DATASETS):
        runs = 60 + 5 * quality[:, None] + rng.normal(scale=1.0, size=(p, 3)) + k
        datasets[ds] = NB201DatasetResults(
            valid_runs=runs,
            n_runs=np.full(p, 3, np.int8),
            valid_mean=runs.mean(1),
            test_mean=runs.mean(1) + rng.normal(scale=0.3, size=p),
            train_time_s=rng.uniform(1000, 3000, size=p) * (k + 1),
            valid_12ep=runs.mean(1) - 10,
            valid_time_s=np.full(p, 5.0) if ds == "cifar10" else None,
            latency_s=rng.uniform(0.006, 0.028, size=p),
        )
    return NB201Table(
        source="shared-csv",
        path="<synthetic>",
        checksum="synthetic",
        arch_str=np.array([arch_str_from_codes(c) for c in codes]),
        codes=codes,
        datasets=datasets,
    )


def write_embeddings(path: Path, arch_str, d=16, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    np.savez(
        path,
        features=rng.normal(size=(len(arch_str), d)).astype(np.float32),
        arch_str=np.asarray(arch_str),
        index=np.full(len(arch_str), -1, np.int64),
        checkpoint=np.array("ckpt/synthetic"),
        space=np.array("nb201"),
        preset=np.array("default"),
        seed=np.array(0),
    )
    return path


@pytest.fixture
def table(monkeypatch):
    t = synthetic_table()
    monkeypatch.setattr(nb201, "load_nb201", lambda *a, **k: t)
    return t


def _check_report(rep: dict, table: NB201Table, method: str, n_seeds: int, pool_rows=None, overshoot=False):
    s = rep["summary"]
    assert set(nb201.SUMMARY_KEYS) <= set(s)
    assert s["method"] == method and s["seeds"] == n_seeds == len(rep["runs"])
    ds = s["dataset"]
    budget = s["budget_s"]
    valids = []
    for r in rep["runs"]:
        i = r["index"]
        assert table.arch_str[i] == r["arch_str"]
        if pool_rows is not None:
            assert i in pool_rows
        assert r["valid_mean"] == pytest.approx(table.datasets[ds].valid_mean[i])
        assert r["test_mean"] == pytest.approx(table.datasets[ds].test_mean[i])
        traj = r["trajectory"]
        assert len(traj["spent_s"]) == r["queries"] == len(traj["best_index"])
        assert traj["best_index"][-1] == i and traj["spent_s"][-1] == pytest.approx(r["spent_s"], abs=1e-2)
        assert np.all(np.diff(traj["best_signal"]) >= 0)
        assert traj["best_signal"][-1] == pytest.approx(r["signal"], abs=1e-6)
        if overshoot:
            assert len(traj["spent_s"]) < 2 or traj["spent_s"][-2] < budget
        else:
            assert r["spent_s"] <= budget
        valids.append(r["valid_mean"])
    assert s["valid_mean"] == pytest.approx(np.mean(valids))
    assert s["valid_std"] == pytest.approx(np.std(valids))
    assert 0.0 <= s["frac_found_best"] <= 1.0
    # Seeds that found the pool's best signal all report the largest signal of any seed.
    top = np.mean([r["signal"] == max(x["signal"] for x in rep["runs"]) for r in rep["runs"]])
    assert 0.0 <= s["frac_found_best_signal"] <= top


def test_cli__rl_end_to_end_on_a_small_pool(table, tmp_path, capsys):
    rng = np.random.default_rng(1)
    rows = rng.choice(len(table), 300, replace=False)
    emb = write_embeddings(tmp_path / "embeddings.npz", table.arch_str[rows])
    out = tmp_path / "res" / "rl.json"
    argv = ["--space", "nb201", "--dataset", "cifar10", "--method", "rl", "--seeds", "3", "--preset", "paper"]
    argv += ["--embeddings", str(emb), "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    assert "rl/paper cifar10" in capsys.readouterr().out
    rep = json.loads(out.read_text())
    _check_report(rep, table, "rl", 3, pool_rows=set(rows.tolist()), overshoot=True)
    s = rep["summary"]
    assert (s["preset"], s["protocol"], s["budget_s"]) == ("paper", "arch2vec", 12000.0)
    assert s["pool_size"] == 300 and s["embeddings"]["checkpoint"] == "ckpt/synthetic"
    assert [r["seed"] for r in rep["runs"]] == [1, 2, 3]


@pytest.mark.parametrize("method", ["random", "rea", "ls"])
def test_cli__baselines_without_embeddings_use_the_whole_table(table, tmp_path, method):
    out = tmp_path / f"{method}.json"
    argv = ["--dataset", "cifar100", "--method", method, "--seeds", "4", "--preset", "default"]
    argv += ["--budget-s", "40000", "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    rep = json.loads(out.read_text())
    _check_report(rep, table, method, 4)
    assert rep["summary"]["budget_s"] == 40000.0 and rep["summary"]["pool_size"] == len(table)


def test_cli__cost_override_charges_the_chosen_cost(table, tmp_path, capsys):
    spent = {}
    for cost in (None, "train_200ep"):
        out = tmp_path / f"{cost}.json"
        argv = ["--dataset", "cifar100", "--method", "random", "--seeds", "3", "--budget-s", "30000"]
        argv += ["--out", str(out), "--no-progress"] + ([] if cost is None else ["--cost", cost])
        assert cli.main(argv) == 0
        rep = json.loads(out.read_text())
        assert rep["summary"]["cost"] == (cost or "arch2vec_estimate")
        spent[cost] = [r["trajectory"]["spent_s"] for r in rep["runs"]]
    # random search queries the same cells either way; only what each query costs differs
    first = [r[0] for r in spent[None]], [r[0] for r in spent["train_200ep"]]
    assert first[0] != first[1]
    argv = [
        "--space",
        "nb101",
        "--method",
        "random",
        "--cost",
        "train_200ep",
        "--out",
        str(tmp_path / "n.json"),
    ]
    assert cli.main(argv) == 2
    assert "--cost applies to nb201 only" in capsys.readouterr().err


def test_cli__nb201_protocol_reports_every_dataset(table, tmp_path):
    out = tmp_path / "nb201.json"
    argv = ["--dataset", "cifar10", "--method", "random", "--seeds", "2", "--protocol", "nb201"]
    argv += ["--out", str(out), "--no-progress", "--no-trajectories"]
    assert cli.main(argv) == 0
    rep = json.loads(out.read_text())
    assert set(rep["summary"]["per_dataset"]) == set(DATASETS)
    r = rep["runs"][0]
    assert "trajectory" not in r
    for ds in DATASETS:
        assert r["per_dataset"][ds]["valid_mean"] == pytest.approx(table.datasets[ds].valid_mean[r["index"]])


def test_search__rl_needs_embeddings_and_they_must_match(table, tmp_path):
    with pytest.raises(ValueError, match="--embeddings"):
        nb201.run(SearchConfig(dataset="cifar10", method="rl", preset="default", seeds=1, progress=False))
    bad = write_embeddings(tmp_path / "bad.npz", ["|none~0|+|none~0|none~1|+|none~0|none~1|conv~2|"])
    with pytest.raises(nb201.EmbeddingsError, match="does not match the table"):
        nb201.run(
            SearchConfig(
                dataset="cifar10", method="rl", preset="default", seeds=1, embeddings=bad, progress=False
            )
        )


@pytest.mark.skipif(
    not (DATA_DIR / "nb201_200ep.csv.gz").exists(), reason=f"NAS-Bench-201 data not found in {DATA_DIR}"
)
def test_cli__real_table_small_pool(tmp_path):
    from a2v_jax.data import load_nb201

    table = load_nb201(DATA_DIR)
    rows = np.random.default_rng(0).choice(len(table), 400, replace=False)
    emb = write_embeddings(tmp_path / "embeddings.npz", table.arch_str[rows])
    out = tmp_path / "real.json"
    argv = ["--dataset", "imagenet16", "--method", "rl", "--seeds", "2", "--preset", "default"]
    argv += ["--embeddings", str(emb), "--data-dir", str(DATA_DIR), "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    rep = json.loads(out.read_text())
    _check_report(rep, table, "rl", 2, pool_rows=set(rows.tolist()))
    assert rep["summary"]["budget_s"] == 1_400_000.0


def test_cli__bad_input_exits_2_with_a_message(table, tmp_path, capsys):
    argv = ["--dataset", "cifar10", "--method", "rl", "--seeds", "1", "--out", str(tmp_path / "x.json")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--embeddings" in err
    assert not (tmp_path / "x.json").exists()
