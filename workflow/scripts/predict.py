#!/usr/bin/env python
"""Classify new images with trained checkpoints: one CSV row per image.

    python workflow/scripts/predict.py --model models/finetune/seed1/model.pt \\
        photos/ more/bee.jpg --out predictions.csv

Each PATH is an image or a folder (searched recursively). Every ``--model`` (give it
several times, e.g. one per seed) is run with the input size and class names stored in
its checkpoint; with several, the class probabilities are averaged and the ``models``
column lists the checkpoints that voted. Columns: ``path``, ``predicted``,
``probability`` (of the predicted class), ``p_<class>`` for every class, ``models``,
``skipped`` (why a file has no prediction: not an image, or unreadable; such files are
listed with a warning, never a crash).

In the pipeline (``snakemake predict``, DVC stage ``predict``) one job classifies the
images once per strategy, with every seed's model (``--strategies NAME... --seeds N...
--out-dir predictions``, the config's lists, as the report takes them); the input is
``--input`` ``predict.input`` (a PATH, spelled as dvc.yaml's ``${item}`` renders it),
where ``None`` (null) stands for the evaluation split of ``--data-dir``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tlpipe.cli import add_runs_options
from tlpipe.dataset import (
    decode_image,
    eval_geometry,
    evaluation_split,
    is_image_file,
    single_threaded,
    to_network_input,
)
from tlpipe.engine import EVAL_BATCH_SIZE, predict, resolve_threads
from tlpipe.errors import PipelineError
from tlpipe.fileio import atomic_open
from tlpipe.inference import Loaded, load_model
from tlpipe.model import select_device
from tlpipe.runner import optional_arg, run_cli
from tlpipe.runs import prediction_jobs

log = logging.getLogger("predict")


def find_images(inputs: list[Path]) -> tuple[list[Path], dict[Path, str]]:
    """Every file under ``inputs`` (folders recursively, in sorted order), split into
    candidate images and files skipped for their extension (file -> reason)."""
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            files += sorted(
                p for p in item.rglob("*") if p.is_file() and not p.name.startswith(".")
            )
        elif item.is_file():
            files.append(item)
        else:
            raise PipelineError(f"{item}: no such file or folder; give images or folders of images")
    images = [f for f in files if is_image_file(f)]
    skipped = {f: "not an image file (by its extension)" for f in files if not is_image_file(f)}
    return images, skipped


def decode(images: list[Path]) -> tuple[dict[Path, torch.Tensor], dict[Path, str]]:
    """uint8 RGB tensors of the images that decode, and why the others did not."""
    decoded, failed = {}, {}
    with single_threaded():
        for path in images:
            try:
                decoded[path] = decode_image(str(path))
            except PipelineError as err:
                failed[path] = f"unreadable: {str(err).split(': ', 1)[-1]}"
    return decoded, failed


def class_probabilities(
    loaded: Loaded, images: list[torch.Tensor], device: torch.device, batch_size: int
) -> np.ndarray:
    """Softmax probabilities of one model for every image, with its own input size."""
    geometry = eval_geometry(loaded.transform["crop_size"], loaded.transform["resize_size"])
    network_input = to_network_input()
    with single_threaded():
        tensors = [network_input(geometry(image).as_subclass(torch.Tensor)) for image in images]
    batches = [
        (torch.stack(tensors[i : i + batch_size]), torch.zeros(0))
        for i in range(0, len(tensors), batch_size)
    ]
    logits, _ = predict(loaded.model, batches, device, loaded.precision)
    return torch.softmax(logits, 1).numpy()


def predictions_table(
    paths: list[Path],
    probabilities: np.ndarray,
    class_names: list[str],
    models: list[Path],
    skipped: dict[Path, str],
) -> pd.DataFrame:
    """One row per file: predictions for images, the reason for skipped files."""
    voted = ";".join(str(m) for m in models)
    rows: list[dict[str, Any]] = []
    for path, probs in zip(paths, probabilities, strict=True):
        row = {"path": str(path), "predicted": class_names[int(probs.argmax())],
               "probability": round(float(probs.max()), 6)}  # fmt: skip
        row.update(
            {f"p_{name}": round(float(p), 6) for name, p in zip(class_names, probs, strict=True)}
        )
        rows.append({**row, "models": voted, "skipped": ""})
    rows += [{"path": str(path), "models": voted, "skipped": why} for path, why in skipped.items()]
    columns = [
        "path",
        "predicted",
        "probability",
        *(f"p_{c}" for c in class_names),
        "models",
        "skipped",
    ]
    return pd.DataFrame(rows, columns=columns)


def resolve_inputs(args: argparse.Namespace) -> list[Path]:
    """The paths to classify; ``None`` (a null ``predict.input``) is the evaluation split
    of ``--data-dir``."""
    inputs = [optional_arg(str(p)) for p in args.paths]
    if None in inputs:
        if args.data_dir is None:
            raise PipelineError("input None (predict.input: null) needs --data-dir")
        default = args.data_dir / evaluation_split(args.data_dir)
        inputs = [default if p is None else p for p in inputs]
    return [Path(p) for p in inputs]


def classify(
    models: list[Path], images: dict[Path, torch.Tensor], skipped: dict[Path, str],
    device: torch.device, batch_size: int,
) -> pd.DataFrame:  # fmt: skip
    """The predictions table of ``models`` (probabilities averaged) for ``images``."""
    first = load_model(models[0], device)
    total = np.zeros((len(images), len(first.class_names)))
    for path in models:
        loaded = first if path == models[0] else load_model(path, device)
        if loaded.class_names != first.class_names:
            raise PipelineError(
                f"{path}: classes {loaded.class_names} differ from {first.class_names} of "
                f"{models[0]}; average only models of the same classes"
            )
        total += class_probabilities(loaded, list(images.values()), device, batch_size)
    return predictions_table(list(images), total / len(models), first.class_names, models, skipped)


def run(args: argparse.Namespace) -> dict[Path, pd.DataFrame]:
    """Predict every image of ``args.paths`` with ``args.model`` into ``args.out`` (or,
    in the pipeline, with each strategy's models into ``args.out_dir``)."""
    tick = time.perf_counter()
    torch.set_num_threads(resolve_threads(args.threads))
    jobs = (
        {args.out: list(args.model)}
        if args.model
        else prediction_jobs(args.strategies, args.seeds, args.out_dir)
    )
    candidates, skipped = find_images(resolve_inputs(args))
    decoded, unreadable = decode(candidates)
    skipped.update(unreadable)
    if not decoded:
        examples = "; ".join(f"{path}: {why}" for path, why in list(skipped.items())[:3])
        raise PipelineError(
            f"no readable image in {', '.join(map(str, args.paths))} ({len(skipped)} file(s) "
            f"skipped{': ' + examples if examples else ''}); give JPEG or PNG images"
        )
    device = select_device(args.device)
    tables = {out: classify(models, decoded, skipped, device, args.batch_size)
              for out, models in jobs.items()}  # fmt: skip
    for out, table in tables.items():  # written once every model has worked
        with atomic_open(out, "w", encoding="utf-8", newline="") as handle:
            table.to_csv(handle, index=False)
    for path, why in skipped.items():
        log.warning("skipped %s: %s", path, why)
    log.info(
        "%d image(s) classified by %d model(s) in %.1fs (%d skipped) -> %s",
        len(decoded), sum(map(len, jobs.values())), time.perf_counter() - tick, len(skipped),
        ", ".join(map(str, tables)),
    )  # fmt: skip
    return tables


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, add_help=add_help, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("paths", nargs="*", type=Path, help="images or folders of images (recursive)")
    add("--input", type=Path, action="append", default=[],
        help="a PATH too (repeatable; how dvc.yaml's ${item} passes predict.input)")  # fmt: skip
    add("--model", type=Path, action="append", help="checkpoint (repeat to average models)")
    add("--out", type=Path, help="CSV to write (with --model)")
    add("--out-dir", type=Path, default=Path("predictions"), help="(with --strategies)")
    add("--data-dir", type=Path, default=None, help="dataset whose evaluation split None means")
    add("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"), help="(default: auto)")
    add("--batch-size", type=int, default=EVAL_BATCH_SIZE, help=f"(default: {EVAL_BATCH_SIZE})")
    add("--threads", type=int, default=0, help="CPU threads; 0: $OMP_NUM_THREADS or all")
    add("--verbose", action="store_true", help="debug logging")
    # instead of --model: every strategy's models (one per seed) classify the images
    # into <--out-dir>/<strategy>.csv
    add_runs_options(parser, required=False)
    return parser


def main(args: argparse.Namespace) -> None:
    pipeline = args.strategies is not None or args.seeds is not None
    if (
        bool(args.model) == pipeline
        or (args.model and not args.out)
        or (pipeline and None in (args.strategies, args.seeds))
    ):
        raise PipelineError(
            "give --model PATH (repeatable) with --out, or --strategies and --seeds (pipeline)"
        )
    args.paths = [*args.paths, *args.input]
    if not args.paths:
        raise PipelineError("give the images to classify: PATH or --input PATH")
    run(args)


if __name__ == "__main__":
    run_cli(main, get_args_parser().parse_args())
