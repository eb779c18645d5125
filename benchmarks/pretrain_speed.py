"""Pretraining speed on NAS-Bench-201: compile time, seconds per epoch, vmapped populations, memory.

Run::

    python benchmarks/pretrain_speed.py --out benchmarks/results/pretrain_speed_cpu.json

Measures, with the paper preset and batch 32 on all 15,625 cells (90 % train):
- compile seconds of the jitted epoch program (population 1 and K);
- steady-state seconds per epoch for one model and for a vmapped population of K models;
- models x epochs per second, and the population's cost per model relative to one model;
- peak host RSS and, on accelerators, peak device memory; the device, in words.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import jax
import numpy as np

from a2v_jax.pretrain.config import ModelConfig, TrainConfig, get_preset
from a2v_jax.pretrain.input_pipeline import load_space_dataset, num_train_graphs
from a2v_jax.pretrain.programs import Programs
from a2v_jax.runtime import device_name
from a2v_jax.spaces import get_space


def time_population(k: int, preset: str, epochs: int, data, cells: int | None = None) -> dict:
    """Compile + steady-state timing of the vmapped epoch program for ``k`` models.

    ``cells``: train on the first ``cells`` architectures only (their 90 % split); None: all.
    ``run_s`` is the sum of the ``epochs`` timed epochs (the compile is ahead of time, apart).
    """
    p = data.graphs.num_graphs if cells is None else min(cells, data.graphs.num_graphs)
    num_train = num_train_graphs(p)
    train_set = jax.tree.map(lambda x: jax.numpy.asarray(x[:num_train]), data.graphs)
    programs = Programs(get_preset(preset), ModelConfig(), TrainConfig(), 8, 7, k)
    states, keys = programs.init(np.arange(3, 3 + k, dtype=np.uint32))
    t0 = time.perf_counter()
    compiled = programs.epoch.lower(states, train_set, keys, np.uint32(0)).compile()
    compile_s = time.perf_counter() - t0
    times = []
    for e in range(epochs):
        t0 = time.perf_counter()
        states, losses, _ = compiled(states, train_set, keys, np.uint32(e))
        jax.block_until_ready(losses)
        times.append(time.perf_counter() - t0)
    steady = float(np.median(times[1:] if len(times) > 1 else times))
    return {
        "population": k,
        "compile_s": compile_s,
        "epoch_s_median": steady,
        "epoch_s_all": times,
        "run_s": float(np.sum(times)),
        "models_epochs_per_s": k / steady,
        "final_loss": [float(x) for x in np.asarray(losses["loss"])],
    }


def _peak_device_bytes() -> int | None:
    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--population", type=int, default=8, help="K models trained at once")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per configuration (first is warm-up)")
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--out", default=None, help="JSON output path (default: stdout only)")
    args = ap.parse_args(argv)

    data = load_space_dataset(get_space("nb201"))
    one = time_population(1, args.preset, args.epochs, data)
    pop = time_population(args.population, args.preset, args.epochs, data)
    result = {
        "benchmark": "pretrain_speed",
        "space": "nb201",
        "preset": args.preset,
        "batch_size": 32,
        "device": device_name(),
        "jax": jax.__version__,
        "single": one,
        "population": pop,
        "population_cost_per_model_vs_single": pop["epoch_s_median"]
        / (args.population * one["epoch_s_median"]),
        "population_epoch_vs_single_epoch": pop["epoch_s_median"] / one["epoch_s_median"],
        "peak_host_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_device_bytes": _peak_device_bytes(),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
