"""train.py and evaluate.py called as functions on tiny generated data."""

from __future__ import annotations

import json
import shutil

import evaluate
import pandas as pd
import pytest
import torch
import train
from datagen import make_image_folder, sha256

from tlpipe.dataset import check_layout
from tlpipe.errors import PipelineError


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("train") / "data", n_train=6, n_val=3)


def train_args(data_dir, out, weights, strategy, seed, epochs=2):
    return train.get_args_parser().parse_args([
        "--data-dir", str(data_dir), "--strategy", strategy, "--seed", str(seed),
        "--weights", str(weights), "--weights-sha256", sha256(weights),
        "--epochs", str(epochs), "--crop-size", "32", "--resize-size", "36", "--threads", "1",
        "--device", "cpu", "--out-model", str(out / "model.pt"),
        "--out-metrics", str(out / "train.json"), "--resume-dir", str(out / "resume"),
    ])  # fmt: skip


def recorded_batches(monkeypatch, args) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every training batch (images, labels) one run of ``train.train(args)`` sees."""
    seen = []

    def recording(epoch_fn):
        def wrapper(model, loader, *rest, **kwargs):
            batches = list(loader)
            seen.extend((images.clone(), labels.clone()) for images, labels in batches)
            return epoch_fn(model, batches, *rest, **kwargs)

        return wrapper

    with monkeypatch.context() as patch:
        patch.setattr(train, "train_one_epoch", recording(train.train_one_epoch))
        patch.setattr(train, "train_head_one_epoch", recording(train.train_head_one_epoch))
        train.train(args)
    return seen


def test_same_seed_gives_every_strategy_the_same_images_order_and_augmentation(
    tmp_path, data_dir, weights_file, monkeypatch
):
    """What makes seeds pair up across strategies: same images, same order, same crops."""
    runs = {
        (strategy, seed): recorded_batches(
            monkeypatch,
            train_args(data_dir, tmp_path / f"{strategy}{seed}", weights_file, strategy, seed),
        )
        for strategy, seed in (("finetune", 3), ("feature_extract", 3), ("finetune", 4))
    }
    finetune, extract, other_seed = runs.values()
    assert len(finetune) == len(extract) == 2 * 3  # 2 epochs x 12 images / batch 4
    for (images_a, labels_a), (images_b, labels_b) in zip(finetune, extract, strict=True):
        assert torch.equal(images_a, images_b) and torch.equal(labels_a, labels_b)
    assert not all(torch.equal(a, b) for (a, _), (b, _) in zip(finetune, other_seed, strict=True))


def test_evaluation_uses_the_test_split_when_there_is_one(tmp_path, data_dir, weights_file):
    """The checkpoint is chosen on val/; evaluation (and so the verdict) uses test/."""
    with_test = tmp_path / "data"
    shutil.copytree(data_dir, with_test)
    shutil.copytree(data_dir / "val", with_test / "test")
    (with_test / "test" / "bees" / "bees_0.jpg").unlink()  # 3 ants + 2 bees in test/
    out = tmp_path / "run"
    metrics = train.train(train_args(with_test, out, weights_file, "feature_extract", 1, 1))
    assert metrics["n_val"] == 6  # the checkpoint is chosen on val/, as before
    evaluate.main(evaluate.get_args_parser().parse_args([
        "--model", str(out / "model.pt"), "--data-dir", str(with_test), "--device", "cpu",
        "--out-metrics", str(out / "eval.json"), "--out-predictions", str(out / "pred.csv"),
    ]))  # fmt: skip
    result = json.loads((out / "eval.json").read_text())
    assert (result["split"], result["selected_on"], result["n"], result["seed"]) == (
        "test", "val", 5, 1)  # fmt: skip
    predictions = pd.read_csv(out / "pred.csv")
    assert len(predictions) == 5 and predictions.path.str.startswith("test/").all()
    assert result["accuracy"] == pytest.approx(predictions.correct.mean())


def test_test_split_with_other_classes_is_refused(tmp_path, data_dir):
    broken = tmp_path / "data"
    shutil.copytree(data_dir, broken)
    shutil.copytree(data_dir / "val" / "ants", broken / "test" / "ants")  # no bees in test/
    with pytest.raises(
        PipelineError, match=r"train/bees: class folder has no counterpart in test/"
    ):
        check_layout(broken)


def test_diverging_run_stops_with_one_clear_message_and_writes_nothing(
    tmp_path, data_dir, weights_file
):
    """A learning rate that blows the weights up stops at the first non-finite loss with a
    message naming the fix, instead of a JSON error after writing a NaN model."""
    args = train_args(data_dir, tmp_path, weights_file, "finetune", 1)
    args.lr = 1e12
    with pytest.raises(PipelineError, match=r"finetune, seed 1: training diverged at epoch 1 "
                       r"\(.*loss (nan|inf).*\); lower train.lr \(now 1e\+12\)"):  # fmt: skip
        train.train(args)
    assert not (tmp_path / "model.pt").exists() and not (tmp_path / "train.json").exists()


def test_partial_finetune_of_another_family_with_input_sizes_from_its_weights(tmp_path, data_dir):
    """train.py end to end for the third strategy on MobileNetV3 (random weights): sizes
    left unset come from the weights' metadata and are stored for evaluation, which
    reproduces the final validation accuracy from the checkpoint."""
    unused = tmp_path / "unused.pth"
    unused.write_bytes(b"")
    args = train_args(data_dir, tmp_path, unused, "partial_finetune", 1, 1)
    args.arch, args.weights, args.weights_sha256 = "mobilenet_v3_large", "none", None
    args.crop_size = args.resize_size = None
    metrics = train.train(args)
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    assert checkpoint["transform"] == {"crop_size": 224, "resize_size": 256}
    assert (
        checkpoint["arch"] == "mobilenet_v3_large" and checkpoint["strategy"] == "partial_finetune"
    )
    assert 0 < metrics["parameters"]["trainable"] < metrics["parameters"]["total"]
    evaluate.main(evaluate.get_args_parser().parse_args([
        "--model", str(tmp_path / "model.pt"), "--data-dir", str(data_dir), "--device", "cpu",
        "--out-metrics", str(tmp_path / "eval.json"), "--out-predictions", str(tmp_path / "p.csv"),
    ]))  # fmt: skip
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["accuracy"] == pytest.approx(metrics["best_val_acc"])
