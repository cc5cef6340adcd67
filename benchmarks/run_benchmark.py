#!/usr/bin/env python
"""Time the project's training against the plain tutorial loop on the same data.

    python benchmarks/run_benchmark.py                  # 3 epochs per run, 3 repetitions
    python benchmarks/run_benchmark.py --epochs 2 --reps 5 --threads 2

For each repetition and strategy it runs ``benchmarks/tutorial_loop.py`` and
``workflow/scripts/train.py`` (with the settings of ``config/config.yaml``, as the
``train`` rule runs it), alternating which goes first, each in its own process with
``OMP_NUM_THREADS=--threads``. It prints medians over the repetitions of:

- s/epoch: steady-state seconds per epoch (median of the epochs after the first);
- job s: the whole process (start-up, decoding the cache, features, all epochs);
- 25-epoch job s: job s + (25 - epochs) x s/epoch, i.e. a full default run;
- peak RSS: the largest sum of the resident memory of the process and its children
  (DataLoader workers), sampled every 0.1 s;

their ratios (tutorial / project), and the projected end-to-end time of training both
strategies for 25 epochs (plus ``evaluate.py`` for the project). Data: the shared
mirror ``../shared/data/hymenoptera_data.zip`` when present, else generated JPEGs of
similar sizes. Weights: random initialisation (speed does not depend on the values).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import psutil
import yaml
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from tlpipe.cli import command_line
from tlpipe.config import validate_config

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "data" / "hymenoptera_data.zip"
FULL_EPOCHS = 25  # the default config's epochs, for the projections
IMPLEMENTATIONS = ("tutorial", "project")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--epochs", type=int, default=3, help="epochs per measured run (default: 3)")
    add("--reps", type=int, default=3, help="alternating repetitions (default: 3)")
    add("--threads", type=int, default=2, help="OMP_NUM_THREADS of every run (default: 2)")
    add(
        "--strategies",
        nargs="+",
        default=["finetune", "feature_extract"],
        choices=("finetune", "feature_extract"),
        help="strategies to time (default: both)",
    )
    add("--data", type=Path, default=MIRROR, help=f"dataset zip (default: {MIRROR})")
    add("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    add("--out", type=Path, default=None, help="also write all measurements to this JSON")
    return parser


def find_root(folder: Path) -> Path:
    """The folder holding train/ and val/ inside an extracted archive."""
    for candidate in [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]:
        if (candidate / "train").is_dir() and (candidate / "val").is_dir():
            return candidate
    raise SystemExit(f"{folder}: no train/ and val/ folders found")


def generate_dataset(root: Path, seed: int = 0) -> Path:
    """244 train / 153 val JPEGs of hymenoptera-like sizes (mostly 500 px wide)."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", 244), ("val", 153)):
        for i in range(count):
            name = ("ants", "bees")[i % 2]
            width = int(rng.choice([500, 500, 500, 333, 800]))
            height = int(width * rng.uniform(0.6, 1.0))
            base = rng.integers(0, 256, size=(height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
            image = Image.fromarray(base).resize((width, height), Image.BILINEAR)
            path = root / split / name / f"{name}_{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            image.save(path, quality=90)
    return root


def prepare_data(archive: Path, workdir: Path) -> tuple[Path, str]:
    """Extract the mirror (or generate images); return the dataset root and its origin."""
    target = workdir / "data"
    if archive.is_file():
        if not target.exists():
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(target)
        return find_root(target), str(archive)
    return generate_dataset(target / "generated"), "generated images (no mirror found)"


def project_config() -> dict:
    """config/config.yaml with the schema's defaults: what the workflow runs."""
    return validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))


def project_command(data_dir: Path, strategy: str, epochs: int, out: Path) -> list[str]:
    """train.py as the train rule runs it (settings from the config, random weights)."""
    config = project_config()
    settings = command_line({**config["train"], "epochs": epochs})
    options = {
        "--data-dir": data_dir,
        "--strategy": strategy,
        "--weights": "none",
        "--seed": config["seeds"][0],
        "--out-model": out / "model.pt",
        "--out-metrics": out / "train.json",
        "--resume-dir": out / "checkpoints",
    }
    args = [str(item) for pair in options.items() for item in pair] + shlex.split(settings)
    return [sys.executable, str(REPO / "workflow" / "scripts" / "train.py"), *args]


def tutorial_command(data_dir: Path, strategy: str, epochs: int, out: Path) -> list[str]:
    """The plain tutorial loop on the same data."""
    script = REPO / "benchmarks" / "tutorial_loop.py"
    return [sys.executable, str(script), "--data-dir", str(data_dir), "--strategy", strategy,
            "--epochs", str(epochs), "--out", str(out / "train.json")]  # fmt: skip


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its children, in bytes."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a worker that just exited
            total += proc.memory_info().rss
    return total


def timed_run(command: list[str], threads: int, log: Path) -> dict:
    """Run a command; return its wall seconds and peak process-tree RSS."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONHASHSEED": "0"}
    env["PYTHONPATH"] = str(REPO / "workflow" / "scripts")
    tick = time.perf_counter()
    with open(log, "w") as handle:
        proc = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
        watched, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, tree_rss(watched))
            time.sleep(0.1)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed; see {log}")
    return {"job_s": time.perf_counter() - tick, "peak_rss_mb": peak / 2**20}


def epoch_seconds(metrics_file: Path) -> list[float]:
    """Per-epoch seconds from a train.json (project) or the tutorial loop's JSON."""
    return [h["seconds"] for h in json.loads(metrics_file.read_text())["history"]]


def measure(impl: str, strategy: str, data_dir: Path, args, out: Path) -> dict:
    """One timed training run of one implementation."""
    out.mkdir(parents=True, exist_ok=True)
    make = project_command if impl == "project" else tutorial_command
    result = timed_run(make(data_dir, strategy, args.epochs, out), args.threads, out / "log")
    seconds = epoch_seconds(out / "train.json")
    steady = statistics.median(seconds[1:] or seconds)
    result.update(epochs=seconds, s_per_epoch=steady)
    result["job_25_s"] = result["job_s"] + (FULL_EPOCHS - len(seconds)) * steady
    return result


def evaluate_seconds(model_dir: Path, data_dir: Path, threads: int) -> float:
    """Wall seconds of evaluate.py on a trained model, as the evaluate rule runs it."""
    command = [sys.executable, str(REPO / "workflow" / "scripts" / "evaluate.py"),
               "--model", str(model_dir / "model.pt"), "--data-dir", str(data_dir),
               "--out-metrics", str(model_dir / "eval.json"),
               "--out-predictions", str(model_dir / "predictions.csv")]  # fmt: skip
    return timed_run(command, threads, model_dir / "eval.log")["job_s"]


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def report(results: dict, eval_s: dict, args, origin: str) -> str:
    """The summary table, ratios and the end-to-end projection."""
    lines = [
        f"data: {origin}; {args.threads} threads; {args.epochs} epochs per run; "
        f"medians of {args.reps} alternating runs",
        "",
        f"{'strategy':<16}{'impl':<10}{'s/epoch':>9}{'job s':>9}{'25-epoch job s':>16}"
        f"{'peak RSS MB':>13}",
    ]
    for strategy, per_impl in results.items():
        for impl in IMPLEMENTATIONS:
            runs = per_impl[impl]
            lines.append(
                f"{strategy:<16}{impl:<10}{median_of(runs, 's_per_epoch'):>9.2f}"
                f"{median_of(runs, 'job_s'):>9.1f}{median_of(runs, 'job_25_s'):>16.1f}"
                f"{median_of(runs, 'peak_rss_mb'):>13.0f}"
            )
    lines.append("")
    for strategy, per_impl in results.items():
        tut, proj = per_impl["tutorial"], per_impl["project"]
        ratio = median_of(tut, "s_per_epoch") / median_of(proj, "s_per_epoch")
        job_ratio = median_of(tut, "job_25_s") / median_of(proj, "job_25_s")
        lines.append(
            f"{strategy}: {ratio:.2f}x faster per epoch, {job_ratio:.2f}x per 25-epoch job"
        )
    tutorial_total = sum(median_of(r["tutorial"], "job_25_s") for r in results.values())
    project_total = sum(median_of(r["project"], "job_25_s") for r in results.values())
    project_total += sum(eval_s.values())
    lines.append(
        f"end to end, {FULL_EPOCHS} epochs, {' + '.join(results)} (project incl. evaluate "
        f"{sum(eval_s.values()):.1f}s): tutorial {tutorial_total:.0f}s, project "
        f"{project_total:.0f}s, {tutorial_total / project_total:.2f}x faster"
    )
    return "\n".join(lines)


def main() -> None:
    args = get_args_parser().parse_args()
    with tempfile.TemporaryDirectory(prefix="tlpipe-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        data_dir, origin = prepare_data(args.data, workdir)
        results = {s: {impl: [] for impl in IMPLEMENTATIONS} for s in args.strategies}
        for rep in range(args.reps):
            order = IMPLEMENTATIONS if rep % 2 == 0 else IMPLEMENTATIONS[::-1]
            for strategy in args.strategies:
                for impl in order:
                    run = measure(impl, strategy, data_dir, args, workdir / f"{strategy}-{impl}")
                    results[strategy][impl].append(run)
                    print(
                        f"rep {rep + 1} {strategy:<16}{impl:<9}{run['s_per_epoch']:6.2f} s/epoch"
                        f"  job {run['job_s']:6.1f}s  peak RSS {run['peak_rss_mb']:5.0f} MB"
                        f"  epochs {[round(s, 1) for s in run['epochs']]}",
                        flush=True,
                    )
        eval_s = {
            s: evaluate_seconds(workdir / f"{s}-project", data_dir, args.threads)
            for s in args.strategies
        }
        print()
        print(report(results, eval_s, args, origin))
        if args.out:
            args.out.write_text(json.dumps({"runs": results, "evaluate_s": eval_s}, indent=2))


if __name__ == "__main__":
    main()
