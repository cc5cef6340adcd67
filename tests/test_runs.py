"""Where the runs live: strategies x seeds to the paths the pipeline writes (tlpipe.paths)."""

from __future__ import annotations

from pathlib import Path

from tlpipe import paths
from tlpipe.runs import metrics_file, model_files, prediction_jobs, run_keys, strategy_file


def test_runs_are_every_strategy_with_every_seed_in_config_order():
    assert run_keys(["b", "a"], iter([3, 1])) == [("b", 3), ("b", 1), ("a", 3), ("a", 1)]


def test_paths_follow_the_templates_of_tlpipe_paths():
    assert metrics_file("metrics/runs", "finetune", 2, paths.EVAL_METRICS) == Path(
        "metrics/runs/finetune/seed2/eval.json"
    )
    assert metrics_file(paths.RUNS_DIR, "finetune", 2, "x") == Path(
        paths.RUN_METRICS.format(strategy="finetune", seed=2), "x"
    )
    assert model_files("finetune", [1, 2]) == [
        Path("models/finetune/seed1/model.pt"),
        Path("models/finetune/seed2/model.pt"),
    ]
    assert strategy_file(paths.MODEL_CARD, Path("out"), "finetune") == Path(
        "out/model_card_finetune.md"
    )


def test_prediction_jobs_vote_with_every_seed_of_a_strategy():
    jobs = prediction_jobs(["finetune", "feature_extract"], [1, 2], Path("predictions"))
    assert jobs == {
        Path("predictions/finetune.csv"): model_files("finetune", [1, 2]),
        Path("predictions/feature_extract.csv"): model_files("feature_extract", [1, 2]),
    }
