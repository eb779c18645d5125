"""DARTS's CIFAR evaluation network (``NetworkCIFAR``) in Flax Linen, NHWC.

The macro-architecture of DARTS (Liu et al., ICLR 2019), as arch2vec trains its found cells
(reference §7.4), written from the published description:

- stem: 3x3 conv (3 -> 3C, no bias), BN; both inputs of the first cell are the stem.
- ``layers`` cells; the cells at ``layers // 3`` and ``2 * layers // 3`` are reduction cells
  (channels doubled, resolution halved: ops reading a cell input use stride 2). Every cell
  preprocesses ``c_{k-2}`` with a factorized reduce when the previous cell reduced (else a
  ReLU-conv1x1-BN) and ``c_{k-1}`` with a ReLU-conv1x1-BN, runs its 8 ``(op, input)`` pairs, sums
  them per block and concatenates blocks 2..5 (``4C`` channels out).
- ops on ``C`` channels: ``none`` (zeros), ``max_pool_3x3`` / ``avg_pool_3x3`` (padding 1; the
  average excludes the padding), ``skip_connect`` (identity; a factorized reduce at stride 2),
  ``sep_conv_kxk`` (twice ReLU, depthwise kxk, pointwise 1x1, BN), ``dil_conv_kxk`` (ReLU,
  depthwise kxk dilation 2, pointwise 1x1, BN).
- auxiliary head after cell ``2 * layers // 3`` (training only, 8x8 input): ReLU, 5x5 average
  pool stride 3, conv1x1 128, BN, ReLU, conv2x2 768, BN, ReLU, linear.
- global average pool, linear classifier.

Every BatchNorm is affine: the evaluation network builds its ops with ``affine=True`` (only DARTS's
search supernet uses ``affine=False``), so parameter counts include ``2C`` per BN, as
:func:`a2v_jax.spaces.darts_macs.network_params` counts them. Convolutions have no bias. BN uses
PyTorch's momentum 0.1 (Flax ``momentum=0.9``) and eps 1e-5; its running variance is Flax's biased
one (PyTorch stores the unbiased one, a factor ``n / (n - 1)`` with ``n >= 6,144`` here). Weights
start as PyTorch's defaults (``U(±1/sqrt(fan_in))`` for convs and linears).

Drop-path (training only, ``drop_prob`` given): the output of every op except the identity
``skip_connect`` (and ``none``, whose zeros it leaves unchanged) is divided by ``1 - drop_prob`` and
multiplied by a per-example Bernoulli(``1 - drop_prob``) mask. The masks come from the ``drop_path``
RNG stream (``rngs={"drop_path": key}``), so a step is a pure function of its key.

``mask`` (``(B,)`` bool, optional) marks the real examples of a padded batch: BatchNorm statistics
(and so the running averages) are computed over them only, so a padded last batch of an epoch
trains exactly like PyTorch's smaller last batch.

Example::

    net = NetworkCIFAR(ARCH2VEC_BO)
    variables = net.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=True)
    logits, logits_aux = net.apply(variables, x, train=False)
"""

from __future__ import annotations

import functools
import math
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from a2v_jax.spaces.base import InvalidArchitectureError
from a2v_jax.spaces.darts import Genotype, as_genotype
from a2v_jax.spaces.darts_macs import PRIMITIVES

#: arch2vec-BO's cell (reference §7.4; ``darts/cnn/genotypes.py``), normal = reduce.
ARCH2VEC_BO = Genotype.from_normal(
    [
        ("sep_conv_5x5", 1),
        ("max_pool_3x3", 0),
        ("skip_connect", 0),
        ("dil_conv_3x3", 1),
        ("sep_conv_5x5", 1),
        ("sep_conv_3x3", 0),
        ("dil_conv_5x5", 2),
        ("sep_conv_3x3", 0),
    ]
)
#: arch2vec-RL's cell (reference §7.4), normal = reduce.
ARCH2VEC_RL = Genotype.from_normal(
    [
        ("sep_conv_3x3", 0),
        ("dil_conv_3x3", 1),
        ("max_pool_3x3", 0),
        ("dil_conv_3x3", 1),
        ("skip_connect", 0),
        ("sep_conv_3x3", 1),
        ("dil_conv_5x5", 1),
        ("sep_conv_3x3", 0),
    ]
)
#: Named genotypes accepted wherever a genotype is given by name.
GENOTYPES: dict[str, Genotype] = {"arch2vec_bo": ARCH2VEC_BO, "arch2vec_rl": ARCH2VEC_RL}

#: PyTorch's default Conv2d / Linear weight init: kaiming_uniform(a=sqrt(5)) = U(±1/sqrt(fan_in)).
torch_kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
#: Name of the auxiliary head's parameter subtree (DARTS's count of "param size" leaves it out).
AUXILIARY = "auxiliary_head"
#: The RNG stream of drop-path masks.
DROP_PATH_RNG = "drop_path"


def resolve_genotype(arch: Any) -> Genotype:
    """A :class:`Genotype` from a name in :data:`GENOTYPES`, a genotype string or a genotype."""
    if isinstance(arch, str) and arch in GENOTYPES:
        return GENOTYPES[arch]
    try:
        return as_genotype(arch)
    except InvalidArchitectureError as e:
        if isinstance(arch, str) and "(" not in arch:
            raise InvalidArchitectureError(
                f"{arch!r} is neither a genotype name ({', '.join(GENOTYPES)}) nor a Genotype(...) string"
            ) from e
        raise


def _torch_bias_init(fan_in: int):
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def drop_path(x: chex.Array, drop_prob: chex.Numeric, key: chex.PRNGKey) -> chex.Array:
    """Scaled per-example drop-path: ``x / (1 - p) * m`` with ``m ~ Bernoulli(1 - p)`` per example.

    Args:
      x: ``(B, H, W, C)`` op output.
      drop_prob: probability ``p`` of dropping an example's path (a traced scalar is fine).
      key: PRNG key of the mask.

    Returns:
      ``(B, H, W, C)``, as ``x`` in expectation.
    """
    keep = 1.0 - jnp.asarray(drop_prob, x.dtype)
    m = jax.random.bernoulli(key, keep, (x.shape[0], 1, 1, 1)).astype(x.dtype)  # (B, 1, 1, 1)
    return x / keep * m


class _BN(nn.Module):
    """BatchNorm (PyTorch defaults: momentum 0.1, eps 1e-5, affine), masked statistics in training."""

    @nn.compact
    def __call__(self, x: chex.Array, train: bool, mask: chex.Array | None) -> chex.Array:
        m = None if mask is None or not train else mask[:, None, None, None]  # (B, 1, 1, 1)
        return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, name="bn")(x, mask=m)


def _conv(features: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1):
    return nn.Conv(
        features,
        (kernel, kernel),
        strides=(stride, stride),
        padding=((padding, padding), (padding, padding)),
        kernel_dilation=(dilation, dilation),
        feature_group_count=groups,
        use_bias=False,
        kernel_init=torch_kernel_init,
    )


class ReLUConvBN(nn.Module):
    """ReLU, 1x1 conv to ``c_out`` channels, BN."""

    c_out: int

    @nn.compact
    def __call__(self, x: chex.Array, train: bool, mask: chex.Array | None = None) -> chex.Array:
        return _BN()(_conv(self.c_out, 1)(nn.relu(x)), train, mask)


class FactorizedReduce(nn.Module):
    """ReLU, two 1x1 stride-2 convs (``c_out / 2`` each, the second on the input shifted by a pixel), BN."""

    c_out: int

    @nn.compact
    def __call__(self, x: chex.Array, train: bool, mask: chex.Array | None = None) -> chex.Array:
        if self.c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even output channel count, got {self.c_out}")
        h, w = x.shape[1:3]
        if h % 2 or w % 2:
            raise ValueError(f"FactorizedReduce halves the resolution; got an odd {h}x{w} input")
        x = nn.relu(x)
        a = _conv(self.c_out // 2, 1, stride=2)(x)  # (B, H/2, W/2, C/2)
        b = _conv(self.c_out // 2, 1, stride=2)(x[:, 1:, 1:, :])  # (B, H/2, W/2, C/2)
        return _BN()(jnp.concatenate([a, b], axis=-1), train, mask)


class SepConv(nn.Module):
    """Twice ReLU, depthwise ``kernel x kernel``, pointwise 1x1, BN (stride in the first depthwise conv)."""

    channels: int
    kernel: int
    stride: int

    @nn.compact
    def __call__(self, x: chex.Array, train: bool, mask: chex.Array | None = None) -> chex.Array:
        c, k, pad = self.channels, self.kernel, self.kernel // 2
        for stride in (self.stride, 1):
            x = _conv(c, k, stride, pad, groups=c)(nn.relu(x))
            x = _BN()(_conv(c, 1)(x), train, mask)
        return x


class DilConv(nn.Module):
    """ReLU, depthwise ``kernel x kernel`` with dilation 2, pointwise 1x1, BN."""

    channels: int
    kernel: int
    stride: int

    @nn.compact
    def __call__(self, x: chex.Array, train: bool, mask: chex.Array | None = None) -> chex.Array:
        c, k = self.channels, self.kernel
        x = _conv(c, k, self.stride, padding=k - 1, dilation=2, groups=c)(nn.relu(x))
        return _BN()(_conv(c, 1)(x), train, mask)


def _pool_padding(x: chex.Array, stride: int) -> None:
    if stride == 2 and (x.shape[1] % 2 or x.shape[2] % 2):
        raise ValueError(f"a stride-2 op on an odd {x.shape[1]}x{x.shape[2]} map is not in DARTS's networks")


class Op(nn.Module):
    """One DARTS candidate op on ``channels`` channels (a name in ``PRIMITIVES``)."""

    op: str
    channels: int
    stride: int

    @nn.compact
    def __call__(self, x: chex.Array, train: bool, mask: chex.Array | None = None) -> chex.Array:
        op, c, s = self.op, self.channels, self.stride
        _pool_padding(x, s)
        pad = ((1, 1), (1, 1))
        if op == "none":
            return jnp.zeros_like(x[:, ::s, ::s, :])
        if op == "max_pool_3x3":
            return nn.max_pool(x, (3, 3), strides=(s, s), padding=pad)
        if op == "avg_pool_3x3":
            return nn.avg_pool(x, (3, 3), strides=(s, s), padding=pad, count_include_pad=False)
        if op == "skip_connect":
            return x if s == 1 else FactorizedReduce(c, name="reduce")(x, train, mask)
        if op.startswith("sep_conv_"):
            return SepConv(c, int(op[-1]), s, name="sep")(x, train, mask)
        if op.startswith("dil_conv_"):
            return DilConv(c, int(op[-1]), s, name="dil")(x, train, mask)
        raise ValueError(f"unknown DARTS op {op!r}; expected one of {PRIMITIVES}")


class Cell(nn.Module):
    """A DARTS cell: preprocess both inputs, 4 blocks of 2 ops, concatenate the blocks in ``concat``."""

    ops: tuple[tuple[str, int], ...]
    concat: tuple[int, ...]
    channels: int
    reduction: bool
    reduction_prev: bool

    @nn.compact
    def __call__(
        self,
        s0: chex.Array,
        s1: chex.Array,
        train: bool,
        drop_prob: chex.Numeric | None = None,
        mask: chex.Array | None = None,
    ) -> chex.Array:
        c = self.channels
        if self.reduction_prev:
            s0 = FactorizedReduce(c, name="preprocess0")(s0, train, mask)
        else:
            s0 = ReLUConvBN(c, name="preprocess0")(s0, train, mask)
        s1 = ReLUConvBN(c, name="preprocess1")(s1, train, mask)  # (B, H, W, C) both
        states = [s0, s1]
        for block in range(len(self.ops) // 2):
            total = 0.0
            for slot in (2 * block, 2 * block + 1):
                op, src = self.ops[slot]
                stride = 2 if self.reduction and src < 2 else 1
                h = Op(op, c, stride, name=f"op{slot}")(states[src], train, mask)
                is_identity = op == "none" or (op == "skip_connect" and stride == 1)
                if train and drop_prob is not None and not is_identity:
                    h = drop_path(h, drop_prob, self.make_rng(DROP_PATH_RNG))
                total = total + h
            states.append(total)
        return jnp.concatenate([states[i] for i in self.concat], axis=-1)  # (B, H', W', 4C)


class AuxiliaryHeadCIFAR(nn.Module):
    """DARTS's CIFAR auxiliary classifier on the 8x8 output of cell ``2 * layers // 3``."""

    num_classes: int

    @nn.compact
    def __call__(self, x: chex.Array, train: bool, mask: chex.Array | None = None) -> chex.Array:
        if x.shape[1:3] != (8, 8):
            raise ValueError(
                f"the CIFAR auxiliary head expects an 8x8 map (32x32 images), got {x.shape[1]}x{x.shape[2]}; "
                "build the network with auxiliary=False for other image sizes"
            )
        x = nn.avg_pool(nn.relu(x), (5, 5), strides=(3, 3))  # (B, 2, 2, C)
        x = nn.relu(_BN()(_conv(128, 1)(x), train, mask))
        x = nn.relu(_BN()(_conv(768, 2)(x), train, mask))  # (B, 1, 1, 768)
        x = x.reshape(x.shape[0], -1)
        return nn.Dense(
            self.num_classes, kernel_init=torch_kernel_init, bias_init=_torch_bias_init(x.shape[-1])
        )(x)


class NetworkCIFAR(nn.Module):
    """DARTS's CIFAR network built from a genotype (normal and reduction cells).

    Attributes:
      genotype: the cells; arch2vec's have ``reduce == normal``, but any valid genotype builds.
      init_channels: ``C`` of the first cells (the stem has ``3C``).
      layers: number of cells.
      num_classes: classifier outputs.
      auxiliary: build the auxiliary head (used in training only).
    """

    genotype: Genotype
    init_channels: int = 36
    layers: int = 20
    num_classes: int = 10
    auxiliary: bool = True

    @nn.compact
    def __call__(
        self,
        x: chex.Array,
        *,
        train: bool,
        drop_prob: chex.Numeric | None = None,
        mask: chex.Array | None = None,
    ) -> tuple[chex.Array, chex.Array | None]:
        """Logits of a batch of normalised images.

        Args:
          x: ``(B, H, W, 3)`` float images (H, W divisible by 4).
          train: batch statistics, drop-path and the auxiliary head (else running averages, no head).
          drop_prob: drop-path probability in training (a traced scalar is fine); None: no drop-path.
          mask: ``(B,)`` bool, the real examples of a padded batch (BN statistics in training); None: all.

        Returns:
          ``(logits (B, num_classes), logits_aux (B, num_classes) or None)``; the auxiliary logits
          are computed in training with ``auxiliary=True`` only.
        """
        chex.assert_rank(x, 4)
        if x.shape[-1] != 3:
            raise ValueError(f"NetworkCIFAR takes NHWC RGB images, got shape {x.shape}")
        if mask is not None:
            chex.assert_shape(mask, (x.shape[0],))
        g = self.genotype
        c = self.init_channels
        s0 = s1 = _BN(name="stem_bn")(_conv(3 * c, 3, padding=1)(x), train, mask)  # (B, H, W, 3C)
        reduction_prev = False
        logits_aux = None
        for i in range(self.layers):
            reduction = i in (self.layers // 3, 2 * self.layers // 3)
            if reduction:
                c *= 2
            ops, concat = (g.reduce, g.reduce_concat) if reduction else (g.normal, g.normal_concat)
            cell = Cell(ops, concat, c, reduction, reduction_prev, name=f"cell{i}")
            s0, s1 = s1, cell(s0, s1, train, drop_prob, mask)
            reduction_prev = reduction
            if i == 2 * self.layers // 3 and self.auxiliary and train:
                logits_aux = AuxiliaryHeadCIFAR(self.num_classes, name=AUXILIARY)(s1, train, mask)
        out = jnp.mean(s1, axis=(1, 2))  # (B, 4C)
        logits = nn.Dense(
            self.num_classes,
            kernel_init=torch_kernel_init,
            bias_init=_torch_bias_init(out.shape[-1]),
            name="classifier",
        )(out)
        return logits, logits_aux


def count_params(params: Any) -> int:
    """Number of scalars in a parameter pytree (arrays or ``ShapeDtypeStruct``)."""
    return int(sum(math.prod(x.shape) for x in jax.tree.leaves(params)))


@functools.lru_cache(maxsize=16)
def abstract_variables(model: NetworkCIFAR, image_size: int = 32) -> Any:
    """The variables of ``model`` as ``ShapeDtypeStruct``s (``jax.eval_shape``: no FLOPs; memoised)."""
    x = jax.ShapeDtypeStruct((1, image_size, image_size, 3), jnp.float32)
    return jax.eval_shape(lambda k, x: model.init(k, x, train=True), jax.random.key(0), x)


def param_counts(model: NetworkCIFAR, image_size: int = 32) -> dict[str, int]:
    """Parameter counts of ``model``: ``network`` (DARTS's "param size", no head), ``auxiliary``, ``total``.

    Counted from shapes only (:func:`abstract_variables`), so a full-size network costs a trace.
    """
    params = dict(abstract_variables(model, image_size)["params"])
    aux = count_params(params.pop(AUXILIARY, {}))
    net = count_params(params)
    return {"network": net, "auxiliary": aux, "total": net + aux}


def _init_leaves(tree: Any, rng: np.random.Generator, path: tuple[str, ...] = ()) -> Any:
    """Fresh parameters for the abstract ``tree`` (see :func:`init_network`)."""
    if "kernel" in tree:  # Conv or Dense: U(±1/sqrt(fan_in)) for the weight and a Dense bias
        bound = 1.0 / math.sqrt(math.prod(tree["kernel"].shape[:-1]))
        return {k: rng.uniform(-bound, bound, v.shape).astype(np.float32) for k, v in tree.items()}
    if "scale" in tree:  # BatchNorm: scale 1, bias 0
        scale, bias = tree["scale"].shape, tree["bias"].shape
        return {"scale": np.ones(scale, np.float32), "bias": np.zeros(bias, np.float32)}
    out = {}
    for k, v in tree.items():
        if not hasattr(v, "items"):
            raise ValueError(f"unexpected parameter {'/'.join((*path, k))} in a NetworkCIFAR")
        out[k] = _init_leaves(v, rng, (*path, k))
    return out


def init_network(model: NetworkCIFAR, key: chex.PRNGKey, image_size: int = 32) -> dict[str, Any]:
    """``{"params", "batch_stats"}`` of ``model``: PyTorch's default initialisation, drawn from ``key``.

    The distributions are the modules' initialisers (``U(±1/sqrt(fan_in))`` for conv and linear
    weights and linear biases; BN scale 1, bias 0; running mean 0, variance 1), drawn on the host by
    a numpy generator seeded with ``key``'s data: ``model.init`` under ``jit`` (one threefry call
    per leaf) takes about 45 s to compile for a 5-cell network on a CPU, this no compilation.
    Deterministic in ``key``.

    Args:
      model: the network.
      key: PRNG key of the weights.
      image_size: input height = width (shapes only).

    Returns:
      The variables (device arrays), ready for ``model.apply``.
    """
    abstract = abstract_variables(model, image_size)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    variables = {
        "params": _init_leaves(abstract["params"], rng),
        "batch_stats": _init_stats(abstract["batch_stats"]),
    }
    return jax.tree.map(jnp.asarray, variables)


def _init_stats(tree: Any) -> Any:
    """BatchNorm running statistics at PyTorch's start: mean 0, variance 1."""
    out = {}
    for k, v in tree.items():
        if hasattr(v, "items"):
            out[k] = _init_stats(v)
        else:
            out[k] = np.ones(v.shape, np.float32) if k == "var" else np.zeros(v.shape, np.float32)
    return out


__all__ = [
    "ARCH2VEC_BO",
    "ARCH2VEC_RL",
    "AUXILIARY",
    "DROP_PATH_RNG",
    "GENOTYPES",
    "AuxiliaryHeadCIFAR",
    "Cell",
    "DilConv",
    "FactorizedReduce",
    "NetworkCIFAR",
    "Op",
    "ReLUConvBN",
    "SepConv",
    "abstract_variables",
    "count_params",
    "drop_path",
    "init_network",
    "param_counts",
    "resolve_genotype",
]
