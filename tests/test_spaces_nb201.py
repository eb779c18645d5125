"""NAS-Bench-201 space: op codes <-> arch_str <-> arch2vec's 8-node graph, and alignment with the table."""

from __future__ import annotations

import numpy as np
import pytest

from a2v_jax.spaces import InvalidArchitectureError, get_space
from a2v_jax.spaces.nb201 import (
    ADJACENCY,
    CELL_OPS,
    NUM_CELLS,
    OP_NAMES,
    NB201Space,
    all_codes,
    arch_str_from_codes,
    codes_from_op_idx,
    encode_codes,
    parse_arch_str,
)

INDEX_1 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space()


@pytest.fixture(scope="module")
def enumerated(space) -> list[str]:
    return list(space.enumerate())


def test_all_codes__15625_unique_cells_over_5_ops():
    codes = all_codes()
    assert codes.shape == (NUM_CELLS, 6) == (15_625, 6)
    assert len(np.unique(codes, axis=0)) == 15_625
    assert codes.min() == 0 and codes.max() == len(CELL_OPS) - 1


def test_enumerate__unique_and_consistent_with_size(space, enumerated):
    assert space.size() == len(enumerated) == 15_625
    assert len(set(enumerated)) == 15_625
    assert len({space.canonical_hash(a) for a in enumerated}) == 15_625


def test_arch_str__round_trip_every_cell(enumerated):
    codes = all_codes()
    for c, s in zip(codes, enumerated, strict=True):
        assert parse_arch_str(s) == tuple(int(x) for x in c)
        assert arch_str_from_codes(parse_arch_str(s)) == s


def test_encode_decode__round_trip_every_cell(space, enumerated):
    adj, ops = space.encode_all()  # (P, 8, 8), (P, 8, 7)
    assert adj.shape == (15_625, 8, 8) and ops.shape == (15_625, 8, 7)
    assert np.all(adj == ADJACENCY)
    op_idx = ops.argmax(-1)
    assert np.array_equal(codes_from_op_idx(op_idx), all_codes())
    assert space.valid_strict(adj, op_idx).all() and space.valid_loose(adj, op_idx).all()
    for i, s in enumerate(enumerated):
        assert space.decode(adj[i], ops[i]) == s


def test_encode__single_matches_vectorised(space, enumerated):
    adj, ops = space.encode_all()
    for i in (0, 1, 777, 15_624):
        a, x = space.encode(enumerated[i])
        np.testing.assert_array_equal(a, adj[i])
        np.testing.assert_array_equal(x, ops[i])


def test_graph__table_index_1_is_the_documented_cell(space, nb201_table):
    assert nb201_table.arch_str[1] == INDEX_1
    assert tuple(nb201_table.codes[1]) == parse_arch_str(INDEX_1) == (3, 3, 4, 1, 3, 1)
    adj, ops = space.encode(nb201_table.arch_str[1])
    expected_nodes = [
        "input",
        "nor_conv_3x3",  # e(0->1)
        "nor_conv_3x3",  # e(0->2)
        "avg_pool_3x3",  # e(1->2)
        "skip_connect",  # e(0->3)
        "nor_conv_3x3",  # e(1->3)
        "skip_connect",  # e(2->3)
        "output",
    ]
    np.testing.assert_array_equal(
        ops, np.eye(7, dtype=np.float32)[[OP_NAMES.index(n) for n in expected_nodes]]
    )
    edges = {(int(i), int(j)) for i, j in zip(*np.nonzero(adj), strict=True)}
    assert edges == {(0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (6, 7)}
    assert space.decode(adj, ops) == INDEX_1


def test_alignment__table_order_is_a_permutation_of_enumeration(nb201_table, enumerated):
    perm = nb201_table.align(enumerated, complete=True)  # enumeration position -> table index
    assert sorted(perm.tolist()) == list(range(15_625))
    np.testing.assert_array_equal(nb201_table.codes[perm], all_codes())
    np.testing.assert_array_equal(nb201_table.arch_str[perm], np.array(enumerated))
    assert not np.array_equal(perm, np.arange(15_625)), "the benchmark order is not the enumeration order"
    inverse = np.argsort(perm)  # table index -> enumeration position
    assert enumerated[inverse[1]] == INDEX_1


def test_alignment__synthetic_shuffled_table(synthetic_table, enumerated):
    perm = synthetic_table.align(enumerated, complete=True)
    np.testing.assert_array_equal(synthetic_table.codes[perm], all_codes())


@pytest.mark.parametrize(
    ("arch_str", "match"),
    [
        ("|nor_conv_3x3~0|+|none~0|none~1|", "has 2 node groups"),
        ("nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "must look like"),
        ("|nor_conv_3x3~0|+|none~0|+|none~0|none~1|none~2|", "node 2 has 1 inputs"),
        ("|nor_conv_3x3|+|none~0|none~1|+|none~0|none~1|none~2|", "token 'nor_conv_3x3' lacks '~'"),
        ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_5x5'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~2|none~2|", "token 'none~2' should read from node 1"),
        ("", "node groups"),
    ],
)
def test_parse_arch_str__bad_input_names_the_token(arch_str, match, space):
    with pytest.raises(InvalidArchitectureError, match=match):
        parse_arch_str(arch_str)
    with pytest.raises(InvalidArchitectureError):
        space.validate(arch_str)


def test_parse_arch_str__rejects_non_strings():
    with pytest.raises(InvalidArchitectureError, match="must be a str"):
        parse_arch_str(b"|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")


@pytest.mark.parametrize(
    ("codes", "match"),
    [((0, 1, 2, 3, 4), "shape"), ((0, 1, 2, 3, 4, 5), "op code 5 at edge 5"), ((0.0,) * 6, "integers")],
)
def test_arch_str_from_codes__bad_codes(codes, match):
    with pytest.raises(InvalidArchitectureError, match=match):
        arch_str_from_codes(codes)
    if match != "integers":
        with pytest.raises(InvalidArchitectureError):
            encode_codes(np.atleast_2d(np.array(codes)))


def test_decode__rejects_graphs_outside_the_space(space):
    adj, ops = space.encode(INDEX_1)
    bad_adj = adj.copy()
    bad_adj[0, 7] = 1
    with pytest.raises(InvalidArchitectureError, match="not an NB201 cell"):
        space.decode(bad_adj, ops)
    bad_ops = ops.copy()
    bad_ops[3] = np.eye(7)[OP_NAMES.index("output")]
    with pytest.raises(InvalidArchitectureError, match="not an NB201 cell"):
        space.decode(adj, bad_ops)
    with pytest.raises(InvalidArchitectureError, match="one-hot"):
        space.decode(adj, ops * 0.5)


def test_sample__deterministic_and_inside_space(space):
    a = space.sample(np.random.default_rng(3), 50)
    assert a == space.sample(np.random.default_rng(3), 50)
    for s in a:
        space.validate(s)


def test_get_space__nb201_and_unknown():
    assert isinstance(get_space("nb201"), NB201Space)
    with pytest.raises(ValueError, match="unknown search space"):
        get_space("nb999")
