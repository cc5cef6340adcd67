"""From a model checkpoint to predictions: the recipe evaluate.py, export.py and predict.py
share.

:func:`load_model` reads a checkpoint (:mod:`tlpipe.checkpoints`) and rebuilds its model,
on a device at the precision training validated with; :func:`evaluation_dataset` prepares
a dataset's evaluation split (``test/``, else ``val/``) as validation did: the
checkpoint's resize and centre crop, ImageNet normalisation. So the accuracy measured
here is the one training saw on the same images.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tlpipe.checkpoints import load_checkpoint, model_from_checkpoint
from tlpipe.dataset import (
    CachedImageDataset,
    Sample,
    check_layout,
    eval_geometry,
    evaluation_split,
    list_samples,
    to_network_input,
)
from tlpipe.engine import resolve_precision
from tlpipe.errors import PipelineError


@dataclass
class Loaded:
    """A model checkpoint, its model ready to predict, and the precision to run it at."""

    path: Path
    info: dict[str, Any]  # the checkpoint without its state_dict (now in ``model``)
    model: nn.Module
    precision: str

    @property
    def class_names(self) -> list[str]:
        return list(self.info["class_names"])

    @property
    def transform(self) -> dict[str, int]:
        """The input sizes: ``crop_size`` and ``resize_size``."""
        return self.info["transform"]


def load_model(
    path: str | os.PathLike[str],
    device: torch.device | None = None,
    precision: str = "checkpoint",
) -> Loaded:
    """The model of the checkpoint at ``path``, in eval mode.

    On ``device`` in the channels_last layout (the fastest for convolutions) at
    ``precision``, where ``checkpoint`` means the one training validated with; without
    a device, as stored: float32, contiguous, on the CPU (what export traces).
    """
    path = Path(path)
    checkpoint = load_checkpoint(path, "model")
    model = model_from_checkpoint(checkpoint, path)
    if device is None:
        precision = "fp32"
    else:
        model.to(device, memory_format=torch.channels_last)
        requested = checkpoint["precision"] if precision == "checkpoint" else precision
        precision = resolve_precision(requested, device)
    info = {key: value for key, value in checkpoint.items() if key != "state_dict"}
    return Loaded(path, info, model.eval(), precision)


def evaluation_dataset(
    loaded: Loaded, data_dir: Path, threads: int = 1
) -> tuple[str, list[Sample], CachedImageDataset]:
    """The split of ``data_dir`` evaluation uses, its samples, and its images decoded
    once and prepared as for validation (``threads`` decoders)."""
    classes = check_layout(data_dir)
    if classes != loaded.class_names:
        raise PipelineError(
            f"{data_dir}: classes {classes} differ from the checkpoint's {loaded.class_names}; "
            f"retrain {loaded.path} on this dataset"
        )
    split = evaluation_split(data_dir)
    samples = list_samples(data_dir / split, classes)
    sizes = loaded.transform
    dataset = CachedImageDataset(
        samples,
        to_network_input(),
        preprocess=eval_geometry(sizes["crop_size"], sizes["resize_size"]),
        threads=threads,
    )
    return split, samples, dataset
