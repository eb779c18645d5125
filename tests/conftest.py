"""Shared fixtures: the real NAS-Bench-201 tables (skipped when absent) and a synthetic stand-in.

The synthetic tables have the exact layout of ``../shared/data/nb201`` (15,625 rows, a shuffled index
order, 2 or 3 runs per cell) with made-up numbers, so that loader, cache, protocol and CLI tests run
without the real data; tests that need the real numbers use ``nb201_dir`` / ``nb201_table``.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from a2v_jax.spaces.nb201 import all_codes, arch_str_from_codes

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NB201_DIR = REPO_ROOT.parent / "shared" / "data" / "nb201"
ENV_VARS = ("A2V_NB201_DIR", "A2V_NB201_API_FILE", "A2V_NB201_TEST_DATA", "A2V_CACHE_DIR")


def load_benchmark(name: str):
    """Imports ``benchmarks/<name>.py`` (a script, not a package module) for its functions."""
    path = REPO_ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def fake_models(runs, table, seeds=(1, 2)):
    """Random 4-d embeddings of every cell in ``runs/nb201-paper-s<seed>``, recorded as pretrained
    with each seed: the pretrained-model benchmarks find them and pretrain nothing."""
    from a2v_jax.embed import Embeddings, save_embeddings

    for s in seeds:
        feats = np.random.default_rng(s).normal(size=(len(table), 4)).astype(np.float32)
        arch = np.asarray(table.arch_str)
        emb = Embeddings(feats, arch, np.arange(len(arch)), "ckpt", "nb201", "paper", s, "benchmark")
        (runs / f"nb201-paper-s{s}").mkdir(parents=True)
        save_embeddings(runs / f"nb201-paper-s{s}" / "embeddings.npz", emb)


def real_nb201_dir() -> Path:
    """``$A2V_NB201_DIR``, else ``../shared/data/nb201`` relative to the repo root."""
    return Path(os.environ.get("A2V_NB201_DIR") or DEFAULT_NB201_DIR)


@pytest.fixture(scope="session")
def nb201_dir() -> Path:
    """Directory of the real compact NAS-Bench-201 tables; skips the test if they are absent."""
    d = real_nb201_dir()
    if not (d / "nb201_200ep.csv.gz").is_file():
        pytest.skip(f"real NAS-Bench-201 tables not found at {d} (set A2V_NB201_DIR to the directory)")
    return d


@pytest.fixture(scope="session")
def nb201_table(nb201_dir, tmp_path_factory):
    """The real table, loaded once per session through a session-private cache."""
    from a2v_jax.data import load_nb201

    return load_nb201(nb201_dir, source="shared-csv", cache_dir=tmp_path_factory.mktemp("nb201_cache"))


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No data location configured; caches go to a per-test directory."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("A2V_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


# --------------------------------------------------------------------------- synthetic tables

_PREFIXES = ("c10v", "c100", "in16")
SYNTH_FILES = ("nb201_200ep.csv.gz", "nb201_12ep.csv.gz", "nb201_200ep_test_acc_UNLICENSED_SOURCE.csv.gz")


def synthetic_nb201(seed: int = 0) -> dict[str, tuple[list[str], list[list[str]]]]:
    """``{file name: (header, rows)}`` of a valid synthetic table, all values as strings."""
    rng = np.random.default_rng(seed)
    codes = all_codes()[rng.permutation(len(all_codes()))]  # (P, 6): index order != enumeration order
    p = len(codes)
    arch = [arch_str_from_codes(c) for c in codes]
    n_runs = rng.choice([2, 3], size=p)  # (P,) same archs for all datasets, like the real table
    main_header = ["index", "arch_str", *(f"op{k}" for k in range(6))]
    cols: dict[str, list[str]] = {}
    for pre in _PREFIXES:
        runs = np.round(rng.uniform(10, 90, size=(p, 3)), 4)
        runs[n_runs == 2, 2] = np.nan
        cols[f"{pre}_valid_acc"] = [repr(float(v)) for v in np.nanmean(runs, axis=1)]
        for k in range(3):
            cols[f"{pre}_valid_acc_r{k + 1}"] = ["" if np.isnan(v) else repr(float(v)) for v in runs[:, k]]
        cols[f"{pre}_n_runs"] = [str(int(n)) for n in n_runs]
        cols[f"{pre}_train_time_s"] = [repr(float(v)) for v in np.round(rng.uniform(500, 3500, p), 3)]
        if pre == "c10v":
            cols["c10v_valid_time_per_epoch_s"] = [repr(float(v)) for v in np.round(rng.uniform(1, 4, p), 4)]
            cols["c10v_test_acc"] = [repr(float(v)) for v in np.round(rng.uniform(10, 90, p), 4)]
        cols[f"{pre}_latency_s"] = [repr(float(v)) for v in np.round(rng.uniform(0.006, 0.028, p), 5)]
    main_header += list(cols)
    main_rows = [
        [str(i), arch[i], *(str(int(c)) for c in codes[i]), *(cols[c][i] for c in cols)] for i in range(p)
    ]
    ep12_cols = ["c10v_valid_acc_12ep", "c10_test_acc_12ep", "c100_valid_acc_12ep", "in16_valid_acc_12ep"]
    ep12 = np.round(rng.uniform(10, 85, size=(p, len(ep12_cols))), 4)
    test_cols = ["c10_test_acc", "c100_test_acc", "in16_test_acc"]
    test = np.round(rng.uniform(10, 95, size=(p, len(test_cols))), 4)

    def rows(values):
        return [[str(i), arch[i], *(repr(float(v)) for v in values[i])] for i in range(p)]

    return {
        SYNTH_FILES[0]: (main_header, main_rows),
        SYNTH_FILES[1]: (["index", "arch_str", *ep12_cols], rows(ep12)),
        SYNTH_FILES[2]: (["index", "arch_str", *test_cols], rows(test)),
    }


def write_nb201_csvs(directory: Path, tables: dict[str, tuple[list[str], list[list[str]]]]) -> Path:
    """Writes ``{file name: (header, rows)}`` as gzip'd CSVs into ``directory``; returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in tables.items():
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        with gzip.open(directory / name, "wt", compresslevel=1, encoding="utf-8", newline="") as f:
            f.write(buf.getvalue())
    return directory


@pytest.fixture(scope="session")
def nb201_csv_writer():
    """:func:`write_nb201_csvs`, for tests that write (mutated) synthetic tables."""
    return write_nb201_csvs


@pytest.fixture(scope="session")
def synthetic_nb201_tables():
    """The synthetic tables as ``{file: (header, rows)}`` (session-wide; deep-copy before mutating)."""
    return synthetic_nb201(seed=0)


@pytest.fixture
def synthetic_tables(synthetic_nb201_tables):
    """A private, mutable copy of the synthetic tables (cells are immutable strings: copy the lists)."""
    return {
        name: (list(header), [list(r) for r in rows])
        for name, (header, rows) in synthetic_nb201_tables.items()
    }


@pytest.fixture(scope="session")
def synthetic_nb201_dir(synthetic_nb201_tables, tmp_path_factory) -> Path:
    """A directory holding the three synthetic ``.csv.gz`` files (do not modify it)."""
    return write_nb201_csvs(tmp_path_factory.mktemp("synthetic_nb201"), synthetic_nb201_tables)


@pytest.fixture(scope="session")
def synthetic_table(synthetic_nb201_dir):
    """The synthetic table loaded through the shared-csv source (no cache)."""
    from a2v_jax.data import load_nb201

    return load_nb201(synthetic_nb201_dir, source="shared-csv", use_cache=False)


@pytest.fixture(scope="session", autouse=True)
def _shared_compilation_cache(tmp_path_factory):
    """One persistent JAX compilation cache for the session: identical programs compile once."""
    import jax

    path = tmp_path_factory.mktemp("jax_cache")
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    os.environ["A2V_JAX_CACHE_DIR"] = str(path)  # subprocesses (CLI tests) share it too
    yield


#: The LAPACK-backed primitives: on CPU, a batched one blocks an XLA worker until its pieces finish.
LAPACK_PRIMITIVES = frozenset({"cholesky", "triangular_solve", "lu", "eigh", "qr", "svd", "schur"})


def _sub_jaxprs(eqn) -> list:
    subs = []
    for v in eqn.params.values():
        for item in v if isinstance(v, tuple | list) else (v,):
            inner = getattr(item, "jaxpr", item)
            if hasattr(inner, "eqns"):
                subs.append(inner)
    return subs


def _has_lapack(jaxpr) -> bool:
    return any(
        e.primitive.name in LAPACK_PRIMITIVES or any(map(_has_lapack, _sub_jaxprs(e))) for e in jaxpr.eqns
    )


def unchained_lapack_calls(jaxpr, where: str = "top") -> list[str]:
    """LAPACK calls of ``jaxpr`` (and of every loop, branch and call inside it) that do not depend
    on the LAPACK call before them.

    Two such calls independent in the graph may run at once and deadlock XLA's CPU thread pool
    (see ``a2v_jax/surrogates/dngo/hyper.py``); an empty list means every one waits for the last.
    """
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    producer, deps, lapack, bad = {}, [], [], []
    for i, eqn in enumerate(jaxpr.eqns):
        d = set()
        for v in eqn.invars:
            j = producer.get(id(v)) if not hasattr(v, "val") else None
            if j is not None:
                d |= deps[j] | ({j} if j in lapack else set())
        deps.append(d)
        for v in eqn.outvars:
            producer[id(v)] = i
        subs = _sub_jaxprs(eqn)
        for k, sub in enumerate(subs):
            bad += unchained_lapack_calls(sub, f"{where}/{eqn.primitive.name}[{i}.{k}]")
        if eqn.primitive.name in LAPACK_PRIMITIVES or any(map(_has_lapack, subs)):
            if lapack and lapack[-1] not in d:
                bad.append(f"{where}: {eqn.primitive.name}[{i}] does not wait for [{lapack[-1]}]")
            lapack.append(i)
    return bad
