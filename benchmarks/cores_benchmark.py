#!/usr/bin/env python
"""Every CPU busy whatever the number of jobs: all the cases in one benchmark run.

    python benchmarks/cores_benchmark.py --before --out /tmp/cores.json  # 85 min on 2 CPUs, bf16
    python benchmarks/cores_benchmark.py --epochs 2 --seeds 1 2 --single-epochs 2  # a quick look

On the same machine, in one invocation, one after another:

1. **A single job** (one seed, one strategy; ``run_benchmark.py``'s runs): the project's
   ``train.py`` with 1 thread and with every CPU (what the workflow gives a job that runs
   alone), against the tutorial loop with torch's default threads (every CPU), for
   ``--single-epochs`` epochs: seconds per epoch, the whole job, the whole job
   projected to 25 epochs, peak memory.
2. **The default grid** (``--seeds`` x both strategies x ``--epochs``) with
   ``snakemake --cores N`` for each ``--cores`` value (``pipeline_benchmark.py``).
3. **The same grid under ``dvc repro``** (stages one at a time, each on every CPU).
4. With ``--before``: the grid with ``snakemake --cores 4`` and every training and
   evaluation job on one thread (``--set-threads``), as the workflow ran them before
   threads were planned (``threads: 1``).

The yardstick of 2 and 3 is the tutorial loop training both strategies once for
``--epochs`` epochs, projected from its runs in 1. Data: the mirror (or generated
images); weights: random (speed does not depend on their values). Each case's figures
are written to ``--out`` as soon as it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pipeline_benchmark
import run_benchmark

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from tlpipe.cpus import usable_cpus

STRATEGIES = ("finetune", "feature_extract")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--single-epochs", type=int, default=5, help="epochs of the single jobs (default: 5)")
    add("--epochs", type=int, default=25, help="epochs of the grid (default: 25)")
    add("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5], help="grid seeds (1-5)")
    add("--cores", type=int, nargs="+", default=[4, 2], help="--cores values (4 2)")
    add("--no-dvc", dest="dvc", action="store_false", help="skip the dvc repro grid")
    add("--no-single", dest="single", action="store_false", help="skip the single jobs")
    add("--before", action="store_true", help="also the grid with every job on 1 thread")
    add("--data", type=Path, default=run_benchmark.MIRROR, help="dataset zip (the mirror)")
    add("--workdir", type=Path, default=None, help="scratch folder (default: temporary)")
    add("--out", type=Path, default=None, help="write the measurements to this JSON")
    return parser


def single_jobs(args, workdir: Path, data_dir: Path, cpus: int) -> dict:
    """Case 1: per strategy, the tutorial loop and the project's job at 1 and all threads."""
    results = {}
    for strategy in STRATEGIES:
        runs = {}
        cases = (("tutorial", "tutorial", cpus), ("project 1 thread", "project", 1),
                 (f"project {cpus} threads", "project", cpus))  # fmt: skip
        for name, impl, threads in cases:
            settings = argparse.Namespace(epochs=args.single_epochs, threads=threads)
            out = workdir / "single" / f"{strategy}-{impl}-{threads}"
            runs[name] = run_benchmark.measure(impl, strategy, data_dir, settings, out)
            print(f"{strategy} {name}: {runs[name]['s_per_epoch']:.2f} s/epoch, "
                  f"job {runs[name]['job_s']:.1f} s", flush=True)  # fmt: skip
        results[strategy] = runs
    return results


def grids(args, workdir: Path) -> Iterator[dict]:
    """Cases 2 and 3: the grid under snakemake --cores N, then under dvc repro (each
    result as soon as it is measured)."""
    settings = argparse.Namespace(
        epochs=args.epochs, seeds=args.seeds, strategies=list(STRATEGIES), threads=None,
        data=args.data,
    )  # fmt: skip
    for cores in args.cores:
        result = pipeline_benchmark.measure(cores, settings, workdir / "grid")
        print(f"grid --cores {cores}: {result['wall_s']:.0f} s", flush=True)
        yield result
    if args.before:
        one_thread = argparse.Namespace(**vars(settings) | {"threads": 1})
        result = pipeline_benchmark.measure(4, one_thread, workdir / "grid-1-thread")
        result["cores"] = "--cores 4, threads: 1 (before)"
        print(f"grid --cores 4, every job on 1 thread: {result['wall_s']:.0f} s", flush=True)
        yield result
    if args.dvc:
        result = pipeline_benchmark.measure_dvc(settings, workdir / "grid")
        print(f"grid dvc repro: {result['wall_s']:.0f} s", flush=True)
        yield result


def table(single: dict, grid: list[dict], args, cpus: int) -> str:
    """The figures side by side, as markdown."""
    lines = [f"{cpus} CPUs; single jobs {args.single_epochs} epochs; grid {len(args.seeds)} "
             f"seeds x {len(STRATEGIES)} strategies x {args.epochs} epochs", "",
             "| single job | s/epoch | job s | 25-epoch job s | peak MB | tutorial / this, "
             "per epoch | whole job |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for strategy, runs in single.items():
        tutorial = runs["tutorial"]
        for name, run in runs.items():
            ratios = ("", "") if name == "tutorial" else (
                f"{tutorial['s_per_epoch'] / run['s_per_epoch']:.2f}x",
                f"{tutorial['job_s'] / run['job_s']:.2f}x")  # fmt: skip
            lines.append(f"| {strategy}, {name} | {run['s_per_epoch']:.2f} | {run['job_s']:.1f} "
                         f"| {run['job_25_s']:.0f} | {run['peak_rss_mb']:.0f} | {ratios[0]} "
                         f"| {ratios[1]} |")  # fmt: skip
    if not single:
        return "\n".join(lines[:1] + [f"| {r['cores']} | {r['wall_s']:.0f} s |" for r in grid])
    # the tutorial training both strategies once, as long as the grid's jobs
    yardstick = sum(
        runs["tutorial"]["job_s"]
        + (args.epochs - len(runs["tutorial"]["epochs"])) * runs["tutorial"]["s_per_epoch"]
        for runs in single.values()
    )
    lines += ["", f"tutorial loop, both strategies once, {args.epochs} epochs (projected): "
              f"{yardstick:.0f} s", "",
              "| grid | wall s | / tutorial loop | CPUs busy | largest job peak MB |",
              "|---|---|---|---|---|"]  # fmt: skip
    for result in grid:
        name = f"--cores {result['cores']}" if isinstance(result["cores"], int) else result["cores"]
        # dvc repro keeps no per-job logs: no CPU time or peak memory to show
        peak = max((job["max_rss_mb"] for job in result["jobs"]), default=None)
        busy = pipeline_benchmark.busy_share(result, cpus)
        busy, peak = ("–", "–") if peak is None else (f"{busy:.0%}", f"{peak:.0f}")
        lines.append(f"| {name} | {result['wall_s']:.0f} | {result['wall_s'] / yardstick:.2f}x "
                     f"| {busy} | {peak} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    args = get_args_parser().parse_args()
    cpus = usable_cpus()
    with tempfile.TemporaryDirectory(prefix="tlpipe-cores-") as tmp:
        workdir = args.workdir or Path(tmp)
        data_dir, origin = run_benchmark.prepare_data(args.data, workdir)
        measured = {"cpus": cpus, "data": origin, "args": vars(args) | {"data": str(args.data)}}

        def save() -> None:
            if args.out:
                args.out.write_text(json.dumps(measured, indent=2, default=str))

        measured["single"] = single_jobs(args, workdir, data_dir, cpus) if args.single else {}
        save()
        measured["grid"] = []
        for result in grids(args, workdir):
            measured["grid"].append(result)
            save()
        print()
        print(table(measured["single"], measured["grid"], args, cpus))


if __name__ == "__main__":
    os.environ.pop("OMP_NUM_THREADS", None)
    main()
