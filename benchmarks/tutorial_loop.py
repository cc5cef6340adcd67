#!/usr/bin/env python
"""The PyTorch transfer-learning tutorial's training loop, as plainly as the tutorial has it.

The baseline of ``run_benchmark.py``: torchvision ``ImageFolder`` decoding every image
with PIL every epoch, 2 loader workers, batch 4, fp32, a train and a val phase per
epoch, the best model kept by validation accuracy. Only what a benchmark needs is
added: thread count, epochs, weights file, and a JSON file with per-epoch seconds.

    python benchmarks/tutorial_loop.py --data-dir data/hymenoptera_data \\
        --strategy finetune --epochs 3 --out /tmp/tutorial.json
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision import datasets, transforms


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="holds train/ and val/")
    parser.add_argument("--strategy", choices=("finetune", "feature_extract"), required=True)
    parser.add_argument("--epochs", type=int, default=25, help="epochs (default: 25)")
    parser.add_argument("--weights", default="none", help="state-dict file or none (default)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--num-workers", type=int, default=2, help="loader workers (default: 2)")
    parser.add_argument("--out", type=Path, required=True, help="JSON with per-epoch results")
    return parser


def data_loaders(data_dir: Path, num_workers: int) -> dict[str, torch.utils.data.DataLoader]:
    """The tutorial's transforms and loaders (batch 4, shuffled, PIL decoding per epoch)."""
    normalize = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    data_transforms = {
        "train": transforms.Compose(
            [
                transforms.RandomResizedCrop(224),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                normalize,
            ]
        ),
        "val": transforms.Compose(
            [transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(), normalize]
        ),
    }
    image_datasets = {
        x: datasets.ImageFolder(data_dir / x, data_transforms[x]) for x in ("train", "val")
    }
    return {
        x: torch.utils.data.DataLoader(
            image_datasets[x], batch_size=4, shuffle=True, num_workers=num_workers
        )
        for x in ("train", "val")
    }


def build_model(strategy: str, weights: str) -> nn.Module:
    """ResNet18 with a new 2-class fc; the backbone frozen for feature extraction."""
    model = torchvision.models.resnet18(weights=None)
    if weights != "none":
        model.load_state_dict(torch.load(weights, weights_only=True))
    if strategy == "feature_extract":
        for param in model.parameters():
            param.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, 2)
    return model


def train_model(model, loaders, criterion, optimizer, scheduler, epochs) -> list[dict]:
    """The tutorial's ``train_model``, recording each epoch's seconds and metrics."""
    history = []
    best_acc, best_wts = 0.0, copy.deepcopy(model.state_dict())
    for epoch in range(epochs):
        tick = time.perf_counter()
        record = {"epoch": epoch + 1}
        for phase in ("train", "val"):
            model.train() if phase == "train" else model.eval()
            running_loss, running_corrects, seen = 0.0, 0, 0
            for inputs, labels in loaders[phase]:
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    outputs = model(inputs)
                    loss = criterion(outputs, labels)
                    if phase == "train":
                        loss.backward()
                        optimizer.step()
                running_loss += loss.item() * inputs.size(0)
                running_corrects += int((outputs.argmax(1) == labels).sum())
                seen += inputs.size(0)
            if phase == "train":
                scheduler.step()
            record[f"{phase}_loss"] = running_loss / seen
            record[f"{phase}_acc"] = running_corrects / seen
            if phase == "val" and record["val_acc"] > best_acc:
                best_acc, best_wts = record["val_acc"], copy.deepcopy(model.state_dict())
        record["seconds"] = time.perf_counter() - tick
        history.append(record)
        print(json.dumps(record), flush=True)
    model.load_state_dict(best_wts)
    return history


def main() -> None:
    args = get_args_parser().parse_args()
    start = time.perf_counter()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    loaders = data_loaders(args.data_dir, args.num_workers)
    model = build_model(args.strategy, args.weights)
    params = model.fc.parameters() if args.strategy == "feature_extract" else model.parameters()
    optimizer = torch.optim.SGD(params, lr=0.001, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)
    history = train_model(model, loaders, nn.CrossEntropyLoss(), optimizer, scheduler, args.epochs)
    result = {"history": history, "wall_seconds": time.perf_counter() - start}
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
