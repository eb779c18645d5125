"""``python -m a2v_jax.search --space darts`` end to end on a tiny pool (toy and table evaluators)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from a2v_jax.search import __main__ as cli
from a2v_jax.search.evaluated import toy_scores
from a2v_jax.spaces.darts import cells_from_codes, parse_genotype


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("pipe") / "rl"
    argv = [
        "--space",
        "darts",
        "--pool-size",
        "40",
        "--epochs",
        "1",
        "--prior-samples",
        "20",
        "--queries",
        "12",
    ]
    rc = cli.main([*argv, "--method", "rl", "--evaluator", "toy", "--out", str(out), "--no-progress"])
    assert rc == 0
    return out, argv


def test_search_darts__toy_writes_every_query_and_best(toy_run):
    out, _ = toy_run
    rep = json.loads((out / "search.json").read_text())
    qs = rep["queries"]
    assert rep["queries_made"] == 12 == len(qs) == len({q["index"] for q in qs})
    ids = [q["cell_id"] for q in qs]
    reward, _ = toy_scores(cells_from_codes(ids))
    np.testing.assert_allclose([q["reward"] for q in qs], reward)
    best = max(qs, key=lambda q: q["reward"])
    assert rep["best"]["cell_id"] == best["cell_id"]
    assert (out / "best_genotype.txt").read_text().strip() == best["genotype"]
    parse_genotype(best["genotype"])  # a valid genotype string
    assert (out / "pretrain" / "embeddings.npz").is_file()


def test_search_darts__table_missing_cell_is_clear_error(toy_run, tmp_path, capsys):
    out, argv = toy_run
    table = tmp_path / "t.json"
    table.write_text(json.dumps({"4041000000000000": 0.5}))
    pre = out.parent / "table"
    shutil.copytree(out / "pretrain", pre / "pretrain")  # resumes: no second pretraining
    rc = cli.main(
        [
            *argv,
            "--method",
            "bo",
            "--evaluator",
            "table",
            "--table",
            str(table),
            "--out",
            str(pre),
            "--no-progress",
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "evaluator failed on pool cell" in err and "is not in the evaluator table" in err
