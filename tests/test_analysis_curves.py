"""Search curves and tables from search reports (hand-made and from the runner on synthetic data)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from a2v_jax.analysis.curves import (
    PAPER_NB201,
    format_markdown,
    paper_rows,
    search_curves,
    search_table,
)


def _fake():
    valid = np.array([50.0, 60.0, 70.0, 80.0, 90.0])
    test = valid + 1.0
    table = SimpleNamespace(
        path="fake", datasets={"cifar10": SimpleNamespace(valid_mean=valid, test_mean=test)}
    )
    runs = [
        {
            "seed": 1,
            "trajectory": {
                "spent_s": [10.0, 25.0, 40.0],
                "best_index": [0, 2, 2],
                "best_signal": [0.5, 0.7, 0.7],
            },
        },
        {"seed": 2, "trajectory": {"spent_s": [5.0], "best_index": [3], "best_signal": [0.8]}},
    ]
    summary = {
        "method": "rl",
        "preset": "paper",
        "dataset": "cifar10",
        "budget_s": 50.0,
        "seeds": 2,
        "mean_queries": 2.0,
        "valid_mean": 75.0,
        "valid_std": 5.0,
        "test_mean": 76.0,
        "test_std": 5.0,
        "optimum": {"cifar10": {"valid_mean": 90.0, "test_mean": 91.0}},
    }
    return {"summary": summary, "runs": runs}, table


def test_search_curves__queries_carry_the_last_incumbent_forward():
    rep, table = _fake()
    c = search_curves(rep, table, x="queries", metric="test")
    assert c.label == "rl/paper" and c.x.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(c.values, [[51.0, 71.0, 71.0], [81.0, 81.0, 81.0]])
    np.testing.assert_allclose(c.mean(), [66.0, 76.0, 76.0])
    np.testing.assert_allclose(c.band("std"), [15.0, 5.0, 5.0])
    np.testing.assert_allclose(c.band("se"), np.array([15.0, 5.0, 5.0]) / np.sqrt(2))


def test_search_curves__seconds_grid_and_regret_against_the_pool_optimum():
    rep, table = _fake()
    c = search_curves(rep, table, x="seconds", metric="regret_valid", grid=[0.0, 5.0, 24.9, 25.0, 50.0])
    nan = np.nan
    np.testing.assert_array_equal(c.values, [[nan, nan, 40.0, 20.0, 20.0], [nan, 10.0, 10.0, 10.0, 10.0]])
    np.testing.assert_array_equal(np.isnan(c.mean()), [True, False, False, False, False])
    default = search_curves(rep, table, x="seconds", metric="signal", num_points=11)
    assert default.x[-1] == 50.0 and default.values.shape == (2, 11)
    assert np.nanmax(default.values) == pytest.approx(80.0)


def test_search_curves__clear_errors():
    rep, table = _fake()
    with pytest.raises(ValueError, match="metric"):
        search_curves(rep, table, metric="accuracy")
    with pytest.raises(ValueError, match="no-trajectories"):
        search_curves({"summary": rep["summary"], "runs": [{"seed": 4}]}, table)
    no_test = SimpleNamespace(
        path="t", datasets={"cifar10": SimpleNamespace(valid_mean=np.ones(5), test_mean=None)}
    )
    with pytest.raises(ValueError, match="no test accuracies"):
        search_curves(rep, no_test, metric="test")


def test_search_table__rows_and_markdown():
    rep, _ = _fake()
    rows = search_table({"rl/paper": rep})
    assert rows == [
        {
            "method": "rl/paper",
            "seeds": 2,
            "queries": 2.0,
            "cifar10_valid": (75.0, 5.0),
            "cifar10_test": (76.0, 5.0),
        }
    ]
    md = format_markdown(rows + paper_rows(["arch2vec-BO"]), ["method", "cifar10_valid", "cifar100_test"])
    lines = md.splitlines()
    assert lines[0] == "| method | cifar10_valid | cifar100_test |"
    assert lines[2] == "| rl/paper | 75.00 ± 5.00 | - |"
    assert lines[3] == "| arch2vec-BO (published) | 91.41 ± 0.22 | 73.37 ± 0.30 |"
    assert set(PAPER_NB201["Optimal"]) == set(PAPER_NB201["RS"])


def test_search_curves__end_to_end_with_the_runner(synthetic_table):
    from a2v_jax.search import nb201
    from a2v_jax.search.config import SearchConfig

    config = SearchConfig(
        dataset="cifar10", method="random", preset="default", seeds=3, progress=False, budget_s=20_000.0
    )
    rep = nb201.run(config, table=synthetic_table)
    c = search_curves(rep, synthetic_table, x="queries", metric="test")
    final = np.array([r["test_mean"] for r in rep["runs"]])
    np.testing.assert_allclose(c.values[:, -1], final)
    assert c.values.shape == (3, max(r["queries"] for r in rep["runs"]))
    t = search_curves(rep, synthetic_table, x="seconds", metric="regret_test")
    assert np.all(t.values[:, -1] >= 0)
