"""DNGO (Snoek et al. 2015) as arch2vec uses it: a tanh MLP's last hidden layer as the basis of a
Bayesian linear regression (reference §7.2).

One fit is a pure function of ``(X, y, mask, key)`` with static shapes: the observations sit in a
padded buffer of capacity ``n_max`` and ``mask`` marks the valid rows, so a BO loop can carry the
buffer through ``lax.scan`` and ``vmap`` it over seeds. Masked rows influence nothing: not the
input standardisation, not a minibatch, not the regression::

    from a2v_jax.surrogates.dngo import DNGOConfig, dngo_fit, dngo_predict

    state = dngo_fit(x, y, mask, jax.random.key(0), DNGOConfig())  # x (n_max, D), y, mask (n_max,)
    mean, var = dngo_predict(state, x_query)  # (Q,), (Q,)

The modules, in the order a fit runs them:

- :mod:`~a2v_jax.surrogates.dngo.config`: :class:`DNGOConfig` and the shared constants.
- :mod:`~a2v_jax.surrogates.dngo.network`: the feature network and its Adam trainer.
- :mod:`~a2v_jax.surrogates.dngo.regression`: the Bayesian linear regression on its basis.
- :mod:`~a2v_jax.surrogates.dngo.likelihood`: the log marginal likelihood (``exact`` or the
  original's ``paper`` function) and its profile over the noise precision.
- :mod:`~a2v_jax.surrogates.dngo.hyper`: its two optimisers (``profile``, ``nelder-mead``).
- :mod:`~a2v_jax.surrogates.dngo.model`: :func:`dngo_fit` / :func:`dngo_predict`.

The model in full, the original's quirks, how the optimisers compare and what was measured while
tuning them: ``docs/dngo.md``.
"""

from __future__ import annotations

from a2v_jax.surrogates.dngo.config import HYPER_OPTS, LIKELIHOODS, VAR_FLOOR, DNGOConfig
from a2v_jax.surrogates.dngo.hyper import fit_hyperparameters, nelder_mead
from a2v_jax.surrogates.dngo.likelihood import log_marginal_likelihood
from a2v_jax.surrogates.dngo.model import DNGOState, dngo_fit, dngo_predict
from a2v_jax.surrogates.dngo.network import basis, init_mlp, mlp, train_mlp
from a2v_jax.surrogates.dngo.regression import BLRPosterior, blr_posterior, blr_predict

__all__ = [
    "HYPER_OPTS",
    "LIKELIHOODS",
    "VAR_FLOOR",
    "BLRPosterior",
    "DNGOConfig",
    "DNGOState",
    "basis",
    "blr_posterior",
    "blr_predict",
    "dngo_fit",
    "dngo_predict",
    "fit_hyperparameters",
    "init_mlp",
    "log_marginal_likelihood",
    "mlp",
    "nelder_mead",
    "train_mlp",
]
