"""DARTS space: genotype strings, the 11-node graph, validity, graph hash, MACs/params, sampler, pool."""

from __future__ import annotations

import hashlib
from collections import namedtuple

import numpy as np
import pytest

from a2v_jax.data import DataError
from a2v_jax.data.darts_pool import load_pool, pool_cache_file
from a2v_jax.spaces import InvalidArchitectureError, SearchSpace, get_space
from a2v_jax.spaces.darts import (
    CELL_OPS,
    INPUT_PATTERNS,
    MAX_MACS,
    OP_NAMES,
    DARTSSpace,
    Genotype,
    as_genotype,
    cell_from_genotype,
    cell_hashes,
    cells_macs,
    cells_valid,
    decode_graphs,
    encode_cells,
    format_genotype,
    generate_pool,
    genotype_from_cell,
    graph_hashes,
    graph_problem,
    op_indices,
    parse_genotype,
    sample_cells,
    valid_loose,
    valid_strict,
)
from a2v_jax.spaces.darts_macs import (
    CIFAR,
    IMAGENET,
    cells_cost,
    count_in_mb,
    network_macs,
    network_params,
    op_cost,
    slot_table,
)
from a2v_jax.spaces.nb101 import hash_module

# Reference §7.4 (arch2vec's darts/cnn/genotypes.py): normal = reduce, concat [2, 3, 4, 5].
ARCH2VEC_BO = [
    ("sep_conv_5x5", 1),
    ("max_pool_3x3", 0),
    ("skip_connect", 0),
    ("dil_conv_3x3", 1),
    ("sep_conv_5x5", 1),
    ("sep_conv_3x3", 0),
    ("dil_conv_5x5", 2),
    ("sep_conv_3x3", 0),
]
ARCH2VEC_RL = [
    ("sep_conv_3x3", 0),
    ("dil_conv_3x3", 1),
    ("max_pool_3x3", 0),
    ("dil_conv_3x3", 1),
    ("skip_connect", 0),
    ("sep_conv_3x3", 1),
    ("dil_conv_5x5", 1),
    ("sep_conv_3x3", 0),
]
# DARTS's genotypes.py, as users paste it (a separate reduction cell).
DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
    "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
    "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


@pytest.fixture(scope="module")
def random_cells() -> np.ndarray:
    return sample_cells(np.random.default_rng(123), 300)


# --------------------------------------------------------------------------- genotype strings


def test_genotype__string_round_trip():
    g = parse_genotype(DARTS_V2)
    assert format_genotype(g) == str(g) == DARTS_V2
    assert g.normal[7] == ("dil_conv_3x3", 2) and g.reduce[0] == ("max_pool_3x3", 0)
    bo = Genotype.from_normal(ARCH2VEC_BO)
    assert parse_genotype(str(bo)) == bo and bo.reduce == bo.normal


def test_parse_genotype__accepts_range_tuples_positional_and_qualified_name():
    normal = str(ARCH2VEC_RL)
    expected = Genotype.from_normal(ARCH2VEC_RL)
    for text in (
        f"Genotype(normal={normal}, normal_concat=range(2, 6), reduce={normal}, reduce_concat=range(2, 6))",
        f"genotypes.Genotype({normal}, (2, 3, 4, 5), "
        f"reduce={tuple(ARCH2VEC_RL)}, reduce_concat=[2, 3, 4, 5])",
        f"  Genotype({normal}, [2, 3, 4, 5], {normal}, [2, 3, 4, 5])\n",
    ):
        assert parse_genotype(text) == expected


def test_as_genotype__reads_darts_namedtuple_and_strings():
    darts_genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
    nt = darts_genotype(ARCH2VEC_BO, range(2, 6), ARCH2VEC_BO, range(2, 6))
    assert as_genotype(nt) == Genotype.from_normal(ARCH2VEC_BO)
    assert as_genotype(str(nt)) == Genotype.from_normal(ARCH2VEC_BO)
    with pytest.raises(InvalidArchitectureError, match="a DARTS architecture is a Genotype"):
        as_genotype(42)


def test_genotype__construction_checks_types_and_cells():
    g = Genotype([list(p) for p in ARCH2VEC_BO], [2, 3, 4, 5], ARCH2VEC_BO, range(2, 6))
    assert g == Genotype.from_normal(ARCH2VEC_BO) and hash(g) == hash(Genotype.from_normal(ARCH2VEC_BO))
    with pytest.raises(
        InvalidArchitectureError, match=r"normal\[0\] must be a pair \(op name, integer input\)"
    ):
        Genotype.from_normal([("sep_conv_5x5", "1"), *ARCH2VEC_BO[1:]])
    with pytest.raises(InvalidArchitectureError, match="reduce_concat must hold integer node indices"):
        Genotype(ARCH2VEC_BO, [2, 3, 4, 5], ARCH2VEC_BO, [2.0, 3, 4, 5])
    with pytest.raises(InvalidArchitectureError, match=r"reduce\[7\] \('sep_conv_3x3', 5\)"):
        Genotype(ARCH2VEC_BO, [2, 3, 4, 5], [*ARCH2VEC_BO[:7], ("sep_conv_3x3", 5)], [2, 3, 4, 5])


def _with(normal_text: str) -> str:
    c = "[2, 3, 4, 5]"
    return f"Genotype(normal={normal_text}, normal_concat={c}, reduce={normal_text}, reduce_concat={c})"


def _replace(cell, slot, pair):
    cell = list(cell)
    cell[slot] = pair
    return str(cell)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Genotype(normal=[('sep_conv_3x3', 0)", "not well formed"),
        ("[('sep_conv_3x3', 0)]", r"must be a call Genotype\(\.\.\.\)"),
        (
            "Genotype(normal=[], normal_concat=[2, 3, 4, 5], reduce=[])",
            r"lacks field\(s\) \['reduce_concat'\]",
        ),
        (
            _with(str(ARCH2VEC_BO)).replace("reduce_concat", "reduction_concat"),
            "unknown field 'reduction_concat'",
        ),
        (
            _with(str(ARCH2VEC_BO)).replace("normal_concat=[2, 3, 4, 5]", "normal=[]"),
            "gives field 'normal' twice",
        ),
        (_with("'sep_conv_3x3'"), r"normal must be a list of \('op', input\) pairs"),
        (
            _with(_replace(ARCH2VEC_BO, 3, ("dil_conv_3x3", "1"))),
            r"normal\[3\] must be a pair .*'dil_conv_3x3', '1'",
        ),
        (_with(_replace(ARCH2VEC_BO, 2, ("conv_7x1_1x7", 0))), r"normal\[2\]: unknown op 'conv_7x1_1x7'"),
        (
            _with(_replace(ARCH2VEC_BO, 4, ("sep_conv_3x3", 4))),
            r"normal\[4\].*block 2 may only read nodes 0\.\.3",
        ),
        (_with(_replace(ARCH2VEC_BO, 1, ("max_pool_3x3", 1))), r"block 0 reads node 1 twice"),
        (_with(str(ARCH2VEC_BO[:7])), "normal cell has 7 .* pairs, expected 8"),
        (
            _with(str(ARCH2VEC_BO)).replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[4, 5]"),
            r"normal_concat is \[4, 5\]",
        ),
        (
            _with(str(ARCH2VEC_BO)).replace("normal_concat=[2, 3, 4, 5]", "normal_concat=list(x)"),
            "normal_concat must be",
        ),
    ],
)
def test_parse_genotype__malformed_strings_name_the_problem(text, message):
    with pytest.raises(InvalidArchitectureError, match=message):
        parse_genotype(text)


# --------------------------------------------------------------------------- graph encoding


def test_encode__published_bo_cell_follows_reference_rules():
    adj, ops = encode_cells(cell_from_genotype(Genotype.from_normal(ARCH2VEC_BO))[None])
    adj, ops = adj[0], ops[0]
    assert [OP_NAMES[i] for i in ops.argmax(-1)] == [
        "c_k-2",
        "c_k-1",
        *(op for op, _ in ARCH2VEC_BO),
        "output",
    ]
    edges = {(int(i), int(j)) for i, j in zip(*np.nonzero(adj), strict=True)}
    expected = {
        (1, 2),
        (0, 3),
        (0, 4),
        (1, 5),
        (1, 6),
        (0, 7),
        (2, 8),
        (3, 8),
        (0, 9),
    }  # (dil5, 2): both of block 0
    expected |= {(v, 10) for v in range(2, 10)}
    assert edges == expected
    assert np.array_equal(adj, np.triu(adj, 1))
    assert ops.dtype == np.float32 and adj.dtype == np.uint8


@pytest.mark.parametrize("normal", [ARCH2VEC_BO, ARCH2VEC_RL])
def test_published_cells__encode_decode_round_trip(normal):
    space = DARTSSpace(pool_size=0)
    g = Genotype.from_normal(normal)
    adj, ops = space.encode(g)
    assert space.decode(adj, ops) == g
    assert space.encode(str(g))[0].tolist() == adj.tolist()
    assert genotype_from_cell(cell_from_genotype(g)) == g


def test_encode_decode__round_trip_sampled_cells(random_cells):
    adj, ops = encode_cells(random_cells)
    op_idx = ops.argmax(-1)
    assert np.array_equal(op_idx, op_indices(random_cells))
    cells, valid = decode_graphs(adj, op_idx)
    assert valid.all() and valid_loose(adj, op_idx).all()
    assert np.array_equal(cells, random_cells)


def test_valid_strict__every_single_edge_flip_or_label_change_is_rejected(random_cells):
    adj, ops = encode_cells(random_cells[:3])
    op_idx = ops.argmax(-1)
    flipped, labels = [], []
    for b in range(3):
        for i, j in zip(*np.triu_indices(11, 1), strict=True):
            a = adj[b].copy()
            a[i, j] ^= 1
            flipped.append(a)
            labels.append(op_idx[b])
    flipped, labels = np.stack(flipped), np.stack(labels)
    assert not valid_strict(flipped, labels).any()
    assert all(graph_problem(a, lab) for a, lab in zip(flipped[:60], labels[:60], strict=True))
    for node, wrong in ((0, 1), (1, 0), (10, 9), (4, 0), (9, 10)):
        lab = op_idx[:1].copy()
        lab[0, node] = wrong
        assert not valid_strict(adj[:1], lab)[0] and graph_problem(adj[0], lab[0])


def test_valid_strict__lower_triangle_ignored_like_the_decoders(random_cells):
    adj, ops = encode_cells(random_cells[:5])
    noisy = adj + np.tril(np.ones((11, 11), np.uint8), -1)
    assert valid_strict(noisy, ops.argmax(-1)).all()


def test_valid_loose__accepts_what_strict_rejects_per_original_rules():
    adj, ops = encode_cells(cell_from_genotype(Genotype.from_normal(ARCH2VEC_RL))[None])
    op_idx = ops.argmax(-1)

    def check(mutate, loose: bool, strict: bool = False):
        a = adj.copy()
        mutate(a[0])
        assert bool(valid_loose(a, op_idx)[0]) is loose
        assert bool(valid_strict(a, op_idx)[0]) is strict

    check(lambda a: a.__setitem__((1, 2), 1), True)  # node 2 reads both cell inputs
    check(lambda a: a.__setitem__((2, 3), 1), True)  # an edge inside block 0
    check(lambda a: a.__setitem__((slice(None), 10), 0), True)  # no output edges: unchecked
    check(lambda a: a.__setitem__((slice(None), 5), 0), False)  # node 5 reads nothing
    # Block 1 reads block 2: a "future" input, in the lower triangle, which strict validity (like
    # the decoders) does not read.
    check(lambda a: a.__setitem__((6, 4), 1), False, strict=True)
    lab = op_idx.copy()
    lab[0, 3] = 0  # an op-node labelled c_k-2
    assert not valid_loose(adj, lab)[0]


def test_decode__errors_name_the_problem():
    space = DARTSSpace(pool_size=0)
    adj, ops = space.encode(Genotype.from_normal(ARCH2VEC_BO))
    bad = adj.copy()
    bad[2, 8] = 0
    with pytest.raises(InvalidArchitectureError, match=r"op-node 8 \(block 3\) has in-edges from \[3\]"):
        space.decode(bad, ops)
    bad = adj.copy()
    bad[0, 2] = 1
    with pytest.raises(InvalidArchitectureError, match=r"op-node 2 .* in-edges from \[0, 1\]"):
        space.decode(bad, ops)
    with pytest.raises(InvalidArchitectureError, match="one-hot rows"):
        space.decode(adj, ops * 2)
    with pytest.raises(InvalidArchitectureError, match=r"must be \(11, 11\)"):
        space.decode(adj[:10], ops)


# --------------------------------------------------------------------------- hash


def _oracle_hash(adj: np.ndarray, labels: list[int]) -> str:
    """NAS-Bench-101's hash_module as described in words, with Python's own str() of tuples and lists."""
    n = len(labels)
    md5 = lambda s: hashlib.md5(s.encode("utf-8")).hexdigest()  # noqa: E731
    out_deg, in_deg = adj.sum(1).tolist(), adj.sum(0).tolist()
    h = [md5(str((out_deg[v], in_deg[v], labels[v]))) for v in range(n)]
    for _ in range(n):
        h = [
            md5(
                "".join(sorted(h[w] for w in range(n) if adj[w, v]))
                + "|"
                + "".join(sorted(h[w] for w in range(n) if adj[v, w]))
                + "|"
                + h[v]
            )
            for v in range(n)
        ]
    return md5(str(sorted(h)))


def test_hash__fast_cell_path_equals_graph_path_and_oracle(random_cells):
    cells = random_cells[:40]
    adj, ops = encode_cells(cells)
    op_idx = ops.argmax(-1)
    fast = cell_hashes(cells)
    assert fast == graph_hashes(adj, op_idx)
    assert fast == [_oracle_hash(a.astype(int), lab.tolist()) for a, lab in zip(adj, op_idx, strict=True)]


# Published NAS-Bench-101 module hashes (the same (matrix, labels) pairs tests/test_spaces_nb101.py cites):
# labels -1 input, -2 output, 0 conv3x3, 1 conv1x1, 2 maxpool3x3.
NB101_PUBLISHED = [
    (  # the nasbench README cell; google-research/unified_functional_hashing evaluator_test.py
        {1: [0], 2: [0], 3: [0], 4: [3], 5: [0], 6: [1, 2, 4, 5]},
        [-1, 1, 0, 0, 0, 2, -2],
        "28cfc7874f6d200472e1a9dcd8650aa0",
    ),
    (  # microsoft/nni BenchmarksExample.ipynb, first record's 'hash'
        {1: [0], 2: [1], 3: [2], 4: [0], 5: [0, 3, 4], 6: [2, 5]},
        [-1, 0, 2, 0, 0, 1, -2],
        "00005c142e6f48ac74fdcf73e3439874",
    ),
]


@pytest.mark.parametrize(("inputs", "labels", "expected"), NB101_PUBLISHED)
def test_hash_module__reproduces_published_nasbench_hashes(inputs, labels, expected):
    adj = np.zeros((7, 7), dtype=np.int64)
    for v, sources in inputs.items():
        adj[sources, v] = 1
    assert hash_module(adj, labels) == expected


def test_cell_hashes__equal_nb101_hash_module_of_the_encoded_graphs(random_cells):
    adj, ops = encode_cells(random_cells[:30])
    op_idx = ops.argmax(-1)
    expected = [hash_module(a, lab) for a, lab in zip(adj, op_idx, strict=True)]
    assert cell_hashes(random_cells[:30]) == graph_hashes(adj, op_idx) == expected


def test_canonical_hash__invariant_to_isomorphic_rewrites():
    space = DARTSSpace(pool_size=0)
    h = space.canonical_hash(Genotype.from_normal(ARCH2VEC_BO))
    swapped = [ARCH2VEC_BO[1], ARCH2VEC_BO[0], *ARCH2VEC_BO[2:]]  # the two ops of block 0
    assert space.canonical_hash(Genotype.from_normal(swapped)) == h
    # The RL cell reads only the cell inputs, so its blocks can be permuted freely.
    blocks = [ARCH2VEC_RL[2 * b : 2 * b + 2] for b in range(4)]
    permuted = [p for b in (3, 1, 0, 2) for p in blocks[b]]
    assert space.canonical_hash(Genotype.from_normal(permuted)) == space.canonical_hash(
        Genotype.from_normal(ARCH2VEC_RL)
    )
    changed = [("sep_conv_3x3", 1), *ARCH2VEC_BO[1:]]
    assert space.canonical_hash(Genotype.from_normal(changed)) != h
    inputs_swapped = [(op, 1 - src) if src < 2 else (op, src) for op, src in ARCH2VEC_BO]
    assert space.canonical_hash(Genotype.from_normal(inputs_swapped)) != h  # c_{k-2} and c_{k-1} differ


# --------------------------------------------------------------------------- MACs and params


def test_op_cost__thop_rules_by_hand():
    c, hw = 48, 28
    a = hw * hw
    assert op_cost("sep_conv_3x3", c, hw, 1).macs == 2 * (9 * c * a + c * c * a + 2 * c * a)
    assert op_cost("dil_conv_5x5", c, hw, 2).macs == 25 * c * a + c * c * a + 2 * c * a
    assert op_cost("avg_pool_3x3", c, hw, 1).macs == c * a
    assert op_cost("max_pool_3x3", c, hw, 2).macs == op_cost("none", c, hw, 2).macs == 0
    assert op_cost("skip_connect", c, hw, 1) == op_cost("max_pool_3x3", c, hw, 1)
    assert op_cost("skip_connect", c, hw, 2).macs == c * c * a + 2 * c * a  # FactorizedReduce
    assert op_cost("sep_conv_5x5", c, hw, 1).params == 2 * (25 * c + c * c + 2 * c)


@pytest.mark.parametrize(
    ("normal", "macs_m", "imagenet_params_m", "cifar_params_m"),
    [
        # reference §9.5: BO 580M mult-adds, 5.2M ImageNet params, "param size 3.617 MB" on CIFAR;
        # RL 533M, 4.8M, 3.3M.
        (ARCH2VEC_BO, 580, 5.2, 3.617),
        (ARCH2VEC_RL, 533, 4.8, 3.3),
    ],
)
def test_network_cost__published_arch2vec_cells(normal, macs_m, imagenet_params_m, cifar_params_m):
    g = Genotype.from_normal(normal)
    assert round(network_macs(g, IMAGENET) / 1e6) == macs_m
    assert round(count_in_mb(network_params(g, IMAGENET)), 1) == imagenet_params_m
    digits = len(str(cifar_params_m).split(".")[1])
    assert round(count_in_mb(network_params(g, CIFAR)), digits) == cifar_params_m
    assert network_params(g, CIFAR, auxiliary=True) > network_params(g, CIFAR)
    assert network_macs(g) < MAX_MACS


def test_network_params__darts_v2_published_param_sizes():
    g = parse_genotype(DARTS_V2)
    # DARTS's training logs: "param size = 3.349342MB" (CIFAR-10) and 4.718752MB (ImageNet).
    assert network_params(g, CIFAR) == 3_349_342
    assert network_params(g, IMAGENET) == 4_718_752


def test_cells_macs__vectorised_table_equals_network_count(random_cells):
    cells = random_cells[:40]
    genotypes = [genotype_from_cell(c) for c in cells]
    assert cells_macs(cells).tolist() == [network_macs(g) for g in genotypes]
    assert cells_macs(cells, CIFAR).tolist() == [network_macs(g, CIFAR) for g in genotypes]
    params = cells_cost(cells, slot_table(CIFAR, "params"))
    assert params.tolist() == [network_params(g, CIFAR) for g in genotypes]


def test_network_macs__rejects_cells_outside_the_darts_space():
    g = parse_genotype(DARTS_V2)
    darts_genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
    with pytest.raises(ValueError, match="only cells concatenating"):
        network_macs(darts_genotype(g.normal, [2, 3], g.reduce, g.reduce_concat))
    with pytest.raises(ValueError, match=r"reduce\[6\]: input 5 is not an earlier node"):
        network_macs(
            darts_genotype(g.normal, [2, 3, 4, 5], [*g.reduce[:6], ("none", 5), g.reduce[7]], [2, 3, 4, 5])
        )


# --------------------------------------------------------------------------- sampler and pool


def test_sample_cells__original_distribution():
    cells = sample_cells(np.random.default_rng(0), 20_000)
    assert cells.dtype == np.int8 and cells_valid(cells).all()
    op_freq = np.bincount(cells[..., 0].ravel(), minlength=8) / cells[..., 0].size
    np.testing.assert_allclose(op_freq, 1 / 8, atol=0.01)
    for block in range(4):
        for slot in (2 * block, 2 * block + 1):
            freq = np.bincount(cells[:, slot, 1], minlength=block + 2) / len(cells)
            np.testing.assert_allclose(freq, 1 / (block + 2), atol=0.02)


def test_generate_pool__deterministic_unique_under_limit_and_prefix_stable():
    a = generate_pool(300, seed=7)
    b = generate_pool(300, seed=7)
    c = generate_pool(120, seed=7)
    d = generate_pool(120, seed=8)
    assert np.array_equal(a.cells, b.cells) and np.array_equal(a.hashes, b.hashes)
    assert np.array_equal(a.cells[:120], c.cells)
    assert not np.array_equal(c.cells, d.cells)
    assert len(a) == 300 and len(set(a.hashes.tolist())) == 300
    assert (a.macs < MAX_MACS).all() and np.array_equal(a.macs, cells_macs(a.cells))
    assert [h.decode() for h in a.hashes[:20]] == cell_hashes(a.cells[:20])
    assert a.drawn >= 300


def test_generate_pool__workers_do_not_change_the_result():
    assert np.array_equal(generate_pool(1100, seed=1, workers=2).cells, generate_pool(1100, seed=1).cells)


def test_generate_pool__tight_limit_rejects_large_cells():
    pool = generate_pool(50, seed=0, max_macs=400_000_000)
    assert (pool.macs < 400_000_000).all() and pool.drawn > 50


def test_load_pool__cache_round_trip_and_corruption(tmp_path):
    pool = load_pool(150, seed=3, cache_dir=tmp_path, progress=False)
    path = pool_cache_file(150, 3, cache_dir=tmp_path)
    assert not pool.from_cache and pool.cache_file == str(path) and path.is_file()
    again = load_pool(150, seed=3, cache_dir=tmp_path)
    assert again.from_cache and (again.seed, again.drawn, again.max_macs) == (
        pool.seed,
        pool.drawn,
        pool.max_macs,
    )
    assert np.array_equal(again.cells, pool.cells) and np.array_equal(again.hashes, pool.hashes)
    assert np.array_equal(again.macs, pool.macs)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="corrupted DARTS pool cache .*darts-pool-v1-n150-seed3"):
        load_pool(150, seed=3, cache_dir=tmp_path)
    rebuilt = load_pool(150, seed=3, cache_dir=tmp_path, rebuild_cache=True, progress=False)
    assert np.array_equal(rebuilt.cells, pool.cells)


# --------------------------------------------------------------------------- the space


def test_darts_space__protocol_on_a_small_pool(tmp_path):
    space = DARTSSpace(pool_size=40, seed=5, cache_dir=tmp_path)
    assert isinstance(space, SearchSpace)
    assert (space.num_nodes, len(space.op_names), space.size()) == (11, 11, 40)
    archs = list(space.enumerate())
    adj, ops = space.encode_all()
    assert adj.shape == (40, 11, 11) and ops.shape == (40, 11, 11)
    assert space.valid_strict(adj, ops.argmax(-1)).all() and space.valid_loose(adj, ops.argmax(-1)).all()
    for i in (0, 17, 39):
        space.validate(archs[i])
        assert space.decode(adj[i], ops[i]) == archs[i]
        assert space.canonical_hash(archs[i]) == space.pool.hashes[i].decode()
        assert space.macs(archs[i]) == space.pool.macs[i]
    sampled = space.sample(np.random.default_rng(0), 25)
    assert len(sampled) == 25 and all(space.macs(g) < MAX_MACS for g in sampled)
    assert sampled == space.sample(np.random.default_rng(0), 25)


def test_darts_space__rejects_separate_reduction_cell():
    space = get_space("darts")
    assert isinstance(space, DARTSSpace) and space.op_names == OP_NAMES
    with pytest.raises(InvalidArchitectureError, match="reduce = normal"):
        space.validate(DARTS_V2)
    space.validate(Genotype.from_normal(parse_genotype(DARTS_V2).normal))


def test_constants__vocabulary_and_patterns_match_reference():
    assert OP_NAMES == (
        "c_k-2",
        "c_k-1",
        "none",
        "max_pool_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "dil_conv_3x3",
        "dil_conv_5x5",
        "output",
    )
    assert OP_NAMES[2:10] == CELL_OPS
    assert [np.flatnonzero(p).tolist() for p in INPUT_PATTERNS] == [[0], [1], [2, 3], [4, 5], [6, 7]]
