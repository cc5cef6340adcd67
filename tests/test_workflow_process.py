"""The Snakemake process itself: light (no torch while parsing) and typed `--config`."""

from __future__ import annotations

import sys

import pytest
from conftest import REPO, run, venv_env

pytestmark = pytest.mark.workflow

# Put first on PYTHONPATH, this makes `import torch` and `import torchvision` fail in
# every Python process that starts with it, as in a Snakemake installed without them.
NO_TORCH = """\
import sys

for name in ("torch", "torchvision"):
    sys.modules[name] = None  # `import torch` now raises ImportError
"""


@pytest.fixture
def without_torch(tmp_path) -> dict[str, str]:
    """An environment whose Python processes cannot import torch or torchvision."""
    site = tmp_path / "no_torch"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_TORCH)
    env = venv_env()
    env["PYTHONPATH"] = str(site)
    check = [sys.executable, "-c", "import torch"]
    assert run(check, cwd=tmp_path, check=False, env=env).returncode != 0
    return env


def test_the_workflow_helpers_import_no_torch():
    """What common.smk imports from the library leaves torch and torchvision unloaded."""
    imports = [
        line.strip()
        for line in (REPO / "workflow/rules/common.smk").read_text().splitlines()
        if line.startswith(("from tlpipe", "import tlpipe"))
    ]
    assert len(imports) >= 4
    code = "\n".join([*imports, "import sys", "print(sorted(sys.modules))"])
    result = run([sys.executable, "-c", code], cwd=REPO / "workflow/scripts")
    loaded = {name.split(".")[0] for name in result.stdout.split("'")}
    assert not loaded & {"torch", "torchvision", "numpy", "PIL"}, loaded


@pytest.mark.parametrize("args", [["-n"], ["--lint"]], ids=["dry-run", "lint"])
def test_snakemake_parses_the_workflow_without_torch(without_torch, args):
    """A Snakemake without torch (--software-deployment-method conda: the jobs get
    torch from workflow/envs/pytorch.yaml) plans the default config."""
    result = run(["snakemake", *args], cwd=REPO, env=without_torch)
    output = result.stdout + result.stderr
    if args == ["-n"]:
        assert "train_finetune" in output and "report" in output
    assert "Traceback" not in output
