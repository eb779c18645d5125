"""DNGO's feature network: a one-hidden-layer tanh MLP and its from-scratch trainer.

The network (the original's modified pybnn ``Net``): ``Linear(D -> H) -> tanh -> Linear(H -> 1)``
with PyTorch's default initialisation (``U(+-1/sqrt(fan_in))`` for weights and biases). Its last
hidden layer, :func:`basis`, is the basis of the Bayesian linear regression. :func:`train_mlp`
runs ``epochs`` epochs of Adam (PyTorch's betas and eps) on the mean squared error over shuffled
minibatches of the valid rows of a padded buffer; the last incomplete minibatch of an epoch is
dropped, and ``n <= batch_size`` observations make one minibatch of all of them.
"""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import optax

from a2v_jax.surrogates.dngo.config import HIGHEST, DNGOConfig


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
    return jnp.tanh(jnp.dot(x, params["w1"], precision=HIGHEST) + params["b1"])


def mlp(params: dict, x: chex.Array) -> chex.Array:
    """The network's output: ``(..., D) -> (...)``."""
    return jnp.dot(basis(params, x), params["w2"], precision=HIGHEST) + params["b2"]


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
        buffer (why that matters: ``docs/dngo.md``). Pass a value shared by all members of a
        ``vmap`` (e.g. from the step index) so the loop stays a loop and the prefix choice a
        branch there.

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
