"""The house rules of CONTRIBUTING.md hold: package imports go one way, modules stay small and documented."""

from __future__ import annotations

import ast
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import a2v_jax.spaces

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = REPO_ROOT / "a2v_jax"
MAX_LINES = 600
MAX_DOCSTRING_LINES = 40


def _allowed_imports() -> dict[str, set[str]]:
    """``{package: packages it may import}`` from CONTRIBUTING.md's table (the one source of the rule)."""
    table = {}
    for line in (REPO_ROOT / "CONTRIBUTING.md").read_text().splitlines():
        m = re.match(r"^\| `(\w+)` \|.*\| ([^|]*) \|$", line)
        if m:
            table[m.group(1)] = set(re.findall(r"`(\w+)`", m.group(2)))
    return table


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _package_of(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _imported_packages(path: Path) -> set[str]:
    """The ``a2v_jax`` packages a module imports, at any level (function-level imports count)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("a2v_jax."):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "a2v_jax":
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("a2v_jax."))
    return out


def test_contributing_table__names_every_package_of_a2v_jax():
    table = _allowed_imports()
    on_disk = {_package_of(p) for p in _modules() if p.name != "__init__.py" or p.parent != PACKAGE}
    assert on_disk - {"__init__"} == set(table), "CONTRIBUTING.md's table and a2v_jax/ disagree"


def test_imports__go_down_the_contributing_table_only():
    table = _allowed_imports()
    wrong = []
    for path in _modules():
        package = _package_of(path)
        if package == "__init__":
            continue
        for imported in _imported_packages(path) - {package}:
            if imported not in table[package]:
                wrong.append(f"{path.relative_to(REPO_ROOT)} imports a2v_jax.{imported}")
    assert not wrong, "\n".join(wrong)


def test_modules__at_most_600_lines_and_40_docstring_lines():
    too_big = []
    for path in _modules():
        text = path.read_text()
        lines = len(text.splitlines())
        doc_lines = len((ast.get_docstring(ast.parse(text), clean=False) or "").splitlines())
        if lines > MAX_LINES:
            too_big.append(f"{path.relative_to(REPO_ROOT)}: {lines} lines")
        if doc_lines > MAX_DOCSTRING_LINES:
            too_big.append(f"{path.relative_to(REPO_ROOT)}: module docstring of {doc_lines} lines")
    assert not too_big, "\n".join(too_big)


@pytest.mark.slow
def test_spaces__import_without_loading_data_or_pretraining():
    """A space is a pure encoding: importing every spaces module loads no table, cache or model code."""
    modules = ["a2v_jax.spaces"] + [
        m.name for m in pkgutil.walk_packages(a2v_jax.spaces.__path__, "a2v_jax.spaces.")
    ]
    assert {"a2v_jax.spaces.darts.pool", "a2v_jax.spaces.nb101.enumeration"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('a2v_jax.data', 'a2v_jax.pretrain'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_benchmarks__every_name_they_import_from_a2v_jax_exists():
    """A benchmark is a script nobody imports: a moved name breaks it only when it is run."""
    import importlib

    missing = []
    for path in sorted((REPO_ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("a2v_jax")):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        missing.append(f"{path.name}:{node.lineno} {node.module}.{alias.name}")
    assert not missing, f"benchmarks import names that do not exist: {missing}"
