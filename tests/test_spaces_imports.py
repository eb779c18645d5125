"""The search spaces are pure encodings: no ``a2v_jax.spaces`` module imports the data layer."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import a2v_jax.spaces


def test_spaces__import_no_data_module():
    modules = ["a2v_jax.spaces"] + [
        m.name for m in pkgutil.walk_packages(a2v_jax.spaces.__path__, "a2v_jax.spaces.")
    ]
    assert {"a2v_jax.spaces.darts.pool", "a2v_jax.spaces.nb101.enumeration"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('a2v_jax.data')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
