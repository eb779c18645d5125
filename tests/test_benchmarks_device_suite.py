"""benchmarks/device_suite.py: the ``--quick`` suite runs every section and its JSON says what ran."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from conftest import load_benchmark

suite = load_benchmark("device_suite")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("suite") / "suite.json"
    missing = out.parent / "no_reference.json"
    assert suite.main(["--quick", "--out", str(out), "--reference", str(missing)]) == 0
    return json.loads(out.read_text()) | {"_path": str(out)}


def _timed(entry: dict) -> None:
    assert entry["compile_s"] > 0 and np.isfinite(entry["compile_s"])
    assert entry["run_s"] > 0 and np.isfinite(entry["run_s"])


@pytest.mark.slow
def test_quick_suite__every_section_with_compile_and_run_apart(quick_run):
    sizes = suite.QUICK
    assert quick_run["sizes"]["name"] == "quick"
    assert list(quick_run["sections"]) == list(suite.SECTIONS)
    assert set(quick_run["wall_s"]) == {*suite.SECTIONS, "total"}

    pre = quick_run["sections"]["pretrain"]
    assert [p["population"] for p in pre["populations"]] == list(sizes.populations)
    for p in pre["populations"]:
        _timed(p)
        assert len(p["epoch_s_all"]) == sizes.pretrain_epochs
    assert pre["population_epoch_vs_single"] > 0 and pre["command_wall_s"] > 0

    search = quick_run["sections"]["search"]
    assert {(r["method"], r["preset"], r["dataset"]) for r in search["runs"]} == {
        (m, p, d) for m in ("rl", "bo") for p in sizes.presets for d in sizes.search_datasets
    }
    for r in search["runs"]:
        _timed(r)
        assert r["seeds"] == sizes.search_seeds and r["mean_queries"] >= 1
    assert search["total_s"]["default"] == pytest.approx(sum(r["total_s"] for r in search["runs"]))

    agree = quick_run["sections"]["agreement"]
    assert agree["compared"] is None and "no reference" in agree["compare_note"]
    assert len(agree["found"]) == 4 * len(sizes.presets) * len(sizes.search_datasets)
    for cells in agree["found"].values():
        assert len(cells) == sizes.agree_seeds and all(0 <= c < sizes.search_pool for c in cells)

    nb101 = quick_run["sections"]["nb101"]
    assert nb101["pool"] == sizes.nb101_pool and len(nb101["runs"]) == 2 * len(sizes.presets)
    for r in nb101["runs"]:
        _timed(r)

    darts = quick_run["sections"]["darts"]
    _timed(darts)
    assert darts["finite_loss"] and darts["images_per_s"] > 0 and darts["step_flops"] > 0
    assert darts["images"] == darts["steps"] * darts["batch_size"]

    kernels = quick_run["sections"]["kernels"]["kernels"]
    assert all(k["flops"] > 0 and k["s"] > 0 for k in kernels)
    whole, chunked = (k for k in kernels if k["kernel"].startswith("DNGO"))
    assert chunked["flops"] == whole["flops"]  # the chunked loop is rated by the loop-free count
    assert quick_run["sections"]["kernels"]["peaks"] is None  # a CPU has no listed peak


@pytest.mark.slow
def test_quick_suite__agreement_with_itself_is_total(quick_run):
    """The same device and code again: every fixed seed ends on the same cell."""
    table = suite.load_nb201()
    again = suite.section_agreement(suite.QUICK, table, quick_run)
    assert again["compared"] == {"reference_device": quick_run["device"]}
    assert again["agree_all"] == 1.0 and again["differ"] == {}


def test_compare_found__counts_moved_seeds_and_refuses_other_sizes():
    sizes = suite.QUICK
    found = {"rl/default/cifar10": [1, 2, 3, 4], "ls/default/cifar10": [5, 6, 7, 8]}
    ref = {
        "device": "elsewhere",
        "sizes": json.loads(json.dumps(dataclasses.asdict(sizes))),
        "sections": {
            "agreement": {"found": {"rl/default/cifar10": [1, 2, 9, 4], "ls/default/cifar10": [5, 6, 7, 8]}}
        },
    }
    got = suite.compare_found(found, sizes, ref)
    assert got["agree_frac"] == {"rl/default/cifar10": 0.75, "ls/default/cifar10": 1.0}
    assert got["agree_all"] == 7 / 8 and got["differ"] == {"rl/default/cifar10": [2]}

    other = json.loads(json.dumps(ref))
    other["sizes"]["agree_seeds"] = 20
    assert suite.compare_found(found, sizes, other)["compared"] is None
    assert suite.compare_found(found, sizes, None)["compared"] is None


def test_unknown_section_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        suite.main(["--quick", "--sections", "pretrain,warp", "--out", str(tmp_path / "x.json")])
    assert e.value.code == 2
    assert "warp" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


@pytest.mark.slow
def test_merge__redoes_the_named_sections_and_keeps_the_rest(quick_run, tmp_path):
    out = tmp_path / "suite.json"
    out.write_text(json.dumps({k: v for k, v in quick_run.items() if k != "_path"}))
    assert suite.main(["--quick", "--sections", "nb101", "--merge", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert list(doc["sections"]) == list(suite.SECTIONS)
    for name in ("pretrain", "search", "agreement", "darts", "kernels"):
        assert doc["sections"][name] == quick_run["sections"][name]
    assert (
        doc["sections"]["nb101"]["runs"][0]["compile_s"]
        != quick_run["sections"]["nb101"]["runs"][0]["compile_s"]
    )
    assert doc["wall_s"]["total"] == pytest.approx(sum(v for k, v in doc["wall_s"].items() if k != "total"))

    other = json.loads(out.read_text())
    other["sizes"]["search_seeds"] = 7
    out.write_text(json.dumps(other))
    with pytest.raises(SystemExit, match="other sizes"):
        suite.main(["--quick", "--sections", "nb101", "--merge", "--out", str(out)])
