"""Latent walks (the paper's Fig. 5): greedy steps to the nearest unvisited cell, decoded back to cells.

As the original ``plot_scripts/visgraph.py`` (reference §8): from a start cell, each step moves to
the pool cell nearest (L2) to the current one among those not yet on the walk. The walk lives in
the feature table, so "decoding" a step means reading the cell of the pool row it landed on
(``arch_str``), as the original does. A smooth encoding gives walks whose consecutive cells differ
by one or two edits. :func:`reconstruct_codes` also runs a pre-trained model's encoder and decoder
on cells (from a checkpoint, :func:`load_pretrained_state`), to show what the decoder makes of the
per-node latents of each cell on a walk.
"""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np

from a2v_jax.analysis.encodings import edit_distance
from a2v_jax.pretrain.checkpoint import load_pretrained_state  # noqa: F401  (re-exported: analysis API)
from a2v_jax.search.core import fast_argmin


def greedy_walk(features: chex.Array, start: chex.Array, num_steps: int) -> tuple[chex.Array, chex.Array]:
    """One greedy walk: ``num_steps`` moves to the nearest (L2) cell not yet on the walk.

    Args:
      features: ``(P, D)`` encoding of the pool.
      start: () int pool index of the first cell (it counts as visited).
      num_steps: static number of moves ``L`` (``< P``).

    Returns:
      ``(idx (L + 1,) int32, dist (L,) float32)``: the cells visited, start first, and the L2 length
      of each move.
    """
    p = features.shape[0]
    if not 0 < num_steps < p:
        raise ValueError(f"num_steps must be in 1..{p - 1} for a pool of {p} cells, got {num_steps}")
    start = jnp.asarray(start, jnp.int32)

    def step(carry, _):
        cur, visited = carry
        d2 = jnp.sum(jnp.square(features - features[cur]), axis=1)  # (P,)
        nxt = fast_argmin(jnp.where(visited, jnp.inf, d2))
        return (nxt, visited.at[nxt].set(True)), (nxt, jnp.sqrt(d2[nxt]))

    visited = jnp.zeros((p,), bool).at[start].set(True)
    _, (idx, dist) = jax.lax.scan(step, (start, visited), None, length=num_steps)
    return jnp.concatenate([start[None], idx]), dist


_greedy_walks = jax.jit(jax.vmap(greedy_walk, in_axes=(None, 0, None)), static_argnums=2)


def greedy_walks(features: np.ndarray, starts: np.ndarray, num_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy walks (``vmap`` of :func:`greedy_walk`): ``(W,)`` starts -> ``(W, L+1), (W, L)``."""
    idx, dist = _greedy_walks(jnp.asarray(features, jnp.float32), jnp.asarray(starts, jnp.int32), num_steps)
    return np.asarray(idx), np.asarray(dist)


@dataclasses.dataclass(frozen=True)
class LatentWalks:
    """Greedy walks of one encoding, decoded to cells."""

    label: str
    index: np.ndarray  # (W, L+1) pool indices, start first
    step_l2: np.ndarray  # (W, L) L2 length of each move
    codes: np.ndarray  # (W, L+1, 6) op codes of the visited cells
    arch_str: np.ndarray  # (W, L+1) str
    values: np.ndarray  # (W, L+1) accuracy of each visited cell
    step_ged: np.ndarray  # (W, L) edit distance of each move
    ged_from_start: np.ndarray  # (W, L+1) edit distance to the start cell

    def rows(self, walk: int) -> list[dict]:
        """Walk ``walk`` as table rows ``{step, arch_str, value, ged_step, ged_start, l2_step}``."""
        out = []
        for s in range(self.index.shape[1]):
            out.append(
                {
                    "step": s,
                    "arch_str": str(self.arch_str[walk, s]),
                    "value": float(self.values[walk, s]),
                    "ged_step": None if s == 0 else int(self.step_ged[walk, s - 1]),
                    "ged_start": int(self.ged_from_start[walk, s]),
                    "l2_step": None if s == 0 else float(self.step_l2[walk, s - 1]),
                }
            )
        return out


def latent_walks(
    features: np.ndarray,
    codes: np.ndarray,
    arch_str: np.ndarray,
    values: np.ndarray,
    starts: np.ndarray,
    num_steps: int = 10,
    label: str = "",
) -> LatentWalks:
    """Greedy walks from ``starts`` in an encoding, decoded to the pool's cells.

    Args:
      features: ``(P, D)`` encoding of the pool.
      codes: ``(P, 6)`` op codes of the pool.
      arch_str: ``(P,)`` cell strings of the pool.
      values: ``(P,)`` accuracies of the pool.
      starts: ``(W,)`` pool indices to start from (the original: 50 random starts).
      num_steps: moves per walk (the original: 10).
      label: name of the encoding.

    Returns:
      A :class:`LatentWalks`.
    """
    codes = np.asarray(codes)
    starts = np.atleast_1d(np.asarray(starts, np.int64))
    p = np.asarray(features).shape[0]
    if codes.shape[0] != p or np.asarray(arch_str).shape != (p,) or np.asarray(values).shape != (p,):
        raise ValueError(
            f"features, codes, arch_str and values must describe the same {p} cells; got "
            f"{codes.shape}, {np.asarray(arch_str).shape}, {np.asarray(values).shape}"
        )
    bad = starts[(starts < 0) | (starts >= p)]
    if bad.size:
        raise ValueError(f"start {int(bad[0])} is outside the pool 0..{p - 1}")
    idx, dist = greedy_walks(features, starts, num_steps)
    c = codes[idx]  # (W, L+1, 6)
    return LatentWalks(
        label=label,
        index=idx,
        step_l2=dist,
        codes=c,
        arch_str=np.asarray(arch_str).astype(str)[idx],
        values=np.asarray(values, np.float64)[idx],
        step_ged=edit_distance(c[:, 1:], c[:, :-1]),
        ged_from_start=edit_distance(c, c[:, :1]),
    )


# --------------------------------------------------------------------------- the decoder


def reconstruct_codes(state, codes: np.ndarray) -> np.ndarray:
    """Encoder ``μ`` then decoder (eval mode) on NB201 cells: the op codes the model reconstructs.

    Args:
      state: a trained :class:`~a2v_jax.pretrain.steps.A2VState` (:func:`load_pretrained_state`).
      codes: ``(B, 6)`` op codes.

    Returns:
      ``(B, 6)`` int8 reconstructed op codes, ``-1`` where the decoder put a non-cell op (input or
      output) on an edge node.
    """
    from a2v_jax.pretrain.graphs import make_graph_batch
    from a2v_jax.pretrain.steps import decode_latents, encode_eval
    from a2v_jax.spaces.nb201 import codes_from_op_idx, encode_codes

    adj, ops = encode_codes(np.asarray(codes))
    batch = jax.tree.map(jnp.asarray, make_graph_batch(adj, ops))
    op_idx, _ = decode_latents(state, encode_eval(state, batch))
    return codes_from_op_idx(np.asarray(op_idx))
