"""Search spaces: what an architecture is and how arch2vec lays it out as a graph."""

from __future__ import annotations

from a2v_jax.spaces.base import InvalidArchitectureError, SearchSpace, graph_rows_hash
from a2v_jax.spaces.darts import DARTSSpace, Genotype, parse_genotype
from a2v_jax.spaces.nb101 import NB101Space as NB101Space
from a2v_jax.spaces.nb201 import NB201Space

_SPACES: dict[str, type] = {"nb201": NB201Space, "nb101": NB101Space, "darts": DARTSSpace}


def get_space(name: str) -> SearchSpace:
    """Returns the space called ``name`` (``nb201``, ``nb101`` or ``darts``) with its defaults."""
    try:
        return _SPACES[name]()
    except KeyError:
        raise ValueError(f"unknown search space {name!r}; available: {sorted(_SPACES)}") from None


__all__ = [
    "DARTSSpace",
    "Genotype",
    "InvalidArchitectureError",
    "NB101Space",
    "NB201Space",
    "SearchSpace",
    "get_space",
    "graph_rows_hash",
    "parse_genotype",
]
