"""Where each run's files live: the one definition both runners and the scripts use.

A *run* is one (strategy, seed) pair. Its model goes to ``models/<strategy>/seed<k>/``
and its metric files to ``metrics/runs/<strategy>/seed<k>/``. The per-run metrics sit in
a folder of their own (not directly in ``metrics/``) because the report's aggregate
files (``metrics/comparison.json``, ``metrics/summary.csv``) live in ``metrics/`` and
DVC refuses a stage whose dependency folder holds its own outputs: ``metrics/runs`` is
the one dependency that links the report to every run, whatever the strategies and
seeds, without listing them in ``dvc.yaml``.
"""

from __future__ import annotations

from pathlib import Path

RUNS_DIR = "metrics/runs"
# File names inside a run's metrics folder.
TRAIN_METRICS = "train.json"
EVAL_METRICS = "eval.json"
PREDICTIONS = "predictions.csv"
# Per-image predictions of the last epoch's model (final.pt): the comparison scores it
# on val when the dataset has no test split, since model.pt was selected on val.
FINAL_PREDICTIONS = "predictions_final.csv"
# Templates with Snakemake-style wildcards; dvc.yaml spells the same paths with ${item.*}.
MODEL = "models/{strategy}/seed{seed}/model.pt"
FINAL_MODEL = "models/{strategy}/seed{seed}/final.pt"
RUN_METRICS = RUNS_DIR + "/{strategy}/seed{seed}"
RESUME_DIR = "checkpoints/{strategy}/seed{seed}"
# A run's per-epoch metrics, written while it trains (tlpipe/live.py, DVCLive's format).
LIVE = RUN_METRICS + "/live"
# What DVC's views read (tlpipe/dvc_views.py): `dvc metrics show` the headline numbers,
# `dvc plots show` the long-format data files (dvc.yaml's top-level plots).
HEADLINE_METRICS = "metrics/metrics.json"
PLOTS_DIR = "metrics/plots"
PLOT_DATA = ("learning_curves.csv", "confusion.csv", "seed_accuracy.csv")
# Exports of a run's model (export.py): not under models/, which DVC's predict stage
# depends on as a whole, so that exporting (Snakemake only) leaves DVC's view unchanged.
PROGRAM = "exports/{strategy}/seed{seed}/model.pt2"
ONNX = "exports/{strategy}/seed{seed}/model.onnx"
EXPORT_REPORT = "exports/{strategy}/seed{seed}/export.json"
# Per strategy: predictions of every seed's model on predict.input, and the model card.
STRATEGY_PREDICTIONS = "predictions/{strategy}.csv"
MODEL_CARD = "reports/model_card_{strategy}.md"


def run_dir(root: str | Path, strategy: str, seed: int) -> Path:
    """The metrics folder of one run below ``root`` (``metrics/runs`` in the pipeline)."""
    return Path(root) / strategy / f"seed{seed}"
