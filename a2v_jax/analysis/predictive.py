"""Predictive performance of a surrogate trained on an encoding (the paper's Fig. 2 and §9.4 table).

For every training size ``n`` (NASLib's log-spaced sizes 5, 8, 14, 24, 42, 71, 121, 205, ...) and
every seed, a surrogate is fitted on ``n`` random cells and scored on a disjoint random test set
with :func:`~a2v_jax.analysis.metrics.regression_metrics`. All seeds of one size are one jitted,
vmapped call. The split of seed ``s`` depends only on ``s`` and the pool size, so two encodings of
the same pool (arch2vec and the one-hot op codes) are scored on exactly the same cells::

    a2v = predictive_performance(features, acc, mlp_surrogate(), seeds=range(20))
    onehot = predictive_performance(one_hot_codes(codes), acc, mlp_surrogate(), seeds=range(20))

A surrogate is a pair of pure functions (:class:`Surrogate`): ``fit(X, y, mask, key) -> state`` and
``predict(state, Xq) -> (mean, var)``, the signature of ``a2v_jax.surrogates.dngo``; any pair with
that signature plugs in (notebook 04 writes one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from a2v_jax.analysis.metrics import METRICS, regression_metrics

#: NASLib's predictor-evaluation training sizes (log-spaced, ratio ~1.7).
NASLIB_TRAIN_SIZES: tuple[int, ...] = (5, 8, 14, 24, 42, 71, 121, 205, 347, 589, 1000)


class Surrogate(NamedTuple):
    """A regression model as two pure functions (jit- and vmap-safe).

    ``fit(X (N, D), y (N,), mask (N,) bool, key) -> state`` fits on the rows where ``mask`` is
    True; ``predict(state, Xq (Q, D)) -> (mean (Q,), var (Q,))``. A surrogate with
    ``takes_bound`` also accepts ``fit(..., n_bound=n)``: a bound on the valid rows shared by every
    member of a ``vmap``, which lets it shorten its loops (DNGO's minibatch loop).
    """

    name: str
    fit: Callable[..., Any]
    predict: Callable[[Any, chex.Array], tuple[chex.Array, chex.Array]]
    takes_bound: bool = False


# --------------------------------------------------------------------------- a plain MLP


@dataclasses.dataclass(frozen=True)
class MLPConfig:
    """A plain MLP regressor trained full-batch with Adam on standardised inputs and targets.

    Attributes:
      hidden: widths of the ReLU hidden layers.
      lr: Adam learning rate.
      steps: full-batch optimisation steps.
      weight_decay: decoupled weight decay (AdamW); 0 is plain Adam.
    """

    hidden: tuple[int, ...] = (64, 64)
    lr: float = 1e-2
    steps: int = 300
    weight_decay: float = 1e-4


@struct.dataclass
class MLPState:
    """A fitted MLP and the standardisation it was fitted under."""

    params: list  # [(W (d_in, d_out), b (d_out,)), ...]
    x_mean: chex.Array  # (D,)
    x_std: chex.Array  # (D,)
    y_mean: chex.Array  # ()
    y_std: chex.Array  # ()


def _mlp_apply(params: list, x: chex.Array) -> chex.Array:
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return (x @ w + b)[..., 0]


def _masked_standardise(x: chex.Array, w: chex.Array) -> tuple[chex.Array, chex.Array]:
    """Mean and std of ``x`` over rows weighted by ``w`` (a 0 std becomes 1: constant column)."""
    n = jnp.maximum(jnp.sum(w), 1.0)
    wx = w.reshape((-1,) + (1,) * (x.ndim - 1))
    mean = jnp.sum(x * wx, axis=0) / n
    var = jnp.sum(jnp.square(x - mean) * wx, axis=0) / n
    std = jnp.sqrt(var)
    return mean, jnp.where(std > 1e-8, std, 1.0)


def mlp_surrogate(cfg: MLPConfig = MLPConfig()) -> Surrogate:
    """A plain MLP regressor as a :class:`Surrogate` (``var`` is zero: it has no uncertainty)."""
    opt = optax.adamw(cfg.lr, weight_decay=cfg.weight_decay)

    def fit(x: chex.Array, y: chex.Array, mask: chex.Array, key: chex.PRNGKey) -> MLPState:
        w = mask.astype(jnp.float32)  # (N,)
        x_mean, x_std = _masked_standardise(x, w)
        y_mean, y_std = _masked_standardise(y, w)
        xs = (x - x_mean) / x_std  # (N, D)
        ys = (y - y_mean) / y_std  # (N,)
        sizes = (x.shape[1], *cfg.hidden, 1)
        keys = jax.random.split(key, len(sizes) - 1)
        params = []
        for k, d_in, d_out in zip(keys, sizes[:-1], sizes[1:], strict=True):
            lim = jnp.sqrt(6.0 / (d_in + d_out))  # Glorot uniform
            params.append((jax.random.uniform(k, (d_in, d_out), minval=-lim, maxval=lim), jnp.zeros(d_out)))

        def loss_fn(p):
            err = jnp.square(_mlp_apply(p, xs) - ys)
            return jnp.sum(err * w) / jnp.maximum(jnp.sum(w), 1.0)

        def step(carry, _):
            p, o = carry
            g = jax.grad(loss_fn)(p)
            upd, o = opt.update(g, o, p)
            return (optax.apply_updates(p, upd), o), None

        (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=cfg.steps)
        return MLPState(params=params, x_mean=x_mean, x_std=x_std, y_mean=y_mean, y_std=y_std)

    def predict(state: MLPState, xq: chex.Array) -> tuple[chex.Array, chex.Array]:
        mean = _mlp_apply(state.params, (xq - state.x_mean) / state.x_std) * state.y_std + state.y_mean
        return mean, jnp.zeros_like(mean)

    return Surrogate("mlp", fit, predict)


def dngo_surrogate(cfg: Any = None) -> Surrogate:
    """DNGO (``a2v_jax.surrogates.dngo``) as a :class:`Surrogate`; ``cfg`` a ``DNGOConfig``."""
    from a2v_jax.surrogates import dngo

    cfg = dngo.DNGOConfig() if cfg is None else cfg

    def fit(x, y, mask, key, n_bound=None):
        return dngo.dngo_fit(x, y, mask, key, cfg, n_bound)

    return Surrogate("dngo", fit, dngo.dngo_predict, takes_bound=True)


# --------------------------------------------------------------------------- the sweep


@dataclasses.dataclass(frozen=True)
class PredictiveResult:
    """Scores of one surrogate on one encoding, for every training size and seed."""

    label: str  # the encoding, e.g. "arch2vec" or "one-hot"
    surrogate: str
    train_sizes: np.ndarray  # (Z,) int
    seeds: np.ndarray  # (S,) int
    metrics: dict[str, np.ndarray]  # name -> (Z, S) float
    pred: np.ndarray  # (Z, S, T) float32: test-set predictions (Fig. 2)
    true: np.ndarray  # (Z, S, T) float32: test-set targets
    test_index: np.ndarray  # (S, T) int: the test cells of each seed (rows of the features)
    k: int  # of precision@k

    def mean_std(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """``(Z,)`` mean and std over seeds of one metric (NaN seeds ignored)."""
        v = self.metrics[metric]
        return np.nanmean(v, axis=1), np.nanstd(v, axis=1)


def split_indices(key: chex.PRNGKey, pool_size: int, test_size: int, train_size: int):
    """One seed's split: ``(test (T,), train (n,))`` disjoint pool rows.

    The test set is the first ``T`` entries of a permutation drawn from ``fold_in(key, 0)`` and the
    training set the next ``n``, so training sets of one seed are nested across sizes and the test
    set is the same for every size.
    """
    perm = jax.random.permutation(jax.random.fold_in(key, 0), pool_size)  # (P,)
    return perm[:test_size], perm[test_size : test_size + train_size]


def _sweep_program(surrogate: Surrogate, pool_size: int, max_train: int, test_size: int, k: int):
    """All seeds of one training size ``n`` (traced): one compile serves every size.

    The training buffer holds ``max_train`` rows and ``mask`` keeps the first ``n``, so the
    surrogate sees exactly the cells a ``(n,)`` buffer would hold.
    """

    def one(key, n, features, y):
        test, train = split_indices(key, pool_size, test_size, max_train)
        mask = jnp.arange(max_train) < n  # (max_train,)
        bound = {"n_bound": n} if surrogate.takes_bound else {}
        state = surrogate.fit(features[train], y[train], mask, jax.random.fold_in(key, 1), **bound)
        mean, _ = surrogate.predict(state, features[test])
        return regression_metrics(mean, y[test], k), mean, y[test], test

    return jax.jit(jax.vmap(one, in_axes=(0, None, None, None)))


def predictive_performance(
    features: np.ndarray,
    targets: np.ndarray,
    surrogate: Surrogate,
    *,
    train_sizes: Sequence[int] = NASLIB_TRAIN_SIZES[:8],
    seeds: Iterable[int] = range(20),
    test_size: int = 500,
    k: int = 20,
    label: str = "",
) -> PredictiveResult:
    """Fits ``surrogate`` on ``n`` random cells for every ``n`` and seed; scores it on held-out cells.

    One jitted, vmapped call per training size runs every seed; the size is a traced argument
    (a masked buffer of the largest size), so the program compiles once.

    Args:
      features: ``(P, D)`` encoding of the pool.
      targets: ``(P,)`` what to predict (e.g. validation accuracy in [0, 1]).
      surrogate: a :class:`Surrogate`.
      train_sizes: training-set sizes (each >= 2).
      seeds: seed ids; seed ``s`` uses ``jax.random.key(s)`` for its split and its fit.
      test_size: held-out cells per seed, disjoint from every training set of that seed.
      k: ``k`` of precision@k (``<= test_size``).
      label: name of the encoding, carried into the result.

    Returns:
      A :class:`PredictiveResult`.

    Raises:
      ValueError: shapes disagree, non-finite values, a training size below 2, or
        ``test_size + max(train_sizes)`` exceeds the pool.
    """
    x = np.asarray(features, np.float32)
    y = np.asarray(targets, np.float32)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"features must be (P, D) and targets (P,); got {x.shape} and {y.shape}")
    for name, arr in (("features", x), ("targets", y)):
        bad = np.flatnonzero(~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1))
        if bad.size:
            raise ValueError(f"{name} row {int(bad[0])} is not finite")
    sizes = np.asarray(list(train_sizes), dtype=np.int64)
    seed_ids = np.asarray(list(seeds), dtype=np.int64)
    if sizes.size == 0 or seed_ids.size == 0:
        raise ValueError("need at least one training size and one seed")
    if sizes.min() < 2:
        raise ValueError(f"every training size must be >= 2, got {sizes.tolist()}")
    p = x.shape[0]
    if test_size + int(sizes.max()) > p:
        raise ValueError(
            f"test_size {test_size} + largest training size {int(sizes.max())} exceeds the pool of {p} cells"
        )
    if not 1 <= k <= test_size:
        raise ValueError(f"k must be in 1..test_size ({test_size}), got {k}")
    keys = jax.vmap(jax.random.key)(jnp.asarray(seed_ids, jnp.uint32))
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    metrics: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
    preds, trues = [], []
    test_index = None
    program = _sweep_program(surrogate, p, int(sizes.max()), test_size, k)
    for n in sizes:
        m, pred, true, test = program(keys, jnp.int32(n), xj, yj)
        for name in METRICS:
            metrics[name].append(np.asarray(m[name]))
        preds.append(np.asarray(pred))
        trues.append(np.asarray(true))
        test_index = np.asarray(test)
    return PredictiveResult(
        label=label,
        surrogate=surrogate.name,
        train_sizes=sizes,
        seeds=seed_ids,
        metrics={name: np.stack(v) for name, v in metrics.items()},
        pred=np.stack(preds),
        true=np.stack(trues),
        test_index=test_index,
        k=k,
    )


def predictive_table(
    results: Sequence[PredictiveResult],
    metrics: Sequence[str] = METRICS,
    train_sizes: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Rows ``{encoding, surrogate, n, <metric>: (mean, std)}`` for a table, sizes ascending.

    Args:
      results: results to tabulate (typically arch2vec and one-hot, each with the same seeds).
      metrics: which metrics (columns).
      train_sizes: only these sizes (default: every size of every result).

    Returns:
      One dict per (size, result), metric values as ``(mean, std)`` over seeds.
    """
    rows = []
    wanted = None if train_sizes is None else {int(n) for n in train_sizes}
    all_sizes = sorted({int(n) for r in results for n in r.train_sizes})
    for n in all_sizes:
        if wanted is not None and n not in wanted:
            continue
        for r in results:
            hit = np.flatnonzero(r.train_sizes == n)
            if not hit.size:
                continue
            z = int(hit[0])
            row: dict[str, Any] = {
                "encoding": r.label,
                "surrogate": r.surrogate,
                "n": n,
                "seeds": len(r.seeds),
            }
            for m in metrics:
                v = r.metrics[m][z]
                row[m] = (float(np.nanmean(v)), float(np.nanstd(v)))
            rows.append(row)
    return rows
