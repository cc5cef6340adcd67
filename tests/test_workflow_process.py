"""The Snakemake process itself: light (no torch while parsing) and typed `--config`."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from conftest import REPO, run, snakemake, venv_env, write_config

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


def shell_commands(project, *args: str) -> dict[str, list[list[str]]]:
    """Script name -> the words of each command `snakemake -n -p --forceall` plans."""
    out = snakemake(project, "-n", "-p", "--forceall", *args).stdout
    commands: dict[str, list[list[str]]] = {}
    for line in out.splitlines():
        if line.startswith("Shell command: python "):
            words = shlex.split(line.removeprefix("Shell command: "))
            commands.setdefault(Path(words[1]).name, []).append(words)
    return commands


def option(words: list[str], name: str) -> list[str]:
    """The values after ``--name`` up to the next option."""
    start = words.index(name) + 1
    end = next((i for i in range(start, len(words)) if words[i].startswith("--")), len(words))
    return words[start:end]


def test_config_flag_sets_every_type(project):
    """Nested numbers, booleans, null and lists given with --config reach the commands as
    the schema's types; strategies and seeds reach the report and predict as lists."""
    commands = shell_commands(
        project, "--config", "train={epochs: 2, lr: 1e-2, cache_images: false}",
        'export={"enabled": true}', "data={sha256: null, crop_size: 64, resize_size: 72}",
        "seeds=[1,2]", "strategies=[feature_extract, partial_finetune]",
    )  # fmt: skip
    train = commands["train.py"]
    assert len(train) == 4  # two strategies x two seeds
    assert {tuple(option(w, "--seed")) for w in train} == {("1",), ("2",)}
    words = next(w for w in train if option(w, "--seed") == ["1"] and "feature_extract" in w)
    assert option(words, "--epochs") == ["2"] and option(words, "--lr") == ["0.01"]
    assert "--no-cache_images" in words and "--cache_images" not in words
    assert option(words, "--crop-size") == ["64"] and option(words, "--resize-size") == ["72"]
    assert len(commands["export.py"]) == 4  # export.enabled: true
    (download_data,) = [w for w in commands["download.py"] if "--config-prefix" not in w]
    assert option(download_data, "--sha256") == ["None"]
    for script in ("report.py", "predict.py"):
        (runs,) = commands[script]
        assert option(runs, "--strategies") == ["feature_extract", "partial_finetune"]
        assert option(runs, "--seeds") == ["1", "2"]
    # the same settings in the same order as from a config file: no spurious params change
    configfile = write_config(project, {"train": {"epochs": 2, "lr": 0.01, "cache_images": False}})
    from_file = shell_commands(project, "--configfile", configfile.name)["train.py"][0]

    def settings(words: list[str]) -> list[str]:
        return words[words.index("--epochs") : words.index("--crop-size")]

    assert settings(from_file) == settings(words)


@pytest.mark.parametrize(
    ("given", "as_file"),
    [
        ("train={epochs: ten}", {"train": {"epochs": "ten"}}),
        ("seeds=[1,1]", {"seeds": [1, 1]}),
        ("strategies=[finetune, linear_probe]", {"strategies": ["finetune", "linear_probe"]}),
        ("export={enabled: maybe}", {"export": {"enabled": "maybe"}}),
    ],
)
def test_a_bad_config_flag_value_gets_the_config_file_message(project, given, as_file):
    def message(*args: str) -> list[str]:
        result = snakemake(project, "-n", *args, check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0 and "Traceback" not in output
        return [line for line in output.splitlines() if line.startswith("  ")][:1]

    from_flag = message("--config", given)
    from_file = message("--configfile", write_config(project, as_file).name)
    assert from_flag == from_file and from_flag, (from_flag, from_file)
