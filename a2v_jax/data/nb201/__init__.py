"""NAS-Bench-201 results as arrays a jitted search can index, from five sources, cached as one ``.npz``.

:func:`load_nb201` returns the :class:`NB201Table` (row ``i`` is benchmark index ``i``), read from the
source ``"auto"`` resolves (:func:`resolve_source`: the configured ``data_dir`` / ``$A2V_NB201_DIR`` /
``$A2V_NB201_API_FILE``, else the tables installed with a2v_jax), validated, and cached under
``$A2V_CACHE_DIR``. Test accuracies can come from a second place (``test_data=`` or
``$A2V_NB201_TEST_DATA``; :func:`with_test_accuracies`). The modules:

- :mod:`~a2v_jax.data.nb201.table`: :class:`NB201Table`, the datasets and the benchmark's constants;
- :mod:`~a2v_jax.data.nb201.sources`: which source to read;
- :mod:`~a2v_jax.data.nb201.validation`: the checks every table passes;
- one reader per source: :mod:`~a2v_jax.data.nb201.shared_csv` (also ``packaged``),
  :mod:`~a2v_jax.data.nb201.simple_hpo`, :mod:`~a2v_jax.data.nb201.official`,
  :mod:`~a2v_jax.data.nb201.nats`;
- :mod:`~a2v_jax.data.nb201.cache`: one source's table, cached;
- :mod:`~a2v_jax.data.nb201.accuracies`: test accuracies from elsewhere;
- :mod:`~a2v_jax.data.nb201.load`: :func:`load_nb201`.

What each source holds: ``docs/data-and-spaces.md``.
"""

from __future__ import annotations

from a2v_jax.data.nb201.accuracies import TEST_DATA_FORMS, with_test_accuracies
from a2v_jax.data.nb201.load import load_nb201
from a2v_jax.data.nb201.sources import PACKAGED_DIR, ResolvedSource, resolve_source
from a2v_jax.data.nb201.table import (
    DATASETS,
    EP12_FILE,
    MAIN_FILE,
    MAX_RUNS,
    NB201_TEST_NAME,
    NB201_TEST_SPLIT,
    NB201_VALID_NAME,
    OBTAIN_OFFICIAL,
    PACKAGED_SHA256,
    SOURCES,
    TEST_FILE,
    NB201DatasetResults,
    NB201Table,
)

__all__ = [
    "DATASETS",
    "EP12_FILE",
    "MAIN_FILE",
    "MAX_RUNS",
    "NB201_TEST_NAME",
    "NB201_TEST_SPLIT",
    "NB201_VALID_NAME",
    "OBTAIN_OFFICIAL",
    "PACKAGED_DIR",
    "PACKAGED_SHA256",
    "SOURCES",
    "TEST_DATA_FORMS",
    "TEST_FILE",
    "NB201DatasetResults",
    "NB201Table",
    "ResolvedSource",
    "load_nb201",
    "resolve_source",
    "with_test_accuracies",
]
