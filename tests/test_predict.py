"""predict.py and export.py on a checkpoint trained on tiny generated data."""

from __future__ import annotations

import shutil

import evaluate
import export
import numpy as np
import onnxruntime
import pandas as pd
import predict
import pytest
import torch
import train
from datagen import make_image_folder, sha256
from PIL import Image

from tlpipe.errors import PipelineError
from tlpipe.inference import load_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory, weights_file):
    """A finetuned checkpoint, its data and evaluate's predictions for it."""
    root = tmp_path_factory.mktemp("predict")
    data_dir = make_image_folder(root / "data", n_train=6, n_val=3)
    out = root / "run"
    train.train(train.get_args_parser().parse_args([
        "--data-dir", str(data_dir), "--strategy", "finetune", "--seed", "2",
        "--weights", str(weights_file), "--weights-sha256", sha256(weights_file),
        "--epochs", "1", "--crop-size", "32", "--resize-size", "36", "--threads", "1",
        "--device", "cpu", "--out-model", str(out / "model.pt"),
        "--out-metrics", str(out / "train.json"), "--resume-dir", str(out / "resume"),
    ]))  # fmt: skip
    evaluate.main(evaluate.get_args_parser().parse_args([
        "--model", str(out / "model.pt"), "--data-dir", str(data_dir), "--device", "cpu",
        "--out-metrics", str(out / "eval.json"), "--out-predictions", str(out / "eval.csv"),
    ]))  # fmt: skip
    return {"data_dir": data_dir, "model": out / "model.pt", "evaluated": out / "eval.csv"}


def run_predict(*words) -> pd.DataFrame:
    args = predict.get_args_parser().parse_args([str(w) for w in words])
    predict.main(args)
    return pd.read_csv(args.out)


def test_predictions_on_val_equal_evaluate(trained, tmp_path):
    table = run_predict(trained["data_dir"] / "val", "--model", trained["model"],
                        "--out", tmp_path / "p.csv", "--device", "cpu")  # fmt: skip
    evaluated = pd.read_csv(trained["evaluated"])
    table["path"] = table.path.str.removeprefix(f"{trained['data_dir']}/")
    merged = table.merge(evaluated, on="path", suffixes=("", "_eval"))
    assert len(merged) == len(evaluated) == 6
    assert (merged.predicted == merged.predicted_eval).all()
    assert np.allclose(merged.p_ants, merged.p_ants_eval, atol=2e-6)
    assert list(table.columns) == ["path", "predicted", "probability", "p_ants", "p_bees",
                                   "models", "skipped"]  # fmt: skip


def test_averaging_two_copies_of_a_model_gives_its_probabilities(trained, tmp_path):
    copy = tmp_path / "copy.pt"
    shutil.copy(trained["model"], copy)
    one = run_predict(trained["data_dir"] / "val", "--model", trained["model"],
                      "--out", tmp_path / "one.csv", "--device", "cpu")  # fmt: skip
    two = run_predict(trained["data_dir"] / "val", "--model", trained["model"], "--model", copy,
                      "--out", tmp_path / "two.csv", "--device", "cpu")  # fmt: skip
    assert np.allclose(one.p_bees, two.p_bees, atol=1e-6)
    assert (two.models == f"{trained['model']};{copy}").all()


def test_odd_files_are_skipped_and_listed_never_a_crash(trained, tmp_path, caplog):
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("not an image")
    good = trained["data_dir"] / "val" / "bees" / "bees_0.jpg"
    (folder / "truncated.jpg").write_bytes(good.read_bytes()[:200])
    Image.new("L", (40, 30), color=128).save(folder / "sub" / "grey.png")
    table = run_predict(folder, "--model", trained["model"], "--out", tmp_path / "p.csv",
                        "--device", "cpu").set_index("path")  # fmt: skip
    assert table.loc[str(folder / "sub/grey.png"), "predicted"] in ("ants", "bees")
    assert pd.isna(table.loc[str(folder / "sub/grey.png"), "skipped"])
    assert table.loc[str(folder / "notes.txt"), "skipped"].startswith("not an image file")
    assert table.loc[str(folder / "truncated.jpg"), "skipped"].startswith("unreadable: ")
    assert pd.isna(table.loc[str(folder / "truncated.jpg"), "predicted"])
    assert "skipped " + str(folder / "truncated.jpg") in caplog.text


def test_empty_input_and_unusable_checkpoints_stop_with_one_line(trained, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(
        PipelineError, match=r"no readable image in .*empty \(0 file\(s\) skipped\)"
    ):
        run_predict(empty, "--model", trained["model"], "--out", tmp_path / "p.csv")
    state_dict = tmp_path / "weights.pth"
    torch.save({"w": torch.zeros(2)}, state_dict)
    with pytest.raises(PipelineError, match=r"weights.pth: not a model checkpoint of train.py"):
        run_predict(trained["data_dir"] / "val", "--model", state_dict, "--out", tmp_path / "p.csv")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(PipelineError, match=r"garbage.pt: unreadable checkpoint"):
        run_predict(trained["data_dir"] / "val", "--model", garbage, "--out", tmp_path / "p.csv")
    assert not (tmp_path / "p.csv").exists()


def export_args(trained, out, *extra):
    return export.get_args_parser().parse_args([
        "--model", str(trained["model"]), "--data-dir", str(trained["data_dir"]),
        "--out-program", str(out / "model.pt2"), "--out-onnx", str(out / "model.onnx"),
        "--out-report", str(out / "export.json"), *extra,
    ])  # fmt: skip


def test_export_matches_the_eager_model(trained, tmp_path):
    report = export.export(export_args(trained, tmp_path))
    assert report["n_images"] == 6
    for name in ("torch_export", "onnx"):
        assert report[name]["same_class"] == 6
        assert report[name]["max_abs_logit_difference"] <= 1e-3
    # what a user of the files gets, on a batch of another size than the example's
    images = torch.randn(3, 3, 32, 32)
    eager = load_model(trained["model"]).model  # as stored: float32, CPU, eval mode
    with torch.no_grad():
        expected = eager(images).numpy()
        program = torch.export.load(str(tmp_path / "model.pt2")).module()
        assert np.allclose(program(images).numpy(), expected, atol=1e-4)
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    (onnx_logits,) = session.run(None, {"images": images.numpy()})
    assert np.allclose(onnx_logits, expected, atol=1e-4)


def test_export_failing_parity_writes_nothing(trained, tmp_path):
    with pytest.raises(PipelineError, match=r"torch.export export fails parity .* max \|logit "
                       r"difference\| \S+ \(allowed -1\); nothing written"):  # fmt: skip
        export.export(export_args(trained, tmp_path, "--atol", "-1"))
    assert list(tmp_path.iterdir()) == []
