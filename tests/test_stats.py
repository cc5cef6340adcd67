"""Statistics of the strategy comparison, checked against hand-derived values and scipy."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from tlpipe import stats
from tlpipe.stats import (
    compare,
    describe,
    format_p,
    holm,
    mcnemar_exact,
    min_detectable_difference,
    paired_comparison,
    verdict,
)

T_975_2 = 4.302653  # t quantile 0.975 with 2 degrees of freedom (tables)


def _power(delta: float, sd: float, n: int, alpha: float = 0.05) -> float:
    """Power of the two-sided paired t-test, recomputed independently of the module."""
    df = n - 1
    crit = sps.t.ppf(1 - alpha / 2, df)
    nc = delta * math.sqrt(n) / sd
    # lower tail P(T < -crit) by symmetry: nct.cdf gives NaN that far out for large nc
    return sps.nct.sf(crit, df, nc) + sps.nct.sf(crit, df, -nc)


# --- describe --------------------------------------------------------------------------------


def test_describe_three_values_by_hand():
    d = describe([0.9, 0.92, 0.94])
    half = T_975_2 * 0.02 / math.sqrt(3)  # 0.049682...
    assert d["n"] == 3
    assert d["mean"] == pytest.approx(0.92)
    assert d["std"] == pytest.approx(0.02)
    assert d["ci_low"] == pytest.approx(0.92 - half, abs=1e-7)
    assert d["ci_high"] == pytest.approx(0.92 + half, abs=1e-7)
    assert d["ci_low"] == pytest.approx(0.870318, abs=1e-6)
    assert d["values"] == [0.9, 0.92, 0.94]
    assert all(type(d[k]) is float for k in ("mean", "std", "ci_low", "ci_high"))


def test_describe_confidence_level_changes_the_interval():
    d = describe([0.9, 0.92, 0.94], confidence=0.90)
    half = 2.919986 * 0.02 / math.sqrt(3)  # t_{0.95, 2}
    assert d["ci_high"] - d["mean"] == pytest.approx(half, abs=1e-7)


def test_describe_one_value_none_and_constant_values():
    one = describe([0.8])
    assert one == {"n": 1, "mean": 0.8, "std": None, "ci_low": None, "ci_high": None,
                   "values": [0.8]}  # fmt: skip
    empty = describe([])
    assert empty["n"] == 0 and empty["mean"] is None and empty["std"] is None
    const = describe([0.75, 0.75, 0.75, 0.75])
    assert const["std"] == 0.0
    assert const["ci_low"] == const["ci_high"] == const["mean"] == pytest.approx(0.75)


def test_describe_drops_missing_values_and_returns_plain_floats():
    d = describe(np.array([500.0, np.nan, 520.0]))
    assert d["n"] == 2 and d["values"] == [500.0, 520.0]
    assert d["mean"] == pytest.approx(510.0)
    assert d["std"] == pytest.approx(math.sqrt(200.0))
    assert all(type(v) is float for v in d["values"])
    assert describe([None, float("nan")])["mean"] is None


# --- min_detectable_difference ---------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 5, 10, 30])
def test_min_detectable_difference_has_the_requested_power(n):
    sd = 0.013
    delta = min_detectable_difference(sd, n)
    assert _power(delta, sd, n) == pytest.approx(0.80, abs=1e-6)
    assert _power(delta, sd, n, alpha=0.05) > _power(0.99 * delta, sd, n)
    other = min_detectable_difference(sd, n, alpha=0.01, power=0.9)
    assert _power(other, sd, n, alpha=0.01) == pytest.approx(0.90, abs=1e-6)


def test_min_detectable_difference_shrinks_with_n_and_scales_with_sd():
    values = [min_detectable_difference(0.01, n) for n in (2, 3, 5, 10, 100, 1000)]
    assert values == sorted(values, reverse=True) and len(set(values)) == len(values)
    # large n: normal approximation (z_0.975 + z_0.8) * sd / sqrt(n) = 2.8016 * sd / sqrt(n)
    assert values[-1] == pytest.approx(2.8016 * 0.01 / math.sqrt(1000), rel=2e-3)
    assert min_detectable_difference(0.02, 5) == pytest.approx(2 * values[2], rel=1e-9)


def test_min_detectable_difference_edge_cases():
    assert min_detectable_difference(0.01, 1) is None
    assert min_detectable_difference(None, 5) is None
    assert min_detectable_difference(0.0, 5) == 0.0
    with pytest.raises(ValueError):
        min_detectable_difference(0.01, 5, alpha=0.5, power=0.4)


# --- paired_comparison -----------------------------------------------------------------------

B5 = [0.80, 0.82, 0.85, 0.83, 0.81]
NOISE5 = [0.002, -0.001, 0.0, 0.003, -0.002]
A5 = [b + 0.03 + e for b, e in zip(B5, NOISE5, strict=True)]


def test_paired_comparison_clear_difference_matches_scipy():
    r = paired_comparison(A5, B5)
    d = np.array(A5) - np.array(B5)  # 0.032, 0.029, 0.030, 0.033, 0.028
    ref = sps.ttest_rel(A5, B5)
    assert r["n"] == 5
    assert r["differences"] == pytest.approx([0.032, 0.029, 0.030, 0.033, 0.028])
    assert r["mean_difference"] == pytest.approx(0.0304)
    assert r["std_difference"] == pytest.approx(d.std(ddof=1))
    assert r["std_difference"] == pytest.approx(math.sqrt(0.0000043))  # sum sq dev 17.2e-6 / 4
    assert r["t_statistic"] == pytest.approx(ref.statistic)
    assert r["p_value"] == pytest.approx(ref.pvalue)
    assert r["p_value"] < 0.05
    half = sps.t.ppf(0.975, 4) * r["std_difference"] / math.sqrt(5)
    assert r["ci_low"] == pytest.approx(0.0304 - half) and r["ci_low"] > 0
    assert r["ci_high"] == pytest.approx(0.0304 + half)
    assert _power(r["min_detectable_difference"], r["std_difference"], 5) == pytest.approx(0.8)


def test_paired_comparison_noisy_pair_matches_scipy():
    a = [0.90, 0.86, 0.93, 0.88, 0.91]
    b = [0.89, 0.88, 0.90, 0.89, 0.90]
    r = paired_comparison(a, b)
    ref = sps.ttest_rel(a, b)
    assert r["p_value"] == pytest.approx(ref.pvalue) and r["p_value"] > 0.05
    assert r["t_statistic"] == pytest.approx(ref.statistic)
    assert r["ci_low"] < 0 < r["ci_high"]


def test_paired_comparison_identical_and_constant_shift():
    same = paired_comparison(B5, B5)
    assert same["p_value"] == 1.0 and same["t_statistic"] is None
    assert same["mean_difference"] == 0.0 and same["std_difference"] == 0.0
    assert same["ci_low"] == same["ci_high"] == 0.0
    assert same["min_detectable_difference"] == 0.0
    # a constant shift whose float differences are not bit-identical (0.92-0.90 vs 0.94-0.92)
    shift = paired_comparison([0.92, 0.94, 0.96], [0.90, 0.92, 0.94])
    assert shift["p_value"] == 0.0 and shift["std_difference"] == 0.0
    assert shift["ci_low"] == shift["ci_high"] == pytest.approx(0.02)


def test_paired_comparison_one_seed_and_unequal_lengths():
    one = paired_comparison([0.9], [0.85])
    assert one["n"] == 1 and one["mean_difference"] == pytest.approx(0.05)
    for key in ("std_difference", "ci_low", "ci_high", "t_statistic", "p_value",
                "min_detectable_difference"):  # fmt: skip
        assert one[key] is None
    assert paired_comparison([], [])["mean_difference"] is None
    with pytest.raises(ValueError, match="same length"):
        paired_comparison([0.9, 0.8], [0.9])


# --- holm ------------------------------------------------------------------------------------


def test_holm_known_examples():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    with_none = holm([None, 0.01, 0.04, None, 0.03])
    assert with_none[0] is None and with_none[3] is None
    assert [with_none[i] for i in (1, 2, 4)] == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.01, 0.02]) == pytest.approx([0.02, 0.02])  # monotone step-down
    assert holm([0.5, 0.6]) == [1.0, 1.0]  # capped
    assert holm([0.2]) == [0.2]
    assert holm([]) == [] and holm([None]) == [None]


def test_holm_none_not_counted():
    out = holm([0.02, None, 0.04])
    assert out[1] is None
    assert out[0] == pytest.approx(0.04) and out[2] == pytest.approx(0.04)  # m = 2, not 3


# --- mcnemar_exact ---------------------------------------------------------------------------


def test_mcnemar_exact_known_table():
    # 80 both right, 1 only A right, 9 only B right, 10 both wrong
    a = [True] * 80 + [True] * 1 + [False] * 9 + [False] * 10
    b = [True] * 80 + [False] * 1 + [True] * 9 + [False] * 10
    r = mcnemar_exact(a, b)
    assert r == {"n": 100, "both_correct": 80, "a_only_correct": 1, "b_only_correct": 9,
                 "both_wrong": 10, "p_value": pytest.approx(0.021484375)}  # fmt: skip
    assert r["p_value"] == pytest.approx(2 * sps.binom.cdf(1, 10, 0.5))
    swapped = mcnemar_exact(b, a)
    assert swapped["a_only_correct"] == 9 and swapped["p_value"] == pytest.approx(0.021484375)


def test_mcnemar_exact_no_discordant_pairs():
    r = mcnemar_exact([True, False, True], [True, False, True])
    assert r["p_value"] == 1.0
    assert r["both_correct"] + r["both_wrong"] == r["n"] == 3
    assert mcnemar_exact([], [])["p_value"] == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact([True], [True, False])


# --- compare ---------------------------------------------------------------------------------

IMAGES = [f"val/{cls}/{i:03d}.jpg" for cls in ("ants", "bees") for i in range(10)]


def make_runs(accuracy: dict[str, dict[int, float]], seconds: dict[str, float]) -> pd.DataFrame:
    rows = []
    for name, per_seed in accuracy.items():
        for seed, acc in per_seed.items():
            rows.append({"strategy": name, "seed": seed, "eval_accuracy": acc,
                         "macro_f1": acc - 0.01, "best_val_acc": acc + 0.01,
                         "final_val_acc": acc, "train_seconds": seconds[name] + seed,
                         "peak_rss_mb": np.nan})  # fmt: skip
    return pd.DataFrame(rows)


def make_correctness(runs: pd.DataFrame) -> dict[tuple[str, int], pd.Series]:
    """Per-image correctness: image i is right when its rank is below accuracy * 20."""
    out = {}
    for row in runs.itertuples():
        right = [i < round(row.eval_accuracy * len(IMAGES)) for i in range(len(IMAGES))]
        out[(row.strategy, row.seed)] = pd.Series(right, index=IMAGES, name="correct")
    return out


def test_compare_two_strategies_three_seeds_by_hand():
    runs = pd.DataFrame({
        "strategy": ["finetune"] * 3 + ["feature_extract"] * 3,
        "seed": [1, 2, 3, 1, 2, 3],
        "eval_accuracy": [0.90, 0.92, 0.94, 0.85, 0.88, 0.89],
        "macro_f1": [0.89, 0.91, 0.93, 0.84, 0.87, 0.88],
        "best_val_acc": [0.91, 0.93, 0.95, 0.86, 0.89, 0.90],
        "final_val_acc": [0.90, 0.92, 0.94, 0.85, 0.88, 0.89],
        "train_seconds": [100.0, 110.0, 120.0, 20.0, 25.0, 21.0],
        "peak_rss_mb": [np.nan, 500.0, 520.0, np.nan, np.nan, np.nan],
    })  # fmt: skip
    paths = ["p0", "p1", "p2", "p3", "p4"]
    # finetune right on p0..p3 (seed 1 also lists an image feature_extract never saw)
    ft = pd.Series([True, True, True, True, False], index=paths)
    fe = pd.Series([True, False, False, True, True], index=paths)
    correctness = {
        ("finetune", 1): pd.concat([ft, pd.Series([True], index=["extra"])]),
        ("finetune", 2): ft,
        ("finetune", 3): ft[::-1],  # other row order: aligned by path, not position
        ("feature_extract", 1): fe,
        ("feature_extract", 2): fe,
        ("feature_extract", 3): fe,
    }
    c = compare(runs, correctness)
    json.dumps(c, allow_nan=False)  # plain, finite, serialisable
    assert (c["confidence"], c["alpha"], c["power"]) == (0.95, 0.05, 0.8)
    assert list(c["strategies"]) == ["finetune", "feature_extract"]  # order of appearance

    ft_sum = c["strategies"]["finetune"]
    assert ft_sum["n_seeds"] == 3 and ft_sum["seeds"] == [1, 2, 3]
    assert ft_sum["eval_accuracy"]["mean"] == pytest.approx(0.92)
    assert ft_sum["eval_accuracy"]["std"] == pytest.approx(0.02)
    assert ft_sum["eval_accuracy"]["ci_high"] == pytest.approx(0.92 + T_975_2 * 0.02 / 3**0.5)
    assert ft_sum["train_seconds"]["mean"] == pytest.approx(110.0)
    assert ft_sum["macro_f1"]["mean"] == pytest.approx(0.91)
    assert ft_sum["peak_rss_mb"]["n"] == 2 and ft_sum["peak_rss_mb"]["mean"] == 510.0
    fe_sum = c["strategies"]["feature_extract"]
    assert fe_sum["peak_rss_mb"] == {"n": 0, "mean": None, "std": None, "ci_low": None,
                                     "ci_high": None, "values": []}  # fmt: skip
    assert fe_sum["eval_accuracy"]["mean"] == pytest.approx(2.62 / 3)
    assert fe_sum["train_seconds"]["mean"] == pytest.approx(22.0)

    (pair,) = c["pairs"]
    assert (pair["a"], pair["b"], pair["seeds"], pair["n"]) == ("finetune", "feature_extract",
                                                                [1, 2, 3], 3)  # fmt: skip
    # differences 0.05, 0.04, 0.05: mean 0.046667, sd 0.0057735, t = 14, df 2
    assert pair["differences"] == pytest.approx([0.05, 0.04, 0.05])
    assert pair["mean_difference"] == pytest.approx(0.14 / 3)
    assert pair["std_difference"] == pytest.approx(math.sqrt(1 / 30000))
    assert pair["t_statistic"] == pytest.approx(14.0)
    assert pair["p_value"] == pytest.approx(2 * sps.t.sf(14.0, 2))
    assert pair["p_value"] == pytest.approx(0.005063, abs=1e-6)
    assert pair["p_value_holm"] == pair["p_value"]  # one pair: no adjustment
    half = T_975_2 * math.sqrt(1 / 30000) / math.sqrt(3)
    assert pair["ci_low"] == pytest.approx(0.14 / 3 - half, abs=1e-7)
    assert pair["ci_high"] == pytest.approx(0.14 / 3 + half, abs=1e-7)
    assert pair["significant"] is True
    assert pair["time_ratio"] == pytest.approx(110.0 / 22.0)
    assert [m["seed"] for m in pair["mcnemar"]] == [1, 2, 3]
    for m in pair["mcnemar"]:  # 'extra' dropped by the inner join; p3/p4 ordering irrelevant
        assert (m["n"], m["both_correct"], m["a_only_correct"], m["b_only_correct"],
                m["both_wrong"]) == (5, 2, 2, 1, 0)  # fmt: skip
        assert m["p_value"] == pytest.approx(1.0)  # binomtest(2, 3): 2 * P(X >= 2) > 1 -> 1
    assert c["verdict"] == verdict({k: v for k, v in c.items() if k != "verdict"})
    assert c["verdict"].startswith("finetune is better than feature_extract by 4.7 points")


def test_compare_pairs_only_common_seeds():
    runs = make_runs({"finetune": {1: 0.90, 2: 0.92, 3: 0.94},
                      "feature_extract": {1: 0.85, 3: 0.90}},
                     {"finetune": 100.0, "feature_extract": 20.0})  # fmt: skip
    c = compare(runs, make_correctness(runs))
    (pair,) = c["pairs"]
    assert pair["seeds"] == [1, 3] and pair["n"] == 2
    assert pair["differences"] == pytest.approx([0.05, 0.04])
    assert pair["p_value"] == pytest.approx(sps.ttest_rel([0.90, 0.94], [0.85, 0.90]).pvalue)
    assert [m["seed"] for m in pair["mcnemar"]] == [1, 3]
    # seed 1: 18 vs 17 right of 20 (prefixes) -> 17 both, 1 finetune only, 2 both wrong
    assert pair["mcnemar"][0]["both_correct"] == 17
    assert pair["mcnemar"][0]["a_only_correct"] == 1 and pair["mcnemar"][0]["both_wrong"] == 2
    assert c["strategies"]["feature_extract"]["seeds"] == [1, 3]
    # mean seconds over all seeds: (101 + 102 + 103) / 3 over (21 + 23) / 2
    assert pair["time_ratio"] == pytest.approx(102.0 / 22.0)
    json.dumps(c, allow_nan=False)


def test_compare_three_strategies_holm_and_order():
    runs = make_runs({"finetune": {s: 0.90 + 0.01 * (s % 3) for s in range(1, 6)},
                      "feature_extract": {s: 0.88 + 0.012 * (s % 2) for s in range(1, 6)},
                      "scratch": {s: 0.60 + 0.03 * (s % 3) - 0.01 * s for s in range(1, 6)}},
                     {"finetune": 100.0, "feature_extract": 20.0, "scratch": 300.0})  # fmt: skip
    c = compare(runs, make_correctness(runs), strategies=["scratch", "finetune", "feature_extract"])
    assert list(c["strategies"]) == ["scratch", "finetune", "feature_extract"]
    assert [(p["a"], p["b"]) for p in c["pairs"]] == [("scratch", "finetune"),
                                                      ("scratch", "feature_extract"),
                                                      ("finetune", "feature_extract")]  # fmt: skip
    raw = [p["p_value"] for p in c["pairs"]]
    assert [p["p_value_holm"] for p in c["pairs"]] == pytest.approx(holm(raw))
    smallest = int(np.argmin(raw))
    assert c["pairs"][smallest]["p_value_holm"] == pytest.approx(3 * raw[smallest])
    for p in c["pairs"]:
        excludes = p["ci_low"] > 0 or p["ci_high"] < 0
        assert p["significant"] is (p["p_value_holm"] < 0.05 and excludes)
    assert c["pairs"][0]["significant"] and c["pairs"][0]["mean_difference"] < 0
    assert "Holm-adjusted" in c["verdict"]
    json.dumps(c, allow_nan=False)


def test_compare_errors():
    runs = make_runs({"finetune": {1: 0.9}, "feature_extract": {1: 0.8}},
                     {"finetune": 10.0, "feature_extract": 5.0})  # fmt: skip
    correctness = make_correctness(runs)
    disjoint = dict(correctness)
    disjoint[("feature_extract", 1)] = pd.Series([True], index=["elsewhere.jpg"])
    with pytest.raises(ValueError, match="share no image"):
        compare(runs, disjoint)
    with pytest.raises(ValueError, match="no per-image predictions"):
        compare(runs, {("finetune", 1): correctness[("finetune", 1)]})
    with pytest.raises(ValueError, match="duplicate"):
        compare(pd.concat([runs, runs]), correctness)
    with pytest.raises(ValueError, match="no runs for strategies"):
        compare(runs, correctness, strategies=["finetune", "scratch"])


# --- verdict ---------------------------------------------------------------------------------

SECONDS = {"finetune": 480.0, "feature_extract": 100.0}


def _five_seed_comparison(finetune: list[float], feature_extract: list[float]) -> dict:
    runs = make_runs({"finetune": dict(enumerate(finetune, 1)),
                      "feature_extract": dict(enumerate(feature_extract, 1))},
                     {"finetune": 477.0, "feature_extract": 97.0})  # fmt: skip
    return compare(runs, make_correctness(runs))


def test_verdict_significant_winner():
    c = _five_seed_comparison(A5, B5)
    pair = c["pairs"][0]
    assert pair["significant"]
    half = sps.t.ppf(0.975, 4) * pair["std_difference"] / math.sqrt(5)
    lo, hi = (0.0304 - half) * 100, (0.0304 + half) * 100
    assert (round(lo, 1), round(hi, 1)) == (2.8, 3.3)
    assert c["verdict"] == (
        "finetune is better than feature_extract by 3.0 points (95% CI 2.8 to 3.3; "
        "paired t-test over 5 seeds, p < 0.001). "
        "But finetune costs 4.8x the training time of feature_extract."
    )
    # the winner is named the same way when it is strategy b
    flipped = _five_seed_comparison(B5, A5)
    assert flipped["verdict"].startswith(
        "feature_extract is better than finetune by 3.0 points (95% CI 2.8 to 3.3; "
    )
    assert flipped["verdict"].endswith(
        "feature_extract is also cheaper: 4.8x less training time than finetune."
    )


def test_verdict_not_significant():
    a = [0.90, 0.86, 0.93, 0.88, 0.91]
    b = [0.89, 0.88, 0.90, 0.89, 0.90]
    c = _five_seed_comparison(a, b)
    pair = c["pairs"][0]
    assert not pair["significant"]
    mdd = min_detectable_difference(np.std(np.subtract(a, b), ddof=1), 5)
    assert f"~{mdd * 100:.1f} points" in c["verdict"]
    assert c["verdict"] == (
        "No difference detected between finetune and feature_extract: the 95% CI of the "
        "difference (finetune minus feature_extract), -2.0 to 2.8 points, includes 0 "
        "(paired t-test over 5 seeds, p = 0.67); with 5 seeds, differences "
        "below ~3.3 points cannot be detected reliably (80% power). "
        "Cheaper: feature_extract, 4.8x less training time."
    )
    # d = 0.01, -0.02, 0.03, -0.01, 0.01: mean 0.004, sd sqrt(380e-6) = 0.019494
    sd = math.sqrt(380e-6)
    half = sps.t.ppf(0.975, 4) * sd / math.sqrt(5)  # 0.024205
    assert (pair["ci_low"], pair["ci_high"]) == pytest.approx((0.004 - half, 0.004 + half))
    assert pair["p_value"] == pytest.approx(2 * sps.t.sf(0.004 / (sd / math.sqrt(5)), 4))
    assert "better" not in c["verdict"]


def test_verdict_one_seed():
    runs = make_runs({"finetune": {7: 0.93}, "feature_extract": {7: 0.91}},
                     {"finetune": 477.0, "feature_extract": 97.0})  # fmt: skip
    c = compare(runs, make_correctness(runs))
    assert c["pairs"][0]["p_value"] is None and c["pairs"][0]["significant"] is False
    assert c["verdict"] == (
        "finetune scored 2.0 points higher than feature_extract on the one paired seed "
        "(seed 7), but with one seed no significance can be computed; train more seeds "
        "(seeds) to test it. Cheaper: feature_extract, 4.7x less training time."
    )


def test_verdict_one_strategy():
    runs = make_runs({"finetune": {1: 0.90, 2: 0.92, 3: 0.94}}, {"finetune": 10.0})
    c = compare(runs, make_correctness(runs))
    assert c["pairs"] == []
    assert c["verdict"] == (
        "Only finetune was trained (3 seeds): accuracy 92.0% (95% CI 87.0 to 97.0); "
        "there is no other strategy to compare it with."
    )
    single = make_runs({"finetune": {1: 0.9}}, {"finetune": 10.0})
    assert compare(single, make_correctness(single))["verdict"] == (
        "Only finetune was trained (1 seed): accuracy 90.0%; "
        "there is no other strategy to compare it with."
    )


def test_verdict_three_strategies_uses_holm():
    runs = make_runs({"finetune": dict(enumerate(A5, 1)),
                      "feature_extract": dict(enumerate(B5, 1)),
                      "scratch": dict(enumerate([0.80, 0.84, 0.83, 0.80, 0.82], 1))},
                     {"finetune": 477.0, "feature_extract": 97.0, "scratch": 97.0})  # fmt: skip
    c = compare(runs, make_correctness(runs))
    text = c["verdict"]
    _, ft_sc, fe_sc = c["pairs"]
    assert text.count("3 comparisons") == 3
    assert text.startswith(
        "finetune is better than feature_extract by 3.0 points (95% CI 2.8 to 3.3; "
        "paired t-test over 5 seeds, Holm-adjusted p < 0.001, 3 comparisons). "
    )
    # finetune vs scratch: raw p = 0.026 and the CI excludes 0, but Holm (x2) lifts p to 0.052
    assert ft_sc["p_value"] < 0.05 <= ft_sc["p_value_holm"]
    assert ft_sc["p_value_holm"] == pytest.approx(2 * ft_sc["p_value"])
    assert ft_sc["ci_low"] > 0 and ft_sc["significant"] is False
    assert (
        "No difference detected between finetune and scratch: the 95% CI of the difference "
        "(finetune minus scratch), 0.7 to 6.2 points, excludes 0, but the Holm-adjusted p-value "
        "is not below 0.05 (paired t-test over 5 seeds, Holm-adjusted p = 0.052, 3 comparisons)"
    ) in text
    assert fe_sc["p_value_holm"] == fe_sc["p_value"]  # largest p: multiplied by 1
    assert (
        "No difference detected between feature_extract and scratch: the 95% CI of the "
        "difference (feature_extract minus scratch), -2.2 to 3.0 points, includes 0 "
        "(paired t-test over 5 seeds, Holm-adjusted p = 0.69, 3 comparisons)"
    ) in text
    assert text.endswith("Training time is about the same for feature_extract and scratch (1.0x).")
    assert "better than scratch" not in text and "better than finetune" not in text


def test_verdict_holm_can_overturn_an_interval_that_excludes_zero():
    """Unadjusted the CI excludes 0, Holm-adjusted p does not clear alpha: no winner named."""
    pair = {"a": "x", "b": "y", "seeds": [1, 2, 3], "n": 3, "mean_difference": 0.02,
            "std_difference": 0.005, "ci_low": 0.008, "ci_high": 0.032, "p_value": 0.02,
            "p_value_holm": 0.06, "significant": False, "min_detectable_difference": 0.03,
            "time_ratio": None}  # fmt: skip
    other = {**pair, "a": "x", "b": "z", "p_value": 0.5, "p_value_holm": 0.5}
    text = verdict({"confidence": 0.95, "alpha": 0.05, "power": 0.8,
                    "strategies": {"x": {}, "y": {}, "z": {}}, "pairs": [pair, other]})  # fmt: skip
    assert text.startswith(
        "No difference detected between x and y: the 95% CI of the difference (x minus y), "
        "0.8 to 3.2 points, excludes 0, but the Holm-adjusted p-value is not below 0.05 "
        "(paired t-test over 3 seeds, Holm-adjusted p = 0.06, 2 comparisons)"
    )
    assert "better" not in text


def test_format_p():
    assert format_p(0.0004) == "p < 0.001"
    assert format_p(0.01) == "p = 0.01"
    assert format_p(0.4321) == "p = 0.43"
    assert format_p(0.0496) == "p = 0.0496"  # "0.05" would read as not significant
    assert format_p(1.0) == "p = 1"
    assert stats.ALPHA == 0.05 and stats.CONFIDENCE == 0.95 and stats.POWER == 0.80


def test_verdict_no_common_seed():
    runs = make_runs({"finetune": {1: 0.93}, "feature_extract": {2: 0.91}},
                     {"finetune": 97.0, "feature_extract": 96.0})  # fmt: skip
    c = compare(runs, make_correctness(runs))
    pair = c["pairs"][0]
    assert pair["n"] == 0 and pair["seeds"] == [] and pair["mcnemar"] == []
    assert pair["mean_difference"] is None and pair["p_value_holm"] is None
    assert c["verdict"] == (
        "finetune and feature_extract share no seed, so they cannot be compared; train the same "
        "seeds (seeds) for both. Training time is about the same for finetune and "
        "feature_extract (1.0x)."
    )
    json.dumps(c, allow_nan=False)


def test_intervals_are_clipped_to_what_the_metric_can_take():
    # two seeds, far apart: the raw t-interval of the mean runs far past 0% and 100%
    wide = stats.describe([0.5, 1.0], bounds=(0.0, 1.0))
    raw = stats.describe([0.5, 1.0])
    assert raw["ci_low"] < 0 and raw["ci_high"] > 1
    assert (wide["ci_low"], wide["ci_high"]) == (0.0, 1.0)
    assert wide["mean"] == raw["mean"] == 0.75
    pair = stats.paired_comparison([1.0, 0.5], [0.5, 1.0])
    assert (pair["ci_low"], pair["ci_high"]) == (-1.0, 1.0)


def test_verdict_when_no_difference_could_be_detected():
    runs = pd.DataFrame(
        {"strategy": ["a", "a", "b", "b"], "seed": [1, 2, 1, 2],
         "eval_accuracy": [1.0, 0.5, 0.5, 1.0], "train_seconds": [10.0, 10.0, 1.0, 1.0]}
    )  # fmt: skip
    right = pd.Series([True], index=["x.jpg"])
    comparison = stats.compare(runs, {(s, k): right for s in "ab" for k in (1, 2)})
    assert comparison["pairs"][0]["min_detectable_difference"] > 1.0
    assert "no difference, even of 100 points, can be detected reliably" in comparison["verdict"]
    assert "No difference detected between a and b" in comparison["verdict"]
