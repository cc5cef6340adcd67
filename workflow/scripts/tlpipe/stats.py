"""Statistics of a replicated, paired comparison of training strategies.

The pipeline trains every strategy (``finetune``, ``feature_extract``, ...) with several seeds
and evaluates every run on the same evaluation images. One run is one noisy draw: the seed
decides the initial head weights, the data order and the augmentations, and accuracy moves by a
point or two from seed to seed. These functions turn the runs into numbers that say how sure we
are, and into a one-line verdict that never claims more than the numbers support.

Methods, and why these:

* **Per-strategy summary: t-interval over seeds** (:func:`describe`). With a handful of seeds
  the population spread is unknown and estimated from the sample (``ddof=1``), so the
  confidence interval of the mean uses Student's t with ``n - 1`` degrees of freedom rather
  than the normal distribution. One seed gives no spread and therefore no interval.
* **Paired t-test over seeds** (:func:`paired_comparison`). The same seed gives the same data
  order (and split) in every strategy, so seed *s* of strategy A and seed *s* of strategy B
  share part of their luck. Testing the per-seed differences ``d = a - b`` removes that shared
  part and is more powerful than an unpaired test; the interval of the mean difference is a
  t-interval too. When all differences are identical the t statistic is undefined (scipy
  returns ``nan``): we report p = 1.0 if they are all zero (nothing to detect) and p = 0.0
  otherwise (a constant, non-zero shift with no noise at all).
* **Holm-Bonferroni across pairs** (:func:`holm`). With three or more strategies several pairs
  are tested at once; Holm's step-down adjustment keeps the family-wise error rate at ``alpha``
  and is uniformly more powerful than plain Bonferroni, with no assumption about how the tests
  depend on each other (they share runs, so they do depend).
* **Exact McNemar test per seed** (:func:`mcnemar_exact`). Within one seed the two models were
  scored on the same images, so their per-image correctness is paired. Only discordant images
  (one model right, the other wrong) carry information; under "no difference" each of them is
  a fair coin, hence an exact binomial test. It says whether *those two runs* differ; the
  t-test over seeds says whether the *strategies* differ, which is the question the verdict
  answers. McNemar is reported alongside as a per-seed diagnostic.
* **Minimum detectable difference** (:func:`min_detectable_difference`). "No significant
  difference" is not "no difference". From the observed spread of the paired differences we
  compute the smallest true difference the paired t-test would detect with the given power
  (noncentral t), so a null result states what it could and could not have seen, and the user
  knows whether training more seeds is worth it.

Accuracies are fractions in [0, 1]; the verdict speaks in percentage points (x100). Every
returned structure holds plain Python ``int``/``float``/``bool``/``None`` only (no numpy
scalars, no NaN), so it can be written with ``json.dumps(..., allow_nan=False)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.80

#: Run-level columns summarised per strategy by :func:`compare` (all but eval_accuracy optional).
METRICS = (
    "eval_accuracy",
    "macro_f1",
    "best_val_acc",
    "final_val_acc",
    "train_seconds",
    "peak_rss_mb",
)
#: Values a metric can take: a t-interval is clipped to them (with few seeds it can reach
#: past 100%, which says nothing the clipped interval does not).
METRIC_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "eval_accuracy": (0.0, 1.0),
    "macro_f1": (0.0, 1.0),
    "best_val_acc": (0.0, 1.0),
    "final_val_acc": (0.0, 1.0),
    "train_seconds": (0.0, None),
    "peak_rss_mb": (0.0, None),
}
#: A difference of two accuracies lies in [-1, 1].
DIFFERENCE_BOUNDS = (-1.0, 1.0)
#: Paired differences that differ by no more than this are treated as identical. Accuracies are
#: fractions k/N, so any real difference between seeds is at least 1/N; spreads below 1e-12 are
#: floating-point noise from subtracting fractions (0.92 - 0.90 != 0.94 - 0.92 in binary).
IDENTICAL_TOLERANCE = 1e-12


def _is_missing(value: Any) -> bool:
    """None, NaN, pd.NA or NaT."""
    return value is None or bool(np.ndim(value) == 0 and pd.isna(value))


def _check_probability(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")


def _t_interval(mean: float, std: float, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided t-interval of a mean from the sample sd; [mean, mean] when sd is 0."""
    if std == 0.0:
        return mean, mean
    half = float(stats.t.ppf((1.0 + confidence) / 2.0, n - 1)) * std / math.sqrt(n)
    return mean - half, mean + half


def _clip(interval: tuple[float, float], bounds: tuple[float | None, float | None] | None):
    """An interval limited to the values the quantity can take (``None``: no limit)."""
    if bounds is None:
        return interval
    low, high = bounds
    lo, hi = interval
    return (
        lo if low is None else min(max(lo, low), hi),
        hi if high is None else max(min(hi, high), lo),
    )


def describe(
    values: Sequence[float],
    confidence: float = CONFIDENCE,
    bounds: tuple[float | None, float | None] | None = None,
) -> dict:
    """Mean, sample sd and t-interval of the mean of ``values`` (clipped to ``bounds``).

    Missing values (``None`` or NaN) are dropped first: ``n`` counts the values used. Returns
    ``{"n", "mean", "std", "ci_low", "ci_high", "values"}``; ``mean`` is None when n == 0,
    ``std`` and the interval are None when n < 2, and the interval is [mean, mean] when the
    values are all equal (sd 0).
    """
    _check_probability("confidence", confidence)
    kept = [float(v) for v in values if not _is_missing(v)]
    n = len(kept)
    out: dict[str, Any] = {
        "n": n,
        "mean": None,
        "std": None,
        "ci_low": None,
        "ci_high": None,
        "values": kept,
    }
    if n == 0:
        return out
    arr = np.asarray(kept, dtype=float)
    mean = float(arr.mean())
    out["mean"] = mean
    if n < 2:
        return out
    std = 0.0 if np.ptp(arr) == 0 else float(arr.std(ddof=1))
    out["std"] = std
    out["ci_low"], out["ci_high"] = _clip(_t_interval(mean, std, n, confidence), bounds)
    return out


def _paired_t_power(effect: float, n: int, alpha: float) -> float:
    """Power of the two-sided paired t-test with n pairs at standardized effect delta/sd."""
    df = n - 1
    t_crit = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    nc = effect * math.sqrt(n)
    # P(T < -t_crit) is written as P(T' > t_crit) with T' ~ nct(df, -nc): the same value, but
    # nct.cdf returns NaN far in that tail (scipy 1.17 with large nc) where nct.sf returns ~0.
    return float(stats.nct.sf(t_crit, df, nc) + stats.nct.sf(t_crit, df, -nc))


def min_detectable_difference(
    std_difference: float | None, n: int, alpha: float = ALPHA, power: float = POWER
) -> float | None:
    """Smallest true mean paired difference detected with probability ``power``.

    For a two-sided paired t-test at level ``alpha`` with ``n`` pairs whose differences have
    standard deviation ``std_difference``: the statistic follows a noncentral t with
    ``df = n - 1`` and ``nc = delta * sqrt(n) / sd``; we solve ``power(delta) = power`` for
    delta with :func:`scipy.optimize.brentq`. Same unit as ``std_difference``. Returns None
    when n < 2 or the sd is unknown, and 0.0 when the sd is 0 (no noise: any shift shows).
    """
    _check_probability("alpha", alpha)
    _check_probability("power", power)
    if power <= alpha:
        raise ValueError(f"power ({power}) must exceed alpha ({alpha})")
    if std_difference is None or _is_missing(std_difference) or n < 2:
        return None
    if std_difference < 0:
        raise ValueError(f"std_difference must be >= 0, got {std_difference}")
    if std_difference == 0:
        return 0.0

    def gap(effect: float) -> float:
        return _paired_t_power(effect, n, alpha) - power

    high = 1.0
    while gap(high) < 0:  # power rises monotonically with the effect; bracket the root
        high *= 2.0
        if high > 1e6:  # pragma: no cover - cannot happen for 0 < alpha < power < 1
            raise RuntimeError("could not bracket the minimum detectable difference")
    effect = optimize.brentq(gap, 0.0, high, xtol=1e-12, rtol=1e-12)
    return float(effect * std_difference)


def paired_comparison(
    a: Sequence[float],
    b: Sequence[float],
    confidence: float = CONFIDENCE,
    alpha: float = ALPHA,
    power: float = POWER,
) -> dict:
    """Paired t-test and t-interval of the mean of ``d = a - b`` (paired by position).

    Returns ``{"n", "differences", "mean_difference", "std_difference", "ci_low", "ci_high",
    "t_statistic", "p_value", "min_detectable_difference"}``. With n < 2 only ``n``,
    ``differences`` and ``mean_difference`` (None for n == 0) are set. When all differences
    are identical (within :data:`IDENTICAL_TOLERANCE`) scipy's t is undefined (nan): then
    ``std_difference`` is 0.0, the interval is [m, m], ``t_statistic`` is None, and
    ``p_value`` is 1.0 if the differences are all 0 and 0.0 otherwise.
    Raises ValueError if the lengths differ or a value is missing.
    """
    _check_probability("confidence", confidence)
    a_arr = np.asarray(list(a), dtype=float)
    b_arr = np.asarray(list(b), dtype=float)
    if a_arr.shape != b_arr.shape or a_arr.ndim != 1:
        raise ValueError(
            f"paired samples must have the same length, got {len(a_arr)} and {len(b_arr)}"
        )
    if np.isnan(a_arr).any() or np.isnan(b_arr).any():
        raise ValueError("paired samples must not contain missing values (NaN)")
    d = a_arr - b_arr
    n = len(d)
    out: dict[str, Any] = {
        "n": n,
        "differences": [float(x) for x in d],
        "mean_difference": float(d.mean()) if n else None,
        "std_difference": None,
        "ci_low": None,
        "ci_high": None,
        "t_statistic": None,
        "p_value": None,
        "min_detectable_difference": None,
    }
    if n < 2:
        return out
    mean = out["mean_difference"]
    if np.ptp(d) <= IDENTICAL_TOLERANCE:
        std = 0.0
        out["p_value"] = 1.0 if np.all(np.abs(d) <= IDENTICAL_TOLERANCE) else 0.0
    else:
        std = float(d.std(ddof=1))
        result = stats.ttest_rel(a_arr, b_arr)
        out["t_statistic"] = float(result.statistic)
        out["p_value"] = float(result.pvalue)
    out["std_difference"] = std
    interval = _t_interval(mean, std, n, confidence)
    out["ci_low"], out["ci_high"] = _clip(interval, DIFFERENCE_BOUNDS)
    out["min_detectable_difference"] = min_detectable_difference(std, n, alpha, power)
    return out


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    Step-down: the k-th smallest of m p-values is multiplied by (m - k + 1), then a running
    maximum makes the adjusted values monotone, capped at 1. ``None`` (or NaN) entries stay
    None and do not count in m.
    """
    indexed = [(i, float(p)) for i, p in enumerate(p_values) if not _is_missing(p)]
    for _, p in indexed:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-values must lie in [0, 1], got {p}")
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (i, p) in enumerate(sorted(indexed, key=lambda item: item[1])):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict:
    """Exact two-sided McNemar test on per-image correctness of two models (same images, order).

    Returns the 2x2 counts and ``p_value = binomtest(a_only, a_only + b_only, 0.5).pvalue``,
    or 1.0 when there are no discordant images.
    """
    ca = [bool(x) for x in correct_a]
    cb = [bool(x) for x in correct_b]
    if len(ca) != len(cb):
        raise ValueError(
            f"correctness vectors must have the same length, got {len(ca)} and {len(cb)}"
        )
    a_only = sum(x and not y for x, y in zip(ca, cb, strict=True))
    b_only = sum(y and not x for x, y in zip(ca, cb, strict=True))
    both = sum(x and y for x, y in zip(ca, cb, strict=True))
    discordant = a_only + b_only
    p = 1.0 if discordant == 0 else float(stats.binomtest(a_only, discordant, 0.5).pvalue)
    return {
        "n": len(ca),
        "both_correct": both,
        "a_only_correct": a_only,
        "b_only_correct": b_only,
        "both_wrong": len(ca) - both - discordant,
        "p_value": min(1.0, p),
    }


def _aligned_correctness(
    correctness: Mapping[tuple[str, int], pd.Series], a: str, b: str, seed: int
) -> tuple[list[bool], list[bool]]:
    """Per-image correctness of runs (a, seed) and (b, seed), inner-joined on the image path."""
    series = []
    for name in (a, b):
        if (name, seed) not in correctness:
            raise ValueError(f"no per-image predictions for strategy {name!r}, seed {seed}")
        s = pd.Series(correctness[(name, seed)])
        if not s.index.is_unique:
            raise ValueError(f"duplicate image paths in the predictions of {name!r}, seed {seed}")
        if s.isna().any():
            raise ValueError(
                f"missing 'correct' values in the predictions of {name!r}, seed {seed}"
            )
        series.append(s)
    joined = pd.concat([series[0].rename("a"), series[1].rename("b")], axis=1, join="inner")
    if joined.empty:
        raise ValueError(f"the predictions of {a!r} and {b!r} for seed {seed} share no image")
    return [bool(x) for x in joined["a"]], [bool(x) for x in joined["b"]]


def compare(
    runs: pd.DataFrame,
    correctness: Mapping[tuple[str, int], pd.Series],
    strategies: Sequence[str] | None = None,
    confidence: float = CONFIDENCE,
    alpha: float = ALPHA,
    power: float = POWER,
) -> dict:
    """The full comparison written as ``metrics/comparison.json``.

    ``runs`` has one row per (strategy, seed) with ``eval_accuracy`` and the other
    :data:`METRICS` columns (any of those but eval_accuracy may be absent or NaN: they are
    summarised over the values present). ``correctness`` maps (strategy, seed) to a boolean
    Series indexed by image path. Pairs are every i < j in ``strategies`` order (default: order
    of first appearance in ``runs``); each is tested on the seeds both strategies have.
    ``time_ratio`` is the ratio of the strategies' mean train_seconds over all their seeds
    (None when unknown or the denominator is 0). Raises ValueError on duplicate (strategy,
    seed) rows, missing eval_accuracy, unknown strategies, missing predictions for a paired
    seed, or predictions without a common image.
    """
    for column in ("strategy", "seed", "eval_accuracy"):
        if column not in runs.columns:
            raise ValueError(f"runs table has no {column!r} column")
    if runs["eval_accuracy"].isna().any():
        raise ValueError("runs table has runs without eval_accuracy")
    if runs.duplicated(["strategy", "seed"]).any():
        dup = runs.loc[runs.duplicated(["strategy", "seed"]), ["strategy", "seed"]].values.tolist()
        raise ValueError(f"runs table has duplicate (strategy, seed) rows: {dup}")
    present = list(dict.fromkeys(str(s) for s in runs["strategy"]))
    if strategies is None:
        strategies = present
    strategies = [str(s) for s in strategies]
    unknown = [s for s in strategies if s not in present]
    if unknown:
        raise ValueError(f"no runs for strategies {unknown}; runs have {present}")
    if len(set(strategies)) != len(strategies):
        raise ValueError(f"strategies listed twice: {strategies}")

    by_strategy: dict[str, pd.DataFrame] = {}
    summary: dict[str, dict[str, Any]] = {}
    for name in strategies:
        rows = runs[runs["strategy"].astype(str) == name].copy()
        rows["seed"] = rows["seed"].astype(int)
        rows = rows.set_index("seed").sort_index()
        by_strategy[name] = rows
        entry: dict[str, Any] = {"n_seeds": len(rows), "seeds": [int(s) for s in rows.index]}
        for metric in METRICS:
            values = rows[metric].tolist() if metric in rows.columns else []
            entry[metric] = describe(values, confidence, METRIC_BOUNDS[metric])
        summary[name] = entry

    pairs: list[dict[str, Any]] = []
    for a, b in itertools.combinations(strategies, 2):
        ra, rb = by_strategy[a], by_strategy[b]
        seeds = sorted(int(s) for s in set(ra.index) & set(rb.index))
        pair: dict[str, Any] = {"a": a, "b": b, "seeds": seeds}
        pair.update(
            paired_comparison(
                ra.loc[seeds, "eval_accuracy"].tolist(),
                rb.loc[seeds, "eval_accuracy"].tolist(),
                confidence,
                alpha,
                power,
            )
        )
        time_a = summary[a]["train_seconds"]["mean"]
        time_b = summary[b]["train_seconds"]["mean"]
        pair["time_ratio"] = time_a / time_b if time_a is not None and time_b else None
        pair["mcnemar"] = [
            {"seed": seed, **mcnemar_exact(*_aligned_correctness(correctness, a, b, seed))}
            for seed in seeds
        ]
        pairs.append(pair)

    for pair, adjusted in zip(pairs, holm([p["p_value"] for p in pairs]), strict=True):
        pair["p_value_holm"] = adjusted
        excludes_zero = pair["ci_low"] is not None and (pair["ci_low"] > 0 or pair["ci_high"] < 0)
        pair["significant"] = bool(adjusted is not None and adjusted < alpha and excludes_zero)

    result: dict[str, Any] = {
        "confidence": float(confidence),
        "alpha": float(alpha),
        "power": float(power),
        "strategies": summary,
        "pairs": pairs,
    }
    result["verdict"] = verdict(result)
    return result


# --- verdict -------------------------------------------------------------------------------


def _points(fraction: float) -> str:
    """A fraction as percentage points with one decimal, never "-0.0"."""
    return f"{round(fraction * 100.0, 1) + 0.0:.1f}"


def format_p(p: float, alpha: float = ALPHA) -> str:
    """``p < 0.001`` or ``p = 0.043``: two significant digits, more if rounding crosses alpha."""
    if p < 0.001:
        return "p < 0.001"
    for digits in (2, 3, 4, 6):
        text = f"{p:.{digits}g}"
        if (float(text) < alpha) == (p < alpha):
            break
    return f"p = {text}"


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _level(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def _cost_sentence(pair: dict, better: str | None) -> str:
    """Which strategy of the pair trains faster, and by how much."""
    ratio = pair.get("time_ratio")
    if ratio is None or ratio <= 0 or not math.isfinite(ratio):
        return ""
    a, b = pair["a"], pair["b"]
    faster, slower, factor = (b, a, ratio) if ratio >= 1 else (a, b, 1.0 / ratio)
    text = f"{factor:.1f}"
    if text == "1.0":
        return f"Training time is about the same for {a} and {b} (1.0x)."
    if better is None:
        return f"Cheaper: {faster}, {text}x less training time."
    if better == faster:
        return f"{better} is also cheaper: {text}x less training time than {slower}."
    return f"But {better} costs {text}x the training time of {faster}."


def _pair_sentence(pair: dict, comparison: dict, n_tests: int) -> str:
    a, b, n = pair["a"], pair["b"], pair["n"]
    level = _level(comparison.get("confidence", CONFIDENCE))
    alpha = comparison.get("alpha", ALPHA)
    power = comparison.get("power", POWER)
    mean = pair["mean_difference"]

    if n == 0:
        return (
            f"{a} and {b} share no seed, so they cannot be compared; "
            f"train the same seeds (seeds) for both."
        )
    if n < 2 or pair.get("p_value") is None:
        if round(abs(mean) * 100.0, 1) == 0:
            observed = f"{a} and {b} scored the same accuracy"
        else:
            hi, lo = (a, b) if mean > 0 else (b, a)
            observed = f"{hi} scored {_points(abs(mean))} points higher than {lo}"
        return (
            f"{observed} on the one paired seed (seed {pair['seeds'][0]}), but with one seed "
            f"no significance can be computed; train more seeds (seeds) to test it."
        )

    p = pair["p_value_holm"] if pair.get("p_value_holm") is not None else pair["p_value"]
    p_text = format_p(p, alpha)
    if n_tests > 1:
        p_text = f"Holm-adjusted {p_text}, {n_tests} comparisons"
    test = f"paired t-test over {_seeds(n)}, {p_text}"

    if pair["significant"]:
        better, worse = (a, b) if mean > 0 else (b, a)
        lo, hi = (
            (pair["ci_low"], pair["ci_high"]) if mean > 0 else (-pair["ci_high"], -pair["ci_low"])
        )
        return (
            f"{better} is better than {worse} by {_points(abs(mean))} points "
            f"({level} CI {_points(lo)} to {_points(hi)}; {test})."
        )

    ci = (
        f"the {level} CI of the difference ({a} minus {b}), "
        f"{_points(pair['ci_low'])} to {_points(pair['ci_high'])} points"
    )
    if pair["ci_low"] <= 0 <= pair["ci_high"]:
        text = f"No difference detected between {a} and {b}: {ci}, includes 0 ({test})"
    else:  # the interval excludes 0 but the (Holm-adjusted) p is not below alpha
        text = (
            f"No difference detected between {a} and {b}: {ci}, excludes 0, but the "
            f"{'Holm-adjusted ' if n_tests > 1 else ''}p-value is not below {alpha:g} ({test})"
        )
    mdd = pair.get("min_detectable_difference")
    if mdd and mdd >= 1.0:  # beyond any possible difference of two accuracies
        text += (
            f"; with {_seeds(n)} and this spread, no difference, even of 100 points, can be "
            f"detected reliably ({power * 100:g}% power): train more seeds (seeds)"
        )
    elif mdd:
        text += (
            f"; with {_seeds(n)}, differences below ~{_points(mdd)} points cannot be detected "
            f"reliably ({power * 100:g}% power)"
        )
    return text + "."


def verdict(comparison: dict) -> str:
    """Plain-language verdict for the report's first line, worded by the numbers.

    One sentence per pair (plus the cost of training): a winner is named only when the pair is
    ``significant`` (Holm-adjusted p below alpha and the interval of the difference excludes
    0); otherwise the sentence says no difference was detected and how small a difference the
    seeds could have detected. A single strategy is summarised without comparison.
    """
    strategies = comparison.get("strategies", {})
    pairs = comparison.get("pairs", [])
    level = _level(comparison.get("confidence", CONFIDENCE))
    if not strategies:
        return "No runs were found, so there is nothing to compare."
    if len(strategies) == 1 or not pairs:
        name, entry = next(iter(strategies.items()))
        acc = entry["eval_accuracy"]
        seeds = _seeds(entry["n_seeds"])
        text = f"Only {name} was trained ({seeds}): accuracy {_points(acc['mean'])}%"
        if acc["ci_low"] is not None:
            text += f" ({level} CI {_points(acc['ci_low'])} to {_points(acc['ci_high'])})"
        return text + "; there is no other strategy to compare it with."
    n_tests = sum(p.get("p_value") is not None for p in pairs)
    sentences = []
    for pair in pairs:
        sentence = _pair_sentence(pair, comparison, n_tests)
        better = None
        if pair.get("significant"):
            better = pair["a"] if pair["mean_difference"] > 0 else pair["b"]
        cost = _cost_sentence(pair, better)
        sentences.append(f"{sentence} {cost}".strip())
    return " ".join(sentences)
