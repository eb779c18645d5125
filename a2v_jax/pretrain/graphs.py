"""Padded graph batches: host-side preparation once, then fixed shapes under jit.

Every space has a fixed node count N, so a batch is ``B`` graphs of exactly ``N`` nodes (a node
mask marks the real ones) and ``E`` directed edge slots per graph (an edge mask marks the real
ones). Edges are those of arch2vec's symmetrised adjacency ``Â = A + triu(A, 1)ᵀ`` (reference §3),
stored per graph with local node ids; :func:`to_graphs_tuple` turns a batch into one
``jraph.GraphsTuple`` with global ids for message passing.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import jraph
import numpy as np
from flax import struct


@struct.dataclass
class GraphBatch:
    """A padded batch of B architecture graphs (also used for whole datasets, B = P)."""

    ops: chex.Array  # (B, N, C) float32 one-hot ops; all-zero rows for padded nodes
    adj: chex.Array  # (B, N, N) float32 upper-triangular DAG, A[i, j] = 1 means i -> j
    node_mask: chex.Array  # (B, N) bool, real nodes
    graph_mask: chex.Array  # (B,) bool, real graphs (False for batch padding)
    senders: chex.Array  # (B, E) int32 local sender id of each edge slot
    receivers: chex.Array  # (B, E) int32 local receiver id of each edge slot
    edge_mask: chex.Array  # (B, E) bool, real edges of Â

    @property
    def num_graphs(self) -> int:
        return self.ops.shape[0]


def symmetrise(adj: np.ndarray) -> np.ndarray:
    """arch2vec's preprocessing (method 4): ``Â = A + triu(A, 1)ᵀ``, batched over leading axes."""
    upper = np.triu(adj, 1)
    return adj + np.swapaxes(upper, -1, -2)


def edge_slots(adj: np.ndarray, num_edges: int | None = None) -> tuple[np.ndarray, ...]:
    """Edge lists of ``Â`` for every graph, padded to a common count.

    Args:
      adj: ``(P, N, N)`` 0/1 adjacency.
      num_edges: slots per graph; default the largest count in ``adj``.

    Returns:
      senders ``(P, E)``, receivers ``(P, E)`` int32 local ids and edge_mask ``(P, E)`` bool.
      Message ``j -> i`` exists iff ``Â[i, j] = 1`` (aggregation ``Σ_j Â_ij h_j``).
    """
    adj = np.asarray(adj)
    p, n, _ = adj.shape
    flat = symmetrise(adj).reshape(p, n * n) > 0
    max_edges = int(flat.sum(1).max()) if p else 0
    e = max_edges if num_edges is None else num_edges
    if e < max_edges:
        raise ValueError(f"num_edges={e} is smaller than the largest edge count {max_edges}")
    e = max(e, 1)
    order = np.argsort(~flat, axis=1, kind="stable")[:, :e]  # real edges first, in row-major order
    if order.shape[1] < e:
        order = np.pad(order, ((0, 0), (0, e - order.shape[1])))
    mask = np.take_along_axis(flat, order, axis=1)
    receivers = np.where(mask, order // n, 0).astype(np.int32)
    senders = np.where(mask, order % n, 0).astype(np.int32)
    return senders, receivers, mask


def make_graph_batch(adj: np.ndarray, ops: np.ndarray, node_mask: np.ndarray | None = None) -> GraphBatch:
    """Builds a :class:`GraphBatch` (numpy leaves) for a whole dataset.

    Args:
      adj: ``(P, N, N)`` 0/1 adjacency.
      ops: ``(P, N, C)`` one-hot ops.
      node_mask: ``(P, N)`` real nodes; default: nodes with a non-zero op row.
    """
    adj = np.asarray(adj, dtype=np.float32)
    ops = np.asarray(ops, dtype=np.float32)
    if adj.ndim != 3 or adj.shape[1] != adj.shape[2]:
        raise ValueError(f"adjacency must be (P, N, N), got {adj.shape}")
    if ops.ndim != 3 or ops.shape[:2] != adj.shape[:2]:
        raise ValueError(f"ops must be (P, N, C) matching adjacency {adj.shape}, got {ops.shape}")
    if not (np.all(np.isfinite(adj)) and np.all(np.isfinite(ops))):
        raise ValueError("adjacency and ops must be finite (found NaN or inf)")
    if node_mask is None:
        node_mask = ops.sum(-1) > 0
    senders, receivers, edge_mask = edge_slots(adj)
    return GraphBatch(
        ops=ops,
        adj=adj,
        node_mask=np.asarray(node_mask, dtype=bool),
        graph_mask=np.ones(adj.shape[0], dtype=bool),
        senders=senders,
        receivers=receivers,
        edge_mask=edge_mask,
    )


def take(batch: GraphBatch, idx: chex.Array) -> GraphBatch:
    """Gathers graphs ``idx`` (``(B,)``, ``-1`` = padding) into a batch; works under jit."""
    safe = jnp.maximum(idx, 0)
    out = jax.tree.map(lambda x: jnp.take(x, safe, axis=0), batch)
    return out.replace(graph_mask=out.graph_mask & (idx >= 0))


def to_graphs_tuple(batch: GraphBatch) -> jraph.GraphsTuple:
    """One ``jraph.GraphsTuple`` for the batch: node features = ops, edge features = edge mask."""
    b, n, c = batch.ops.shape
    e = batch.senders.shape[1]
    offset = (jnp.arange(b, dtype=jnp.int32) * n)[:, None]  # (B, 1)
    return jraph.GraphsTuple(
        nodes=batch.ops.reshape(b * n, c),
        edges=batch.edge_mask.reshape(b * e).astype(batch.ops.dtype),
        senders=(batch.senders + offset).reshape(b * e),
        receivers=(batch.receivers + offset).reshape(b * e),
        n_node=jnp.full((b,), n, dtype=jnp.int32),
        n_edge=jnp.full((b,), e, dtype=jnp.int32),
        globals=None,
    )
