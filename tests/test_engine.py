"""Training loops: the fast feature-extraction path, precision and the split forward."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from tlpipe import engine
from tlpipe.dataset import make_loader
from tlpipe.engine import (
    chunked,
    forward,
    loader_features,
    predict,
    predict_from_features,
    resolve_precision,
)
from tlpipe.model import build_model, configure_strategy

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def data():
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(10, 3, 32, 32, generator=generator)
    labels = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1, 1, 0])
    return TensorDataset(images, labels)


def feature_extractor(seed: int = 0):
    torch.manual_seed(seed)
    model = build_model("resnet18", 2)
    param_groups = configure_strategy(model, "feature_extract", 0.01)
    return model, torch.optim.SGD(param_groups, lr=0.01, momentum=0.9)


def test_chunks_keep_the_mini_batches_in_order(data):
    loader = make_loader(data, 3, shuffle=False, num_workers=0, seed=0)
    groups = list(chunked(loader, 5))
    assert [[len(y) for _, y in group] for group in groups] == [[3, 3], [3, 1]]
    labels = torch.cat([y for group in groups for _, y in group])
    assert torch.equal(labels, data.tensors[1])


def test_validation_from_features_equals_predict(data):
    model, _ = feature_extractor()
    loader = make_loader(data, 4, shuffle=False, num_workers=0, seed=0)
    logits, labels = predict(model, loader, CPU)
    features, feature_labels = loader_features(model, loader, CPU)
    assert features.shape == (10, 512) and torch.equal(labels, feature_labels)
    torch.testing.assert_close(predict_from_features(model, features), logits)


def test_split_forward_is_the_model_forward(data):
    model = build_model("resnet18", 2).eval()
    images = data.tensors[0][:4]
    with torch.no_grad():
        torch.testing.assert_close(forward(model, images, CPU, "fp32"), model(images))


def test_bf16_forward_keeps_float32_logits_close(data):
    model = build_model("resnet18", 2).eval()
    images = data.tensors[0][:4]
    with torch.no_grad():
        reference = forward(model, images, CPU, "fp32")
        logits = forward(model, images, CPU, "bf16")
    assert logits.dtype == torch.float32  # the head runs in float32
    torch.testing.assert_close(logits, reference, rtol=0.1, atol=0.1)


def test_resolve_precision(monkeypatch):
    assert resolve_precision("fp32", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16"
    monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision("auto", CPU) == "bf16"
    monkeypatch.setattr(engine, "cpu_has_native_bf16", lambda: False)
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision("auto", torch.device("mps")) == "fp32"
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        resolve_precision("fp16", CPU)
