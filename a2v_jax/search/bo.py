"""Bayesian optimisation with DNGO over the frozen latent pool (reference §7.2).

Steps ``0 .. init_size - 1`` query the first ``init_size`` architectures of a random permutation
of the pool (the random initial design, charged and counted toward the incumbent like any query).
Every later step refits DNGO from scratch on all observations so far (inputs: the 16-d latents;
targets: the search signal in ``[0, 1]``), scores the whole pool by expected improvement and
queries the best. With ``topk > 1`` a fit proposes the ``topk`` best and the next ``topk`` steps
query them in order (the original's NB101 and DARTS searches use 5; NB201 uses 1).

Observations live in a buffer of static capacity ``max_obs`` with a validity mask, so a whole run
is one ``lax.scan`` and all seeds one ``vmap``. The step index ``t`` is shared by every seed, so
the choice between the initial design and a DNGO fit is a real branch under ``vmap``, and the
training loop is bounded by ``min(t, max_obs)`` observations. A run also ends when its buffer is
full (``max_obs`` accepted queries).

Presets (the table in :mod:`a2v_jax.search.presets`):

``paper`` -- the original ``dngo_search_NB201_8x8.py``, quirks included: the ``fixed_target``
  acquisition (:func:`fixed_target_ei`: EI against a fixed target ``tau`` with the predictive
  variance where the standard deviation belongs, in float32); EI maximised over the whole pool,
  so queried architectures are re-queried and re-charged (its de-duplication is broken); exact EI
  ties broken by a per-seed random ``priority`` (the original's shuffled pool); the unsquared-norm
  marginal likelihood with a float32 determinant and a Nelder-Mead fit from one prior draw
  (``DNGOConfig(likelihood="paper", det_dtype="float32", hyper_opt="nelder-mead")``); the last
  query may end past the budget (``overshoot``).

``default`` -- the same method with those fixed: the ``incumbent`` acquisition (EI against the
  best signal observed with ``sigma = sqrt(v)``, ranked by its logarithm computed stably,
  :func:`log_expected_improvement`); the maximum over unvisited architectures only; Bishop's exact
  log marginal likelihood with the two hyper-parameters fitted globally; standardised targets;
  no query charged past the budget; tuned: 8 random initial queries and 50 epochs per fit.

Why each choice, and what else was tried, with the measurements: ``docs/search-tuning.md``.
"""

from __future__ import annotations

import dataclasses
import math

import chex
import jax
import jax.numpy as jnp
from flax import struct

from a2v_jax.search.core import (
    MethodTraits,
    QueryLog,
    SearchEnv,
    StepRecord,
    Strategy,
    fast_argmin,
    init_log,
    record_query,
)
from a2v_jax.surrogates.dngo import VAR_FLOOR, DNGOConfig, dngo_fit, dngo_predict

#: The acquisition rules :class:`BOConfig` can name.
ACQUISITIONS = ("fixed_target", "incumbent")


@dataclasses.dataclass(frozen=True)
class BOConfig:
    """DNGO-BO settings; :func:`a2v_jax.search.presets.strategy_config` gives each preset's.

    Attributes:
      init_size: random initial queries.
      acquisition: ``fixed_target``: :func:`fixed_target_ei` against ``ei_target`` (the
        original's); ``incumbent``: :func:`log_expected_improvement` against the best signal so far.
      dedup: never propose a visited architecture.
      overshoot: a query may start while ``spent < budget`` (``record_query``'s rule).
      dngo: the surrogate's config.
      ei_target: the ``fixed_target`` acquisition's target ``tau`` (1.0 for NB201).
      max_obs: static capacity of the observation buffer (>= the steps a run can make).
      topk: proposals per fit (each queried in its own step).
      pool_chunk: pool rows scored at a time (bounds memory under a ``vmap`` over seeds).
      ensemble: DNGO fits per step, from independent keys, combined as one mixture (mean of the
        means; variance = mean of ``var + mean^2`` minus the squared mean, pybnn's rule for
        marginalising over models); 1 is a single fit.
      fit_key: ``step``: each fit draws from its step's key; ``run``: every fit of a run uses one
        key drawn at init, as the original NB101 search, which builds each DNGO with ``rng=seed``
        so that every fit repeats the same minibatch shuffles and Nelder-Mead start (here the
        network initialisation repeats too; the original's comes from torch's advancing stream).
    """

    init_size: int
    acquisition: str
    dedup: bool
    overshoot: bool
    dngo: DNGOConfig
    ei_target: float = 1.0
    max_obs: int = 256
    topk: int = 1
    pool_chunk: int = 256
    ensemble: int = 1
    fit_key: str = "step"

    def __post_init__(self):
        if self.fit_key not in ("step", "run"):
            raise ValueError(f"BOConfig.fit_key must be 'step' or 'run', got {self.fit_key!r}")
        if self.acquisition not in ACQUISITIONS:
            raise ValueError(f"BOConfig.acquisition must be one of {ACQUISITIONS}, got {self.acquisition!r}")
        if not isinstance(self.dngo, DNGOConfig):
            raise ValueError(f"BOConfig.dngo must be a DNGOConfig, got {type(self.dngo).__name__}")
        for name in ("init_size", "topk", "pool_chunk", "ensemble"):
            if getattr(self, name) < 1:
                raise ValueError(f"BOConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_obs < self.init_size:
            raise ValueError(f"BOConfig.max_obs ({self.max_obs}) must be >= init_size ({self.init_size})")

    @property
    def traits(self) -> MethodTraits:
        """Distinct where it de-duplicates; overshoots where configured; searches the latent features."""
        return MethodTraits(distinct=self.dedup, overshoot=self.overshoot, neighbours=False, features=True)


@struct.dataclass
class BOState:
    """One run's BO state."""

    log: QueryLog
    init_idx: chex.Array  # (init_size,) int32 the random initial design
    x_obs: chex.Array  # (max_obs, D) float32 features of the accepted queries, in order
    y_obs: chex.Array  # (max_obs,) float32 their signals; rows >= log.n_queries are unused
    priority: chex.Array  # (P,) float32 random ranks (a permutation): breaks exact ties in the acquisition
    queue: chex.Array  # (topk,) int32 the last fit's proposals
    queue_ok: chex.Array  # (topk,) bool the proposal exists (False once the pool is exhausted)
    theta: chex.Array  # (2,) float32 (log alpha, log sigma^2) of the last fit (diagnostic)
    fit_key: chex.Array  # (2,) uint32 raw data of the key of every fit when cfg.fit_key == "run"


_SQRT_HALF = 1.0 / math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def fixed_target_ei(mean: chex.Array, var: chex.Array, target: chex.Array) -> chex.Array:
    """The original arch2vec's expected improvement: a fixed target, the variance as the scale.

    ``u = (m - target) / v``, ``EI = v (phi(u) + u Phi(u))`` with the predictive variance ``v`` in
    place of sigma; ``Phi(u) = (1 + erf(u / sqrt 2)) / 2`` and ``phi(u) = exp(-u^2 / 2 - log
    sqrt(2 pi))`` in float32, as ``torch.distributions.Normal`` (so it is exactly 0 below about
    ``u = -5.4``).

    Args:
      mean: ``(...)`` predictive means.
      var: ``(...)`` predictive variances (> 0).
      target: the fixed target tau, scalar or broadcastable.

    Returns:
      ``(...)`` the score.
    """
    u = (mean - target) / var
    cdf = 0.5 * (1.0 + jax.lax.erf(u * _SQRT_HALF))
    pdf = jnp.exp(-0.5 * jnp.square(u) - _LOG_SQRT_2PI)
    return var * (pdf + u * cdf)


def expected_improvement(mean: chex.Array, var: chex.Array, best: chex.Array) -> chex.Array:
    """Expected improvement of a maximisation over ``best``.

    ``sigma = sqrt(v)``, ``z = (m - best) / sigma``, ``EI = sigma (phi(z) + z Phi(z))`` with
    ``Phi`` from ``ndtr`` (accurate in the tail); clipped at 0. The ``incumbent`` acquisition ranks
    by its logarithm (:func:`log_expected_improvement`).

    Args:
      mean: ``(...)`` predictive means.
      var: ``(...)`` predictive variances (> 0).
      best: scalar or broadcastable, e.g. the incumbent.

    Returns:
      ``(...)`` EI.
    """
    sigma = jnp.sqrt(var)
    z = (mean - best) / sigma
    ei = sigma * (jax.scipy.stats.norm.pdf(z) + z * jax.scipy.stats.norm.cdf(z))
    return jnp.maximum(ei, 0.0)


def log_expected_improvement(mean: chex.Array, var: chex.Array, best: chex.Array) -> chex.Array:
    """``log`` of :func:`expected_improvement`, accurate where the EI itself underflows float32.

    ``EI = sigma h(z)`` with ``h(z) = phi(z) + z Phi(z)``, ``z = (m - best) / sigma``. ``h`` is
    evaluated directly for ``z >= -5``; below that as ``phi(z) (1 + z Phi(z) / phi(z))`` with
    ``Phi / phi`` from ``log_ndtr`` (relative error about ``eps z^2``), and below ``z = -13`` by
    the asymptotic series ``h / phi = z^-2 (1 - 3 z^-2 + 15 z^-4 - 105 z^-6)`` (error below
    ``3e-5``). Without it the EI of every candidate underflows to 0 once the surrogate is confident
    (z below about -13) and the argmax degenerates to the first index.

    Args:
      mean: ``(...)`` predictive means.
      var: ``(...)`` predictive variances (> 0).
      best: the incumbent.

    Returns:
      ``(...)`` log EI.
    """
    sigma = jnp.sqrt(var)
    z = (mean - best) / sigma
    log_pdf = -0.5 * jnp.square(z) - _LOG_SQRT_2PI
    direct = jnp.log(
        jnp.maximum(
            jax.scipy.stats.norm.pdf(z) + z * jax.scipy.stats.norm.cdf(z), jnp.finfo(jnp.float32).tiny
        )
    )
    zm = jnp.minimum(z, -5.0)  # the other branches only see z < -5 (no overflow, no log of <= 0)
    mills = jnp.exp(jax.scipy.special.log_ndtr(zm) - (-0.5 * jnp.square(zm) - _LOG_SQRT_2PI))
    middle = log_pdf + jnp.log1p(zm * mills)
    zt = jnp.minimum(z, -13.0)
    w = 1.0 / jnp.square(zt)
    tail = log_pdf - 2.0 * jnp.log(-zt) + jnp.log1p(w * (-3.0 + w * (15.0 - 105.0 * w)))
    log_h = jnp.where(z >= -5.0, direct, jnp.where(z >= -13.0, middle, tail))
    return jnp.log(sigma) + log_h


def fit_schedule(
    t: chex.Array, init_size: int, k: int
) -> tuple[chex.Array, chex.Array, chex.Array, chex.Array]:
    """Where step ``t`` falls in a batch-BO run: ``init_size`` initial queries, then fits of ``k`` proposals.

    Returns ``(t, is_init, slot, is_fit)``: ``t`` as int32, whether the step is an initial query,
    its slot in the current batch of proposals, and whether it refits the surrogate (slot 0).
    """
    t = jnp.asarray(t).astype(jnp.int32)
    is_init = t < init_size
    slot = jnp.maximum(t - init_size, 0) % k
    return t, is_init, slot, jnp.logical_not(is_init) & (slot == 0)


def select_top(score: chex.Array, priority: chex.Array, k: int) -> tuple[chex.Array, chex.Array]:
    """The ``k`` best pool indices by ``score``, exact ties broken by the larger ``priority``.

    The original's argsort picks, among equal EI values, by position in its pool, which each seed
    shuffles (``random.seed(seed)``); a per-seed random ``priority`` is that rule in
    distribution, instead of every seed falling back to pool row 0.

    Args:
      score: ``(P,)`` float; ``-inf`` marks excluded architectures (NaN must be mapped first).
      priority: ``(P,)`` float32 distinct random ranks.
      k: static number of indices.

    The ``k`` picks are ``k`` rounds of two reductions (the best score among the untaken, then
    the largest priority among its ties), the order a sort by ``(-score, -priority)`` gives: on
    the 423,624-cell NB101 pool ``k = 5`` took 12 ms on the shared CPU, the sort 340 ms.

    Returns:
      ``(idx (k,) int32, ok (k,) bool)``; ``ok`` is False for slots with no candidate left.
    """

    def pick(taken):
        top = jnp.max(jnp.where(taken, -jnp.inf, score))
        tied = jnp.where((score == top) & ~taken, priority, -jnp.inf)  # (P,)
        return fast_argmin(-tied)

    taken = jnp.zeros(score.shape, bool)  # (P,)
    picks = []
    for _ in range(k):  # k is small and static: unrolled
        picks.append(pick(taken))
        taken = taken.at[picks[-1]].set(True)
    idx = jnp.stack(picks)  # (k,)
    return idx.astype(jnp.int32), jnp.isfinite(score[idx])


def make_bo(cfg: BOConfig) -> Strategy:
    """DNGO-BO as a :class:`~a2v_jax.search.core.Strategy` (one query per step).

    Args:
      cfg: the config; ``cfg.max_obs`` must cover the steps the run is given.

    Returns:
      ``Strategy(init, step)``.
    """
    k = cfg.topk

    def init(env: SearchEnv, key: chex.PRNGKey) -> BOState:
        p, d = env.features.shape
        if cfg.init_size > p:
            raise ValueError(f"BOConfig.init_size ({cfg.init_size}) exceeds the pool size ({p})")
        k_init, k_prio = jax.random.split(key)
        k_fit = jax.random.fold_in(key, 2)  # a separate stream: the other draws stay as they were
        return BOState(
            log=init_log(p),
            init_idx=jax.random.permutation(k_init, p)[: cfg.init_size].astype(jnp.int32),
            priority=jax.random.permutation(k_prio, p).astype(jnp.float32),  # exact below 2**24
            x_obs=jnp.zeros((cfg.max_obs, d), jnp.float32),
            y_obs=jnp.zeros((cfg.max_obs,), jnp.float32),
            queue=jnp.zeros((k,), jnp.int32),
            queue_ok=jnp.zeros((k,), bool),
            theta=jnp.zeros((2,), jnp.float32),
            fit_key=jax.random.key_data(k_fit),  # raw, so the state stays plain arrays
        )

    def _surrogate(x, y, mask, pool, key, n_bound):
        def one(k):
            fit = dngo_fit(x, y, mask, k, cfg.dngo, n_bound=n_bound)
            mean, var = dngo_predict(fit, pool, chunk=cfg.pool_chunk)
            return mean, var, jnp.stack([fit.log_alpha, fit.log_sigma2])

        if cfg.ensemble == 1:
            return one(key)
        means, vars_, thetas = jax.vmap(one)(jax.random.split(key, cfg.ensemble))  # (E, P), (E, P), (E, 2)
        mean = jnp.mean(means, axis=0)
        var = jnp.mean(vars_ + jnp.square(means - mean), axis=0)  # E[v + m^2] - E[m]^2, no cancellation
        return mean, jnp.maximum(var, VAR_FLOOR), thetas[0]

    def propose(state: BOState, env: SearchEnv, key: chex.PRNGKey, t: chex.Array):
        mask = jnp.arange(cfg.max_obs) < state.log.n_queries  # (max_obs,)
        n_bound = jnp.minimum(t, cfg.max_obs)  # shared by all seeds: no query before step t is missing
        if cfg.fit_key == "run":
            key = jax.random.wrap_key_data(state.fit_key)
        mean, var, theta = _surrogate(state.x_obs, state.y_obs, mask, env.features, key, n_bound)  # (P,)
        if cfg.acquisition == "fixed_target":
            score = fixed_target_ei(mean, var, cfg.ei_target)  # (P,) float32, as the original
        else:
            score = log_expected_improvement(mean, var, state.log.best_signal)  # (P,)
        score = jnp.where(jnp.isnan(score), -jnp.inf, score)
        if cfg.dedup:
            score = jnp.where(state.log.visited, -jnp.inf, score)
        idx, ok = select_top(score, state.priority, k)
        return idx, ok, theta

    def step(state: BOState, env: SearchEnv, key: chex.PRNGKey, t: chex.Array) -> tuple[BOState, StepRecord]:
        t, is_init, slot, is_fit = fit_schedule(t, cfg.init_size, k)
        queue, queue_ok, theta = jax.lax.cond(
            is_fit,
            lambda s: propose(s, env, key, t),
            lambda s: (s.queue, s.queue_ok, s.theta),
            state,
        )
        init_pick = state.init_idx[jnp.clip(t, 0, cfg.init_size - 1)]
        idx = jnp.where(is_init, init_pick, queue[slot])
        valid = jnp.where(is_init, True, queue_ok[slot]) & (state.log.n_queries < cfg.max_obs)
        if cfg.dedup:
            valid = valid & jnp.logical_not(state.log.visited[idx])
        n = state.log.n_queries
        log, rec = record_query(state.log, env, idx, overshoot=cfg.overshoot, valid=valid)
        x_new = jnp.where(rec.accepted, env.features[idx].astype(jnp.float32), 0.0)
        y_new = jnp.where(rec.accepted, env.signal[idx].astype(jnp.float32), 0.0)
        state = state.replace(
            log=log,
            x_obs=state.x_obs.at[n].set(x_new, mode="drop"),
            y_obs=state.y_obs.at[n].set(y_new, mode="drop"),
            queue=queue,
            queue_ok=queue_ok,
            theta=theta,
        )
        return state, rec

    return Strategy(init=init, step=step)
