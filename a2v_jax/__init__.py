"""a2v_jax: arch2vec in JAX/Flax.

Pipeline: ``spaces`` (what an architecture is) -> ``data`` (what a benchmark says about it) ->
``pretrain`` (the VAE and its training) -> ``embed`` (the latent table) -> ``search`` and
``surrogates`` (what finds the best).
"""

__version__ = "0.1.0"
