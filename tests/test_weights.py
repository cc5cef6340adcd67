"""Weights follow the architecture: URL and hash from torchvision's registry; download.py
puts the starting weights in place for every model.weights."""

from __future__ import annotations

import download
import pytest
from datagen import sha256

from tlpipe.errors import PipelineError
from tlpipe.fileio import verify_sha256
from tlpipe.weights import expected_sha256, resolve_url

RESNET18_SHA256 = "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec"


def test_auto_url_and_hash_follow_the_architecture():
    assert resolve_url("auto", "resnet18") == (
        "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    )
    assert resolve_url("auto", "resnet50") == (
        "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    )
    assert resolve_url("/mirror/r50.pth", "resnet50") == "/mirror/r50.pth"
    # resnet18: the full hash this project recorded; others: torchvision's file-name prefix
    assert expected_sha256("auto", "auto", "resnet18") == RESNET18_SHA256
    assert expected_sha256("auto", "auto", "resnet50") == "0676ba61"
    assert expected_sha256("auto", "auto", "resnet34") == "b627a593"
    # a mirror named like torchvision's file: its prefix; an explicit hash or null: as given
    assert expected_sha256("auto", "file:///m/resnet50-0676ba61.pth", "resnet50") == "0676ba61"
    assert expected_sha256("auto", "/m/resnet18-f37072fd.pth", "resnet18") == RESNET18_SHA256
    assert expected_sha256("ab" * 32, "auto", "resnet50") == "ab" * 32
    assert expected_sha256(None, "auto", "resnet50") is None


def test_auto_hash_of_a_url_without_one_asks_for_the_hash():
    with pytest.raises(PipelineError, match=r"has no hash in its file name; set model\.weights"):
        expected_sha256("auto", "/mirror/weights.pth", "resnet18")


def test_a_hash_prefix_is_checked_as_a_prefix(tmp_path):
    path = tmp_path / "resnet50-0676ba61.pth"
    path.write_bytes(b"weights")
    digest = sha256(path)
    assert verify_sha256(path, digest[:8], "model.weights_sha256") == digest
    with pytest.raises(PipelineError, match=r"starting with 0676ba61 \(file-name prefix\)"):
        verify_sha256(path, "0676ba61", "model.weights_sha256")


def run_download(*argv: str) -> None:
    """download.py as the download_weights rule runs it (model.weights_ keys)."""
    argv = ("--arch", "resnet18", "--config-prefix", "model.weights_", *argv)
    download.main(download.get_args_parser().parse_args(list(argv)))


def test_download_weights_for_every_kind_of_model_weights(tmp_path, weights_file):
    out = tmp_path / "weights" / "resnet18.pth"
    # none: an empty placeholder, nothing fetched (the URL is not even looked at)
    run_download("--url", "auto", "--sha256", "auto", "--weights", "none", "--out", str(out))
    assert out.read_bytes() == b""
    # a local file: a verified copy of it (auto: no known hash for a local file)
    run_download("--url", "auto", "--sha256", "auto", "--weights", str(weights_file),
                 "--out", str(out))  # fmt: skip
    assert sha256(out) == sha256(weights_file)
    # IMAGENET1K_V1 from a local mirror under another name: auto has no hash to check then
    with pytest.raises(PipelineError, match="no hash in its file name"):
        run_download("--url", str(weights_file), "--sha256", "auto", "--out", str(out))
    run_download("--url", str(weights_file), "--sha256", sha256(weights_file), "--out", str(out))
    assert sha256(out) == sha256(weights_file)
