#!/usr/bin/env python
"""Evaluate a trained checkpoint on the test split, or on val/ when there is none.

    python workflow/scripts/evaluate.py --model models/finetune/seed1/model.pt \\
        --data-dir data/hymenoptera_data \\
        --out-metrics metrics/runs/finetune/seed1/eval.json \\
        --out-predictions metrics/runs/finetune/seed1/predictions.csv

The checkpoint was chosen on val/ (best epoch), so its val/ accuracy is optimistic:
with a ``test/`` split in the dataset the evaluation uses it; without one (hymenoptera)
it uses val/ and ``eval.json`` says so (``split``, ``selected_on``). ``--final-model``
(the last epoch's checkpoint, chosen by no score) is scored on the same images, to
``eval.json``'s ``final`` and ``--out-final-predictions``: on val-only data the
comparison rests on it.

Writes accuracy, loss, per-class precision/recall/F1, the confusion matrix (rows: true
class, columns: predicted, in ``class_names`` order), ROC-AUC (one-vs-rest macro
average for more than two classes) and one CSV row per image.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score

from tlpipe import provenance
from tlpipe.dataset import make_loader
from tlpipe.engine import EVAL_BATCH_SIZE, PRECISIONS, predict, resolve_threads, summarize
from tlpipe.errors import PipelineError
from tlpipe.fileio import atomic_open, sha256_file, write_json
from tlpipe.inference import Loaded, evaluation_dataset, load_model
from tlpipe.model import select_device
from tlpipe.runner import run_cli

log = logging.getLogger("evaluate")


def classification_metrics(
    probabilities: np.ndarray, labels: np.ndarray, class_names: list[str]
) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support, confusion matrix and ROC-AUC."""
    indices = list(range(len(class_names)))
    predicted = probabilities.argmax(1)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=indices, zero_division=0
    )
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    }
    return {
        "accuracy": float((predicted == labels).mean()),
        "per_class": per_class,
        "macro_f1": float(np.mean(f1)),
        "confusion_matrix": {
            "labels": class_names,
            "matrix": confusion_matrix(labels, predicted, labels=indices).tolist(),
        },
        "roc_auc": roc_auc(probabilities, labels),
    }


def roc_auc(probabilities: np.ndarray, labels: np.ndarray) -> float | None:
    """ROC-AUC (binary: of the second class; else one-vs-rest macro); None if undefined."""
    n_classes = probabilities.shape[1]
    if len(np.unique(labels)) < n_classes:
        return None  # AUC needs every class present among the labels
    if n_classes == 2:
        return float(roc_auc_score(labels, probabilities[:, 1]))
    return float(roc_auc_score(labels, probabilities, multi_class="ovr", average="macro"))


def predictions_table(
    paths: list[str], probabilities: np.ndarray, labels: np.ndarray, class_names: list[str]
) -> pd.DataFrame:
    """One row per image: path, true and predicted class, and the class probabilities."""
    predicted = probabilities.argmax(1)
    table = pd.DataFrame(
        {
            "path": paths,
            "true": [class_names[i] for i in labels],
            "predicted": [class_names[i] for i in predicted],
            "probability": probabilities.max(1).round(6),
            "correct": predicted == labels,
        }
    )
    for i, name in enumerate(class_names):
        table[f"p_{name}"] = probabilities[:, i].round(6)
    return table


def write_predictions(path: Path, table: pd.DataFrame) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        table.to_csv(handle, index=False)


def check_same_run(final: Loaded, best: Loaded) -> None:
    """Stop unless the last epoch's checkpoint comes from the same run as the best one."""
    for key in ("class_names", "transform", "strategy"):
        if final.info[key] != best.info[key]:
            raise PipelineError(
                f"{final.path}: its {key} ({final.info[key]}) differs from the best "
                f"checkpoint's ({best.info[key]}); both must come from the same training run: "
                "retrain it"
            )


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate ``args.model`` (and ``args.final_model``, if given) on
    ``<data-dir>/test`` (else ``val``); write the JSON and the per-image CSVs."""
    threads = resolve_threads(args.threads)
    torch.set_num_threads(threads)
    device = select_device(args.device)
    best = load_model(args.model, device, args.precision)
    final = None
    if args.final_model is not None:
        final = load_model(args.final_model, device, args.precision)
        check_same_run(final, best)
    class_names = best.class_names
    data_dir = Path(args.data_dir)
    # Decoded once, in this process, by a few threads: no loader worker processes, whose
    # copies of this process doubled the job's memory. Both checkpoints read this copy.
    split, samples, dataset = evaluation_dataset(best, data_dir, threads)
    loader = make_loader(dataset, args.batch_size, shuffle=False, num_workers=0, seed=0)
    relative = [Path(p).relative_to(data_dir).as_posix() for p, _ in samples]

    logits, labels = predict(best.model, loader, device, best.precision)
    probabilities = torch.softmax(logits, 1).numpy()
    metrics = classification_metrics(probabilities, labels.numpy(), class_names)
    metrics.update(
        loss=summarize(logits, labels).loss,
        n=len(samples),
        split=split,
        selected_on="val",
        strategy=best.info["strategy"],
        seed=best.info["provenance"].get("seed"),
        checkpoint_epoch=best.info["epoch"],
        precision=best.precision,
        # What produced the checkpoint (seed, config, data and weights hashes), updated
        # with where this evaluation ran.
        provenance={
            **best.info["provenance"],
            **provenance.collect(
                device=str(device),
                threads=torch.get_num_threads(),
                model=str(args.model),
                model_sha256=sha256_file(args.model),
            ),
        },
    )
    if final is not None:
        final_logits, final_labels = predict(final.model, loader, device, final.precision)
        final_probabilities = torch.softmax(final_logits, 1).numpy()
        final_metrics = classification_metrics(
            final_probabilities, final_labels.numpy(), class_names
        )
        # The last epoch's model was fixed before training started: its score on val is
        # not selected on val (unlike model.pt's), so the comparison can rest on it.
        metrics["final"] = {
            "accuracy": final_metrics["accuracy"],
            "macro_f1": final_metrics["macro_f1"],
            "loss": summarize(final_logits, final_labels).loss,
            "checkpoint_epoch": final.info["epoch"],
            "selected_on": None,
        }
        # beside model.pt's: the file's bytes hold its provenance (host, time), so they
        # differ between two runs that computed the same model
        metrics["provenance"].update(
            final_model=str(args.final_model), final_model_sha256=sha256_file(args.final_model)
        )
        write_predictions(
            args.out_final_predictions,
            predictions_table(relative, final_probabilities, final_labels.numpy(), class_names),
        )
    table = predictions_table(relative, probabilities, labels.numpy(), class_names)
    write_predictions(args.out_predictions, table)
    write_json(args.out_metrics, metrics)
    log.info(
        "%s: accuracy %.4f, loss %.4f, ROC-AUC %s on %d %s images%s",
        metrics["strategy"],
        metrics["accuracy"],
        metrics["loss"],
        "n/a" if metrics["roc_auc"] is None else f"{metrics['roc_auc']:.4f}",
        metrics["n"],
        split,
        ""
        if final is None
        else f"; last epoch's model: accuracy {metrics['final']['accuracy']:.4f}",
    )
    return metrics


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, add_help=add_help, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="checkpoint from train.py")
    parser.add_argument("--data-dir", type=Path, required=True, help="ImageFolder root")
    parser.add_argument("--out-metrics", type=Path, required=True, help="metrics JSON to write")
    parser.add_argument("--out-predictions", type=Path, required=True, help="CSV to write")
    parser.add_argument(
        "--final-model",
        type=Path,
        default=None,
        help="the last epoch's checkpoint (train.py --out-final-model), scored too",
    )
    parser.add_argument(
        "--out-final-predictions",
        type=Path,
        default=None,
        help="per-image CSV of --final-model (required with it)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=EVAL_BATCH_SIZE,
        help=f"batch size (default: {EVAL_BATCH_SIZE})",
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument(
        "--precision",
        default="checkpoint",
        choices=("checkpoint", *PRECISIONS),
        help="backbone arithmetic; checkpoint: the one training used (default: checkpoint)",
    )
    parser.add_argument("--threads", type=int, default=0, help="0: from $OMP_NUM_THREADS")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser


def main(args: argparse.Namespace) -> None:
    if (args.final_model is None) != (args.out_final_predictions is None):
        raise PipelineError("--final-model and --out-final-predictions go together")
    evaluate(args)


if __name__ == "__main__":
    run_cli(main, get_args_parser().parse_args())
