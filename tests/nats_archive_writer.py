"""Writes a fake NATS-Bench topology archive in the exact layout of ``NATS-tss-v1_0-3ffb9-simple``, for tests.

The layout is that of ``exps/NATS-Bench/tss-collect.py`` (D-X-Y/AutoDL-Projects): ``meta.pickle.pbz2`` and
one ``{index:06d}.pickle.pbz2`` per architecture holding ``OrderedDict({'12': ArchResults state, '200':
ArchResults state})`` of plain dicts, lists, tuples and floats (pickle protocol 4, as ``pickle_save``).
It is written independently of ``a2v_jax.data.nats_archive`` so that a round trip checks the reader.

The numbers come from arrays keyed like ``NatsTssRecords.datasets`` and are spread over the seeds so that
the API's seed means give them back; accuracy curves hold only the last epoch (the reader's need), while
``train_times`` and ``eval_times`` hold every epoch (they are summed). A NaN value leaves the key out.
"""

from __future__ import annotations

import bz2
import pickle
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from a2v_jax.data.nb201 import NB201_TEST_NAME, NB201_TEST_SPLIT, NB201_VALID_NAME

OFFICIAL_SEEDS = (777, 888, 999)
META_FILE = "meta.pickle.pbz2"
_CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}


def arch_file(directory: str | Path, index: int) -> Path:
    """The official file of architecture ``index``."""
    return Path(directory) / f"{index:06d}.pickle.pbz2"


def write_bz2_pickle(path: str | Path, obj: Any, *, compresslevel: int = 1) -> None:
    """Pickles ``obj`` (protocol 4) into the bz2 file ``path``, as NATS-Bench's ``pickle_save``."""
    Path(path).write_bytes(bz2.compress(pickle.dumps(obj, protocol=4), compresslevel))


def fake_values(p: int, *, seed: int = 0, with_12ep: bool = True) -> dict[str, dict[str, np.ndarray | None]]:
    """Random per-dataset values keyed like ``NatsTssRecords.datasets`` (2 or 3 runs per cell)."""
    rng = np.random.default_rng(seed)
    out = {}
    for ds in NB201_VALID_NAME:
        n_runs = rng.choice(np.array([2, 3], np.int8), size=p)
        runs = rng.uniform(10, 95, size=(p, 3))
        runs[np.arange(3)[None, :] >= n_runs[:, None]] = np.nan
        out[ds] = {
            "valid_runs": runs,
            "n_runs": n_runs,
            "train_time_s": rng.uniform(1e3, 1e4, p),
            "test_mean": rng.uniform(10, 95, p),
            "valid_12ep": rng.uniform(10, 80, p) if with_12ep else None,
            "valid_time_s": rng.uniform(1, 5, p) if ds == "cifar10" else None,
            "latency_s": rng.uniform(0.005, 0.03, p),
            "valid_model_test_mean": rng.uniform(10, 95, p) if ds == "cifar10" else None,
        }
    return out


def _spread(mean: float, n: int, width: float) -> list[float]:
    """``n`` values around ``mean`` whose mean is ``mean`` (so the API's seed mean gives it back)."""
    return [mean + width * (k - (n - 1) / 2) for k in range(n)]


def _run(dataset: str, seed: int, epochs: int, arch_str: str, **parts: Any) -> dict:
    """A ResultsCount state dict (the attributes of ``nats_bench.api_utils.ResultsCount``)."""
    accs = parts["accs"]
    return {
        "name": dataset,
        "net_state_dict": parts.get("net_state_dict"),
        "train_acc1es": {epochs - 1: 99.0},
        "train_acc5es": {epochs - 1: 99.9},
        "train_losses": {epochs - 1: 0.05},
        "train_times": parts["train_times"],
        "arch_config": {"channel": 16, "num_cells": 5, "arch_str": arch_str, "class_num": _CLASSES[dataset]},
        "params": 0.37,
        "flop": 53.0,
        "seed": seed,
        "epochs": epochs,
        "latency": parts["latency"],
        "eval_names": sorted({k.split("@")[0] for k in accs}),
        "eval_acc1es": accs,
        "eval_times": parts["eval_times"],
        "eval_losses": dict.fromkeys(accs, 1.0),
    }


def _value(values: Mapping[str, Any], key: str, i: int) -> float:
    """``values[key][i]`` as a float; NaN where the key is absent or None."""
    column = values.get(key)
    return float("nan") if column is None else float(column[i])


def _arch_results(index: int, arch_str: str, cell_runs: dict[str, list]) -> dict:
    """An ArchResults state dict from ``{dataset: [(seed, ResultsCount state), ...] in write order}``."""
    return {
        "arch_index": index,
        "arch_str": arch_str,
        "all_results": {(ds, seed): run for ds, runs in cell_runs.items() for seed, run in runs},
        "dataset_seed": {ds: [seed for seed, _ in runs] for ds, runs in cell_runs.items()},
        "clear_net_done": True,
    }


def _cell(
    index: int,
    arch_str: str,
    datasets_values: Mapping[str, Mapping[str, Any]],
    *,
    seeds: Sequence[int],
    epochs: int,
    hp_key: str,
    spread: float,
) -> dict:
    """One hp's ArchResults state for cell ``index``; ``hp_key`` '200' (full runs) or '12'."""
    cell_runs: dict[str, list] = {}
    for ds, values in datasets_values.items():
        vname = NB201_VALID_NAME[ds]
        runs = np.asarray(values["valid_runs"])[index]
        n = int(values["n_runs"][index]) if values.get("n_runs") is not None else int(np.isfinite(runs).sum())
        cell_seeds = sorted(seeds)[:n]
        order = [
            s for s in seeds if s in cell_seeds
        ]  # dataset_seed in the caller's order (sorted officially)
        last = f"@{epochs - 1}"
        train = _value(values, "train_time_s", index)
        train_times = None if np.isnan(train) else dict.fromkeys(range(epochs), train / epochs)
        vt = _value(values, "valid_time_s", index)
        eval_times = {} if np.isnan(vt) else {f"x-valid@{e}": vt for e in range(epochs)}
        latency = _spread(_value(values, "latency_s", index), n, 1e-4)
        test_ds, test_set = NB201_TEST_NAME[ds], NB201_TEST_SPLIT[ds]
        tests = _spread(_value(values, "test_mean", index), n, spread)
        v12 = _spread(_value(values, "valid_12ep", index), n, spread)
        vmt = _spread(_value(values, "valid_model_test_mean", index), n, spread)
        for name in dict.fromkeys([vname, test_ds]):
            cell_runs[name] = []
            for s in order:
                k = cell_seeds.index(s)
                accs = {}
                if hp_key == "200" and name == vname:
                    accs["x-valid" + last] = float(runs[k])
                    accs["ori-test" + last] = vmt[k]
                elif hp_key == "12" and name == vname:
                    accs["x-valid" + last] = v12[k]
                if hp_key == "200" and name == test_ds:
                    accs[test_set + last] = tests[k]
                accs = {key: v for key, v in accs.items() if not np.isnan(v)}
                run = _run(
                    name,
                    s,
                    epochs,
                    arch_str,
                    accs=accs,
                    train_times=train_times,
                    eval_times=eval_times if name == vname else {},
                    latency=None if np.isnan(latency[k]) else [latency[k]],
                )
                cell_runs[name].append((s, run))
    return _arch_results(index, arch_str, cell_runs)


def write_nats_archive(
    directory: str | Path,
    arch_strs: Sequence[str],
    datasets_values: Mapping[str, Mapping[str, Any]],
    *,
    seeds: Sequence[int] = OFFICIAL_SEEDS,
    with_12ep: bool = True,
    epochs: int = 200,
    epochs_12: int = 12,
    spread: float = 0.5,
    planted: Mapping[int, Any] | None = None,
    compresslevel: int = 1,
) -> Path:
    """Writes ``meta.pickle.pbz2`` and one ``{index:06d}.pickle.pbz2`` per arch into ``directory``.

    Args:
      directory: created if missing (name it ``NATS-tss-v1_0-3ffb9-simple`` to mimic the official one).
      arch_strs: the arch string of each index (``meta_archs``).
      datasets_values: ``{"cifar10" | "cifar100" | "imagenet16": {field: array}}`` with the keys of
        ``NatsTssRecords.datasets``: ``valid_runs`` (P, 3) in ascending seed order and ``n_runs`` (or NaN
        beyond the runs), optional ``train_time_s``, ``test_mean``, ``valid_12ep``, ``valid_time_s``,
        ``latency_s`` (None or NaN: left out). ``valid_mean`` is ignored (the reader computes it).
      seeds: the seed pool; cell ``i`` uses the ``n_runs[i]`` smallest, listed in ``dataset_seed`` in this
        order (the official files list them sorted).
      with_12ep: also write hp ``'12'`` results (their x-valid accuracy is ``valid_12ep``).
      epochs: training epochs of hp ``'200'``; ``epochs_12`` those of hp ``'12'``. The values read back do
        not depend on them (times are spread evenly over the epochs); ``epochs=2`` makes files ~4x smaller.
      spread: per-seed accuracies are spread by this much around the given seed means.
      planted: ``{index: object}`` put as ``net_state_dict`` of that cell's first hp-'200' run, e.g. an
        object the reader must refuse.
      compresslevel: bz2 level (1 for speed; the values are the same at any level).

    Returns:
      The directory.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"meta_archs": list(arch_strs), "total_archs": len(arch_strs), "arch2infos": None}
    meta["evaluated_indexes"] = set()
    write_bz2_pickle(directory / META_FILE, meta, compresslevel=compresslevel)
    hps = [("12", epochs_12)] if with_12ep else []
    for index, arch_str in enumerate(arch_strs):
        data = OrderedDict()
        for hp_key, hp_epochs in [*hps, ("200", epochs)]:
            data[hp_key] = _cell(
                index, arch_str, datasets_values, seeds=seeds, epochs=hp_epochs, hp_key=hp_key, spread=spread
            )
        if planted and index in planted:
            first = next(iter(data["200"]["all_results"].values()))
            first["net_state_dict"] = planted[index]
        write_bz2_pickle(arch_file(directory, index), data, compresslevel=compresslevel)
    return directory
