"""Orbax checkpoints of a pretraining run, and the workdir's identity check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp


class WorkdirMismatchError(RuntimeError):
    """The workdir holds a run of another configuration; it is never overwritten."""


def check_workdir(workdir: Path, identity: dict[str, Any]) -> None:
    """Writes ``config.json`` on first use; refuses a workdir whose stored config differs.

    Raises:
      WorkdirMismatchError: naming the keys that differ and both values.
    """
    workdir.mkdir(parents=True, exist_ok=True)
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
