"""``python -m a2v_jax.search`` end to end on small pools, and the embeddings checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from a2v_jax.data import DATASETS, NB201DatasetResults, NB201Table
from a2v_jax.search import __main__ as cli
from a2v_jax.search import nb201
from a2v_jax.search.config import SearchConfig
from a2v_jax.spaces.nb201 import all_codes, arch_str_from_codes

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("A2V_NB201_DIR", REPO.parent / "shared" / "data" / "nb201"))


def synthetic_table(seed=0) -> NB201Table:
    """625 NB201 cells (edges 4, 5 'none') with made-up results on all three datasets."""
    codes = all_codes()
    codes = codes[(codes[:, 4] == 0) & (codes[:, 5] == 0)]
    p = codes.shape[0]
    rng = np.random.default_rng(seed)
    quality = -np.abs(codes[:, :4].astype(float) - 3).sum(1)  # (P,)
    datasets = {}
    for k, ds in enumerate(DATASETS):
        runs = 60 + 5 * quality[:, None] + rng.normal(scale=1.0, size=(p, 3)) + k
        datasets[ds] = NB201DatasetResults(
            valid_runs=runs,
            n_runs=np.full(p, 3, np.int8),
            valid_mean=runs.mean(1),
            test_mean=runs.mean(1) + rng.normal(scale=0.3, size=p),
            train_time_s=rng.uniform(1000, 3000, size=p) * (k + 1),
            valid_12ep=runs.mean(1) - 10,
            valid_time_s=np.full(p, 5.0) if ds == "cifar10" else None,
            latency_s=rng.uniform(0.006, 0.028, size=p),
        )
    return NB201Table(
        source="shared-csv",
        path="<synthetic>",
        checksum="synthetic",
        arch_str=np.array([arch_str_from_codes(c) for c in codes]),
        codes=codes,
        datasets=datasets,
    )


def write_embeddings(path: Path, arch_str, d=16, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    np.savez(
        path,
        features=rng.normal(size=(len(arch_str), d)).astype(np.float32),
        arch_str=np.asarray(arch_str),
        index=np.full(len(arch_str), -1, np.int64),
        checkpoint=np.array("ckpt/synthetic"),
        space=np.array("nb201"),
        preset=np.array("default"),
        seed=np.array(0),
    )
    return path


@pytest.fixture
def table(monkeypatch):
    t = synthetic_table()
    monkeypatch.setattr(nb201, "load_nb201", lambda *a, **k: t)
    return t


def _check_report(rep: dict, table: NB201Table, method: str, n_seeds: int, pool_rows=None, overshoot=False):
    s = rep["summary"]
    assert set(nb201.SUMMARY_KEYS) <= set(s)
    assert s["method"] == method and s["seeds"] == n_seeds == len(rep["runs"])
    ds = s["dataset"]
    budget = s["budget_s"]
    valids = []
    for r in rep["runs"]:
        i = r["index"]
        assert table.arch_str[i] == r["arch_str"]
        if pool_rows is not None:
            assert i in pool_rows
        assert r["valid_mean"] == pytest.approx(table.datasets[ds].valid_mean[i])
        assert r["test_mean"] == pytest.approx(table.datasets[ds].test_mean[i])
        traj = r["trajectory"]
        assert len(traj["spent_s"]) == r["queries"] == len(traj["best_index"])
        assert traj["best_index"][-1] == i and traj["spent_s"][-1] == pytest.approx(r["spent_s"], abs=1e-2)
        assert np.all(np.diff(traj["best_signal"]) >= 0)
        assert traj["best_signal"][-1] == pytest.approx(r["signal"], abs=1e-4)  # both percent
        valid = table.datasets[ds].valid_mean
        assert traj["best_valid_mean"] == pytest.approx([valid[j] for j in traj["best_index"]], abs=1e-4)
        if overshoot:
            assert len(traj["spent_s"]) < 2 or traj["spent_s"][-2] < budget
        else:
            assert r["spent_s"] <= budget
        valids.append(r["valid_mean"])
    assert s["valid_mean"] == pytest.approx(np.mean(valids))
    assert s["valid_std"] == pytest.approx(np.std(valids))
    assert 0.0 <= s["frac_found_best"] <= 1.0
    # Seeds that found the pool's best signal all report the largest signal of any seed.
    top = np.mean([r["signal"] == max(x["signal"] for x in rep["runs"]) for r in rep["runs"]])
    assert 0.0 <= s["frac_found_best_signal"] <= top


def test_cli__rl_end_to_end_on_a_small_pool(table, tmp_path, capsys):
    rng = np.random.default_rng(1)
    rows = rng.choice(len(table), 300, replace=False)
    emb = write_embeddings(tmp_path / "embeddings.npz", table.arch_str[rows])
    out = tmp_path / "res" / "rl.json"
    argv = ["--space", "nb201", "--dataset", "cifar10", "--method", "rl", "--seeds", "3", "--preset", "paper"]
    argv += ["--embeddings", str(emb), "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    assert "rl/paper cifar10" in capsys.readouterr().out
    rep = json.loads(out.read_text())
    _check_report(rep, table, "rl", 3, pool_rows=set(rows.tolist()), overshoot=True)
    s = rep["summary"]
    assert (s["preset"], s["protocol"], s["budget_s"]) == ("paper", "arch2vec", 12000.0)
    assert s["pool_size"] == 300 and s["embeddings"]["checkpoint"] == "ckpt/synthetic"
    assert [r["seed"] for r in rep["runs"]] == [1, 2, 3]


@pytest.mark.parametrize("method", ["random", "rea", "ls"])
def test_cli__baselines_without_embeddings_use_the_whole_table(table, tmp_path, method):
    out = tmp_path / f"{method}.json"
    argv = ["--dataset", "cifar100", "--method", method, "--seeds", "4", "--preset", "default"]
    argv += ["--budget-s", "40000", "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    rep = json.loads(out.read_text())
    _check_report(rep, table, method, 4)
    assert rep["summary"]["budget_s"] == 40000.0 and rep["summary"]["pool_size"] == len(table)


def test_cli__cost_override_charges_the_chosen_cost(table, tmp_path, capsys):
    spent = {}
    for cost in (None, "train_200ep"):
        out = tmp_path / f"{cost}.json"
        argv = ["--dataset", "cifar100", "--method", "random", "--seeds", "3", "--budget-s", "30000"]
        argv += ["--out", str(out), "--no-progress"] + ([] if cost is None else ["--cost", cost])
        assert cli.main(argv) == 0
        rep = json.loads(out.read_text())
        assert rep["summary"]["cost"] == (cost or "arch2vec_estimate")
        spent[cost] = [r["trajectory"]["spent_s"] for r in rep["runs"]]
    # random search queries the same cells either way; only what each query costs differs
    first = [r[0] for r in spent[None]], [r[0] for r in spent["train_200ep"]]
    assert first[0] != first[1]
    argv = [
        "--space",
        "nb101",
        "--method",
        "random",
        "--cost",
        "train_200ep",
        "--out",
        str(tmp_path / "n.json"),
    ]
    assert cli.main(argv) == 2
    assert "--cost applies to nb201 only" in capsys.readouterr().err


def test_cli__nb201_protocol_reports_every_dataset(table, tmp_path):
    out = tmp_path / "nb201.json"
    argv = ["--dataset", "cifar10", "--method", "random", "--seeds", "2", "--protocol", "nb201"]
    argv += ["--out", str(out), "--no-progress", "--no-trajectories"]
    assert cli.main(argv) == 0
    rep = json.loads(out.read_text())
    assert set(rep["summary"]["per_dataset"]) == set(DATASETS)
    r = rep["runs"][0]
    assert "trajectory" not in r
    for ds in DATASETS:
        assert r["per_dataset"][ds]["valid_mean"] == pytest.approx(table.datasets[ds].valid_mean[r["index"]])


def test_search__rl_needs_embeddings_and_they_must_match(table, tmp_path):
    with pytest.raises(ValueError, match="--embeddings"):
        nb201.run(SearchConfig(dataset="cifar10", method="rl", preset="default", seeds=1, progress=False))
    bad = write_embeddings(tmp_path / "bad.npz", ["|none~0|+|none~0|none~1|+|none~0|none~1|conv~2|"])
    with pytest.raises(nb201.EmbeddingsError, match="does not match the table"):
        nb201.run(
            SearchConfig(
                dataset="cifar10", method="rl", preset="default", seeds=1, embeddings=bad, progress=False
            )
        )


@pytest.mark.skipif(
    not (DATA_DIR / "nb201_200ep.csv.gz").exists(), reason=f"NAS-Bench-201 data not found in {DATA_DIR}"
)
def test_cli__real_table_small_pool(tmp_path):
    from a2v_jax.data import load_nb201

    table = load_nb201(DATA_DIR)
    rows = np.random.default_rng(0).choice(len(table), 400, replace=False)
    emb = write_embeddings(tmp_path / "embeddings.npz", table.arch_str[rows])
    out = tmp_path / "real.json"
    argv = ["--dataset", "imagenet16", "--method", "rl", "--seeds", "2", "--preset", "default"]
    argv += ["--embeddings", str(emb), "--data-dir", str(DATA_DIR), "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    rep = json.loads(out.read_text())
    _check_report(rep, table, "rl", 2, pool_rows=set(rows.tolist()))
    assert rep["summary"]["budget_s"] == 1_400_000.0


def test_cli__bad_input_exits_2_with_a_message(table, tmp_path, capsys):
    argv = ["--dataset", "cifar10", "--method", "rl", "--seeds", "1", "--out", str(tmp_path / "x.json")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--embeddings" in err
    assert not (tmp_path / "x.json").exists()


# --------------------------------------------------------------------------- misuse and reading


def _file(path: Path) -> Path:
    path.write_text("x")
    return path


def _argv(out, *extra) -> list[str]:
    return [
        "--dataset",
        "cifar10",
        "--method",
        "random",
        "--seeds",
        "2",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]


@pytest.mark.parametrize(
    ("make_out", "message"),
    [
        (lambda d: d, "is a directory; name the report's file"),
        (lambda d: _file(d / "f") / "r.json", "a parent of it is a file"),
        (lambda d: Path("/proc/a2v_jax_cannot_write_here/r.json"), "cannot write into"),
    ],
)
def test_cli__an_unwritable_out_is_refused_before_the_search(
    table, tmp_path, capsys, monkeypatch, make_out, message
):
    ran = []
    monkeypatch.setattr(nb201, "run_method", lambda *a, **k: ran.append(1))
    out = make_out(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli.main(_argv(out)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not ran  # refused before any search
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, no temporary file


@pytest.mark.parametrize("budget", ["inf", "nan", "-5", "0"])
def test_cli__a_budget_that_is_not_a_finite_positive_number_is_refused(table, tmp_path, capsys, budget):
    assert cli.main(_argv(tmp_path / "r.json", "--budget-s", budget)) == 2
    assert "--budget-s must be a finite number of seconds > 0" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_write_json__strict_json_with_nulls_and_no_temporary_file_on_failure(tmp_path):
    from a2v_jax.search.report import write_json

    path = write_json(
        {"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": -float("inf")}}, tmp_path / "r.json"
    )
    assert json.loads(path.read_text()) == {"a": None, "b": [1.0, None], "c": {"d": None}}
    with pytest.raises(TypeError):
        write_json({"x": object()}, tmp_path / "bad.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_cli__embeddings_of_another_space_are_named(table, tmp_path, capsys):
    darts = tmp_path / "darts.npz"
    np.savez(
        darts,
        features=np.zeros((2, 16), np.float32),
        arch_str=np.array(["0123456789012345"] * 2),
        space=np.array("darts"),
    )
    argv = ["--dataset", "cifar10", "--method", "rl", "--seeds", "1", "--embeddings", str(darts)]
    assert cli.main([*argv, "--out", str(tmp_path / "r.json"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "holds darts embeddings; a --space nb201 search needs" in err and "malformed" not in err
    hand_made = tmp_path / "ids.npz"  # no recorded space: judged by its ids
    np.savez(hand_made, features=np.zeros((1, 16), np.float32), arch_str=np.array(["0123456789abcdef" * 2]))
    argv[-1] = str(hand_made)
    assert cli.main([*argv, "--out", str(tmp_path / "r.json"), "--no-progress"]) == 2
    assert "holds nb101 embeddings" in capsys.readouterr().err


def test_cli__the_printed_line_names_the_found_cell_and_a_subset_pool(table, tmp_path, capsys):
    emb = write_embeddings(tmp_path / "e.npz", table.arch_str[:200])
    out = tmp_path / "r.json"
    argv = ["--dataset", "cifar10", "--method", "rl", "--seeds", "4", "--preset", "paper"]
    assert cli.main([*argv, "--embeddings", str(emb), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    s = json.loads(out.read_text())["summary"]
    assert f"found the best cell in {s['found_best_seeds']} of 4 seeds" in printed
    top, runs = s["most_found"], json.loads(out.read_text())["runs"]
    assert f"most found: {top['arch_str']} in {top['seeds']} of 4 seeds" in printed
    counts = [sum(r["arch_str"] == a["arch_str"] for r in runs) for a in runs]
    assert top["seeds"] == max(counts) == sum(r["arch_str"] == top["arch_str"] for r in runs)
    assert s["pool_size"] == 200 and s["table_size"] == len(table) and "200 cells" in s["pool_note"]
    assert f"searching 200 of {len(table):,} cells" in printed
    assert s["signal_unit"] == "percent" and all(
        r["signal"] > 1.0 for r in json.loads(out.read_text())["runs"]
    )


def test_budget_bar__ends_at_every_seed_done(monkeypatch):
    import jax
    import jax.numpy as jnp

    from a2v_jax.search import core, get_strategy

    bars = []
    original = core._BudgetBar.close

    def spy(self):
        bars.append(self.bar.n)
        original(self)

    monkeypatch.setattr(core._BudgetBar, "close", spy)
    pool = 64
    env = core.SearchEnv(
        features=np.zeros((pool, 2), np.float32),
        signal=np.linspace(0, 1, pool, dtype=np.float32),
        cost=np.full(pool, 100.0, np.float32),
        budget_s=np.float32(1000.0),
        max_queries=np.int32(10**6),
    )
    keys = jax.vmap(jax.random.key)(jnp.arange(1, 4))
    core.ChunkedRunner(get_strategy("random", "default"), chunk_steps=4)(env, keys, 40, progress="t")
    assert bars == [3.0]  # three seeds, each at the end of its budget
