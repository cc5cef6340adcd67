"""Same seed, same result; provenance recorded; resume after a real kill; no stale resume.

Training runs in this process where a property of one run is checked, and as its own
process where a process is what the test is about (a kill, a fresh interpreter)."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import train
from conftest import REPO, TIMING_KEYS, venv_env, without_keys
from datagen import make_image_folder, sha256

from tlpipe import provenance

pytestmark = pytest.mark.workflow

TRAIN = REPO / "workflow" / "scripts" / "train.py"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Enough images that an epoch takes a moment (so a kill lands mid-run)."""
    return make_image_folder(tmp_path_factory.mktemp("repro") / "data", n_train=24, n_val=6)


def train_cmd(data_dir: Path, out: Path, weights: Path, *, epochs=3, lr="0.001", workers=None):
    """train.py's command line (the interpreter and script first)."""
    return [
        sys.executable, str(TRAIN), "--data-dir", str(data_dir), "--strategy", "finetune",
        "--weights", str(weights), "--weights-sha256", sha256(weights), "--epochs", str(epochs),
        "--lr", lr, "--step-size", "2", "--seed", "11", "--crop-size", "32",
        "--resize-size", "36", "--threads", "2",
        # workers: decode in DataLoader worker processes (no cache) to test their seeding
        *(["--no-cache-images", "--num-workers", str(workers)] if workers else []),
        "--device", "cpu", "--out-model", str(out / "model.pt"),
        "--out-metrics", str(out / "train.json"), "--resume-dir", str(out / "resume"),
    ]  # fmt: skip


def train_here(cmd: list[str]) -> None:
    """Run ``cmd``'s training in this process (no interpreter start, no torch import)."""
    train.main(train.get_args_parser().parse_args(cmd[2:]))


def run_training(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=venv_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def assert_same_training(a: Path, b: Path) -> None:
    """Bitwise-identical best checkpoints and identical metrics (timing aside)."""
    ckpt_a = torch.load(a / "model.pt", weights_only=True)
    ckpt_b = torch.load(b / "model.pt", weights_only=True)
    assert ckpt_a["state_dict"].keys() == ckpt_b["state_dict"].keys()
    for key, tensor in ckpt_a["state_dict"].items():
        assert torch.equal(tensor, ckpt_b["state_dict"][key]), key
    assert ckpt_a["epoch"] == ckpt_b["epoch"] and ckpt_a["val_acc"] == ckpt_b["val_acc"]
    metrics_a = json.loads((a / "train.json").read_text())
    metrics_b = json.loads((b / "train.json").read_text())
    # peak memory is the process's, which an earlier run in the same process raised
    measured = TIMING_KEYS | {"peak_rss_mb"}
    assert without_keys(metrics_a, measured) == without_keys(metrics_b, measured)


@pytest.mark.parametrize("workers", [None, 2], ids=["cached", "2-workers"])
def test_same_seed_gives_identical_checkpoints_and_metrics(tmp_path, data_dir, weights_file,
                                                           workers):  # fmt: skip
    runs = [tmp_path / "a", tmp_path / "b"]
    for out in runs:
        train_here(train_cmd(data_dir, out, weights_file, epochs=2, workers=workers))
    assert_same_training(*runs)
    assert_provenance(runs[0], weights_file)


def assert_provenance(out: Path, weights_file: Path) -> None:
    """The checkpoint and the metrics say which code, libraries, data and weights made them."""
    checkpoint = torch.load(out / "model.pt", weights_only=True)
    metrics = json.loads((out / "train.json").read_text())
    for prov in (checkpoint["provenance"], metrics["provenance"]):
        assert len(prov["git"]["commit"]) == 40 and isinstance(prov["git"]["dirty"], bool)
        assert prov["python"] == ".".join(map(str, sys.version_info[:3]))
        assert prov["torch"] == str(torch.__version__)
        assert prov["device"] == "cpu" and prov["threads"] == 2 and prov["seed"] == 11
        assert len(prov["config_sha256"]) == 64 and len(prov["dataset_sha256"]) == 64
        assert prov["weights_sha256"] == sha256(weights_file)
    assert checkpoint["config"]["lr"] == 0.001 and checkpoint["class_names"] == ["ants", "bees"]


def wait_for_epoch(resume: Path, process: subprocess.Popen, epoch: int, timeout=120) -> int:
    """Poll the resumable state until it holds ``epoch`` completed epochs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "training ended before it could be killed"
        if (resume / "last.pt").exists():
            try:
                done = torch.load(resume / "last.pt", weights_only=True)["epoch"]
            except Exception:  # being replaced right now: poll again
                done = 0
            if done >= epoch:
                return done
        time.sleep(0.05)
    raise AssertionError("no resumable state written in time")


def test_killed_training_resumes_and_ends_like_an_uninterrupted_run(tmp_path, data_dir,
                                                                    weights_file):  # fmt: skip
    """SIGKILL (nothing runs on the way out; a SIGTERM takes the same path): the rerun, a
    fresh process, resumes after the last completed epoch and ends bit-identical to an
    uninterrupted run (in this process)."""
    epochs = 4
    reference = tmp_path / "reference"
    train_here(train_cmd(data_dir, reference, weights_file, epochs=epochs))

    killed = tmp_path / "killed"
    cmd = train_cmd(data_dir, killed, weights_file, epochs=epochs)
    process = subprocess.Popen(cmd, cwd=tmp_path, env=venv_env(), stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        done = wait_for_epoch(killed / "resume", process, epoch=1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        process.kill()
    assert process.returncode != 0
    assert not (killed / "model.pt").exists()  # no half-written output
    assert 1 <= done < epochs

    rerun = run_training(cmd, tmp_path)
    resumed_at = int(rerun.stderr.split("after epoch ")[1].split()[0])
    assert resumed_at >= done
    assert f"epoch {resumed_at}/{epochs}" not in rerun.stderr  # completed epochs not redone
    assert f"epoch {epochs}/{epochs}" in rerun.stderr
    assert_same_training(reference, killed)
    assert not (killed / "resume" / "last.pt").exists()


def test_the_resume_key_follows_the_training_settings_only(data_dir, weights_file):
    """A resumable state is used only under the settings that wrote it (the check itself,
    and starting over, are tests/test_checkpoints.py's): the key changes with a training
    setting such as lr, and not with how the run is executed (device, workers, cache)."""

    def key(**changes) -> str:
        cmd = train_cmd(data_dir, Path("out"), weights_file, epochs=4)
        args = train.get_args_parser().parse_args(cmd[2:])
        return provenance.config_hash(train.training_config(argparse.Namespace(**{
            **vars(args), **changes})))  # fmt: skip

    assert key() == key(device="cuda", num_workers=4, cache_images=False)
    for setting, value in {"lr": 0.01, "momentum": 0.5, "epochs": 5, "seed": 12,
                           "strategy": "feature_extract", "batch_size": 8}.items():  # fmt: skip
        assert key(**{setting: value}) != key(), setting
