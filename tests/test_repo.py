"""Repository hygiene: linters clean, pins consistent, layout as documented."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import REPO, run


def pins(lines):
    return sorted(line.strip() for line in lines if re.match(r"^\s*[A-Za-z0-9_.-]+==", line))


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["snakefmt", "--check", "."],
    ],
    ids=["ruff-check", "ruff-format", "snakefmt"],
)
def test_linters_clean(command):
    run(command, cwd=REPO)


@pytest.mark.workflow
def test_snakemake_lint_clean():
    result = run(["snakemake", "--lint"], cwd=REPO)
    assert "Congratulations" in result.stdout + result.stderr


def test_conda_env_matches_requirements():
    env = yaml.safe_load((REPO / "workflow/envs/pytorch.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    requirements = (REPO / "requirements.txt").read_text().splitlines()
    assert pins(pip_section) == pins(requirements)
    assert "torch==2.14.1" in pins(requirements) and "torchvision==0.29.1" in pins(requirements)


def test_snakefile_is_thin():
    snakefile = (REPO / "Snakefile").read_text()
    assert len(snakefile.splitlines()) < 40
    assert "min_version(" in snakefile and 'configfile: "config/config.yaml"' in snakefile
    for stage in ("common", "download", "data", "train", "evaluate", "report"):
        assert f'include: "workflow/rules/{stage}.smk"' in snakefile
