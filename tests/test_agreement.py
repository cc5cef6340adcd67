"""Any config the schema accepts runs under both runners, and each agrees with the other.

For every case: `dvc.yaml` and the Snakefile give the same commands (no edit to
`dvc.yaml`); a Snakemake run recorded with `make dvc-record` leaves `dvc status` clean and
`dvc repro` with nothing to do; and `dvc repro` from scratch, recorded with
`make snakemake-record`, leaves `snakemake -n` with nothing to do.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
import yaml
from conftest import REPO, copy_project, planned_jobs, run, snakemake
from datagen import make_weights, sha256
from test_dvc import dvc, dvc_commands, git, snakemake_commands

from tlpipe.config import validate_config

pytestmark = pytest.mark.workflow


def own_dataset_case(base: Path) -> dict:
    """A user's own 3-class dataset: tar.gz behind a file:// URL, another name, no
    manifest, random initial weights, one strategy, one seed."""
    return {
        "data": {"url": (REPO / ".test/resources/shapes.tar.gz").resolve().as_uri(),
                 "sha256": None, "name": "shapes", "manifest": None,
                 "crop_size": 16, "resize_size": 20},
        "model": {"weights": "none"},
        "train": {"epochs": 1, "num_workers": 0},
        "seeds": [3],
        "strategies": ["feature_extract"],
    }  # fmt: skip


def local_weights_case(base: Path) -> dict:
    """Another architecture with a local weights file, the two strategies that train
    the backbone (one of them partial), an uncompressed tar under a local path with its
    archive hash, non-default training settings. (Several seeds: the default config of
    tests/test_dvc.py.)

    fp32 and a lower rate because random "pretrained" weights are not trained ones: with
    them, three steps at lr 0.001 move conv1 by 3.0 and the val loss reaches ~5e5, which
    bf16 turned into NaN on CI's CPU (and train.py then stops, as it must)."""
    weights = make_weights(base / "my-resnet34.pth", arch="resnet34")
    archive = base / "shapes.tar"
    with tarfile.open(REPO / ".test/resources/shapes.tar.gz") as source, \
            tarfile.open(archive, "w") as target:  # fmt: skip
        for member in source.getmembers():
            target.addfile(member, source.extractfile(member) if member.isfile() else None)
    return {
        "data": {"url": str(archive), "sha256": sha256(archive), "name": "shapes2",
                 "manifest": None, "crop_size": 16, "resize_size": 20},
        "model": {"arch": "resnet34", "weights": str(weights), "weights_sha256": sha256(weights)},
        "train": {"epochs": 1, "num_workers": 0, "precision": "fp32", "lr": 0.0001,
                  "cache_images": False},
        "seeds": [2],
        "strategies": ["finetune", "partial_finetune"],
    }  # fmt: skip


CASES = {"own-dataset": own_dataset_case, "local-weights-resnet34": local_weights_case}


@pytest.fixture(params=list(CASES), scope="module")
def case(request, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp(request.param)
    return {"name": request.param, "config": validate_config(CASES[request.param](base))}


def n_stages(config: dict) -> int:
    """download_data, download_weights, prepare_data, report, predict, and train and
    evaluate per (strategy, seed)."""
    return 5 + 2 * len(config["strategies"]) * len(config["seeds"])


def make_project(root: Path, config: dict) -> Path:
    """A git repository of the project whose config/config.yaml is ``config``."""
    project = copy_project(root)
    (project / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "project")
    return project


def test_same_commands_without_editing_dvc_yaml(tmp_path, case):
    project = make_project(tmp_path / "p", case["config"])
    from_snakemake, from_dvc = snakemake_commands(project), dvc_commands(project)
    assert set(from_snakemake) == set(from_dvc), "command lines differ"
    for command, (stage, outs) in from_dvc.items():
        assert from_snakemake[command] == (stage, outs), stage
    assert len(from_dvc) == n_stages(case["config"])


def test_snakemake_then_dvc_agree(tmp_path, case):
    project = make_project(tmp_path / "p", case["config"])
    snakemake(project, "--cores", "2")
    run(["make", "dvc-record"], cwd=project)
    status = dvc(project, "status", "--json").stdout
    assert json.loads(status or "{}") == {}, status
    repro = dvc(project, "repro").stdout
    assert "Running stage" not in repro and "up to date" in repro
    assert planned_jobs(project) == {}
    comparison = json.loads((project / "metrics/comparison.json").read_text())
    assert set(comparison["strategies"]) == set(case["config"]["strategies"])


def test_dvc_then_snakemake_agree(tmp_path, case):
    project = make_project(tmp_path / "p", case["config"])
    repro = dvc(project, "repro", "--no-run-cache").stdout
    assert repro.count("Running stage") == n_stages(case["config"]) + 1  # + validate_config
    run(["make", "snakemake-record"], cwd=project)
    assert planned_jobs(project) == {}
    assert dvc(project, "status", "--quiet", check=False).returncode == 0
