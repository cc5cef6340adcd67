#!/usr/bin/env python
"""Train one transfer-learning strategy and keep the best-validation-accuracy checkpoint.

    python workflow/scripts/train.py --data-dir data/hymenoptera_data --strategy finetune \\
        --seed 1 --weights IMAGENET1K_V1 \\
        --pretrained data/weights/resnet18.pth --weights-sha256 auto \\
        --out-model models/finetune/seed1/model.pt \\
        --out-metrics metrics/runs/finetune/seed1/train.json

Defaults are the PyTorch transfer-learning tutorial's (SGD lr 0.001, momentum 0.9,
StepLR step 7 gamma 0.1, batch 4, 25 epochs). After every epoch a resumable state
(model, optimiser, scheduler, history) is written atomically to ``--resume-dir``, which
is not a declared output, so a killed job (time limit, preemption, SIGKILL) resumes
after its last completed epoch when rerun with the same settings. The state is
deleted once the final outputs are written.

Speed (see README "Performance"): images are decoded once per job and kept as uint8
tensors (``--cache-images``), the backbone runs in bfloat16 where the hardware supports
it (``--precision auto``), and for feature_extract the frozen backbone runs without
autograd in large batches, with the validation features computed once.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tlpipe import checkpoints, provenance
from tlpipe.architectures import ARCHS, default_transform
from tlpipe.cli import add_setting_options, schema_default, section_schema
from tlpipe.dataset import make_loader
from tlpipe.engine import (
    epoch_seed,
    make_deterministic,
    make_validator,
    peak_rss_mb,
    resolve_precision,
    resolve_threads,
    train_head_one_epoch,
    train_one_epoch,
)
from tlpipe.errors import PipelineError
from tlpipe.fileio import sha256_file, write_json
from tlpipe.layout import tree_sha256
from tlpipe.live import EpochLog
from tlpipe.model import (
    build_model,
    configure_strategy,
    count_parameters,
    resolve_weights,
    select_device,
    set_train_mode,
)
from tlpipe.optim import make_optimizer, make_scheduler
from tlpipe.paths import RESUME_DIR
from tlpipe.runner import optional_arg, run_cli
from tlpipe.strategies import REGISTRY, STRATEGIES
from tlpipe.training_data import TrainingData, load_training_data
from tlpipe.weights import AUTO, expected_sha256

log = logging.getLogger("train")

# The train section of the config, as options (--epochs, --batch_size, ...).
TRAIN_SETTINGS = tuple(section_schema("train"))
# Train settings that do not change what is learned: a run may resume under others.
RUNTIME_SETTINGS = ("device", "num_workers", "cache_images")
# Settings that define what is learned: a change invalidates a resumable state.
TRAINING_KEYS = (
    "data_dir",
    "strategy",
    "arch",
    "weights",
    "weights_sha256",
    "seed",
    "crop_size",
    "resize_size",
    *(key for key in TRAIN_SETTINGS if key not in RUNTIME_SETTINGS),
)


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, add_help=add_help, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    arch = schema_default("model.arch")
    # fmt: off
    add("--data-dir", required=True, help="ImageFolder root holding train/ and val/")
    add("--strategy", required=True, choices=STRATEGIES, help="what to train")
    add("--arch", default=arch, choices=ARCHS, help=f"torchvision architecture (default: {arch})")
    add("--weights", default="none",
        help="IMAGENET1K_V1 (the file given by --pretrained), none (random initialisation) "
        "or the path of a state-dict file (default: none)")
    add("--pretrained", type=Path, default=None,
        help="where the IMAGENET1K_V1 file is (written by the download_weights step)")
    add("--weights-sha256", type=optional_arg, default=None,
        help="expected sha256 of the weights file, checked on every use; auto: that of "
        "torchvision's IMAGENET1K_V1 file for --arch (no check for a local file); "
        "none: no check")
    add("--seed", type=int, default=1,
        help="random seed of this run; the same seed gives every strategy the same data "
        "order and augmentation (default: 1)")
    add("--crop-size", type=optional_int, default=None,
        help="network input side; None: that of --arch's ImageNet weights (default: None)")
    add("--resize-size", type=optional_int, default=None,
        help="validation resize before the crop; None: that of --arch's ImageNet weights "
        "(default: None)")
    add_setting_options(parser, "train")  # --epochs, --lr, ...: one option per train setting
    add("--threads", type=int, default=0,
        help="CPU threads; 0: $OMP_NUM_THREADS (set by Snakemake) or all allowed CPUs")
    add("--out-model", type=Path, required=True, help="best checkpoint to write (.pt)")
    add("--out-final-model", type=Path, default=None,
        help="also write the last epoch's checkpoint here (.pt): a model not selected on "
        "val, which the comparison scores when the dataset has no test split "
        "(default: not written)")
    add("--out-metrics", type=Path, required=True, help="training metrics JSON to write")
    add("--out-live", type=Path, default=None,
        help="folder for the per-epoch metrics, written as training runs (DVCLive's "
        "format: metrics.json, plots/metrics/*.tsv) (default: not written)")
    add("--resume-dir", type=Path, default=None,
        help="where the per-epoch resumable state lives "
        "(default: checkpoints/<strategy>/seed<seed>)")
    # fmt: on
    add("--verbose", action="store_true", help="debug logging")
    return parser


def optional_int(word: str) -> int | None:
    """An integer, or None for ``None``/``null`` (a YAML null as DVC renders it)."""
    return None if optional_arg(word) is None else int(word)


def resolve_sizes(args: argparse.Namespace) -> None:
    """Fill unset crop and resize sizes from the architecture's ImageNet weights."""
    preset = default_transform(args.arch)
    args.crop_size = args.crop_size or preset["crop_size"]
    args.resize_size = args.resize_size or preset["resize_size"]
    if args.resize_size < args.crop_size:
        raise PipelineError(
            f"data.resize_size {args.resize_size} is smaller than data.crop_size "
            f"{args.crop_size}; set both, or leave both null"
        )


def training_config(args: argparse.Namespace) -> dict[str, Any]:
    """The settings that determine the trained model (stored in outputs, hashed for resume)."""
    return {key: getattr(args, key) for key in TRAINING_KEYS}


def format_eta(seconds: float) -> str:
    """Seconds as ``12m05s``."""
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s"


@dataclass
class Training:
    """The network of one strategy and what optimises it."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    precision: str
    weights_path: Path | None


def build_training(args: argparse.Namespace, num_classes: int, device: torch.device) -> Training:
    """Model with the strategy's trainable parameters, its optimiser and schedule
    (:mod:`tlpipe.optim`; torchvision's references build them the same way, from the
    parsed arguments)."""
    weights_path = resolve_weights(args.weights, args.pretrained)
    # `auto`: the hash of torchvision's file for the architecture (tlpipe.weights); a local
    # file has no known hash, so it is checked only when model.weights_sha256 is set
    sha256 = args.weights_sha256
    if sha256 == AUTO:
        sha256 = expected_sha256(AUTO, AUTO, args.arch) if args.weights == "IMAGENET1K_V1" else None
    model = build_model(args.arch, num_classes, weights_path, sha256)
    param_groups = configure_strategy(model, args.strategy, args.lr)
    model.to(device, memory_format=torch.channels_last)  # fastest convolution layout
    optimizer = make_optimizer(param_groups, args)
    scheduler = make_scheduler(optimizer, args)
    precision = resolve_precision(args.precision, device)
    return Training(model, optimizer, scheduler, precision, weights_path)


@dataclass
class Progress:
    """Where training stands: the per-epoch history and the best epoch so far."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_acc: float = -1.0


def resume(path: Path, training: Training, config_sha: str) -> Progress:
    """Restore the state at ``path`` if it was written with the same settings."""
    state = checkpoints.load_resume_state(path, config_sha)
    if state is None:
        return Progress()
    training.model.load_state_dict(state["state_dict"])
    training.optimizer.load_state_dict(state["optimizer"])
    training.scheduler.load_state_dict(state["scheduler"])
    log.info("resuming from %s after epoch %d", path, state["epoch"])
    return Progress(**state["progress"])


def check_finite(epoch: int, train_loss: float, val_loss: float, args: argparse.Namespace) -> None:
    """Stop at the first epoch whose loss is not a number: the run has diverged.

    Carrying on would train on NaN weights and write metrics no JSON can hold. The epoch
    before stays in the resume checkpoint (saved after each good epoch only).
    """
    losses = {"train": train_loss, "val": val_loss}
    bad = ", ".join(f"{name} loss {x}" for name, x in losses.items() if not math.isfinite(x))
    if bad:
        raise PipelineError(
            f"{args.strategy}, seed {args.seed}: training diverged at epoch {epoch} ({bad}); "
            f"lower train.lr (now {args.lr:g}) or set train.precision: fp32 "
            f"(now {args.precision}), then rerun"
        )


def fit(
    args: argparse.Namespace,
    data: TrainingData,
    training: Training,
    device: torch.device,
    progress: Progress,
    on_epoch_end: Callable[[Progress], None],
) -> Progress:
    """The epoch loop: train, validate, step the scheduler, keep the best epoch.

    Each epoch reseeds shuffling and augmentation from ``(seed, epoch)``: runs with the
    same seed see the same images in the same order with the same crops and flips
    whatever the strategy (so seeds pair up across strategies), and a resumed run
    replays exactly the epochs it missed.
    """
    model, optimizer, scheduler = training.model, training.optimizer, training.scheduler
    criterion = nn.CrossEntropyLoss()
    frozen = REGISTRY[args.strategy].frozen_backbone
    evaluate_val = make_validator(model, data.val_loader, device, training.precision, frozen)
    fit_epoch = train_head_one_epoch if frozen else train_one_epoch
    for epoch in range(len(progress.history) + 1, args.epochs + 1):
        tick = time.perf_counter()
        seed = epoch_seed(args.seed, epoch)
        torch.manual_seed(seed)  # augmentation draws when num_workers == 0
        train_loader = make_loader(data.train_set, args.batch_size, shuffle=True,
                                   num_workers=data.workers, seed=seed,
                                   pin_memory=data.pin_memory)  # fmt: skip
        lr = optimizer.param_groups[0]["lr"]
        set_train_mode(model, args.strategy)
        train_result = fit_epoch(
            model, train_loader, criterion, optimizer, device, f"epoch {epoch}", training.precision
        )
        val_result = evaluate_val()
        check_finite(epoch, train_result.loss, val_result.loss, args)
        scheduler.step()
        seconds = time.perf_counter() - tick
        progress.history.append(
            {
                "epoch": epoch,
                "lr": lr,
                "seconds": round(seconds, 3),
                "train_loss": train_result.loss,
                "train_acc": train_result.accuracy,
                "val_loss": val_result.loss,
                "val_acc": val_result.accuracy,
            }
        )
        if val_result.accuracy > progress.best_val_acc:  # strictly better, as the tutorial
            progress.best_epoch, progress.best_val_acc = epoch, val_result.accuracy
        on_epoch_end(progress)
        mean_seconds = sum(h["seconds"] for h in progress.history) / len(progress.history)
        log.info(
            "epoch %d/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f  lr %.2g  %.1fs  ETA %s",
            epoch, args.epochs, train_result.loss, train_result.accuracy, val_result.loss,
            val_result.accuracy, lr, seconds, format_eta(mean_seconds * (args.epochs - epoch)),
        )  # fmt: skip
    return progress


def write_outputs(
    args: argparse.Namespace,
    data: TrainingData,
    training: Training,
    progress: Progress,
    best_state: dict[str, torch.Tensor],
    prov: dict[str, Any],
    wall_seconds: float,
) -> dict[str, Any]:
    """Write the best epoch's checkpoint (and the last epoch's, if asked) and the
    training metrics JSON."""
    config = training_config(args)
    history = progress.history
    sizes = {"crop_size": args.crop_size, "resize_size": args.resize_size}
    info = {"arch": args.arch, "strategy": args.strategy, "class_names": data.classes,
            "config": config, "provenance": prov, "transform": sizes,
            "precision": training.precision}  # fmt: skip
    checkpoints.save_model(args.out_model, best_state, epoch=progress.best_epoch,
                           val_acc=progress.best_val_acc, info=info)  # fmt: skip
    if args.out_final_model is not None:
        # The model after the last epoch: fixed in advance, not chosen by its val score.
        last_state = checkpoints.plain_state_dict(training.model)
        checkpoints.save_model(args.out_final_model, last_state, epoch=len(history),
                               val_acc=history[-1]["val_acc"], info=info)  # fmt: skip
    metrics = {
        "strategy": args.strategy,
        "seed": args.seed,
        "class_names": data.classes,
        "history": history,
        "best_epoch": progress.best_epoch,
        "best_val_acc": progress.best_val_acc,
        "final_val_acc": history[-1]["val_acc"],
        "total_seconds": round(sum(h["seconds"] for h in history), 3),
        "wall_seconds": round(wall_seconds, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "precision": training.precision,
        "n_train": len(data.train_samples),
        "n_val": len(data.val_samples),
        "parameters": count_parameters(training.model),
        "config": config,
        "provenance": prov,
    }
    write_json(args.out_metrics, metrics)
    return metrics


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train one strategy with one seed; write the best checkpoint and the metrics JSON."""
    start_time = time.perf_counter()
    resolve_sizes(args)
    config_sha = provenance.config_hash(training_config(args))
    threads = resolve_threads(args.threads)
    torch.set_num_threads(threads)
    make_deterministic(args.seed)
    device = select_device(args.device)
    data = load_training_data(
        args.data_dir, args.crop_size, args.resize_size, batch_size=args.batch_size,
        cache_images=args.cache_images, num_workers=args.num_workers, seed=args.seed,
        device=device, threads=threads,
    )  # fmt: skip
    training = build_training(args, len(data.classes), device)

    resume_dir = args.resume_dir or Path(RESUME_DIR.format(strategy=args.strategy, seed=args.seed))
    last_path, best_path = resume_dir / "last.pt", resume_dir / "best.pt"
    progress = resume(last_path, training, config_sha)
    counts = count_parameters(training.model)
    log.info(
        "%s, seed %d: %s on %s (%d threads, %s), %d classes, %d train / %d val images, "
        "%s of %s parameters trainable",
        args.strategy, args.seed, args.arch, device, threads, training.precision,
        len(data.classes), len(data.train_samples), len(data.val_samples),
        f"{counts['trainable']:,}", f"{counts['total']:,}",
    )  # fmt: skip

    def save_states(progress: Progress) -> None:
        if progress.best_epoch == len(progress.history):  # this epoch is the best so far
            checkpoints.save_best_state(best_path, training.model, progress.best_epoch)
        checkpoints.save_resume_state(last_path, training.model, training.optimizer,
                                      training.scheduler, asdict(progress), config_sha)  # fmt: skip
        live.log(progress.history[-1])

    live = EpochLog(args.out_live, progress.history)  # a resumed run's epochs first
    progress = fit(args, data, training, device, progress, save_states)
    live.close()
    best_state = checkpoints.load_checkpoint(best_path, "best")["state_dict"]
    weights_sha = sha256_file(training.weights_path) if training.weights_path else None
    prov = provenance.collect(
        device=str(device), precision=training.precision, threads=threads, seed=args.seed,
        config_sha256=config_sha, dataset_sha256=tree_sha256(args.data_dir),
        weights_sha256=weights_sha,
    )  # fmt: skip
    metrics = write_outputs(
        args, data, training, progress, best_state, prov, time.perf_counter() - start_time
    )
    for path in (last_path, best_path):  # the outputs are complete: no resume needed
        path.unlink(missing_ok=True)
    log.info("best val acc %.4f at epoch %d -> %s",
             progress.best_val_acc, progress.best_epoch, args.out_model)  # fmt: skip
    return metrics


def main(args: argparse.Namespace) -> None:
    train(args)


if __name__ == "__main__":
    run_cli(main, get_args_parser().parse_args())
