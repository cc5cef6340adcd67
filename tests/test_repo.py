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


RUNTIME_LOCK, DEV_LOCK = "requirements.lock", "requirements-dev.lock"
# what each lock is resolved from (requirements-dev.txt includes requirements.txt)
LOCK_INPUTS = {
    RUNTIME_LOCK: ("requirements.txt",),
    DEV_LOCK: ("requirements.txt", "requirements-dev.txt"),
}


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: str) -> dict[str, tuple[str, str, list[str]]]:
    """A lock file: package -> (version, environment marker, hashes)."""
    entries, name = {}, None
    for line in (REPO / lock).read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)\s*(?:;([^\\]*))?", line):
            name = normalised(match.group(1))
            entries[name] = (match.group(2), (match.group(3) or "").strip(), [])
        elif name and (digest := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            entries[name][2].append(digest.group(1))
    return entries


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK])
def test_lock_pins_every_requirement_with_hashes(lock):
    locked = locked_versions(lock)
    assert len(locked) > 100  # the whole tree, not just the direct requirements
    for requirements in LOCK_INPUTS[lock]:
        for pin in pins((REPO / requirements).read_text().splitlines()):
            name, version = pin.split("==")
            assert locked[normalised(name)][0] == version, f"{pin} in {requirements}, {lock}"
    assert all(hashes for _, _, hashes in locked.values())
    # the hashes PyPI publishes for the CPython 3.11 x86_64 wheels this machine installs
    assert TORCH_WHEEL_SHA256 in locked["torch"][2]
    assert TORCHVISION_WHEEL_SHA256 in locked["torchvision"][2]


def test_the_two_locks_agree():
    """`make run` and `make test` install the same versions of what they share: the runtime
    lock is the dev lock without the tools, pin for pin, hash for hash."""
    runtime, dev = locked_versions(RUNTIME_LOCK), locked_versions(DEV_LOCK)
    assert set(runtime) < set(dev)
    assert runtime == {name: dev[name] for name in runtime}
    assert not {"pytest", "pytest-timeout", "ruff", "snakefmt", "uv"} & set(runtime)


# PyPI's sha256 of torch-2.14.1-cp311-cp311-manylinux_2_28_x86_64.whl and
# torchvision-0.29.1-cp311-cp311-manylinux_2_28_x86_64.whl (its JSON simple API).
TORCH_WHEEL_SHA256 = "305a61f61f35f128579f299c5bd33d475f6a01c6307336139632e30856c4854d"
TORCHVISION_WHEEL_SHA256 = "2cb678029a5dd45afbbfa662fce49736827d52be33242b5a8a731e0db02ccdf5"


def test_package_docstring_names_every_module():
    """tlpipe's docstring is the library's map: a module missing from it is hard to find."""
    package = REPO / "workflow/scripts/tlpipe"
    modules = {path.stem for path in package.glob("*.py")} - {"__init__"}
    described = set(re.findall(r":mod:`tlpipe\.(\w+)`", (package / "__init__.py").read_text()))
    assert modules - described == set(), "add them to tlpipe/__init__.py's list"
    assert described - modules == set(), "the list names modules that do not exist"
