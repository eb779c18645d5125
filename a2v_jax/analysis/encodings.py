"""Architecture encodings to compare: the arch2vec latent table and the one-hot op-code baseline.

Every analysis takes a feature table ``(P, D)`` whose row ``i`` describes the same cell as row ``i``
of the values it is compared with; :func:`aligned_features` builds that alignment from an
``embeddings.npz`` and the benchmark table, and :func:`one_hot_codes` gives the supervision-free
baseline the paper compares against (the adjacency is the same for every NB201 cell, so the op
codes are the whole encoding).
"""

from __future__ import annotations

import numpy as np

from a2v_jax.spaces.nb201 import CELL_OPS, NUM_EDGES


def one_hot_codes(codes: np.ndarray, num_ops: int = len(CELL_OPS)) -> np.ndarray:
    """The one-hot encoding of op codes: ``(P, E)`` ints -> ``(P, E * num_ops)`` float32.

    Raises:
      ValueError: codes are not a ``(P, E)`` integer array in ``0..num_ops-1`` (names the row).
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes must be a (P, E) integer array, got {codes.dtype} {codes.shape}")
    bad = np.flatnonzero(((codes < 0) | (codes >= num_ops)).any(axis=1))
    if bad.size:
        r = int(bad[0])
        raise ValueError(f"codes row {r} = {codes[r].tolist()} has an op outside 0..{num_ops - 1}")
    eye = np.eye(num_ops, dtype=np.float32)
    return eye[codes].reshape(codes.shape[0], -1)


def edit_distance(codes_a: np.ndarray, codes_b: np.ndarray) -> np.ndarray:
    """Graph edit distance between NB201 cells: the number of edges whose op differs.

    NB201 cells share one DAG, so an edit is an op relabelling. In arch2vec's 8-node graph (one
    node per edge) the DAG has no non-trivial automorphism, and any other node correspondence
    costs at least 4 edge edits to save at most 2 relabellings, so the Hamming distance of the op
    codes *is* the (unit-cost) graph edit distance that the original computed with networkx on
    NAS-Bench-101; ``tests/test_analysis_smoothness.py`` checks it by brute force over all node
    correspondences.

    Args:
      codes_a: ``(..., E)`` op codes.
      codes_b: ``(..., E)`` op codes, broadcastable against ``codes_a``.

    Returns:
      ``(...)`` int32 distances in ``0..E``.
    """
    a, b = np.asarray(codes_a), np.asarray(codes_b)
    if a.shape[-1] != NUM_EDGES or b.shape[-1] != NUM_EDGES:
        raise ValueError(f"NB201 op codes have {NUM_EDGES} entries per cell; got {a.shape} and {b.shape}")
    return np.sum(a != b, axis=-1).astype(np.int32)


def aligned_features(embeddings, table) -> tuple[np.ndarray, np.ndarray]:
    """The embeddings' feature rows and the benchmark-table rows they describe.

    Args:
      embeddings: an object with ``features (N, D)`` and ``arch_str (N,)`` (what
        :func:`a2v_jax.embed.load_embeddings` returns).
      table: an ``NB201Table``.

    Returns:
      ``(features (N, D) float32, rows (N,) int64)``: ``features[i]`` describes table row ``rows[i]``.

    Raises:
      ArchNotFoundError / DataError: an ``arch_str`` of the embeddings is not in the table or
        repeats (the message names its position).
    """
    rows = table.align(list(np.asarray(embeddings.arch_str).astype(str)))
    return np.asarray(embeddings.features, np.float32), rows
