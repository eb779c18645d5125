"""Pretraining: arch2vec's graph VAE trained on a search space's architectures, no accuracies.

The modules, in pipeline order:

- :mod:`~a2v_jax.pretrain.config`: the model, training and run configs and the two presets
  (``paper`` reproduces the original code as it ran, ``default`` fixes its bugs);
- :mod:`~a2v_jax.pretrain.input_pipeline`: a space's graphs in its order, the train/held-out split
  and the prior-validity metrics; :mod:`~a2v_jax.pretrain.graphs`: the padded graph batch;
- :mod:`~a2v_jax.pretrain.model` and :mod:`~a2v_jax.pretrain.losses`: the GIN encoder,
  inner-product decoder and the ELBO of each preset;
- :mod:`~a2v_jax.pretrain.steps`: the pure ``train_step`` / ``eval_step`` / ``embed`` functions and
  an epoch as one ``lax.scan``;
- :mod:`~a2v_jax.pretrain.programs`: those steps jitted once for a population of models;
- :mod:`~a2v_jax.pretrain.loop`: :func:`run_pretraining`, the epoch loop with checkpoints
  (:mod:`~a2v_jax.pretrain.checkpoint`) and the workdir's outputs;
- ``python -m a2v_jax.pretrain`` (:mod:`~a2v_jax.pretrain.__main__`): the command line.

The embeddings file the loop writes is defined in :mod:`a2v_jax.embed`. Example::

    from a2v_jax.pretrain import PretrainConfig, run_pretraining
    summary = run_pretraining(PretrainConfig(space="nb201", preset="paper", workdir="runs/nb201"))
"""

from a2v_jax.pretrain.config import PretrainConfig
from a2v_jax.pretrain.input_pipeline import SpaceDataset, load_space_dataset
from a2v_jax.pretrain.loop import run_pretraining
from a2v_jax.pretrain.programs import Programs

__all__ = ["PretrainConfig", "Programs", "SpaceDataset", "load_space_dataset", "run_pretraining"]
