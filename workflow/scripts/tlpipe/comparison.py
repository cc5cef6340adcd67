"""The comparison of strategies: a decision per pair and the numbers behind it.

:func:`compare` turns the per-image outcomes of every run into what
``metrics/comparison.json`` holds and the verdict says (worded by :mod:`tlpipe.verdict`).
The decision of one pair is :func:`decide_pair`, a pure function of the seeds x images
table of paired differences, which ``benchmarks/calibration.py`` runs on simulated runs
with a known truth.

Per pair the decision is one of three, at family-wise level ``alpha`` over the ``m``
pairs (Bonferroni, so that the intervals shown are simultaneous and a decision never
disagrees with its interval):

* ``better``: the ``1 - alpha/m`` interval of the difference, over seeds *and* images
  (:func:`tlpipe.stats.crossed_mean`), excludes 0;
* ``equivalent``: the ``1 - 2 alpha/m`` interval lies within ``±margin`` (two one-sided
  tests at ``alpha/m``, TOST); a real difference smaller than the margin is equivalent;
* ``inconclusive``: neither, or fewer than :data:`MIN_SEEDS` seeds (with one or two
  seeds the training noise is estimated too poorly to decide: two seeds said "better"
  12.8% of the time with no true difference).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from tlpipe import stats
from tlpipe.stats import ALPHA, CONFIDENCE, POWER

#: Fewest paired seeds from which a pair can be decided better or equivalent.
MIN_SEEDS = 3
#: The equivalence margin when none is given, in percentage points (the schema's default).
MARGIN_POINTS = 1.0
DECISIONS = ("better", "equivalent", "inconclusive")
#: Run-level numbers summarised per strategy over its seeds (all optional).
RUN_METRICS = (
    "eval_accuracy",
    "final_eval_accuracy",
    "macro_f1",
    "best_val_acc",
    "final_val_acc",
    "train_seconds",
    "peak_rss_mb",
)
_ACCURACY_BOUNDS = (0.0, 1.0)
_DIFFERENCE_BOUNDS = (-1.0, 1.0)
METRIC_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    **{m: _ACCURACY_BOUNDS for m in RUN_METRICS if m not in ("train_seconds", "peak_rss_mb")},
    "train_seconds": (0.0, None),
    "peak_rss_mb": (0.0, None),
}


def pair_levels(n_comparisons: int, alpha: float = ALPHA) -> tuple[float, float]:
    """Confidence of the decision interval and of the equivalence (TOST) interval when
    ``n_comparisons`` pairs are decided together (Bonferroni)."""
    stats.check_probability("alpha", alpha)
    per_pair = alpha / max(1, n_comparisons)
    return 1.0 - per_pair, 1.0 - 2.0 * per_pair


def planning_se(margin: float, decision_confidence: float, power: float = POWER) -> float:
    """Standard error at which a new run's TOST would show equivalence within ``±margin``
    with probability ``power`` when the true difference is 0."""
    # The decision level is 1 - alpha/m; the TOST tests each side at alpha/m.
    z_alpha = float(scipy_stats.norm.ppf(decision_confidence))
    z_power = float(scipy_stats.norm.ppf(1.0 - (1.0 - power) / 2.0))
    return margin / (z_alpha + z_power)


def decide_pair(
    differences: Any,
    *,
    n_comparisons: int = 1,
    alpha: float = ALPHA,
    margin: float = MARGIN_POINTS / 100.0,
    min_seeds: int = MIN_SEEDS,
    power: float = POWER,
) -> dict[str, Any]:
    """Decide one pair from its seeds x images table of paired differences (a - b, each
    -1, 0 or 1; fractions of 1 in the results). ``margin`` is a fraction too.

    Returns ``{"decision", "direction", "difference", "equivalence", "seeds_only",
    "planning", "n_seeds", "n_images"}``: ``direction`` is +1 when a is ahead, -1 when b
    is, 0 for a mean difference of exactly 0; ``difference`` is the crossed interval at
    the decision level with raw and Bonferroni-adjusted p-values.
    """
    if margin <= 0:
        raise ValueError(f"the equivalence margin must be positive, got {margin}")
    d = np.asarray(differences, dtype=float)
    decide_level, equivalence_level = pair_levels(n_comparisons, alpha)
    floor = stats.difference_floor_variance(d.shape[1])
    difference = stats.crossed_mean(d, decide_level, _DIFFERENCE_BOUNDS, floor)
    difference["p_value_adjusted"] = min(1.0, difference["p_value"] * max(1, n_comparisons))
    tost = stats.at_level(difference, equivalence_level, _DIFFERENCE_BOUNDS)
    inside = -margin < tost["ci_low"] and tost["ci_high"] < margin
    excludes_zero = difference["ci_low"] > 0 or difference["ci_high"] < 0
    n_seeds, n_images = d.shape
    if n_seeds < min_seeds:
        decision = "inconclusive"
    elif inside:
        decision = "equivalent"
    elif excludes_zero:
        decision = "better"
    else:
        decision = "inconclusive"
    mean = difference["mean"]
    planning = None
    if decision == "inconclusive" and n_seeds >= 2:
        components = difference["components"]
        if difference["floored"]:  # no visible spread: plan with the one-run floor
            components = {"seed": 0.0, "image": floor * n_images, "resid": 0.0}
        target = planning_se(margin, decide_level, power)
        # Images are planned at no fewer seeds than a decision needs.
        at_seeds = max(n_seeds, min_seeds)
        planning = stats.plan(components, at_seeds, n_images, target, min_seeds)
        planning.update(at_seeds=at_seeds, at_images=n_images, target_se=target, power=power)
    return {
        "decision": decision,
        "direction": int(np.sign(mean)) if mean != 0 else 0,
        "excludes_zero": bool(excludes_zero),
        "difference": difference,
        "equivalence": {
            "margin": float(margin),
            "ci_low": tost["ci_low"],
            "ci_high": tost["ci_high"],
            "confidence": tost["confidence"],
            "inside_margin": bool(inside),
        },
        "seeds_only": stats.seeds_only_mean(d, decide_level, _DIFFERENCE_BOUNDS),
        "planning": planning,
        "n_seeds": int(n_seeds),
        "n_images": int(n_images),
    }


def _without_p(interval: dict[str, Any] | None) -> dict[str, Any] | None:
    """An accuracy's interval without the p-value of "accuracy = 0", which means nothing."""
    return None if interval is None else {k: v for k, v in interval.items() if k != "p_value"}


def seeds_won(differences: np.ndarray) -> dict[str, int]:
    """Seeds in which a scored higher, b scored higher, or both the same."""
    per_seed = differences.mean(axis=1)
    return {
        "a": int((per_seed > 0).sum()),
        "b": int((per_seed < 0).sum()),
        "tied": int((per_seed == 0).sum()),
    }


def superiority(won: dict[str, int], confidence: float) -> dict[str, Any] | None:
    """Probability that a's run beats b's run of the same seed on these images (ties
    count half), with Wilson's interval over the seeds."""
    n = won["a"] + won["b"] + won["tied"]
    return stats.wilson(won["a"] + 0.5 * won["tied"], n, confidence)


# --- from runs to tables -------------------------------------------------------------------


def outcome_tables(
    outcomes: Mapping[tuple[str, int], pd.Series], strategies: Sequence[str]
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Per strategy a seeds x images 0/1 table (rows: seeds in order), and the images.

    Every run must have scored the same images: runs scored on different images
    (a stale evaluation) cannot be paired, and a ValueError says which.
    """
    images: list[str] | None = None
    reference = None
    tables: dict[str, pd.DataFrame] = {}
    for name in strategies:
        seeds = sorted(seed for strategy, seed in outcomes if strategy == name)
        if not seeds:
            raise ValueError(f"no per-image outcomes for strategy {name!r}")
        rows = {}
        for seed in seeds:
            series = pd.Series(outcomes[(name, seed)])
            if not series.index.is_unique:
                raise ValueError(f"duplicate image paths in the outcomes of {name!r}, seed {seed}")
            if series.isna().any():
                raise ValueError(f"missing outcomes in the predictions of {name!r}, seed {seed}")
            if images is None:
                images, reference = sorted(series.index), (name, seed)
            elif sorted(series.index) != images:
                raise ValueError(
                    f"{name!r}, seed {seed} scored {len(series)} images, {reference[0]!r}, "
                    f"seed {reference[1]} {len(images)} others; evaluate every run on the "
                    "same images"
                )
            rows[seed] = series.loc[images].astype(bool).astype(float).to_numpy()
        tables[name] = pd.DataFrame.from_dict(rows, orient="index", columns=images)
    return tables, images or []


def _run_metric_summaries(runs: pd.DataFrame, name: str, confidence: float) -> dict[str, Any]:
    rows = runs[runs["strategy"].astype(str) == name]
    return {
        metric: stats.describe(
            rows[metric].tolist() if metric in rows.columns else [],
            confidence,
            METRIC_BOUNDS[metric],
        )
        for metric in RUN_METRICS
    }


def _cost(runs: pd.DataFrame, a: str, b: str, seeds: list[int], confidence: float) -> dict:
    """Per-seed ratios a / b of training time and peak memory, with intervals."""
    indexed = runs.assign(seed=runs["seed"].astype(int)).set_index(["strategy", "seed"])
    out = {}
    for metric in ("train_seconds", "peak_rss_mb"):
        if metric not in indexed.columns:
            out[metric] = None
            continue
        out[metric] = stats.ratio_interval(
            [indexed.loc[(a, s), metric] for s in seeds],
            [indexed.loc[(b, s), metric] for s in seeds],
            confidence,
        )
    return out


def compare(
    runs: pd.DataFrame,
    outcomes: Mapping[tuple[str, int], pd.Series],
    basis: Mapping[str, Any],
    strategies: Sequence[str] | None = None,
    confidence: float = CONFIDENCE,
    margin_points: float = MARGIN_POINTS,
    min_seeds: int = MIN_SEEDS,
) -> dict[str, Any]:
    """The full comparison written as ``metrics/comparison.json``.

    ``runs``: one row per (strategy, seed) with any of :data:`RUN_METRICS` (summarised
    per strategy over the seeds, and used for the cost ratios). ``outcomes``: per
    (strategy, seed), a boolean Series indexed by image path, the per-image correctness
    the decision rests on. ``basis``: which split and checkpoint those outcomes come
    from (``split``, ``checkpoint``: ``final`` or ``best``, ``selected_on``: None or the
    split that picked the checkpoint); it is written out and named in the verdict.
    """
    from tlpipe import verdict  # wording; imported here to keep the two modules acyclic

    stats.check_probability("confidence", confidence)
    alpha = 1.0 - confidence
    for column in ("strategy", "seed"):
        if column not in runs.columns:
            raise ValueError(f"runs table has no {column!r} column")
    if runs.duplicated(["strategy", "seed"]).any():
        dup = runs.loc[runs.duplicated(["strategy", "seed"]), ["strategy", "seed"]].values.tolist()
        raise ValueError(f"runs table has duplicate (strategy, seed) rows: {dup}")
    present = list(dict.fromkeys(str(s) for s in runs["strategy"]))
    strategies = present if strategies is None else [str(s) for s in strategies]
    unknown = [s for s in strategies if s not in present]
    if unknown:
        raise ValueError(f"no runs for strategies {unknown}; runs have {present}")
    if len(set(strategies)) != len(strategies):
        raise ValueError(f"strategies listed twice: {strategies}")

    tables, images = outcome_tables(outcomes, strategies)
    n_images = len(images)
    summary: dict[str, dict[str, Any]] = {}
    for name in strategies:
        table = tables[name].to_numpy()
        floor = stats.accuracy_floor_variance(n_images)
        summary[name] = {
            "n_seeds": int(table.shape[0]),
            "seeds": [int(s) for s in tables[name].index],
            "accuracy": _without_p(stats.crossed_mean(table, confidence, _ACCURACY_BOUNDS, floor)),
            "accuracy_seeds_only": _without_p(
                stats.seeds_only_mean(table, confidence, _ACCURACY_BOUNDS)
            ),
            **_run_metric_summaries(runs, name, confidence),
        }

    combos = list(itertools.combinations(strategies, 2))
    decide_level, _ = pair_levels(len(combos), alpha)
    pairs = []
    for a, b in combos:
        seeds = sorted(set(tables[a].index) & set(tables[b].index))
        pair: dict[str, Any] = {"a": a, "b": b, "seeds": [int(s) for s in seeds]}
        if not seeds:
            pair.update(decision="inconclusive", better=None, n_seeds=0, n_images=n_images)
            pairs.append(pair)
            continue
        ya, yb = tables[a].loc[seeds].to_numpy(), tables[b].loc[seeds].to_numpy()
        d = ya - yb
        decided = decide_pair(
            d,
            n_comparisons=len(combos),
            alpha=alpha,
            margin=margin_points / 100.0,
            min_seeds=min_seeds,
        )
        won = seeds_won(d)
        pair.update(decided)
        pair["better"] = (
            (a if decided["direction"] > 0 else b) if decided["decision"] == "better" else None
        )
        pair["difference_points"] = _in_points(decided["difference"])
        pair["seeds_only_points"] = _in_points(decided["seeds_only"])
        pair["margin_points"] = float(margin_points)
        pair["seeds_won"] = won
        pair["superiority"] = superiority(won, confidence)
        pair["cost"] = _cost(runs, a, b, seeds, confidence)
        pair["mcnemar"] = [
            {"seed": int(seed), **stats.mcnemar_exact(ya[k] > 0, yb[k] > 0)}
            for k, seed in enumerate(seeds)
        ]
        pairs.append(pair)

    result: dict[str, Any] = {
        "confidence": float(confidence),
        "alpha": float(alpha),
        "margin_points": float(margin_points),
        "min_seeds": int(min_seeds),
        "n_comparisons": len(combos),
        "adjustment": "bonferroni" if len(combos) > 1 else None,
        "decision_confidence": float(decide_level),
        "basis": {**basis, "n_images": n_images},
        "method": (
            "difference and accuracy intervals over seeds and evaluation images: two-way "
            "ANOVA variance components of the seeds x images outcomes (method of moments, "
            "Satterthwaite df), floored at one run's adjusted-Wald variance"
        ),
        "strategies": summary,
        "pairs": pairs,
    }
    for pair in pairs:
        pair["sentence"] = verdict.pair_sentence(pair, result)
    result["verdict"] = verdict.verdict(result)
    return result


def points(value: float | None) -> float | None:
    """A fraction as percentage points, rounded for files (None stays None)."""
    return None if value is None or not math.isfinite(value) else round(value * 100.0, 4)


def _in_points(interval: dict[str, Any] | None) -> dict[str, Any] | None:
    """An interval of a difference, in percentage points, with what produced it."""
    if interval is None:
        return None
    return {
        "estimate": points(interval["mean"]),
        "ci_low": points(interval["ci_low"]),
        "ci_high": points(interval["ci_high"]),
        "confidence": interval["confidence"],
        "method": interval["method"],
    }
