"""DNGO (Snoek et al. 2015) as arch2vec uses it: a tanh MLP's last hidden layer as the basis of a
Bayesian linear regression (reference §7.2).

One fit is a pure function of ``(X, y, mask, key)`` with static shapes: the observations sit in a
padded buffer of capacity ``n_max`` and ``mask`` marks the valid rows, so a BO loop can carry the
buffer through ``lax.scan`` and ``vmap`` it over seeds. Masked rows influence nothing: not the
input standardisation, not a minibatch, not the regression.

The network (the original's modified pybnn ``Net``): ``Linear(D -> 128) -> tanh -> Linear(128 ->
1)``, PyTorch's default initialisation (``U(+-1/sqrt(fan_in))`` for weights and biases), trained
from scratch on every fit for ``epochs`` epochs of Adam (``lr``, PyTorch's betas and eps) on the
mean squared error over shuffled minibatches of ``batch_size``; the last incomplete minibatch of an
epoch is dropped, and ``n <= batch_size`` observations make one minibatch of all of them. Inputs
are standardised per dimension with the valid rows' mean and (population) standard deviation;
outputs are not.

The regression. ``Phi = tanh(fc1(x))`` (``(n, H)``, no bias column), ``A = Phi^T Phi``,
``alpha`` the weight precision and ``beta = 1 / sigma^2`` the noise precision::

    K = beta A + alpha I,    m = beta K^-1 Phi^T y,    S = K^-1
    mean(x) = phi(x)^T m,    var(x) = 1 / beta + phi(x)^T S phi(x)

Every solve goes through a Cholesky factor (no explicit inverse); the predictive variance uses
the inverse of that triangular factor once per fit, so the variance of a whole pool is one
matmul.

The hyper-parameters ``theta = (log alpha, log sigma^2)`` maximise the log marginal likelihood
(Bishop, PRML eq. 3.86) inside the box ``[-10, 10]^2``::

    exact:  D/2 log a + N/2 log b - b/2 |y - Phi m|^2 - a/2 |m|^2 - 1/2 log|K| - N/2 log 2 pi
    paper:  D/2 log a + N/2 log b - b/2 |y - Phi m|   - a/2 |m|^2 - 1/2 log(|K| + 1e-10)
            - N/2 log 2 pi,   -inf where |K| overflows float64

``paper`` is the original's function exactly: the data-fit norm is not squared (a pybnn quirk),
the determinant is taken in float64 plus ``1e-10`` (so it saturates at ``log 1e-10`` where the
determinant underflows, and the likelihood is ``-inf`` where it overflows), no prior term.

How they are maximised. The original runs ``scipy.optimize.fmin`` (Nelder--Mead) from one draw of
its prior (``N(0, 1)``, ``N(-3, 1)``). Here the problem is profiled: with ``lambda = alpha / beta``
the posterior mean ``m = (A + lambda I)^-1 Phi^T y`` does not depend on ``beta``, and
``log|K| = D log beta + log|A + lambda I|``, so one Cholesky factor of ``A + lambda I`` gives the
likelihood for every ``beta`` and the best ``beta`` is a 1-d concave problem (closed form
``beta = N / (|r|^2 + lambda |m|^2)`` for ``exact``; a bisection on the derivative for ``paper``),
clipped to the box. ``log lambda`` is then searched on a grid over ``[-20, 20]`` (``hyper_grid``
Cholesky factors, batched) and refined by golden-section search around the best grid point
(``hyper_refine`` more). This finds the global maximum of the profile up to the grid's resolution
where Nelder--Mead finds a local one near its random start; where the likelihood has one mode (the
usual case) both land on the same ``theta``, to well within the tolerance that matters for the
acquisition. A float32 Cholesky fails for ``lambda`` below about ``1e-7 trace(A)``; those grid
points score ``-inf`` (the original, in float64, could go lower; the original maps a NaN
likelihood to ``-1e25``, i.e. also rejects it).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

LIKELIHOODS = ("paper", "exact")

# _serial_lapack: on CPU, jaxlib runs a batched Cholesky / triangular solve (what they become
# under vmap) by splitting the batch over XLA's intra-op thread pool and blocking the calling
# worker until the pieces finish. Two such calls that are independent in the graph can start
# together on two workers, each then waits for pieces that no free worker can run: a deadlock
# (seen on this 2-core machine with jax 0.10.2). So every LAPACK call in a fit depends on the
# previous one: the grid is one batched call, the golden-section pair is one batched call, and
# the final triangular inverse waits for the posterior solve (optimization_barrier).

#: ``log`` of the largest float64 and float32: ``np.linalg.det`` of a matrix of that dtype
#: overflows to ``inf`` above it (the original's ``K`` is float32, see the module docstring).
LOG_FLOAT64_MAX = float(np.log(np.finfo(np.float64).max))
LOG_FLOAT32_MAX = float(np.log(np.finfo(np.float32).max))
_LOG_MAX = {"float64": LOG_FLOAT64_MAX, "float32": LOG_FLOAT32_MAX}
HYPER_OPTS = ("profile", "nelder-mead")
#: ``log(1e-10)``: the original adds ``1e-10`` to the determinant before its log.
LOG_DET_JITTER = math.log(1e-10)
#: The original clips the predictive variance at float64's machine epsilon.
VAR_FLOOR = float(np.finfo(np.float64).eps)
_HI = jax.lax.Precision.HIGHEST


@dataclasses.dataclass(frozen=True)
class DNGOConfig:
    """DNGO hyper-parameters (defaults: the original NB201 search, ``likelihood`` aside).

    Attributes:
      hidden: basis size (units of the one hidden layer).
      epochs: training epochs per fit.
      lr: Adam learning rate.
      batch_size: minibatch size.
      likelihood: ``exact`` (Bishop's log marginal likelihood) or ``paper`` (the original's,
        quirks included; see the module docstring).
      theta_bound: the box ``[-theta_bound, theta_bound]`` for ``log alpha`` and ``log sigma^2``.
      hyper_grid: grid points in ``log(alpha / beta)`` over ``[-2 theta_bound, 2 theta_bound]``.
      hyper_refine: golden-section steps around the best grid point (one Cholesky each).
      beta_bisect: bisection steps for the best ``beta`` at fixed ``lambda`` (``paper`` only).
      normalize_output: standardise ``y`` before fitting (the original: no).
      det_dtype: ``paper`` likelihood only: the dtype whose range the determinant of ``K`` must
        fit (``-inf`` where it overflows). The original's is ``float32`` (module docstring).
      hyper_opt: ``profile`` (global: grid + golden section on the profile likelihood) or
        ``nelder-mead`` (the original's ``scipy.optimize.fmin`` from one prior draw, local).
      nm_grid: ``nelder-mead`` only: nodes in ``log lambda`` of the table the objective is
        interpolated from (one Cholesky factor each, in one batched call). 41 nodes (spacing 1)
        moved the end point of 64 fits on cifar100 data by at most 0.009 from 161 nodes' (0.25).
      nm_maxfun: ``nelder-mead`` only: evaluation budget (``fmin``'s default for 2 parameters).
    """

    hidden: int = 128
    epochs: int = 100
    lr: float = 0.01
    batch_size: int = 10
    likelihood: str = "exact"
    theta_bound: float = 10.0
    hyper_grid: int = 17
    hyper_refine: int = 10
    beta_bisect: int = 40
    normalize_output: bool = False
    det_dtype: str = "float64"
    hyper_opt: str = "profile"
    nm_grid: int = 41
    nm_maxfun: int = 400

    def __post_init__(self):
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"DNGOConfig.likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.det_dtype not in _LOG_MAX:
            raise ValueError(f"DNGOConfig.det_dtype must be one of {tuple(_LOG_MAX)}, got {self.det_dtype!r}")
        if self.hyper_opt not in HYPER_OPTS:
            raise ValueError(f"DNGOConfig.hyper_opt must be one of {HYPER_OPTS}, got {self.hyper_opt!r}")
        for name in ("hidden", "epochs", "batch_size", "hyper_grid", "nm_maxfun"):
            if getattr(self, name) < 1:
                raise ValueError(f"DNGOConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.hyper_refine == 1 or self.hyper_refine < 0 or self.beta_bisect < 0:
            raise ValueError(
                f"DNGOConfig.hyper_refine must be 0 or >= 2 and beta_bisect >= 0, got "
                f"{self.hyper_refine}, {self.beta_bisect}"
            )
        if self.nm_grid < 4:
            raise ValueError(f"DNGOConfig.nm_grid must be >= 4, got {self.nm_grid}")
        if not (self.lr > 0 and self.theta_bound > 0):
            raise ValueError(f"DNGOConfig.lr and theta_bound must be > 0, got {self.lr}, {self.theta_bound}")


# --------------------------------------------------------------------------- network


def init_mlp(key: chex.PRNGKey, in_dim: int, hidden: int) -> dict:
    """``Linear(in_dim -> hidden) -> tanh -> Linear(hidden -> 1)`` with PyTorch's default init."""
    k = jax.random.split(key, 4)
    b1, b2 = 1.0 / math.sqrt(in_dim), 1.0 / math.sqrt(hidden)

    def u(key, shape, bound):
        return jax.random.uniform(key, shape, jnp.float32, -bound, bound)

    return {
        "w1": u(k[0], (in_dim, hidden), b1),
        "b1": u(k[1], (hidden,), b1),
        "w2": u(k[2], (hidden,), b2),
        "b2": u(k[3], (), b2),
    }


def basis(params: dict, x: chex.Array) -> chex.Array:
    """The basis functions ``tanh(x W1 + b1)``: ``(..., D) -> (..., H)``."""
    return jnp.tanh(jnp.dot(x, params["w1"], precision=_HI) + params["b1"])


def mlp(params: dict, x: chex.Array) -> chex.Array:
    """The network's output: ``(..., D) -> (...)``."""
    return jnp.dot(basis(params, x), params["w2"], precision=_HI) + params["b2"]


def train_mlp(
    params: dict,
    x: chex.Array,
    y: chex.Array,
    mask: chex.Array,
    key: chex.PRNGKey,
    cfg: DNGOConfig,
    n_bound: chex.Array | int | None = None,
) -> tuple[dict, optax.OptState]:
    """``cfg.epochs`` epochs of minibatch Adam on the MSE over the valid rows.

    Each epoch shuffles the ``n`` valid rows and walks ``max(1, n // batch_size)`` minibatches (the
    last incomplete one is dropped; ``n <= batch_size`` gives one batch of all ``n``). The loop
    runs ``max(1, n_bound // batch_size)`` minibatch slots; slots past a member's own count are
    skipped (parameters and Adam state unchanged), so members with fewer observations are exact.

    Args:
      params: initial parameters (:func:`init_mlp`).
      x: ``(n_max, D)`` standardised inputs.
      y: ``(n_max,)`` targets.
      mask: ``(n_max,)`` bool, valid rows (anywhere in the buffer).
      key: shuffling key.
      cfg: the config.
      n_bound: optional bound: every valid row has an index below it (``n <= n_bound``). It
        shortens the minibatch loop and lets each epoch's shuffle sort only a prefix of the
        buffer (an XLA sort costs about 0.1 us per element; 100 epochs of a 350-row buffer
        dominated a BO step). Pass a value shared by all members of a ``vmap`` (e.g. from the
        step index) so the loop stays a loop and the prefix choice a branch there.

    Returns:
      The trained parameters and the final Adam state (its ``count`` is the number of updates).
    """
    x, y, mask = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), jnp.asarray(mask, bool)
    n_max = x.shape[0]
    bs = cfg.batch_size
    opt = optax.adam(cfg.lr)
    n = jnp.sum(mask.astype(jnp.int32))
    slots_cap = max(1, n_max // bs)
    n_slots = slots_cap
    if n_bound is not None:  # a traced bound: the loop below becomes a while loop
        n_slots = jnp.clip(jnp.asarray(n_bound, jnp.int32) // bs, 1, slots_cap)
    own_slots = jnp.maximum(n // bs, 1)
    perm_len = max(n_max, bs)
    shuffle = _prefix_shuffle(n_max, n_bound)

    def loss_fn(p, xb, yb, mb):
        err = jnp.square(mlp(p, xb) - yb)  # (bs,)
        return jnp.sum(jnp.where(mb, err, 0.0)) / jnp.maximum(jnp.sum(mb), 1)

    def epoch(carry, e):
        ke = jax.random.fold_in(key, e)
        u = jnp.where(mask, jax.random.uniform(ke, (n_max,)), jnp.inf)
        perm = shuffle(u)  # (n_max,) valid rows first, shuffled
        perm = jnp.pad(perm, (0, perm_len - n_max))

        def slot(s, c):
            p, o = c
            idx = jax.lax.dynamic_slice(perm, (s * bs,), (bs,))  # (bs,)
            active = s < own_slots
            mb = (s * bs + jnp.arange(bs) < n) & active  # (bs,)
            g = jax.grad(loss_fn)(p, x[idx], y[idx], mb)
            upd, o_new = opt.update(g, o, p)
            p_new = optax.apply_updates(p, upd)
            keep = lambda new, old: jnp.where(active, new, old)  # noqa: E731
            return jax.tree.map(keep, p_new, p), jax.tree.map(keep, o_new, o)

        return jax.lax.fori_loop(0, n_slots, slot, carry), None

    (params, opt_state), _ = jax.lax.scan(epoch, (params, opt.init(params)), jnp.arange(cfg.epochs))
    return params, opt_state


def _prefix_shuffle(n_max: int, n_bound):
    """``u -> argsort(u)`` restricted to the rows below ``n_bound`` (the rest keep their order).

    With ``n_bound`` given, the sort runs on the smallest of a few static prefix lengths that
    covers it, chosen by ``lax.switch``; the valid rows' order is the same as a full argsort's.
    """
    if n_bound is None:
        return lambda u: jnp.argsort(u).astype(jnp.int32)
    width = max(32, -(-n_max // 16))  # at most ~16 branches
    sizes = [*range(width, n_max, width), n_max]

    def branch(k):
        rest = jnp.arange(k, n_max, dtype=jnp.int32)
        return lambda u: jnp.concatenate([jnp.argsort(u[:k]).astype(jnp.int32), rest])

    which = jnp.searchsorted(jnp.asarray(sizes), jnp.asarray(n_bound, jnp.int32))
    which = jnp.minimum(which, len(sizes) - 1)
    return lambda u: jax.lax.switch(which, [branch(k) for k in sizes], u)


# --------------------------------------------------------------------------- Bayesian linear regression


class BLRPosterior(NamedTuple):
    """The weight posterior of the Bayesian linear regression."""

    mean: chex.Array  # (H,) m = beta K^-1 Phi^T y
    chol: chex.Array  # (H, H) lower Cholesky factor of K = beta Phi^T Phi + alpha I
    beta: chex.Array  # () noise precision 1 / sigma^2


def _masked(phi: chex.Array, y: chex.Array, mask: chex.Array) -> tuple[chex.Array, chex.Array, chex.Array]:
    m = mask.astype(phi.dtype)
    return phi * m[:, None], y * m, jnp.sum(m)


def blr_posterior(
    phi: chex.Array, y: chex.Array, mask: chex.Array, log_alpha: chex.Array, log_sigma2: chex.Array
) -> BLRPosterior:
    """The posterior ``N(m, K^-1)`` of the output weights, by Cholesky.

    ``K = beta Phi^T Phi + alpha I``, ``m = beta K^-1 Phi^T y`` (two triangular solves), with
    ``alpha = exp(log_alpha)``, ``beta = exp(-log_sigma2)``; masked rows are left out.

    Args:
      phi: ``(n_max, H)`` basis values of the observations.
      y: ``(n_max,)`` targets.
      mask: ``(n_max,)`` bool, valid rows.
      log_alpha: () log weight precision.
      log_sigma2: () log noise variance.

    Returns:
      A :class:`BLRPosterior`.
    """
    phi, y, _ = _masked(phi, y, mask)
    alpha, beta = jnp.exp(log_alpha), jnp.exp(-log_sigma2)
    h = phi.shape[1]
    k = beta * jnp.dot(phi.T, phi, precision=_HI) + alpha * jnp.eye(h, dtype=phi.dtype)  # (H, H)
    chol = jnp.linalg.cholesky(k)
    rhs = beta * jnp.dot(phi.T, y, precision=_HI)  # (H,)
    mean = jax.scipy.linalg.cho_solve((chol, True), rhs)
    return BLRPosterior(mean=mean, chol=chol, beta=beta)


def blr_predict(post: BLRPosterior, phi_q: chex.Array) -> tuple[chex.Array, chex.Array]:
    """Predictive mean ``phi^T m`` and variance ``1/beta + |L^-1 phi|^2`` (``K = L L^T``).

    Args:
      post: from :func:`blr_posterior`.
      phi_q: ``(Q, H)`` basis values of the queries.

    Returns:
      ``(mean (Q,), var (Q,))``, the variance clipped below at float64's epsilon (as the original).
    """
    mean = jnp.dot(phi_q, post.mean, precision=_HI)
    z = jax.scipy.linalg.solve_triangular(post.chol, phi_q.T, lower=True)  # (H, Q)
    var = 1.0 / post.beta + jnp.sum(jnp.square(z), axis=0)
    return mean, jnp.maximum(var, VAR_FLOOR)


def _out_of_box(log_alpha, log_sigma2, bound):
    return (jnp.abs(log_alpha) > bound) | (jnp.abs(log_sigma2) > bound)


def log_marginal_likelihood(
    phi: chex.Array,
    y: chex.Array,
    mask: chex.Array,
    log_alpha: chex.Array,
    log_sigma2: chex.Array,
    likelihood: str = "exact",
    bound: float = 10.0,
    det_dtype: str = "float64",
) -> chex.Array:
    """The log marginal likelihood of ``theta = (log alpha, log sigma^2)`` (module docstring).

    ``-inf`` outside the box ``[-bound, bound]^2``, where the ``paper`` determinant overflows
    ``det_dtype``, and where the float32 Cholesky factor fails.

    Args:
      phi: ``(n_max, H)`` basis values of the observations.
      y: ``(n_max,)`` targets.
      mask: ``(n_max,)`` bool, valid rows.
      log_alpha: () log weight precision.
      log_sigma2: () log noise variance.
      likelihood: ``exact`` or ``paper``.
      bound: the box.
      det_dtype: ``paper`` only: ``float64`` or ``float32`` (the original's, see the module docstring).

    Returns:
      () float32 log marginal likelihood.
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    post = blr_posterior(phi, y, mask, log_alpha, log_sigma2)
    phi_m, y_m, n = _masked(phi, y, mask)
    d = phi.shape[1]
    alpha, beta = jnp.exp(log_alpha), post.beta
    resid = y_m - jnp.dot(phi_m, post.mean, precision=_HI)  # (n_max,) zero on masked rows
    sq = jnp.sum(jnp.square(resid))
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(post.chol)))
    mll = 0.5 * d * log_alpha - 0.5 * n * log_sigma2 - 0.5 * n * math.log(2 * math.pi)
    mll = mll - 0.5 * alpha * jnp.sum(jnp.square(post.mean))
    if likelihood == "exact":
        mll = mll - 0.5 * beta * sq - 0.5 * logdet
    else:
        mll = mll - 0.5 * beta * jnp.sqrt(sq) - 0.5 * jnp.logaddexp(logdet, LOG_DET_JITTER)
        mll = jnp.where(logdet > _LOG_MAX[det_dtype], -jnp.inf, mll)
    bad = _out_of_box(log_alpha, log_sigma2, bound) | jnp.isnan(mll)
    return jnp.where(bad, -jnp.inf, mll)


class _Stats(NamedTuple):
    phi: chex.Array  # (n_max, H) masked basis
    y: chex.Array  # (n_max,) masked targets
    gram: chex.Array  # (H, H) Phi^T Phi
    rhs: chex.Array  # (H,) Phi^T y
    n: chex.Array  # () float number of valid rows


def _stats(phi, y, mask) -> _Stats:
    phi, y, n = _masked(phi, y, mask)
    gram = jnp.dot(phi.T, phi, precision=_HI)
    rhs = jnp.dot(phi.T, y, precision=_HI)
    return _Stats(phi, y, gram, rhs, n)


def _lambda_terms(st: _Stats, log_lam: chex.Array) -> tuple[chex.Array, chex.Array, chex.Array]:
    """``(log|A + lambda I|, |y - Phi m|^2, |m|^2)`` with ``m = (A + lambda I)^-1 Phi^T y``.

    Everything in the likelihood that depends on ``lambda = alpha / beta`` (``K = beta (A + lambda
    I)`` and ``m`` does not depend on ``beta``), from one Cholesky factor.
    """
    d = st.gram.shape[0]
    chol = jnp.linalg.cholesky(st.gram + jnp.exp(log_lam) * jnp.eye(d, dtype=st.gram.dtype))
    ld = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol)))  # log|A + lambda I|
    z = jax.scipy.linalg.solve_triangular(chol, st.rhs, lower=True)  # (H,)
    # The residual is computed, not taken as y^T y - |z|^2: that difference cancels badly in
    # float32 when the noise is small (the exact likelihood often pins sigma^2 at e^-10).
    m = jax.scipy.linalg.solve_triangular(chol, z, lower=True, trans="T")  # (H,)
    rr = jnp.sum(jnp.square(st.y - jnp.dot(st.phi, m, precision=_HI)))  # |r|^2
    return ld, rr, jnp.sum(jnp.square(m))


def _profile(st: _Stats, log_lam: chex.Array, cfg: DNGOConfig) -> tuple[chex.Array, chex.Array]:
    """The best ``log beta`` at ``lambda = exp(log_lam)`` and the likelihood there.

    Returns:
      ``(mll (), log_beta ())``; ``mll = -inf`` where no ``beta`` is feasible or the factor fails.
    """
    d = st.gram.shape[0]
    bound = cfg.theta_bound
    lam = jnp.exp(log_lam)
    ld, rr, mm = _lambda_terms(st, log_lam)
    # log beta = -log sigma^2 in [-B, B] and log alpha = log_lam + log beta in [-B, B].
    lo = jnp.maximum(-bound, -bound - log_lam)
    hi = jnp.minimum(bound, bound - log_lam)
    const = 0.5 * d * log_lam - 0.5 * st.n * math.log(2 * math.pi)
    if cfg.likelihood == "exact":
        q = rr + lam * mm
        lb = jnp.clip(jnp.log(st.n / q), lo, hi)
        mll = const + 0.5 * st.n * lb - 0.5 * jnp.exp(lb) * q - 0.5 * ld
    else:
        q = jnp.sqrt(rr) + lam * mm
        hi = jnp.minimum(hi, (_LOG_MAX[cfg.det_dtype] - ld) / d - 1e-4)  # |K| must not overflow

        def f(lb):
            ldk = d * lb + ld  # log|K|
            fit = 0.5 * (d + st.n) * lb - 0.5 * jnp.exp(lb) * q
            return const + fit - 0.5 * jnp.logaddexp(ldk, LOG_DET_JITTER)

        def grad(lb):
            sat = jax.nn.sigmoid(d * lb + ld - LOG_DET_JITTER)  # d/dx logaddexp(x, log 1e-10)
            return 0.5 * (d + st.n) - 0.5 * jnp.exp(lb) * q - 0.5 * d * sat

        def bisect(_, ab):
            a, b = ab
            mid = 0.5 * (a + b)
            up = grad(mid) > 0  # concave: the maximum is above mid
            return jnp.where(up, mid, a), jnp.where(up, b, mid)

        a, b = jax.lax.fori_loop(0, cfg.beta_bisect, bisect, (lo, hi))
        lb = 0.5 * (a + b)
        mll = jnp.where(hi >= lo, f(lb), -jnp.inf)
    return jnp.where(jnp.isnan(mll) | (hi < lo), -jnp.inf, mll), lb


def nelder_mead(
    f, x0: chex.Array, maxfun: int, xatol: float = 1e-4, fatol: float = 1e-4
) -> tuple[chex.Array, chex.Array, chex.Array]:
    """Minimises ``f`` from ``x0`` as ``scipy.optimize.fmin`` does (Nelder--Mead, defaults).

    The same algorithm step for step: the initial simplex ``x0`` plus each coordinate scaled by
    1.05 (``0.00025`` where it is 0); reflection 1, expansion 2, contraction 0.5, shrink 0.5; a
    stable sort of the vertices after every iteration; stop once the vertices lie within ``xatol``
    and their values within ``fatol`` of the best, or once ``maxfun`` evaluations (or as many
    iterations) are used, checked at the top of each iteration. Every candidate of an iteration is
    evaluated (that is cheap here and keeps the loop branch-free under ``vmap``) but only those the
    sequential algorithm would evaluate are counted. As in scipy, ``+inf`` values are ordinary
    values: a simplex whose vertices are all ``+inf`` only shrinks towards its first vertex.

    Args:
      f: scalar objective of a ``(n,)`` point; must not return NaN.
      x0: ``(n,)`` start.
      maxfun: evaluation budget (scipy's default is ``200 n``, also used as the iteration cap).
      xatol: simplex-size tolerance.
      fatol: value tolerance.

    Returns:
      ``(x (n,), f(x) (), evaluations ())``.
    """
    x0 = jnp.asarray(x0, jnp.float32)
    n = x0.shape[0]
    eye = jnp.eye(n, dtype=bool)
    bumped = jnp.where(x0 != 0, 1.05 * x0, 0.00025)  # (n,)
    sim = jnp.concatenate([x0[None], jnp.where(eye, bumped[None, :], x0[None, :])])  # (n+1, n)
    fsim = jax.vmap(f)(sim)  # (n+1,)

    def ordered(sim, fsim):
        order = jnp.argsort(fsim, stable=True)
        return sim[order], fsim[order]

    sim, fsim = ordered(sim, fsim)

    def cond(c):
        _, _, calls, iters, done = c
        return (~done) & (calls < maxfun) & (iters < maxfun)

    def body(c):
        sim, fsim, calls, iters, _ = c
        done = (jnp.max(jnp.abs(sim[1:] - sim[0])) <= xatol) & (jnp.max(jnp.abs(fsim[0] - fsim[1:])) <= fatol)
        xbar = jnp.mean(sim[:-1], axis=0)
        worst = sim[-1]
        cand = jnp.stack(
            [
                2.0 * xbar - worst,  # reflection
                3.0 * xbar - 2.0 * worst,  # expansion
                1.5 * xbar - 0.5 * worst,  # outside contraction
                0.5 * xbar + 0.5 * worst,  # inside contraction
            ]
        )
        shrunk = sim[0] + 0.5 * (sim[1:] - sim[0])  # (n, n)
        fc = jax.vmap(f)(jnp.concatenate([cand, shrunk]))
        fr, fe, fo, fi, fs = fc[0], fc[1], fc[2], fc[3], fc[4:]
        expand = fr < fsim[0]
        take_r = ~expand & (fr < fsim[-2])
        contract = ~expand & ~take_r
        outside = contract & (fr < fsim[-1])
        out_ok = outside & (fo <= fr)
        in_ok = contract & ~outside & (fi < fsim[-1])
        shrink = contract & ~out_ok & ~in_ok
        pick = jnp.where(
            expand,
            jnp.where(fe < fr, 1, 0),
            jnp.where(take_r, 0, jnp.where(out_ok, 2, 3)),
        )
        last_x, last_f = cand[pick], jnp.stack([fr, fe, fo, fi])[pick]
        new_sim = jnp.where(shrink, jnp.concatenate([sim[:1], shrunk]), sim.at[-1].set(last_x))
        new_fsim = jnp.where(shrink, jnp.concatenate([fsim[:1], fs]), fsim.at[-1].set(last_f))
        new_sim, new_fsim = ordered(new_sim, new_fsim)
        used = 1 + (expand | contract).astype(jnp.int32) + n * shrink.astype(jnp.int32)
        keep = lambda old, new: jnp.where(done, old, new)  # noqa: E731
        return (
            keep(sim, new_sim),
            keep(fsim, new_fsim),
            keep(calls, calls + used),
            keep(iters, iters + 1),
            done,
        )

    init = (sim, fsim, jnp.asarray(n + 1, jnp.int32), jnp.asarray(1, jnp.int32), jnp.asarray(False))
    sim, fsim, calls, _, _ = jax.lax.while_loop(cond, body, init)
    return sim[0], fsim[0], calls


def _catmull_rom(nodes: chex.Array, vals: chex.Array, x: chex.Array) -> chex.Array:
    """Cubic (Catmull--Rom) interpolation of ``vals (G, K)`` on uniform ``nodes (G,)`` at ``x``."""
    g = nodes.shape[0]
    s = (x - nodes[0]) / (nodes[1] - nodes[0])
    j = jnp.clip(jnp.floor(s), 0, g - 2).astype(jnp.int32)
    t = s - j
    p0, p1 = vals[jnp.maximum(j - 1, 0)], vals[j]
    p2, p3 = vals[j + 1], vals[jnp.minimum(j + 2, g - 1)]
    return 0.5 * (
        2.0 * p1
        + (p2 - p0) * t
        + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * t**2
        + (3.0 * (p1 - p2) + p3 - p0) * t**3
    )


def _fit_nelder_mead(st: _Stats, key: chex.PRNGKey, cfg: DNGOConfig) -> tuple[chex.Array, ...]:
    """The original's optimiser: ``fmin`` on ``-mll`` from one prior draw (module docstring).

    ``-mll(theta)`` needs ``log|A + lambda I|``, ``|r|^2`` and ``|m|^2`` at ``lambda = alpha /
    beta``; those are tabulated at ``cfg.nm_grid`` values of ``log lambda`` (one batched Cholesky
    call) and interpolated (cubic in ``log lambda``; the last two through their logarithms), so the
    few hundred evaluations of a run cost no factorisation. The original maps a NaN likelihood to
    ``-1e25``; nodes where the float32 factor fails do the same here.
    """
    d = st.gram.shape[0]
    bound = cfg.theta_bound
    nodes = jnp.linspace(-2 * bound, 2 * bound, cfg.nm_grid, dtype=jnp.float32)  # (G,)
    ld, rr, mm = jax.vmap(lambda ll: _lambda_terms(st, ll))(nodes)  # (G,) each
    table = jnp.stack([ld, jnp.log(rr), jnp.log(mm)], axis=-1)  # (G, 3)
    log_max = _LOG_MAX[cfg.det_dtype]

    def neg_mll(theta):
        la, ls = theta[0], theta[1]
        ld_, lrr, lmm = _catmull_rom(nodes, table, la + ls)
        rr_, mm_ = jnp.exp(lrr), jnp.exp(lmm)
        lb = -ls
        logdet = d * lb + ld_  # log|K|, K = beta (A + lambda I)
        mll = 0.5 * d * la + 0.5 * st.n * lb - 0.5 * st.n * math.log(2 * math.pi) - 0.5 * jnp.exp(la) * mm_
        if cfg.likelihood == "exact":
            mll = mll - 0.5 * jnp.exp(lb) * rr_ - 0.5 * logdet
        else:
            mll = mll - 0.5 * jnp.exp(lb) * jnp.sqrt(rr_) - 0.5 * jnp.logaddexp(logdet, LOG_DET_JITTER)
            mll = jnp.where(logdet > log_max, -jnp.inf, mll)
        mll = jnp.where(jnp.isnan(mll), -1e25, mll)
        return -jnp.where(_out_of_box(la, ls, bound), -jnp.inf, mll)

    x0 = jnp.array([0.0, -3.0]) + jax.random.normal(key, (2,))  # the prior draw N(0, 1), N(-3, 1)
    x, fx, _ = nelder_mead(neg_mll, x0, cfg.nm_maxfun)
    return x[0], x[1], -fx


def fit_hyperparameters(
    phi: chex.Array, y: chex.Array, mask: chex.Array, cfg: DNGOConfig, key: chex.PRNGKey | None = None
) -> tuple[chex.Array, chex.Array, chex.Array]:
    """``theta = (log alpha, log sigma^2)`` maximising the log marginal likelihood in the box.

    ``cfg.hyper_opt == "nelder-mead"``: the original's local search from a prior draw (``key``
    required; see :func:`nelder_mead`). ``profile``: a grid of ``cfg.hyper_grid`` values of
    ``log lambda`` (``lambda = alpha / beta``) over ``[-2B, 2B]``, the best ``beta`` for each in
    closed form (or by bisection), then ``cfg.hyper_refine`` golden-section steps between the best
    grid point's neighbours.

    Args:
      phi: ``(n_max, H)`` basis values of the observations.
      y: ``(n_max,)`` targets.
      mask: ``(n_max,)`` bool, valid rows.
      cfg: the config (``likelihood``, ``theta_bound``, grid sizes).
      key: the prior draw that starts Nelder--Mead (unused by ``profile``).

    Returns:
      ``(log_alpha (), log_sigma2 (), mll ())``; with Nelder--Mead ``mll`` is ``-inf`` when the
      search never left an infeasible start (the original then uses that start as it is).
    """
    st = _stats(phi, y, mask)
    if cfg.hyper_opt == "nelder-mead":
        if key is None:
            raise ValueError("fit_hyperparameters: hyper_opt='nelder-mead' needs a key for its prior draw")
        return _fit_nelder_mead(st, key, cfg)
    bound = cfg.theta_bound
    grid = jnp.linspace(-2 * bound, 2 * bound, cfg.hyper_grid, dtype=jnp.float32)  # (G,)
    mlls, lbs = jax.vmap(lambda ll: _profile(st, ll, cfg))(grid)
    g = jnp.argmax(mlls)
    best = (mlls[g], grid[g], lbs[g])
    if cfg.hyper_refine >= 2 and cfg.hyper_grid > 1:
        h = 4 * bound / (cfg.hyper_grid - 1)
        a, b = grid[g] - h, grid[g] + h
        inv_phi = (math.sqrt(5) - 1) / 2
        c, d = b - inv_phi * (b - a), a + inv_phi * (b - a)
        # c and d in one batched call, not two independent ones (see _serial_lapack).
        (fc, fd), (lbc, lbd) = jax.vmap(lambda ll: _profile(st, ll, cfg))(jnp.stack([c, d]))

        def keep_best(best, f, ll, lb):
            better = f > best[0]
            return tuple(jnp.where(better, new, old) for new, old in zip((f, ll, lb), best, strict=True))

        best = keep_best(keep_best(best, fc, c, lbc), fd, d, lbd)

        def golden(_, s):
            a, b, c, d, fc, fd, best = s
            left = fc >= fd  # the maximum lies in [a, d], else in [c, b]
            a, b = jnp.where(left, a, c), jnp.where(left, d, b)
            new = jnp.where(left, b - inv_phi * (b - a), a + inv_phi * (b - a))
            fn, lbn = _profile(st, new, cfg)
            c, d, fc, fd = (
                jnp.where(left, new, d),
                jnp.where(left, c, new),
                jnp.where(left, fn, fd),
                jnp.where(left, fc, fn),
            )
            return a, b, c, d, fc, fd, keep_best(best, fn, new, lbn)

        *_, best = jax.lax.fori_loop(0, cfg.hyper_refine - 2, golden, (a, b, c, d, fc, fd, best))
    mll, log_lam, log_beta = best
    return log_lam + log_beta, -log_beta, mll


# --------------------------------------------------------------------------- DNGO


@struct.dataclass
class DNGOState:
    """A fitted DNGO: the basis on raw inputs and the regression's posterior."""

    params: dict  # trained network (on standardised inputs)
    x_mean: chex.Array  # (D,) input standardisation
    x_std: chex.Array  # (D,)
    w1: chex.Array  # (D, H) first layer on raw inputs (standardisation folded in)
    b1: chex.Array  # (H,)
    mean_w: chex.Array  # (H,) posterior mean of the output weights
    l_inv: chex.Array  # (H, H) inverse of K's Cholesky factor: var = 1/beta + |l_inv phi|^2
    beta: chex.Array  # () noise precision
    log_alpha: chex.Array  # () fitted log weight precision
    log_sigma2: chex.Array  # () fitted log noise variance
    mll: chex.Array  # () log marginal likelihood at the fit
    y_mean: chex.Array  # () output standardisation (0 unless normalize_output)
    y_std: chex.Array  # () (1 unless normalize_output)


def _standardise(x: chex.Array, mask: chex.Array) -> tuple[chex.Array, chex.Array]:
    """Per-column mean and population std over the valid rows (std 1 where it is 0)."""
    m = mask.astype(x.dtype)
    n = jnp.maximum(jnp.sum(m), 1.0)
    mean = jnp.sum(x * m[:, None], axis=0) / n
    var = jnp.sum(jnp.square(x - mean) * m[:, None], axis=0) / n
    std = jnp.sqrt(var)
    return mean, jnp.where(std > 0, std, 1.0)


def dngo_fit(
    x: chex.Array,
    y: chex.Array,
    mask: chex.Array,
    key: chex.PRNGKey,
    cfg: DNGOConfig,
    n_bound: chex.Array | int | None = None,
) -> DNGOState:
    """Fits DNGO from scratch on the valid rows of a padded buffer (pure; static shapes).

    Standardise the inputs, train a freshly initialised network, fit the regression's two
    hyper-parameters (:func:`fit_hyperparameters`) and its posterior (:func:`blr_posterior`).

    Args:
      x: ``(n_max, D)`` observed features (raw).
      y: ``(n_max,)`` observed signals.
      mask: ``(n_max,)`` bool, valid rows; the others influence nothing.
      key: network initialisation and minibatch shuffling.
      cfg: the config.
      n_bound: optional: every valid row has an index below it; best shared across a ``vmap``
        (see :func:`train_mlp`). It only makes the training cheaper, never changes the result.

    Returns:
      A :class:`DNGOState`.
    """
    chex.assert_rank([x, y, mask], [2, 1, 1])
    mask = mask.astype(bool)
    x = x.astype(jnp.float32)
    y = y.astype(jnp.float32)
    x_mean, x_std = _standardise(x, mask)
    xs = (x - x_mean) / x_std  # (n_max, D)
    if cfg.normalize_output:
        y_mean, y_std = _standardise(y[:, None], mask)
        y_mean, y_std = y_mean[0], y_std[0]
    else:
        y_mean, y_std = jnp.zeros((), jnp.float32), jnp.ones((), jnp.float32)
    yt = jnp.where(mask, (y - y_mean) / y_std, 0.0)
    k_init, k_train = jax.random.split(key)
    k_hyper = jax.random.fold_in(key, 2)  # Nelder--Mead's prior draw (profile: unused)
    params = init_mlp(k_init, x.shape[1], cfg.hidden)
    params, _ = train_mlp(params, xs, yt, mask, k_train, cfg, n_bound)
    phi = basis(params, xs)  # (n_max, H)
    log_alpha, log_sigma2, mll = fit_hyperparameters(phi, yt, mask, cfg, k_hyper)
    post = blr_posterior(phi, yt, mask, log_alpha, log_sigma2)
    chol, _ = jax.lax.optimization_barrier((post.chol, post.mean))  # after the solve (_serial_lapack)
    eye = jnp.eye(cfg.hidden, dtype=jnp.float32)
    l_inv = jax.scipy.linalg.solve_triangular(chol, eye, lower=True)  # (H, H)
    w1 = params["w1"] / x_std[:, None]
    b1 = params["b1"] - jnp.dot(x_mean / x_std, params["w1"], precision=_HI)
    return DNGOState(
        params=params,
        x_mean=x_mean,
        x_std=x_std,
        w1=w1,
        b1=b1,
        mean_w=post.mean,
        l_inv=l_inv,
        beta=post.beta,
        log_alpha=log_alpha,
        log_sigma2=log_sigma2,
        mll=mll,
        y_mean=y_mean,
        y_std=y_std,
    )


def dngo_predict(state: DNGOState, xq: chex.Array, chunk: int | None = None) -> tuple[chex.Array, chex.Array]:
    """Predictive mean and variance at raw inputs ``xq``.

    Args:
      state: from :func:`dngo_fit`.
      xq: ``(Q, D)`` query features (raw).
      chunk: static; evaluate ``chunk`` rows at a time (``lax.map``) to bound the ``(Q, H)``
        intermediates, which matters under a ``vmap`` over many seeds. None: all at once.

    Returns:
      ``(mean (Q,), var (Q,))``; ``var = 1/beta + phi^T K^-1 phi`` clipped below at float64's
      epsilon (the original's clip), both on the scale of ``y``.
    """
    chex.assert_rank(xq, 2)

    def one(xc):
        phi = jnp.tanh(jnp.dot(xc, state.w1, precision=_HI) + state.b1)  # (C, H)
        mean = jnp.dot(phi, state.mean_w, precision=_HI)  # (C,)
        z = jnp.dot(phi, state.l_inv.T, precision=_HI)  # (C, H)
        var = jnp.maximum(1.0 / state.beta + jnp.sum(jnp.square(z), axis=-1), VAR_FLOOR)
        return mean * state.y_std + state.y_mean, var * jnp.square(state.y_std)

    q = xq.shape[0]
    if chunk is None or chunk >= q:
        return one(xq)
    nc = -(-q // chunk)
    xp = jnp.pad(xq, ((0, nc * chunk - q), (0, 0))).reshape(nc, chunk, xq.shape[1])
    mean, var = jax.lax.map(one, xp)
    return mean.reshape(-1)[:q], var.reshape(-1)[:q]
