"""Shared fixtures: generated datasets, weights, and throw-away copies of the project."""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
import yaml
from datagen import make_image_folder, make_weights, sha256, write_manifest, zip_tree

from tlpipe.config import validate_config
from tlpipe.cpus import usable_cpus
from tlpipe.runner import run_cli

REPO = Path(__file__).resolve().parents[1]
SHARED_ZIP = REPO.parent / "shared" / "data" / "hymenoptera_data.zip"
SHARED_ZIP_SHA256 = "c88c5b323050fb1e4e7dd286594da0e5d76e453d44b37a5c27b7b6daa74662dc"
# What the workflow needs to run: copied into a temporary folder per test, like a clone.
PROJECT_FILES = (
    "workflow", "config", "dvc.yaml", ".dvcignore", ".dvc", ".gitignore", "Makefile",
    "profiles", "slurm",
)  # fmt: skip


def venv_env() -> dict[str, str]:
    """Environment whose PATH finds this interpreter's `python`, `snakemake` and `dvc`."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("OMP_NUM_THREADS", None)
    return env


def run(cmd: list[str], cwd: Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run a command, returning its output; on an unexpected status show all of it.
    ``env`` (default: :func:`venv_env`) replaces the environment."""
    kwargs.setdefault("env", venv_env())
    if Path(cmd[0]).name in ("snakemake", "make"):
        ensure_slurm_controller()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, **kwargs)
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def the_one_error_line(stderr: str) -> str:
    """The one ERROR line a failed script writes, failing on a traceback or more lines."""
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1, stderr
    return errors[0]


def cli_error_line(script: str, *argv: str, timeout: int = 120) -> str:
    """Run ``workflow/scripts/<script>`` as a user would and return its one ERROR line,
    failing unless it exited 1 with exactly one such line and no traceback."""
    cmd = [sys.executable, f"workflow/scripts/{script}", *argv]
    result = run(cmd, cwd=REPO, check=False, timeout=timeout)
    assert result.returncode == 1, result.stderr
    return the_one_error_line(result.stderr)


def main_error_line(script: str, *argv: str) -> str:
    """:func:`cli_error_line` in this process: the script's own parser and ``main``
    under :func:`tlpipe.runner.run_cli`, what its ``__main__`` runs (saves starting an
    interpreter and importing torch; one test per runner path keeps the real process)."""
    module = importlib.import_module(Path(script).stem)
    handlers, level = logging.root.handlers[:], logging.root.level
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), pytest.raises(SystemExit) as exited:
            run_cli(module.main, module.get_args_parser().parse_args(list(argv)))
    finally:  # run_cli pointed logging at the captured stream
        logging.root.handlers[:], logging.root.level = handlers, level
    assert exited.value.code == 1, stderr.getvalue()
    return the_one_error_line(stderr.getvalue())


# snakemake-executor-plugin-slurm 2.8 runs `scontrol show config` while Snakemake loads its
# plugins, at every start; with SLURM installed (CI installs it for tests/test_slurm.py)
# and no controller up, that waits for its 10 s timeout, in every snakemake call of the
# suite (about 70). So the first snakemake call starts the test cluster, where this
# session may (root, ci/slurm/start.sh), and the session stops it again at its end. With
# pytest-xdist the workers share the start (a lock and a marker file in the folder the
# controlling process made, TEST_STATE_VAR) and only the controlling process stops it,
# once every worker is done.
SLURM_START, SLURM_STOP = REPO / "ci/slurm/start.sh", REPO / "ci/slurm/stop.sh"
TEST_STATE_VAR = "TLPIPE_TEST_STATE"
_slurm_checked: list[bool] = []  # [True] once this process has made sure


def is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if not is_xdist_worker(config):  # workers inherit the variable
        os.environ[TEST_STATE_VAR] = tempfile.mkdtemp(prefix="tlpipe-tests-")
    else:
        # One thread per worker for what runs in it (there is a worker per CPU; two
        # OpenMP teams on one CPU spin against each other: a 1-second test took 8). The
        # commands the tests start are left to decide for themselves (venv_env).
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


def pytest_unconfigure(config: pytest.Config) -> None:
    if is_xdist_worker(config) or TEST_STATE_VAR not in os.environ:
        return
    state = Path(os.environ.pop(TEST_STATE_VAR))
    if (state / "slurm-started").exists():
        subprocess.run([str(SLURM_STOP)], capture_output=True, timeout=300, check=False)
    shutil.rmtree(state, ignore_errors=True)


def ensure_slurm_controller() -> None:
    """Start the test cluster's controller once, if SLURM is installed and down."""
    if _slurm_checked:
        return
    _slurm_checked.append(True)
    if shutil.which("sinfo") is None or os.geteuid() != 0 or not SLURM_START.exists():
        return
    state = Path(os.environ[TEST_STATE_VAR])
    with (state / "slurm.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be starting it right now
        # (pgrep: sinfo too waits for its timeout when no controller answers)
        running = subprocess.run(["pgrep", "-x", "slurmctld"], capture_output=True, check=False)
        if running.returncode == 0:  # up already: leave it as it is
            return
        subprocess.run([str(SLURM_START)], capture_output=True, timeout=900, check=False)
        (state / "slurm-started").touch()


# pytest-xdist (`-n auto --dist loadscope` in pyproject.toml) hands out whole modules: a
# module's tests stay on one worker, so its module-scoped fixtures (a SLURM run, an
# agreement case) run once. The modules that read the shared `recorded_run` go to one
# worker together, so that it too runs once. (Not xdist_group marks: xdist 3.8 puts the
# group in the test's node id, which pytest 9.2 no longer lets it change: pytest-xdist#1386.)
# Workflow tests go first, the SLURM module (the longest, about three minutes) before all.
SHARED_RUN_MODULES = frozenset({"test_cpus.py", "test_dvc.py", "test_workflow.py"})
LONGEST_MODULE = "test_slurm.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        uses_shared_run = "recorded_run" in getattr(item, "fixturenames", ())
        if uses_shared_run and item.path.name not in SHARED_RUN_MODULES:
            raise pytest.UsageError(
                f"{item.nodeid} uses recorded_run: add {item.path.name} to "
                "SHARED_RUN_MODULES in tests/conftest.py"
            )
    items.sort(key=lambda item: (item.path.name != LONGEST_MODULE,
                                 item.get_closest_marker("workflow") is None))  # fmt: skip


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadscope` with the shared-run modules as one scope (else xdist's own)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "recorded_run" if Path(module).name in SHARED_RUN_MODULES else module

    return SharedRunScheduling(config, log)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: a worker per CPU this process may use, at most 4 (a workflow test's
    snakemake runs two jobs at a time; more workers would queue for the same CPUs)."""
    return max(1, min(4, usable_cpus()))


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory) -> Path:
    """A resnet18 state dict with seeded random weights (stands in for ImageNet's)."""
    return make_weights(tmp_path_factory.mktemp("weights") / "resnet18-test.pth")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> dict[str, Path | str]:
    """A zipped two-class ImageFolder tree (4 train + 3 val images per class) + manifest."""
    base = tmp_path_factory.mktemp("tiny")
    tree = make_image_folder(base / "tree" / "tiny")
    archive = zip_tree(base / "tree", base / "tiny.zip")
    manifest = write_manifest(tree, base / "tiny.sha256")
    return {"tree": tree, "archive": archive, "manifest": manifest, "sha256": sha256(archive)}


def tiny_config(dataset: dict, weights: Path, **overrides) -> dict:
    """A config for the generated dataset: small crops, 1 epoch, local weights."""
    config = {
        "data": {
            "url": str(dataset["archive"]),
            "sha256": dataset["sha256"],
            "name": "tiny",
            "manifest": str(dataset["manifest"]),
            "crop_size": 32,
            "resize_size": 36,
        },
        "model": {"weights": str(weights), "weights_sha256": sha256(weights)},
        "train": {"epochs": 1, "num_workers": 0},
        "seeds": [7],
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    return config


def copy_project(root: Path) -> Path:
    """Copy the workflow into ``root``, as a user's clone would have it."""
    root.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_symlink():  # e.g. the `slurm` profile link: keep it a link
            os.symlink(os.readlink(source), root / name)
        elif source.is_dir():
            skip = shutil.ignore_patterns("__pycache__", "tmp", "cache", "config.local")
            shutil.copytree(source, root / name, ignore=skip)
        elif source.exists():
            shutil.copy2(source, root / name)
    return root


@pytest.fixture
def project(tmp_path) -> Path:
    """A fresh copy of the workflow to run in."""
    return copy_project(tmp_path / "project")


def write_config(project: Path, config: dict, name: str = "test-config.yaml") -> Path:
    """Write a config file into the project copy and return its path."""
    path = project / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real snakemake in a project copy."""
    return run(["snakemake", *args], cwd=project, check=check)


def git(project: Path, *args: str) -> subprocess.CompletedProcess:
    """Run git in ``project`` with a throw-away identity."""
    return run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
               cwd=project)  # fmt: skip


def dvc(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real dvc in a project copy."""
    return run(["dvc", *args], cwd=project, check=check)


def make_repo(root: Path, config: dict, storage: Path | None = None) -> Path:
    """A git (+ DVC) repository of the project whose config/config.yaml is ``config``,
    committed, with DVC's remote pointed at ``storage`` (default: next to ``root``)."""
    project = copy_project(root)
    (project / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "project")
    storage = storage or root.parent / "dvc-storage"
    dvc(project, "remote", "modify", "--local", "local", "url", str(storage))
    return project


RECORDED_SEEDS = [7, 8]
RECORDED_CORES = 4


@pytest.fixture(scope="session")
def recorded_run(tmp_path_factory, tiny_dataset, weights_file) -> dict:
    """The one full run of the default pipeline that the workflow tests share: the
    tiny dataset, both default strategies x 2 seeds x 2 epochs, run by `snakemake
    --cores 4` (as `make run`: more cores than CI's two CPUs, which the workflow caps) in a
    git + DVC repository and recorded with `make dvc-record`.

    Read it, or dry-run against it; a test that changes it works on
    :func:`copy_of` it."""
    config = validate_config(
        tiny_config(tiny_dataset, weights_file, train={"epochs": 2}, seeds=RECORDED_SEEDS)
    )
    base = tmp_path_factory.mktemp("recorded")
    project = make_repo(base / "project", config, storage=base / "dvc-storage")
    result = snakemake(project, "--cores", str(RECORDED_CORES))
    run(["make", "dvc-record"], cwd=project)
    return {"project": project, "config": config, "result": result,
            "storage": base / "dvc-storage"}  # fmt: skip


def copy_of(project: Path, target: Path) -> Path:
    """A copy of a finished project with its files' times (so both runners still see it
    up to date) and its git and DVC state."""
    shutil.copytree(project, target, symlinks=True)  # copy2: times kept
    return target


def planned_jobs(project: Path, *args: str) -> dict[str, int]:
    """Rule name -> number of jobs `snakemake -n` would run (empty when up to date)."""
    result = snakemake(project, "-n", "--quiet", "rules", *args)
    jobs = {}
    for line in result.stdout.splitlines():
        words = line.split()
        if len(words) == 2 and words[1].isdigit() and words[0] != "total":
            jobs[words[0]] = int(words[1])
    return jobs


TIMING_KEYS = frozenset({"seconds", "total_seconds", "wall_seconds"})


def without_keys(value, keys=TIMING_KEYS):
    """A metrics document without the given keys (default: wall-clock times), recursively."""
    if isinstance(value, dict):
        return {k: without_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without_keys(v, keys) for v in value]
    return value
