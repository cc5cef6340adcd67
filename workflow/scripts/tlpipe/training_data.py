"""What training reads: the class names, the training set and the validation loader.

Images are decoded once per job and cached as uint8 tensors unless ``cache_images`` is
false (then DataLoader workers decode them every epoch); the training augmentation runs
on the cached images (see :class:`tlpipe.dataset.CachedImageDataset`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from tlpipe.dataset import (
    CachedImageDataset,
    ImageListDataset,
    Sample,
    check_layout,
    eval_geometry,
    eval_transform,
    list_samples,
    make_loader,
    to_network_input,
    train_transform,
)
from tlpipe.engine import EVAL_BATCH_SIZE

log = logging.getLogger(__name__)


def training_datasets(
    train_samples: Sequence[Sample],
    val_samples: Sequence[Sample],
    crop_size: int,
    resize_size: int,
    *,
    cache_images: bool,
    threads: int,
) -> tuple[Dataset, Dataset]:
    """Training and validation datasets, cached in memory unless ``cache_images`` is false."""
    train_tf = train_transform(crop_size)
    val_tf = eval_transform(crop_size, resize_size)
    if not cache_images:
        return ImageListDataset(train_samples, train_tf), ImageListDataset(val_samples, val_tf)
    tick = time.perf_counter()
    train_set = CachedImageDataset(train_samples, train_tf, threads=threads)
    # Validation's resize and centre crop have no randomness: cache their (uint8) output.
    val_set = CachedImageDataset(
        val_samples,
        to_network_input(),
        preprocess=eval_geometry(crop_size, resize_size),
        threads=threads,
    )
    log.info(
        "decoded %d images once in %.1fs; cache %.0f MB",
        len(train_set) + len(val_set),
        time.perf_counter() - tick,
        (train_set.nbytes + val_set.nbytes) / 2**20,
    )
    return train_set, val_set


@dataclass
class TrainingData:
    """What training reads: class names, samples, datasets and loader settings."""

    classes: list[str]
    train_samples: list[Sample]
    val_samples: list[Sample]
    train_set: Dataset
    val_loader: DataLoader
    workers: int
    pin_memory: bool


def load_training_data(
    data_dir: str | Path,
    crop_size: int,
    resize_size: int,
    *,
    batch_size: int,
    cache_images: bool,
    num_workers: int,
    seed: int,
    device: torch.device,
    threads: int,
) -> TrainingData:
    """Check the dataset layout and build the training set and the validation loader."""
    data_dir = Path(data_dir)
    classes = check_layout(data_dir)
    train_samples = list_samples(data_dir / "train", classes)
    val_samples = list_samples(data_dir / "val", classes)
    train_set, val_set = training_datasets(
        train_samples, val_samples, crop_size, resize_size,
        cache_images=cache_images, threads=threads,
    )  # fmt: skip
    # Cached images need no workers: a crop and flip of a uint8 tensor costs about a
    # millisecond, less than handing it over from a worker process (each a fork of this
    # process, competing with training for the same cores).
    workers = 0 if cache_images else num_workers
    pin = device.type == "cuda"
    # Validation runs in eval mode, where every image's output is independent of the
    # others in its batch: larger batches only make it faster.
    val_loader = make_loader(
        val_set,
        max(batch_size, EVAL_BATCH_SIZE),
        shuffle=False,
        num_workers=workers,
        seed=seed,
        pin_memory=pin,
    )
    return TrainingData(classes, train_samples, val_samples, train_set, val_loader, workers, pin)
