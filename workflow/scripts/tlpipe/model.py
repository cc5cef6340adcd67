"""Model building for every strategy and architecture, and pretrained weights (checkpoint
files: :mod:`tlpipe.checkpoints`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from tlpipe.architectures import family_of, family_of_model, replace_head
from tlpipe.errors import PipelineError, first_line
from tlpipe.fileio import verify_sha256
from tlpipe.strategies import REGISTRY, STRATEGIES, trained_modules

log = logging.getLogger(__name__)


def select_device(name: str) -> torch.device:
    """Resolve ``auto`` to cuda, then mps, then cpu; check an explicit choice exists."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(name, False):
        raise PipelineError(f"train.device={name!r} is not available here; use auto or cpu")
    return torch.device(name)


def load_state_dict_file(path: str | os.PathLike[str], sha256: str | None) -> dict[str, Any]:
    """Verify and load a state-dict file (tensors only: ``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(
            f"{path}: weights file not found; set model.weights to IMAGENET1K_V1, none "
            "or the path of an existing state-dict file"
        )
    verify_sha256(path, sha256, "model.weights_sha256")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise PipelineError(
            f"{path}: not a readable PyTorch state dict ({type(err).__name__}: {first_line(err)}); "
            "download it again or point model.weights at a good file"
        ) from None
    if isinstance(state, dict) and "state_dict" in state:  # a full checkpoint
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PipelineError(f"{path}: does not hold a state dict of tensors")
    return state


def resolve_weights(weights: str, pretrained: str | os.PathLike[str] | None) -> Path | None:
    """The state-dict file for ``model.weights``: None for ``none``; else the file the
    download_weights step put in place (``pretrained``: the ImageNet download or a copy
    of the local file), or, called without it, the local path itself."""
    if weights.lower() == "none":
        return None
    if pretrained is not None:
        return Path(pretrained)
    if weights == "IMAGENET1K_V1":
        raise PipelineError("model.weights=IMAGENET1K_V1 needs the downloaded file (--pretrained)")
    return Path(weights)


def build_model(
    arch: str,
    num_classes: int,
    weights_path: str | os.PathLike[str] | None = None,
    weights_sha256: str | None = None,
) -> nn.Module:
    """A torchvision classifier with pretrained (or random) weights and a new head.

    The pretrained state dict must fit ``arch`` exactly (strict loading); the new head
    (ResNet's ``fc``, ``classifier[-1]`` elsewhere) has ``num_classes`` outputs and
    PyTorch's default initialisation.
    """
    family_of(arch)  # an unsupported name stops here, naming the supported ones
    model = torchvision.models.get_model(arch, weights=None)
    if weights_path is not None:
        state = load_state_dict_file(weights_path, weights_sha256)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            first_lines = " ".join(str(err).splitlines()[:3])
            raise PipelineError(
                f"{weights_path}: weights do not fit model.arch={arch} ({first_lines[:300]}); "
                "use the weights file for this architecture"
            ) from None
        log.info("loaded pretrained weights from %s", weights_path)
    replace_head(model, num_classes)
    return model


def configure_strategy(model: nn.Module, strategy: str, lr: float) -> list[dict[str, Any]]:
    """Set ``requires_grad`` for a strategy; return the optimiser's parameter groups.

    The modules the strategy trains (:func:`tlpipe.strategies.trained_modules`) get
    gradients, the rest are frozen. One group at ``lr``, or, where the strategy gives
    the backbone another rate, the head at ``lr`` and the trained backbone at its rate.
    """
    if strategy not in STRATEGIES:
        raise PipelineError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    trained = trained_modules(model, strategy)
    head = family_of_model(model).head
    groups: dict[str, list[nn.Parameter]] = {"head": [], "backbone": []}
    for name, module in model.named_modules():
        for param in module.parameters(recurse=False):
            param.requires_grad = name in trained
            if param.requires_grad:
                groups["head" if name == head else "backbone"].append(param)
    factor = REGISTRY[strategy].backbone_lr_factor
    if factor == 1.0:  # one group, in parameter order (as the tutorial's optimiser)
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr}]
    return [
        {"params": groups["backbone"], "lr": lr * factor},
        {"params": groups["head"], "lr": lr},
    ]


def set_train_mode(model: nn.Module, strategy: str) -> None:
    """Put the model in training mode for a strategy: what trains in train mode, the
    frozen part in eval mode.

    So frozen BatchNorm layers use and keep the pretrained running statistics. (The
    PyTorch tutorial calls ``model.train()`` for feature extraction and lets them drift
    towards the small training set, so the "frozen" features change during training.)
    Freezing them makes the frozen part a fixed function of the input.
    """
    trained = trained_modules(model, strategy)
    for name, module in model.named_modules():
        module.training = name in trained  # each module's own flag (train() recurses)


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Total and trainable parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}
