"""What DVC shows: metrics/metrics.json and the plots' data equal the runs they come from,
and the per-epoch live log of a resumed run equals an uninterrupted one's."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report import get_args_parser, main
from test_report import (
    FINAL_WRONG,
    IMAGES,
    PEAK_MB,
    SECONDS,
    SEEDS,
    STRATEGIES,
    WRONG,
    make_project,
    train_json,
)

from tlpipe import dvc_views
from tlpipe.live import FIELDS, EpochLog


def report_views(root: Path, split: str = "val") -> dict[str, Path]:
    """report.main on a hand-made runs tree (test_report's), with the DVC views written."""
    project = make_project(root, split)
    out = {"metrics": root / "metrics" / "metrics.json", "plots": root / "metrics" / "plots",
           "comparison": root / "metrics" / "comparison.json"}  # fmt: skip
    argv = [
        "--strategies", *STRATEGIES, "--seeds", *map(str, SEEDS),
        "--runs-dir", str(project["runs_dir"]),
        "--data-quality", str(root / "metrics" / "data_quality.json"),
        "--data-dir", str(project["data_dir"]),
        "--out-html", str(root / "reports" / "comparison.html"),
        "--out-markdown", str(root / "reports" / "comparison.md"),
        "--out-figures", str(root / "reports" / "figures"),
        "--out-summary", str(root / "metrics" / "summary.csv"),
        "--out-comparison", str(out["comparison"]),
        "--out-model-cards", str(root / "reports"),
        "--out-metrics", str(out["metrics"]),
        "--out-plots", str(out["plots"]),
    ]  # fmt: skip
    main(get_args_parser().parse_args(argv))
    return out


@pytest.fixture(scope="module")
def views(tmp_path_factory) -> dict[str, Path]:
    return report_views(tmp_path_factory.mktemp("views"))


def test_metrics_are_the_headline_numbers_of_comparison_json(views):
    metrics = json.loads(views["metrics"].read_text())
    comparison = json.loads(views["comparison"].read_text())
    assert set(metrics) == {*STRATEGIES, "finetune_vs_feature_extract"}
    for strategy in STRATEGIES:
        accuracy = comparison["strategies"][strategy]["accuracy"]
        peaks = [mb for mb in PEAK_MB[strategy] if mb is not None]
        assert metrics[strategy] == {
            "accuracy": accuracy["mean"],
            "ci_low": accuracy["ci_low"],
            "ci_high": accuracy["ci_high"],
            "train_minutes": round(float(np.mean(SECONDS[strategy])) / 60, 2),
            "peak_mb": max(peaks),
        }
    # by hand: finetune 0.52 min (31 s), 910 MB (the third run has no peak); 0.18 min, 510 MB
    assert metrics["finetune"]["train_minutes"] == 0.52
    assert (
        metrics["finetune"]["peak_mb"],
        metrics["feature_extract"]["peak_mb"],
    ) == (
        910.0,
        510.0,
    )
    pair = comparison["pairs"][0]
    assert metrics["finetune_vs_feature_extract"] == {
        "diff_points": pair["difference_points"]["estimate"],
        "ci_low_points": pair["difference_points"]["ci_low"],
        "ci_high_points": pair["difference_points"]["ci_high"],
        "decision": pair["decision"],
    }
    # the verdict's basis here: the last epoch's models, 5/6 + 5/6 + 4/6 vs 3/6 + 4/6 + 3/6
    mean_difference = np.mean([1 - len(FINAL_WRONG[("finetune", s)]) / 6 for s in SEEDS]) - np.mean(
        [1 - len(FINAL_WRONG[("feature_extract", s)]) / 6 for s in SEEDS]
    )
    assert pair["difference_points"]["estimate"] == pytest.approx(100 * mean_difference, abs=1e-4)


def test_a_pair_without_numbers_keeps_its_decision_and_drops_nulls():
    comparison = {
        "strategies": {"a": {"accuracy": {"mean": 0.5, "ci_low": None, "ci_high": None}}},
        "pairs": [{"a": "a", "b": "b", "decision": "inconclusive", "n_seeds": 0}],
    }
    assert dvc_views.headline(comparison, []) == {
        "a": {"accuracy": 0.5},
        "a_vs_b": {"decision": "inconclusive"},
    }


def test_learning_curves_hold_every_epoch_of_every_run(views):
    table = pd.read_csv(views["plots"] / "learning_curves.csv")
    assert list(table.columns) == ["strategy", "seed", "epoch", "val_acc", "train_loss"]
    expected = [
        (strategy, seed, epoch["epoch"], epoch["val_acc"], epoch["train_loss"])
        for strategy, seed in itertools.product(STRATEGIES, SEEDS)
        for epoch in train_json(strategy, seed, 0.0)["history"]
    ]
    assert list(table.itertuples(index=False, name=None)) == expected  # exact: floats' repr


def test_confusion_rows_add_up_to_each_runs_confusion_matrix(views):
    table = pd.read_csv(views["plots"] / "confusion.csv")
    assert list(table.columns) == ["strategy", "seed", "true", "predicted"]
    assert len(table) == len(STRATEGIES) * len(SEEDS) * len(IMAGES)
    for (strategy, seed), rows in table.groupby(["strategy", "seed"]):
        wrong = [IMAGES[i] for i in WRONG[(strategy, seed)]]
        assert (rows.true != rows.predicted).sum() == len(wrong)
        bees_as_ants = sum(image.startswith("bees") for image in wrong)
        assert ((rows.true == "bees") & (rows.predicted == "ants")).sum() == bees_as_ants


@pytest.mark.parametrize(("split", "checkpoint"), [("val", "final"), ("test", "best")])
def test_seed_accuracy_is_what_the_verdict_rests_on(tmp_path, split, checkpoint):
    """The last epoch's models on val-only data; the ones chosen on val with a test split."""
    table = pd.read_csv(report_views(tmp_path, split)["plots"] / "seed_accuracy.csv")
    wrong = FINAL_WRONG if checkpoint == "final" else WRONG
    runs = list(itertools.product(STRATEGIES, SEEDS))
    assert list(zip(table.strategy, table.seed, table.checkpoint, strict=True)) == [
        (strategy, seed, checkpoint) for strategy, seed in runs
    ]
    expected = [1 - len(wrong[run]) / len(IMAGES) for run in runs]
    assert table.accuracy.tolist() == pytest.approx(expected)


# --- the live per-epoch log ------------------------------------------------------------------

HISTORY = [
    {"epoch": e, "lr": 0.001 * 0.1 ** (e > 2), "seconds": 1.0, "train_loss": 1.0 / e,
     "train_acc": 0.5 + 0.1 * e, "val_loss": 0.9 / e, "val_acc": 0.4 + 0.1 * e}
    for e in (1, 2, 3)
]  # fmt: skip


def live_files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_live_log_has_every_epoch_with_the_epoch_as_step(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no DVC repository: DVCLive writes the files only
    log = EpochLog(tmp_path / "live")
    for epoch in HISTORY:
        log.log(epoch)
    log.close()
    files = live_files(tmp_path / "live")
    assert sorted(files) == ["metrics.json", *(f"plots/metrics/{n}.tsv" for n in sorted(FIELDS))]
    assert json.loads(files["metrics.json"]) == {"step": 3, **{n: HISTORY[-1][n] for n in FIELDS}}
    for name in FIELDS:
        rows = pd.read_csv(tmp_path / "live/plots/metrics" / f"{name}.tsv", sep="\t")
        assert list(rows.columns) == ["step", name]  # no timestamps: the same bytes every run
        assert rows.step.tolist() == [1, 2, 3]
        assert rows[name].tolist() == [epoch[name] for epoch in HISTORY]


def test_a_resumed_run_leaves_the_files_of_an_uninterrupted_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    whole = EpochLog(tmp_path / "whole")
    for epoch in HISTORY:
        whole.log(epoch)
    whole.close()
    # killed after epoch 2 had been logged, and after epoch 3 had been logged but not yet
    # checkpointed: the rerun resumes from the checkpoint's history (2 epochs) either way
    resumed = EpochLog(tmp_path / "resumed")
    for epoch in HISTORY:
        resumed.log(epoch)
    del resumed
    again = EpochLog(tmp_path / "resumed", HISTORY[:2])
    again.log(HISTORY[2])
    again.close()
    assert live_files(tmp_path / "resumed") == live_files(tmp_path / "whole")


def test_no_folder_logs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = EpochLog(None, HISTORY)
    log.log(HISTORY[0])
    log.close()
    assert list(tmp_path.iterdir()) == []
