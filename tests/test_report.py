"""The report on a hand-made runs tree: the numbers it writes equal the inputs, the pages say
what was selected on val, and the confusion matrices stay readable with many classes."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from datagen import make_image_folder
from markupsafe import escape
from report import get_args_parser, main
from sklearn.metrics import f1_score

from tlpipe import paths
from tlpipe.errors import PipelineError
from tlpipe.figures import confusion_layout, plot_confusion_matrices, strategy_colors

CLASSES = ["ants", "bees"]
IMAGES = [f"{c}/{c}_{i}.{'png' if i == 2 else 'jpg'}" for c in CLASSES for i in range(3)]
# Which of the 6 evaluation images each run gets wrong (by position in IMAGES).
WRONG = {
    ("finetune", 1): [],
    ("finetune", 2): [5],
    ("finetune", 3): [2],
    ("feature_extract", 1): [2, 5],
    ("feature_extract", 2): [2, 5],
    ("feature_extract", 3): [2, 4, 5],
}
# The same for the last epoch's models (predictions_final.csv), which the verdict scores.
FINAL_WRONG = {
    ("finetune", 1): [5],
    ("finetune", 2): [5],
    ("finetune", 3): [2, 5],
    ("feature_extract", 1): [2, 4, 5],
    ("feature_extract", 2): [2, 5],
    ("feature_extract", 3): [2, 4, 5],
}
SEEDS = [1, 2, 3]
STRATEGIES = ["finetune", "feature_extract"]
SECONDS = {"finetune": [30.0, 32.0, 31.0], "feature_extract": [10.0, 11.0, 12.0]}
PEAK_MB = {"finetune": [900.0, 910.0, None], "feature_extract": [500.0, 505.0, 510.0]}


def accuracy(strategy: str, seed: int) -> float:
    return 1 - len(WRONG[(strategy, seed)]) / len(IMAGES)


def predictions(strategy: str, seed: int, split: str, wrong_of=WRONG) -> pd.DataFrame:
    """predictions.csv of a run that gets wrong_of[(strategy, seed)] wrong."""
    rows = []
    for i, image in enumerate(IMAGES):
        true = image.split("/")[0]
        wrong = i in wrong_of[(strategy, seed)]
        predicted = CLASSES[1 - CLASSES.index(true)] if wrong else true
        probability = 0.6 if wrong else 0.8
        p = {f"p_{c}": probability if c == predicted else 1 - probability for c in CLASSES}
        rows.append(
            {
                "path": f"{split}/{image}",
                "true": true,
                "predicted": predicted,
                "probability": probability,
                "correct": not wrong,
                **p,
            }
        )
    return pd.DataFrame(rows)


def eval_json(table: pd.DataFrame, strategy: str, seed: int, split: str) -> dict:
    f1 = f1_score(table.true, table.predicted, labels=CLASSES, average=None)
    matrix = [
        [int(((table.true == t) & (table.predicted == p)).sum()) for p in CLASSES] for t in CLASSES
    ]
    return {
        "accuracy": float(table.correct.mean()),
        "loss": 0.3 + 0.01 * seed,
        "per_class": {
            c: {"precision": 0.0, "recall": 0.0, "f1": float(f1[i]), "support": 3}
            for i, c in enumerate(CLASSES)
        },
        "macro_f1": float(np.mean(f1)),
        "confusion_matrix": {"labels": CLASSES, "matrix": matrix},
        "roc_auc": None if seed == 3 else 0.9,
        "n": len(table),
        "strategy": strategy,
        "seed": seed,
        "split": split,
        "selected_on": "val",
        "provenance": {"seed": seed},
    }


def train_json(strategy: str, seed: int, eval_accuracy: float) -> dict:
    index = SEEDS.index(seed)
    history = [
        {
            "epoch": e,
            "train_loss": 1.0 / e,
            "train_acc": 0.5 + 0.1 * e,
            "val_loss": 0.9 / e,
            "val_acc": 0.45 + 0.1 * e + 0.01 * seed,
            "lr": 0.001,
            "seconds": SECONDS[strategy][index] / 3,
        }
        for e in (1, 2, 3)
    ]
    metrics = {
        "strategy": strategy,
        "seed": seed,
        "class_names": CLASSES,
        "history": history,
        "best_epoch": 2,
        "best_val_acc": eval_accuracy,
        "final_val_acc": history[-1]["val_acc"],
        "total_seconds": SECONDS[strategy][index],
        "parameters": {
            "trainable": 1026 if strategy == "feature_extract" else 11_177_538,
            "total": 11_177_538,
        },
        "config": {
            "arch": "resnet18",
            "epochs": 3,
            "lr": 0.001,
            "strategy": strategy,
            "seed": seed,
            "weights": "IMAGENET1K_V1",
            "crop_size": 32,
            "resize_size": 36,
        },
        "provenance": {
            "seed": seed,
            "git": {"commit": "abc123", "dirty": False},
            "torch": "2.14.1",
            "torchvision": "0.29.1",
            "python": "3.11.7",
            "platform": "Linux",
            "device": "cpu",
            "threads": 1,
            "precision": "fp32",
            "config_sha256": "c" * 64,
        },
        "n_train": 4,
        "n_val": 6,
    }
    if PEAK_MB[strategy][index] is not None:  # the third finetune run predates peak_rss_mb
        metrics["peak_rss_mb"] = PEAK_MB[strategy][index]
    return metrics


def make_project(root: Path, split: str = "val", final: bool = True) -> dict[str, Path]:
    """A runs tree, a dataset with the evaluated images and data_quality.json;
    ``final``: with the last epoch's models' predictions, as evaluate.py writes them."""
    data_dir = make_image_folder(root / "data", tuple(CLASSES), n_train=2, n_val=3)
    if split != "val":
        (data_dir / "val").rename(data_dir / split)
    runs_dir = root / "metrics" / "runs"
    for strategy, seed in itertools.product(STRATEGIES, SEEDS):
        folder = paths.run_dir(runs_dir, strategy, seed)
        folder.mkdir(parents=True)
        table = predictions(strategy, seed, split)
        table.to_csv(folder / paths.PREDICTIONS, index=False)
        evaluation = eval_json(table, strategy, seed, split)
        if final:
            last = predictions(strategy, seed, split, FINAL_WRONG)
            last.to_csv(folder / paths.FINAL_PREDICTIONS, index=False)
            evaluation["final"] = {"accuracy": float(last.correct.mean()), "checkpoint_epoch": 3}
        (folder / paths.EVAL_METRICS).write_text(json.dumps(evaluation))
        train = train_json(strategy, seed, evaluation["accuracy"])
        (folder / paths.TRAIN_METRICS).write_text(json.dumps(train))
    quality = {
        "dataset": "tiny",
        "archive": {"sha256": "a" * 64},
        "tree_sha256": "b" * 64,
        "classes": CLASSES,
        "counts": {
            s: {"ants": n, "bees": n, "total": 2 * n} for s, n in (("train", 2), (split, 3))
        },
        "image_size": {k: {"min": 40, "median": 44, "max": 48} for k in ("width", "height")},
        "skipped": [],
        "duplicates": {"within_split": [], "across_splits": []},
    }
    (root / "metrics" / "data_quality.json").write_text(json.dumps(quality))
    return {"root": root, "data_dir": data_dir, "runs_dir": runs_dir}


def run_report(project: dict[str, Path]) -> dict[str, Path]:
    """report.main with the pipeline's command line; returns the output paths."""
    root = project["root"]
    out = {
        "html": root / "reports" / "comparison.html",
        "markdown": root / "reports" / "comparison.md",
        "figures": root / "reports" / "figures",
        "summary": root / "metrics" / "summary.csv",
        "comparison": root / "metrics" / "comparison.json",
    }
    argv = [
        "--strategies", *STRATEGIES, "--seeds", *map(str, SEEDS),
        "--runs-dir", str(project["runs_dir"]),
        "--data-quality", str(root / "metrics" / "data_quality.json"),
        "--data-dir", str(project["data_dir"]),
        "--out-html", str(out["html"]),
        "--out-markdown", str(out["markdown"]),
        "--out-figures", str(out["figures"]),
        "--out-summary", str(out["summary"]),
        "--out-comparison", str(out["comparison"]),
        "--out-model-cards", str(root / "reports"),
        "--margin", "1.0",
    ]  # fmt: skip
    main(get_args_parser().parse_args(argv))
    return out


@pytest.fixture(scope="module")
def val_report(tmp_path_factory) -> dict[str, Path]:
    """The report of runs evaluated on val/ (no test split)."""
    return run_report(make_project(tmp_path_factory.mktemp("val_report")))


def test_summary_has_one_row_per_run_with_the_input_numbers(val_report):
    summary = pd.read_csv(val_report["summary"])
    assert list(zip(summary.strategy, summary.seed, strict=True)) == list(
        itertools.product(STRATEGIES, SEEDS)
    )
    for row in summary.itertuples():
        assert row.eval_accuracy == pytest.approx(accuracy(row.strategy, row.seed))
        final_wrong = len(FINAL_WRONG[(row.strategy, row.seed)])
        assert row.final_eval_accuracy == pytest.approx(1 - final_wrong / 6)
        assert row.best_val_acc == pytest.approx(accuracy(row.strategy, row.seed))
        assert row.final_val_acc == pytest.approx(0.75 + 0.01 * row.seed)
        assert row.train_seconds == SECONDS[row.strategy][SEEDS.index(row.seed)]
        expected_peak = PEAK_MB[row.strategy][SEEDS.index(row.seed)]
        if expected_peak is None:
            assert math.isnan(row.peak_rss_mb)
        else:
            assert row.peak_rss_mb == expected_peak
        assert (row.eval_split, row.epochs, row.best_epoch, row.n_eval) == ("val", 3, 2, 6)
    assert math.isnan(summary.roc_auc[2])  # eval.json roc_auc: null
    assert list(summary.columns) == [
        "strategy", "seed", "eval_split", "eval_accuracy", "final_eval_accuracy", "eval_loss",
        "macro_f1", "roc_auc",
        "f1_ants", "f1_bees", "best_val_acc", "best_epoch", "final_val_acc", "epochs",
        "train_seconds", "peak_rss_mb", "trainable_parameters", "n_train", "n_eval",
    ]  # fmt: skip


def test_comparison_json_rests_on_the_last_epoch_models(val_report):
    """Val only: the verdict scores the last-epoch models (predictions_final.csv), whose
    per-image outcomes give the hand-computed differences."""
    comparison = json.loads(val_report["comparison"].read_text())
    assert comparison["basis"] == {
        "split": "val", "checkpoint": "final", "selected_on": None, "n_images": 6
    }  # fmt: skip
    assert comparison["verdict"].startswith(
        "Scored: last-epoch models (chosen by no score) on val/ (6 images)."
    )
    (pair,) = comparison["pairs"]
    assert (pair["a"], pair["b"], pair["seeds"]) == ("finetune", "feature_extract", SEEDS)
    # Per seed (last epoch): 5/6 - 3/6, 5/6 - 4/6, 4/6 - 3/6.
    assert pair["difference"]["mean"] == pytest.approx(4 / 18)
    assert pair["difference_points"]["estimate"] == pytest.approx(400 / 18, abs=1e-3)
    assert pair["seeds_won"] == {"a": 3, "b": 0, "tied": 0}
    assert pair["decision"] == "inconclusive"  # 6 images cannot carry a decision
    assert pair["cost"]["train_seconds"]["ratio"] == pytest.approx(
        (30 / 10 * 32 / 11 * 31 / 12) ** (1 / 3)
    )
    discordant = [(m["seed"], m["a_only_correct"], m["b_only_correct"]) for m in pair["mcnemar"]]
    assert discordant == [(1, 2, 0), (2, 1, 0), (3, 1, 0)]
    finetune = comparison["strategies"]["finetune"]
    assert finetune["accuracy"]["mean"] == pytest.approx(14 / 18)
    assert finetune["accuracy"]["ci_low"] < 14 / 18 < finetune["accuracy"]["ci_high"]
    assert finetune["eval_accuracy"]["values"] == pytest.approx([1.0, 5 / 6, 5 / 6])
    assert finetune["peak_rss_mb"]["n"] == 2  # the run without peak_rss_mb is left out
    shown = comparison["differences"]["finetune_vs_feature_extract"]
    assert shown["difference_points"] == pair["difference_points"]["estimate"]


def test_runs_without_last_epoch_models_are_scored_as_selected_on_val(tmp_path):
    out = run_report(make_project(tmp_path, final=False))
    comparison = json.loads(out["comparison"].read_text())
    assert comparison["basis"]["checkpoint"] == "best"
    assert "the images that selected them (optimistic" in comparison["verdict"]
    assert comparison["pairs"][0]["difference"]["mean"] == pytest.approx(5 / 18)


def test_pages_lead_with_the_verdict_and_say_what_was_selected_on_val(val_report):
    comparison = json.loads(val_report["comparison"].read_text())
    html = val_report["html"].read_text()
    markdown = val_report["markdown"].read_text()
    assert str(escape(comparison["verdict"])) in html
    assert comparison["verdict"] in markdown
    for page, verdict in (
        (html, str(escape(comparison["verdict"]))),
        (markdown, comparison["verdict"]),
    ):
        assert page.index(verdict) < page.index("Protocol: 3 seeds per strategy")
        assert "the verdict scores the last-epoch models on val/ (6 images)" in page
        assert "val accuracy of the best epoch (selected on val)" in page
        assert "val accuracy of the last epoch (not selected)" in page
        assert "+22.2" in page  # the mean paired difference in points
        assert "training noise only" in page and "over seeds and images" in page
        # feature_extract gets ants_2 and bees_2 wrong in every seed, bees_1 in one
        assert "feature_extract: 3 of 6 images wrong in at least one of 3 seeds, 2 in all" in page
    assert "wrong in 3 of 3 seeds" in html


def test_figures_are_written_and_embedded(val_report):
    names = [
        "strip_plot",
        "learning_curves",
        "confusion_matrices",
        "cost_accuracy",
        "misclassified",
    ]
    html = val_report["html"].read_text()
    markdown = val_report["markdown"].read_text()
    for name in names:
        assert (val_report["figures"] / f"{name}.png").stat().st_size > 1000
        assert f"](figures/{name}.png)" in markdown
    # The page shows misclassified images as thumbnails, not as the Markdown's PNG.
    assert html.count("data:image/png;base64,") == len(names) - 1
    assert html.count("data:image/jpeg;base64,") == 2 + 3  # images wrong in any seed
    assert 'src="http' not in html and 'src="figures' not in html


def test_test_split_is_named_as_held_out(tmp_path):
    out = run_report(make_project(tmp_path, split="test"))
    assert set(pd.read_csv(out["summary"]).eval_split) == {"test"}
    basis = json.loads(out["comparison"].read_text())["basis"]
    assert (basis["split"], basis["checkpoint"], basis["selected_on"]) == ("test", "best", "val")
    for page in (out["html"].read_text(), out["markdown"].read_text()):
        assert "evaluated on test/ (6 images), held out from training" in page
        assert "test accuracy of the best epoch (selected on val)" in page
        assert "optimistic" not in page
        assert "| test | 3 | 3 | 6 |" in page or "<td>test</td>" in page
    card = (out["html"].parent / "model_card_finetune.md").read_text()
    assert "the accuracy is measured on test/" in card and "Selection on val" not in card


@pytest.mark.parametrize("missing", [paths.EVAL_METRICS, paths.TRAIN_METRICS, paths.PREDICTIONS])
def test_missing_run_file_names_the_file(tmp_path, missing):
    project = make_project(tmp_path)
    gone = paths.run_dir(project["runs_dir"], "feature_extract", 2) / missing
    gone.unlink()
    with pytest.raises(PipelineError, match="file not found") as err:
        run_report(project)
    assert str(gone) in str(err.value)
    assert "\n" not in str(err.value)


def test_a_run_file_in_the_wrong_folder_is_refused(tmp_path):
    project = make_project(tmp_path)
    runs_dir = project["runs_dir"]
    misplaced = paths.run_dir(runs_dir, "finetune", 2) / paths.TRAIN_METRICS
    misplaced.write_bytes(
        (paths.run_dir(runs_dir, "finetune", 3) / paths.TRAIN_METRICS).read_bytes()
    )
    with pytest.raises(
        PipelineError, match="holds strategy finetune, seed 3, not finetune, seed 2"
    ):
        run_report(project)


def _tick_boxes(fig: plt.Figure, ax: plt.Axes, axis: str) -> list:
    renderer = fig.canvas.get_renderer()
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [label.get_window_extent(renderer) for label in labels if label.get_text()]


def _matrices(n_classes: int, strategies=("finetune", "feature_extract")) -> dict:
    names = [f"class_{i:02d}" for i in range(n_classes)]
    matrix = np.eye(n_classes, dtype=int) * 9 + 1
    return {s: {"labels": names, "matrix": matrix, "n_seeds": 3} for s in strategies}


def test_confusion_matrices_stay_readable_with_many_classes():
    small = plot_confusion_matrices(_matrices(2))
    large = plot_confusion_matrices(_matrices(12))
    try:
        small.canvas.draw()
        large.canvas.draw()
        matrix_axes = [ax for ax in large.axes if ax.get_title()]
        assert len(matrix_axes) == 2
        # The figure and each matrix grow with the class count (panels stack to fit the page).
        assert np.prod(large.get_size_inches()) > np.prod(small.get_size_inches())
        small_side = small.axes[0].get_window_extent().width / small.dpi
        large_side = matrix_axes[0].get_window_extent().width / large.dpi
        assert large_side > 1.5 * small_side
        for ax in matrix_axes:
            for axis in ("x", "y"):
                boxes = _tick_boxes(large, ax, axis)
                assert len(boxes) == 12
                overlapping = [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]
                assert not overlapping, f"{axis} tick labels overlap"
            assert {t.get_rotation() for t in ax.get_xticklabels()} == {90.0}
            assert len(ax.texts) == 12 * 12  # 12 classes: counts still shown
    finally:
        plt.close(small)
        plt.close(large)


def test_confusion_matrices_drop_cell_counts_above_twelve_classes():
    fig = plot_confusion_matrices(_matrices(20, strategies=("finetune",)))
    try:
        fig.canvas.draw()
        (ax,) = [ax for ax in fig.axes if ax.get_title()]
        assert len(ax.texts) == 0
        boxes = _tick_boxes(fig, ax, "x")
        assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
        assert len(fig.axes) == 2  # the matrix and its colour bar
    finally:
        plt.close(fig)
    assert confusion_layout([f"c{i}" for i in range(2)])["rotation"] == 0


def test_colours_follow_strategy_order_not_names():
    assert list(strategy_colors(["a", "b"]).values()) == list(strategy_colors(["x", "y"]).values())
    assert strategy_colors(["a", "b"])["a"] != strategy_colors(["a", "b"])["b"]


def test_model_cards_show_each_strategy_with_its_statistics(val_report):
    """One card per strategy, linked from both pages, with the numbers of comparison.json."""
    reports = val_report["html"].parent
    comparison = json.loads(val_report["comparison"].read_text())
    for strategy in STRATEGIES:
        card = (reports / f"model_card_{strategy}.md").read_text()
        numbers = comparison["strategies"][strategy]["accuracy"]
        row = (f"| accuracy: last-epoch models (chosen by no score) on val/ (6 images) | "
               f"{numbers['mean'] * 100:.1f} | "
               f"[{numbers['ci_low'] * 100:.1f}, {numbers['ci_high'] * 100:.1f}] over seeds "
               "and images |")  # fmt: skip
        assert row in card
        best = comparison["strategies"][strategy]["eval_accuracy"]
        row = (f"| val accuracy of the best epoch (selected on val) | "
               f"{best['mean'] * 100:.1f} ± {best['std'] * 100:.1f} | "
               f"[{best['ci_low'] * 100:.1f}, {best['ci_high'] * 100:.1f}] "
               "over seeds only |")  # fmt: skip
        assert row in card
        assert "Only the first row's interval covers both" in card
        assert f"# Model card: resnet18, {strategy} (ants vs bees)" in card
        assert "3 models, one per seed: `models/" + strategy + "/seed1/model.pt`" in card
        assert "Selection on val: with no test/ split" in card
        assert 'checkpoint = torch.load("models/' + strategy + '/seed1/model.pt"' in card
        assert "v2.Resize(36, antialias=True)" in card and "v2.CenterCrop(32)" in card
        assert comparison["verdict"] in card
        for page in (val_report["html"], val_report["markdown"]):
            assert f"model_card_{strategy}.md" in page.read_text()
