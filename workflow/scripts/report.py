#!/usr/bin/env python
"""Render the strategy comparison: a self-contained HTML page, Markdown and a CSV summary.

    python workflow/scripts/report.py --metrics-dir metrics \\
        --strategies finetune feature_extract --data-dir data/hymenoptera_data \\
        --out-html reports/comparison.html --out-markdown reports/comparison.md \\
        --out-summary metrics/summary.csv

The HTML embeds every figure as a data: URI, so it opens offline and can be mailed as
one file; the Markdown links the same figures as PNG files next to it (git hosts do
not show data: URIs).
"""

from __future__ import annotations

import argparse
import base64
import io
import logging
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on cluster nodes and CI
import jinja2
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator
from PIL import Image

from tlpipe.fileio import atomic_open, atomic_path, read_json, run_cli

log = logging.getLogger("report")

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "report"
MAX_MISCLASSIFIED = 8  # per strategy
COLORS = {"finetune": "tab:blue", "feature_extract": "tab:orange"}


def load_results(metrics_dir: Path, strategies: list[str]) -> dict[str, dict[str, Any]]:
    """Training metrics, evaluation metrics and predictions of each strategy."""
    return {
        s: {
            "train": read_json(metrics_dir / s / "train.json"),
            "eval": read_json(metrics_dir / s / "eval.json"),
            "predictions": pd.read_csv(metrics_dir / s / "predictions.csv"),
        }
        for s in strategies
    }


def summary_table(results: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per strategy with the headline numbers (also written as metrics/summary.csv)."""
    rows = []
    for strategy, r in results.items():
        train, evaluation = r["train"], r["eval"]
        row = {
            "strategy": strategy,
            "best_val_acc": train["best_val_acc"],
            "best_epoch": train["best_epoch"],
            "final_val_acc": train["final_val_acc"],
            "eval_accuracy": evaluation["accuracy"],
            "eval_loss": evaluation["loss"],
            "roc_auc": evaluation["roc_auc"],
            "macro_f1": evaluation["macro_f1"],
        }
        row.update({f"f1_{c}": v["f1"] for c, v in evaluation["per_class"].items()})
        row.update(
            epochs=len(train["history"]),
            train_seconds=train["total_seconds"],
            trainable_parameters=train["parameters"]["trainable"],
            n_train=train["n_train"],
            n_val=evaluation["n"],
        )
        rows.append(row)
    return pd.DataFrame(rows)


def conclusion(summary: pd.DataFrame) -> str:
    """A plain-language verdict computed from the numbers: who won, by how much, at what cost."""
    if len(summary) == 1:
        row = summary.iloc[0]
        return (
            f"Only {row.strategy} was trained: {row.eval_accuracy:.1%} validation accuracy "
            f"in {row.train_seconds:.0f} s."
        )
    ranked = summary.sort_values(
        ["eval_accuracy", "roc_auc", "train_seconds"], ascending=[False, False, True]
    )
    best, runner_up = ranked.iloc[0], ranked.iloc[1]
    gap = (best.eval_accuracy - runner_up.eval_accuracy) * 100
    if gap == 0:
        verdict = (
            f"{best.strategy} and {runner_up.strategy} reach the same validation accuracy "
            f"({best.eval_accuracy:.1%}); {best.strategy} ranks first on ROC-AUC or time."
        )
    else:
        verdict = (
            f"{best.strategy} wins with {best.eval_accuracy:.1%} validation accuracy, "
            f"{gap:.1f} percentage points above {runner_up.strategy} "
            f"({runner_up.eval_accuracy:.1%})."
        )
    ratio = best.train_seconds / max(runner_up.train_seconds, 1e-9)
    cost = (
        f"{ratio:.1f}x the training time of {runner_up.strategy}"
        if ratio >= 1
        else f"{1 / ratio:.1f}x less training time than {runner_up.strategy}"
    )
    return (
        f"{verdict} It trained {best.trainable_parameters:,} parameters in "
        f"{best.train_seconds:.0f} s over {best.epochs} epochs, {cost} "
        f"({runner_up.trainable_parameters:,} parameters, {runner_up.train_seconds:.0f} s)."
    )


def misclassified(
    results: dict[str, dict[str, Any]], data_dir: Path, limit: int = MAX_MISCLASSIFIED
) -> dict[str, dict[str, Any]]:
    """Per strategy: how many val images are wrong, and the most confident mistakes
    (``shown``) with an embeddable thumbnail."""
    items: dict[str, dict[str, Any]] = {}
    for strategy, r in results.items():
        table = r["predictions"]
        wrong = table[~table.correct.astype(bool)].sort_values("probability", ascending=False)
        items[strategy] = {"total": len(wrong), "shown": [
            {
                "path": row.path,
                "true": row.true,
                "predicted": row.predicted,
                "probability": float(row.probability),
                "uri": thumbnail_uri(data_dir / row.path),
            }
            for row in wrong.head(limit).itertuples()
        ]}  # fmt: skip
    return items


def thumbnail_uri(path: Path, size: int = 200) -> str:
    """A JPEG thumbnail of an image as a data: URI (keeps the page self-contained)."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((size, size))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def plot_learning_curves(results: dict[str, dict[str, Any]]) -> plt.Figure:
    """Loss and accuracy per epoch, train (dashed) and val (solid), on shared axes."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for strategy, r in results.items():
        history = pd.DataFrame(r["train"]["history"])
        color = COLORS.get(strategy)
        for ax, metric in zip(axes, ("loss", "acc"), strict=True):
            ax.plot(
                history.epoch,
                history[f"train_{metric}"],
                "--",
                color=color,
                label=f"{strategy} train",
            )
            ax.plot(
                history.epoch,
                history[f"val_{metric}"],
                "-",
                marker="o",
                markersize=3,
                color=color,
                label=f"{strategy} val",
            )
    axes[0].set(title="Cross-entropy loss", xlabel="epoch", ylabel="loss")
    axes[1].set(title="Accuracy", xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    axes[1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_confusion_matrices(results: dict[str, dict[str, Any]]) -> plt.Figure:
    """Both confusion matrices side by side (rows: true class, columns: predicted)."""
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.8), squeeze=False)
    for ax, (strategy, r) in zip(axes[0], results.items(), strict=True):
        cm = r["eval"]["confusion_matrix"]
        labels, matrix = cm["labels"], cm["matrix"]
        ax.imshow(matrix, cmap="Blues")
        peak = max(max(row) for row in matrix) or 1
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                ax.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    color="white" if value > peak / 2 else "black",
                )
        ax.set(
            xticks=range(len(labels)),
            yticks=range(len(labels)),
            xticklabels=labels,
            yticklabels=labels,
            xlabel="predicted",
            ylabel="true",
            title=strategy,
        )
    fig.tight_layout()
    return fig


def plot_misclassified(wrong: dict[str, dict[str, Any]], data_dir: Path) -> plt.Figure | None:
    """One row of misclassified val images per strategy (for the Markdown report)."""
    items = {strategy: found["shown"] for strategy, found in wrong.items()}
    if not any(items.values()):
        return None
    n_cols = max(len(row) for row in items.values())
    fig, axes = plt.subplots(
        len(items), n_cols, figsize=(1.9 * n_cols, 2.3 * len(items)), squeeze=False
    )
    for axes_row, (strategy, row) in zip(axes, items.items(), strict=True):
        for ax in axes_row:
            ax.axis("off")
        for ax, item in zip(axes_row, row, strict=False):
            with Image.open(data_dir / item["path"]) as image:
                image = image.convert("RGB")
                image.thumbnail((256, 256))
                ax.imshow(image)
            ax.set_title(
                f"{item['true']} → {item['predicted']}\np={item['probability']:.2f}", fontsize=8
            )
        axes_row[0].text(
            -0.1, 0.5, strategy, transform=axes_row[0].transAxes, rotation=90,
            ha="right", va="center", fontsize=9,
        )  # fmt: skip
    fig.tight_layout()
    return fig


def save_figure(fig: plt.Figure, path: Path) -> bytes:
    """Write a figure as PNG (atomically) and return the PNG bytes for embedding."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    data = buffer.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return data


def render(args: argparse.Namespace) -> None:
    """Build the figures, the summary CSV, the HTML page and the Markdown file."""
    results = load_results(args.metrics_dir, args.strategies)
    quality = read_json(args.metrics_dir / "data_quality.json")
    summary = summary_table(results)
    with atomic_open(args.out_summary, "w", encoding="utf-8", newline="") as handle:
        summary.to_csv(handle, index=False)

    wrong = misclassified(results, args.data_dir)
    figures_dir = args.out_markdown.parent / "figures"
    figures = {}
    for name, fig in (
        ("learning_curves", plot_learning_curves(results)),
        ("confusion_matrices", plot_confusion_matrices(results)),
        ("misclassified", plot_misclassified(wrong, args.data_dir)),
    ):
        if fig is not None:
            png = save_figure(fig, figures_dir / f"{name}.png")
            figures[name] = {
                "uri": "data:image/png;base64," + base64.b64encode(png).decode(),
                "file": f"figures/{name}.png",
            }
    first = next(iter(results.values()))["train"]
    # Both strategies share every setting but the strategy itself.
    shared_config = {k: v for k, v in first["config"].items() if k != "strategy"}
    context = {
        "summary": summary.to_dict("records"),
        "class_names": first["class_names"],
        "conclusion": conclusion(summary),
        "figures": figures,
        "misclassified": wrong,
        "quality": quality,
        "config": shared_config,
        "strategies": list(results),
        "provenance": {s: r["train"]["provenance"] for s, r in results.items()},
    }
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    for template, out in (
        ("comparison.html.j2", args.out_html),
        ("comparison.md.j2", args.out_markdown),
    ):
        with atomic_open(out, "w", encoding="utf-8") as handle:
            handle.write(env.get_template(template).render(**context))
    log.info("%s", context["conclusion"])
    log.info("report: %s", args.out_html)


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, add_help=add_help, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--metrics-dir",
        type=Path,
        default=Path("metrics"),
        help="folder with <strategy>/{train,eval}.json, predictions.csv and "
        "data_quality.json (default: metrics)",
    )
    parser.add_argument("--strategies", nargs="+", required=True, help="strategies to compare")
    parser.add_argument("--data-dir", type=Path, required=True, help="ImageFolder root (images)")
    parser.add_argument("--out-html", type=Path, required=True, help="HTML page to write")
    parser.add_argument(
        "--out-markdown",
        type=Path,
        required=True,
        help="Markdown to write; figures go to figures/ next to it",
    )
    parser.add_argument("--out-summary", type=Path, required=True, help="CSV summary to write")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser


def main(args: argparse.Namespace) -> None:
    render(args)


if __name__ == "__main__":
    run_cli(main, get_args_parser().parse_args())
