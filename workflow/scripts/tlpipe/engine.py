"""Training and evaluation loops shared by train.py and evaluate.py."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm


@dataclass
class EpochResult:
    """Mean loss and accuracy over one pass of a loader."""

    loss: float
    accuracy: float
    n: int


def resolve_threads(requested: int = 0) -> int:
    """Threads to use: ``requested``, else OMP_NUM_THREADS (Snakemake sets it from the
    rule's ``threads``), else every CPU this process may run on (SLURM's allocation)."""
    if requested > 0:
        return requested
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def make_deterministic(seed: int) -> None:
    """Seed every RNG and ask for deterministic kernels.

    On CPU this gives bitwise-identical runs for the same seed and thread count. On
    CUDA, cuBLAS needs CUBLAS_WORKSPACE_CONFIG set before it initialises, and a few
    ops have no deterministic kernel (``warn_only`` logs instead of failing).
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of one epoch's shuffling and augmentation, so a resumed run replays it exactly."""
    return seed * 1_000_003 + epoch


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    desc: str = "train",
) -> EpochResult:
    """One optimisation pass; the caller sets train/eval mode per strategy."""
    total_loss, correct, seen = 0.0, 0, 0
    # disable=None: a bar on a terminal, nothing in log files (one line per epoch there)
    for images, labels in tqdm(loader, desc=desc, leave=False, disable=None):
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        outputs = model(images)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * labels.size(0)
        correct += (outputs.argmax(1) == labels).sum().item()
        seen += labels.size(0)
    return EpochResult(total_loss / max(seen, 1), correct / max(seen, 1), seen)


@torch.no_grad()
def predict(
    model: nn.Module, loader: DataLoader, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels for every sample of ``loader``, in loader order (model in eval)."""
    model.eval()
    all_logits, all_labels = [], []
    for images, labels in loader:
        all_logits.append(model(images.to(device, non_blocking=True)).float().cpu())
        all_labels.append(labels)
    return torch.cat(all_logits), torch.cat(all_labels)


def summarize(logits: torch.Tensor, labels: torch.Tensor) -> EpochResult:
    """Mean cross-entropy and accuracy of a set of predictions."""
    loss = nn.functional.cross_entropy(logits, labels).item()
    correct = int((logits.argmax(1) == labels).sum().item())
    return EpochResult(loss, correct / max(labels.numel(), 1), int(labels.numel()))
