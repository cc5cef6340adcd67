"""The transfer-learning strategies: the one list every part of the pipeline reads.

A strategy says where training starts in the network, in torchvision's module order:
at the input (everything trains), at the backbone's last stage, or at the new head.
Everything before that point is frozen: its parameters get no gradient, its modules
stay in eval mode (BatchNorm keeps the pretrained statistics, dropout is off), and with
no parameter needing a gradient autograd builds no graph for it. Where the point is for
a given architecture comes from :mod:`tlpipe.architectures`.

The Snakemake rules (one training rule per strategy, its resources, the wildcard
constraint), the model code, the report's colours and order and the README's table take
the strategies from here; the config schema's enum must name the same ones (a test
checks it). Adding a strategy is one entry below plus its tests. Plain data, no torch
import: the workflow reads the registry while it parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tlpipe.architectures import family_of_model

if TYPE_CHECKING:
    from torch import nn

# Where training starts (the first trainable module, in module order).
EVERYTHING, LAST_STAGE, HEAD = "everything", "last_stage", "head"


@dataclass(frozen=True)
class Strategy:
    """How one strategy trains, and what one training job of it needs on a cluster."""

    name: str
    summary: str
    trains_from: str  # EVERYTHING, LAST_STAGE or HEAD
    # What one training job of the default run (resnet18, 25 epochs, one CPU thread, the
    # real hymenoptera data) asks a cluster for: the training rules pass both to SLURM
    # (sbatch -t, --mem), and no profile restates them. Sized from measured jobs:
    # memory 1.5x the highest peak resident memory (train.json's peak_rss_mb), rounded up
    # to 100 MB, for page cache and allocator slack; time 4x the slowest wall time on a
    # busy 2-core machine, rounded up to 10 minutes, for slower nodes. A site with more
    # data or GPUs raises them per rule in its profile (set-resources).
    runtime: int  # minutes
    mem_mb: int
    # Learning rate of the trained backbone parameters, as a multiple of train.lr (the
    # new head always gets train.lr): below 1 moves the pretrained layers less.
    backbone_lr_factor: float = 1.0

    @property
    def frozen_backbone(self) -> bool:
        """Only the head trains: the backbone is a fixed function of the image, so it can
        run without autograd on many images at once (the feature-extraction fast path)."""
        return self.trains_from == HEAD

    def first_trainable(self, model: nn.Module) -> str | None:
        """Name of the first module that trains in ``model`` (None: all of them)."""
        family = family_of_model(model)
        return {EVERYTHING: None, LAST_STAGE: family.last_stage, HEAD: family.head}[
            self.trains_from
        ]


REGISTRY: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy(
            "finetune",
            "the whole network trains, starting from the pretrained weights",
            trains_from=EVERYTHING,
            # measured: peak 1354 MB, 32 min (5 seeds)
            runtime=130,
            mem_mb=2100,
        ),
        Strategy(
            "feature_extract",
            "the pretrained backbone is frozen; only the new head trains",
            trains_from=HEAD,
            # measured: peak 1441 MB, 6.1 min (5 seeds)
            runtime=30,
            mem_mb=2200,
        ),
        Strategy(
            "partial_finetune",
            "the backbone's last stage (ResNet's layer4) and the new head train; the "
            "earlier stages stay frozen with their BatchNorm statistics",
            trains_from=LAST_STAGE,
            # measured: peak 1093 MB, 14.8 min (1 seed)
            runtime=60,
            mem_mb=1700,
        ),
    )
}
STRATEGIES = tuple(REGISTRY)


def trained_modules(model: nn.Module, strategy: str) -> set[str]:
    """Names of the modules that train under ``strategy``: the first trainable one and
    every module after it in ``model.named_modules()`` order (torchvision registers the
    modules in the order its forward runs them)."""
    names = [name for name, _ in model.named_modules()]
    first = REGISTRY[strategy].first_trainable(model)
    return set(names if first is None else names[names.index(first) :])
