"""benchmarks/nb201_table.py: the target checks and the render-only path (no search is run)."""

from __future__ import annotations

import json
import math

import pytest
from conftest import load_benchmark


def _bench():
    return load_benchmark("nb201_table")


def _summary(method, preset, dataset, valid, valid_std, test, test_std, seeds=400, protocol="arch2vec"):
    return {
        "method": method,
        "preset": preset,
        "dataset": dataset,
        "protocol": protocol,
        "seeds": seeds,
        "valid_mean": valid,
        "valid_std": valid_std,
        "test_mean": test,
        "test_std": test_std,
        "wall_s": 1.0,
        "optimum": {dataset: {"valid_mean": 73.49, "test_mean": 73.51}},
    }


def test_target_checks__bounds_gaps_and_standard_errors():
    bench = _bench()
    # The paper's BO row on cifar100 is 73.35 +- 0.32 valid, 73.37 +- 0.30 test.
    runs = [
        # valid mean short by 0.10, valid std over by 0.08
        _summary("bo", "default", "cifar100", 73.25, 0.40, 73.30, 0.5),
        # valid inside its bounds, test 0.07 below them
        _summary("bo", "paper", "cifar100", 73.10, 0.60, 73.00, 0.8),
        # no target for random search: not checked
        _summary("random", "paper", "cifar100", 71.0, 1.0, 71.0, 1.0),
        # not the arch2vec protocol: not checked
        _summary("rl", "paper", "cifar100", 73.0, 0.5, 73.0, 0.5, protocol="nb201"),
    ]
    checks = bench.target_checks(runs)
    got = {(c["preset"], c["figure"]): c for c in checks}
    assert [(c["preset"], c["figure"]) for c in checks] == [  # paper before default
        ("paper", "valid_mean"),
        ("paper", "test_mean"),
        ("default", "valid_mean"),
        ("default", "valid_std"),
    ]
    ok = got["paper", "valid_mean"]
    assert ok["ok"] and ok["gap"] == 0.0
    assert ok["lower"] == pytest.approx(73.03) and ok["upper"] == pytest.approx(73.67)
    miss = got["paper", "test_mean"]
    assert not miss["ok"] and miss["gap"] == pytest.approx(0.07)
    assert miss["se"] == pytest.approx(0.8 / math.sqrt(400))
    mean = got["default", "valid_mean"]
    assert not mean["ok"] and mean["gap"] == pytest.approx(0.10) and mean["upper"] == math.inf
    spread = got["default", "valid_std"]
    assert not spread["ok"] and spread["gap"] == pytest.approx(0.08) and spread["se"] is None

    lines = [bench._check_line(c) for c in checks]
    assert lines[0].endswith("(target in [73.03, 73.67]): ✓")
    assert "✗ by 0.07, 1.8 standard errors of our 400-seed mean" in lines[1]
    assert "(target >= 73.35): ✗ by 0.10" in lines[2]
    assert "(target <= 0.32): ✗ by 0.08" in lines[3]


def test_render_only__rewrites_markdown_and_checks_from_the_json(tmp_path, capsys):
    bench = _bench()
    runs = [
        _summary("bo", "default", "cifar100", 73.40, 0.30, 73.45, 0.3),
        _summary("rl", "paper", "cifar100", 73.20, 0.60, 73.10, 0.6),
    ]
    meta = {
        "seeds": 400,
        "protocol": "arch2vec",
        "device": "cpu",
        "wall_s": 1.0,
        "embeddings": {},
        "argv": "x",
    }
    (tmp_path / "nb201_table.json").write_text(json.dumps({"meta": meta, "runs": runs}))
    assert bench.main(["--render-only", "--out-dir", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "nb201_table.json").read_text())  # strict JSON: open bounds are null
    assert doc["runs"] == runs and doc["meta"] == meta
    assert len(doc["checks"]) == 4 and all(c["ok"] for c in doc["checks"])
    assert {
        c["upper"] for c in doc["checks"] if c["figure"] == "valid_mean" and c["preset"] == "default"
    } == {None}
    md = (tmp_path / "nb201_table.md").read_text()
    assert "4 of 4 checks met." in md
    assert "| arch2vec-BO (ours, `default`) | n/a | n/a | 73.40±0.30 | 73.45±0.30 | n/a | n/a |" in md


def test_render_only__without_a_table_fails_clearly(tmp_path, capsys):
    bench = _bench()
    assert bench.main(["--render-only", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"no {tmp_path / 'nb201_table.json'} to render" in err
