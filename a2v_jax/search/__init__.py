"""Search in the frozen latent table: strategies as pure ``(init, step)`` pairs, presets and drivers.

``get_strategy(method, preset)`` builds any strategy by name from the preset table
(:mod:`a2v_jax.search.presets`); ``python -m a2v_jax.search`` runs one on NAS-Bench-201, -101 or
the DARTS space and writes the report (:mod:`a2v_jax.search.runner`).
"""

from __future__ import annotations

from a2v_jax.search.core import MethodTraits, SearchEnv, Strategy
from a2v_jax.search.presets import METHODS, PRESETS, SPACES, get_strategy, strategy_config

__all__ = [
    "METHODS",
    "PRESETS",
    "SPACES",
    "MethodTraits",
    "SearchEnv",
    "Strategy",
    "get_strategy",
    "strategy_config",
]
