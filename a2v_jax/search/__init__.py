"""Search in the frozen latent table: strategies as pure ``(init, step)`` pairs, and their registry.

``get_strategy(method, preset, **overrides)`` builds any strategy by name; ``python -m
a2v_jax.search`` runs one on NAS-Bench-201 (see :mod:`a2v_jax.search.runner`).
"""

from __future__ import annotations

from typing import NamedTuple

from a2v_jax.search.core import SearchEnv, Strategy

METHODS = ("rl", "bo", "random", "rea", "ls")
PRESETS = ("paper", "default")


class MethodTraits(NamedTuple):
    """What the runner must know about a method to size and build its run.

    Attributes:
      distinct: never queries an architecture twice (bounds the scan by the cheapest cells).
      overshoot: may start a query while ``spent < budget`` (the last one ends past it).
      neighbours: needs ``env.neighbours``.
      features: uses the latent features (the embeddings file).
    """

    distinct: bool
    overshoot: bool
    neighbours: bool
    features: bool


def method_traits(method: str, preset: str) -> MethodTraits:
    """The :class:`MethodTraits` of ``method`` under ``preset``."""
    _check(method, preset)
    paper = preset == "paper"
    return {
        "rl": MethodTraits(distinct=True, overshoot=paper, neighbours=False, features=True),
        # The original BO's de-duplication is broken (repeats re-charged) and its loop overshoots.
        "bo": MethodTraits(distinct=not paper, overshoot=paper, neighbours=False, features=True),
        "random": MethodTraits(distinct=not paper, overshoot=False, neighbours=False, features=False),
        "rea": MethodTraits(distinct=not paper, overshoot=False, neighbours=True, features=False),
        "ls": MethodTraits(distinct=True, overshoot=False, neighbours=True, features=False),
    }[method]


def _check(method: str, preset: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown search method {method!r}; expected one of {METHODS}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {PRESETS}")


def get_strategy(method: str, preset: str, **overrides) -> Strategy:
    """The strategy ``method`` (``rl | bo | random | rea | ls``) configured by ``preset``.

    Args:
      method: strategy name.
      preset: ``paper`` (the original's behaviour) or ``default`` (quirks fixed).
      **overrides: config fields to change (for ``bo`` e.g. ``max_obs``, which it needs).

    Returns:
      A :class:`~a2v_jax.search.core.Strategy`.
    """
    _check(method, preset)
    if method == "rl":
        from a2v_jax.search.rl import RLConfig, make_rl

        return make_rl(RLConfig.for_preset(preset, **overrides))
    if method == "bo":
        from a2v_jax.search.bo import BOConfig, make_bo  # imported lazily: the heaviest module

        return make_bo(BOConfig(preset=preset, **overrides))
    from a2v_jax.search import baselines

    if method == "random":
        return baselines.make_random(baselines.RandomConfig.for_preset(preset, **overrides))
    if method == "rea":
        return baselines.make_rea(baselines.REAConfig.for_preset(preset, **overrides))
    return baselines.make_ls(baselines.LSConfig.for_preset(preset, **overrides))


__all__ = ["METHODS", "PRESETS", "MethodTraits", "SearchEnv", "Strategy", "get_strategy", "method_traits"]
