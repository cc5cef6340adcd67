"""Every picture of the report: the five matplotlib figures and the misclassified images.

The figures are written as PNG files (the Markdown links them) and returned as data:
URIs (the HTML embeds them, so it opens offline); the misclassified images become JPEG
thumbnails in the HTML. matplotlib is imported here only, with the Agg backend: there is
no display on cluster nodes and CI, and nothing else in the pipeline needs it.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on cluster nodes and CI
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from PIL import Image
from sklearn.metrics import ConfusionMatrixDisplay

from tlpipe.dataset import load_rgb
from tlpipe.errors import PipelineError
from tlpipe.fileio import atomic_path
from tlpipe.runs import Run, runs_of
from tlpipe.tables import confidence_level
from tlpipe.verdict import basis_short, plural

MAX_MISCLASSIFIED = 8  # per strategy
#: Above this many classes the confusion matrices show colours only, no per-cell counts.
MAX_CLASSES_WITH_COUNTS = 12
#: Widest figure (inches) the HTML page shows at full size (1180 px at the PNG's 110 dpi).
PAGE_WIDTH_IN = 11.0
DPI = 110


def basis_accuracy(summary: pd.DataFrame, basis: dict[str, Any]) -> pd.Series:
    """Per run, the accuracy the verdict rests on (indexed by strategy and seed)."""
    column = "final_eval_accuracy" if basis["checkpoint"] == "final" else "eval_accuracy"
    return summary.set_index(["strategy", "seed"])[column]


# --- misclassified images ------------------------------------------------------------------


def misclassified(
    runs: list[Run], strategies: list[str], data_dir: Path, limit: int = MAX_MISCLASSIFIED
) -> dict[str, dict[str, Any]]:
    """Per strategy: images wrong in at least one / in every seed, and the ``limit`` images
    wrong in the most seeds (``shown``, ties: the most confident mistakes first)."""
    found: dict[str, dict[str, Any]] = {}
    for strategy in strategies:
        own = runs_of(runs, strategy)
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
            "seeds": plural(len(own), "seed"),
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
    """An image listed in predictions.csv, as RGB; a clear error when it is gone (the
    dataset is not the one the runs were evaluated on) or cannot be decoded."""
    if not path.is_file():
        raise PipelineError(
            f"{path}: image listed in predictions.csv not found; --data-dir must be the "
            "dataset the runs were evaluated on"
        )
    return load_rgb(path)


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
    summary: pd.DataFrame, comparison: dict[str, Any], colors: dict[str, Any]
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
    level = confidence_level(comparison)
    ax.set_xticks(range(len(strategies)), strategies)
    ax.set_xlim(-0.6, len(strategies) - 0.4)
    ax.set_ylabel("accuracy, %", fontsize=9)
    ax.set_title(
        f"Per-seed accuracy, {basis_short(comparison['basis'])} ({plural(len(seeds), 'seed')})",
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
                    label=f"{strategy} {split} ({plural(n_seeds[strategy], 'seed')})",
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
        own = runs_of(runs, strategy)
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
            f"{strategy}: {total} predictions, {plural(found['n_seeds'], 'seed')}", fontsize=10
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


def report_figures(
    runs: list[Run], strategies: list[str], summary: pd.DataFrame, comparison: dict[str, Any],
    wrong: dict[str, dict[str, Any]], data_dir: Path,
) -> dict[str, plt.Figure | None]:  # fmt: skip
    """The report's figures by name (their PNG files' names), each strategy in the colour
    of its position; ``wrong``: :func:`misclassified`."""
    colors = strategy_colors(strategies)
    return {
        "strip_plot": plot_strip(summary, comparison, colors),
        "learning_curves": plot_learning_curves(runs, colors),
        "confusion_matrices": plot_confusion_matrices(summed_confusion(runs, strategies)),
        "cost_accuracy": plot_cost_accuracy(summary, colors, comparison["basis"]),
        "misclassified": plot_misclassified(wrong, data_dir),
    }
