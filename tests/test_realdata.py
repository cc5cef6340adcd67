"""The real hymenoptera images (shared mirror): extraction, manifest and counts."""

from __future__ import annotations

import json

import pytest
from conftest import SHARED_ZIP, SHARED_ZIP_SHA256, snakemake, write_config

pytestmark = [
    pytest.mark.workflow,
    pytest.mark.realdata,
    pytest.mark.skipif(not SHARED_ZIP.is_file(), reason=f"dataset mirror {SHARED_ZIP} absent"),
]


def test_prepare_real_dataset(project):
    """The mirror's 398 files match the committed manifest; counts as published."""
    config = {
        "data": {"url": str(SHARED_ZIP), "sha256": SHARED_ZIP_SHA256},
        "model": {"weights": "none"},
        "train": {"epochs": 1},
    }
    configfile = write_config(project, config)
    snakemake(project, "metrics/data_quality.json", "--cores", "2", "--configfile", configfile.name)
    quality = json.loads((project / "metrics/data_quality.json").read_text())
    assert quality["classes"] == ["ants", "bees"]
    assert quality["files_total"] == 398
    assert quality["counts"]["train"] == {"ants": 123, "bees": 121, "total": 244}
    assert quality["counts"]["val"] == {"ants": 70, "bees": 83, "total": 153}
    assert [s["path"] for s in quality["skipped"]] == ["train/ants/imageNotFound.gif"]
    assert quality["unreadable"] == []
    assert quality["manifest"] == "config/manifests/hymenoptera_data.sha256"
    assert quality["archive"]["sha256"] == SHARED_ZIP_SHA256
    assert (project / "data/hymenoptera_data/train/ants/0013035.jpg").stat().st_size > 0
