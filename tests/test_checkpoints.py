"""The checkpoint schema and its reader: every unusable file is one line naming it."""

from __future__ import annotations

import logging
import types

import pytest
import torch
from conftest import main_error_line

from tlpipe import checkpoints
from tlpipe.checkpoints import (
    load_checkpoint,
    load_resume_state,
    model_from_checkpoint,
    save_best_state,
    save_model,
    save_resume_state,
)
from tlpipe.errors import PipelineError
from tlpipe.model import build_model
from tlpipe.optim import make_optimizer, make_scheduler

INFO = {"arch": "resnet18", "strategy": "finetune", "class_names": ["ants", "bees"],
        "config": {"lr": 0.001}, "provenance": {"seed": 1},
        "transform": {"crop_size": 32, "resize_size": 36}, "precision": "fp32"}  # fmt: skip
SETTINGS = types.SimpleNamespace(lr=0.01, momentum=0.9, step_size=2, gamma=0.1)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("resnet18", 2)


@pytest.fixture
def model_file(tmp_path, model):
    path = tmp_path / "model.pt"
    save_model(path, checkpoints.plain_state_dict(model), epoch=3, val_acc=0.5, info=INFO)
    return path


def training(model):
    optimizer = make_optimizer([{"params": list(model.parameters()), "lr": 0.01}], SETTINGS)
    return optimizer, make_scheduler(optimizer, SETTINGS)


def one_line_error(path, kind) -> str:
    with pytest.raises(PipelineError) as info:
        load_checkpoint(path, kind)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    assert "weights_only" not in message
    return message


def test_model_round_trip_is_versioned_and_atomic(model_file, model):
    loaded = load_checkpoint(model_file, "model")
    assert loaded["format"] == {"name": "tlpipe-checkpoint", "version": 1, "kind": "model"}
    assert {k: loaded[k] for k in INFO} == INFO and loaded["epoch"] == 3
    restored = model_from_checkpoint(loaded, model_file)
    for key, value in model.state_dict().items():
        assert torch.equal(restored.state_dict()[key], value), key
    assert [p.name for p in model_file.parent.iterdir()] == ["model.pt"]  # no temp file


def test_failed_write_keeps_the_old_file(model_file, model):
    with pytest.raises(Exception):  # noqa: B017 - any pickling error
        save_model(model_file, {"w": torch.zeros(1)}, epoch=4, val_acc=1.0,
                   info={**INFO, "provenance": lambda: None})  # fmt: skip
    assert load_checkpoint(model_file, "model")["epoch"] == 3
    assert [p.name for p in model_file.parent.iterdir()] == ["model.pt"]


def test_a_writer_without_a_key_is_a_bug(tmp_path):
    with pytest.raises(ValueError, match="model checkpoint without precision"):
        save_model(tmp_path / "m.pt", {}, epoch=1, val_acc=0.0,
                   info={k: v for k, v in INFO.items() if k != "precision"})  # fmt: skip


def test_missing_file(tmp_path):
    assert "checkpoint not found; run training first" in one_line_error(tmp_path / "no.pt", "model")


@pytest.mark.parametrize(
    "content",
    [b"", b"random bytes" * 100, "truncated"],
    ids=["empty", "random", "truncated"],
)
def test_unreadable_files(tmp_path, model_file, content):
    path = tmp_path / "bad.pt"
    if content == "truncated":
        content = model_file.read_bytes()[: model_file.stat().st_size // 2]
    path.write_bytes(content)
    message = one_line_error(path, "model")
    assert "unreadable checkpoint (not a complete PyTorch file: truncated, corrupt" in message
    assert message.endswith("delete it and retrain")


def test_file_with_objects_is_refused_without_suggesting_unsafe_loading(tmp_path):
    path = tmp_path / "pickle.pt"
    torch.save({"state_dict": {}, "extra": logging.getLogger("x")}, path)
    assert "holds objects other than tensors and plain values" in one_line_error(path, "model")


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"conv.weight": torch.zeros(2)}, "(a plain state dict: weights only)"),
        ([torch.zeros(1)], "(it holds a list, not a dict)"),
        ({"model": {}, "epoch": 2}, "(no state_dict)"),  # another program's checkpoint
        ({"state_dict": {}, "format": "other/2"}, "(format 'other/2')"),
    ],
    ids=["state-dict", "list", "other-program", "other-format"],
)
def test_foreign_files(tmp_path, payload, why):
    path = tmp_path / "foreign.pt"
    torch.save(payload, path)
    message = one_line_error(path, "model")
    assert f"not a model checkpoint of train.py {why}; give a models/" in message


def test_missing_keys_and_wrong_kind(tmp_path, model_file, model):
    checkpoint = load_checkpoint(model_file, "model")
    del checkpoint["class_names"], checkpoint["arch"]
    torch.save(checkpoint, tmp_path / "partial.pt")
    assert "(no arch, class_names)" in one_line_error(tmp_path / "partial.pt", "model")
    save_best_state(tmp_path / "best.pt", model, 2)
    message = one_line_error(tmp_path / "best.pt", "model")
    assert "not a model checkpoint of train.py (a best-epoch state)" in message
    assert "(a model checkpoint)" in one_line_error(model_file, "resume")


def test_newer_version_is_refused(tmp_path, model_file):
    checkpoint = load_checkpoint(model_file, "model")
    checkpoint["format"]["version"] = 2
    torch.save(checkpoint, tmp_path / "new.pt")
    assert "format version 2, newer than this code reads (1)" in one_line_error(
        tmp_path / "new.pt", "model"
    )


def test_unversioned_model_checkpoint_is_still_read(tmp_path, model_file):
    old = load_checkpoint(model_file, "model")
    del old["format"], old["precision"]  # as written before either key
    torch.save(old, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt", "model")
    assert loaded["precision"] == "fp32" and loaded["class_names"] == INFO["class_names"]
    del old["transform"]
    torch.save(old, tmp_path / "older.pt")
    assert "not a model checkpoint of train.py (no transform)" in one_line_error(
        tmp_path / "older.pt", "model"
    )


def test_weights_of_another_architecture(model_file):
    checkpoint = load_checkpoint(model_file, "model")
    checkpoint["arch"] = "resnet34"
    with pytest.raises(PipelineError, match=r"model.pt: its weights do not fit arch=resnet34"):
        model_from_checkpoint(checkpoint, model_file)


def test_resume_state_round_trip(tmp_path, model):
    optimizer, scheduler = training(model)
    path = tmp_path / "last.pt"
    progress = {"history": [{"epoch": 1}, {"epoch": 2}], "best_epoch": 1, "best_val_acc": 0.5}
    save_resume_state(path, model, optimizer, scheduler, progress, "abc")
    state = load_resume_state(path, "abc")
    assert state["epoch"] == 2 and state["progress"] == progress
    assert state["scheduler"] == scheduler.state_dict()
    assert load_resume_state(tmp_path / "none.pt", "abc") is None


def test_unusable_resume_state_starts_over_with_a_warning(tmp_path, model, caplog):
    optimizer, scheduler = training(model)
    path = tmp_path / "last.pt"
    progress = {"history": [{"epoch": 1}], "best_epoch": 1, "best_val_acc": 0.5}
    save_resume_state(path, model, optimizer, scheduler, progress, "abc")
    caplog.set_level(logging.WARNING)
    assert load_resume_state(path, "other") is None
    assert "written with other settings; starting over" in caplog.text
    old = torch.load(path, weights_only=True)
    del old["format"]  # a last.pt written before checkpoints were versioned
    torch.save(old, path)
    caplog.clear()
    assert load_resume_state(path, "abc") is None
    assert f"{path}: resumable training state written before checkpoints were versioned; " \
           "training starts over" in caplog.text  # fmt: skip
    path.write_bytes(b"corrupt")
    caplog.clear()
    assert load_resume_state(path, "abc") is None
    assert "unreadable checkpoint" in caplog.text and "training starts over" in caplog.text


@pytest.mark.parametrize("script", ["evaluate.py", "export.py"])
def test_the_scripts_stop_with_the_readers_line(tmp_path, script):
    """What a user sees: one ERROR line naming the file, no traceback, no KeyError."""
    weights = tmp_path / "weights.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, weights)
    outputs = {
        "evaluate.py": ["--out-metrics", "e.json", "--out-predictions", "p.csv"],
        "export.py": ["--out-program", "m.pt2", "--out-onnx", "m.onnx", "--out-report", "r.json"],
    }[script]
    out = [str(tmp_path / word) if "." in word else word for word in outputs]
    line = main_error_line(script, "--model", str(weights), "--data-dir", str(tmp_path), *out)
    assert f"{weights}: not a model checkpoint of train.py (a plain state dict" in line
