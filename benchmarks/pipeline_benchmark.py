#!/usr/bin/env python
"""Time the whole pipeline as users run it: `snakemake --cores N` on a copy of the project.

    python benchmarks/pipeline_benchmark.py                      # --cores 2 and 4, 3 epochs
    python benchmarks/pipeline_benchmark.py --cores 4 --epochs 25 --seeds 1 2 3 4 5

For each ``--cores`` value it copies the project (tracked files) into a scratch folder,
points its config at the mirror ``../shared/data/hymenoptera_data.zip`` (random initial
weights: speed does not depend on their values), downloads and prepares the data
(untimed), then times ``snakemake --cores N`` for every training and evaluation job and
the report. It prints per value of ``--cores``:

- wall: the whole timed run;
- per job (from Snakemake's ``logs/benchmarks/*.tsv``): wall seconds and peak RSS
  (``max_rss``, the job's process tree);
- per training job, its fixed overhead: job seconds minus the seconds its epochs took
  (interpreter and torch import, decoding the images, validation features, writing);
- the ratio of each wall time to the first ``--cores`` value's.

On a machine with fewer cores than ``--cores`` this shows whether the jobs that Snakemake
then starts side by side slow each other down beyond the machine's capacity.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from tlpipe import paths, runs
from tlpipe.strategies import STRATEGIES

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "data" / "hymenoptera_data.zip"


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--cores", type=int, nargs="+", default=[2, 4], help="values of --cores (default: 2 4)")
    add("--epochs", type=int, default=3, help="train.epochs (default: 3)")
    add("--seeds", type=int, nargs="+", default=[1, 2], help="seeds (default: 1 2)")
    add(
        "--strategies",
        nargs="+",
        choices=STRATEGIES,
        default=None,
        help="strategies (default: the config's)",
    )
    add("--dvc", action="store_true", help="also time `dvc repro` of the same config")
    add(
        "--threads",
        type=int,
        default=None,
        help="threads of every training and evaluation job (snakemake --set-threads; "
        "default: the workflow's plan, see tlpipe/cpus.py)",
    )
    add("--data", type=Path, default=MIRROR, help=f"dataset zip (default: {MIRROR})")
    add("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    add("--out", type=Path, default=None, help="also write the measurements to this JSON")
    return parser


def copy_project(target: Path) -> Path:
    """The project's tracked files, as a clone would have them."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        source, dest = REPO / name, target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), dest)
        elif source.is_file():
            shutil.copy2(source, dest)
    return target


def timed(project: Path, *command: str) -> float:
    """Run a command of this venv in ``project``; return its wall seconds."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("OMP_NUM_THREADS", None)
    tick = time.perf_counter()
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - tick


def snakemake(project: Path, *args: str) -> float:
    """Run snakemake in ``project`` with the benchmark's config; return its wall seconds."""
    return timed(project, "snakemake", *args, "--configfile", "bench.yaml")


def bench_config(args: argparse.Namespace) -> dict:
    """The settings the benchmark changes: the mirror, random weights, epochs, runs."""
    data = {"url": str(args.data.resolve()), "sha256": None}
    if args.data.resolve() != MIRROR.resolve():  # another dataset: no manifest to check
        data["manifest"] = None
    config = {
        "data": data,
        "model": {"weights": "none"},
        "train": {"epochs": args.epochs},
        "seeds": args.seeds,
    }
    return config | ({"strategies": args.strategies} if args.strategies else {})


def job_measurements(project: Path) -> list[dict]:
    """Wall seconds, peak RSS and (training) fixed overhead of every timed job."""
    jobs = []
    for tsv in sorted((project / "logs/benchmarks").rglob("*.tsv")):
        kind = tsv.relative_to(project / "logs/benchmarks").with_suffix("").as_posix()
        if not kind.startswith(("train/", "evaluate/", "predict")):
            continue
        with open(tsv, newline="") as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        job = {"job": kind, "s": float(row["s"]), "max_rss_mb": float(row["max_rss"]),
               "cpu_s": float(row["cpu_time"])}  # fmt: skip
        if kind.startswith("train/"):
            _, strategy, seed_name = kind.split("/")  # train/<strategy>/seed<k> (train.smk)
            seed = int(seed_name.removeprefix("seed"))
            path = runs.metrics_file(project / paths.RUNS_DIR, strategy, seed, paths.TRAIN_METRICS)
            train = json.loads(path.read_text())
            job["epochs_s"] = train["total_seconds"]
            job["overhead_s"] = job["s"] - train["total_seconds"]
        jobs.append(job)
    return jobs


def measure(cores: int, args: argparse.Namespace, scratch: Path) -> dict:
    """One timed pipeline run with ``--cores cores``."""
    project = copy_project(scratch / f"cores{cores}")
    (project / "bench.yaml").write_text(yaml.safe_dump(bench_config(args)))
    snakemake(project, "--cores", "2", "metrics/data_quality.json")  # untimed: data
    threads = []
    if args.threads:
        rules = [f"train_{strategy}" for strategy in STRATEGIES] + ["evaluate"]
        threads = ["--set-threads", *(f"{rule}={args.threads}" for rule in rules)]
    wall = snakemake(project, "--cores", str(cores), *threads)
    return {"cores": cores, "wall_s": wall, "jobs": job_measurements(project)}


def measure_dvc(args: argparse.Namespace, scratch: Path) -> dict:
    """One timed `dvc repro` (stages one after another, every job on all CPUs) of the
    same settings, written into config/config.yaml as DVC reads them; no job logs, so
    per-job times are not split out."""
    project = copy_project(scratch / "dvc")
    config = yaml.safe_load((project / "config/config.yaml").read_text())
    for key, value in bench_config(args).items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    (project / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "commit", "-q", "-m", "benchmark"]):  # fmt: skip
        timed(project, *command)
    timed(project, "dvc", "repro", "prepare_data")  # untimed: data
    return {"cores": "dvc repro", "wall_s": timed(project, "dvc", "repro"), "jobs": []}


def busy_share(result: dict, cpus: int | None = None) -> float:
    """How busy the CPUs were during a timed run: the CPU seconds of its training,
    evaluation and predict jobs over CPUs x wall seconds (the small jobs left out make
    it a lower bound; nan without per-job logs, e.g. under DVC)."""
    cpus = cpus or len(os.sched_getaffinity(0))
    used = sum(job["cpu_s"] for job in result["jobs"])
    return used / (cpus * result["wall_s"]) if result["jobs"] else float("nan")


def summary(results: list[dict], args: argparse.Namespace) -> str:
    """A table per run and the wall-time ratios."""
    lines = [
        f"{os.cpu_count()} CPUs; {args.epochs} epochs; seeds {args.seeds}; "
        f"threads per job {args.threads or 'from the rules'}; data {args.data}",
    ]
    first = results[0]["wall_s"]
    for result in results:
        ratio = result["wall_s"] / first
        busy = busy_share(result)
        name = result["cores"] if result["cores"] == "dvc repro" else f"--cores {result['cores']}"
        lines += ["", f"{name}: wall {result['wall_s']:.0f} s ({ratio:.2f}x the first); "
                      f"CPUs busy {busy:.0%}"]  # fmt: skip
        lines.append(f"  {'job':<32}{'s':>8}{'epochs s':>10}{'overhead s':>12}{'peak MB':>9}")
        for job in result["jobs"]:
            epochs = f"{job['epochs_s']:.1f}" if "epochs_s" in job else ""
            overhead = f"{job['overhead_s']:.1f}" if "overhead_s" in job else ""
            lines.append(
                f"  {job['job']:<32}{job['s']:>8.1f}{epochs:>10}{overhead:>12}"
                f"{job['max_rss_mb']:>9.0f}"
            )
    return "\n".join(lines)


def main() -> None:
    args = get_args_parser().parse_args()
    with tempfile.TemporaryDirectory(prefix="tlpipe-pipeline-") as tmp:
        scratch = args.workdir or Path(tmp)
        results = []
        for cores in args.cores:
            results.append(measure(cores, args, scratch))
            print(f"--cores {cores}: {results[-1]['wall_s']:.0f} s", flush=True)
        if args.dvc:
            results.append(measure_dvc(args, scratch))
            print(f"dvc repro: {results[-1]['wall_s']:.0f} s", flush=True)
        print()
        print(summary(results, args))
        if args.out:
            args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
