"""Model building, strategies and weights checks."""

from __future__ import annotations

import pytest
import torch
from datagen import make_weights, sha256

from tlpipe.errors import PipelineError
from tlpipe.model import (
    build_model,
    configure_strategy,
    count_parameters,
    set_train_mode,
)


def trainable_params(model, strategy):
    """The parameters the optimiser gets for ``strategy`` (all groups)."""
    return [p for group in configure_strategy(model, strategy, 0.1) for p in group["params"]]


@pytest.fixture(scope="module")
def model_and_weights(weights_file):
    return build_model("resnet18", 3, weights_file, sha256(weights_file)), weights_file


def test_pretrained_weights_are_loaded_and_fc_replaced(model_and_weights):
    model, weights_file = model_and_weights
    state = torch.load(weights_file, weights_only=True)
    assert torch.equal(model.conv1.weight, state["conv1.weight"])
    assert torch.equal(model.layer4[1].bn2.running_var, state["layer4.1.bn2.running_var"])
    assert model.fc.out_features == 3 and model.fc.in_features == 512
    assert state["fc.weight"].shape == (1000, 512)


def test_finetune_trains_everything():
    model = build_model("resnet18", 2)
    params = trainable_params(model, "finetune")
    counts = count_parameters(model)
    assert counts["trainable"] == counts["total"] == 11_177_538
    assert len(params) == len(list(model.parameters()))


def test_feature_extract_trains_only_fc():
    model = build_model("resnet18", 2)
    params = trainable_params(model, "feature_extract")
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc.weight", "fc.bias"}
    assert sum(p.numel() for p in params) == 512 * 2 + 2


def test_feature_extract_keeps_backbone_and_batchnorm_statistics_frozen():
    torch.manual_seed(0)
    model = build_model("resnet18", 2)
    params = trainable_params(model, "feature_extract")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    set_train_mode(model, "feature_extract")
    for _ in range(2):
        loss = torch.nn.functional.cross_entropy(
            model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 0, 1])
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"fc.weight", "fc.bias"}


def test_finetune_mode_updates_batchnorm_statistics():
    model = build_model("resnet18", 2)
    set_train_mode(model, "finetune")
    before = model.bn1.running_mean.clone()
    model(torch.randn(4, 3, 32, 32))
    assert not torch.equal(before, model.bn1.running_mean)


def test_unknown_strategy():
    with pytest.raises(PipelineError, match="unknown strategy 'linear'"):
        configure_strategy(build_model("resnet18", 2), "linear", 0.1)


def test_weights_for_another_architecture(tmp_path):
    path = make_weights(tmp_path / "resnet34.pth", arch="resnet34")
    with pytest.raises(
        PipelineError, match=r"resnet34.pth: weights do not fit model.arch=resnet18"
    ):
        build_model("resnet18", 2, path)


def test_weights_sha256_checked_on_every_use(weights_file):
    with pytest.raises(PipelineError, match=r"sha256 mismatch.*model.weights_sha256"):
        build_model("resnet18", 2, weights_file, "0" * 64)


@pytest.mark.parametrize("content", [b"", b"not a pickle at all", b"PK\x03\x04broken zip"])
def test_corrupt_weights_file(tmp_path, content):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(PipelineError, match=r"bad.pth: not a readable PyTorch state dict"):
        build_model("resnet18", 2, path)


def test_missing_weights_file(tmp_path):
    with pytest.raises(PipelineError, match=r"missing.pth: weights file not found"):
        build_model("resnet18", 2, tmp_path / "missing.pth")
