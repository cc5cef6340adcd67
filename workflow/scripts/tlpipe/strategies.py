"""The transfer-learning strategies: the one list every part of the pipeline reads.

The Snakemake rules (one training rule per strategy, its resources, the wildcard
constraint), the model code and the report take the strategies from here; the config
schema's enum must name the same ones (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Strategy:
    """How one strategy trains, and what one training job of it needs on a cluster."""

    name: str
    summary: str
    # Backbone frozen (weights and BatchNorm statistics): only the new head trains, and
    # the backbone can run without autograd on many images at once (the fast path).
    frozen_backbone: bool
    # Default time limit (minutes) and memory (MB) of one 25-epoch CPU job: generous for
    # the real dataset on 2 cores; a SLURM profile overrides them per rule by name.
    runtime: int
    mem_mb: int


REGISTRY: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy(
            "finetune",
            "the whole network trains, starting from the pretrained weights",
            frozen_backbone=False,
            runtime=120,
            mem_mb=2000,
        ),
        Strategy(
            "feature_extract",
            "the pretrained backbone is frozen; only the new head trains",
            frozen_backbone=True,
            runtime=30,
            mem_mb=2000,
        ),
    )
}
STRATEGIES = tuple(REGISTRY)
