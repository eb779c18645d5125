"""NAS-Bench-101 space: cells, pruning, validity, the benchmark's hash, arch2vec's layout, enumeration.

The full enumeration (423,624 cells, about a minute on 2 cores) runs only with ``A2V_SLOW=1``.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

from a2v_jax.data.__main__ import main
from a2v_jax.data.nb101 import CACHE_FILE, enumerate_nb101, load_cells, save_cells
from a2v_jax.spaces import InvalidArchitectureError, SearchSpace
from a2v_jax.spaces.nb101 import (
    BENCHMARK_OPS,
    CONV1X1,
    CONV3X3,
    INPUT,
    MAXPOOL3X3,
    NUM_CELLS,
    OP_NAMES,
    OUTPUT,
    Cell,
    NB101Cells,
    NB101Space,
    canonical_cell,
    decode_graph,
    edge_bits,
    encode_cell,
    enumerate_cells,
    hash_module,
    is_valid,
    labeling,
    matrix_from_bits,
    module_hash,
    op_idx_from_onehot,
    prune,
    valid_loose,
    valid_strict,
    validity_problem,
)

I, O, C1, C3, MP = INPUT, OUTPUT, CONV1X1, CONV3X3, MAXPOOL3X3

# The nasbench README / colab cell ("Inception-like"), as given to ModelSpec.
README_MATRIX = [
    [0, 1, 1, 1, 0, 1, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 1, 0, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0],
]
README_OPS = [I, C1, C3, C3, C3, MP, O]


def _from_inputs(inputs: dict[int, list[int]], n: int) -> np.ndarray:
    adj = np.zeros((n, n), dtype=np.int64)
    for v, sources in inputs.items():
        adj[sources, v] = 1
    return adj


# Published (matrix, ops, module hash) triples.
PUBLISHED = [
    pytest.param(
        # microsoft/nni docs/en_US/NAS/BenchmarksExample.ipynb: query_nb101_trial_stats output, 'hash'
        # field of the NNI database built from the benchmark's tfrecord (its first record).
        _from_inputs({1: [0], 2: [1], 3: [2], 4: [0], 5: [0, 3, 4], 6: [2, 5]}, 7),
        [I, C3, MP, C3, C3, C1, O],
        "00005c142e6f48ac74fdcf73e3439874",
        id="nni-benchmarks-example",
    ),
    pytest.param(
        # google-research/unified_functional_hashing unified_functional_hashing/nasbench/python/
        # evaluator_test.py: the README cell's graph_hash, keying the benchmark's computed stats in
        # testdata/computed_stats.py.
        README_MATRIX,
        README_OPS,
        "28cfc7874f6d200472e1a9dcd8650aa0",
        id="readme-cell-unified-functional-hashing",
    ),
    pytest.param(
        # xukp20/sci-modeling-bench tests/suites/design_bench/cell_dag_nas/test_graph.py and conftest.py:
        # Design-Bench NASBench token rows A, B, C with their canonical_hash.
        [[0, 1], [0, 0]],
        [I, O],
        "043721b9c7fe8c5fad811d47d83132ec",
        id="sci-modeling-bench-A",
    ),
    pytest.param(
        [[0, 1, 0], [0, 0, 1], [0, 0, 0]],
        [I, C1, O],
        "d1269d9156ddc027c40473008192958a",
        id="sci-modeling-bench-B",
    ),
    pytest.param(
        [[0, 1, 1], [0, 0, 1], [0, 0, 0]],
        [I, C3, O],
        "d32d0b26d534203b48d866facd98cc3e",
        id="sci-modeling-bench-C",
    ),
]


@pytest.fixture(scope="module")
def small_cells() -> NB101Cells:
    return enumerate_cells(5, progress=False, workers=1)


def _random_cell(rng: np.random.Generator, n: int = 7, p_edge: float = 0.35) -> Cell:
    adj = np.triu((rng.random((n, n)) < p_edge).astype(np.int64), 1)
    ops = [I, *rng.choice(BENCHMARK_OPS, size=n - 2).tolist(), O]
    return Cell(adj, ops)


def _valid_random_cells(rng: np.random.Generator, count: int) -> list[Cell]:
    out = []
    while len(out) < count:
        cell = _random_cell(rng, int(rng.integers(2, 8)))
        if is_valid(cell):
            out.append(prune(cell))
    return out


# --------------------------------------------------------------------------- hash


@pytest.mark.parametrize(("matrix", "ops", "expected"), PUBLISHED)
def test_module_hash__equals_published_hash(matrix, ops, expected):
    assert module_hash(Cell(matrix, ops)) == expected


def test_hash_module__numpy_labels_and_bool_matrix_give_the_same_hash():
    cell = Cell(README_MATRIX, README_OPS)
    pruned = prune(cell)
    expected = module_hash(cell)
    assert hash_module(pruned.adjacency.astype(bool), np.array(labeling(pruned))) == expected
    assert hash_module(pruned.adjacency.astype(np.int8), labeling(pruned)) == expected


def test_module_hash__isomorphic_permutations_are_equal():
    rng = np.random.default_rng(0)
    for cell in _valid_random_cells(rng, 30):
        adj, labels = cell.adjacency, np.array(labeling(cell))
        expected = module_hash(cell)
        for _ in range(3):
            p = rng.permutation(cell.num_vertices)  # any relabelling, input and output included
            assert hash_module(adj[np.ix_(p, p)], labels[p]) == expected


def test_module_hash__upper_triangular_relabellings_are_equal():
    cell = Cell(README_MATRIX, README_OPS)
    adj, ops = np.array(README_MATRIX), README_OPS
    seen = 0
    for middle in itertools.permutations(range(1, 6)):
        order = (0, *middle, 6)
        permuted = adj[np.ix_(order, order)]
        if np.any(np.tril(permuted)):
            continue
        seen += 1
        assert module_hash(Cell(permuted, [ops[v] for v in order])) == module_hash(cell)
    assert seen > 1


def test_module_hash__different_labels_give_different_hashes():
    base = module_hash(Cell(README_MATRIX, README_OPS))
    for v in range(1, 6):
        for op in BENCHMARK_OPS:
            if op != README_OPS[v]:
                ops = list(README_OPS)
                ops[v] = op
                assert module_hash(Cell(README_MATRIX, ops)) != base, (v, op)
    chain = [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert module_hash(Cell(chain, [I, C3, C1, O])) != module_hash(Cell(chain, [I, C1, C3, O]))
    assert module_hash(Cell(chain, [I, C3, MP, O])) != module_hash(Cell(chain, [I, C3, C1, O]))


def test_module_hash__prunes_first():
    cell = Cell(README_MATRIX, README_OPS)
    m = np.array(README_MATRIX)
    big = np.zeros((8, 8), dtype=int)  # the README cell plus a dead-end vertex 6 fed by the input
    big[:6, :6] = m[:6, :6]
    big[:6, 7] = m[:6, 6]
    big[0, 6] = 1
    ops = [*README_OPS[:6], MP, O]
    assert prune(Cell(big, ops)) == cell
    assert module_hash(Cell(big, ops)) == module_hash(cell)


def test_module_hash__invalid_cell_raises():
    with pytest.raises(InvalidArchitectureError, match="not connected"):
        module_hash(Cell([[0, 0], [0, 0]], [I, O]))


# --------------------------------------------------------------------------- pruning and validity


def test_prune__drops_vertices_off_every_input_output_path():
    # 0 -> 1 -> 3 (output); 2 has no in-edge (unreachable), 1 -> 4? no: 4 is the output
    adj = np.zeros((5, 5), dtype=int)
    adj[0, 1] = adj[1, 4] = 1  # the path
    adj[2, 4] = 1  # vertex 2 not reachable from the input
    adj[0, 3] = 1  # vertex 3 does not reach the output
    pruned = prune(Cell(adj, [I, C3, C1, MP, O]))
    assert pruned == Cell([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [I, C3, O])


def test_prune__disconnected_input_output_is_none():
    adj = np.zeros((4, 4), dtype=int)
    adj[0, 1] = adj[2, 3] = 1
    assert prune(Cell(adj, [I, C3, C3, O])) is None
    assert validity_problem(Cell(adj, [I, C3, C3, O])) == "input and output are not connected"
    assert prune(Cell([[0]], [I])) is None


def test_prune__keeps_a_full_dag_unchanged():
    cell = Cell(README_MATRIX, README_OPS)
    assert prune(cell) == cell


def _edges(n: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    adj = np.zeros((n, n), dtype=int)
    for a, b in pairs:
        adj[a, b] = 1
    return adj


def test_is_valid__benchmark_rules_after_pruning():
    assert is_valid(Cell(README_MATRIX, README_OPS))
    # 11 edges, but vertex 3 has no in-edge: pruning drops it with its 2 edges, 9 remain
    path = [(0, 1), (1, 2), (2, 4), (4, 5), (5, 6), (0, 6), (1, 6), (2, 6), (4, 6)]
    cell = Cell(_edges(7, [*path, (3, 6), (3, 5)]), [I, C3, C3, C1, C3, MP, O])
    assert cell.num_edges == 11 and prune(cell).num_edges == 9 and prune(cell).num_vertices == 6
    assert is_valid(cell)
    # 10 edges that all survive pruning: invalid
    ten = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (0, 6), (1, 6), (2, 6), (3, 6)]
    problem = validity_problem(Cell(_edges(7, ten), [I, C3, C3, C3, C3, C3, O]))
    assert problem == "10 edges after pruning, at most 9 allowed"


@pytest.mark.parametrize(
    ("ops", "match"),
    [
        ([C3, C3, O], "first vertex must be 'input'"),
        ([I, C3, C3], "last vertex must be 'output'"),
        ([I, O, O], "vertex 1 of the pruned cell has op 'output'"),
        ([I, I, O], "vertex 1 of the pruned cell has op 'input'"),
    ],
)
def test_is_valid__op_placement(ops, match):
    cell = Cell([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ops)
    assert not is_valid(cell)
    assert match in validity_problem(cell)


def test_is_valid__eight_vertices_is_too_many():
    adj = np.zeros((8, 8), dtype=int)
    for v in range(7):
        adj[v, v + 1] = 1
    assert validity_problem(Cell(adj, [I] + [C3] * 6 + [O])) == "8 vertices after pruning, at most 7 allowed"


# --------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("matrix", "ops", "match"),
    [
        ([[0, 1], [0, 0]], [I, "conv5x5"], r"op 'conv5x5' at vertex 1 is not one of"),
        ([[0, 1], [0, 0]], "input,output", "must be a sequence of op names"),
        ([[0, 1, 0], [0, 0, 1]], [I, C3, O], "must be a square matrix"),
        ([[0, 1], [0, 0]], [I, C3, O], "2 x 2 but there are 3 ops"),
        ([[0, 1], [1, 0]], [I, O], "edge 1 -> 0 points backwards"),
        ([[1, 1], [0, 0]], [I, O], "self-loop at vertex 0"),
        ([[0, 2], [0, 0]], [I, O], r"entry \[0, 1\] is 2"),
        ([[0, 0.5], [0, 0]], [I, O], "non-integers"),
        ([[0, "x"], [0, 0]], [I, O], "entries must be 0 or 1"),
        ([[0, 1], [0]], [I, O], "rectangular|square"),
    ],
)
def test_cell__malformed_input_names_the_problem(matrix, ops, match):
    with pytest.raises(InvalidArchitectureError, match=match):
        Cell(matrix, ops)


def test_cell__frozen_hashable_and_compared_by_value():
    a = Cell(np.array(README_MATRIX), README_OPS)
    b = Cell(README_MATRIX, tuple(README_OPS))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a.num_vertices == 7 and a.num_edges == 9
    with pytest.raises(AttributeError):
        a.ops = ()


# --------------------------------------------------------------------------- the benchmark's stored cell


def test_canonical_cell__readme_cell_is_stored_as_published():
    # google-research/nasbench NASBench.ipynb, output of nasbench.query(cell) for the README cell.
    stored = Cell(
        [
            [0, 1, 1, 1, 1, 0, 0],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 1, 0],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 0],
        ],
        [I, C3, C1, MP, C3, C3, O],
    )
    assert canonical_cell(Cell(README_MATRIX, README_OPS)) == stored
    assert canonical_cell(stored) == stored
    assert module_hash(stored) == module_hash(Cell(README_MATRIX, README_OPS))


def test_canonical_cell__nni_example_is_its_own_representative():
    matrix, ops, _ = PUBLISHED[0].values
    cell = Cell(matrix, ops)
    assert canonical_cell(cell) == cell


def test_edge_bits__benchmark_bit_order_round_trip():
    # gen_is_edge_fn: bit y (y - 1) / 2 + x is the edge x -> y
    adj = np.zeros((4, 4), dtype=np.uint8)
    adj[0, 1] = adj[1, 2] = adj[2, 3] = 1
    assert edge_bits(adj) == 0b100101
    np.testing.assert_array_equal(matrix_from_bits(0b100101, 4), adj)


# --------------------------------------------------------------------------- arch2vec's layout


def test_encode_cell__zero_pads_with_output_at_v_minus_1():
    cell = Cell([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], [I, MP, C1, O])
    adj, ops, mask = encode_cell(cell)
    assert adj.shape == (7, 7) and adj.dtype == np.uint8
    assert ops.shape == (7, 5) and ops.dtype == np.float32
    np.testing.assert_array_equal(adj[:4, :4], cell.adjacency)
    assert not adj[4:].any() and not adj[:, 4:].any()
    assert OP_NAMES == (I, C1, C3, MP, O)
    np.testing.assert_array_equal(ops.argmax(-1)[:4], [0, 3, 1, 4])  # output stays at index 3
    assert not ops[4:].any() and ops[:4].sum() == 4
    np.testing.assert_array_equal(mask, [1, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(op_idx_from_onehot(ops), [0, 3, 1, 4, -1, -1, -1])
    assert decode_graph(adj, ops) == cell


def test_encode_cell__prunes_first_and_rejects_invalid():
    adj = np.zeros((4, 4), dtype=int)
    adj[0, 1] = adj[1, 3] = adj[0, 2] = 1  # vertex 2 is a dead end
    adj_e, ops_e, mask = encode_cell(Cell(adj, [I, C3, C1, O]))
    assert mask.sum() == 3
    assert decode_graph(adj_e, ops_e) == Cell([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [I, C3, O])
    with pytest.raises(InvalidArchitectureError, match="not connected"):
        encode_cell(Cell([[0, 0], [0, 0]], [I, O]))


def test_encode_decode__round_trip_small_space(small_cells):
    for i in range(0, len(small_cells), 37):
        cell = small_cells.cell(i)
        adj, ops, _ = encode_cell(cell)
        assert decode_graph(adj, ops) == cell


def _edge_at_padding(a: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = a.copy()
    a[0, 5] = 1
    return a, x


def _gap_in_nodes(a: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return a, np.concatenate([x[:1], np.zeros((1, 5), x.dtype), x[1:6]])


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda a, x: (a[:6], x), r"adjacency must be \(7, 7\)"),
        (lambda a, x: (a, x[:, :4]), r"ops must be \(7, 5\)"),
        (lambda a, x: (a, x * 2), "one-hot"),
        (lambda a, x: (a * 3, x), "entries must be 0 or 1"),
        (_gap_in_nodes, "must be a prefix"),
        (_edge_at_padding, r"edges at padded nodes \[4, 5, 6\]"),
        (lambda a, x: (a + a.T, x), "strictly upper triangular"),
        (lambda a, x: (a * 0, x), "not connected"),
    ],
)
def test_decode_graph__malformed_graph_names_the_problem(edit, match):
    cell = Cell([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], [I, C3, C1, O])
    adj, ops, _ = encode_cell(cell)
    with pytest.raises(InvalidArchitectureError, match=match):
        decode_graph(*edit(adj, ops))


# --------------------------------------------------------------------------- vectorised validity


def _biased_random_graphs(rng: np.random.Generator, b: int) -> tuple[np.ndarray, np.ndarray]:
    adj = np.triu((rng.random((b, 7, 7)) < 0.3).astype(np.uint8), 1)  # (B, 7, 7)
    op_idx = rng.integers(1, 4, size=(b, 7))  # middle ops from the 3-op set
    op_idx[:, 0] = np.where(rng.random(b) < 0.9, 0, rng.integers(0, 5, b))
    op_idx[:, -1] = np.where(rng.random(b) < 0.9, 4, rng.integers(0, 5, b))
    odd = rng.random((b, 7)) < 0.05
    op_idx = np.where(odd, rng.integers(-1, 5, size=(b, 7)), op_idx)
    return adj, op_idx


def test_valid_loose__equals_is_valid_of_the_modelspec():
    rng = np.random.default_rng(1)
    adj, op_idx = _biased_random_graphs(rng, 3000)
    got = valid_loose(adj, op_idx)
    expected = []
    for a, o in zip(adj, op_idx, strict=True):
        # a padded (-1) op is not an op name; stand in a name that fails at the same positions
        ops = [OP_NAMES[k] if k >= 0 else (O if v == 0 else I) for v, k in enumerate(o)]
        expected.append(is_valid(Cell(a, ops)))
    np.testing.assert_array_equal(got, expected)
    assert 0.1 < got.mean() < 0.9


def test_valid_strict__exactly_the_encodings_of_valid_cells():
    rng = np.random.default_rng(2)
    adj, op_idx = _biased_random_graphs(rng, 2000)
    # pad some graphs: mark trailing positions -1 and move the output there
    for b in range(0, 2000, 3):
        n = int(rng.integers(2, 7))
        adj[b, n:, :] = 0
        adj[b, :, n:] = 0
        op_idx[b, n:] = -1
        op_idx[b, n - 1] = 4
    got = valid_strict(adj, op_idx)
    expected = []
    for a, o in zip(adj, op_idx, strict=True):
        onehot = (o[:, None] == np.arange(5)).astype(np.float32)
        try:
            cell = decode_graph(a, onehot)
        except InvalidArchitectureError:
            expected.append(False)
            continue
        re_adj, re_ops, _ = encode_cell(cell)
        expected.append(np.array_equal(re_adj, a) and np.array_equal(re_ops, onehot))
    np.testing.assert_array_equal(got, expected)
    assert got.any() and not got.all()


def test_valid_strict__every_enumerated_cell_passes(small_cells):
    adj, ops = small_cells.encode()
    assert valid_strict(adj, op_idx_from_onehot(ops)).all()
    # the original check reads all 7 positions as vertices: a padded (V < 7) cell has no output at 6
    assert not valid_loose(adj, ops.argmax(-1)).any()


# --------------------------------------------------------------------------- enumeration


def _generate_graphs_reference(max_vertices: int) -> dict[str, tuple[int, int, tuple[int, ...]]]:
    """The benchmark generator's walk: first (matrix, labelling) of every hash, by vertex count."""
    buckets: dict[str, tuple[int, int, tuple[int, ...]]] = {}
    for n in range(2, max_vertices + 1):
        for bits in range(2 ** (n * (n - 1) // 2)):
            adj = matrix_from_bits(bits, n)
            if adj.sum() > 9 or np.any(adj[:-1].sum(1) == 0) or np.any(adj[:, 1:].sum(0) == 0):
                continue
            for labels in itertools.product(range(3), repeat=n - 2):
                h = hash_module(adj, [-1, *labels, -2])
                buckets.setdefault(h, (n, bits, labels))
    return buckets


def test_enumerate_cells__counts_per_vertex_count(small_cells):
    assert small_cells.counts_by_vertices() == {2: 1, 3: 6, 4: 84, 5: 2441}


def test_enumerate_cells__equals_the_generator_walk_up_to_5_vertices(small_cells):
    reference = _generate_graphs_reference(5)
    assert len(reference) == len(small_cells) == 2532
    label_of = {OP_NAMES.index(op): k for k, op in enumerate(BENCHMARK_OPS)}
    for i in range(len(small_cells)):
        n, bits, labels = reference[small_cells.hash_hex(i)]
        assert int(small_cells.num_vertices[i]) == n
        assert int(small_cells.edge_bits[i]) == bits  # the benchmark's stored matrix ...
        middle = tuple(label_of[int(k)] for k in small_cells.ops[i, 1 : n - 1])
        assert middle == labels  # ... and labelling


def test_enumerate_cells__rows_sorted_hashed_and_canonical(small_cells):
    keys = [bytes(h) for h in small_cells.hashes]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for i in range(0, len(small_cells), 97):
        cell = small_cells.cell(i)
        assert module_hash(cell) == small_cells.hash_hex(i)
        assert canonical_cell(cell) == cell
        assert small_cells.index_of(small_cells.hash_hex(i)) == i
    assert (small_cells.ops[:, 0] == 0).all()
    with pytest.raises(KeyError, match="not a NAS-Bench-101 cell"):
        small_cells.index_of("0" * 32)
    with pytest.raises(KeyError, match="not an MD5"):
        small_cells.index_of("xyz")


def test_enumerate_cells__process_pool_matches_in_process():
    one = enumerate_cells(4, progress=False, workers=1)
    two = enumerate_cells(4, progress=False, workers=2)
    for a, b in zip(
        (one.hashes, one.num_vertices, one.edge_bits, one.ops),
        (two.hashes, two.num_vertices, two.edge_bits, two.ops),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_enumerate_cells__rejects_bad_arguments():
    with pytest.raises(ValueError, match="max_vertices"):
        enumerate_cells(8, progress=False)
    with pytest.raises(ValueError, match="workers"):
        enumerate_cells(3, progress=False, workers=0)


def test_save_load__round_trip_and_clear_errors(small_cells, tmp_path):
    path = save_cells(small_cells, tmp_path / "cells.npz")
    loaded = load_cells(path)
    for field in ("hashes", "num_vertices", "edge_bits", "ops"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(small_cells, field))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read NB101 cell cache"):
        load_cells(tmp_path / "junk.npz")
    np.savez(tmp_path / "old.npz", format_version=np.int64(0))
    with pytest.raises(ValueError, match="format"):
        load_cells(tmp_path / "old.npz")


def test_enumerate_nb101__reads_the_cache_and_rejects_a_partial_one(small_cells, tmp_path):
    save_cells(small_cells, tmp_path / CACHE_FILE)
    with pytest.raises(ValueError, match="2532 cells, expected 423624"):
        enumerate_nb101(tmp_path, progress=False)


def test_cli__enumerate_small_space(tmp_path, capsys):
    out = tmp_path / "nb101_4.npz"
    assert (
        main(
            [
                "enumerate",
                "nb101",
                "--max-vertices",
                "4",
                "--out",
                str(out),
                "--workers",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert len(load_cells(out)) == 91
    assert "91 cells {2: 1, 3: 6, 4: 84}" in capsys.readouterr().out


# --------------------------------------------------------------------------- the space


def test_nb101_space__follows_the_search_space_protocol(small_cells):
    space = NB101Space(cells=small_cells)
    assert isinstance(space, SearchSpace)
    assert (space.name, space.num_nodes, space.op_names) == ("nb101", 7, OP_NAMES)
    assert NB101Space().size() == NUM_CELLS == 423_624
    assert space.size() == len(small_cells)
    cell = Cell(README_MATRIX, README_OPS)
    space.validate(cell)
    adj, ops = space.encode(cell)
    assert space.decode(adj, ops) == cell
    assert space.canonical_hash(cell) == "28cfc7874f6d200472e1a9dcd8650aa0"
    with pytest.raises(InvalidArchitectureError, match="is a Cell"):
        space.encode("not a cell")
    with pytest.raises(InvalidArchitectureError, match="not connected"):
        space.validate(Cell([[0, 0], [0, 0]], [I, O]))
    cells = list(space.enumerate())
    assert len(cells) == len(small_cells) and len({space.canonical_hash(c) for c in cells}) == len(cells)
    a = space.sample(np.random.default_rng(3), 5)
    assert a == space.sample(np.random.default_rng(3), 5) and all(is_valid(c) for c in a)
    adj_all, ops_all = space.encode_all()
    assert adj_all.shape == (2532, 7, 7) and ops_all.shape == (2532, 7, 5)
    assert space.valid_strict(adj_all, op_idx_from_onehot(ops_all)).all()


def test_nb101_space__exported_from_spaces():
    from a2v_jax import spaces

    assert spaces.NB101Space is NB101Space


# --------------------------------------------------------------------------- the whole space (slow)


@pytest.mark.skipif(os.environ.get("A2V_SLOW") != "1", reason="full NB101 enumeration; set A2V_SLOW=1")
def test_enumerate_nb101__whole_space_has_423624_cells(tmp_path):
    cells = enumerate_nb101(tmp_path, progress=False)
    assert len(cells) == NUM_CELLS == 423_624
    assert cells.counts_by_vertices() == {2: 1, 3: 6, 4: 84, 5: 2441, 6: 62010, 7: 359082}
    again = enumerate_nb101(tmp_path, progress=False)  # from the cache
    np.testing.assert_array_equal(again.hashes, cells.hashes)
    for matrix, ops, expected in (p.values for p in PUBLISHED):
        row = cells.index_of(expected)
        assert cells.cell(row) == canonical_cell(Cell(matrix, ops))
    # Published hashes without a matrix: PicoNAS / DisWOT-v2 NB101 code.
    for h in ("fe4395df38d94c4fafb973a8b04bbd65", "b148c5e43b9b1be81b8245c2bc0c1cf3"):
        cells.index_of(h)
    assert cells.hash_hex(0) == "00005c142e6f48ac74fdcf73e3439874"  # the smallest published hash
    adj, ops = cells.encode()
    assert valid_strict(adj, op_idx_from_onehot(ops)).all()
