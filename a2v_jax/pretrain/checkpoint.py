"""A pretraining workdir: its lock, its identity check, orbax checkpoints, loading a trained model back."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp


class WorkdirError(RuntimeError):
    """A workdir that this run may not use; the message names why and what to do."""


class WorkdirMismatchError(WorkdirError):
    """The workdir holds a run of another configuration; it is never overwritten."""


class WorkdirBusyError(WorkdirError):
    """Another live process is writing the workdir (its lock names the host and pid)."""


LOCK_NAME = ".lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def make_workdir(workdir: Path) -> None:
    """Creates ``workdir`` (and its parents), or names why it cannot be one."""
    if workdir.exists() and not workdir.is_dir():
        raise WorkdirError(f"--workdir {workdir} is a file, not a directory; name a directory")
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise WorkdirError(f"--workdir {workdir}: a parent is a file, not a directory ({e})") from None
    except OSError as e:
        raise WorkdirError(f"--workdir {workdir} cannot be created: {e.strerror or e}") from None
    if not os.access(workdir, os.W_OK):
        raise WorkdirError(f"--workdir {workdir} is not writable")


@contextlib.contextmanager
def workdir_lock(workdir: Path, enabled: bool = True) -> Iterator[None]:
    """Holds ``workdir/.lock`` (host, pid, start time) while a run writes the workdir.

    A second run is refused at once with :class:`WorkdirBusyError`. A lock left by a process
    that is gone (same host, pid not alive) is taken over; a lock from another host is only
    reported, since its owner cannot be checked from here.
    """
    if not enabled:
        yield
        return
    make_workdir(workdir)
    path = workdir / LOCK_NAME
    me = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = json.loads(path.read_text())
                host, pid = owner["host"], int(owner["pid"])
            except (OSError, ValueError, KeyError, TypeError):
                owner, host, pid = None, None, None
            if host == me["host"] and pid is not None and not _pid_alive(pid):
                path.unlink(missing_ok=True)  # its owner died without releasing it
                continue
            who = f"process {pid} on {host}" if owner else "another process (unreadable lock)"
            raise WorkdirBusyError(
                f"{workdir} is in use by {who}: wait for that run to end, or use another --workdir "
                f"(if that run is gone, delete {path})"
            ) from None
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(me) + "\n")
        break
    else:
        raise WorkdirBusyError(f"{workdir}: could not take {path}; another run is starting there")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def check_workdir(workdir: Path, identity: dict[str, Any]) -> None:
    """Writes ``config.json`` on first use; refuses a workdir whose stored config differs.

    Raises:
      WorkdirMismatchError: naming the keys that differ and both values.
    """
    make_workdir(workdir)
    path = workdir / "config.json"
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise WorkdirMismatchError(f"{path} is not valid JSON ({e}); use another --workdir") from e
        if stored != identity:
            keys = sorted(k for k in set(stored) | set(identity) if stored.get(k) != identity.get(k))
            diff = "; ".join(f"{k}: stored {stored.get(k)!r} vs requested {identity.get(k)!r}" for k in keys)
            raise WorkdirMismatchError(
                f"{workdir} holds a run with another configuration ({diff}). "
                "Use another --workdir, or delete this one to start over."
            )
    else:
        path.write_text(json.dumps(identity, indent=2, sort_keys=True) + "\n")


def check_epochs_done(workdir: Path, epochs: int) -> None:
    """Refuses ``epochs`` fewer than the workdir's completed ones (its outputs would be mislabelled).

    Only the last checkpoints are kept, so the earlier model is gone; the run must ask for at least
    as many epochs as are done (equal: the outputs are rewritten from the last checkpoint; more:
    training continues).
    """
    directory = workdir / "checkpoints"
    # The directory is listed, not opened with a Checkpointer: a manager creates it, and a refused
    # run must leave the workdir as it found it.
    done = [int(p.name) for p in directory.iterdir() if p.name.isdigit()] if directory.is_dir() else []
    if done and max(done) > epochs:
        raise WorkdirMismatchError(
            f"{workdir} holds a run of {max(done)} completed epochs; --epochs {epochs} would label that "
            f"model as {epochs} epochs. Use --epochs {max(done)} (or more, to continue training), "
            "or another --workdir."
        )


class Checkpointer:
    """Saves the training pytree after every epoch and restores the latest one."""

    def __init__(self, directory: Path, max_to_keep: int = 2):
        self._mngr = ocp.CheckpointManager(
            Path(directory).absolute(),
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
        )

    def latest_epoch(self) -> int | None:
        """The last completed epoch saved, or None."""
        return self._mngr.latest_step()

    def save(self, epoch: int, tree: Any) -> None:
        """Saves ``tree`` as the state after ``epoch`` completed epochs (asynchronously)."""
        self._mngr.save(epoch, args=ocp.args.StandardSave(tree))

    def restore(self, epoch: int, like: Any) -> Any:
        """Restores the tree saved at ``epoch`` with the structure and dtypes of ``like``."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        return self._mngr.restore(epoch, args=ocp.args.StandardRestore(abstract))

    def close(self) -> None:
        """Waits for pending saves and releases the manager."""
        self._mngr.wait_until_finished()
        self._mngr.close()


def load_pretrained_state(workdir: str | Path, member: int = 0, epoch: int | None = None):
    """The trained model state of a ``python -m a2v_jax.pretrain`` workdir (its latest checkpoint).

    Args:
      workdir: the pretraining workdir (holds ``config.json`` and ``checkpoints/``).
      member: which population member (0 = the run's ``--seed``).
      epoch: checkpoint epoch to load; None: the latest.

    Returns:
      An :class:`~a2v_jax.pretrain.steps.A2VState` for :func:`~a2v_jax.pretrain.steps.decode_latents` and
      :func:`reconstruct_codes`.

    Raises:
      FileNotFoundError: the workdir has no ``config.json`` or no checkpoint.
      ValueError: ``member`` is outside the population, or the workdir's space is unknown.
    """
    from a2v_jax.pretrain.config import ModelConfig, Preset, TrainConfig
    from a2v_jax.pretrain.steps import create_state
    from a2v_jax.spaces import get_space

    workdir = Path(workdir)
    cfg_path = workdir / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{cfg_path} not found: is {workdir} a pretraining workdir?")
    ident = json.loads(cfg_path.read_text())
    try:
        space = get_space(ident.get("space"))  # lazy: only its node count and op vocabulary are read
    except ValueError as e:
        raise ValueError(f"{cfg_path}: {e}") from None
    population = int(ident["population"])
    if not 0 <= member < population:
        raise ValueError(f"member {member} is outside the population of {population} in {cfg_path}")
    state = create_state(
        jax.random.key(0),
        space.num_nodes,
        len(space.op_names),
        Preset(**ident["preset"]),
        ModelConfig(**ident["model"]),
        TrainConfig(**ident["train"]),
    )
    # Restored as saved (no template), so the rest of the checkpoint (optimiser, prior sums) may
    # change layout without breaking this; only the model variables are used.
    mngr = ocp.CheckpointManager((workdir / "checkpoints").absolute())
    try:
        epoch = mngr.latest_step() if epoch is None else epoch
        if epoch is None:
            raise FileNotFoundError(f"{workdir / 'checkpoints'} holds no checkpoint")
        raw = mngr.restore(epoch, args=ocp.args.StandardRestore())
    finally:
        mngr.close()

    def pick(saved, like, name):
        if jax.tree.structure(saved) != jax.tree.structure(like):
            raise ValueError(f"{workdir}: checkpoint {epoch} {name} do not match the model in {cfg_path}")
        return jax.tree.map(lambda x, ref: jnp.asarray(x[member], ref.dtype), saved, like)

    return state.replace(
        params=pick(raw["params"], state.params, "params"),
        batch_stats=pick(raw["batch_stats"], state.batch_stats, "batch statistics"),
    )
