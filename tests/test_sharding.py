"""Sharded search and pretraining on 4 simulated CPU devices equal one device; multi-host on 2 processes.

XLA reads ``--xla_force_host_platform_device_count`` once, when JAX starts, so every multi-device
check runs in a fresh subprocess that compares its sharded run with a one-device run of the same
programs (``mesh=None``) and prints the differences as JSON.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from a2v_jax import sharding
from a2v_jax.sharding import (
    initialize_distributed,
    pad_leading,
    padded_size,
    parse_mesh,
    pretraining_mesh_shape,
)

REPO = Path(__file__).resolve().parents[1]


def _run(code: str, devices: int = 4, timeout: int = 300, extra_env: dict | None = None) -> dict:
    """Runs ``code`` with ``devices`` simulated CPU devices; returns the JSON of its last stdout line."""
    env = {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
        "A2V_NB201_DIR": "",
        **(extra_env or {}),
    }
    res = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


PRELUDE = """
import json, os
import jax, jax.numpy as jnp, numpy as np
if os.environ.get("A2V_JAX_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir", os.environ["A2V_JAX_CACHE_DIR"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
"""

SEARCH_ENV = """
from a2v_jax.search.core import SearchEnv
def make_env(p=60, budget=300.0, seed=0):
    rng = np.random.default_rng(seed)
    idx = np.arange(p)
    return SearchEnv(
        features=jnp.asarray(rng.normal(size=(p, 4)).astype(np.float32)),
        signal=jnp.asarray(rng.uniform(size=p).astype(np.float32)),
        cost=jnp.asarray(rng.uniform(5.0, 30.0, size=p).astype(np.float32)),
        budget_s=jnp.float32(budget),
        max_queries=jnp.int32(10**6),
        neighbours=jnp.asarray(np.stack([(idx + 1) % p, (idx - 1) % p], 1).astype(np.int32)),
    )
"""


# --------------------------------------------------------------------------- host-side helpers


def test_parse_mesh__shapes_and_clear_errors():
    assert parse_mesh("2x2") == (2, 2)
    assert parse_mesh("4") == (4, 1)
    assert parse_mesh((1, 8)) == (1, 8)
    for bad in ("2x", "0x4", "2x2x2", "four"):
        with pytest.raises(ValueError, match="--mesh"):
            parse_mesh(bad)


def test_make_mesh__one_device_here_and_refuses_what_it_cannot_build():
    mesh = sharding.make_mesh()
    assert mesh.axis_names == sharding.AXES and mesh.size == len(__import__("jax").devices())
    with pytest.raises(ValueError, match="--devices must be at least 1"):
        sharding.make_mesh(0)
    with pytest.raises(ValueError, match="JAX sees only"):
        sharding.make_mesh(10_000)
    with pytest.raises(ValueError, match="needs 2 devices"):
        sharding.make_mesh(1, "2x1")
    with pytest.raises(ValueError, match="--mesh 10000x1 needs 10000 devices; JAX sees"):
        sharding.make_mesh(shape="10000x1")


@pytest.mark.parametrize(
    ("devices", "population", "batch", "expected"),
    [
        (4, 1, 32, (1, 4)),
        (4, 8, 32, (4, 1)),
        (4, 6, 32, (2, 2)),
        (4, 3, 32, (1, 4)),
        (4, 1, 6, (2, 2)),
        (1, 5, 7, (1, 1)),
    ],
)
def test_pretraining_mesh_shape__uses_every_device_and_divides_the_batch(
    devices, population, batch, expected
):
    pop, data = pretraining_mesh_shape(devices, population, batch)
    assert (pop, data) == expected
    assert pop * data == devices and batch % data == 0


def test_pad_leading__copies_the_last_row_and_keeps_shapes():
    tree = {"a": np.arange(6).reshape(3, 2), "b": np.array([1.0, 2.0, 3.0])}
    out = pad_leading(tree, padded_size(3, 4))
    np.testing.assert_array_equal(out["a"], [[0, 1], [2, 3], [4, 5], [4, 5]])
    np.testing.assert_array_equal(out["b"], [1.0, 2.0, 3.0, 3.0])
    assert pad_leading(tree, 3)["a"] is tree["a"]
    with pytest.raises(ValueError, match="cannot pad"):
        pad_leading(tree, 2)


def test_initialize_distributed__single_process_by_default_and_clear_errors(monkeypatch):
    for var in (sharding.ENV_COORDINATOR, sharding.ENV_NUM_PROCESSES, sharding.ENV_PROCESS_ID):
        monkeypatch.delenv(var, raising=False)
    assert initialize_distributed() is False
    with pytest.raises(ValueError, match="need --coordinator"):
        initialize_distributed(num_processes=2, process_id=1)
    with pytest.raises(ValueError, match="also pass --num-processes"):
        initialize_distributed("localhost:1234")
    with pytest.raises(ValueError, match="--process-id 2 must be in 0..1"):
        initialize_distributed("localhost:1234", 2, 2)
    monkeypatch.setenv(sharding.ENV_NUM_PROCESSES, "two")
    with pytest.raises(ValueError, match="A2V_NUM_PROCESSES"):
        initialize_distributed("localhost:1234")


# --------------------------------------------------------------------------- 4 simulated devices


@pytest.mark.slow
def test_search__sharded_seeds_equal_one_device_padding_dropped_no_retrace():
    out = _run(
        PRELUDE
        + SEARCH_ENV
        + """
from a2v_jax.search import get_strategy
from a2v_jax.search.core import ChunkedRunner, Strategy
from a2v_jax.sharding import make_mesh
traces = [0]
def counted(strat):  # the strategy with a step that counts how often it is traced
    def step(state, env, key, t):
        traces[0] += 1
        return strat.step(state, env, key, t)
    return Strategy(strat.init, step)
assert jax.device_count() == 4
env = make_env()
keys = jax.vmap(jax.random.key)(jnp.arange(1, 8))  # 7 seeds on 4 devices: padded to 8
res = {}
for method in ("random", "rea"):
    strat = get_strategy(method, "default")
    one = ChunkedRunner(strat, chunk_steps=8)
    four = ChunkedRunner(counted(strat), chunk_steps=8, mesh=make_mesh())
    s1, r1 = one(env, keys, 40)
    s4, r4 = four(env, keys, 40)
    after_first = traces[0]
    s4b, r4b = four(env, keys, 40)  # the second call must not retrace
    a, b = jax.tree.leaves((s1, r1)), jax.tree.leaves((s4, r4))
    res[method] = {
        "equal": all(np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True) for x, y in zip(a, b)),
        "shapes": [list(x.shape) for x in b] == [list(x.shape) for x in a],
        "seeds": int(r4.idx.shape[0]),
        "devices": len(r4.idx.sharding.device_set) if hasattr(r4.idx, "sharding") else 0,
        "retraced": traces[0] - after_first,
        "traced": after_first > 0,
    }
print(json.dumps(res))
"""
    )
    for method, r in out.items():
        assert r["equal"], method  # bit-equal: seeds are independent
        assert r["shapes"] and r["seeds"] == 7, method
        assert r["traced"] and r["retraced"] == 0, method


@pytest.mark.slow
def test_pretraining__data_and_population_sharding_match_one_device():
    out = _run(
        PRELUDE
        + """
import re
from a2v_jax.pretrain.config import ModelConfig, TrainConfig, get_preset
from a2v_jax.pretrain.graphs import make_graph_batch
from a2v_jax.pretrain.programs import Programs
from a2v_jax.sharding import make_mesh, pop_sharding, replicated
from a2v_jax.spaces.nb201 import all_codes, encode_codes
codes = all_codes()[np.random.default_rng(0).choice(15625, 16, replace=False)]
data = make_graph_batch(*encode_codes(codes))  # one batch of 16: the epoch is one train_step
model, train = ModelConfig(hidden=16, latent=4), TrainConfig(batch_size=16, prior_samples=32)
flat = lambda t: np.concatenate([np.asarray(x).ravel() for x in jax.tree.leaves(t)]).tolist()
# One initial population for every mesh (the epoch program is what is sharded here).
init = Programs(get_preset("paper"), model, train, 8, 7, 2).init(np.array([5, 6], np.uint32))
res = {}
for name, mesh in (("one", None), ("data", make_mesh(4, "1x4")), ("both", make_mesh(4, "2x2"))):
    pr = Programs(get_preset("paper"), model, train, 8, 7, 2, mesh)
    fresh = jax.tree.map(lambda x: x.copy(), init)  # the epoch program donates its states
    states, keys = fresh if mesh is None else jax.device_put(fresh, pop_sharding(mesh))
    ds = jax.tree.map(jnp.asarray, data) if mesh is None else jax.device_put(data, replicated(mesh))
    epoch = pr.epoch.lower(states, ds, keys, np.uint32(0)).compile()
    hlo = epoch.as_text() if mesh else ""
    states, losses, prior = epoch(states, ds, keys, np.uint32(0))
    res[name] = {
        "losses": {k: np.asarray(v).tolist() for k, v in losses.items()},
        "prior": flat((prior.total, prior.outer)),
        "batch_stats": flat(states.batch_stats),
        "params": flat(states.params),
        "all_reduce": len(re.findall(r"all-reduce\\(", hlo)),
        "local_batch": sorted({int(m) for m in re.findall(r"f32\\[(?:\\d+,)?(\\d+),8,7\\]", hlo)}),
    }
    # The paper preset's second epoch runs the eval-mode branch of the same compiled program.
    states, losses, _ = epoch(states, ds, keys, np.uint32(1))
    res[name]["eval_losses"] = {k: np.asarray(v).tolist() for k, v in losses.items()}
    res[name]["eval_batch_stats"] = flat(states.batch_stats)
print(json.dumps(res))
"""
    )
    one = out["one"]
    for name in ("data", "both"):
        r = out[name]
        # Only the reduction order of the batch sums changes: losses, train-mode latent sums and
        # BatchNorm running statistics (the global batch's) agree to float32 rounding.
        for k, v in r["losses"].items():
            np.testing.assert_allclose(v, one["losses"][k], rtol=1e-5, err_msg=f"{name} {k}")
        np.testing.assert_allclose(r["prior"], one["prior"], rtol=1e-4, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(r["batch_stats"], one["batch_stats"], rtol=5e-5, atol=1e-6, err_msg=name)
        # Adam's first step moves each parameter by lr * g / (|g| + eps), at most lr: a gradient
        # that is zero up to rounding may flip sign, so parameters agree within 2 * lr.
        np.testing.assert_allclose(r["params"], one["params"], atol=2e-3 + 1e-6, err_msg=name)
        assert r["all_reduce"] > 0, name  # gradients and BatchNorm sums are all-reduced
        # Eval-mode epoch: running statistics frozen; the loss agrees as far as the parameters do
        # (the separate terms less: a flipped Adam step moves the KL by ~0.2 %).
        assert r["eval_batch_stats"] == r["batch_stats"], name
        eval_loss = r["eval_losses"]["loss"]
        np.testing.assert_allclose(eval_loss, one["eval_losses"]["loss"], rtol=2e-4, err_msg=name)
    assert 4 in out["data"]["local_batch"], out["data"]["local_batch"]  # 16 graphs / 4 devices
    assert 8 in out["both"]["local_batch"], out["both"]["local_batch"]  # 16 graphs / 2 devices


@pytest.mark.slow
def test_pretrain__padded_population_on_a_2x2_mesh_checkpoints_only_real_members(tmp_path):
    out = _run(
        PRELUDE
        + f"""
from a2v_jax.pretrain import loop
from a2v_jax.pretrain.checkpoint import load_pretrained_state
from a2v_jax.pretrain.config import ModelConfig
from a2v_jax.pretrain import PretrainConfig, run_pretraining
loop.get_model_config = lambda name: ModelConfig(hidden=16, latent=4)  # compiles fast
tiny = dict(subset=40, prior_samples=16, batch_size=16, progress=False, population=3, seed=2)
a = run_pretraining(PretrainConfig(epochs=1, mesh="2x2", workdir="{tmp_path}/w", **tiny))
f = np.load("{tmp_path}/w/embeddings.npz")
# The checkpoint holds the 3 real members, unsharded: a one-device reader restores member 2.
last = load_pretrained_state("{tmp_path}/w", member=2)
print(json.dumps({{"sharding": a["sharding"], "members": len(a["population"]),
    "features": list(f["features_population"].shape), "seeds": f["population_seeds"].tolist(),
    "restored": len(jax.tree.leaves(last.params)),
    "finite": bool(all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(last.params)))}}))
"""
    )
    assert out["sharding"]["mesh"] == {"pop": 2, "data": 2} and out["sharding"]["devices"] == 4
    assert out["members"] == 3 and out["features"] == [3, 40, 4] and out["seeds"] == [2, 3, 4]
    assert out["restored"] > 0 and out["finite"]


# --------------------------------------------------------------------------- two processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_multihost__two_processes_of_two_devices_equal_one_device(tmp_path):
    code = (
        PRELUDE
        + """
import sys
from a2v_jax import sharding
sharding.initialize_distributed()  # from $A2V_COORDINATOR, $A2V_NUM_PROCESSES, $A2V_PROCESS_ID
"""
        + SEARCH_ENV
        + f"""
from a2v_jax.search import get_strategy
from a2v_jax.search.core import ChunkedRunner
assert jax.process_count() == 2 and jax.device_count() == 4 and jax.local_device_count() == 2
strat = get_strategy("random", "default")
keys = jax.vmap(jax.random.key)(jnp.arange(1, 8))
state, rec = ChunkedRunner(strat, chunk_steps=8, mesh=sharding.make_mesh())(make_env(), keys, 40)
rec, log = sharding.to_host((rec, state.log))
if sharding.is_primary():
    np.savez("{tmp_path}/multi.npz", idx=rec.idx, best=log.best_idx, spent=log.spent_s)
print(json.dumps({{"process": jax.process_index(), "idx_sum": int(rec.idx.sum())}}))
"""
    )
    port = _free_port()
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
        sharding.ENV_COORDINATOR: f"localhost:{port}",
        sharding.ENV_NUM_PROCESSES: "2",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, sharding.ENV_PROCESS_ID: str(i)},
            cwd=REPO,
        )
        for i in range(2)
    ]
    outs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=240)
            assert p.returncode == 0, stderr[-4000:]
            outs.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert sorted(o["process"] for o in outs) == [0, 1]
    assert outs[0]["idx_sum"] == outs[1]["idx_sum"]  # every process holds the gathered result
    single = _run(
        PRELUDE
        + SEARCH_ENV
        + """
from a2v_jax.search import get_strategy
from a2v_jax.search.core import ChunkedRunner
state, rec = ChunkedRunner(get_strategy("random", "default"), chunk_steps=8)(
    make_env(), jax.vmap(jax.random.key)(jnp.arange(1, 8)), 40)
print(json.dumps({"idx": np.asarray(rec.idx).tolist(), "best": np.asarray(state.log.best_idx).tolist(),
                  "spent": np.asarray(state.log.spent_s).tolist()}))
""",
        devices=1,
    )
    with np.load(tmp_path / "multi.npz") as f:
        np.testing.assert_array_equal(f["idx"], single["idx"])
        np.testing.assert_array_equal(f["best"], single["best"])
        np.testing.assert_array_equal(f["spent"], np.asarray(single["spent"], np.float32))
