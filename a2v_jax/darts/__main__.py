"""``python -m a2v_jax.darts``: the same command as ``python -m a2v_jax.darts.train``."""

from a2v_jax.darts.train import main

if __name__ == "__main__":
    main()
