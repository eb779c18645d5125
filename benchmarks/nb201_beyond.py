"""Beyond the paper on NAS-Bench-201: every search method x dataset, judged over pretrained models.

Runs each method's ``default`` preset (the new ``bo-ls`` and ``gp-ls`` of
:mod:`a2v_jax.search.local_bo`, with ``bo`` and ``rl`` for reference) on the embeddings of the
models of ``benchmarks/nb201_pretrain_seeds.py`` (pretraining seeds 1-5, ``--seeds`` search seeds
each) and on one model (``--wide-model``, seed 3: the paper's) with ``--wide-seeds`` seeds.
Example (the committed table; 100 seeds of ``bo-ls`` take about 30 s per model and dataset on 2
idle cores, 500 seeds 2.5-4.5 min, compile included)::

    python benchmarks/nb201_beyond.py --runs /work/main/runs/pretrain-seeds \\
        --test-data /path/to/nb201_200ep_test_acc.csv.gz --seeds 100 --wide-seeds 500

The wide model's per-model row is seeds ``1..--seeds`` of its wide run, so it is not searched
twice; a seed of a 500-seed program equals its run in a 100-seed program up to the float rounding
of the batched kernels (one ``gp-ls`` seed in 100 ended elsewhere on CIFAR-10, none of ``bo-ls``).
``--merge`` merges this run into an existing ``nb201_beyond.json`` (new rows, and new models of a
row), so a long table can be built in pieces; the report is written after every row. ``--override
KEY=VALUE`` runs a variant of every method's config (its rows are labelled with it);
``--render-only`` recomputes the over-model figures and rewrites both files.
Writes ``benchmarks/results/nb201_beyond.{json,md}``: per method and dataset the mean ± std over
models of the valid / test means, of ``frac_found_best_signal`` and of the median queries to the
best cell, the wide run's figures, the issue's goal and the gap to it, beside the paper's rows and
today's ``default`` rows of ``benchmarks/results/nb201_table.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmarks, also when imported

from nb201_pretrain_seeds import model_embeddings, spread  # noqa: E402
from nb201_table import DS_LABEL, PAPER, PAPER_ROW  # noqa: E402

from a2v_jax.data import DATASETS, exit_2_on_data_error, get_protocol, load_nb201, paths  # noqa: E402
from a2v_jax.runtime import device_name  # noqa: E402
from a2v_jax.search.nb201 import build_pool, summarize  # noqa: E402
from a2v_jax.search.presets import strategy_config  # noqa: E402
from a2v_jax.search.report import write_json  # noqa: E402
from a2v_jax.search.runner import RunOutput, run_method  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: The issue's goal per dataset: (the accuracy it reads, its threshold), and the share of seeds.
GOAL = {
    "cifar10": ("test_mean", 94.32),
    "cifar100": ("valid_mean", 73.45),
    "imagenet16": ("valid_mean", 46.34),
}
GOAL_FOUND = 0.90
FIGURES = ("valid_mean", "test_mean", "frac_found_best_signal", "median_queries_to_best_signal")


def first_seeds(out: RunOutput, n: int) -> RunOutput:
    """The result of the first ``n`` seeds of ``out`` (each seed's run is independent of the others)."""

    def cut(a):
        return np.asarray(a)[:n]

    return dataclasses.replace(
        out,
        seeds=cut(out.seeds),
        best_idx=cut(out.best_idx),
        best_signal=cut(out.best_signal),
        n_queries=cut(out.n_queries),
        spent_s=cut(out.spent_s),
        records=type(out.records)(*(cut(f) for f in out.records)),
    )


def over_models(per_model: list[dict]) -> dict:
    """Mean, std, min and max over the models of each figure (a figure none of them has: None)."""
    out = {}
    for k in FIGURES:
        vals = [m[k] for m in per_model if m.get(k) is not None]
        out[k] = {**spread(vals), "n": len(vals)} if vals else None
    return out


def goal_gap(row: dict) -> dict:
    """How far a row's over-models figures are from the goal (0 where met); None where unmeasured."""
    field, threshold = GOAL[row["dataset"]]
    acc = row["over_models"].get(field)
    found = row["over_models"].get("frac_found_best_signal")
    return {
        "figure": field,
        "threshold": threshold,
        "gap": None if acc is None else max(threshold - acc["mean"], 0.0),
        "found_gap": None if found is None else max(GOAL_FOUND - found["mean"], 0.0),
    }


def with_figures(row: dict) -> dict:
    """``row`` with its over-model figures and goal gap computed from its ``per_model`` summaries."""
    row["over_models"] = over_models(row["per_model"])
    row["goal"] = goal_gap(row)
    return row


def _pm(d: dict | None, digits: int = 2) -> str:
    return "–" if d is None else f"{d['mean']:.{digits}f}±{d['std']:.{digits}f}"


def _models(row: dict) -> str:
    """The pretraining seeds of a row's models: ``s1-s5``, or ``s3,s4``."""
    seeds = sorted(m["pretrain_seed"] for m in row["per_model"])
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"s{seeds[0]}-s{seeds[-1]}"
    return ",".join(f"s{s}" for s in seeds)


def sort_rows(rows: list[dict]) -> list[dict]:
    """Dataset, then the methods in the table's order, then the variants by label."""
    order = {m: i for i, m in enumerate(("bo-ls", "gp-ls", "bo", "rl"))}
    return sorted(rows, key=lambda r: (DATASETS.index(r["dataset"]), order.get(r["method"], 9), row_label(r)))


def _q(over: dict, models: int) -> str:
    """The over-models median queries, with the number of models that report it when not all do."""
    q = over.get("median_queries_to_best_signal")
    if q is None:
        return "–"
    return _pm(q, 0) + ("" if q["n"] == models else f" ({q['n']} of {models})")


def _num(x, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def reference_rows(table_json: Path) -> list[dict]:
    """Today's ``default`` rows (arch2vec protocol) of ``nb201_table.json``; none if it is absent."""
    if not table_json.exists():
        return []
    runs = json.loads(table_json.read_text())["runs"]
    return [r for r in runs if r["preset"] == "default" and r["protocol"] == "arch2vec"]


def render(result: dict) -> str:
    """The Markdown report: the over-models table, the wide runs, the references and the notes."""
    meta = result["meta"]
    lines = [
        "# Beyond the paper: NAS-Bench-201 searches judged over pretrained models",
        "",
        f"Over models: mean ± std over the {len(meta['pretrain_seeds'])} pretrained models "
        f"(seeds {', '.join(map(str, meta['pretrain_seeds']))}) of each model's mean over "
        f"{meta['search_seeds']} search seeds. "
        + (
            f"Wide: model s{meta['wide_model']} at {meta['wide_seeds']} seeds, mean ± std over seeds. "
            if meta["wide_seeds"]
            else "No wide run. "
        )
        + "found = `frac_found_best_signal`, "
        "q = median queries to the best-signal cell (over the seeds that found it; summaries made "
        "before that figure was reported have none, and a q over fewer models says how many).",
        "",
        "| method | dataset | models | valid (over models) | test (over models) | found | q | wide valid "
        "| wide test | wide found | wide q | goal gap (acc / found) |",
        "|" + "---|" * 12,
    ]
    for r in result["rows"]:
        o, w, g = r["over_models"], r.get("wide"), r["goal"]
        wide = ["–"] * 4
        if w:
            wide = [
                f"{w['valid_mean']:.2f}±{w['valid_std']:.2f}",
                _num(w["test_mean"])
                if w["test_std"] is None
                else f"{w['test_mean']:.2f}±{w['test_std']:.2f}",
                f"{w['frac_found_best_signal']:.3f}",
                _num(w.get("median_queries_to_best_signal"), 0),
            ]
        gap = f"{_num(g['gap'])} / {_num(g['found_gap'])}"
        lines.append(
            f"| {row_label(r)} | {DS_LABEL[r['dataset']]} | {_models(r)} | {_pm(o['valid_mean'])} "
            f"| {_pm(o['test_mean'])} "
            f"| {_pm(o['frac_found_best_signal'])} | {_q(o, len(r['per_model']))} | "
            + " | ".join(wide)
            + f" | {gap} |"
        )
    goal = ", ".join(f"{DS_LABEL[d]} {f.split('_')[0]} ≥ {t}" for d, (f, t) in GOAL.items())
    lines += [
        "",
        f"Goal (issue 18): {goal}, and found ≥ {GOAL_FOUND}; the gap column is over models.",
        "",
        "## References",
        "",
        "| row | "
        + " | ".join(f"{DS_LABEL[d]} val | {DS_LABEL[d]} test | {DS_LABEL[d]} found" for d in DATASETS)
        + " |",
        "|" + "---|" * (1 + 3 * len(DATASETS)),
    ]
    for name in ("arch2vec-RL", "arch2vec-BO"):
        cells = []
        for d in DATASETS:
            vm, vs, tm, ts = PAPER[name][d]
            cells += [f"{vm:.2f}±{vs:.2f}", f"{tm:.2f}±{ts:.2f}", "–"]
        lines.append(f"| {name} (paper) | " + " | ".join(cells) + " |")
    by = {(r["method"], r["dataset"]): r for r in result["reference"]}
    for method in dict.fromkeys(r["method"] for r in result["reference"]):
        cells = []
        for d in DATASETS:
            r = by.get((method, d))
            cells += (
                ["n/a"] * 3
                if r is None
                else [
                    f"{r['valid_mean']:.2f}±{r['valid_std']:.2f}",
                    f"{r['test_mean']:.2f}±{r['test_std']:.2f}",
                    f"{r['frac_found_best_signal']:.3f}",
                ]
            )
        seeds = "/".join(sorted({str(by[method, d]["seeds"]) for d in DATASETS if (method, d) in by}))
        label = PAPER_ROW.get(method) or method
        lines.append(f"| {label} `default` (nb201_table.json, {seeds} seeds) | " + " | ".join(cells) + " |")
    lines += [
        "",
        *meta.get("notes", []),
        "",
        f"Device: {meta['device']}. Commands and wall times (compile included):",
        *(f"- `python benchmarks/nb201_beyond.py {a}`: {w:.0f} s" for a, w in meta["history"]),
    ]
    return "\n".join(lines) + "\n"


def parse_overrides(items: list[str]) -> dict:
    """``["n_local=2", "fit_key=run"]`` -> ``{"n_local": 2, "fit_key": "run"}`` (JSON, else a string)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--override takes KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def row_label(row: dict) -> str:
    """The method as the table names it: ``bo-ls``, or ``bo-ls n_local=2`` for a variant."""
    extra = " ".join(f"{k}={v}" for k, v in sorted(row.get("overrides", {}).items()))
    return f"{row['method']} {extra}".strip()


def _row_key(row: dict) -> tuple[str, str]:
    return row_label(row), row["dataset"]


def merge_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` rows with ``new`` ones merged in: a model searched again replaces its old summary,
    a new model joins the row (over-model figures recomputed), a new wide run replaces the old."""
    rows = {_row_key(r): r for r in old}
    for r in new:
        prev = rows.get(_row_key(r))
        if prev is not None:
            seeds = {m["pretrain_seed"] for m in r["per_model"]}
            kept = [m for m in prev["per_model"] if m["pretrain_seed"] not in seeds]
            per_model = sorted(kept + r["per_model"], key=lambda m: m["pretrain_seed"])
            r = with_figures({**r, "per_model": per_model, "wide": r["wide"] or prev.get("wide")})
        rows[_row_key(r)] = r
    return list(rows.values())


def search_rows(
    args,
    table,
    models: dict,
    methods: list[str],
    datasets: list[str],
    overrides: dict | None = None,
    on_row=None,
) -> list[dict]:
    """Every method x dataset: one summary per model (the wide model's from its wide run).

    ``overrides``: config fields changed in every method's ``default`` (a variant; the rows say so).
    ``on_row``: called with the rows so far after each one (the report is written as it grows).
    """
    overrides = overrides or {}
    rows = []
    seeds = np.arange(1, args.seeds + 1)
    for dataset in datasets:
        proto = get_protocol("arch2vec", dataset)
        for method in methods:
            per_model, wide = [], None
            for s, emb in models.items():
                pool = build_pool(table, proto, embeddings=emb, signal_seed=args.signal_seed)
                if s == args.wide_model and args.wide_seeds:
                    out = run_method(
                        method,
                        "default",
                        pool,
                        np.arange(1, max(args.wide_seeds, args.seeds) + 1),
                        overrides=overrides,
                    )
                    wide = _summary(table, proto, pool, out, method, s)
                    out = first_seeds(out, args.seeds)
                else:
                    out = run_method(method, "default", pool, seeds, overrides=overrides)
                summ = _summary(table, proto, pool, out, method, s)
                per_model.append(summ)
                name = row_label({"method": method, "overrides": overrides})
                print(
                    f"{name} {dataset} model s{s}: valid {summ['valid_mean']:.2f}, found best signal "
                    f"{summ['frac_found_best_signal']:.2f} ({out.wall_s:.0f} s)",
                    flush=True,
                )
            row = {"method": method, "preset": "default", "dataset": dataset, "per_model": per_model}
            if overrides:
                row["overrides"] = overrides
            row["wide"] = wide
            rows.append(with_figures(row))
            if on_row is not None:
                on_row(rows)
    return rows


def _summary(table, proto, pool, out: RunOutput, method: str, model: int) -> dict:
    rep = summarize(table, proto, pool, out, method=method, preset="default", trajectories=False)
    summ = {k: v for k, v in rep["summary"].items() if k != "optimum"}
    return {**summ, "pretrain_seed": model}


def assemble(args, argv_s: str, wall_s: float, rows: list[dict], models: dict, old: dict | None) -> dict:
    """The report of this run's ``rows`` (merged into ``old``'s, the stored report, when given)."""
    history, notes = [[argv_s, wall_s]], list(args.note)
    pretrain_seeds = sorted(models)
    model_paths = {str(s): e.path for s, e in models.items()}
    if old is not None:
        rows = merge_rows(old["rows"], rows)
        history = old["meta"]["history"] + history
        notes = old["meta"].get("notes", []) + notes
        pretrain_seeds = sorted({m["pretrain_seed"] for r in rows for m in r["per_model"]})
        model_paths = {**old["meta"]["models"], **model_paths}
    rows = sort_rows(rows)
    return {
        "meta": {
            "pretrain_seeds": pretrain_seeds,
            "pretrain_preset": args.pretrain_preset,
            "search_seeds": args.seeds,
            "wide_model": args.wide_model,
            "wide_seeds": args.wide_seeds,
            "signal_seed": args.signal_seed,
            "models": model_paths,
            "device": device_name(),
            "history": history,
            "notes": notes,
        },
        "goal": {"per_dataset": {d: list(v) for d, v in GOAL.items()}, "found": GOAL_FOUND},
        "reference": reference_rows(Path(args.table_json)),
        "rows": rows,
    }


@exit_2_on_data_error
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    paths.add_nb201_flags(ap)
    ap.add_argument("--runs", default="runs/pretrain-seeds", help="where the models are (or go)")
    ap.add_argument("--pretrain-seeds", default="1,2,3,4,5", help="comma-separated pretraining seeds")
    ap.add_argument("--pretrain-preset", default="paper", choices=("paper", "default"))
    ap.add_argument("--methods", default="bo-ls,gp-ls,bo,rl", help="comma-separated; each runs its default")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--seeds", type=int, default=100, help="search seeds per model")
    ap.add_argument("--wide-model", type=int, default=3, help="the pretraining seed run with --wide-seeds")
    ap.add_argument("--wide-seeds", type=int, default=500, help="0: no wide run")
    ap.add_argument("--signal-seed", type=int, default=0)
    ap.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config field of every method's default, e.g. n_local=2 (rows are labelled with it)",
    )
    ap.add_argument("--note", action="append", default=[], help="a line for the report's notes")
    ap.add_argument("--merge", action="store_true", help="keep the rows of nb201_beyond.json not redone")
    ap.add_argument(
        "--render-only",
        action="store_true",
        help="search nothing: recompute the over-model figures of nb201_beyond.json and rewrite both files",
    )
    ap.add_argument("--table-json", default=str(RESULTS / "nb201_table.json"), help="today's default rows")
    ap.add_argument("--out-dir", default=str(RESULTS))
    args = ap.parse_args(argv)
    pretrain_seeds = [int(s) for s in args.pretrain_seeds.split(",") if s]
    methods = [m for m in args.methods.split(",") if m]
    datasets = [d for d in args.datasets.split(",") if d]
    if any(d not in DATASETS for d in datasets):
        ap.error(f"--datasets must be some of {DATASETS}")
    if args.seeds < 1 or args.wide_seeds < 0:
        ap.error("--seeds must be >= 1 and --wide-seeds >= 0")
    try:
        overrides = parse_overrides(args.override)
        for m in methods:  # a field the config lacks is refused before anything runs
            strategy_config(m, "default", **overrides)
    except (TypeError, ValueError) as e:
        ap.error(f"--override: {e}")

    out_dir = Path(args.out_dir)
    if args.render_only:
        result = json.loads((out_dir / "nb201_beyond.json").read_text())
        result["rows"] = [with_figures(row) for row in sort_rows(result["rows"])]
        write_json(result, out_dir / "nb201_beyond.json")
        (out_dir / "nb201_beyond.md").write_text(render(result))
        print(f"rewrote {out_dir / 'nb201_beyond.md'} and nb201_beyond.json")
        return 0
    t0 = time.perf_counter()
    table = load_nb201(args.data_dir, test_data=args.test_data)
    models = {}
    for s in pretrain_seeds:
        models[s], _ = model_embeddings(args.pretrain_preset, s, Path(args.runs), args.data_dir, None)
    old = None
    if args.merge and (out_dir / "nb201_beyond.json").exists():
        old = json.loads((out_dir / "nb201_beyond.json").read_text())
    argv_s = " ".join(sys.argv[1:] if argv is None else argv)
    total = len(methods) * len(datasets)

    def write(rows: list[dict]) -> None:
        running = "" if len(rows) == total else f" (running: {len(rows)} of {total} rows done)"
        result = assemble(args, argv_s + running, time.perf_counter() - t0, rows, models, old)
        write_json(result, out_dir / "nb201_beyond.json")
        (out_dir / "nb201_beyond.md").write_text(render(result))

    rows = search_rows(args, table, models, methods, datasets, overrides, on_row=write)
    write(rows)
    print(f"wrote {out_dir / 'nb201_beyond.md'} and nb201_beyond.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
