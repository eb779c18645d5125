"""Process-level settings shared by the command-line entry points: device names, compile cache."""

from __future__ import annotations

import os
from pathlib import Path

import jax

#: Directory of JAX's persistent compilation cache; ``off`` disables it.
ENV_JAX_CACHE = "A2V_JAX_CACHE_DIR"


def device_name() -> str:
    """The default JAX device in words, e.g. ``cpu (cpu) x1`` or ``gpu (NVIDIA H100 80GB HBM3) x1``."""
    d = jax.devices()[0]
    return f"{d.platform} ({d.device_kind}) x{jax.device_count()}"


def enable_compilation_cache(default_root: str | os.PathLike | None = None) -> str | None:
    """Turns on JAX's persistent compilation cache so a repeated command skips recompiling.

    The directory is ``$A2V_JAX_CACHE_DIR``, else ``<default_root>/jax`` (default root
    ``$A2V_CACHE_DIR`` or ``~/.cache/a2v_jax``). Returns the directory, or None when disabled.
    """
    path = os.environ.get(ENV_JAX_CACHE)
    if path == "off":
        return None
    if not path:
        root = default_root or os.environ.get("A2V_CACHE_DIR") or "~/.cache/a2v_jax"
        path = str(Path(root).expanduser() / "jax")
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    return path
