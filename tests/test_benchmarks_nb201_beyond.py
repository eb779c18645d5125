"""benchmarks/nb201_beyond.py on the synthetic table: rows, over-model spreads, the wide run, merging."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import fake_models, load_benchmark


def test_nb201_beyond__table_over_models_wide_run_and_merge(tmp_path, synthetic_nb201_dir, synthetic_table):
    bench = load_benchmark("nb201_beyond")
    runs, out = tmp_path / "runs", tmp_path / "out"
    fake_models(runs, synthetic_table)
    ref = tmp_path / "table.json"
    ref.write_text(json.dumps({"runs": []}))
    common = ["--data-dir", str(synthetic_nb201_dir), "--runs", str(runs), "--pretrain-seeds", "1,2"]
    common += ["--methods", "random", "--seeds", "2", "--wide-model", "2", "--wide-seeds", "3"]
    common += ["--table-json", str(ref), "--out-dir", str(out)]
    assert bench.main([*common, "--datasets", "cifar100", "--note", "a note"]) == 0
    doc = json.loads((out / "nb201_beyond.json").read_text())
    (row,) = doc["rows"]
    assert (row["method"], row["dataset"]) == ("random", "cifar100")
    assert [m["pretrain_seed"] for m in row["per_model"]] == [1, 2]
    assert [m["seeds"] for m in row["per_model"]] == [2, 2] and row["wide"]["seeds"] == 3
    vals = [m["valid_mean"] for m in row["per_model"]]
    assert row["over_models"]["valid_mean"]["mean"] == np.mean(vals)
    assert row["goal"]["figure"] == "valid_mean" and row["goal"]["threshold"] == 73.45
    assert bench.main([*common, "--datasets", "imagenet16", "--merge"]) == 0
    doc = json.loads((out / "nb201_beyond.json").read_text())
    assert [r["dataset"] for r in doc["rows"]] == ["cifar100", "imagenet16"]
    assert len(doc["meta"]["history"]) == 2 and doc["meta"]["notes"] == ["a note"]
    assert doc["meta"]["pretrain_seeds"] == [1, 2]
    args = [a for a in common if a not in ("1,2", "--pretrain-seeds")]  # model 1 again, no wide run
    assert (
        bench.main([*args, "--pretrain-seeds", "1", "--wide-seeds", "0", "--datasets", "cifar100", "--merge"])
        == 0
    )
    (c100,) = [
        r for r in json.loads((out / "nb201_beyond.json").read_text())["rows"] if r["dataset"] == "cifar100"
    ]
    assert [m["pretrain_seed"] for m in c100["per_model"]] == [1, 2] and c100["wide"]["seeds"] == 3
    md = (out / "nb201_beyond.md").read_text()
    assert "| random | C100 | s1,s2 |" in md and "| random | IN16 | s1,s2 |" in md and "a note" in md
    assert "arch2vec-BO (paper)" in md


def test_first_seeds__equals_a_separate_run_of_those_seeds():
    bench = load_benchmark("nb201_beyond")
    from a2v_jax.search.core import StepRecord
    from a2v_jax.search.runner import RunOutput

    rec = StepRecord(*(np.arange(12).reshape(3, 4) for _ in range(5)))
    out = RunOutput(np.arange(3), np.arange(3), np.ones(3), np.ones(3), np.ones(3), rec, 4, 1.0)
    cut = bench.first_seeds(out, 2)
    assert cut.seeds.tolist() == [0, 1] and cut.records.idx.shape == (2, 4) and cut.max_steps == 4


def test_nb201_beyond__override_makes_a_labelled_variant_row(tmp_path, synthetic_nb201_dir, synthetic_table):
    bench = load_benchmark("nb201_beyond")
    assert bench.parse_overrides(["n_local=2", "fit_key=run", "x=1.5"]) == {
        "n_local": 2,
        "fit_key": "run",
        "x": 1.5,
    }
    runs, out = tmp_path / "runs", tmp_path / "out"
    fake_models(runs, synthetic_table, seeds=(1,))
    ref = tmp_path / "table.json"
    ref.write_text(json.dumps({"runs": []}))
    common = ["--data-dir", str(synthetic_nb201_dir), "--runs", str(runs), "--pretrain-seeds", "1"]
    common += ["--methods", "random", "--seeds", "2", "--wide-seeds", "0", "--datasets", "cifar100"]
    common += ["--table-json", str(ref), "--out-dir", str(out)]
    assert bench.main(common) == 0
    assert bench.main([*common, "--override", "with_replacement=true", "--merge"]) == 0
    rows = json.loads((out / "nb201_beyond.json").read_text())["rows"]
    assert [bench.row_label(r) for r in rows] == ["random", "random with_replacement=True"]
    assert "| random with_replacement=True | C100 | s1 |" in (out / "nb201_beyond.md").read_text()


def test_nb201_beyond__unknown_override_is_refused_before_any_search(tmp_path, capsys):
    bench = load_benchmark("nb201_beyond")
    for bad in ("n_local", "no_such_field=1"):
        try:
            bench.main(["--methods", "bo-ls", "--override", bad, "--out-dir", str(tmp_path / "out")])
        except SystemExit as e:
            assert e.code == 2
        else:
            raise AssertionError(f"--override {bad} was accepted")
        assert "--override" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_nb201_beyond__a_stopped_run_keeps_the_rows_it_finished(
    tmp_path, synthetic_nb201_dir, synthetic_table, monkeypatch
):
    bench = load_benchmark("nb201_beyond")
    runs, out = tmp_path / "runs", tmp_path / "out"
    fake_models(runs, synthetic_table, seeds=(1,))
    ref = tmp_path / "table.json"
    ref.write_text(json.dumps({"runs": []}))
    real, calls = bench.run_method, []

    def stop_on_second(*a, **k):
        calls.append(a[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(bench, "run_method", stop_on_second)
    args = ["--data-dir", str(synthetic_nb201_dir), "--runs", str(runs), "--pretrain-seeds", "1"]
    args += ["--methods", "random", "--seeds", "2", "--wide-seeds", "0", "--datasets", "cifar100,imagenet16"]
    with pytest.raises(KeyboardInterrupt):
        bench.main([*args, "--table-json", str(ref), "--out-dir", str(out)])
    doc = json.loads((out / "nb201_beyond.json").read_text())
    assert [r["dataset"] for r in doc["rows"]] == ["cifar100"]
    assert doc["meta"]["history"][-1][0].endswith("(running: 1 of 2 rows done)")


def test_nb201_beyond__render_only_recomputes_the_over_model_figures(tmp_path):
    bench = load_benchmark("nb201_beyond")
    per_model = [
        {"pretrain_seed": s, "valid_mean": v, "test_mean": None, "frac_found_best_signal": f}
        | ({"median_queries_to_best_signal": q} if q else {})
        for s, v, f, q in ((1, 73.0, 0.5, 40.0), (2, 73.4, 0.9, None))
    ]
    row = {
        "method": "bo-ls",
        "preset": "default",
        "dataset": "cifar100",
        "per_model": per_model,
        "wide": None,
    }
    meta = {"pretrain_seeds": [1, 2], "search_seeds": 2, "wide_seeds": 0, "history": [], "device": "cpu"}
    (tmp_path / "nb201_beyond.json").write_text(json.dumps({"meta": meta, "reference": [], "rows": [row]}))
    assert bench.main(["--render-only", "--out-dir", str(tmp_path)]) == 0
    (got,) = json.loads((tmp_path / "nb201_beyond.json").read_text())["rows"]
    assert got["over_models"]["valid_mean"]["mean"] == 73.2 and got["over_models"]["test_mean"] is None
    assert got["goal"]["gap"] == 73.45 - 73.2
    assert (
        "| bo-ls | C100 | s1,s2 | 73.20±0.20 | – | 0.70±0.20 | 40±0 (1 of 2) |"
        in (tmp_path / "nb201_beyond.md").read_text()
    )
