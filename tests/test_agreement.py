"""Any config the schema accepts runs under both runners, and each agrees with the other.

For every case: `dvc.yaml` and the Snakefile give the same commands (no edit to
`dvc.yaml`); then the case runs under one runner and is recorded for the other, which
finds nothing to do: a Snakemake run recorded with `make dvc-record` leaves `dvc status`
clean and `dvc repro` with nothing to do, or `dvc repro` from scratch, recorded with
`make snakemake-record`, leaves `snakemake -n` with nothing to do. The cases take turns
at which runner goes first (the commands being the same words, the order is about the
records, not the values): one goes Snakemake first (as does the default config of
tests/test_dvc.py), one DVC first, where a config change after the record must then
read as the same runs to both.
"""

from __future__ import annotations

import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote

import pandas as pd
import pytest
import yaml
from conftest import REPO, dvc, make_repo, planned_jobs, run, snakemake
from datagen import make_image_folder, make_weights, sha256, write_manifest, zip_tree
from test_dvc import dvc_commands, snakemake_commands

from tlpipe.config import validate_config

pytestmark = pytest.mark.workflow


def local_weights_case(base: Path) -> dict:
    """A user's own 3-class dataset as an uncompressed tar behind a file:// URL, with its
    archive hash and no manifest; another architecture with a local weights file; the
    two strategies that train the backbone (one of them partial); non-default training
    settings. (Random initial weights, tar.gz and a relative path: the `.test/` run of
    tests/test_workflow.py; several seeds: the default config of tests/test_dvc.py.)

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
        "data": {"url": archive.resolve().as_uri(), "sha256": sha256(archive), "name": "shapes2",
                 "manifest": None, "crop_size": 16, "resize_size": 20},
        "model": {"arch": "resnet34", "weights": str(weights), "weights_sha256": sha256(weights)},
        "train": {"epochs": 1, "num_workers": 0, "precision": "fp32", "lr": 0.0001,
                  "cache_images": False},
        "seeds": [2],
        "strategies": ["finetune", "partial_finetune"],
    }  # fmt: skip


# Class folders and paths that mean something to a shell or to HTML. (No single quote in
# the values dvc.yaml quotes, which the schema refuses; predict.input may hold one.)
AWKWARD_CLASSES = ("<img src=x onerror=alert(1)>", 'bees & "wasps" $HOME; `id`')
AWKWARD_DIR = 'my data "v2" & co; $HOME `id` (1)'
# A signed download URL: the server answers only this exact query.
SIGNED_QUERY = "sig=a%2Bb%3D&expires=1700000000&user=$USER&cmd=$(id);x=`id`"


class SignedFiles(BaseHTTPRequestHandler):
    """Serves ``files[path]`` for a GET of exactly that path and query (compared
    percent-decoded: the client encodes the space and the backquotes), else 403."""

    files: ClassVar[dict[str, bytes]] = {}

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        body = self.files.get(unquote(self.path))
        self.send_response(200 if body is not None else 403)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")


@pytest.fixture(scope="module")
def signed_server():
    """An http server for signed URLs; yields a function that publishes a file."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SignedFiles)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()

    def publish(path: Path) -> str:
        target = f"/get/{path.name}?{SIGNED_QUERY}"
        SignedFiles.files[unquote(target)] = path.read_bytes()
        return f"http://127.0.0.1:{httpd.server_address[1]}{target}"

    yield publish
    httpd.shutdown()
    httpd.server_close()


def awkward_values_case(base: Path, publish) -> dict:
    """Every free-form value with characters a shell reads: the archive behind a signed
    URL (?a=1&b=2, $, backquotes), the manifest and the weights in a folder with spaces,
    double quotes, & ; $ and backquotes, class folders named like markup and shell code,
    and a predict.input folder holding a single quote too."""
    folder = base / AWKWARD_DIR
    tree = make_image_folder(base / "tree" / "odd", AWKWARD_CLASSES, n_train=2, n_val=2)
    archive = zip_tree(base / "tree", base / "odd names.zip")
    manifest = write_manifest(tree, _mkdir(folder) / "odd manifest.sha256")
    weights = make_weights(folder / 'my "resnet18" weights.pth')
    photos = make_image_folder(base / "new photos" / 'it\'s "here" & $HOME', ("x",), 1, 0)
    return {
        "data": {"url": publish(archive), "sha256": sha256(archive), "name": "odd",
                 "manifest": str(manifest), "crop_size": 16, "resize_size": 20},
        "model": {"weights": str(weights), "weights_sha256": sha256(weights)},
        "train": {"epochs": 1, "num_workers": 0},
        "predict": {"input": str(photos)},
        "seeds": [5],
        "strategies": ["feature_extract"],
    }  # fmt: skip


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# case -> (its config, the runner that goes first)
CASES = {"own-dataset-local-weights": (local_weights_case, "snakemake"),
         "awkward-values": (awkward_values_case, "dvc")}  # fmt: skip


@pytest.fixture(params=list(CASES), scope="module")
def case(request, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp(request.param)
    make_config, first = CASES[request.param]
    if request.param == "awkward-values":
        config = make_config(base, request.getfixturevalue("signed_server"))
    else:
        config = make_config(base)
    return {"name": request.param, "config": validate_config(config), "first": first}


def n_stages(config: dict) -> int:
    """download_data, download_weights, prepare_data, report, predict, and train and
    evaluate per (strategy, seed)."""
    return 5 + 2 * len(config["strategies"]) * len(config["seeds"])


def check_values_arrived(project: Path, config: dict) -> None:
    """The awkward values reached the scripts as they are, and the pages show them as text."""
    strategy, seed = config["strategies"][0], config["seeds"][0]
    train = json.loads((project / f"metrics/runs/{strategy}/seed{seed}/train.json").read_text())
    assert train["class_names"] == sorted(AWKWARD_CLASSES)
    quality = json.loads((project / "metrics/data_quality.json").read_text())
    assert set(quality["counts"]["val"]) == {*AWKWARD_CLASSES, "total"}
    predictions = pd.read_csv(project / f"predictions/{strategy}.csv")
    # the one image of the folder named it's "here" & $HOME, classified
    assert list(predictions.path) == [f"{config['predict']['input']}/train/x/x_0.jpg"]
    assert set(predictions.predicted) <= set(AWKWARD_CLASSES)
    html = (project / "reports/comparison.html").read_text()
    assert AWKWARD_CLASSES[0] not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_same_commands_without_editing_dvc_yaml(tmp_path, case):
    project = make_repo(tmp_path / "p", case["config"])
    from_snakemake, from_dvc = snakemake_commands(project), dvc_commands(project)
    assert set(from_snakemake) == set(from_dvc), "command lines differ"
    for command, (stage, outs) in from_dvc.items():
        assert from_snakemake[command] == (stage, outs), stage
    assert len(from_dvc) == n_stages(case["config"])


def test_the_other_runner_has_nothing_to_do(tmp_path, case):
    project = make_repo(tmp_path / "p", case["config"])
    if case["first"] == "snakemake":
        snakemake_then_dvc(project, case["config"])
    else:
        dvc_then_snakemake(project, case["config"])
    if case["name"] == "awkward-values":
        check_values_arrived(project, case["config"])


def snakemake_then_dvc(project: Path, config: dict) -> None:
    snakemake(project, "--cores", "2")
    run(["make", "dvc-record"], cwd=project)
    status = dvc(project, "status", "--json").stdout
    assert json.loads(status or "{}") == {}, status
    repro = dvc(project, "repro").stdout
    assert "Running stage" not in repro and "up to date" in repro
    assert planned_jobs(project) == {}
    comparison = json.loads((project / "metrics/comparison.json").read_text())
    assert set(comparison["strategies"]) == set(config["strategies"])


def dvc_then_snakemake(project: Path, config: dict) -> None:
    repro = dvc(project, "repro", "--no-run-cache").stdout
    assert repro.count("Running stage") == n_stages(config) + 1  # + validate_config
    run(["make", "snakemake-record"], cwd=project)
    assert planned_jobs(project) == {}
    assert dvc(project, "status", "--quiet", check=False).returncode == 0
    comparison = json.loads((project / "metrics/comparison.json").read_text())
    assert set(comparison["strategies"]) == set(config["strategies"])
    # and after the record, a config change is seen by both runners alike
    changed = {**config, "train": {**config["train"], "lr": config["train"]["lr"] * 10}}
    (project / "config/config.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
    runs = [(s, k) for s in config["strategies"] for k in config["seeds"]]
    jobs = planned_jobs(project)
    assert {rule: n for rule, n in jobs.items() if rule.startswith("train_")} == {
        f"train_{s}": len(config["seeds"]) for s in config["strategies"]
    }
    status = set(json.loads(dvc(project, "status", "--json").stdout or "{}"))
    assert status == {"validate_config", *(f"train@{s}-{k}" for s, k in runs)}
