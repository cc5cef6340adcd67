"""Statistical methods of the replicated comparison: intervals that carry both sources of
uncertainty, and the small tests and summaries around them.

Every strategy is trained with several seeds and every run is scored on the same
evaluation images, so the outcomes of one strategy form a *seeds x images* table
``y[k, i]`` (1: image ``i`` classified correctly by the run of seed ``k``), and the
paired differences of two strategies another, ``d[k, i] = y_a[k, i] - y_b[k, i]``. Two
things are random in such a table: the training (the seed decides the head's initial
weights, the data order and the augmentations) and the images (a sample of the images
the model will meet). The question users ask, "which strategy is better", is about both.

Methods, and why these:

* **Crossed seeds x images interval** (:func:`crossed_mean`). The table is modelled as
  ``y[k, i] = mu + a[k] + b[i] + e[k, i]`` with independent seed effects (variance
  ``s2_seed``), image effects (``s2_image``: how much easier one image is than another,
  or, for differences, how much more one strategy suits it) and a residual (``s2_resid``,
  the seed x image interaction). The mean of the table then has variance::

      Var(mean) = s2_seed / K + s2_image / N + s2_resid / (K N)
                = (E[MS_seed] + E[MS_image] - E[MS_resid]) / (K N)
                =  E[MS_seed] / (K N)  +  s2_image / N

  with the two-way ANOVA mean squares (one observation per cell)::

      MS_seed  = N sum_k (row_k - mean)^2 / (K - 1)
      MS_image = K sum_i (col_i - mean)^2 / (N - 1)
      MS_resid = sum_ki (y_ki - row_k - col_i + mean)^2 / ((K - 1)(N - 1))

  (method of moments). The first term is the variance of the paired t-test over seeds;
  the image term, estimated by ``(MS_image - MS_resid) / (K N)``, is left out when that
  estimate is negative, and the interval uses Student's t with Satterthwaite's degrees of
  freedom for the linear combination of mean squares (computed with ``MS_seed`` no
  smaller than ``MS_resid``, see :func:`_crossed_variance`). (Pooling the seed term into the
  residual when ``MS_seed < MS_resid`` instead, with its many degrees of freedom, said
  "better" 6.5-7% of the time at 3 seeds and 1000 images with no difference.) The t-test
  over the seeds alone sees only ``s2_seed`` and ``s2_resid``: with the images fixed, a
  strategy x image interaction is a constant every seed shares, so more seeds made that
  test surer of a difference that lives in *these* images only (24.7% false "better" at
  20 seeds in the issue's simulation; ``benchmarks/calibration.py`` measures both).
* **No zero-width interval** (:func:`accuracy_floor_variance`,
  :func:`difference_floor_variance`). Accuracies are multiples of ``1/N``; a table with
  no visible spread (every run right on every image, or two strategies that agree on
  every image in every seed) does not mean no uncertainty. The variance is never below
  what ``N`` images carry when every one of them agrees, with the adjusted-Wald
  pseudo-counts of Agresti & Coull (1998; accuracy: +2 right, +2 wrong) and Agresti &
  Min (2005; paired difference: +0.5 in each cell of the 2x2 table). The floor binds
  only on such degenerate tables: any visible spread gives a larger variance.
* **Training noise only** (:func:`seeds_only_mean`): the interval over seeds of the
  old paired t-test (equal to ``scipy.stats.ttest_rel`` on the per-seed accuracies),
  kept as a detail and labelled "training noise only, on these images". Its variance
  is floored at ``MS_resid`` (a seed component truncated at 0) and at one flipped image
  in one seed, so that equal per-seed differences give no "p = 0".
* **Probability that a run beats another** (:func:`wilson`): seeds won, ties half,
  with Wilson's score interval over the seeds.
* **Cost ratios** (:func:`ratio_interval`): per-seed ratios of training time or memory,
  summarised by their geometric mean with a t-interval on the log scale.
* **Planning** (:func:`plan`): from the variance components, the seeds (at this many
  images) or the images (at this many seeds) a *new* run needs for a given standard
  error. It plans a fresh experiment; adding seeds to this one and testing again at
  every step inflates the false-positive rate.
* **Exact McNemar per seed** (:func:`mcnemar_exact`) and **Holm** (:func:`holm`) stay as
  per-run diagnostics and a helper.

Accuracies are fractions in [0, 1]. Every returned structure holds plain Python ``int``/
``float``/``bool``/``None``/``str`` only (no numpy scalars, no NaN or infinity), so it
can be written with ``json.dumps(..., allow_nan=False)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.80

#: Degrees of freedom written for a normal (z) interval: JSON has no infinity.
NORMAL_DF = None


def _is_missing(value: Any) -> bool:
    """None, NaN, pd.NA or NaT."""
    return value is None or bool(np.ndim(value) == 0 and pd.isna(value))


def check_probability(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")


def _quantile(confidence: float, df: float) -> float:
    """Two-sided critical value: Student's t with ``df`` (normal when df is infinite)."""
    upper = (1.0 + confidence) / 2.0
    return float(stats.norm.ppf(upper) if math.isinf(df) else stats.t.ppf(upper, df))


def clip(interval: tuple[float, float], bounds: tuple[float | None, float | None] | None):
    """An interval limited to the values the quantity can take (``None``: no limit)."""
    if bounds is None:
        return interval
    low, high = bounds
    lo, hi = interval
    return (
        lo if low is None else min(max(lo, low), hi),
        hi if high is None else max(min(hi, high), lo),
    )


def _as_table(table: Any) -> np.ndarray:
    arr = np.asarray(table, dtype=float)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"expected a non-empty seeds x images table, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("the seeds x images table holds missing or infinite values")
    return arr


def mean_squares(table: Any) -> dict[str, float | None]:
    """Two-way ANOVA mean squares of a seeds x images table (one observation per cell).

    ``seed`` is None with one seed, ``image`` with one image, ``resid`` with either.
    """
    y = _as_table(table)
    k, n = y.shape
    grand = y.mean()
    rows, cols = y.mean(axis=1), y.mean(axis=0)
    ms: dict[str, float | None] = {"seed": None, "image": None, "resid": None}
    if k > 1:
        ms["seed"] = float(n * ((rows - grand) ** 2).sum() / (k - 1))
    if n > 1:
        ms["image"] = float(k * ((cols - grand) ** 2).sum() / (n - 1))
    if k > 1 and n > 1:
        resid = y - rows[:, None] - cols[None, :] + grand
        ms["resid"] = float((resid**2).sum() / ((k - 1) * (n - 1)))
    return ms


def variance_components(table: Any) -> dict[str, float]:
    """Method-of-moments variance components (seed, image, resid), negatives set to 0.

    With one seed the seed and residual components cannot be told apart from the image
    one: everything is put in ``image`` (and ``seed`` is 0: unknown, not absent).
    """
    y = _as_table(table)
    k, n = y.shape
    ms = mean_squares(y)
    if k == 1:
        return {"seed": 0.0, "image": ms["image"] or 0.0, "resid": 0.0}
    if n == 1:
        return {"seed": ms["seed"] or 0.0, "image": 0.0, "resid": 0.0}
    resid = ms["resid"]
    return {
        "seed": max(0.0, (ms["seed"] - resid) / n),
        "image": max(0.0, (ms["image"] - resid) / k),
        "resid": resid,
    }


def _satterthwaite(terms: list[tuple[float, float, int]]) -> float:
    """Degrees of freedom of ``sum(c * MS)`` for (c, MS, df) terms (Satterthwaite 1946)."""
    total = sum(c * ms for c, ms, _ in terms)
    denominator = sum((c * ms) ** 2 / df for c, ms, df in terms)
    return math.inf if denominator == 0 else total**2 / denominator


def _crossed_variance(y: np.ndarray) -> tuple[float, float, str]:
    """Variance of the table's mean, its degrees of freedom, and how it was estimated."""
    k, n = y.shape
    ms = mean_squares(y)
    if k == 1:  # one run: only the images vary
        return ms["image"] / n, n - 1, "images only (one seed: training noise not estimated)"
    if n == 1:
        return ms["seed"] / k, k - 1, "seeds only (one image)"
    # MS_seed / (K N) is the variance the paired t-test over seeds uses (training
    # noise on these images, exact with K - 1 df); the image component adds
    # (MS_image - MS_resid) / (K N), left out when that estimate is negative.
    image_terms = []
    if ms["image"] > ms["resid"]:
        image_terms = [(1.0, ms["image"], n - 1), (-1.0, ms["resid"], (k - 1) * (n - 1))]
    terms = [(1.0, ms["seed"], k - 1), *image_terms]
    variance = sum(c * m for c, m, _ in terms) / (k * n)
    # Satterthwaite's df with MS_seed taken no smaller than MS_resid (its expectation's
    # floor): with few seeds MS_seed is often small by chance, and the plain formula
    # then gives it little weight and many df, shrinking the interval twice over (7-8%
    # false "better" at 3 seeds with a strategy x image interaction; 5.6% with this).
    df = _satterthwaite([(1.0, max(ms["seed"], ms["resid"]), k - 1), *image_terms])
    return variance, df, "crossed seeds x images (ANOVA moments, Satterthwaite df)"


def accuracy_floor_variance(n_images: int) -> float:
    """Smallest variance of an accuracy on ``n_images`` images: that of a run that got
    every image right (or wrong), with Agresti & Coull's +2 right and +2 wrong, so that
    100% on a finite sample is never certain (about the rule of three)."""
    p = (n_images + 2.0) / (n_images + 4.0)
    return p * (1.0 - p) / (n_images + 4.0)


def difference_floor_variance(n_images: int) -> float:
    """Smallest variance of a paired difference on ``n_images`` images: that of two runs
    that agree on every image, with Agresti & Min's +0.5 in each cell of the 2x2 table:
    ``1 / (N + 2)^2``, a standard error of one image's worth."""
    return 1.0 / (n_images + 2.0) ** 2


def _interval_dict(
    mean: float,
    variance: float,
    df: float,
    confidence: float,
    bounds: tuple[float | None, float | None] | None,
) -> dict[str, Any]:
    se = math.sqrt(variance)
    half = _quantile(confidence, df) * se
    low, high = clip((mean - half, mean + half), bounds)
    p_value = 1.0
    if se > 0:
        distribution = stats.norm if math.isinf(df) else stats.t(df)
        p_value = 2.0 * float(distribution.sf(abs(mean) / se))
    return {
        "mean": float(mean),
        "ci_low": float(low),
        "ci_high": float(high),
        "confidence": float(confidence),
        "se": se,
        "df": NORMAL_DF if math.isinf(df) else float(df),
        "p_value": min(1.0, p_value),
    }


def at_level(
    interval: dict[str, Any],
    confidence: float,
    bounds: tuple[float | None, float | None] | None = None,
) -> dict[str, Any]:
    """The same estimate, standard error and df as ``interval``, at another confidence."""
    df = math.inf if interval["df"] is None else interval["df"]
    return _interval_dict(interval["mean"], interval["se"] ** 2, df, confidence, bounds)


def crossed_mean(
    table: Any,
    confidence: float = CONFIDENCE,
    bounds: tuple[float | None, float | None] | None = None,
    floor_variance: float = 0.0,
) -> dict[str, Any]:
    """Mean of a seeds x images table with an interval over seeds *and* images.

    Returns ``{"mean", "ci_low", "ci_high", "confidence", "se", "df", "p_value",
    "method", "floored", "n_seeds", "n_images", "components"}``: ``p_value`` tests mean 0
    (for a table of differences), ``df`` is None for a normal interval, ``floored`` says
    the variance was raised to ``floor_variance`` (then the interval is a normal one).
    """
    check_probability("confidence", confidence)
    y = _as_table(table)
    k, n = y.shape
    if k * n == 1:
        variance, df, method = 0.0, math.inf, "one observation"
    else:
        variance, df, method = _crossed_variance(y)
    floored = variance < floor_variance
    if floored:
        variance, df = floor_variance, math.inf
        method += "; raised to the one-run floor (adjusted Wald)"
    out = _interval_dict(float(y.mean()), variance, df, confidence, bounds)
    out.update(
        method=method,
        floored=bool(floored),
        n_seeds=int(k),
        n_images=int(n),
        components=variance_components(y),
    )
    return out


def seeds_only_mean(
    table: Any,
    confidence: float = CONFIDENCE,
    bounds: tuple[float | None, float | None] | None = None,
) -> dict[str, Any] | None:
    """Interval over seeds only: training noise on *these* images (None with one seed).

    The per-seed means' t-interval (for differences: the paired t-test over seeds), its
    variance floored at the residual mean square (seed component truncated at 0) and at
    one flipped image in one seed (``1/(K N)``), never zero.
    """
    check_probability("confidence", confidence)
    y = _as_table(table)
    k, n = y.shape
    if k < 2:
        return None
    ms = mean_squares(y)
    candidates = [(ms["seed"], k - 1)]
    if ms["resid"] is not None:
        candidates.append((ms["resid"], (k - 1) * (n - 1)))
    candidates.append((1.0 / (k * n), math.inf))
    square, df = max(candidates, key=lambda c: c[0])
    out = _interval_dict(float(y.mean()), square / (k * n), df, confidence, bounds)
    out["method"] = "seeds only: training noise on these images"
    return out


def wilson(successes: float, n: int, confidence: float = CONFIDENCE) -> dict[str, Any] | None:
    """A proportion with Wilson's score interval (``successes`` may be fractional: ties)."""
    check_probability("confidence", confidence)
    if n < 1:
        return None
    z = _quantile(confidence, math.inf)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {
        "estimate": float(p),
        "ci_low": float(max(0.0, centre - half)),
        "ci_high": float(min(1.0, centre + half)),
        "confidence": float(confidence),
        "n": int(n),
    }


def ratio_interval(
    numerator: Sequence[float], denominator: Sequence[float], confidence: float = CONFIDENCE
) -> dict[str, Any] | None:
    """Geometric mean of paired ratios ``numerator[k] / denominator[k]`` with a t-interval
    on the log scale. None when no pair has two positive values; the interval is None
    with one pair or when every ratio is the same (no spread to estimate)."""
    check_probability("confidence", confidence)
    pairs = [
        (float(a), float(b))
        for a, b in zip(numerator, denominator, strict=True)
        if not _is_missing(a) and not _is_missing(b) and a > 0 and b > 0
    ]
    if not pairs:
        return None
    logs = np.log([a / b for a, b in pairs])
    out: dict[str, Any] = {
        "ratio": float(np.exp(logs.mean())),
        "ci_low": None,
        "ci_high": None,
        "confidence": float(confidence),
        "n": len(pairs),
    }
    if len(pairs) > 1 and np.ptp(logs) > 0:
        half = _quantile(confidence, len(pairs) - 1) * logs.std(ddof=1) / math.sqrt(len(pairs))
        out["ci_low"] = float(np.exp(logs.mean() - half))
        out["ci_high"] = float(np.exp(logs.mean() + half))
    return out


def describe(
    values: Sequence[float],
    confidence: float = CONFIDENCE,
    bounds: tuple[float | None, float | None] | None = None,
) -> dict:
    """Mean, sample sd and t-interval over seeds of a run-level number (time, memory,
    training-time accuracies), clipped to ``bounds``.

    Missing values are dropped first (``n`` counts the rest). ``std`` and the interval
    are None with fewer than 2 values, and the interval is None when every value is the
    same: there is no spread to estimate, and a zero-width interval would claim
    certainty no run shows.
    """
    check_probability("confidence", confidence)
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
    out["mean"] = float(arr.mean())
    if n < 2:
        return out
    if np.ptp(arr) == 0:
        out["std"] = 0.0
        return out
    std = float(arr.std(ddof=1))
    half = _quantile(confidence, n - 1) * std / math.sqrt(n)
    out["std"] = std
    out["ci_low"], out["ci_high"] = clip((out["mean"] - half, out["mean"] + half), bounds)
    return out


def plan(
    components: dict[str, float],
    n_seeds: int,
    n_images: int,
    target_se: float,
    min_seeds: int = 1,
) -> dict[str, int | None]:
    """Seeds (at ``n_images``) or images (at ``n_seeds``) a new run needs for the standard
    error of its mean to reach ``target_se``, from the variance components; None where
    that factor alone cannot get there (the other one's share is already too large)."""
    if target_se <= 0:
        raise ValueError(f"target_se must be positive, got {target_se}")
    s2_seed, s2_image, s2_resid = components["seed"], components["image"], components["resid"]
    budget = target_se**2
    seeds: int | None = None
    room = budget - s2_image / n_images
    if room > 0:
        seeds = max(min_seeds, math.ceil((s2_seed + s2_resid / n_images) / room))
    images: int | None = None
    room = budget - s2_seed / n_seeds
    if room > 0:
        images = max(1, math.ceil((s2_image + s2_resid / n_seeds) / room))
    return {"seeds": seeds, "images": images}


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


def format_p(p: float, alpha: float = ALPHA) -> str:
    """``p < 0.001`` or ``p = 0.043``: two significant digits, more where rounding would
    cross alpha; ``p < 0.05`` when no rounding keeps a p just below alpha below it."""
    if p < 0.001:
        return "p < 0.001"
    for digits in (2, 3, 4, 6):
        text = f"{p:.{digits}g}"
        if (float(text) < alpha) == (p < alpha):
            return f"p = {text}"
    return f"p < {alpha:g}" if p < alpha else f"p = {text}"
