"""The decision per pair, comparison.json's fields and the verdict's wording."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tlpipe.comparison import compare, decide_pair, pair_levels

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import calibration

VAL_FINAL = {"split": "val", "checkpoint": "final", "selected_on": None}


def right_on(n_right: int, n_images: int) -> list[bool]:
    """The first ``n_right`` images right."""
    return [i < n_right for i in range(n_images)]


def experiment(
    correct: dict[str, list[list[bool]]],
    seconds: dict[str, float] | None = None,
    basis: dict | None = None,
    **kwargs,
) -> dict:
    """compare() on per-image outcomes: strategy -> one list of booleans per seed."""
    n_images = len(next(iter(correct.values()))[0])
    images = [f"val/c/{i:04d}.jpg" for i in range(n_images)]
    rows, outcomes = [], {}
    for name, per_seed in correct.items():
        for k, right in enumerate(per_seed, start=1):
            rows.append(
                {
                    "strategy": name,
                    "seed": k,
                    # per-seed time ratios that vary from seed to seed
                    "train_seconds": (seconds or {}).get(name, 100.0)
                    * (1 + 0.01 * k * (sum(map(ord, name)) % 7 + 1)),
                    "peak_rss_mb": 900.0 + k,
                    "final_eval_accuracy": float(np.mean(right)),
                }
            )
            outcomes[(name, k)] = pd.Series(right, index=images)
    return compare(pd.DataFrame(rows), outcomes, basis or VAL_FINAL, **kwargs)


def noisy(rng, p: float, n_seeds: int, n_images: int) -> list[list[bool]]:
    return [list(rng.random(n_images) < p) for _ in range(n_seeds)]


# --- the degenerate cases --------------------------------------------------------------


def test_equal_per_seed_differences_on_two_seeds_call_no_winner():
    """2 seeds, 18 images, finetune 17 and 16 right, feature_extract 16 and 15: the old
    verdict said "better by 5.6 points (95% CI 5.6 to 5.6; p < 0.001)"."""
    result = experiment(
        {
            "finetune": [right_on(17, 18), right_on(16, 18)],
            "feature_extract": [right_on(16, 18), right_on(15, 18)],
        }
    )
    (pair,) = result["pairs"]
    assert pair["decision"] == "inconclusive" and pair["better"] is None
    assert pair["difference"]["p_value"] > 0.05
    assert pair["difference"]["ci_low"] < 0 < pair["difference"]["ci_high"]
    assert pair["seeds_only"]["ci_high"] > pair["seeds_only"]["ci_low"]
    assert "2 seeds cannot estimate the training noise" in pair["sentence"]
    assert "better than" not in result["verdict"]


def test_one_image_ahead_in_every_seed_is_not_better():
    """Five seeds, each finetune run right on one image more, always the same image: the
    per-seed differences have no spread, but one image is no evidence."""
    result = experiment(
        {
            "finetune": [right_on(17, 18)] * 5,
            "feature_extract": [right_on(16, 18)] * 5,
        }
    )
    (pair,) = result["pairs"]
    assert pair["decision"] == "inconclusive"
    assert pair["difference"]["ci_low"] < 0
    assert pair["seeds_won"] == {"a": 5, "b": 0, "tied": 0}


def test_constant_accuracy_has_an_interval_of_several_points():
    """The README's old "71.9 ± 0.0 [71.9, 71.9]": one run on 153 images is uncertain."""
    same = [right_on(110, 153)] * 5
    result = experiment({"finetune": same, "feature_extract": same})
    accuracy = result["strategies"]["finetune"]["accuracy"]
    assert accuracy["mean"] == pytest.approx(110 / 153)
    assert accuracy["ci_high"] - accuracy["ci_low"] > 0.10  # about ±7 points
    for entry in result["strategies"].values():
        assert entry["accuracy_seeds_only"]["ci_high"] > entry["accuracy_seeds_only"]["ci_low"]


@pytest.mark.parametrize(("n_images", "decision"), [(153, "inconclusive"), (2000, "equivalent")])
def test_identical_predictions_are_never_a_zero_width_no_difference(n_images, decision):
    same = [right_on(int(0.8 * n_images), n_images)] * 5
    result = experiment({"finetune": same, "feature_extract": same})
    (pair,) = result["pairs"]
    assert pair["decision"] == decision
    assert pair["difference"]["ci_high"] > 0 > pair["difference"]["ci_low"]
    assert "CI 0.0 to 0.0" not in result["verdict"]
    if decision == "inconclusive":
        assert "Planning a new run" in pair["sentence"]
        assert pair["planning"]["images"] > n_images


def test_three_strategies_decisions_agree_with_simultaneous_intervals():
    rng = np.random.default_rng(7)
    for trial in range(20):
        result = experiment(
            {
                "finetune": noisy(rng, 0.85, 5, 100),
                "feature_extract": noisy(rng, 0.75, 5, 100),
                "partial_finetune": noisy(rng, 0.80 + 0.01 * trial, 5, 100),
            }
        )
        assert result["n_comparisons"] == 3
        assert result["decision_confidence"] == pytest.approx(1 - 0.05 / 3)
        for pair in result["pairs"]:
            diff = pair["difference"]
            assert diff["confidence"] == pytest.approx(1 - 0.05 / 3)
            excludes = diff["ci_low"] > 0 or diff["ci_high"] < 0
            if pair["decision"] == "better":
                assert excludes and (diff["p_value_adjusted"] < 0.05)
            if pair["decision"] == "inconclusive":
                assert not excludes
            assert "excludes 0, but" not in pair["sentence"]
            assert "Bonferroni over 3 pairs" in pair["sentence"]


def test_decision_and_interval_never_disagree_on_random_tables():
    rng = np.random.default_rng(11)
    for _ in range(200):
        k, n = rng.integers(1, 8), rng.integers(5, 60)
        d = (rng.random((k, n)) < rng.random()).astype(float) - (rng.random((k, n)) < 0.3)
        decided = decide_pair(d)
        diff, tost = decided["difference"], decided["equivalence"]
        assert diff["ci_high"] > diff["ci_low"] and tost["ci_high"] > tost["ci_low"]
        if decided["decision"] == "better":
            assert k >= 3 and (diff["ci_low"] > 0 or diff["ci_high"] < 0)
        elif decided["decision"] == "equivalent":
            assert k >= 3 and tost["ci_low"] > -0.01 and tost["ci_high"] < 0.01
        else:
            assert k < 3 or not (diff["ci_low"] > 0 or diff["ci_high"] < 0)


def test_pair_levels_bonferroni():
    assert pair_levels(1) == pytest.approx((0.95, 0.90))
    assert pair_levels(3) == pytest.approx((1 - 0.05 / 3, 1 - 0.1 / 3))


# --- wording -------------------------------------------------------------------------------


def test_wording_better():
    rng = np.random.default_rng(1)
    result = experiment(
        {"finetune": noisy(rng, 0.9, 5, 300), "feature_extract": noisy(rng, 0.7, 5, 300)},
        seconds={"finetune": 400.0, "feature_extract": 100.0},
    )
    (pair,) = result["pairs"]
    assert pair["decision"] == "better" and pair["better"] == "finetune"
    verdict = result["verdict"]
    assert verdict.startswith(
        "Scored: last-epoch models (chosen by no score) on val/ (300 images)."
    )
    assert "finetune is better than feature_extract by" in verdict
    assert "95% CI" in verdict and "over seeds and val images; 5 seeds, 300 val images" in verdict
    assert "finetune ahead in 5 of 5 seeds" in verdict
    assert re.search(r"Training time: finetune takes [34]\.\dx as long as feature_extract "
                     r"\(95% CI [34]\.\d to [34]\.\dx, paired by seed\)", verdict)  # fmt: skip
    assert "paired by seed" in verdict


def test_wording_equivalent():
    same = [right_on(1600, 2000)] * 4
    result = experiment({"finetune": same, "feature_extract": same}, margin_points=1.0)
    sentence = result["pairs"][0]["sentence"]
    assert sentence.startswith("finetune and feature_extract are equivalent within ±1 point:")
    assert "90% CI of the equivalence test" in sentence and "inside ±1 point" in sentence


def test_wording_inconclusive_plans_a_new_run():
    rng = np.random.default_rng(5)
    result = experiment(
        {"finetune": noisy(rng, 0.8, 5, 153), "feature_extract": noisy(rng, 0.8, 5, 153)}
    )
    (pair,) = result["pairs"]
    assert pair["decision"] == "inconclusive"
    sentence = pair["sentence"]
    assert sentence.startswith("Inconclusive between finetune and feature_extract:")
    assert "is too wide to decide at ±1 point (5 seeds, 153 val images)" in sentence
    assert "Planning a new run:" in sentence and "train more seeds" not in sentence


def test_one_seed_and_one_strategy():
    rng = np.random.default_rng(2)
    one_seed = experiment({"a": noisy(rng, 0.9, 1, 50), "b": noisy(rng, 0.5, 1, 50)})
    (pair,) = one_seed["pairs"]
    assert pair["decision"] == "inconclusive" and pair["seeds_only"] is None
    assert "needs at least 3 seeds" in pair["sentence"]
    alone = experiment({"a": noisy(rng, 0.9, 3, 50)})
    assert "Only a was trained (3 seeds)" in alone["verdict"] and not alone["pairs"]


def test_verdict_names_split_and_checkpoint():
    rng = np.random.default_rng(3)
    correct = {"a": noisy(rng, 0.9, 3, 40), "b": noisy(rng, 0.8, 3, 40)}
    test_best = {"split": "test", "checkpoint": "best", "selected_on": "val"}
    assert experiment(correct, basis=test_best)["verdict"].startswith(
        "Scored: best-epoch models (selected on val/) on test/ (40 images)."
    )
    val_best = {"split": "val", "checkpoint": "best", "selected_on": "val"}
    assert (
        "the images that selected them (optimistic"
        in experiment(correct, basis=val_best)["verdict"]
    )


# --- comparison.json -------------------------------------------------------------------------


def test_comparison_json_fields():
    rng = np.random.default_rng(4)
    result = experiment({"a": noisy(rng, 0.9, 4, 60), "b": noisy(rng, 0.7, 4, 60)})
    text = json.dumps(result, allow_nan=False)  # plain, finite values only
    (pair,) = json.loads(text)["pairs"]
    assert pair["decision"] in ("better", "equivalent", "inconclusive")
    assert pair["better"] in ("a", "b", None)
    points = pair["difference_points"]
    assert points["estimate"] == pytest.approx(100 * pair["difference"]["mean"], abs=1e-3)
    assert points["ci_low"] < points["estimate"] < points["ci_high"]
    assert "seeds x images" in points["method"]
    assert pair["seeds_only_points"]["method"].startswith("seeds only")
    assert pair["margin_points"] == 1.0
    assert set(pair["cost"]) == {"train_seconds", "peak_rss_mb"}
    assert pair["cost"]["train_seconds"]["ci_low"] is not None
    assert 0 <= pair["superiority"]["ci_low"] <= pair["superiority"]["ci_high"] <= 1
    strategy = json.loads(text)["strategies"]["a"]
    assert strategy["accuracy"]["ci_low"] < strategy["accuracy"]["mean"]
    assert json.loads(text)["basis"] == {**VAL_FINAL, "n_images": 60}


def test_runs_scored_on_different_images_are_refused():
    rows = pd.DataFrame([{"strategy": "a", "seed": 1}, {"strategy": "b", "seed": 1}])
    outcomes = {
        ("a", 1): pd.Series([True, False], index=["x.jpg", "y.jpg"]),
        ("b", 1): pd.Series([True, False], index=["x.jpg", "z.jpg"]),
    }
    with pytest.raises(ValueError, match="same images"):
        compare(rows, outcomes, VAL_FINAL)


# --- calibration (the fast version of benchmarks/calibration.py) ------------------------------


def test_calibration_fast():
    """No difference: "better" at most about alpha; with a strategy x image interaction the
    old seeds-only rule called a winner far more often at 20 seeds; a real difference is
    found with power."""
    args = calibration.get_args_parser().parse_args(
        ["--reps", "150", "--seeds", "5", "20", "--images", "153", "--before",
         "--scenarios", "null+interaction", "difference"]
    )  # fmt: skip
    rows = {(r["scenario"], r["seeds"]): r for r in calibration.calibrate(args)}
    for seeds in (5, 20):
        assert rows[("null+interaction", seeds)]["better"] <= 0.10
    assert rows[("null+interaction", 20)]["before_better"] >= 0.15
    assert rows[("difference", 20)]["better"] >= 0.85
    assert rows[("difference", 20)]["wrong_direction"] == 0
