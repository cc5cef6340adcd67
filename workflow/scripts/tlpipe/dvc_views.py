"""What DVC shows: the few metrics compared across experiments, and the plots' data.

``dvc metrics show`` / ``dvc exp show`` read ``metrics/metrics.json`` (:func:`headline`):
per strategy the accuracy the verdict rests on with its interval, the training time and
the peak memory; per pair of strategies the difference in percentage points, its
interval and the decision. Everything else (provenance, config echoes, per-class
numbers, per-run files) stays in the pipeline's other outputs, out of those tables.

``dvc plots show`` / ``dvc plots diff`` read long-format CSV files with fixed names in
``metrics/plots/`` (:data:`PLOT_FILES`), one row per observation, whatever the strategies
and seeds: dvc.yaml's ``plots:`` names the files, and the templates in ``.dvc/plots/``
colour by strategy and draw each seed (and, in a diff, each revision) apart.

Accuracies are fractions, as in every file of the pipeline; differences are percentage
points, as in comparison.json.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from tlpipe.fileio import atomic_open, write_json
from tlpipe.paths import PLOT_DATA

#: File name (in the plots folder: tlpipe.paths.PLOT_DATA) -> its columns.
PLOT_FILES = dict(
    zip(
        PLOT_DATA,
        (
            ("strategy", "seed", "epoch", "val_acc", "train_loss"),
            ("strategy", "seed", "true", "predicted"),
            ("strategy", "seed", "checkpoint", "accuracy"),
        ),
        strict=True,
    )
)


class RunFiles(Protocol):
    """What is read of one (strategy, seed) run (report.py's ``Run``)."""

    strategy: str
    seed: int
    train: dict[str, Any]
    predictions: pd.DataFrame


def headline(comparison: Mapping[str, Any], runs: Sequence[RunFiles]) -> dict[str, Any]:
    """metrics/metrics.json: per strategy ``accuracy`` with its interval ``ci_low``,
    ``ci_high`` (comparison.json's, over seeds and images; fractions), ``train_minutes``
    (mean over seeds) and ``peak_mb`` (the largest peak memory of its seeds); per pair
    ``<a>_vs_<b>``: ``diff_points`` (a minus b, percentage points), its interval
    ``ci_low_points``, ``ci_high_points``, and ``decision`` (a word: DVC shows strings).
    Short names keep `dvc metrics show` narrow. A None is left out (DVC would not show
    it)."""
    result: dict[str, Any] = {}
    for strategy, summary in comparison["strategies"].items():
        own = [r.train for r in runs if r.strategy == strategy]
        accuracy = summary["accuracy"]
        peaks = [t["peak_rss_mb"] for t in own if t.get("peak_rss_mb") is not None]
        result[strategy] = _without_none(
            {
                "accuracy": accuracy["mean"],
                "ci_low": accuracy["ci_low"],
                "ci_high": accuracy["ci_high"],
                "train_minutes": (
                    round(sum(t["total_seconds"] for t in own) / len(own) / 60, 2) if own else None
                ),
                "peak_mb": max(peaks) if peaks else None,
            }
        )
    for pair in comparison["pairs"]:
        difference = pair.get("difference_points") or {}
        result[f"{pair['a']}_vs_{pair['b']}"] = _without_none(
            {
                "diff_points": difference.get("estimate"),
                "ci_low_points": difference.get("ci_low"),
                "ci_high_points": difference.get("ci_high"),
                "decision": pair["decision"],
            }
        )
    return result


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def learning_curve_rows(runs: Iterable[RunFiles]) -> list[dict[str, Any]]:
    """Per run and epoch (train.json's history): validation accuracy and training loss."""
    return [
        {
            "strategy": run.strategy,
            "seed": run.seed,
            "epoch": epoch["epoch"],
            "val_acc": epoch["val_acc"],
            "train_loss": epoch["train_loss"],
        }
        for run in runs
        for epoch in run.train["history"]
    ]


def confusion_rows(runs: Iterable[RunFiles]) -> list[dict[str, Any]]:
    """Per run and evaluation image (predictions.csv, the checkpoint chosen on val, as
    eval.json's confusion matrix): the true and the predicted class."""
    return [
        {"strategy": run.strategy, "seed": run.seed, "true": true, "predicted": predicted}
        for run in runs
        for true, predicted in zip(
            run.predictions["true"], run.predictions["predicted"], strict=True
        )
    ]


def seed_accuracy_rows(summary: pd.DataFrame, basis: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per run (a summary.csv row), the accuracy the verdict rests on: the last epoch's
    model (``checkpoint`` final) or the one chosen on val (best), as comparison.json's
    ``basis`` says."""
    checkpoint = basis["checkpoint"]
    column = "final_eval_accuracy" if checkpoint == "final" else "eval_accuracy"
    return [
        {"strategy": row.strategy, "seed": int(row.seed), "checkpoint": checkpoint,
         "accuracy": float(getattr(row, column))}
        for row in summary.itertuples(index=False)
    ]  # fmt: skip


def write_rows(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """A CSV with a header (atomically): the values as Python writes them (``repr`` of a
    float, so they read back equal)."""
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_views(
    runs: Sequence[RunFiles],
    summary: pd.DataFrame,
    comparison: Mapping[str, Any],
    metrics_path: Path | None,
    plots_dir: Path | None,
) -> None:
    """Write metrics/metrics.json and the plots' CSV files (:data:`PLOT_FILES`) in
    ``plots_dir`` (either left out when None)."""
    if metrics_path is not None:
        write_json(metrics_path, headline(comparison, runs))
    if plots_dir is None:
        return
    rows = {
        "learning_curves.csv": learning_curve_rows(runs),
        "confusion.csv": confusion_rows(runs),
        "seed_accuracy.csv": seed_accuracy_rows(summary, comparison["basis"]),
    }
    for name, columns in PLOT_FILES.items():
        write_rows(plots_dir / name, columns, rows[name])
