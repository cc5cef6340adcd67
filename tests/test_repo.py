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


RUNNERS = ("snakemake==", "snakemake-executor-plugin-slurm==", "dvc==")


def test_conda_env_is_what_the_jobs_import():
    """The jobs' environment: requirements.txt's pins without the runners."""
    env = yaml.safe_load((REPO / "workflow/envs/pytorch.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    requirements = pins((REPO / "requirements.txt").read_text().splitlines())
    assert pins(pip_section) == [p for p in requirements if not p.startswith(RUNNERS)]
    assert "torch==2.14.1" in requirements and "torchvision==0.29.1" in requirements


def locked_versions() -> dict[str, tuple[str, list[str]]]:
    """requirements.lock: package -> (version, hashes)."""
    entries, name = {}, None
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)", line):
            name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
            entries[name] = (match.group(2), [])
        elif name and (digest := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            entries[name][1].append(digest.group(1))
    return entries


def test_lock_pins_every_requirement_with_hashes():
    locked = locked_versions()
    assert len(locked) > 100  # the whole tree, not just the direct requirements
    for requirements in ("requirements.txt", "requirements-dev.txt"):
        for pin in pins((REPO / requirements).read_text().splitlines()):
            name, version = pin.split("==")
            name = re.sub(r"[-_.]+", "-", name).lower()
            assert locked[name][0] == version, f"{pin} in {requirements}, lock: {locked[name]}"
    assert all(hashes for _, hashes in locked.values())
    # the hashes PyPI publishes for the CPython 3.11 x86_64 wheels this machine installs
    assert TORCH_WHEEL_SHA256 in locked["torch"][1]
    assert TORCHVISION_WHEEL_SHA256 in locked["torchvision"][1]


# PyPI's sha256 of torch-2.14.1-cp311-cp311-manylinux_2_28_x86_64.whl and
# torchvision-0.29.1-cp311-cp311-manylinux_2_28_x86_64.whl (its JSON simple API).
TORCH_WHEEL_SHA256 = "305a61f61f35f128579f299c5bd33d475f6a01c6307336139632e30856c4854d"
TORCHVISION_WHEEL_SHA256 = "2cb678029a5dd45afbbfa662fce49736827d52be33242b5a8a731e0db02ccdf5"
