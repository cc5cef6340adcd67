"""The optimiser and the learning-rate schedule, built from the ``train`` settings.

The PyTorch transfer-learning tutorial's: SGD with momentum and StepLR (the rate times
``gamma`` every ``step_size`` epochs, stepped once per epoch). The parameter groups, and
so each group's rate, come from the strategy (:func:`tlpipe.model.configure_strategy`).
A new optimiser setting (weight decay) or schedule (cosine) is a schema entry and a line
here: train.py passes every train setting through.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch


class OptimSettings(Protocol):
    """The ``train`` settings read here (train.py's parsed arguments have them all)."""

    lr: float
    momentum: float
    step_size: int
    gamma: float


def make_optimizer(
    param_groups: list[dict[str, Any]], settings: OptimSettings
) -> torch.optim.Optimizer:
    """SGD with momentum over ``param_groups``; a group's own ``lr`` overrides ``settings.lr``."""
    return torch.optim.SGD(param_groups, lr=settings.lr, momentum=settings.momentum)


def make_scheduler(
    optimizer: torch.optim.Optimizer, settings: OptimSettings
) -> torch.optim.lr_scheduler.LRScheduler:
    """StepLR: every group's rate times ``gamma`` after each ``step_size`` epochs."""
    return torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=settings.step_size, gamma=settings.gamma
    )
