"""Configs as frozen dataclasses, and the two named presets.

``paper`` reproduces the original PyTorch implementation (reference §3-§5), quirks included.
``default`` fixes them; every difference is one field below, documented where it is defined:

=====================  ==========================  =========================================
field                  paper                       default
=====================  ==========================  =========================================
``op_loss``            ``"bce"`` sigmoid + BCE per  ``"ce"`` softmax cross-entropy per node
                       one-hot entry (decoder bug)
``mask_padding``       False: padded nodes count   True: padded nodes are masked out of
                       in BatchNorm statistics,    BatchNorm, losses, metrics and the
                       losses and the embedding    node-mean embedding
``reduction``          ``"paper"``: ops BCE mean    ``"graph"``: the ELBO of whole graphs:
                       over B*N*C entries,          CE summed over real nodes, adjacency
                       adjacency BCE over the       BCE summed over real upper-triangle
                       upper triangle / (B*N*N),    pairs, ``beta`` x KL summed over real
                       KL mean over nodes / (B*N)   nodes, each averaged over graphs
``reshuffle``          False: shuffled once         True: reshuffled every epoch
``joint_prior``        False: prior samples drawn   True: one full-covariance Gaussian over
                       from independent per-(node,  all N*D latent coordinates, keeping the
                       dim) Gaussians               node correlations the decoder relies on
``eval_prior``         False: the prior is fitted   True: fitted to the final model's
                       to the μ the epoch's         eval-mode μ of the training set (what
                       training steps computed,     the decoder is evaluated on)
                       while the parameters change
``train_mode_epochs``  1: epoch 1 in train mode,    None: train mode every epoch: the ELBO
                       then eval mode (BatchNorm    needs the reparameterised sample, and
                       running statistics frozen,   BatchNorm's running statistics (used
                       ``z = μ``, no dropout): the  for embeddings and the prior) must keep
                       original's ``model.eval()``  tracking the parameters being trained
                       is never undone
=====================  ==========================  =========================================

Both presets hold out the last 10 % of the space's order as the original: the first
``int(0.9 * N)`` graphs train (:func:`a2v_jax.pretrain.input_pipeline.num_train_graphs`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from jax.sharding import Mesh

from a2v_jax.sharding import make_mesh, parse_mesh, pretraining_mesh_shape, select_devices


@dataclass(frozen=True)
class ModelConfig:
    """The GIN variational autoencoder (reference §3), or one of the baselines of reference §9.3.

    ``encoder`` and ``variational`` select the four rows of the paper's NB101 pretraining table
    (:data:`MODEL_VARIANTS`); every variant shares the decoder (dropout, ``Linear(D -> C)`` op
    logits, inner-product adjacency logits), the loss of the preset and the metrics.
    """

    hidden: int = 128  # H, GIN MLP / GCN width
    latent: int = 16  # D, per-node latent size
    num_layers: int = 4  # message-passing layers (the original's num_hops=5)
    dropout: float = 0.3  # decoder dropout on z, training only
    bn_momentum: float = 0.1  # PyTorch convention: new = (1 - m) * old + m * batch
    bn_eps: float = 1e-5
    # "gin": arch2vec's GIN; "gcn": Kipf & Welling's GCN, D^-1/2 (Â + I) D^-1/2, no BatchNorm.
    encoder: Literal["gin", "gcn"] = "gin"
    # True: z = μ + ε·exp(ℓ) in training and the KL term in the loss; False: a plain
    # autoencoder, z = μ, no log σ head and no KL term.
    variational: bool = True


#: The four models of the paper's NB101 pretraining table (reference §9.3), by name.
#:
#: - ``arch2vec``: the GIN VAE (reference §3).
#: - ``arch2vec_no_kl``: "arch2vec w/o KL": the same GIN encoder and decoder as a plain
#:   autoencoder (the original's unused ``GIN`` class: one ``fc`` head, ``z = μ``, no KL term).
#: - ``gae``: Kipf & Welling's graph autoencoder: a GCN encoder (``num_layers - 1`` ReLU layers of
#:   width ``hidden``, then a linear GCN layer to ``latent``), ``z = μ``, no KL term.
#: - ``vgae``: Kipf & Welling's variational GAE: the same GCN trunk with two linear GCN heads
#:   ``μ`` and ``log σ``, reparameterised sampling and the KL term of the preset.
MODEL_VARIANTS: dict[str, ModelConfig] = {
    "arch2vec": ModelConfig(),
    "arch2vec_no_kl": ModelConfig(variational=False),
    "gae": ModelConfig(encoder="gcn", variational=False),
    "vgae": ModelConfig(encoder="gcn", variational=True),
}


def get_model_config(name: str) -> ModelConfig:
    """The model of :data:`MODEL_VARIANTS` called ``name``."""
    try:
        return MODEL_VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {sorted(MODEL_VARIANTS)}") from None


def model_identity(cfg: ModelConfig) -> dict:
    """``to_dict(cfg)`` without the variant fields where they are arch2vec's (``gin``, variational).

    A workdir records this, so the workdirs written before the variants existed still resume.
    """
    out = dataclasses.asdict(cfg)
    for key, arch2vec in (("encoder", "gin"), ("variational", True)):
        if out[key] == arch2vec:
            del out[key]
    return out


@dataclass(frozen=True)
class Preset:
    """Loss and data-handling choices that distinguish ``paper`` from ``default``."""

    name: str
    op_loss: Literal["bce", "ce"]
    mask_padding: bool
    reduction: Literal["paper", "graph"]
    beta: float = 0.0  # KL weight of the "graph" reduction
    reshuffle: bool = False
    joint_prior: bool = False
    eval_prior: bool = False
    # Epochs trained in train mode before the rest train in eval mode (pretrain.steps.scheduled_epoch);
    # None: train mode throughout.
    train_mode_epochs: int | None = None


PRESETS: dict[str, Preset] = {
    "paper": Preset(name="paper", op_loss="bce", mask_padding=False, reduction="paper", train_mode_epochs=1),
    "default": Preset(
        name="default",
        op_loss="ce",
        mask_padding=True,
        reduction="graph",
        beta=0.005,
        reshuffle=True,
        joint_prior=True,
        eval_prior=True,
    ),
}


def get_preset(name: str) -> Preset:
    """Returns the named preset (``paper`` or ``default``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; available: {sorted(PRESETS)}") from None


#: Per-space pretraining defaults from reference §4 (epochs, seed).
SPACE_DEFAULTS: dict[str, dict[str, int]] = {
    "nb201": {"epochs": 10, "seed": 3},
    "nb101": {"epochs": 8, "seed": 1},
    "darts": {"epochs": 10, "seed": 3},
}


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (reference §4); identical for both presets."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    grad_clip: float = 5.0
    val_fraction: float = 0.1
    prior_samples: int = 10_000  # graphs decoded from the prior for validity / uniqueness


def to_dict(obj) -> dict:
    """A JSON-ready dict of a config dataclass."""
    return dataclasses.asdict(obj)


@dataclass(frozen=True)
class PretrainConfig:
    """Everything a pretraining run depends on. ``None`` epochs / seed take the space's defaults."""

    space: str = "nb201"
    preset: str = "paper"
    model: str = "arch2vec"  # MODEL_VARIANTS: arch2vec, arch2vec_no_kl, gae, vgae
    epochs: int | None = None
    seed: int | None = None
    population: int = 1  # models trained at once under vmap, seeds seed, seed+1, ...
    batch_size: int = 32
    prior_samples: int = 10_000
    workdir: str = "runs/nb201"
    data_dir: str | None = None
    subset: int | None = None  # use only the first `subset` architectures (smoke tests, CI)
    progress: bool = True
    devices: int | None = None  # devices to use; None: all JAX sees (not part of the run's identity)
    mesh: str | None = None  # "POPxDATA"; None: pretraining_mesh_shape

    def resolved(self) -> PretrainConfig:
        """The config with the space's defaults filled in and values checked."""
        defaults = SPACE_DEFAULTS.get(self.space, {"epochs": 10, "seed": 0})
        cfg = dataclasses.replace(
            self,
            epochs=defaults["epochs"] if self.epochs is None else self.epochs,
            seed=defaults["seed"] if self.seed is None else self.seed,
        )
        get_preset(cfg.preset)
        get_model_config(cfg.model)
        if cfg.subset is not None and cfg.subset < 20:
            raise ValueError(f"--subset must be at least 20 architectures, got {cfg.subset}")
        for name in ("epochs", "population", "batch_size", "prior_samples"):
            if getattr(cfg, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
        if cfg.mesh is not None:
            _, data = parse_mesh(cfg.mesh)
            if cfg.batch_size % data:
                raise ValueError(
                    f"--mesh {cfg.mesh}: data axis {data} does not divide --batch-size {cfg.batch_size}"
                )
        return cfg

    def device_mesh(self) -> Mesh | None:
        """The (pop, data) mesh of this run, or None on one device."""
        if self.mesh is not None:
            mesh = make_mesh(self.devices, self.mesh)
        else:
            n = len(select_devices(self.devices))
            mesh = make_mesh(n, pretraining_mesh_shape(n, self.population, self.batch_size))
        return mesh if mesh.size > 1 else None
