"""Statistical methods of the comparison, checked against hand-derived values and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from tlpipe import stats
from tlpipe.stats import (
    crossed_mean,
    describe,
    format_p,
    holm,
    mcnemar_exact,
    mean_squares,
    plan,
    ratio_interval,
    seeds_only_mean,
    variance_components,
    wilson,
)

T_975_2 = 4.302653  # t quantile 0.975 with 2 degrees of freedom (tables)


def _mean_squares_by_loops(y: np.ndarray) -> tuple[float, float, float]:
    """Two-way ANOVA mean squares written out cell by cell, independently of the module."""
    k, n = y.shape
    grand = sum(sum(row) for row in y) / (k * n)
    rows = [sum(y[a]) / n for a in range(k)]
    cols = [sum(y[a][i] for a in range(k)) / k for i in range(n)]
    ss_seed = n * sum((r - grand) ** 2 for r in rows)
    ss_image = k * sum((c - grand) ** 2 for c in cols)
    ss_resid = sum((y[a][i] - rows[a] - cols[i] + grand) ** 2 for a in range(k) for i in range(n))
    return ss_seed / (k - 1), ss_image / (n - 1), ss_resid / ((k - 1) * (n - 1))


TABLE = np.array(
    [
        [1, 0, 1, 1, 0, 1],
        [1, 1, 1, 0, 0, 1],
        [0, 0, 1, 1, 0, 1],
    ],
    dtype=float,
)


# --- crossed seeds x images ------------------------------------------------------------------


def test_mean_squares_match_the_textbook_sums():
    ms = mean_squares(TABLE)
    assert (ms["seed"], ms["image"], ms["resid"]) == pytest.approx(_mean_squares_by_loops(TABLE))
    one_seed = mean_squares(TABLE[:1])
    assert one_seed["seed"] is None and one_seed["resid"] is None
    assert one_seed["image"] == pytest.approx(np.var(TABLE[0], ddof=1))


def test_crossed_interval_by_hand():
    """Var(mean) = (MS_seed + MS_image - MS_resid) / (K N), Satterthwaite df, t-interval."""
    ms_seed, ms_image, ms_resid = _mean_squares_by_loops(TABLE)
    assert ms_image > ms_resid  # the image term is in
    k, n = TABLE.shape
    variance = (ms_seed + ms_image - ms_resid) / (k * n)
    seed_for_df = max(ms_seed, ms_resid)  # Satterthwaite, MS_seed floored at MS_resid
    df = (seed_for_df + ms_image - ms_resid) ** 2 / (
        seed_for_df**2 / (k - 1) + ms_image**2 / (n - 1) + ms_resid**2 / ((k - 1) * (n - 1))
    )
    half = sps.t.ppf(0.975, df) * math.sqrt(variance)
    found = crossed_mean(TABLE, 0.95)
    assert found["mean"] == pytest.approx(TABLE.mean())
    assert found["se"] == pytest.approx(math.sqrt(variance))
    assert found["df"] == pytest.approx(df)
    assert (found["ci_low"], found["ci_high"]) == pytest.approx(
        (TABLE.mean() - half, TABLE.mean() + half)
    )
    assert not found["floored"] and found["n_seeds"] == 3 and found["n_images"] == 6


def test_without_an_image_component_the_crossed_interval_is_the_paired_t_test():
    """No image effect (MS_image <= MS_resid): the interval is the t-test over seeds."""
    rng = np.random.default_rng(0)
    d = (rng.random((5, 40)) < 0.3).astype(float) - (rng.random((5, 40)) < 0.3)
    ms = mean_squares(d)
    if ms["image"] > ms["resid"]:  # pick a table with no visible image component
        d = d[:, np.argsort(d.mean(axis=0))][:, ::2]
    ms = mean_squares(d)
    assert ms["image"] <= ms["resid"]
    per_seed = d.mean(axis=1)
    found = crossed_mean(d, 0.95)
    ttest = sps.ttest_1samp(per_seed, 0.0)
    assert found["p_value"] == pytest.approx(ttest.pvalue)
    low, high = ttest.confidence_interval(0.95)
    assert (found["ci_low"], found["ci_high"]) == pytest.approx((low, high))


def test_one_seed_interval_is_over_images_only():
    found = crossed_mean(TABLE[:1], 0.95)
    se = np.std(TABLE[0], ddof=1) / math.sqrt(6)
    assert found["se"] == pytest.approx(se)
    assert found["df"] == 5 and "one seed" in found["method"]


def test_variance_components_are_never_negative():
    comps = variance_components(np.array([[1, 0, 1, 0], [0, 1, 0, 1.0]]))
    assert min(comps.values()) >= 0.0
    identical = np.ones((4, 10))
    assert variance_components(identical) == {"seed": 0.0, "image": 0.0, "resid": 0.0}


@pytest.mark.parametrize("n_images", [18, 153, 1000])
def test_an_accuracy_of_100_percent_is_not_certain(n_images):
    """Every seed right on every image: no spread, yet the interval has width."""
    found = crossed_mean(
        np.ones((5, n_images)), 0.95, (0.0, 1.0), stats.accuracy_floor_variance(n_images)
    )
    assert found["floored"] and found["ci_high"] == 1.0
    # near the rule of three's 1 - 3/N (Clopper-Pearson: 1 - 0.025 ** (1 / N))
    assert 1.0 - 3.7 / n_images < found["ci_low"] < 1.0 - 1.0 / n_images


def test_identical_predictions_give_an_interval_one_image_wide():
    found = crossed_mean(np.zeros((5, 153)), 0.95, (-1, 1), stats.difference_floor_variance(153))
    assert found["floored"] and found["p_value"] == 1.0
    assert found["ci_high"] == pytest.approx(-found["ci_low"])
    assert found["ci_high"] == pytest.approx(1.959964 / 155)


def test_tables_are_checked():
    with pytest.raises(ValueError, match="seeds x images"):
        crossed_mean(np.ones(4))
    with pytest.raises(ValueError, match="missing"):
        crossed_mean(np.array([[1.0, np.nan]]))


# --- seeds only ------------------------------------------------------------------------------


def test_seeds_only_is_scipy_paired_t_test():
    # seeds that differ by 2 to 14 images: the seed mean square dominates the residual
    a = np.array([[1.0] * n + [0.0] * (30 - n) for n in (28, 20, 25, 16)])
    b = np.array([[1.0] * n + [0.0] * (30 - n) for n in (18, 18, 17, 14)])
    ms = mean_squares(a - b)
    assert ms["seed"] > ms["resid"]
    found = seeds_only_mean(a - b, 0.95)
    ttest = sps.ttest_rel(a.mean(axis=1), b.mean(axis=1))
    assert found["p_value"] == pytest.approx(ttest.pvalue)
    assert (found["ci_low"], found["ci_high"]) == pytest.approx(ttest.confidence_interval(0.95))


def test_equal_per_seed_differences_are_not_p_zero():
    """The issue's case: every seed differs by one image: no "p < 0.001", no zero width."""
    d = np.zeros((2, 18))
    d[0, 16] = d[1, 15] = 1.0  # finetune 17 and 16 right, feature_extract 16 and 15
    found = seeds_only_mean(d, 0.95)
    assert found["p_value"] > 0.05
    assert found["ci_high"] - found["ci_low"] > 0.01
    assert seeds_only_mean(d[:1], 0.95) is None  # one seed: no interval


# --- small helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(0, 5), (3, 5), (5, 5), (7, 20)])
def test_wilson_matches_scipy(k, n):
    found = wilson(k, n, 0.95)
    expected = sps.binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert (found["ci_low"], found["ci_high"]) == pytest.approx((expected.low, expected.high))
    assert found["ci_high"] > found["ci_low"]
    assert wilson(0, 0) is None


def test_ratio_interval_is_geometric_on_the_log_scale():
    found = ratio_interval([200, 420, 390], [100, 200, 150], 0.95)
    logs = np.log([2.0, 2.1, 2.6])
    assert found["ratio"] == pytest.approx(math.exp(logs.mean()))
    half = T_975_2 * logs.std(ddof=1) / math.sqrt(3)
    assert found["ci_low"] == pytest.approx(math.exp(logs.mean() - half), rel=1e-5)
    same = ratio_interval([2, 4], [1, 2])
    assert same["ratio"] == pytest.approx(2.0) and same["ci_low"] is None
    assert ratio_interval([1.0], [0.0]) is None


def test_plan_reaches_its_target_and_no_fewer_would():
    comps = {"seed": 4e-4, "image": 0.05, "resid": 0.2}
    found = plan(comps, n_seeds=5, n_images=153, target_se=0.01)

    def se(k, n):
        return math.sqrt(comps["seed"] / k + comps["image"] / n + comps["resid"] / (k * n))

    assert found["seeds"] is None  # the images alone leave se > 0.01 at 153 images
    assert se(5, found["images"]) <= 0.01 < se(5, found["images"] - 1)
    loose = plan(comps, n_seeds=5, n_images=153, target_se=0.03)
    assert se(loose["seeds"], 153) <= 0.03 < se(loose["seeds"] - 1, 153)


def test_describe_has_no_zero_width_interval():
    assert describe([0.7, 0.7, 0.7])["ci_low"] is None
    assert describe([0.7, 0.7, 0.7])["std"] == 0.0
    three = describe([0.80, 0.85, 0.90])
    assert three["ci_low"] == pytest.approx(0.85 - T_975_2 * 0.05 / math.sqrt(3), rel=1e-6)
    assert describe([None, 0.5])["n"] == 1 and describe([])["mean"] is None
    assert describe([0.98, 0.99, 1.0], bounds=(0, 1))["ci_high"] == 1.0


def test_holm_known_examples():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([None, 0.2]) == [None, 0.2]


def test_mcnemar_exact_known_table():
    a = [True] * 80 + [True] * 1 + [False] * 9 + [False] * 10
    b = [True] * 80 + [False] * 1 + [True] * 9 + [False] * 10
    found = mcnemar_exact(a, b)
    assert found["a_only_correct"] == 1 and found["b_only_correct"] == 9
    assert found["p_value"] == pytest.approx(2 * sps.binom.cdf(1, 10, 0.5))
    assert mcnemar_exact([True], [True])["p_value"] == 1.0


def test_format_p_never_rounds_a_significant_p_to_alpha():
    assert format_p(0.0499999999) == "p < 0.05"
    assert format_p(0.05) == "p = 0.05"
    assert format_p(0.0504) == "p = 0.05"  # not significant, and 0.05 is not < 0.05
    assert format_p(0.0496) == "p = 0.0496"
    assert format_p(0.0004) == "p < 0.001"
    assert format_p(0.31) == "p = 0.31"
