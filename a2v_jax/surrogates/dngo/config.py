"""The DNGO config and the constants its modules share.

:class:`DNGOConfig` holds every hyper-parameter of a fit (the network, its training, the
likelihood and how it is maximised); its defaults are the original NB201 search's, ``likelihood``
aside. The constants name the original's numerical conventions (determinant jitter, variance
floor, the dtype ranges a determinant must fit).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np

LIKELIHOODS = ("paper", "exact")

#: ``log`` of the largest float64 and float32: ``np.linalg.det`` of a matrix of that dtype
#: overflows to ``inf`` above it (the original's ``K`` is float32, see ``docs/dngo.md``).
LOG_FLOAT64_MAX = float(np.log(np.finfo(np.float64).max))
LOG_FLOAT32_MAX = float(np.log(np.finfo(np.float32).max))
LOG_MAX = {"float64": LOG_FLOAT64_MAX, "float32": LOG_FLOAT32_MAX}
HYPER_OPTS = ("profile", "nelder-mead")
#: ``log(1e-10)``: the original adds ``1e-10`` to the determinant before its log.
LOG_DET_JITTER = math.log(1e-10)
#: The original clips the predictive variance at float64's machine epsilon.
VAR_FLOOR = float(np.finfo(np.float64).eps)
#: Matmul precision of every product in DNGO (float32 throughout).
HIGHEST = jax.lax.Precision.HIGHEST


@dataclasses.dataclass(frozen=True)
class DNGOConfig:
    """DNGO hyper-parameters (defaults: the original NB201 search, ``likelihood`` aside).

    Attributes:
      hidden: basis size (units of the one hidden layer).
      epochs: training epochs per fit.
      lr: Adam learning rate.
      batch_size: minibatch size.
      likelihood: ``exact`` (Bishop's log marginal likelihood) or ``paper`` (the original's,
        quirks included; see :mod:`~a2v_jax.surrogates.dngo.likelihood`).
      theta_bound: the box ``[-theta_bound, theta_bound]`` for ``log alpha`` and ``log sigma^2``.
      hyper_grid: grid points in ``log(alpha / beta)`` over ``[-2 theta_bound, 2 theta_bound]``.
      hyper_refine: golden-section steps around the best grid point (one Cholesky each).
      beta_bisect: bisection steps for the best ``beta`` at fixed ``lambda`` (``paper`` only).
      normalize_output: standardise ``y`` before fitting (the original: no).
      det_dtype: ``paper`` likelihood only: the dtype whose range the determinant of ``K`` must
        fit (``-inf`` where it overflows). The original's is ``float32`` (``docs/dngo.md``).
      hyper_opt: ``profile`` (global: grid + golden section on the profile likelihood) or
        ``nelder-mead`` (the original's ``scipy.optimize.fmin`` from one prior draw, local).
      nm_grid: ``nelder-mead`` only: nodes in ``log lambda`` of the table the objective is
        interpolated from (one Cholesky factor each, in one batched call; ``docs/dngo.md`` has
        how the default was chosen).
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
        if self.det_dtype not in LOG_MAX:
            raise ValueError(f"DNGOConfig.det_dtype must be one of {tuple(LOG_MAX)}, got {self.det_dtype!r}")
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
