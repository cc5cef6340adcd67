"""The torchvision architectures the pipeline supports, and where each keeps its parts.

torchvision builds every model by name (``torchvision.models.get_model``) and knows its
ImageNet weights (``get_model_weights``), but the families differ in where the
classifier sits (ResNet's ``fc``, MobileNet's and EfficientNet's ``classifier[-1]``,
ConvNeXt's ``classifier[2]``) and in how the backbone is laid out. A :class:`Family`
records those two facts, so the strategies (:mod:`tlpipe.strategies`) can say "train the
head" or "train the last stage" without knowing the architecture.

The families are plain data, and this module imports torch and torchvision only inside
the functions that need them: the Snakemake workflow reads the registries while it
parses, and that must not cost a torch import (seconds and about 1 GB).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tlpipe.errors import PipelineError

if TYPE_CHECKING:
    import torchvision
    from torch import nn


@dataclass(frozen=True)
class Family:
    """Where the parts of one family of torchvision classifiers are."""

    name: str
    archs: tuple[str, ...]
    # torchvision's class of these models (how a built model tells its family)
    model_class: str
    # The final nn.Linear, replaced by a new one with one output per class.
    head: str
    # The backbone's last stage, counted from the downsampling that starts the network's
    # coarsest resolution (ResNet's layer4, with its own downsampling block): it and
    # every module after it train in partial_finetune.
    last_stage: str


FAMILIES = (
    Family(
        "resnet",
        ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"),
        "ResNet",
        "fc",
        "layer4",
    ),
    # features[13]: the first stride-32 block (160 channels); then two more and the 960 conv
    Family("mobilenet_v3", ("mobilenet_v3_large",), "MobileNetV3", "classifier.3", "features.13"),
    # features[6]: stage 6 (192 channels, stride 2), then stage 7 and the 1280 conv
    Family(
        "efficientnet",
        ("efficientnet_b0", "efficientnet_b1"),
        "EfficientNet",
        "classifier.1",
        "features.6",
    ),
    # features[6]: the downsampling layer of stage 4, features[7] the stage itself
    Family(
        "convnext", ("convnext_tiny", "convnext_small"), "ConvNeXt", "classifier.2", "features.6"
    ),
)
ARCHS: dict[str, Family] = {arch: family for family in FAMILIES for arch in family.archs}


def family_of(arch: str) -> Family:
    """The family of a supported architecture; a clear error names the allowed ones."""
    try:
        return ARCHS[arch]
    except KeyError:
        raise PipelineError(
            f"model.arch={arch!r} is not supported; use one of {', '.join(ARCHS)}"
        ) from None


def family_of_model(model: nn.Module) -> Family:
    """The family of a model built by :func:`torchvision.models.get_model`."""
    for family in FAMILIES:
        if type(model).__name__ == family.model_class:
            return family
    raise PipelineError(f"{type(model).__name__}: not a model of a supported family")


def get_head(model: nn.Module) -> nn.Linear:
    """The classifier layer of ``model``."""
    return model.get_submodule(family_of_model(model).head)


def set_head(model: nn.Module, head: nn.Module) -> None:
    """Put ``head`` where the model's classifier layer is."""
    parent_path, _, name = family_of_model(model).head.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, name, head)  # nn.Sequential takes its index as a string too


def replace_head(model: nn.Module, num_classes: int) -> nn.Linear:
    """A new ``nn.Linear`` with ``num_classes`` outputs in place of the classifier."""
    from torch import nn

    head = nn.Linear(get_head(model).in_features, num_classes)
    set_head(model, head)
    return head


@contextlib.contextmanager
def headless(model: nn.Module) -> Iterator[nn.Module]:
    """The model with ``nn.Identity`` as its head, so that calling it gives the features
    the head takes (torchvision's own forward, whatever the family); yields the head."""
    from torch import nn

    head = get_head(model)
    set_head(model, nn.Identity())
    try:
        yield head
    finally:
        set_head(model, head)


def imagenet_weights(arch: str) -> torchvision.models.WeightsEnum:
    """torchvision's IMAGENET1K_V1 weights entry of ``arch`` (its URL and metadata)."""
    import torchvision

    family_of(arch)
    return torchvision.models.get_model_weights(arch).IMAGENET1K_V1


def default_transform(arch: str) -> dict[str, Any]:
    """Input sizes and normalisation the ImageNet weights of ``arch`` were trained with:
    ``crop_size``, ``resize_size``, ``mean``, ``std`` (from the weights' metadata)."""
    preset = imagenet_weights(arch).transforms()
    return {
        "crop_size": int(preset.crop_size[0]),
        "resize_size": int(preset.resize_size[0]),
        "mean": [float(x) for x in preset.mean],
        "std": [float(x) for x in preset.std],
    }
