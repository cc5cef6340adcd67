#!/usr/bin/env python
"""Seconds per training epoch of every architecture x strategy, on a real dataset.

    python benchmarks/arch_benchmark.py --data-dir data/hymenoptera_data --epochs 1 \\
        --archs resnet18 mobilenet_v3_large efficientnet_b0 convnext_tiny --out timing.json

Runs ``train.py`` as the training rules do (settings from config/config.yaml, input
sizes from each architecture's weights metadata) with random initial weights (the speed
does not depend on them), one after the other with ``--threads`` threads, and reads the
per-epoch seconds from each run's train.json (image decoding, done once per job, and
validation are reported apart). A measurement, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from tlpipe.architectures import ARCHS  # noqa: E402
from tlpipe.cli import command_line  # noqa: E402
from tlpipe.config import validate_config  # noqa: E402
from tlpipe.strategies import STRATEGIES  # noqa: E402


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--data-dir", type=Path, required=True, help="ImageFolder root with train/ and val/")
    add("--archs", nargs="+", default=list(ARCHS), choices=list(ARCHS), help="architectures")
    add("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    add("--epochs", type=int, default=1, help="epochs per run (default: 1)")
    add("--threads", type=int, default=2, help="threads per run (default: 2)")
    add("--out", type=Path, default=None, help="also write the measurements to this JSON")
    return parser


def time_run(args: argparse.Namespace, arch: str, strategy: str, workdir: Path) -> dict:
    config = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    out = workdir / f"{arch}-{strategy}"
    cmd = [
        sys.executable, str(REPO / "workflow/scripts/train.py"), "--data-dir", str(args.data_dir),
        "--strategy", strategy, "--seed", "1", "--arch", arch, "--weights", "none",
        *shlex.split(command_line({**config["train"], "epochs": args.epochs})),
        "--threads", str(args.threads), "--out-model", str(out / "model.pt"),
        "--out-metrics", str(out / "train.json"), "--resume-dir", str(out / "resume"),
    ]  # fmt: skip
    tick = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - tick
    history = json.loads((out / "train.json").read_text())["history"]
    seconds = [epoch["seconds"] for epoch in history]
    return {"arch": arch, "strategy": strategy, "epoch_s": sum(seconds) / len(seconds),
            "job_s": round(wall, 1), "val_acc": history[-1]["val_acc"]}  # fmt: skip


def main(args: argparse.Namespace) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for arch in args.archs:
            for strategy in args.strategies:
                row = time_run(args, arch, strategy, Path(scratch))
                rows.append(row)
                print(f"{arch:<20} {strategy:<17} {row['epoch_s']:7.1f} s/epoch  "
                      f"(job {row['job_s']:.0f} s)", flush=True)  # fmt: skip
    print("\n| architecture | " + " | ".join(args.strategies) + " |")
    print("|---|" + "---|" * len(args.strategies))
    for arch in args.archs:
        cells = [f"{r['epoch_s']:.1f}" for s in args.strategies for r in rows
                 if (r["arch"], r["strategy"]) == (arch, s)]  # fmt: skip
        print(f"| {arch} | " + " | ".join(cells) + " |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main(get_args_parser().parse_args())
