"""The verdict in words: one sentence per pair, worded by its decision.

Every sentence names what it rests on (the split and checkpoint, the number of seeds and
images) and the interval behind the decision, which covers the training noise and the
sampling of the evaluation images. An inconclusive pair gets a planning line for a *new*
run, never "train more seeds and test again" (testing again as seeds are added and
stopping at the first p < 0.05 makes false positives several times more likely).
"""

from __future__ import annotations

import math
from typing import Any


def points(fraction: float, sign: bool = False) -> str:
    """A fraction as percentage points with one decimal, never "-0.0"."""
    value = round(fraction * 100.0, 1) + 0.0
    return f"{value:+.1f}" if sign and value != 0 else f"{value:.1f}"


def plural(n: int, noun: str) -> str:
    """``1 seed``, ``3 seeds``: a count with its noun, plural when not one."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _level(confidence: float) -> str:
    return f"{round(confidence * 100, 2):g}%"


def margin_text(margin_points: float) -> str:
    """``±1 point`` or ``±0.5 points``."""
    return f"±{margin_points:g} point" + ("" if margin_points == 1 else "s")


def basis_short(basis: dict[str, Any]) -> str:
    """``last-epoch models on val/``: the basis in a figure's title."""
    which = "last-epoch" if basis["checkpoint"] == "final" else "best-epoch"
    return f"{which} models on {basis['split']}/"


def basis_label(basis: dict[str, Any]) -> str:
    """Which models were scored on which images, e.g. "last-epoch models (chosen by no
    score) on val/ (153 images)"."""
    split, n = basis["split"], basis.get("n_images")
    images = f"{split}/" + (f" ({n} images)" if n is not None else "")
    if basis["checkpoint"] == "final":
        return f"last-epoch models (chosen by no score) on {images}"
    if basis.get("selected_on") == split:
        return (
            f"best-epoch models on {images}, the images that selected them "
            "(optimistic: retrain to get last-epoch models)"
        )
    return f"best-epoch models (selected on {basis.get('selected_on') or 'val'}/) on {images}"


def _interval_kind(interval: dict[str, Any], comparison: dict[str, Any], tost: bool) -> str:
    """``95% CI`` (with the Bonferroni adjustment named when several pairs are decided)."""
    kind = f"{_level(interval['confidence'])} CI" + (" of the equivalence test" if tost else "")
    m = comparison.get("n_comparisons", 1)
    return kind if m == 1 else f"{kind}, Bonferroni over {m} pairs"


def _interval_text(pair: dict[str, Any], comparison: dict[str, Any], tost: bool = False) -> str:
    """``95% CI -2.0 to 6.1``: the decision interval, or the equivalence test's."""
    interval = pair["equivalence"] if tost else pair["difference"]
    kind = _interval_kind(interval, comparison, tost)
    return f"{kind} {points(interval['ci_low'])} to {points(interval['ci_high'])}"


def _counts(pair: dict[str, Any], comparison: dict[str, Any]) -> str:
    split = comparison["basis"]["split"]
    return f"{plural(pair['n_seeds'], 'seed')}, {pair['n_images']} {split} images"


def _seeds_won(pair: dict[str, Any], leader: str) -> str:
    won, n = pair["seeds_won"], pair["n_seeds"]
    count = won["a"] if leader == pair["a"] else won["b"]
    text = f"{leader} ahead in {count} of {n} seeds"
    return text + (f", {won['tied']} tied" if won["tied"] else "")


def _planning(pair: dict[str, Any], comparison: dict[str, Any]) -> str:
    margin = margin_text(comparison["margin_points"])
    split = comparison["basis"]["split"]
    if pair["n_seeds"] < 2:
        return (
            f" Planning: a new run needs at least {comparison['min_seeds']} seeds "
            "(one seed shows no training noise)."
        )
    plan = pair.get("planning")
    if not plan:
        return ""
    power = f"{plan['power'] * 100:g}%"
    seeds, images = plan["seeds"], plan["images"]
    options = []
    if seeds is not None:
        options.append(f"about {seeds} seeds (at {pair['n_images']} images)")
    if images is not None:
        options.append(f"about {images:,} {split} images (at {plural(plan['at_seeds'], 'seed')})")
    if not options:
        return f" Planning: a new run needs both more seeds and more images to decide at {margin}."
    return (
        f" Planning a new run: {' or '.join(options)} would decide at {margin} with "
        f"{power} power if the two were equal."
    )


def _cost(pair: dict[str, Any]) -> str:
    """Which strategy trains faster, by a factor paired per seed, with its interval."""
    time = (pair.get("cost") or {}).get("train_seconds")
    if not time or not math.isfinite(time["ratio"]) or time["ratio"] <= 0:
        return ""
    a, b, ratio = pair["a"], pair["b"], time["ratio"]
    slower, faster, factor = (a, b, ratio) if ratio >= 1 else (b, a, 1.0 / ratio)
    low, high = time["ci_low"], time["ci_high"]
    if low is None:
        spread = "one seed, no interval" if time["n"] == 1 else "the same in every seed"
    else:
        low, high = (low, high) if ratio >= 1 else (1.0 / high, 1.0 / low)
        digits = 2 if factor < 2 else 1
        spread = (
            f"{_level(time['confidence'])} CI {low:.{digits}f} to {high:.{digits}f}x, "
            "paired by seed"
        )
    if f"{factor:.1f}" == "1.0" and (low is None or low <= 1.0 <= high):
        return f"Training time: about the same ({factor:.2f}x; {spread})."
    return f"Training time: {slower} takes {factor:.1f}x as long as {faster} ({spread})."


def pair_sentence(pair: dict[str, Any], comparison: dict[str, Any]) -> str:
    """The sentence of one pair, worded by its decision (see :mod:`tlpipe.comparison`)."""
    a, b = pair["a"], pair["b"]
    if pair["n_seeds"] == 0:
        return (
            f"{a} and {b} share no seed, so they cannot be compared; train the same seeds "
            f"(seeds) for both."
        )
    margin = margin_text(comparison["margin_points"])
    split = comparison["basis"]["split"]
    mean = pair["difference"]["mean"]
    over = f"over seeds and {split} images"
    counts = _counts(pair, comparison)
    decision = pair["decision"]
    if decision == "better":
        better = pair["better"]
        worse = b if better == a else a
        low, high = pair["difference"]["ci_low"], pair["difference"]["ci_high"]
        if better == b:
            low, high = -high, -low
        kind = _interval_kind(pair["difference"], comparison, tost=False)
        text = (
            f"{better} is better than {worse} by {points(abs(mean))} points ({kind} "
            f"{points(low)} to {points(high)} {over}; {counts}; {_seeds_won(pair, better)})."
        )
    elif decision == "equivalent":
        text = (
            f"{a} and {b} are equivalent within {margin}: the difference ({a} minus {b}) is "
            f"{points(mean, sign=True)} points ({_interval_text(pair, comparison, tost=True)}"
            f" {over}, inside {margin}; {counts})."
        )
        if pair.get("excludes_zero"):
            ahead = a if mean > 0 else b
            text += f" {ahead} is ahead by {points(abs(mean))} points, less than the margin."
    elif pair["n_seeds"] < comparison["min_seeds"]:
        text = (
            f"Inconclusive between {a} and {b}: {plural(pair['n_seeds'], 'seed')} cannot "
            f"estimate the training noise well enough to decide (the pipeline decides from "
            f"{comparison['min_seeds']} seeds); the difference ({a} minus {b}) is "
            f"{points(mean, sign=True)} points ({_interval_text(pair, comparison)}"
            f" {over}; {counts})." + _planning(pair, comparison)
        )
    else:
        text = (
            f"Inconclusive between {a} and {b}: the difference ({a} minus {b}) is "
            f"{points(mean, sign=True)} points, but its interval, "
            f"{_interval_text(pair, comparison)} points {over}, is too wide to "
            f"decide at {margin} ({counts})." + _planning(pair, comparison)
        )
    cost = _cost(pair)
    return f"{text} {cost}".strip()


def verdict(comparison: dict[str, Any]) -> str:
    """The report's first line: what was scored, then one sentence per pair.

    A winner is named only for a pair decided ``better``; a single strategy is
    summarised without comparison.
    """
    strategies = comparison.get("strategies", {})
    pairs = comparison.get("pairs", [])
    if not strategies:
        return "No runs were found, so there is nothing to compare."
    scored = f"Scored: {basis_label(comparison['basis'])}."
    if len(strategies) == 1 or not pairs:
        name, entry = next(iter(strategies.items()))
        acc = entry["accuracy"]
        return (
            f"{scored} Only {name} was trained ({plural(entry['n_seeds'], 'seed')}): "
            f"accuracy {points(acc['mean'])}% ({_level(acc['confidence'])} CI "
            f"{points(acc['ci_low'])} to {points(acc['ci_high'])} over seeds and "
            f"{comparison['basis']['split']} images); there is no other strategy to compare "
            "it with."
        )
    return " ".join([scored, *(pair["sentence"] for pair in pairs)])
