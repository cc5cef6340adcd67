"""Every table of the report: ``metrics/summary.csv``, and the comparison
(``metrics/comparison.json``), the runs and the data as the pages' tables.

Both pages (HTML and Markdown) and the model cards show these; numbers are formatted
here once: accuracies in %, differences in percentage points, one decimal. A page table
is ``{"headers": [...], "rows": [[...], ...]}`` of strings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tlpipe.runs import Run
from tlpipe.stats import format_p
from tlpipe.verdict import basis_label, margin_text

#: (scale, decimals) of each run-level metric on the page: accuracies and F1 in %.
METRIC_FORMAT = {"train_seconds": (1.0, 0), "peak_rss_mb": (1.0, 0)}


def labels(split: str) -> dict[str, str]:
    """Names of the run-level numbers; each val number says how its checkpoint was picked."""
    if split == "val":
        evaluated = "val accuracy of the best epoch (selected on val)"
        f1 = "macro F1 on val (best epoch, selected on val)"
    else:
        evaluated = f"{split} accuracy of the best epoch (selected on val)"
        f1 = f"macro F1 on {split} (best epoch, selected on val)"
    return {
        "eval_accuracy": evaluated,
        "final_eval_accuracy": f"{split} accuracy of the last epoch (not selected)",
        "macro_f1": f1,
        "best_val_acc": "training-time val accuracy (best epoch, selected on val)",
        "final_val_acc": "training-time val accuracy (final epoch, not selected)",
        "train_seconds": "training time (s)",
        "peak_rss_mb": "peak memory (MB, training process)",
    }


#: summary.csv columns before and after the per-class F1 columns.
SUMMARY_HEAD = ("strategy", "seed", "eval_split", "eval_accuracy", "final_eval_accuracy",
                "eval_loss", "macro_f1", "roc_auc")  # fmt: skip
SUMMARY_TAIL = ("best_val_acc", "best_epoch", "final_val_acc", "epochs", "train_seconds",
                "peak_rss_mb", "trainable_parameters", "n_train", "n_eval")  # fmt: skip


def number(value: float | None, scale: float = 100.0, digits: int = 1, sign: bool = False) -> str:
    """``value * scale`` with ``digits`` decimals (``sign``: always signed); ``n/a`` for
    None or NaN."""
    if value is None or value != value:  # None or NaN
        return "n/a"
    return f"{value * scale + 0.0:{'+' if sign else ''}.{digits}f}"


def interval(
    low: float | None, high: float | None, scale: float = 100.0, digits: int = 1, sign=False
) -> str:
    """``[low, high]`` formatted as :func:`number` formats each; ``n/a`` without bounds."""
    if low is None or high is None:
        return "n/a"
    return f"[{number(low, scale, digits, sign)}, {number(high, scale, digits, sign)}]"


def confidence_level(comparison: dict[str, Any]) -> str:
    """The confidence level of the comparison's intervals, as the pages name it: ``95%``."""
    return f"{comparison['confidence'] * 100:g}%"


def p_text(value: float | None, alpha: float) -> str:
    """A p-value as in the verdict: ``0.043`` or ``< 0.001``."""
    return "n/a" if value is None else format_p(value, alpha).removeprefix("p = ")


def describe_cell(entry: dict[str, Any], metric: str) -> str:
    """``mean ± sd [CI low, CI high]`` of one run-level metric over the seeds; ``(same in
    every seed)`` where there is no spread to put an interval on."""
    scale, digits = METRIC_FORMAT.get(metric, (100.0, 1))
    if entry["mean"] is None:
        return "n/a"
    text = number(entry["mean"], scale, digits)
    if entry["std"] is not None:
        text += f" ± {number(entry['std'], scale, digits)}"
    if entry["ci_low"] is not None:
        text += " " + interval(entry["ci_low"], entry["ci_high"], scale, digits)
    elif entry["std"] == 0.0:
        text += " (same in every seed)"
    return text


def accuracy_cell(entry: dict[str, Any] | None) -> str:
    """``mean [CI low, CI high]`` of an accuracy interval (crossed or seeds-only)."""
    if entry is None:
        return "n/a (one seed)"
    return f"{number(entry['mean'])} {interval(entry['ci_low'], entry['ci_high'])}"


def statistics_table(comparison: dict[str, Any], split: str) -> dict[str, Any]:
    """Per strategy: the accuracy the verdict rests on, with its interval over seeds and
    images and the training-noise-only one, then every run-level number over the seeds."""
    level = confidence_level(comparison)
    strategies = comparison["strategies"]
    basis = basis_label(comparison["basis"])
    rows = [
        ["seeds (n)"] + [str(e["n_seeds"]) for e in strategies.values()],
        [f"accuracy, %: {basis}; {level} CI over seeds and images"]
        + [accuracy_cell(e["accuracy"]) for e in strategies.values()],
        [f"the same, {level} CI of training noise only, on these images"]
        + [accuracy_cell(e["accuracy_seeds_only"]) for e in strategies.values()],
    ]
    names = labels(split)
    for metric, name in names.items():
        unit = "" if metric in METRIC_FORMAT else ", %"
        cells = [describe_cell(e[metric], metric) for e in strategies.values()]
        if any(cell != "n/a" for cell in cells):
            rows.append([f"{name}{unit}: mean ± sd [{level} CI over seeds]", *cells])
    return {"headers": ["", *strategies], "rows": rows}


def _ratio_cell(ratio: dict[str, Any] | None, digits: int = 2) -> str:
    if not ratio:
        return "n/a"
    text = f"{ratio['ratio']:.{digits}f}×"
    if ratio["ci_low"] is not None:
        text += f" [{ratio['ci_low']:.{digits}f}, {ratio['ci_high']:.{digits}f}]"
    return text


def _won_cell(pair: dict[str, Any]) -> str:
    won = pair["seeds_won"]
    text = f"{won['a']} : {won['b']}"
    return text + (f" ({won['tied']} tied)" if won["tied"] else "")


def pairs_table(comparison: dict[str, Any]) -> dict[str, Any]:
    """Per pair: the decision and the numbers behind it."""
    m = comparison["n_comparisons"]
    level = f"{comparison['decision_confidence'] * 100:.4g}%"
    simultaneous = f"{level} CI" + (f" (Bonferroni, {m} pairs)" if m > 1 else "")
    margin = comparison["margin_points"]
    conf = confidence_level(comparison)
    headers = [
        "pair (a − b)",
        "decision",
        "difference, points",
        f"{simultaneous} over seeds and images",
        f"equivalence test CI ({margin_text(margin)})",
        f"{simultaneous}, training noise only (these images)",
        "p" + (" (Bonferroni-adjusted)" if m > 1 else ""),
        "seeds won (a : b)",
        f"P(a's run beats b's) [{conf} CI]",
        f"training time a / b [{conf} CI]",
        f"peak memory a / b [{conf} CI]",
    ]
    rows = []
    for pair in comparison["pairs"]:
        if not pair.get("n_seeds"):
            rows.append([f"{pair['a']} − {pair['b']}", "no common seed", *["n/a"] * 9])
            continue
        diff, tost, seeds_only = pair["difference"], pair["equivalence"], pair["seeds_only"]
        decision = pair["decision"] + (f": {pair['better']}" if pair["better"] else "")
        superiority = pair["superiority"]
        rows.append(
            [
                f"{pair['a']} − {pair['b']}",
                decision,
                number(diff["mean"], sign=True),
                interval(diff["ci_low"], diff["ci_high"], sign=True),
                interval(tost["ci_low"], tost["ci_high"], sign=True),
                "n/a (one seed)"
                if seeds_only is None
                else interval(seeds_only["ci_low"], seeds_only["ci_high"], sign=True),
                p_text(diff["p_value_adjusted"], comparison["alpha"]),
                _won_cell(pair),
                f"{number(superiority['estimate'], digits=0)}% "
                f"{interval(superiority['ci_low'], superiority['ci_high'], digits=0)}",
                _ratio_cell(pair["cost"]["train_seconds"]),
                _ratio_cell(pair["cost"]["peak_rss_mb"]),
            ]
        )
    return {"headers": headers, "rows": rows}


def mcnemar_tables(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    """Per pair, one row per seed: the discordant images and the exact McNemar p."""
    tables = []
    for pair in comparison["pairs"]:
        a, b = pair["a"], pair["b"]
        rows = [
            [
                str(m["seed"]),
                str(m["n"]),
                str(m["a_only_correct"]),
                str(m["b_only_correct"]),
                str(m["both_correct"]),
                str(m["both_wrong"]),
                p_text(m["p_value"], comparison["alpha"]),
            ]
            for m in pair.get("mcnemar", [])
        ]
        headers = [
            "seed",
            "images",
            f"only {a} correct",
            f"only {b} correct",
            "both correct",
            "both wrong",
            "exact McNemar p",
        ]
        tables.append({"title": f"{a} vs {b}", "headers": headers, "rows": rows})
    return tables


def decision_rule(comparison: dict[str, Any]) -> str:
    """How the decision column was reached, in one paragraph under the pairs table."""
    m = comparison["n_comparisons"]
    level = f"{comparison['decision_confidence'] * 100:.4g}%"
    tost = f"{(1 - 2 * (1 - comparison['decision_confidence'])) * 100:.4g}%"
    family = (
        f" Both are Bonferroni-adjusted over the {m} pairs, so the intervals are simultaneous "
        f"at {confidence_level(comparison)} and no decision disagrees with its interval."
        if m > 1
        else ""
    )
    return (
        f"better: the {level} interval of the difference over seeds and images excludes 0; "
        f"equivalent: the {tost} interval (two one-sided tests) lies within "
        f"{margin_text(comparison['margin_points'])} (comparison.margin); inconclusive: neither, "
        f"or fewer than {comparison['min_seeds']} seeds.{family} Seeds won and P(a's run beats "
        "b's) compare the runs of the same seed on these images (ties count half; Wilson "
        "interval); cost ratios are geometric means of the per-seed ratios (t-interval on "
        "the log scale)."
    )


# --- the runs and the data -----------------------------------------------------------------


def summary_row(run: Run, split: str) -> dict[str, Any]:
    """One summary.csv row: the headline numbers of one run."""
    train, evaluation = run.train, run.evaluation
    row: dict[str, Any] = {
        "strategy": run.strategy,
        "seed": run.seed,
        "eval_split": split,
        "eval_accuracy": evaluation["accuracy"],
        "final_eval_accuracy": evaluation.get("final", {}).get("accuracy", np.nan),
        "eval_loss": evaluation["loss"],
        "macro_f1": evaluation["macro_f1"],
        "roc_auc": np.nan if evaluation.get("roc_auc") is None else evaluation["roc_auc"],
    }
    row.update({f"f1_{c}": v["f1"] for c, v in evaluation["per_class"].items()})
    peak = train.get("peak_rss_mb")
    row.update(
        best_val_acc=train["best_val_acc"],
        best_epoch=train["best_epoch"],
        final_val_acc=train["final_val_acc"],
        epochs=len(train["history"]),
        train_seconds=train["total_seconds"],
        peak_rss_mb=np.nan if peak is None else float(peak),
        trainable_parameters=train["parameters"]["trainable"],
        n_train=train["n_train"],
        n_eval=evaluation["n"],
    )
    return row


def summary_table(runs: list[Run], split: str) -> pd.DataFrame:
    """One row per (strategy, seed), written as metrics/summary.csv."""
    table = pd.DataFrame([summary_row(r, split) for r in runs])
    f1 = [c for c in table.columns if c.startswith("f1_")]
    return table[[*SUMMARY_HEAD, *f1, *SUMMARY_TAIL]]


def runs_table(summary: pd.DataFrame, split: str) -> dict[str, Any]:
    """Every run's own numbers."""
    names = labels(split)
    headers = [
        "strategy",
        "seed",
        f"{names['eval_accuracy']}, %",
        f"{names['final_eval_accuracy']}, %",
        f"{names['best_val_acc']}, %",
        "best epoch",
        f"{names['final_val_acc']}, %",
        "training time (s)",
        "peak memory (MB)",
    ]
    rows = [
        [
            row.strategy,
            str(row.seed),
            number(row.eval_accuracy, 100, 1),
            number(row.final_eval_accuracy, 100, 1),
            number(row.best_val_acc, 100, 1),
            f"{row.best_epoch} of {row.epochs}",
            number(row.final_val_acc, 100, 1),
            number(row.train_seconds, 1, 0),
            number(row.peak_rss_mb, 1, 0),
        ]
        for row in summary.itertuples()
    ]
    return {"headers": headers, "rows": rows}


def per_class_table(summary: pd.DataFrame, class_names: list[str], split: str) -> dict[str, Any]:
    """Per class: F1 on the evaluated split, mean over seeds, per strategy."""
    means = summary.groupby("strategy", sort=False)[[f"f1_{c}" for c in class_names]].mean()
    title = labels(split)["macro_f1"].replace("macro F1", "F1")
    rows = [
        [c] + [number(means.loc[s, f"f1_{c}"], 100, 1) for s in means.index] for c in class_names
    ]
    return {"headers": [f"class: {title}, %, mean over seeds", *means.index], "rows": rows}


def quality_table(quality: dict[str, Any], class_names: list[str]) -> dict[str, Any]:
    """Images per split (train, val and test when present) and class."""
    rows = [
        [split] + [str(counts.get(c, 0)) for c in class_names] + [str(counts["total"])]
        for split, counts in quality["counts"].items()
    ]
    return {"headers": ["split", *class_names, "total"], "rows": rows}
