"""benchmarks/nb201_pretrain_seeds.py on the synthetic table: rows over models, written as they finish."""

from __future__ import annotations

import json

import pytest
from conftest import fake_models, load_benchmark


def test_nb201_pretrain_seeds__rows_over_models_and_a_stopped_run_keeps_its_rows(
    tmp_path, synthetic_nb201_dir, synthetic_table, monkeypatch
):
    bench = load_benchmark("nb201_pretrain_seeds")
    runs, out = tmp_path / "runs", tmp_path / "out"
    fake_models(runs, synthetic_table)
    args = ["--data-dir", str(synthetic_nb201_dir), "--runs", str(runs), "--pretrain-seeds", "1,2"]
    args += ["--methods", "random", "--presets", "paper,default", "--datasets", "cifar100", "--seeds", "3"]
    args += ["--out-dir", str(out)]
    assert bench.main(args) == 0
    doc = json.loads((out / "nb201_pretrain_seeds.json").read_text())
    assert [(r["method"], r["preset"]) for r in doc["rows"]] == [("random", "paper"), ("random", "default")]
    row = doc["rows"][0]
    assert [m["pretrain_seed"] for m in row["per_model"]] == [1, 2]
    assert row["over_models"]["valid_mean"]["mean"] == pytest.approx(
        sum(m["valid_mean"] for m in row["per_model"]) / 2
    )
    assert "running" not in doc["meta"]["argv"]

    real, calls = bench.run_method, []

    def stop_in_second_row(*a, **k):
        calls.append(a[1])
        if len(calls) == 3:  # the second row's first model
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(bench, "run_method", stop_in_second_row)
    with pytest.raises(KeyboardInterrupt):
        bench.main(args)
    doc = json.loads((out / "nb201_pretrain_seeds.json").read_text())
    assert [r["preset"] for r in doc["rows"]] == ["paper"]
    assert doc["meta"]["argv"].endswith("(running: 1 of 2 rows done)")
