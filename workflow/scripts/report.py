#!/usr/bin/env python
"""Render the replicated, paired comparison of the strategies: HTML, Markdown, CSV and JSON.

    python workflow/scripts/report.py --strategies finetune feature_extract --seeds 1 2 3 \\
        --runs-dir metrics/runs --data-quality metrics/data_quality.json \\
        --data-dir data/hymenoptera_data \\
        --out-html reports/comparison.html --out-markdown reports/comparison.md \\
        --out-figures reports/figures --out-summary metrics/summary.csv \\
        --out-comparison metrics/comparison.json --out-metrics metrics/metrics.json \\
        --out-plots metrics/plots --out-model-cards reports

The runs to read (every strategy x seed) are given on the command line, and found in
``--runs-dir``: DVC cannot depend on a folder that holds its own outputs, so the report
depends on ``metrics/runs``, the folder of every run's metrics.

The HTML embeds every figure as a data: URI, so it opens offline and can be mailed as one
file; the Markdown links the same figures as PNG files in ``--out-figures`` (git hosts do
not show data: URIs). Statistics come from :mod:`tlpipe.stats`; accuracies are fractions
in the files and percentages (differences: percentage points) on the page.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from tlpipe import comparison as comparisons
from tlpipe import dvc_views, paths
from tlpipe.cli import add_runs_options
from tlpipe.errors import PipelineError
from tlpipe.figures import make_figures, misclassified, report_figures
from tlpipe.fileio import atomic_open, read_json, write_json
from tlpipe.model_card import card_file, model_card_context, write_model_cards
from tlpipe.pages import Report, comparison_page, relative_links, write_pages
from tlpipe.runner import run_cli
from tlpipe.runs import Run, common_classes, eval_split, load_runs
from tlpipe.tables import summary_table

log = logging.getLogger("report")


def verdict_basis(runs: list[Run], split: str) -> tuple[dict[str, Any], dict]:
    """What the verdict rests on, and its per-image outcomes per (strategy, seed).

    A test split: the best-epoch models (selected on val) scored on test. Val only: the
    last-epoch models, which no score selected, scored on val; runs evaluated before
    final.pt existed fall back to the best-epoch models, labelled as selected on val.
    """
    if split == "val" and all(r.final_predictions is not None for r in runs):
        basis = {"split": split, "checkpoint": "final", "selected_on": None}
        tables = {(r.strategy, r.seed): r.final_predictions for r in runs}
    else:
        basis = {"split": split, "checkpoint": "best", "selected_on": "val"}
        tables = {(r.strategy, r.seed): r.predictions for r in runs}
    outcomes = {key: t.set_index("path")["correct"].astype(bool) for key, t in tables.items()}
    return basis, outcomes


def compare_runs(
    summary: pd.DataFrame, runs: list[Run], strategies: list[str], split: str, margin: float
) -> dict[str, Any]:
    """:func:`tlpipe.comparison.compare` of the runs on the verdict's basis."""
    basis, outcomes = verdict_basis(runs, split)
    try:
        comparison = comparisons.compare(
            summary, outcomes, basis, strategies=strategies, margin_points=margin
        )
    except ValueError as err:
        raise PipelineError(f"cannot compare the runs: {err}") from None
    # `dvc metrics show/diff` only reads numbers in nested mappings, not in lists: the
    # headline numbers of every pair again, keyed by pair.
    comparison["differences"] = {
        f"{p['a']}_vs_{p['b']}": {
            "difference_points": p["difference_points"]["estimate"],
            "ci_low_points": p["difference_points"]["ci_low"],
            "ci_high_points": p["difference_points"]["ci_high"],
            "p_value_adjusted": p["difference"]["p_value_adjusted"],
        }
        for p in comparison["pairs"]
        if p.get("n_seeds")
    }
    return comparison


def render(args: argparse.Namespace) -> dict[str, Any]:
    """Read the runs, write summary.csv, comparison.json, the figures, both pages and the
    model cards; return the comparison."""
    strategies, seeds = list(args.strategies), list(args.seeds)
    runs = load_runs(args.runs_dir, strategies, seeds)
    quality = read_json(args.data_quality)
    split = eval_split(runs)
    class_names = common_classes(runs)

    summary = summary_table(runs, split)
    with atomic_open(args.out_summary, "w", encoding="utf-8", newline="") as handle:
        summary.to_csv(handle, index=False)
    comparison = compare_runs(summary, runs, strategies, split, args.margin)
    write_json(args.out_comparison, comparison)
    dvc_views.write_views(runs, summary, comparison, args.out_metrics, args.out_plots)

    wrong = misclassified(runs, strategies, args.data_dir)
    figures = make_figures(
        report_figures(runs, strategies, summary, comparison, wrong, args.data_dir),
        args.out_figures,
        args.out_markdown,
    )
    cards = {s: card_file(args.out_model_cards, s) for s in strategies}
    report = Report(
        runs=runs, strategies=strategies, seeds=seeds, split=split, class_names=class_names,
        summary=summary, comparison=comparison, quality=quality, figures=figures,
        misclassified=wrong, model_cards=relative_links(cards, args.out_html),
    )  # fmt: skip
    write_model_cards(
        {s: model_card_context(s, runs, comparison, quality, split) for s in strategies},
        args.out_model_cards,
    )
    write_pages(comparison_page(report), args.out_html, args.out_markdown)
    log.info("%s", comparison["verdict"])
    log.info("report: %s", args.out_html)
    return comparison


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    """The report's command line (report.smk's rule and dvc.yaml's stage give it)."""
    parser = argparse.ArgumentParser(
        description=__doc__, add_help=add_help, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_runs_options(parser)
    parser.add_argument(
        "--runs-dir",
        type=Path,
        default=Path(paths.RUNS_DIR),
        help=f"folder of <strategy>/seed<k>/ run metrics (default: {paths.RUNS_DIR})",
    )
    parser.add_argument(
        "--data-quality", type=Path, required=True, help="data_quality.json of prepare_data.py"
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="ImageFolder root (images)")
    parser.add_argument("--out-html", type=Path, required=True, help="HTML page to write")
    parser.add_argument("--out-markdown", type=Path, required=True, help="Markdown to write")
    parser.add_argument(
        "--out-figures", type=Path, required=True, help="folder for the PNG figures"
    )
    parser.add_argument(
        "--out-summary", type=Path, required=True, help="CSV to write, one row per run"
    )
    parser.add_argument(
        "--out-comparison", type=Path, required=True, help="statistics JSON to write"
    )
    parser.add_argument(
        "--out-metrics",
        type=Path,
        default=None,
        help="JSON of the headline numbers per strategy and pair, what `dvc metrics show` "
        "reads (default: not written)",
    )
    parser.add_argument(
        "--out-plots",
        type=Path,
        default=None,
        help="folder for the data `dvc plots show` reads: learning_curves.csv, "
        "confusion.csv, seed_accuracy.csv (default: not written)",
    )
    parser.add_argument(
        "--out-model-cards", type=Path, required=True, help="folder for model_card_<strategy>.md"
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=comparisons.MARGIN_POINTS,
        help="equivalence margin in percentage points: a pair whose difference lies "
        f"within it is called equivalent (default: {comparisons.MARGIN_POINTS:g})",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser


def main(args: argparse.Namespace) -> None:
    """Write the report of ``args`` (see :func:`render`)."""
    render(args)


if __name__ == "__main__":
    run_cli(main, get_args_parser().parse_args())
