"""Many devices and many hosts: one device mesh, seed/population axes and batch axes sharded over it.

Every program stays the pure, single-member function lifted with ``vmap``; this module only says
where its arrays live. The mesh has two named axes:

- ``pop``: the population / seed axis. Search seeds and pretraining population members are
  independent, so sharding them needs no communication; a seed count that does not divide the
  axis is padded (copies of the last seed) and the padding dropped afterwards.
- ``data``: the batch axis of one model's training step. The batch is split across the axis,
  ``jit`` all-reduces the gradients and the BatchNorm sums, so the statistics stay the global
  batch's and the result equals one device up to float reduction order.

The search has no batch axis: it shards its seeds over the whole mesh (``pop`` x ``data``).

Multi-host: call :func:`initialize_distributed` (the ``--coordinator``, ``--num-processes``,
``--process-id`` flags of both commands) before anything touches a device. Every process then sees
the global device list, runs the same program on its local shard, and :func:`to_host` gathers the
results; only process 0 (:func:`is_primary`) writes files.

Example::

    mesh = make_mesh(devices=None, shape="4x1")  # all devices: 4 on pop, 1 on data
    runner = ChunkedRunner(strategy, mesh=mesh)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

#: Mesh axis of independent members: search seeds, pretraining population members.
POP = "pop"
#: Mesh axis of one model's batch (data parallelism).
DATA = "data"
AXES = (POP, DATA)

#: Environment variables read by :func:`initialize_distributed` when its arguments are None.
ENV_COORDINATOR = "A2V_COORDINATOR"
ENV_NUM_PROCESSES = "A2V_NUM_PROCESSES"
ENV_PROCESS_ID = "A2V_PROCESS_ID"


def parse_mesh(spec: str | Sequence[int]) -> tuple[int, int]:
    """``"2x2"`` -> ``(2, 2)``; ``"4"`` -> ``(4, 1)``: the (pop, data) shape of a mesh.

    Raises:
      ValueError: naming the bad spec.
    """
    if isinstance(spec, str):
        parts = spec.lower().replace("*", "x").split("x")
        try:
            shape = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(f"--mesh {spec!r}: expected POPxDATA, e.g. 4x1 or 2x2") from None
    else:
        shape = tuple(int(p) for p in spec)
    if len(shape) == 1:
        shape = (shape[0], 1)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"--mesh {spec!r}: expected two positive sizes POPxDATA, e.g. 4x1 or 2x2")
    return shape  # type: ignore[return-value]


def select_devices(devices: int | None = None) -> list[jax.Device]:
    """The devices a run uses: all of ``jax.devices()`` (every process's) or the first ``devices``.

    Raises:
      ValueError: ``devices`` < 1, more than JAX sees, or a subset in a multi-process run (every
        process must own part of the mesh).
    """
    every = jax.devices()
    if devices is None:
        return list(every)
    if devices < 1:
        raise ValueError(f"--devices must be at least 1, got {devices}")
    if devices > len(every):
        raise ValueError(f"--devices {devices}: JAX sees only {len(every)} device(s): {_kinds(every)}")
    if jax.process_count() > 1 and devices != len(every):
        raise ValueError(
            f"--devices {devices}: a {jax.process_count()}-process run uses all {len(every)} devices; "
            "leave --devices out"
        )
    return list(every[:devices])


def make_mesh(devices: int | None = None, shape: str | Sequence[int] | None = None) -> Mesh:
    """A ``(pop, data)`` mesh over the selected devices.

    Args:
      devices: how many devices (None: all that JAX sees).
      shape: ``"POPxDATA"`` or a pair; None puts every device on ``pop`` (``(n, 1)``). With
        ``devices`` None the shape alone picks the device count.

    Returns:
      A :class:`jax.sharding.Mesh` with axes :data:`AXES`.

    Raises:
      ValueError: the shape does not multiply to the device count.
    """
    if shape is not None:
        shape = parse_mesh(shape)
        if devices is None:
            devices = shape[0] * shape[1]
            if devices > jax.device_count():
                raise ValueError(
                    f"--mesh {shape[0]}x{shape[1]} needs {devices} devices; JAX sees {_kinds(jax.devices())}"
                )
    devs = select_devices(devices)
    if shape is None:
        shape = (len(devs), 1)
    if shape[0] * shape[1] != len(devs):
        raise ValueError(
            f"--mesh {shape[0]}x{shape[1]} needs {shape[0] * shape[1]} devices, but {len(devs)} are "
            f"selected ({_kinds(devs)}); set --devices to match"
        )
    return Mesh(np.asarray(devs, dtype=object).reshape(shape), AXES)


def pretraining_mesh_shape(num_devices: int, population: int, batch_size: int) -> tuple[int, int]:
    """The default (pop, data) shape for training ``population`` models on ``num_devices``.

    Members go on ``pop`` as far as they divide evenly (``gcd``); the rest of the devices split
    each batch (``data``), which must divide ``batch_size``. If it does not, the population axis
    takes the leftover devices instead (members padded).

    Returns:
      ``(pop, data)`` with ``pop * data == num_devices``.
    """
    pop = math.gcd(population, num_devices)
    data = num_devices // pop
    if batch_size % data:
        # The largest data split that divides both the leftover devices and the batch.
        data = math.gcd(batch_size, data)
        pop = num_devices // data
    return pop, data


def mesh_size(mesh: Mesh | None, axis: str | None = None) -> int:
    """Devices in ``mesh`` (1 for None), or along one of its axes."""
    if mesh is None:
        return 1
    return int(mesh.shape[axis]) if axis is not None else int(mesh.size)


def seed_sharding(mesh: Mesh) -> NamedSharding:
    """Leading axis split over every mesh axis (the search's seeds), the rest replicated."""
    return NamedSharding(mesh, P(tuple(mesh.axis_names)))


def pop_sharding(mesh: Mesh) -> NamedSharding:
    """Leading axis split over ``pop`` (population members), replicated over ``data``."""
    return NamedSharding(mesh, P(POP))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array."""
    return NamedSharding(mesh, P())


def padded_size(n: int, multiple: int) -> int:
    """``n`` rounded up to a multiple of ``multiple``."""
    return -(-n // multiple) * multiple


def pad_leading(tree: Any, size: int) -> Any:
    """Pads every leaf's leading axis to ``size`` with copies of its last row.

    Copies of a real member (not zeros) keep the padding valid input: a padded seed runs as a
    duplicate of the last one and its results are dropped. Typed PRNG key arrays are fine.
    """

    def pad(x):
        n = x.shape[0]
        if n == size:
            return x
        if n > size:
            raise ValueError(f"cannot pad a leading axis of {n} down to {size}")
        if isinstance(x, np.ndarray):
            return np.concatenate([x, np.repeat(x[-1:], size - n, axis=0)])
        return jnp.concatenate([x, jnp.repeat(x[-1:], size - n, axis=0)])

    return jax.tree.map(pad, tree)


def put(tree: Any, sharding: NamedSharding) -> Any:
    """Places every leaf with ``sharding``; in a multi-host run every process passes the same values.

    Each process copies in only the shards its own devices hold (``make_array_from_callback``),
    so a global array is built without any cross-host transfer.
    """
    return jax.tree.map(lambda x: _put_leaf(x, sharding), tree)


def _put_leaf(x: Any, sharding: NamedSharding) -> jax.Array:
    if sharding.is_fully_addressable:
        return jax.device_put(x, sharding)
    if jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key):
        data = _put_leaf(jax.random.key_data(x), sharding)  # (..., 2) uint32, same leading split
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def to_host(tree: Any) -> Any:
    """numpy copies of every leaf, gathered from all processes where a leaf spans several."""

    def one(x):
        if not isinstance(x, jax.Array) or x.is_fully_addressable:
            return np.asarray(x)
        if x.is_fully_replicated:
            return np.asarray(x.addressable_data(0))
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))

    return jax.tree.map(one, tree)


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> bool:
    """Joins a multi-process (multi-host) run through ``jax.distributed.initialize``.

    Arguments left None come from ``$A2V_COORDINATOR``, ``$A2V_NUM_PROCESSES`` and
    ``$A2V_PROCESS_ID``. ``coordinator_address="auto"`` lets JAX detect the cluster (SLURM,
    Open MPI, Kubernetes, TPU pods). With no coordinator at all this is a single-process run and
    nothing happens. Must run before any JAX computation in the process.

    Args:
      coordinator_address: ``host:port`` of process 0, reachable from every process.
      num_processes: total processes.
      process_id: this process's rank, ``0 .. num_processes - 1``.

    Returns:
      True if ``jax.distributed.initialize`` was called.

    Raises:
      ValueError: a coordinator without the process count or id, or malformed values.
    """
    coordinator_address = coordinator_address or os.environ.get(ENV_COORDINATOR) or None
    num_processes = _int_arg(num_processes, ENV_NUM_PROCESSES, "--num-processes")
    process_id = _int_arg(process_id, ENV_PROCESS_ID, "--process-id")
    if coordinator_address is None:
        if num_processes not in (None, 1) or process_id not in (None, 0):
            raise ValueError("--num-processes / --process-id need --coordinator HOST:PORT (or 'auto')")
        return False
    if coordinator_address == "auto":
        jax.distributed.initialize(num_processes=num_processes, process_id=process_id)
        return True
    if num_processes is None or process_id is None:
        raise ValueError(f"--coordinator {coordinator_address}: also pass --num-processes and --process-id")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"--process-id {process_id} must be in 0..{num_processes - 1} (--num-processes)")
    jax.distributed.initialize(coordinator_address, num_processes, process_id)
    return True


def add_device_flags(parser) -> None:
    """Adds ``--devices``, ``--mesh`` and the multi-host flags to an ``argparse`` parser."""
    g = parser.add_argument_group("devices and hosts")
    g.add_argument("--devices", type=int, default=None, help="devices to use (default: all JAX sees; 1: one)")
    g.add_argument("--mesh", default=None, help="device mesh POPxDATA, e.g. 4x1 or 2x2 (default: automatic)")
    g.add_argument(
        "--coordinator",
        default=None,
        help=f"multi-host: HOST:PORT of process 0, or 'auto' on SLURM/MPI (default: ${ENV_COORDINATOR})",
    )
    g.add_argument("--num-processes", type=int, help=f"multi-host: process count (${ENV_NUM_PROCESSES})")
    g.add_argument("--process-id", type=int, help=f"multi-host: this process's rank (${ENV_PROCESS_ID})")


def initialize_from_flags(args) -> bool:
    """:func:`initialize_distributed` with the flags of :func:`add_device_flags`."""
    return initialize_distributed(args.coordinator, args.num_processes, args.process_id)


def _int_arg(value: int | None, env: str, flag: str) -> int | None:
    if value is not None:
        return int(value)
    raw = os.environ.get(env)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"${env}={raw!r} ({flag}) is not an integer") from None


def is_primary() -> bool:
    """True in process 0, the one process that writes files."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Waits until every process reaches this point (a no-op in a single-process run)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def describe(mesh: Mesh | None) -> dict[str, Any]:
    """What a report records about where a run ran: device kind and count, mesh shape, processes."""
    devs = list(mesh.devices.flat) if mesh is not None else jax.devices()[:1]
    return {
        "devices": len(devs),
        "device_kind": _kinds(devs),
        "mesh": {POP: mesh_size(mesh, POP), DATA: mesh_size(mesh, DATA)}
        if mesh is not None
        else {POP: 1, DATA: 1},
        "processes": jax.process_count(),
    }


def _kinds(devs: Sequence[jax.Device]) -> str:
    kinds = sorted({f"{d.platform} ({d.device_kind})" for d in devs})
    return ", ".join(kinds) + f" x{len(devs)}"
