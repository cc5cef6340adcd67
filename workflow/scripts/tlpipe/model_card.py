"""The model card of each strategy (``reports/model_card_<strategy>.md``): what the model
is, the data it saw, its results with their intervals, its limits, its provenance, and a
snippet that loads it with plain torchvision (``tests/test_workflow.py`` runs it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tlpipe import paths
from tlpipe.dataset import IMAGENET_MEAN, IMAGENET_STD
from tlpipe.fileio import atomic_open
from tlpipe.pages import environment
from tlpipe.runs import Run, model_files, runs_of, strategy_file
from tlpipe.strategies import REGISTRY
from tlpipe.tables import confidence_level, describe_cell, labels, number
from tlpipe.verdict import basis_label

#: What the model card's loading snippet becomes, filled in per strategy (tested).
SNIPPET = """\
import torch
import torchvision
from PIL import Image
from torchvision.transforms import v2

checkpoint = torch.load("{model}", map_location="cpu", weights_only=True)
model = torchvision.models.get_model("{arch}", num_classes={n_classes})
model.load_state_dict(checkpoint["state_dict"])
model.eval()
preprocess = v2.Compose([
    v2.ToImage(),
    v2.Resize({resize}, antialias=True),
    v2.CenterCrop({crop}),
    v2.ToDtype(torch.float32, scale=True),
    v2.Normalize(mean={mean}, std={std}),
])
image = Image.open("my_image.jpg").convert("RGB")
with torch.no_grad():
    probabilities = model(preprocess(image).unsqueeze(0)).softmax(dim=1)[0]
print(dict(zip(checkpoint["class_names"], probabilities.tolist())))"""


def model_card_context(
    strategy: str, runs: list[Run], comparison: dict[str, Any], quality: dict[str, Any],
    split: str,
) -> dict[str, Any]:  # fmt: skip
    """What the model card of one strategy shows, from its runs and the statistics."""
    own = runs_of(runs, strategy)
    train, numbers = own[0].train, comparison["strategies"][strategy]
    settings = {
        k: v for k, v in train["config"].items() if k not in ("strategy", "seed", "data_dir")
    }
    transform = {"crop_size": settings["crop_size"], "resize_size": settings["resize_size"]}
    models = [path.as_posix() for path in model_files(strategy, [r.seed for r in own])]
    names = labels(split)
    level = confidence_level(comparison)
    accuracy = numbers["accuracy"]
    results = [
        {
            "name": f"accuracy: {basis_label(comparison['basis'])}",
            "value": number(accuracy["mean"]),
            "ci": f"[{number(accuracy['ci_low'])}, {number(accuracy['ci_high'])}] "
            "over seeds and images",
        }
    ]
    for metric in ("eval_accuracy", "final_eval_accuracy", "macro_f1", "best_val_acc",
                   "train_seconds"):  # fmt: skip
        cell = describe_cell(numbers[metric], metric).split(" [")
        if cell[0] == "n/a":
            continue
        results.append(
            {
                "name": names[metric],
                "value": cell[0],
                "ci": f"[{cell[1]} over seeds only" if len(cell) > 1 else "n/a",
            }
        )
    caveat = (
        "Selection on val: with no test/ split, the best-epoch checkpoint (the model this card "
        "describes) was chosen on the same val/ images its accuracy is measured on, so that "
        "figure is optimistic; the comparison rests on the last-epoch models, which no "
        "score selected."
        if split == "val"
        else f"The checkpoint was chosen on val/; the accuracy is measured on {split}/, "
        "images that played no part in training or selection."
    )
    return {
        "strategy": strategy, "summary": REGISTRY[strategy].summary, "arch": settings["arch"],
        "class_names": train["class_names"], "parameters": train["parameters"],
        "config": settings, "settings": settings, "transform": transform,
        "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "quality": quality,
        "seeds": [r.seed for r in own], "n_seeds": len(own), "models": models,
        "results": results, "level": level, "caveat": caveat, "verdict": comparison["verdict"],
        "n_eval": int(own[0].evaluation["n"]), "provenance": train["provenance"],
        "snippet": SNIPPET.format(
            model=models[0], arch=settings["arch"], n_classes=len(train["class_names"]),
            resize=transform["resize_size"], crop=transform["crop_size"],
            mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD),
        ),
    }  # fmt: skip


def write_model_cards(contexts: dict[str, dict[str, Any]], folder: Path) -> None:
    """reports/model_card_<strategy>.md for each strategy."""
    template = environment(keep_trailing_newline=True).get_template("model_card.md.j2")
    for strategy, context in contexts.items():
        path = card_file(folder, strategy)
        with atomic_open(path, "w", encoding="utf-8") as handle:
            handle.write(template.render(**context))


def card_file(folder: Path, strategy: str) -> Path:
    """The model card of ``strategy`` in ``folder`` (the report's --out-model-cards)."""
    return strategy_file(paths.MODEL_CARD, folder, strategy)
