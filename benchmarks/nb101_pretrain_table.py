"""The paper's NB101 pretraining table (reference §9.3): arch2vec, w/o KL, GAE and VGAE.

Each row is one ``python -m a2v_jax.pretrain --space nb101 --model <variant>`` run (8 epochs,
seed 1, batch 32, 10,000 prior samples: reference §4) through :func:`run_pretraining`, scored on
the held-out last 10 % (reconstruction) and on graphs decoded from the prior (validity,
uniqueness). Writes ``<out>.json`` (everything, plus the paper's numbers) and ``<out>.md``.

Columns: ``acc_ops`` / ``acc_adj`` are the original's element-wise reconstruction accuracies
(reference §5; the paper's single "reconstruction accuracy" is read as these), ``exact`` the
fraction of held-out graphs reconstructed exactly; ``validity`` the original's
``is_valid(ModelSpec)`` check, ``uniqueness`` the original's ``hash_module`` of the decoded graph
over the valid ones, ``unique (module)`` the benchmark's module hash after pruning.

Run (the whole space, about half an hour on 2 busy CPU cores)::

    python benchmarks/nb101_pretrain_table.py

and a quick look::

    python benchmarks/nb101_pretrain_table.py --subset 20000 --epochs 2 --out /tmp/nb101_table
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from a2v_jax.config import MODEL_VARIANTS, SPACE_DEFAULTS
from a2v_jax.pretraining import PretrainConfig, run_pretraining
from a2v_jax.runtime import device_name, enable_compilation_cache

#: The paper's Table (reference §9.3), in %: reconstruction accuracy, validity, uniqueness.
PAPER = {
    "gae": {"reconstruction": 98.75, "validity": 29.88, "uniqueness": 37.59},
    "vgae": {"reconstruction": 97.45, "validity": 41.18, "uniqueness": 38.46},
    "arch2vec_no_kl": {"reconstruction": 100.0, "validity": 30.31, "uniqueness": 24.15},
    "arch2vec": {"reconstruction": 100.0, "validity": 45.82, "uniqueness": 58.75},
}
LABELS = {"gae": "GAE", "vgae": "VGAE", "arch2vec_no_kl": "arch2vec w/o KL", "arch2vec": "arch2vec"}
KEPT = (
    "acc_ops",
    "acc_adj",
    "recon_exact",
    "mean_corr_adj",
    "mean_fal_pos_adj",
    "validity",
    "validity_strict",
    "uniqueness",
    "uniqueness_strict",
    "uniqueness_module",
    "loss",
    "loss_ops",
    "loss_adj",
    "kl",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", nargs="+", default=list(PAPER), choices=sorted(MODEL_VARIANTS))
    p.add_argument("--preset", default="paper", choices=["paper", "default"])
    p.add_argument("--epochs", type=int, default=SPACE_DEFAULTS["nb101"]["epochs"])
    p.add_argument("--seed", type=int, default=SPACE_DEFAULTS["nb101"]["seed"])
    p.add_argument("--subset", type=int, default=None, help="first N cells only (default: all 423,624)")
    p.add_argument("--prior-samples", type=int, default=10_000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--data-dir", default=None, help="NB101 .tfrecord location (key order); default: enumeration"
    )
    p.add_argument("--runs", default="runs/nb101_table", help="one pretraining workdir per variant under it")
    p.add_argument(
        "--out", default="benchmarks/results/nb101_pretrain_table", help="writes OUT.json and OUT.md"
    )
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def run_variant(args: argparse.Namespace, variant: str) -> dict:
    """Pretrains one variant (resuming its workdir) and returns its table row."""
    subset = "all" if args.subset is None else str(args.subset)
    workdir = Path(args.runs) / f"{variant}-{args.preset}-e{args.epochs}-s{args.seed}-n{subset}"
    t0 = time.perf_counter()
    summary = run_pretraining(
        PretrainConfig(
            space="nb101",
            model=variant,
            preset=args.preset,
            epochs=args.epochs,
            seed=args.seed,
            batch_size=args.batch_size,
            prior_samples=args.prior_samples,
            workdir=str(workdir),
            data_dir=args.data_dir,
            subset=args.subset,
            progress=not args.no_progress,
        )
    )
    wall = time.perf_counter() - t0
    lines = [json.loads(ln) for ln in (workdir / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    epoch_s = [ln["epoch_s"] for ln in lines if "epoch_s" in ln]
    return {
        "variant": variant,
        "label": LABELS.get(variant, variant),
        "workdir": str(workdir),
        "num_train": summary["num_train"],
        "num_val": summary["num_val"],
        "order": summary["order"],
        "wall_s": wall,
        "epoch_s": epoch_s,
        "resumed_from_epoch": summary["resumed_from_epoch"],
        "per_epoch": [{k: ln.get(k) for k in ("epoch", *KEPT) if k in ln} for ln in lines],
        **{k: summary.get(k) for k in KEPT},
    }


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}"


def markdown(result: dict) -> str:
    """The table as Markdown: our numbers beside the paper's."""
    cfg = result["config"]
    scope = (
        f"all {result['rows'][0]['num_train'] + result['rows'][0]['num_val']:,} cells"
        if cfg["subset"] is None
        else f"**a subset: the first {cfg['subset']:,} cells** of the {result['rows'][0]['order']} order"
    )
    out = [
        "# NB101 pretraining table (paper Table, reference §9.3)",
        "",
        f"Preset `{cfg['preset']}`, {cfg['epochs']} epochs, seed {cfg['seed']}, batch {cfg['batch_size']}, "
        f"{cfg['prior_samples']:,} prior samples; {scope} (first 90 % train, last 10 % held out); "
        f"device {result['device']}. Numbers in %. Paper values are from memory (reference §9.3: verify).",
        "",
        "| model | recon. (paper) | acc_ops | acc_adj | exact | validity (paper) | validity | "
        "uniqueness (paper) | uniqueness | unique (module) | strict valid | s/epoch |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        paper = PAPER.get(r["variant"], {})
        per_epoch = sum(r["epoch_s"]) / len(r["epoch_s"]) if r["epoch_s"] else None
        out.append(
            f"| {r['label']} | {paper.get('reconstruction', '–')} | "
            f"{_pct(r['acc_ops'])} | {_pct(r['acc_adj'])} | "
            f"{_pct(r['recon_exact'])} | {paper.get('validity', '–')} | {_pct(r['validity'])} | "
            f"{paper.get('uniqueness', '–')} | {_pct(r['uniqueness'])} | {_pct(r['uniqueness_module'])} | "
            f"{_pct(r['validity_strict'])} | {'–' if per_epoch is None else f'{per_epoch:.0f}'} |"
        )
    out += [
        "",
        "- recon.: the paper's reconstruction accuracy; ours as the original computes it (reference §5): "
        "`acc_ops` (argmax op per node, padded rows included under `paper`), `acc_adj` (strict upper "
        "triangle, p̂ > 0.5), and `exact` (whole held-out graphs; no such metric in the original).",
        "- validity: the original's `is_valid(ModelSpec(triu(A), ops))` on "
        f"{cfg['prior_samples']:,} decodings of z ~ N(mean, std) fitted per (node, dim) to the epoch's "
        "train-mode μ; uniqueness: distinct "
        "`hash_module(A, ops)` of the decoded graphs over the valid ones (the original); unique (module): "
        "distinct benchmark module hashes after pruning; strict valid: the decoding is exactly a cell's "
        "layout (7 nodes, since a decoder's argmax has no padding op).",
        "- models (`a2v_jax.config.MODEL_VARIANTS`): arch2vec = GIN VAE; w/o KL = the same GIN as a plain "
        "autoencoder (z = μ, no KL term); GAE = Kipf & Welling GCN autoencoder; VGAE = GCN variational GAE "
        "with the KL term of the preset. Same decoder, loss reduction, optimiser and data for all.",
        "",
        f"Command: `{result['command']}`",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Runs the variants, writes the JSON and Markdown results."""
    args = parse_args(argv)
    enable_compilation_cache()
    rows = [run_variant(args, v) for v in args.variants]
    result = {
        "benchmark": "nb101_pretrain_table",
        "config": {
            k: getattr(args, k)
            for k in ("preset", "epochs", "seed", "subset", "prior_samples", "batch_size", "data_dir")
        },
        "device": device_name(),
        "command": "python benchmarks/nb101_pretrain_table.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "paper": PAPER,
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
