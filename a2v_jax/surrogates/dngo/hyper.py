"""The two optimisers of DNGO's regression hyper-parameters ``theta = (log alpha, log sigma^2)``.

:func:`fit_hyperparameters` maximises the log marginal likelihood
(:mod:`~a2v_jax.surrogates.dngo.likelihood`) inside the box ``[-theta_bound, theta_bound]^2``:

- ``profile`` (the default, global): ``log lambda = log(alpha / beta)`` on a grid over ``[-2B,
  2B]`` (``hyper_grid`` Cholesky factors, batched), the best ``beta`` for each from the profile,
  then ``hyper_refine`` golden-section steps around the best grid point.
- ``nelder-mead`` (the original's ``scipy.optimize.fmin``, local): :func:`nelder_mead` step for
  step from one draw of the original's prior (``N(0, 1)``, ``N(-3, 1)``), on a table of the
  likelihood's terms interpolated in ``log lambda``.

A float32 Cholesky fails for ``lambda`` below about ``1e-7 trace(A)``; those points score
``-inf`` (the original maps a NaN likelihood to ``-1e25``, i.e. also rejects it). How the two
compare: ``docs/dngo.md``.

Serial LAPACK: on CPU, jaxlib runs a batched Cholesky / triangular solve (what they become under
``vmap``) by splitting the batch over XLA's intra-op thread pool and blocking the calling worker
until the pieces finish; two such calls that are independent in the graph can deadlock (each waits
for pieces no free worker can run). So every LAPACK call in a fit depends on the previous one: the
grid is one batched call, the golden-section pair is one batched call, and the final triangular
inverse of :func:`~a2v_jax.surrogates.dngo.model.dngo_fit` waits for the posterior solve.
"""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp

from a2v_jax.surrogates.dngo.config import LOG_MAX, DNGOConfig
from a2v_jax.surrogates.dngo.likelihood import Stats, evidence, lambda_terms, out_of_box, profile, stats


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


def _fit_nelder_mead(st: Stats, key: chex.PRNGKey, cfg: DNGOConfig) -> tuple[chex.Array, ...]:
    """The original's optimiser: ``fmin`` on ``-mll`` from one prior draw (``docs/dngo.md``).

    ``-mll(theta)`` needs ``log|A + lambda I|``, ``|r|^2`` and ``|m|^2`` at ``lambda = alpha /
    beta``; those are tabulated at ``cfg.nm_grid`` values of ``log lambda`` (one batched Cholesky
    call) and interpolated (cubic in ``log lambda``; the last two through their logarithms), so the
    few hundred evaluations of a run cost no factorisation. The original maps a NaN likelihood to
    ``-1e25``; nodes where the float32 factor fails do the same here.
    """
    d = st.gram.shape[0]
    bound = cfg.theta_bound
    nodes = jnp.linspace(-2 * bound, 2 * bound, cfg.nm_grid, dtype=jnp.float32)  # (G,)
    ld, rr, mm = jax.vmap(lambda ll: lambda_terms(st, ll))(nodes)  # (G,) each
    table = jnp.stack([ld, jnp.log(rr), jnp.log(mm)], axis=-1)  # (G, 3)
    log_max = LOG_MAX[cfg.det_dtype]

    def neg_mll(theta):
        la, ls = theta[0], theta[1]
        ld_, lrr, lmm = _catmull_rom(nodes, table, la + ls)
        rr_, mm_ = jnp.exp(lrr), jnp.exp(lmm)
        lb = -ls
        logdet = d * lb + ld_  # log|K|, K = beta (A + lambda I)
        mll = evidence(d, st.n, la, lb, rr_, mm_, logdet, cfg.likelihood, log_max)
        mll = jnp.where(jnp.isnan(mll), -1e25, mll)
        return -jnp.where(out_of_box(la, ls, bound), -jnp.inf, mll)

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
    st = stats(phi, y, mask)
    if cfg.hyper_opt == "nelder-mead":
        if key is None:
            raise ValueError("fit_hyperparameters: hyper_opt='nelder-mead' needs a key for its prior draw")
        return _fit_nelder_mead(st, key, cfg)
    bound = cfg.theta_bound
    grid = jnp.linspace(-2 * bound, 2 * bound, cfg.hyper_grid, dtype=jnp.float32)  # (G,)
    mlls, lbs = jax.vmap(lambda ll: profile(st, ll, cfg))(grid)
    g = jnp.argmax(mlls)
    best = (mlls[g], grid[g], lbs[g])
    if cfg.hyper_refine >= 2 and cfg.hyper_grid > 1:
        h = 4 * bound / (cfg.hyper_grid - 1)
        a, b = grid[g] - h, grid[g] + h
        inv_phi = (math.sqrt(5) - 1) / 2
        c, d = b - inv_phi * (b - a), a + inv_phi * (b - a)
        # c and d in one batched call, not two independent ones (see the module docstring).
        (fc, fd), (lbc, lbd) = jax.vmap(lambda ll: profile(st, ll, cfg))(jnp.stack([c, d]))

        def keep_best(best, f, ll, lb):
            better = f > best[0]
            return tuple(jnp.where(better, new, old) for new, old in zip((f, ll, lb), best, strict=True))

        best = keep_best(keep_best(best, fc, c, lbc), fd, d, lbd)

        def golden(_, s):
            a, b, c, d, fc, fd, best = s
            left = fc >= fd  # the maximum lies in [a, d], else in [c, b]
            a, b = jnp.where(left, a, c), jnp.where(left, d, b)
            new = jnp.where(left, b - inv_phi * (b - a), a + inv_phi * (b - a))
            fn, lbn = profile(st, new, cfg)
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
