"""Training and evaluation loops shared by train.py and evaluate.py.

Speed without changing what is learned:

- **Precision.** ``bf16`` runs the convolutional backbone under autocast in bfloat16
  (about 2x faster on CPUs with native bf16 such as AVX512-BF16/AMX, and on recent
  GPUs); the weights, the optimiser and the classifier head stay float32. ``auto`` picks
  bf16 only where the hardware has it. See :func:`resolve_precision`.
- **channels_last** memory format for the model and inputs: oneDNN (CPU) and cuDNN run
  convolutions fastest in it, bf16 ones in particular.
- **Feature extraction** (:func:`train_head_one_epoch`): the frozen backbone is a
  fixed function, so it runs without autograd on many images at once and only the head
  is trained, step by step in the original mini-batches.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from tlpipe.architectures import get_head, headless
from tlpipe.cpus import usable_cpus


@dataclass
class EpochResult:
    """Mean loss and accuracy over one pass of a loader."""

    loss: float
    accuracy: float
    n: int


def resolve_threads(requested: int = 0) -> int:
    """Threads to use: ``requested``, else OMP_NUM_THREADS (Snakemake sets it from the
    rule's ``threads``), else every CPU this process may run on (SLURM's allocation);
    never more than the CPUs this process may run on, where extra threads only wait."""
    allowed = usable_cpus()
    if requested > 0:
        return min(requested, allowed)
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return min(int(env), allowed)
    return allowed


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (Linux: ``ru_maxrss`` is in KB).

    Children are not added: ``RUSAGE_CHILDREN`` also counts a child's pages before it
    execs (a ``git`` call from a 1.4 GB process reads as 1.4 GB), and the only other
    children, DataLoader workers, exist only with ``cache_images: false``.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


PRECISIONS = ("auto", "fp32", "bf16")
# Batch size for inference (validation, evaluation): in eval mode every image's output
# is independent of the rest of its batch. On CPU, 8 validates 153 images as fast as 16
# or 32 (about 1.5 s on one thread) while a finetune job's peak memory stays about
# 100 MB lower (oneDNN keeps the buffers of the largest batch shape it has run).
EVAL_BATCH_SIZE = 8
# How many images the frozen backbone sees at once in feature extraction: large enough
# for efficient kernels, small enough that the activations stay well under 1 GB.
FEATURE_CHUNK = 32


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes in bfloat16 natively (AVX512-BF16 or AMX)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_precision(name: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` for a requested precision (``auto``, ``fp32``, ``bf16``).

    ``auto`` is bf16 where it is fast: a CUDA GPU that supports it (Ampere and newer)
    or a CPU with native bf16 instructions; fp32 elsewhere (MPS, older CPUs and GPUs,
    where emulated bf16 would be slower than fp32).
    """
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; use one of {', '.join(PRECISIONS)}")
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    return "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast to bfloat16 for ``bf16``; a no-op for ``fp32``."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move a batch to ``device`` in channels_last layout (non-blocking from pinned memory)."""
    return images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)


def backbone_features(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """What the model's head takes for ``images``: torchvision's forward, head removed."""
    with headless(model):
        return model(images)


def forward(
    model: nn.Module, images: torch.Tensor, device: torch.device, precision: str
) -> torch.Tensor:
    """Logits: the backbone under autocast, the head in float32.

    Keeping the head (and so the logits and the loss) in float32 costs nothing and
    makes every path (training, validation, feature extraction, evaluation) compute
    the same function for a given precision.
    """
    with autocast(device, precision):
        features = backbone_features(model, images)
    return get_head(model)(features.float())


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
    precision: str = "fp32",
) -> EpochResult:
    """One optimisation pass; the caller sets train/eval mode per strategy."""
    total = EpochTotals()
    # disable=None: a bar on a terminal, nothing in log files (one line per epoch there)
    for images, labels in tqdm(loader, desc=desc, leave=False, disable=None):
        labels = labels.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        outputs = forward(model, to_device(images, device), device, precision)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        total.add(loss, outputs, labels)
    return total.result()


@dataclass
class EpochTotals:
    """Running sums of loss and correct predictions over the batches of an epoch."""

    loss: float = 0.0
    correct: int = 0
    seen: int = 0

    def add(self, loss: torch.Tensor, outputs: torch.Tensor, labels: torch.Tensor) -> None:
        self.loss += loss.item() * labels.size(0)
        self.correct += int((outputs.argmax(1) == labels).sum().item())
        self.seen += labels.size(0)

    def result(self) -> EpochResult:
        seen = max(self.seen, 1)
        return EpochResult(self.loss / seen, self.correct / seen, self.seen)


@torch.no_grad()
def extract_features(
    model: nn.Module, images: torch.Tensor, device: torch.device, precision: str
) -> torch.Tensor:
    """Float32 backbone features of a batch (the model must be in eval mode)."""
    with autocast(device, precision):
        return backbone_features(model, to_device(images, device)).float()


def chunked(loader: DataLoader, size: int) -> Iterator[list[tuple[torch.Tensor, torch.Tensor]]]:
    """The loader's batches, grouped so that each group holds about ``size`` images."""
    group: list[tuple[torch.Tensor, torch.Tensor]] = []
    for images, labels in loader:
        group.append((images, labels))
        if sum(len(batch_labels) for _, batch_labels in group) >= size:
            yield group
            group = []
    if group:
        yield group


def train_head_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    desc: str = "train",
    precision: str = "fp32",
    chunk: int = FEATURE_CHUNK,
) -> EpochResult:
    """One pass of feature extraction: a frozen backbone (eval mode), only the head trained.

    Does what :func:`train_one_epoch` does for this strategy, faster: the loader is
    read as usual (same shuffling, same augmentation draws, same mini-batches), but the
    backbone runs without autograd on ``chunk`` images at once, then the head takes one
    optimiser step per original mini-batch, in order. Since the backbone is a fixed
    function (frozen weights and BatchNorm statistics), the steps are those of the
    plain loop up to floating-point rounding.
    """
    total = EpochTotals()
    head = get_head(model)
    model.eval()  # the backbone must not use batch statistics: chunks differ from batches
    head.train()
    for group in tqdm(chunked(loader, chunk), desc=desc, leave=False, disable=None):
        features = extract_features(model, torch.cat([x for x, _ in group]), device, precision)
        for batch_features, (_, labels) in zip(
            features.split([len(y) for _, y in group]), group, strict=True
        ):
            labels = labels.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            outputs = head(batch_features)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            total.add(loss, outputs, labels)
    return total.result()


@torch.no_grad()
def loader_features(
    model: nn.Module, loader: DataLoader, device: torch.device, precision: str = "fp32"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Backbone features and labels of every sample of ``loader`` (model in eval mode)."""
    model.eval()
    features, labels = [], []
    for images, batch_labels in loader:
        features.append(extract_features(model, images, device, precision))
        labels.append(batch_labels)
    return torch.cat(features), torch.cat(labels)


@torch.no_grad()
def predict_from_features(model: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Logits of the head for precomputed backbone features (on CPU)."""
    head = get_head(model).eval()
    return head(features).float().cpu()


@torch.no_grad()
def predict(
    model: nn.Module, loader: DataLoader, device: torch.device, precision: str = "fp32"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels for every sample of ``loader``, in loader order (model in eval)."""
    model.eval()
    all_logits, all_labels = [], []
    for images, labels in loader:
        all_logits.append(forward(model, to_device(images, device), device, precision).cpu())
        all_labels.append(labels)
    return torch.cat(all_logits), torch.cat(all_labels)


def make_validator(
    model: nn.Module, loader: DataLoader, device: torch.device, precision: str, frozen: bool
) -> Callable[[], EpochResult]:
    """A function returning this epoch's validation loss and accuracy.

    With a ``frozen`` backbone the backbone is a fixed function and the validation
    transform has no randomness, so the validation features are computed once, here,
    and each epoch only applies the current head to them.
    """
    if not frozen:
        return lambda: summarize(*predict(model, loader, device, precision))
    features, labels = loader_features(model, loader, device, precision)
    return lambda: summarize(predict_from_features(model, features), labels)


def summarize(logits: torch.Tensor, labels: torch.Tensor) -> EpochResult:
    """Mean cross-entropy and accuracy of a set of predictions."""
    loss = nn.functional.cross_entropy(logits, labels).item()
    correct = int((logits.argmax(1) == labels).sum().item())
    return EpochResult(loss, correct / max(labels.numel(), 1), int(labels.numel()))
