"""``python -m a2v_jax.report RESULT.json [...] --out DIR``: figures and a table of searches.

Reads the JSON reports of ``python -m a2v_jax.search`` and writes ``report.md``, ``curves.png``
and ``final.png`` into ``DIR`` (:mod:`a2v_jax.analysis.report`). Needs matplotlib:
``pip install 'a2v_jax[report]'``.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Writes the report; ``error: ...`` and exit 2 for a file that is not a readable search report."""
    p = argparse.ArgumentParser(prog="python -m a2v_jax.report", description=__doc__.splitlines()[0])
    p.add_argument("reports", nargs="+", help="search report JSON files (python -m a2v_jax.search --out)")
    p.add_argument("--out", required=True, help="output directory")
    args = p.parse_args(argv)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("error: the report command needs matplotlib: pip install 'a2v_jax[report]'", file=sys.stderr)
        return 2
    from a2v_jax.analysis.report import ReportError, write_report

    try:
        files = write_report(args.reports, args.out)
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in files.values():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
