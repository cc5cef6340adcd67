#!/usr/bin/env python
"""Calibration of the verdict: how often the pipeline's own decision code says what.

Simulates paired runs of two strategies with a known truth and hands each simulated
seeds x images table of paired differences to :func:`tlpipe.comparison.decide_pair`,
the function the report uses. Per cell of the grid (seeds x images) it prints how often
the decision is *better* (false positives where there is no difference; power where
there is one) and *equivalent*.

    python benchmarks/calibration.py                      # full grid, 2000 runs per cell
    python benchmarks/calibration.py --reps 300 --seeds 3 5 --images 153

The outcome model (logit scale): image ``i`` of strategy ``s`` under seed ``k`` is right
with probability ``sigmoid(mu_s + u_i + v_si + w_sk + c_k)``: ``u_i`` the image's
difficulty (shared), ``v_si`` the strategy x image interaction (each strategy finds some
images easier), ``w_sk`` the strategy's seed luck and ``c_k`` the seed's shared luck
(same data order in both strategies); a fresh image sample for every simulated
experiment. Scenarios:

* ``null``: equal strategies, no interaction: the true difference is 0;
* ``null+interaction``: equal strategies with a strategy x image interaction (sd 1 on
  the logit scale): the true difference over the images' population is 0 by symmetry,
  but on any fixed image sample it is not;
* ``difference``: a real difference (logit 0.35, about 5 points at 80% accuracy);
* ``equivalence``: equal strategies with small training noise, where saying
  *equivalent* (within the margin) is correct.

``--before`` also runs the decision rule before this benchmark existed (commit
88bc0fb: a paired t-test over the per-seed accuracies, with "p = 0" when every seed's
difference is the same), for the before/after table.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from tlpipe.comparison import decide_pair


@dataclass(frozen=True)
class Scenario:
    name: str
    difference: float = 0.0  # logit shift of strategy a
    interaction: float = 0.0  # sd of the strategy x image effect
    seed_sd: float = 0.1  # sd of a strategy's seed luck
    truth: str = "none"  # "none", "difference"


SCENARIOS = {
    "null": Scenario("null"),
    "null+interaction": Scenario("null+interaction", interaction=1.0),
    "difference": Scenario("difference", difference=0.35, truth="difference"),
    "equivalence": Scenario("equivalence", seed_sd=0.05),
}
BASE_LOGIT = 1.4  # about 80% accuracy
DIFFICULTY_SD = 1.5
SHARED_SEED_SD = 0.1


def simulate(scenario: Scenario, seeds: int, images: int, rng: np.random.Generator) -> np.ndarray:
    """One experiment: the seeds x images table of paired differences a - b."""
    u = rng.normal(0.0, DIFFICULTY_SD, images)
    shared = rng.normal(0.0, SHARED_SEED_SD, (seeds, 1))
    outcomes = []
    for shift in (scenario.difference, 0.0):
        v = rng.normal(0.0, scenario.interaction, images) if scenario.interaction else 0.0
        w = rng.normal(0.0, scenario.seed_sd, (seeds, 1))
        logit = BASE_LOGIT + shift + u + v + w + shared
        outcomes.append(rng.random((seeds, images)) < 1.0 / (1.0 + np.exp(-logit)))
    return outcomes[0].astype(float) - outcomes[1].astype(float)


def decide_before(d: np.ndarray, alpha: float = 0.05) -> str:
    """The rule of commit 88bc0fb for two strategies: paired t-test over the per-seed
    accuracy differences; identical differences gave p = 0 (or 1 when all zero)."""
    per_seed = d.mean(axis=1)
    if len(per_seed) < 2:
        return "inconclusive"
    if np.ptp(per_seed) <= 1e-12:
        return "better" if np.any(np.abs(per_seed) > 1e-12) else "inconclusive"
    result = stats.ttest_1samp(per_seed, 0.0)
    return "better" if result.pvalue < alpha else "inconclusive"


def run_cell(
    scenario: Scenario, seeds: int, images: int, reps: int, rng: np.random.Generator, before: bool
) -> dict[str, float]:
    counts = {"better": 0, "equivalent": 0, "wrong_direction": 0, "before_better": 0}
    for _ in range(reps):
        d = simulate(scenario, seeds, images, rng)
        decided = decide_pair(d)
        if decided["decision"] == "better":
            counts["better"] += 1
            counts["wrong_direction"] += decided["direction"] < 0
        counts["equivalent"] += decided["decision"] == "equivalent"
        if before:
            counts["before_better"] += decide_before(d) == "better"
    return {key: value / reps for key, value in counts.items()}


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 5, 10, 20])
    parser.add_argument("--images", type=int, nargs="+", default=[18, 153, 1000])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument("--reps", type=int, default=2000, help="experiments per cell")
    parser.add_argument("--rng-seed", type=int, default=20261203)
    parser.add_argument("--before", action="store_true", help="also the rule of 88bc0fb")
    return parser


def calibrate(args: argparse.Namespace) -> list[dict]:
    """Every cell of the grid, as rows of a table."""
    rng = np.random.default_rng(args.rng_seed)
    rows = []
    for name in args.scenarios:
        for seeds in args.seeds:
            for images in args.images:
                rates = run_cell(SCENARIOS[name], seeds, images, args.reps, rng, args.before)
                rows.append({"scenario": name, "seeds": seeds, "images": images, **rates})
    return rows


def main(args: argparse.Namespace) -> None:
    rows = calibrate(args)
    header = "| scenario | seeds | images | says better | says equivalent |"
    header += " better, before |" if args.before else ""
    print(header)
    print("|---|---:|---:|---:|---:|" + ("---:|" if args.before else ""))
    for row in rows:
        line = (
            f"| {row['scenario']} | {row['seeds']} | {row['images']} | "
            f"{row['better']:.1%} | {row['equivalent']:.1%} |"
        )
        if args.before:
            line += f" {row['before_better']:.1%} |"
        print(line)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
