"""What one search command runs: :class:`SearchConfig`, the input of every driver's ``run``.

``python -m a2v_jax.search`` builds one from its flags; a script builds it directly::

    from a2v_jax.search.config import SearchConfig
    from a2v_jax.search.runner import run

    report = run(SearchConfig(space="nb201", dataset="cifar10", method="rl", preset="paper", seeds=20,
                              embeddings="runs/nb201/embeddings.npz", progress=False))
"""

from __future__ import annotations

import dataclasses
import os

PathLike = str | os.PathLike


@dataclasses.dataclass(frozen=True)
class DartsOptions:
    """The DARTS search's own settings (``--space darts``): the pool, its pretraining, the evaluator.

    Attributes:
      pool_size: DARTS pool cells, the first of the space's sampler (paper: 600000).
      epochs: pretraining epochs (paper: 10).
      pretrain_preset: the pretraining preset.
      prior_samples: graphs decoded for the validity metric.
      queries: queries of the search (paper: 100).
      seed: pretraining and search seed (paper: 3).
      evaluator: ``toy``, ``table`` or ``darts-proxy`` (:mod:`a2v_jax.search.evaluated`).
      table: the ``table`` evaluator's ``.json`` or ``.npz``.
      cifar10_dir: the ``darts-proxy`` evaluator's CIFAR-10 python batches.
      proxy_epochs: ``darts-proxy`` epochs (None: the proxy preset's 50).
      proxy_channels: ``darts-proxy`` initial channels (None: 36).
      proxy_layers: ``darts-proxy`` cells (None: 20).
      proxy_batch_size: ``darts-proxy`` batch size (None: 96).
    """

    pool_size: int = 2000
    epochs: int = 1
    pretrain_preset: str = "paper"
    prior_samples: int = 1000
    queries: int = 100
    seed: int = 3
    evaluator: str = "toy"
    table: PathLike | None = None
    cifar10_dir: PathLike | None = None
    proxy_epochs: int | None = None
    proxy_channels: int | None = None
    proxy_layers: int | None = None
    proxy_batch_size: int | None = None


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """One search: where, which method, how many seeds, which data, where the report goes.

    Attributes:
      method: one of :data:`a2v_jax.search.METHODS` (NB101: ``rl | bo | random``; DARTS: ``rl | bo``).
      space: ``nb201``, ``nb101`` or ``darts``.
      dataset: NB201 dataset (required there); NB101 is CIFAR-10 only; DARTS: not used.
      preset: ``paper`` or ``default`` (:mod:`a2v_jax.search.presets`).
      protocol: NB201 ``arch2vec | nb201``; NB101 ``arch2vec | q150``.
      seeds: number of seeds; seed ids ``seed_start .. seed_start + seeds - 1``.
      seed_start: first seed id (the original ran 1..500).
      budget_s: overrides the protocol's simulated budget.
      embeddings: ``embeddings.npz`` from pretraining (``rl`` and ``bo`` need it).
      data_dir: the benchmark data (NB201: else ``$A2V_NB201_DIR`` or the installed tables;
        NB101: ``nasbench_only108.tfrecord`` or its directory, else ``$A2V_NB101_DIR``).
      source: NB201 table source (``load_nb201``).
      test_data: where NB201 test accuracies come from (``load_nb201``'s ``test_data``).
      signal_seed: seed of the NB201 protocol's frozen random-run signal draw.
      cost: an NB201 query cost (``data.protocols.COSTS``) in place of the protocol's own.
      chunk_steps: scan steps per compiled chunk.
      trajectories: include per-seed trajectories in the report.
      progress: show a progress bar.
      out: the report's path (DARTS: the output directory).
      devices: devices to shard the seeds over (None: every device JAX sees, 1: no sharding).
      mesh: ``"POPxDATA"`` mesh shape (:func:`a2v_jax.sharding.make_mesh`).
      darts: the DARTS settings (``space="darts"``; None there means the defaults).
    """

    method: str
    space: str = "nb201"
    dataset: str | None = None
    preset: str = "default"
    protocol: str = "arch2vec"
    seeds: int = 500
    seed_start: int = 1
    budget_s: float | None = None
    embeddings: PathLike | None = None
    data_dir: PathLike | None = None
    source: str = "auto"
    test_data: PathLike | None = None
    signal_seed: int = 0
    cost: str | None = None
    chunk_steps: int = 16
    trajectories: bool = True
    progress: bool = True
    out: PathLike | None = None
    devices: int | None = None
    mesh: str | None = None
    darts: DartsOptions | None = None
