"""Every strategy x one architecture of every family, on tiny random data.

What each combination must pass: the head has one output per class; exactly the
parameters the strategy trains have ``requires_grad``; the frozen part (weights and
BatchNorm buffers) is bit-identical after an epoch; the frozen prefix builds no
autograd graph; feature extraction's fast path gives the plain loop's result; a
checkpoint round-trips and gives the same logits.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from tlpipe.architectures import (
    ARCHS,
    FAMILIES,
    default_transform,
    family_of,
    get_head,
    imagenet_weights,
)
from tlpipe.checkpoints import load_checkpoint, model_from_checkpoint, save_model
from tlpipe.config import load_schema
from tlpipe.engine import predict, train_head_one_epoch, train_one_epoch
from tlpipe.errors import PipelineError
from tlpipe.model import build_model, configure_strategy, set_train_mode
from tlpipe.strategies import STRATEGIES, trained_modules

ONE_PER_FAMILY = [family.archs[0] for family in FAMILIES]
CPU = torch.device("cpu")
CLASSES = 3


def tiny_loader(seed: int = 0, n: int = 8, size: int = 32) -> DataLoader:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, size, size, generator=generator)
    labels = torch.arange(n) % CLASSES
    return DataLoader(TensorDataset(images, labels), batch_size=4, shuffle=False)


def prepared(arch: str, strategy: str) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = build_model(arch, CLASSES)
    optimizer = torch.optim.SGD(configure_strategy(model, strategy, 0.01), lr=0.01, momentum=0.9)
    return model, optimizer


def one_epoch(model, optimizer, strategy, fast=False):
    set_train_mode(model, strategy)
    step = train_head_one_epoch if fast else train_one_epoch
    criterion = torch.nn.CrossEntropyLoss()
    return step(model, tiny_loader(), criterion, optimizer, CPU, "test", "fp32")


def owner(name: str) -> str:
    return name.rpartition(".")[0]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("arch", ONE_PER_FAMILY)
def test_strategy_trains_what_it_says_and_nothing_else(arch, strategy):
    model, optimizer = prepared(arch, strategy)
    assert get_head(model).out_features == CLASSES
    trained = trained_modules(model, strategy)
    grads = {name: p.requires_grad for name, p in model.named_parameters()}
    assert grads == {name: owner(name) in trained for name in grads}
    head = family_of(arch).head
    assert all(grads[f"{head}.{p}"] for p in ("weight", "bias"))
    expected_trainable = {"finetune": len(grads), "feature_extract": 2}.get(strategy)
    if expected_trainable is not None:
        assert sum(grads.values()) == expected_trainable
    else:  # partial_finetune: the last stage and what follows, not the early stages
        stage = family_of(arch).last_stage
        assert grads[next(n for n in grads if n.startswith(stage + "."))]
        assert not grads[next(iter(grads))] and 2 < sum(grads.values()) < len(grads)

    before = {key: value.clone() for key, value in model.state_dict().items()}
    result = one_epoch(model, optimizer, strategy)
    assert result.n == 8
    after = model.state_dict()
    changed = {key for key in before if not torch.equal(before[key], after[key])}
    frozen = {key for key in before if owner(key) not in trained}
    assert not changed & frozen, f"frozen state changed: {sorted(changed & frozen)[:5]}"
    # the head learns (only its bias where random frozen features come out all zero)
    assert {f"{head}.weight", f"{head}.bias"} & changed


@pytest.mark.parametrize("arch", ONE_PER_FAMILY)
def test_partial_finetune_builds_no_graph_before_the_last_stage(arch):
    """The frozen prefix runs without autograd: what enters the last stage has no
    history, so backward stops there."""
    model, _ = prepared(arch, "partial_finetune")
    set_train_mode(model, "partial_finetune")
    seen = {}
    stage = model.get_submodule(family_of(arch).last_stage)
    stage.register_forward_pre_hook(lambda _, args: seen.update(x=args[0]))
    logits = model(torch.randn(2, 3, 32, 32))
    assert seen["x"].grad_fn is None and not seen["x"].requires_grad
    assert logits.grad_fn is not None


@pytest.mark.parametrize("arch", ONE_PER_FAMILY)
def test_feature_extract_fast_path_equals_the_plain_loop(arch):
    """Batched, autograd-free backbone + head steps per mini-batch == the plain loop (fp32),
    over two epochs (the second uses the momentum built in the first) and with feature
    chunks that cut across the mini-batches; the backbone, BatchNorm statistics included,
    is left untouched by both."""
    plain, plain_opt = prepared(arch, "feature_extract")
    fast = copy.deepcopy(plain)
    fast_opt = torch.optim.SGD(
        configure_strategy(fast, "feature_extract", 0.01), lr=0.01, momentum=0.9
    )
    criterion = torch.nn.CrossEntropyLoss()
    for _ in range(2):
        set_train_mode(plain, "feature_extract")
        a = train_one_epoch(plain, tiny_loader(), criterion, plain_opt, CPU, "test", "fp32")
        b = train_head_one_epoch(fast, tiny_loader(), criterion, fast_opt, CPU, "test", "fp32",
                                 chunk=3)  # fmt: skip
        assert a.n == b.n == 8
        assert a.accuracy == b.accuracy and a.loss == pytest.approx(b.loss, rel=1e-5)
        for x, y in zip(get_head(plain).parameters(), get_head(fast).parameters(), strict=True):
            torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)
    head = family_of(arch).head
    plain_state, fast_state = plain.state_dict(), fast.state_dict()
    for key in plain_state:
        if not key.startswith(head + "."):
            assert torch.equal(plain_state[key], fast_state[key]), key


@pytest.mark.parametrize("arch", ONE_PER_FAMILY)
def test_checkpoint_round_trips_and_evaluates_the_same(arch, tmp_path):
    model, optimizer = prepared(arch, "partial_finetune")
    one_epoch(model, optimizer, "partial_finetune")
    path = tmp_path / "model.pt"
    info = {"arch": arch, "strategy": "partial_finetune", "class_names": ["a", "b", "c"],
            "config": {}, "provenance": {}, "transform": {"crop_size": 32, "resize_size": 36},
            "precision": "fp32"}  # fmt: skip
    save_model(path, model.state_dict(), epoch=1, val_acc=0.5, info=info)
    restored = model_from_checkpoint(load_checkpoint(path, "model"))
    logits, _ = predict(model, tiny_loader(1), CPU)
    again, _ = predict(restored, tiny_loader(1), CPU)
    assert torch.equal(logits, again) and logits.shape == (8, CLASSES)


def test_registry_and_schema_name_the_same_architectures():
    schema = load_schema()["properties"]["model"]["properties"]["arch"]
    assert schema["enum"] == list(ARCHS)


def test_unsupported_architecture_names_the_allowed_ones():
    with pytest.raises(PipelineError, match=r"model.arch='vgg16' is not supported; use one of "):
        build_model("vgg16", 2)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_every_architecture_has_weights_metadata_with_imagenet_normalisation(arch):
    """Sizes come from the weights; normalisation is ImageNet's for all of them, which
    the transforms assume (a family with other statistics must fail here)."""
    preset = default_transform(arch)
    assert preset["mean"] == [0.485, 0.456, 0.406] and preset["std"] == [0.229, 0.224, 0.225]
    assert preset["resize_size"] >= preset["crop_size"] >= 224
    assert imagenet_weights(arch).url.startswith("https://download.pytorch.org/models/")
