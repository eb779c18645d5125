"""Search on NAS-Bench-101: ``python -m a2v_jax.search --space nb101`` end to end, regret bookkeeping.

The benchmark file is a synthetic ``nasbench_only108.tfrecord`` of a few hundred made-up cells in the
official format, written by the writer of ``test_data_nb101``; the embeddings are random.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import load_benchmark
from test_data_nb101 import evaluation, model_metrics, record, write

from a2v_jax.data import get_nb101_protocol, load_nb101, nb101_protocol_arrays
from a2v_jax.data.nb101 import BEST_TEST, BEST_VALID, ENV_NB101_DIR, OPS
from a2v_jax.embed import EmbeddingsError, load_embeddings
from a2v_jax.search import __main__ as cli
from a2v_jax.search import nb101

NUM_CELLS = 240


def _cells(n_cells: int, seed: int = 0):
    """Distinct random upper-triangular cells of 2..7 nodes (at most 9 edges) with made-up results."""
    rng = np.random.default_rng(seed)
    cells = []
    for c in range(n_cells):
        n = int(rng.integers(3, 8))
        m = np.triu(rng.random((n, n)) < 0.35, 1).astype(int)
        for j in range(1, n):  # every node reachable: a chain edge
            m[j - 1, j] = 1
        while m.sum() > 9:
            i, j = np.argwhere(np.triu(m, 2))[0]
            m[i, j] = 0
        ops = ["input", *(OPS[1 + int(k)] for k in rng.integers(0, 3, n - 2)), "output"]
        h = hashlib.md5(f"cell{c}".encode()).hexdigest()
        quality = 0.80 + 0.12 * rng.random()  # below the benchmark's best (0.9506 / 0.9432)
        cells.append((h, m.tolist(), ops, quality, float(rng.uniform(600.0, 2400.0))))
    return cells


def _records(cells, seed: int = 1) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for _rep in range(3):
        for h, m, ops, q, t in cells:
            v = q + 0.004 * rng.standard_normal()
            test = v - 0.01 + 0.003 * rng.standard_normal()
            tt = t * (1 + 0.02 * rng.standard_normal())
            evals = [
                evaluation(0.0, 0.0, 0.1, 0.1, 0.1),
                evaluation(54.0, tt / 2, 0.8, v - 0.1, test - 0.1),
                evaluation(108.0, tt, 1.0, v, test),
            ]
            out.append(record(h, 108, m, ops, model_metrics(100_000, evals)))
    return out


@pytest.fixture(scope="module")
def nb101_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("nb101")
    write(d / "nasbench_only108.tfrecord", _records(_cells(NUM_CELLS)))
    return d


@pytest.fixture
def env(monkeypatch, tmp_path, nb101_dir):
    monkeypatch.delenv(ENV_NB101_DIR, raising=False)
    monkeypatch.setenv("A2V_CACHE_DIR", str(tmp_path / "cache"))
    return nb101_dir


@pytest.fixture
def table(env):
    return load_nb101(env)


def _embeddings(path: Path, hashes, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    np.savez(
        path,
        features=rng.normal(size=(len(hashes), 16)).astype(np.float32),
        arch_str=np.asarray(hashes),
        checkpoint=np.array("ckpt/synthetic-nb101"),
        space=np.array("nb101"),
    )
    return path


def _run_cli(argv: list[str]) -> int:
    return cli.main([*argv, "--no-progress"])


def _check_report(rep: dict, table, method: str, n_seeds: int, budget: float | None, overshoot: bool):
    """Every per-seed number recomputed from the queried cells alone."""
    s = rep["summary"]
    assert set(nb101.NB101_SUMMARY_KEYS) <= set(s)
    assert (
        (s["space"], s["method"], s["seeds"])
        == ("nb101", method, n_seeds)
        == ("nb101", method, len(rep["runs"]))
    )
    assert s["anchors"]["best_valid"] == BEST_VALID and s["anchors"]["best_test"] == BEST_TEST
    assert s["anchors"]["match_pool"] is False  # a synthetic table: regrets are relative to the constants
    valid, test, cost = table.valid_mean, table.test_mean, table.train_time_mean
    finals, at_1e5 = [], []
    for r in rep["runs"]:
        tr = r["trajectory"]
        q = np.asarray(tr["queried"])
        assert len(q) == r["queries"] == len(tr["spent_s"]) == len(tr["regret_test"])
        np.testing.assert_allclose(tr["spent_s"], np.cumsum(cost[q]), rtol=1e-5)
        # The incumbent: the first cell reaching the best validation accuracy so far (float32 signal).
        sig = valid[q].astype(np.float32)
        best = np.array([q[int(np.argmax(sig[: k + 1]))] for k in range(len(q))])
        np.testing.assert_array_equal(tr["best_index"], best)
        np.testing.assert_allclose(tr["regret_validation"], BEST_VALID - valid[best], rtol=0, atol=1e-12)
        np.testing.assert_allclose(tr["regret_test"], BEST_TEST - test[best], rtol=0, atol=1e-12)
        assert np.all(np.diff(tr["regret_validation"]) <= 0)
        assert r["index"] == best[-1] and r["hash"] == table.hash[best[-1]]
        assert r["valid_mean"] == pytest.approx(100 * valid[best[-1]])
        assert r["test_mean"] == pytest.approx(100 * test[best[-1]])
        assert r["regret_test"] == pytest.approx(BEST_TEST - test[best[-1]])
        if budget is not None:
            if overshoot:
                assert len(q) < 2 or tr["spent_s"][-2] < budget
            else:
                assert r["spent_s"] <= budget * (1 + 1e-6)
        # plot_cdf's rule: the incumbent after the first query past 1e5 s (the last one if none).
        k = int(np.searchsorted(tr["spent_s"], 1e5, side="right"))
        at_1e5.append(tr["regret_test"][min(k, len(q) - 1)])
        assert r["regret_test_at"]["1e5"] == pytest.approx(at_1e5[-1])
        finals.append(r["regret_test"])
    assert s["regret_test_final"]["mean"] == pytest.approx(np.mean(finals))
    assert s["regret_test_at"]["1e5"]["mean"] == pytest.approx(np.mean(at_1e5))
    # The curve: by query index, truncated to the shortest run, x = mean runtime.
    n = min(r["queries"] for r in rep["runs"])
    c = s["curve"]
    assert c["truncated_to"] == n
    x = np.mean([r["trajectory"]["spent_s"][:n] for r in rep["runs"]], axis=0)
    y = np.mean([r["trajectory"]["regret_test"][:n] for r in rep["runs"]], axis=0)
    keep = x <= (c["x_max"] if c["x_max"] is not None else np.inf)
    np.testing.assert_allclose(c["runtime"], x[keep], rtol=1e-6)
    np.testing.assert_allclose(c["regret_test"], y[keep], rtol=0, atol=1e-9)


def test_cli__rl_on_nb101_end_to_end(table, env, tmp_path, capsys):
    rng = np.random.default_rng(3)
    rows = rng.choice(len(table), 200, replace=False)
    emb = _embeddings(tmp_path / "emb.npz", table.hash[rows])
    out = tmp_path / "rl.json"
    argv = ["--space", "nb101", "--method", "rl", "--preset", "paper", "--seeds", "3", "--budget-s", "1e5"]
    assert _run_cli([*argv, "--embeddings", str(emb), "--data-dir", str(env), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "rl/paper nb101 (arch2vec" in printed
    rep = json.loads(out.read_text())
    _check_report(rep, table, "rl", 3, budget=1e5, overshoot=True)
    s = rep["summary"]
    top = s["most_found"]
    hashes = [r["hash"] for r in rep["runs"]]
    assert top["arch_str"] in hashes and top["seeds"] == hashes.count(top["arch_str"]) == max(
        map(hashes.count, hashes)
    )
    assert f"most found: {top['arch_str']} in {top['seeds']} of 3 seeds" in printed
    assert (s["protocol"], s["budget_s"], s["pool_size"]) == ("arch2vec", 1e5, 200)
    assert s["overrides"] == {"skip_nearest": False, "baseline_value": 0.95}
    assert s["curve"]["x_max"] == 1e6 and s["embeddings"]["checkpoint"] == "ckpt/synthetic-nb101"
    assert {r["index"] for r in rep["runs"]} <= set(rows.tolist())


def test_cli__bo_on_nb101_end_to_end(table, env, tmp_path):
    emb = _embeddings(tmp_path / "emb.npz", table.hash)
    out = tmp_path / "bo.json"
    argv = ["--space", "nb101", "--method", "bo", "--preset", "paper", "--seeds", "2", "--budget-s", "5e4"]
    assert _run_cli([*argv, "--embeddings", str(emb), "--data-dir", str(env), "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    _check_report(rep, table, "bo", 2, budget=5e4, overshoot=True)
    s = rep["summary"]
    assert s["overrides"] == {"topk": 5, "ei_target": 0.95, "fit_key": "run"}
    assert s["mean_queries"] > 16  # past the 16 random initial queries: DNGO proposals were queried


def test_q150__makes_exactly_150_queries(table, env, tmp_path):
    out = tmp_path / "q150.json"
    argv = ["--space", "nb101", "--method", "random", "--protocol", "q150", "--seeds", "2"]
    assert _run_cli([*argv, "--data-dir", str(env), "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    s = rep["summary"]
    assert (s["protocol"], s["budget_s"], s["max_queries"], s["curve"]["x_max"]) == ("q150", None, 150, None)
    assert [r["queries"] for r in rep["runs"]] == [150, 150]
    assert s["curve"]["truncated_to"] == 150 and len(s["curve"]["runtime"]) == 150
    _check_report(rep, table, "random", 2, budget=None, overshoot=False)
    # The clock still runs: 150 queries of 600-2400 s each.
    assert all(150 * 600 < r["spent_s"] < 150 * 2400 * 1.1 for r in rep["runs"])


def test_cli__missing_nb101_data_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(ENV_NB101_DIR, raising=False)
    argv = ["--space", "nb101", "--method", "random", "--seeds", "1", "--out", str(tmp_path / "x.json")]
    assert _run_cli(argv) == 2
    err = capsys.readouterr().err
    assert "no NAS-Bench-101 data configured" in err and ENV_NB101_DIR in err and "--data-dir" in err
    assert _run_cli([*argv, "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such file or directory" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_cli__nb101_rejects_nb201_arguments(env, tmp_path, capsys):
    base = ["--space", "nb101", "--seeds", "1", "--data-dir", str(env), "--out", str(tmp_path / "x.json")]
    assert _run_cli([*base, "--method", "rea"]) == 2
    assert "not available on NB101" in capsys.readouterr().err
    assert _run_cli([*base, "--method", "random", "--protocol", "nb201"]) == 2
    assert "nb101 has arch2vec | q150" in capsys.readouterr().err
    assert _run_cli([*base, "--method", "random", "--dataset", "cifar100"]) == 2
    assert "CIFAR-10 benchmark" in capsys.readouterr().err


def test_build_nb101_pool__unknown_hash_names_the_row(table, tmp_path):
    hashes = list(table.hash[:5])
    hashes[3] = "e" * 32
    emb = load_embeddings(_embeddings(tmp_path / "emb.npz", hashes))
    with pytest.raises(EmbeddingsError, match=r"arch_str row 3 \('e{32}'\)"):
        nb101.build_nb101_pool(table, get_nb101_protocol("arch2vec"), embeddings=emb)


def test_nb101_protocol_arrays__signal_and_cost(table):
    signal, cost = nb101_protocol_arrays(table, get_nb101_protocol("arch2vec"))
    np.testing.assert_allclose(signal, table.valid_runs.mean(1), rtol=1e-6)
    np.testing.assert_allclose(cost, table.train_time_runs.mean(1), rtol=1e-6)
    assert get_nb101_protocol("arch2vec").budget_s == 1.5e6
    with pytest.raises(ValueError, match="unknown NB101 search protocol"):
        get_nb101_protocol("q100")


def test_nb101_presets__the_original_nb101_settings():
    from a2v_jax.search import get_strategy, strategy_config

    rl = strategy_config("rl", "paper", "nb101")
    assert (rl.skip_nearest, rl.baseline, rl.baseline_value, rl.block_initial) == (
        False,
        "constant",
        0.95,
        True,
    )
    assert strategy_config("rl", "default", "nb101").skip_nearest is False
    bo = strategy_config("bo", "paper", "nb101")
    assert (bo.topk, bo.ei_target, bo.fit_key, bo.init_size, bo.acquisition) == (
        5,
        0.95,
        "run",
        16,
        "fixed_target",
    )
    assert strategy_config("bo", "default", "nb101").topk == 5
    for method in nb101.NB101_METHODS:
        for preset in ("paper", "default"):
            get_strategy(method, preset, "nb101")  # every NB101 config builds


def test_regret_at__plot_cdf_rule():
    rt = np.array([10.0, 20.0, 30.0])
    reg = np.array([0.3, 0.2, 0.1])
    assert nb101.regret_at(rt, reg, 5.0) == 0.3  # the first query already passes t
    assert nb101.regret_at(rt, reg, 20.0) == 0.1  # strictly past t: the query ending at 30
    assert nb101.regret_at(rt, reg, 1e6) == 0.1  # never passes: final
    assert np.isnan(nb101.regret_at(rt[:0], reg[:0], 1.0))


def test_average_by_query__truncates_and_drops_past_x_max():
    rts = [np.array([1.0, 3.0, 5.0]), np.array([3.0, 5.0])]
    vals = {"r": [np.array([0.5, 0.4, 0.1]), np.array([0.3, 0.2])]}
    c = nb101.average_by_query(rts, vals, x_max=3.5)
    assert c["truncated_to"] == 2 and c["queries"] == [1] and c["runtime"] == [2.0] and c["r"] == [0.4]
    assert nb101.average_by_query(rts, vals)["r"] == pytest.approx([0.4, 0.3])


def _fake_report(x, y, seeds=3) -> dict:
    curve = {"runtime": list(x), "regret_test": list(y), "regret_validation": list(y), "x_max": 1e6}
    return {"summary": {"space": "nb101", "seeds": seeds, "curve": curve}}


def test_plot_nb101_regret__log_log_lines_and_published_points():
    from a2v_jax.analysis.curves import nb101_regret_curve
    from a2v_jax.analysis.plots import plot_nb101_regret

    rep = _fake_report([1e3, 1e4, 1e5, 9e5], [0.02, 0.0, 0.005, 0.002])
    x, y = nb101_regret_curve(rep)
    np.testing.assert_array_equal(x, [1e3, 1e4, 1e5, 9e5])
    fig = plot_nb101_regret({"rl/paper": rep})
    ax = fig.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    ours, rl_pub, bo_pub = ax.get_lines()
    np.testing.assert_array_equal(ours.get_xdata(), [1e3, 1e5, 9e5])  # the zero regret is not drawable
    np.testing.assert_allclose(ours.get_ydata(), [2.0, 0.5, 0.2])  # percentage points, as every figure
    expected = [100 * BEST_TEST - 92.67, 100 * BEST_TEST - 93.66, 0.209]
    np.testing.assert_allclose(rl_pub.get_ydata(), expected)
    assert ax.get_ylabel() == "test regret (pp)"
    assert bo_pub.get_label() == "arch2vec-BO (published)"
    with pytest.raises(ValueError, match="not an NB101 search report"):
        nb101_regret_curve({"summary": {"space": "nb201"}})


def _bench():
    return load_benchmark("nb101_search")


def test_benchmark_nb101_search__fails_clearly_without_data(tmp_path, monkeypatch, capsys):
    bench = _bench()
    monkeypatch.delenv(ENV_NB101_DIR, raising=False)
    assert bench.main(["--out", str(tmp_path / "res"), "--seeds", "2"]) == 2
    assert "no NAS-Bench-101 data configured" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_benchmark_nb101_search__writes_rows_beside_the_paper(table, env, tmp_path):
    emb = _embeddings(tmp_path / "emb.npz", table.hash)
    out = tmp_path / "res" / "nb101_search"
    argv = ["--data-dir", str(env), "--embeddings", str(emb), "--methods", "rl", "--presets", "paper"]
    assert _bench().main([*argv, "--protocols", "arch2vec", "--seeds", "2", "--out", str(out)]) == 0
    md = out.with_suffix(".md").read_text()
    assert "| rl | paper | arch2vec |" in md and "0.00209" in md  # our row and the paper's
    payload = json.loads(out.with_suffix(".json").read_text())
    (rep,) = payload["reports"]
    assert rep["summary"]["budget_s"] == 1.5e6 and "trajectory" not in rep["runs"][0]
    # 240 cells of at most 2,400 s cannot fill 1.5e6 s: every run queries the whole pool once, but
    # the paper preset's initial cell, which is blocked without being queried.
    assert [r["queries"] for r in rep["runs"]] == [NUM_CELLS - 1, NUM_CELLS - 1]
    assert out.with_suffix(".png").stat().st_size > 0
