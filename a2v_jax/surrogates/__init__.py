"""Surrogate models of the search signal over the latent table (DNGO for Bayesian optimisation)."""

from __future__ import annotations

from a2v_jax.surrogates.dngo import (
    BLRPosterior,
    DNGOConfig,
    DNGOState,
    blr_posterior,
    blr_predict,
    dngo_fit,
    dngo_predict,
    fit_hyperparameters,
    log_marginal_likelihood,
)

__all__ = [
    "BLRPosterior",
    "DNGOConfig",
    "DNGOState",
    "blr_posterior",
    "blr_predict",
    "dngo_fit",
    "dngo_predict",
    "fit_hyperparameters",
    "log_marginal_likelihood",
]
