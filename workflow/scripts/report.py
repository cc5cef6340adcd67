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
import base64
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on cluster nodes and CI
import jinja2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from PIL import Image
from sklearn.metrics import ConfusionMatrixDisplay

from tlpipe import comparison as comparisons
from tlpipe import dvc_views, paths
from tlpipe.cli import add_runs_options
from tlpipe.comparison_tables import (
    decision_rule,
    describe_cell,
    labels,
    mcnemar_tables,
    pairs_table,
    statistics_table,
)
from tlpipe.comparison_tables import number as _number
from tlpipe.dataset import IMAGENET_MEAN, IMAGENET_STD
from tlpipe.fileio import PipelineError, atomic_open, atomic_path, read_json, run_cli, write_json
from tlpipe.markup import FILTERS as MARKDOWN_FILTERS
from tlpipe.strategies import REGISTRY
from tlpipe.verdict import basis_label, basis_short

log = logging.getLogger("report")

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "report"
MAX_MISCLASSIFIED = 8  # per strategy
#: Above this many classes the confusion matrices show colours only, no per-cell counts.
MAX_CLASSES_WITH_COUNTS = 12
#: Widest figure (inches) the HTML page shows at full size (1180 px at the PNG's 110 dpi).
PAGE_WIDTH_IN = 11.0
DPI = 110
#: summary.csv columns before and after the per-class F1 columns.
SUMMARY_HEAD = ("strategy", "seed", "eval_split", "eval_accuracy", "final_eval_accuracy",
                "eval_loss", "macro_f1", "roc_auc")  # fmt: skip
SUMMARY_TAIL = ("best_val_acc", "best_epoch", "final_val_acc", "epochs", "train_seconds",
                "peak_rss_mb", "trainable_parameters", "n_train", "n_eval")  # fmt: skip
PREDICTION_COLUMNS = ("path", "true", "predicted", "probability", "correct")


@dataclass(frozen=True)
class Run:
    """The files of one (strategy, seed) training run."""

    strategy: str
    seed: int
    train: dict[str, Any]
    evaluation: dict[str, Any]
    predictions: pd.DataFrame
    #: The last epoch's model on the same images (None for runs evaluated without it).
    final_predictions: pd.DataFrame | None = None


# --- reading -------------------------------------------------------------------------------


def read_predictions(path: Path) -> pd.DataFrame:
    """predictions.csv of one run, with a clear error when missing or incomplete."""
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise PipelineError(f"{path}: file not found; run the step that produces it") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise PipelineError(f"{path}: not a valid CSV ({err}); delete it and rerun") from None
    missing = [c for c in PREDICTION_COLUMNS if c not in table.columns]
    if missing:
        raise PipelineError(f"{path}: columns {missing} missing; rerun the evaluation")
    table["correct"] = table["correct"].map(_as_bool)
    return table


def _as_bool(value: Any) -> bool:
    """A CSV cell holding True/False (or 1/0) as a bool."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def load_run(runs_dir: Path, strategy: str, seed: int) -> Run:
    """Read one run's train.json, eval.json and predictions.csv; check they are that run's."""
    folder = paths.run_dir(runs_dir, strategy, seed)
    train = read_json(folder / paths.TRAIN_METRICS)
    evaluation = read_json(folder / paths.EVAL_METRICS)
    predictions = read_predictions(folder / paths.PREDICTIONS)
    final_path = folder / paths.FINAL_PREDICTIONS
    final = read_predictions(final_path) if final_path.exists() else None
    eval_seed = evaluation.get("seed")
    if eval_seed is None:  # older eval.json: the seed is in the checkpoint's provenance
        eval_seed = evaluation.get("provenance", {}).get("seed")
    for name, found in (
        (paths.TRAIN_METRICS, (train.get("strategy"), train.get("seed"))),
        (paths.EVAL_METRICS, (evaluation.get("strategy"), eval_seed)),
    ):
        if found[0] not in (None, strategy) or found[1] not in (None, seed):
            raise PipelineError(
                f"{folder / name}: holds strategy {found[0]}, seed {found[1]}, not "
                f"{strategy}, seed {seed}; rerun that run"
            )
    return Run(strategy, seed, train, evaluation, predictions, final)


def load_runs(runs_dir: Path, strategies: list[str], seeds: list[int]) -> list[Run]:
    """Every (strategy, seed) run, strategies in config order, seeds in config order."""
    return [load_run(runs_dir, s, seed) for s in strategies for seed in seeds]


def eval_split(runs: list[Run]) -> str:
    """The split every run was evaluated on (eval.json ``split``; older files: val)."""
    splits = {r.evaluation.get("split", "val") for r in runs}
    if len(splits) != 1:
        found = ", ".join(
            f"{r.strategy}/seed{r.seed}: {r.evaluation.get('split', 'val')}" for r in runs
        )
        raise PipelineError(
            f"runs were evaluated on different splits ({found}); rerun the evaluations"
        )
    return splits.pop()


def common_classes(runs: list[Run]) -> list[str]:
    """The class names every run was trained and evaluated with (they must agree)."""
    first = runs[0].train["class_names"]
    for r in runs:
        found = (r.train["class_names"], r.evaluation["confusion_matrix"]["labels"])
        if any(list(names) != list(first) for names in found):
            raise PipelineError(
                f"{r.strategy}, seed {r.seed}: classes {found[0]} differ from {first} "
                f"({runs[0].strategy}, seed {runs[0].seed}); train and evaluate every run on "
                "one dataset"
            )
    return list(first)


# --- tables and statistics -----------------------------------------------------------------


def summary_row(run: Run, split: str) -> dict[str, Any]:
    """One summary.csv row: the headline numbers of one run."""
    train, evaluation = run.train, run.evaluation
    row: dict[str, Any] = {
        "strategy": run.strategy,
        "seed": run.seed,
        "eval_split": split,
        "eval_accuracy": evaluation["accuracy"],
        "final_eval_accuracy": evaluation.get("final", {}).get("accuracy", np.nan),
        "eval_loss": evaluation["loss"],
        "macro_f1": evaluation["macro_f1"],
        "roc_auc": np.nan if evaluation.get("roc_auc") is None else evaluation["roc_auc"],
    }
    row.update({f"f1_{c}": v["f1"] for c, v in evaluation["per_class"].items()})
    peak = train.get("peak_rss_mb")
    row.update(
        best_val_acc=train["best_val_acc"],
        best_epoch=train["best_epoch"],
        final_val_acc=train["final_val_acc"],
        epochs=len(train["history"]),
        train_seconds=train["total_seconds"],
        peak_rss_mb=np.nan if peak is None else float(peak),
        trainable_parameters=train["parameters"]["trainable"],
        n_train=train["n_train"],
        n_eval=evaluation["n"],
    )
    return row


def summary_table(runs: list[Run], split: str) -> pd.DataFrame:
    """One row per (strategy, seed), written as metrics/summary.csv."""
    table = pd.DataFrame([summary_row(r, split) for r in runs])
    f1 = [c for c in table.columns if c.startswith("f1_")]
    return table[[*SUMMARY_HEAD, *f1, *SUMMARY_TAIL]]


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


def basis_accuracy(summary: pd.DataFrame, basis: dict[str, Any]) -> pd.Series:
    """Per run, the accuracy the verdict rests on (indexed by strategy and seed)."""
    column = "final_eval_accuracy" if basis["checkpoint"] == "final" else "eval_accuracy"
    return summary.set_index(["strategy", "seed"])[column]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def protocol(split: str, seeds: list[int], n_eval: int, basis: dict[str, Any]) -> str:
    """One line saying how the numbers were obtained."""
    runs = (
        f"{_count(len(seeds), 'seed')} per strategy ({'seed' if len(seeds) == 1 else 'seeds'} "
        f"{', '.join(map(str, seeds))}), paired by seed across strategies"
    )
    if basis["checkpoint"] == "final":
        scored = (
            f"the verdict scores the last-epoch models on {split}/ ({n_eval} images), which no "
            "score selected; the best-epoch figures, selected on val/, are shown as such"
        )
    elif split == "val":
        scored = (
            f"evaluated on val/ ({n_eval} images), the split that selected the checkpoint: "
            "optimistic (these runs have no last-epoch model; retrain to get one)"
        )
    else:
        scored = (
            f"evaluated on {split}/ ({n_eval} images), held out from training; the "
            "checkpoint (best epoch) is selected on val/"
        )
    return (
        f"{runs}; {scored}. Intervals of the verdict cover the training noise (seeds) and "
        "the sampling of the evaluation images."
    )


def runs_table(summary: pd.DataFrame, split: str) -> dict[str, Any]:
    """Every run's own numbers."""
    names = labels(split)
    headers = [
        "strategy",
        "seed",
        f"{names['eval_accuracy']}, %",
        f"{names['final_eval_accuracy']}, %",
        f"{names['best_val_acc']}, %",
        "best epoch",
        f"{names['final_val_acc']}, %",
        "training time (s)",
        "peak memory (MB)",
    ]
    rows = [
        [
            row.strategy,
            str(row.seed),
            _number(row.eval_accuracy, 100, 1),
            _number(row.final_eval_accuracy, 100, 1),
            _number(row.best_val_acc, 100, 1),
            f"{row.best_epoch} of {row.epochs}",
            _number(row.final_val_acc, 100, 1),
            _number(row.train_seconds, 1, 0),
            _number(row.peak_rss_mb, 1, 0),
        ]
        for row in summary.itertuples()
    ]
    return {"headers": headers, "rows": rows}


def per_class_table(summary: pd.DataFrame, class_names: list[str], split: str) -> dict[str, Any]:
    """Per class: F1 on the evaluated split, mean over seeds, per strategy."""
    means = summary.groupby("strategy", sort=False)[[f"f1_{c}" for c in class_names]].mean()
    title = labels(split)["macro_f1"].replace("macro F1", "F1")
    rows = [
        [c] + [_number(means.loc[s, f"f1_{c}"], 100, 1) for s in means.index] for c in class_names
    ]
    return {"headers": [f"class: {title}, %, mean over seeds", *means.index], "rows": rows}


def quality_table(quality: dict[str, Any], class_names: list[str]) -> dict[str, Any]:
    """Images per split (train, val and test when present) and class."""
    rows = [
        [split] + [str(counts.get(c, 0)) for c in class_names] + [str(counts["total"])]
        for split, counts in quality["counts"].items()
    ]
    return {"headers": ["split", *class_names, "total"], "rows": rows}


def shared_config(runs: list[Run]) -> tuple[dict[str, Any], list[str]]:
    """The settings of the first run without strategy and seed, and the keys that differ
    between runs (none when every run was trained with the same settings)."""
    ignore = {"strategy", "seed"}
    configs = [{k: v for k, v in r.train["config"].items() if k not in ignore} for r in runs]
    keys = sorted({k for c in configs for k in c})
    differs = [k for k in keys if any(c.get(k) != configs[0].get(k) for c in configs)]
    if differs:
        log.warning("settings differ between runs: %s", ", ".join(differs))
    return configs[0], differs


# --- misclassified images ------------------------------------------------------------------


def misclassified(
    runs: list[Run], strategies: list[str], data_dir: Path, limit: int = MAX_MISCLASSIFIED
) -> dict[str, dict[str, Any]]:
    """Per strategy: images wrong in at least one / in every seed, and the ``limit`` images
    wrong in the most seeds (``shown``, ties: the most confident mistakes first)."""
    found: dict[str, dict[str, Any]] = {}
    for strategy in strategies:
        own = [r for r in runs if r.strategy == strategy]
        table = pd.concat([r.predictions.assign(seed=r.seed) for r in own], ignore_index=True)
        wrong = table[~table["correct"]]
        grouped = (
            wrong.groupby("path")
            .agg(
                true=("true", "first"),
                predicted=("predicted", lambda s: s.mode().iloc[0]),
                wrong_in=("seed", "nunique"),
                probability=("probability", "mean"),
            )
            .reset_index()
            .sort_values(["wrong_in", "probability", "path"], ascending=[False, False, True])
        )
        found[strategy] = {
            "n_seeds": len(own),
            "seeds": _count(len(own), "seed"),
            "n_images": int(table["path"].nunique()),
            "any_seed": len(grouped),
            "every_seed": int((grouped["wrong_in"] == len(own)).sum()),
            "shown": [
                {
                    "path": row.path,
                    "true": row.true,
                    "predicted": row.predicted,
                    "wrong_in": int(row.wrong_in),
                    "probability": float(row.probability),
                    "uri": thumbnail_uri(data_dir / row.path),
                }
                for row in grouped.head(limit).itertuples()
            ],
        }
    return found


def open_image(path: Path) -> Image.Image:
    """An image listed in predictions.csv, as RGB; a clear error when it is gone."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except FileNotFoundError:
        raise PipelineError(
            f"{path}: image listed in predictions.csv not found; --data-dir must be the "
            "dataset the runs were evaluated on"
        ) from None


def thumbnail_uri(path: Path, size: int = 200) -> str:
    """A JPEG thumbnail of an image as a data: URI (keeps the page self-contained)."""
    image = open_image(path)
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


# --- figures -------------------------------------------------------------------------------


def strategy_colors(strategies: list[str]) -> dict[str, Any]:
    """A stable colour per strategy from its position in the config (tab10)."""
    palette = matplotlib.colormaps["tab10"].colors
    return {s: palette[i % len(palette)] for i, s in enumerate(strategies)}


def plot_strip(
    summary: pd.DataFrame, comparison: dict[str, Any], colors: dict[str, Any], split: str
) -> plt.Figure:
    """Per-seed accuracy per strategy, mean with confidence interval; grey lines join the
    runs of the same seed (the pairing of the comparison)."""
    strategies = list(colors)
    seeds = sorted(summary["seed"].unique())
    offsets = dict(
        zip(seeds, np.linspace(-0.08, 0.08, len(seeds)) if len(seeds) > 1 else [0.0], strict=True)
    )
    table = basis_accuracy(summary, comparison["basis"]) * 100
    fig, ax = plt.subplots(figsize=(max(4.5, 2.2 * len(strategies) + 1.5), 4.2))
    for seed in seeds:
        xs = [i - 0.12 + offsets[seed] for i, s in enumerate(strategies) if (s, seed) in table]
        ys = [table[(s, seed)] for s in strategies if (s, seed) in table]
        ax.plot(xs, ys, "-", color="0.6", lw=0.8, zorder=1)
    for i, strategy in enumerate(strategies):
        own = table.loc[strategy]
        xs = [i - 0.12 + offsets[s] for s in own.index]
        ax.scatter(xs, own.values, s=36, color=colors[strategy], edgecolor="white", zorder=3)
        entry = comparison["strategies"][strategy]["accuracy"]
        mean = entry["mean"] * 100
        err = [[mean - entry["ci_low"] * 100], [entry["ci_high"] * 100 - mean]]
        ax.errorbar(i + 0.15, mean, yerr=err, color="black", capsize=5, lw=1.2, zorder=2)
        ax.plot(i + 0.15, mean, "D", ms=8, color=colors[strategy], mec="black", zorder=4)
    level = f"{comparison['confidence'] * 100:g}%"
    ax.set_xticks(range(len(strategies)), strategies)
    ax.set_xlim(-0.6, len(strategies) - 0.4)
    ax.set_ylabel("accuracy, %", fontsize=9)
    ax.set_title(
        f"Per-seed accuracy, {basis_short(comparison['basis'])} ({_count(len(seeds), 'seed')})",
        fontsize=10,
    )
    ax.grid(axis="y", alpha=0.3)
    ax.legend(
        handles=[
            Line2D([], [], ls="", marker="o", color="0.4", label="one seed"),
            Line2D([], [], ls="-", color="0.6", lw=0.8, label="same seed"),
            Line2D(
                [], [], ls="-", marker="D", color="black", label=f"mean, {level} CI (seeds, images)"
            ),
        ],
        fontsize=8,
        loc="best",
    )
    fig.tight_layout()
    return fig


def learning_curve_bands(runs: list[Run]) -> pd.DataFrame:
    """Per strategy and epoch: mean, min and max over seeds of each history column."""
    history = pd.concat(
        [pd.DataFrame(r.train["history"]).assign(strategy=r.strategy, seed=r.seed) for r in runs],
        ignore_index=True,
    )
    columns = ["train_loss", "val_loss", "train_acc", "val_acc"]
    return history.groupby(["strategy", "epoch"], sort=False)[columns].agg(["mean", "min", "max"])


def plot_learning_curves(runs: list[Run], colors: dict[str, Any]) -> plt.Figure:
    """Loss and accuracy per epoch, train (dashed) and val (solid): mean over seeds with a
    min-max band, every strategy on the same axes."""
    bands = learning_curve_bands(runs)
    n_seeds = {s: sum(r.strategy == s for r in runs) for s in colors}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for strategy, color in colors.items():
        curves = bands.loc[strategy]
        for ax, metric, scale in zip(axes, ("loss", "acc"), (1, 100), strict=True):
            for split, style in (("train", "--"), ("val", "-")):
                column = f"{split}_{metric}"
                ax.plot(
                    curves.index,
                    curves[(column, "mean")] * scale,
                    style,
                    color=color,
                    label=f"{strategy} {split} ({_count(n_seeds[strategy], 'seed')})",
                )
                ax.fill_between(
                    curves.index,
                    curves[(column, "min")] * scale,
                    curves[(column, "max")] * scale,
                    color=color,
                    alpha=0.12,
                    lw=0,
                )
    axes[0].set(title="Cross-entropy loss", xlabel="epoch", ylabel="loss")
    axes[1].set(title="Accuracy", xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 102))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    axes[1].legend(
        loc="lower right", fontsize=8, title="mean; band: min–max over seeds", title_fontsize=8
    )
    fig.tight_layout()
    return fig


def summed_confusion(runs: list[Run], strategies: list[str]) -> dict[str, dict[str, Any]]:
    """Per strategy: the confusion matrix summed over its seeds (rows true, columns predicted)."""
    summed: dict[str, dict[str, Any]] = {}
    for strategy in strategies:
        own = [r for r in runs if r.strategy == strategy]
        class_labels = own[0].evaluation["confusion_matrix"]["labels"]
        matrix = sum(np.asarray(r.evaluation["confusion_matrix"]["matrix"]) for r in own)
        summed[strategy] = {"labels": class_labels, "matrix": matrix, "n_seeds": len(own)}
    return summed


def confusion_layout(class_labels: list[str]) -> dict[str, Any]:
    """Panel size, fonts and label rotation that keep ``len(class_labels)`` classes readable."""
    n = len(class_labels)
    grid = min(max(2.6, 0.42 * n), 10.0)  # inches for the cells; 0.42 in per class up to 10 in
    cell_pt = grid / n * 72
    longest = max(len(str(c)) for c in class_labels)
    tick_size = min(9.0, 0.7 * cell_pt)
    margin = 0.9 + 0.55 * tick_size / 72 * longest  # room for the longest tick label
    return {
        "size": (grid + margin + 0.4, grid + margin + 0.4),
        "tick_size": tick_size,
        "counts": n <= MAX_CLASSES_WITH_COUNTS,
        "count_size": 9 if n <= 6 else 7,
        "rotation": 90 if n > 4 or longest > 8 else 0,
    }


def plot_confusion_matrices(matrices: dict[str, dict[str, Any]]) -> plt.Figure:
    """One confusion matrix per strategy (summed over seeds). Panels grow with the number of
    classes and wrap into rows to fit the page; labels on x are vertical when crowded; above
    :data:`MAX_CLASSES_WITH_COUNTS` classes a colour bar replaces the per-cell counts."""
    first = next(iter(matrices.values()))
    layout = confusion_layout(first["labels"])
    width, height = layout["size"]
    ncols = max(1, min(len(matrices), int(PAGE_WIDTH_IN // width)))
    nrows = -(-len(matrices) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, layout="constrained"
    )
    for ax in axes.flat[len(matrices) :]:
        ax.axis("off")
    for ax, (strategy, found) in zip(axes.flat, matrices.items(), strict=False):
        display = ConfusionMatrixDisplay(found["matrix"], display_labels=found["labels"])
        display.plot(
            ax=ax,
            include_values=layout["counts"],
            cmap="Blues",
            colorbar=not layout["counts"],
            xticks_rotation=layout["rotation"],
            values_format="d",
            text_kw={"fontsize": layout["count_size"]},
        )
        ax.tick_params(labelsize=layout["tick_size"])
        ax.set(xlabel="predicted", ylabel="true")
        total = int(found["matrix"].sum())
        ax.set_title(
            f"{strategy}: {total} predictions, {_count(found['n_seeds'], 'seed')}", fontsize=10
        )
    return fig


def plot_cost_accuracy(
    summary: pd.DataFrame, colors: dict[str, Any], basis: dict[str, Any]
) -> plt.Figure:
    """Training time against accuracy, one point per run, the strategy means as diamonds."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    accuracy = basis_accuracy(summary, basis).to_numpy()
    for strategy, color in colors.items():
        mine = (summary["strategy"] == strategy).to_numpy()
        own = summary[mine]
        ax.scatter(
            own["train_seconds"],
            accuracy[mine] * 100,
            color=color,
            s=30,
            alpha=0.8,
            label=f"{strategy} (one run per seed)",
        )
        ax.plot(
            own["train_seconds"].mean(),
            accuracy[mine].mean() * 100,
            "D",
            ms=9,
            color=color,
            mec="black",
            label=f"{strategy} mean",
        )
    ax.set(xlabel="training time (s)")
    ax.set_ylabel("accuracy, %", fontsize=9)
    ax.set_title(f"Cost and accuracy, {basis_short(basis)}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def plot_misclassified(wrong: dict[str, dict[str, Any]], data_dir: Path) -> plt.Figure | None:
    """One row of the most often misclassified images per strategy (for the Markdown)."""
    items = {strategy: found["shown"] for strategy, found in wrong.items()}
    if not any(items.values()):
        return None
    n_cols = max(len(row) for row in items.values())
    fig, axes = plt.subplots(
        len(items), n_cols, figsize=(1.9 * n_cols, 2.5 * len(items)), squeeze=False
    )
    for axes_row, (strategy, row) in zip(axes, items.items(), strict=True):
        for ax in axes_row:
            ax.axis("off")
        for ax, item in zip(axes_row, row, strict=False):
            image = open_image(data_dir / item["path"])
            image.thumbnail((256, 256))
            ax.imshow(image)
            seeds = wrong[strategy]["seeds"]
            ax.set_title(
                f"{item['true']} → {item['predicted']}\nwrong in {item['wrong_in']} of {seeds}",
                fontsize=8,
            )
        axes_row[0].text(
            -0.1,
            0.5,
            strategy,
            transform=axes_row[0].transAxes,
            rotation=90,
            ha="right",
            va="center",
            fontsize=9,
        )
    fig.tight_layout()
    return fig


def save_figure(fig: plt.Figure, path: Path) -> bytes:
    """Write a figure as PNG (atomically) and return the PNG bytes for embedding."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    data = buffer.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return data


def make_figures(
    figures: dict[str, plt.Figure | None], figures_dir: Path, markdown: Path
) -> dict[str, dict[str, str]]:
    """Save each figure to ``figures_dir``; return its data: URI and its path from the
    Markdown file. A None figure is not drawn (and a stale PNG of that name removed)."""
    out = {}
    for name, fig in figures.items():
        path = figures_dir / f"{name}.png"
        if fig is None:  # e.g. no misclassified image: drop the previous run's figure
            path.unlink(missing_ok=True)
            continue
        png = save_figure(fig, path)
        out[name] = {
            "uri": "data:image/png;base64," + base64.b64encode(png).decode(),
            "file": Path(os.path.relpath(path, markdown.parent)).as_posix(),
        }
    return out


# --- rendering -----------------------------------------------------------------------------


def write_pages(context: dict[str, Any], html: Path, markdown: Path) -> None:
    """Render the HTML and Markdown templates with the same context: every value is
    escaped in the HTML (autoescape, by the template's name *.html.j2), and where it comes
    from the data in the Markdown (the ``md`` filters)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(MARKDOWN_FILTERS)
    for template, out in (("comparison.html.j2", html), ("comparison.md.j2", markdown)):
        with atomic_open(out, "w", encoding="utf-8") as handle:
            handle.write(env.get_template(template).render(**context))


def subtitle(train: dict[str, Any], quality: dict[str, Any], n_seeds: int) -> str:
    """Architecture, classes, images per split and number of seeds, in one line."""
    classes = train["class_names"]
    shown = " / ".join(classes) if len(classes) <= 6 else f"{len(classes)} classes"
    counts = ", ".join(f"{c['total']} {split}" for split, c in quality["counts"].items())
    arch = train["config"].get("arch", "model")
    return f"{arch} · {shown} · {counts} images · {_count(n_seeds, 'seed')} per strategy"


# --- model cards ---------------------------------------------------------------------------

#: What the model card's loading snippet becomes, filled in per strategy (tested).
SNIPPET = """\
import torch
import torchvision
from PIL import Image
from torchvision.transforms import v2

checkpoint = torch.load("{model}", map_location="cpu", weights_only=True)
model = torchvision.models.get_model("{arch}", num_classes={n_classes})
model.load_state_dict(checkpoint["state_dict"])
model.eval()
preprocess = v2.Compose([
    v2.ToImage(),
    v2.Resize({resize}, antialias=True),
    v2.CenterCrop({crop}),
    v2.ToDtype(torch.float32, scale=True),
    v2.Normalize(mean={mean}, std={std}),
])
image = Image.open("my_image.jpg").convert("RGB")
with torch.no_grad():
    probabilities = model(preprocess(image).unsqueeze(0)).softmax(dim=1)[0]
print(dict(zip(checkpoint["class_names"], probabilities.tolist())))"""


def model_card_context(
    strategy: str, runs: list[Run], comparison: dict[str, Any], quality: dict[str, Any],
    split: str,
) -> dict[str, Any]:  # fmt: skip
    """What the model card of one strategy shows, from its runs and the statistics."""
    own = [r for r in runs if r.strategy == strategy]
    train, numbers = own[0].train, comparison["strategies"][strategy]
    settings = {
        k: v for k, v in train["config"].items() if k not in ("strategy", "seed", "data_dir")
    }
    transform = {"crop_size": settings["crop_size"], "resize_size": settings["resize_size"]}
    models = [paths.MODEL.format(strategy=strategy, seed=r.seed) for r in own]
    names = labels(split)
    level = f"{comparison['confidence'] * 100:g}%"
    accuracy = numbers["accuracy"]
    results = [
        {
            "name": f"accuracy: {basis_label(comparison['basis'])}",
            "value": _number(accuracy["mean"]),
            "ci": f"[{_number(accuracy['ci_low'])}, {_number(accuracy['ci_high'])}] "
            "over seeds and images",
        }
    ]
    for metric in ("eval_accuracy", "final_eval_accuracy", "macro_f1", "best_val_acc",
                   "train_seconds"):  # fmt: skip
        cell = describe_cell(numbers[metric], metric).split(" [")
        if cell[0] == "n/a":
            continue
        results.append(
            {
                "name": names[metric],
                "value": cell[0],
                "ci": f"[{cell[1]} over seeds only" if len(cell) > 1 else "n/a",
            }
        )
    caveat = (
        "Selection on val: with no test/ split, the best-epoch checkpoint (the model this card "
        "describes) was chosen on the same val/ images its accuracy is measured on, so that "
        "figure is optimistic; the comparison rests on the last-epoch models, which no "
        "score selected."
        if split == "val"
        else f"The checkpoint was chosen on val/; the accuracy is measured on {split}/, "
        "images that played no part in training or selection."
    )
    return {
        "strategy": strategy, "summary": REGISTRY[strategy].summary, "arch": settings["arch"],
        "class_names": train["class_names"], "parameters": train["parameters"],
        "config": settings, "settings": settings, "transform": transform,
        "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "quality": quality,
        "seeds": [r.seed for r in own], "n_seeds": len(own), "models": models,
        "results": results, "level": level, "caveat": caveat, "verdict": comparison["verdict"],
        "n_eval": int(own[0].evaluation["n"]), "provenance": train["provenance"],
        "snippet": SNIPPET.format(
            model=models[0], arch=settings["arch"], n_classes=len(train["class_names"]),
            resize=transform["resize_size"], crop=transform["crop_size"],
            mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD),
        ),
    }  # fmt: skip


def write_model_cards(contexts: dict[str, dict[str, Any]], folder: Path) -> None:
    """reports/model_card_<strategy>.md for each strategy."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )  # fmt: skip
    env.filters.update(MARKDOWN_FILTERS)
    template = env.get_template("model_card.md.j2")
    for strategy, context in contexts.items():
        path = folder / Path(paths.MODEL_CARD.format(strategy=strategy)).name
        with atomic_open(path, "w", encoding="utf-8") as handle:
            handle.write(template.render(**context))


def render(args: argparse.Namespace) -> dict[str, Any]:
    """Read the runs, write summary.csv, comparison.json, the figures and both pages."""
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

    colors = strategy_colors(strategies)
    wrong = misclassified(runs, strategies, args.data_dir)
    figures = make_figures(
        {
            "strip_plot": plot_strip(summary, comparison, colors, split),
            "learning_curves": plot_learning_curves(runs, colors),
            "confusion_matrices": plot_confusion_matrices(summed_confusion(runs, strategies)),
            "cost_accuracy": plot_cost_accuracy(summary, colors, comparison["basis"]),
            "misclassified": plot_misclassified(wrong, args.data_dir),
        },
        args.out_figures,
        args.out_markdown,
    )
    config_shared, config_differs = shared_config(runs)
    context = {
        "title": "Transfer learning: " + " vs ".join(strategies),
        "subtitle": subtitle(runs[0].train, quality, len(seeds)),
        "verdict": comparison["verdict"],
        "protocol": protocol(split, seeds, int(runs[0].evaluation["n"]), comparison["basis"]),
        "split": split,
        "eval_label": basis_label(comparison["basis"]),
        "level": f"{comparison['confidence'] * 100:g}%",
        "statistics": statistics_table(comparison, split),
        "pairs": pairs_table(comparison),
        "decision_rule": decision_rule(comparison),
        "mcnemar": mcnemar_tables(comparison),
        "runs": runs_table(summary, split),
        "per_class": per_class_table(summary, class_names, split),
        "figures": figures,
        "misclassified": wrong,
        "quality": quality,
        "quality_table": quality_table(quality, class_names),
        "strategies": strategies,
        "config": config_shared,
        "config_differs": config_differs,
        "provenance": runs[0].train["provenance"],
        "provenance_of": f"{runs[0].strategy}, seed {runs[0].seed}",
    }
    cards = {s: model_card_context(s, runs, comparison, quality, split) for s in strategies}
    context["model_cards"] = {
        s: os.path.relpath(args.out_model_cards / Path(paths.MODEL_CARD.format(strategy=s)).name,
                           args.out_html.parent)
        for s in strategies
    }  # fmt: skip
    write_model_cards(cards, args.out_model_cards)
    write_pages(context, args.out_html, args.out_markdown)
    log.info("%s", comparison["verdict"])
    log.info("report: %s", args.out_html)
    return comparison


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
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
    render(args)


if __name__ == "__main__":
    run_cli(main, get_args_parser().parse_args())
