"""Where the runs live, and reading and checking them: one (strategy, seed) pair is a run.

The configured runs are every strategy times every seed, strategies in config order and
the seeds of each in config order (:func:`run_keys`). Their files are named by
:mod:`tlpipe.paths`; this module turns a list of strategies and seeds into those paths
(the report's metric files and model cards, predict's models and CSVs, the benchmarks'
metrics) and reads the metric files back, refusing a file that belongs to another run.

No torch and no matplotlib: the report and the benchmarks read runs without either.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tlpipe import paths
from tlpipe.errors import PipelineError
from tlpipe.fileio import read_json

log = logging.getLogger(__name__)

#: The columns of predictions.csv that the report reads (evaluate.py writes them).
PREDICTION_COLUMNS = ("path", "true", "predicted", "probability", "correct")


@dataclass(frozen=True)
class Run:
    """The files of one (strategy, seed) training run."""

    strategy: str
    seed: int
    train: dict[str, Any]
    evaluation: dict[str, Any]
    predictions: pd.DataFrame
    #: The last epoch's model on the same images (None for runs evaluated without it).
    final_predictions: pd.DataFrame | None = None


# --- where they live -----------------------------------------------------------------------


def run_keys(strategies: Iterable[str], seeds: Iterable[int]) -> list[tuple[str, int]]:
    """Every (strategy, seed) run: strategies in the given order, each with every seed."""
    seeds = list(seeds)
    return [(strategy, seed) for strategy in strategies for seed in seeds]


def metrics_file(runs_dir: str | Path, strategy: str, seed: int, name: str) -> Path:
    """One metric file of a run (``name``: e.g. :data:`tlpipe.paths.TRAIN_METRICS`) below
    ``runs_dir`` (``metrics/runs`` in the pipeline)."""
    return paths.run_dir(runs_dir, strategy, seed) / name


def model_files(strategy: str, seeds: Iterable[int]) -> list[Path]:
    """The model of each seed of a strategy, relative to the project."""
    return [Path(paths.MODEL.format(strategy=strategy, seed=seed)) for seed in seeds]


def strategy_file(template: str, folder: str | Path, strategy: str) -> Path:
    """A per-strategy file named as ``template`` names it (e.g.
    :data:`tlpipe.paths.MODEL_CARD`), in ``folder`` (the folder a script was given)."""
    return Path(folder) / Path(template.format(strategy=strategy)).name


def prediction_jobs(
    strategies: Iterable[str], seeds: Iterable[int], out_dir: Path
) -> dict[Path, list[Path]]:
    """The pipeline's predictions: per strategy, its CSV in ``out_dir`` and its
    models, one per seed."""
    seeds = list(seeds)
    return {
        strategy_file(paths.STRATEGY_PREDICTIONS, out_dir, strategy): model_files(strategy, seeds)
        for strategy in strategies
    }


# --- reading and checking ------------------------------------------------------------------


def read_predictions(path: Path) -> pd.DataFrame:
    """predictions.csv of one run, with a clear error when missing or incomplete."""
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise PipelineError(f"{path}: file not found; run the step that produces it") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise PipelineError(f"{path}: not a valid CSV ({err}); delete it and rerun") from None
    missing = [c for c in PREDICTION_COLUMNS if c not in table.columns]
    if missing:
        raise PipelineError(f"{path}: columns {missing} missing; rerun the evaluation")
    table["correct"] = table["correct"].map(_as_bool)
    return table


def _as_bool(value: Any) -> bool:
    """A CSV cell holding True/False (or 1/0) as a bool."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def load_run(runs_dir: Path, strategy: str, seed: int) -> Run:
    """Read one run's train.json, eval.json and predictions.csv; check they are that run's."""
    folder = paths.run_dir(runs_dir, strategy, seed)
    train = read_json(folder / paths.TRAIN_METRICS)
    evaluation = read_json(folder / paths.EVAL_METRICS)
    predictions = read_predictions(folder / paths.PREDICTIONS)
    final_path = folder / paths.FINAL_PREDICTIONS
    final = read_predictions(final_path) if final_path.exists() else None
    eval_seed = evaluation.get("seed")
    if eval_seed is None:  # older eval.json: the seed is in the checkpoint's provenance
        eval_seed = evaluation.get("provenance", {}).get("seed")
    for name, found in (
        (paths.TRAIN_METRICS, (train.get("strategy"), train.get("seed"))),
        (paths.EVAL_METRICS, (evaluation.get("strategy"), eval_seed)),
    ):
        if found[0] not in (None, strategy) or found[1] not in (None, seed):
            raise PipelineError(
                f"{folder / name}: holds strategy {found[0]}, seed {found[1]}, not "
                f"{strategy}, seed {seed}; rerun that run"
            )
    return Run(strategy, seed, train, evaluation, predictions, final)


def load_runs(runs_dir: Path, strategies: list[str], seeds: list[int]) -> list[Run]:
    """Every (strategy, seed) run, in the order of :func:`run_keys`."""
    return [load_run(runs_dir, strategy, seed) for strategy, seed in run_keys(strategies, seeds)]


def runs_of(runs: list[Run], strategy: str) -> list[Run]:
    """The runs of one strategy, in seed order as loaded."""
    return [r for r in runs if r.strategy == strategy]


def eval_split(runs: list[Run]) -> str:
    """The split every run was evaluated on (eval.json ``split``; older files: val)."""
    splits = {r.evaluation.get("split", "val") for r in runs}
    if len(splits) != 1:
        found = ", ".join(
            f"{r.strategy}/seed{r.seed}: {r.evaluation.get('split', 'val')}" for r in runs
        )
        raise PipelineError(
            f"runs were evaluated on different splits ({found}); rerun the evaluations"
        )
    return splits.pop()


def common_classes(runs: list[Run]) -> list[str]:
    """The class names every run was trained and evaluated with (they must agree)."""
    first = runs[0].train["class_names"]
    for r in runs:
        found = (r.train["class_names"], r.evaluation["confusion_matrix"]["labels"])
        if any(list(names) != list(first) for names in found):
            raise PipelineError(
                f"{r.strategy}, seed {r.seed}: classes {found[0]} differ from {first} "
                f"({runs[0].strategy}, seed {runs[0].seed}); train and evaluate every run on "
                "one dataset"
            )
    return list(first)


def shared_config(runs: list[Run]) -> tuple[dict[str, Any], list[str]]:
    """The settings of the first run without strategy and seed, and the keys that differ
    between runs (none when every run was trained with the same settings)."""
    ignore = {"strategy", "seed"}
    configs = [{k: v for k, v in r.train["config"].items() if k not in ignore} for r in runs]
    keys = sorted({k for c in configs for k in c})
    differs = [k for k in keys if any(c.get(k) != configs[0].get(k) for c in configs)]
    if differs:
        log.warning("settings differ between runs: %s", ", ".join(differs))
    return configs[0], differs
