"""The ``nats-archive`` source: the NATS-Bench directory ``NATS-tss-v1_0-3ffb9-simple``, read directly.

The reading itself is :mod:`a2v_jax.data.nats_archive` (``bz2`` and a restricted unpickler).
"""

from __future__ import annotations

import dataclasses

from a2v_jax.data.nb201.sources import ResolvedSource
from a2v_jax.data.nb201.table import (
    _FIELDS,
    DATASETS,
    MAX_RUNS,
    NB201_TEST_NAME,
    NB201_VALID_NAME,
    NB201Table,
)
from a2v_jax.data.nb201.validation import _make_table, _Origin, _results


def _load_nats_archive(res: ResolvedSource) -> NB201Table:
    from a2v_jax.data.nats_archive import read_nats_tss_archive

    records = read_nats_tss_archive(res.path, progress=True)
    path = res.path
    datasets, fields = {}, {}
    for ds in DATASETS:
        values = records.datasets[ds]
        datasets[ds] = _results(**{name: values.get(name) for name in _FIELDS})
        vname, tname = NB201_VALID_NAME[ds], NB201_TEST_NAME[ds]
        where = f"{path} (dataset {vname!r}, hp '200')"
        fields.update({(ds, f"valid_runs{k}"): f"{where} x-valid run {k + 1}" for k in range(MAX_RUNS)})
        for name in ("n_runs", "valid_mean", "train_time_s", "valid_time_s", "latency_s"):
            fields[(ds, name)] = f"{where} {name}"
        fields[(ds, "test_mean")] = f"{path} (dataset {tname!r}, hp '200') test accuracy"
        fields[(ds, "valid_12ep")] = f"{path} (dataset {vname!r}, hp '12') x-valid"
        fields[(ds, "valid_model_test_mean")] = f"{where} ori-test"
    origin = _Origin(
        arch=f"{path} meta archs", codes=f"{path} meta archs", row=lambda i: f"arch index {i}", fields=fields
    )
    table = _make_table("nats-archive", path, list(records.arch_str), None, datasets, origin)
    has_test = all(table.datasets[ds].test_mean is not None for ds in DATASETS)
    return dataclasses.replace(table, test_source=str(path) if has_test else None)
