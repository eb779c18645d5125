"""Search with a host evaluator (a2v_jax.search.evaluated) on tiny DARTS pools."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from a2v_jax.search import get_strategy
from a2v_jax.search.core import SearchEnv, run
from a2v_jax.search.evaluated import (
    EvaluationError,
    evaluated_search,
    load_table,
    table_evaluator,
    toy_evaluator,
    toy_scores,
)
from a2v_jax.spaces.darts import cell_codes, sample_cells


@pytest.fixture(scope="module")
def pool():
    """60 distinct random cells and random 4-d features."""
    cells = sample_cells(np.random.default_rng(0), 200)
    _, first = np.unique(cell_codes(cells), return_index=True)
    cells = cells[np.sort(first)][:60]
    feats = np.random.default_rng(1).normal(size=(len(cells), 4)).astype(np.float32)
    return cells, feats


def darts_strategy(method: str, preset: str, num_queries: int):
    """The DARTS search's strategy, as the ``--space darts`` driver builds it."""
    return get_strategy(
        method, preset, "darts", **({"max_obs": max(num_queries, 16)} if method == "bo" else {})
    )


@pytest.fixture(scope="module")
def bo():
    return darts_strategy("bo", "default", num_queries=20)


@pytest.fixture(scope="module")
def rl():
    return darts_strategy("rl", "default", num_queries=20)


def test_evaluated_search__exact_queries_no_repeats(pool, bo, rl):
    cells, feats = pool
    for strat in (bo, rl):
        calls = []
        toy = toy_evaluator(cells)

        def ev(i, calls=calls, toy=toy):
            calls.append(i)
            return toy(i)

        out = evaluated_search(strat, feats, ev, 20, seed=0)
        assert out.idx.size == 20
        assert len(set(out.idx.tolist())) == 20
        assert sorted(calls) == sorted(out.idx.tolist()) and out.evaluations == 20
        assert not out.repeat.any()
        np.testing.assert_allclose(out.reward, toy_scores(cells)[0][out.idx])


def test_evaluated_search__finds_toy_optimum_with_enough_queries(pool, rl):
    cells, feats = pool
    out = evaluated_search(rl, feats, toy_evaluator(cells), len(cells), seed=0)
    assert out.best_idx == int(np.argmax(toy_scores(cells)[0]))


def test_evaluated_search__same_seed_same_run(pool, bo):
    cells, feats = pool
    a = evaluated_search(bo, feats, toy_evaluator(cells), 12, seed=3)
    b = evaluated_search(bo, feats, toy_evaluator(cells), 12, seed=3)
    c = evaluated_search(bo, feats, toy_evaluator(cells), 12, seed=4)
    np.testing.assert_array_equal(a.idx, b.idx)
    assert not np.array_equal(a.idx, c.idx)


def test_evaluated_search__equals_scanned_run_on_full_table(pool, rl):
    cells, feats = pool
    reward, cost = toy_scores(cells)
    env = SearchEnv(
        features=jax.numpy.asarray(feats),
        signal=jax.numpy.asarray(reward, jax.numpy.float32),
        cost=jax.numpy.asarray(cost, jax.numpy.float32),
        budget_s=jax.numpy.asarray(np.inf, jax.numpy.float32),
        max_queries=jax.numpy.asarray(20, jax.numpy.int32),
    )
    _, rec = run(rl, env, jax.random.key(5), 20)
    out = evaluated_search(rl, feats, toy_evaluator(cells), 20, seed=5)
    np.testing.assert_array_equal(out.idx, np.asarray(rec.idx)[np.asarray(rec.accepted)])


@pytest.mark.parametrize("bad", ["raise", "nan"])
def test_evaluated_search__failing_evaluator_names_cell(pool, rl, bad):
    cells, feats = pool
    ids = cell_codes(cells)

    def ev(i):
        if bad == "raise":
            raise OSError("disk on fire")
        return float("nan"), 1.0

    with pytest.raises(EvaluationError, match=r"cell id \d{16}"):
        evaluated_search(rl, feats, ev, 5, seed=0, describe=lambda i: f"cell id {ids[i]}")


def test_table_evaluator__json_and_missing_id(tmp_path, pool):
    cells, _ = pool
    ids = cell_codes(cells)
    path = tmp_path / "t.json"
    path.write_text(json.dumps({ids[0]: 0.9, ids[1]: [0.8, 12.0]}))
    ev = table_evaluator(load_table(str(path)), ids)
    assert ev(0) == (0.9, 0.0) and ev(1) == (0.8, 12.0)
    with pytest.raises(KeyError, match=ids[2]):
        ev(2)
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps({ids[0]: "x"}))
    with pytest.raises(ValueError, match=ids[0]):
        load_table(str(bad))


@pytest.mark.parametrize("method", ["bo", "rl"])
def test_evaluated_search__paper_presets_make_exact_distinct_queries(pool, method):
    cells, feats = pool
    out = evaluated_search(darts_strategy(method, "paper", 10), feats, toy_evaluator(cells), 10, seed=1)
    assert out.idx.size == 10 == len(set(out.idx.tolist())) == out.evaluations


def test_evaluated_search__revisits_reuse_the_stored_result(pool):
    cells, feats = pool
    strat = get_strategy("bo", "paper", init_size=4, max_obs=16)  # NB201's: no de-duplication
    calls = []

    def ev(i):
        calls.append(i)
        return float(toy_scores(cells[i : i + 1])[0][0]), 1.0

    out = evaluated_search(strat, feats[:6], ev, 12, seed=0)
    assert out.idx.size == 12 and out.repeat.sum() >= 6
    assert sorted(calls) == sorted(set(out.idx.tolist())) and out.evaluations == len(calls)
    assert not out.repeat[np.unique(out.idx, return_index=True)[1]].any()  # first visits evaluate
