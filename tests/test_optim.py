"""The optimiser and schedule built from the train settings."""

from __future__ import annotations

import types

import torch

from tlpipe.model import build_model, configure_strategy
from tlpipe.optim import make_optimizer, make_scheduler

SETTINGS = types.SimpleNamespace(lr=0.01, momentum=0.9, step_size=2, gamma=0.1)


def test_the_strategys_parameter_groups_with_sgd_momentum():
    model = build_model("resnet18", 2)
    optimizer = make_optimizer(configure_strategy(model, "partial_finetune", SETTINGS.lr), SETTINGS)
    assert isinstance(optimizer, torch.optim.SGD)
    (group,) = optimizer.param_groups
    assert group["lr"] == 0.01 and group["momentum"] == 0.9
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert [id(p) for p in group["params"]] == [id(p) for p in trainable]  # tutorial order


def test_each_group_keeps_its_rate_and_steplr_scales_all_every_step_size_epochs():
    weights = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    groups = [{"params": [weights[0]], "lr": 0.001}, {"params": [weights[1]], "lr": 0.01}]
    optimizer = make_optimizer(groups, SETTINGS)
    scheduler = make_scheduler(optimizer, SETTINGS)
    rates = []
    for _ in range(5):  # one scheduler step per epoch, as train.py's fit does
        rates.append([round(g["lr"], 12) for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    assert rates == [[0.001, 0.01]] * 2 + [[0.0001, 0.001]] * 2 + [[0.00001, 0.0001]]
