"""``python -m a2v_jax.report``: figures and a table from search report files, and clear errors for others."""

from __future__ import annotations

import json

import pytest

from a2v_jax import report as cli
from a2v_jax.search import nb201
from a2v_jax.search.config import SearchConfig


@pytest.fixture
def reports(synthetic_table, tmp_path):
    paths = []
    for method in ("random", "rea"):
        config = SearchConfig(dataset="cifar10", method=method, seeds=3, progress=False, budget_s=20_000.0)
        path = tmp_path / f"{method}.json"
        path.write_text(json.dumps(nb201.run(config, table=synthetic_table)))
        paths.append(path)
    return paths


def test_report__writes_figures_and_a_table_from_the_files_alone(reports, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main([*map(str, reports), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["curves.png", "final.png", "report.md"]
    assert all((out / f).stat().st_size > 1000 for f in ("curves.png", "final.png"))
    table = (out / "report.md").read_text()
    for method in ("random", "rea"):
        s = json.loads((tmp_path / f"{method}.json").read_text())["summary"]
        row = next(ln for ln in table.splitlines() if ln.startswith(f"| {method}/default | cifar10 | 3 |"))
        assert f"{s['valid_mean']:.2f} ± {s['valid_std']:.2f}" in row
        assert f"{s['found_best_seeds']} of 3" in row
        assert row.count(" | ") == 7  # the cell's pipes are escaped: the row keeps its 8 columns
    assert "wrote" in capsys.readouterr().out


def test_report__incumbent_curves_step_with_the_trajectory(reports):
    import numpy as np

    from a2v_jax.analysis.report import load_report, valid_curves

    rep = load_report(reports[0])
    run = rep["runs"][0]
    spent, valid = run["trajectory"]["spent_s"], run["trajectory"]["best_valid_mean"]
    grid = np.array([0.0, spent[0], spent[-1] + 1.0])
    v = valid_curves(rep, grid)[0]
    assert np.isnan(v[0]) or spent[0] == 0.0
    assert v[1] == valid[0] and v[2] == valid[-1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a JSON file"),
        ('{"a": 1}', "not a search report"),
        ('{"summary": {"seeds": 1}, "runs": [{"seed": 1}]}', "no trajectory; rerun the search"),
        ('{"summary": {"space": "darts"}, "runs": []}', "a darts report"),
    ],
)
def test_report__files_it_cannot_read_are_named(tmp_path, capsys, content, message):
    (tmp_path / "r.json").write_text(content)
    assert cli.main([str(tmp_path / "r.json"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_report__a_report_written_before_best_valid_mean_says_so(reports, tmp_path, capsys):
    rep = json.loads(reports[0].read_text())
    for run in rep["runs"]:
        del run["trajectory"]["best_valid_mean"]
    (tmp_path / "old.json").write_text(json.dumps(rep))
    assert cli.main([str(tmp_path / "old.json"), "--out", str(tmp_path / "out")]) == 2
    assert "old.json: seed 1: the trajectory has no best_valid_mean" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything is written
