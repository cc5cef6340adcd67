"""DVC and Snakemake run the same pipeline and agree about what is up to date.

Real `dvc` and `snakemake` commands on a tiny generated dataset, in a git repository
made from a copy of the project whose config/config.yaml points at the generated data.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import (
    RECORDED_SEEDS,
    REPO,
    copy_of,
    dvc,
    git,
    make_repo,
    planned_jobs,
    run,
    snakemake,
)
from datagen import sha256

from tlpipe.config import validate_config
from tlpipe.deps import library_modules, project_relative

pytestmark = pytest.mark.workflow

# Every file DVC versions (cached outs and git-tracked metrics) after a full run.
OUTPUTS = [
    "data/config.valid",
    "data/raw/tiny.archive",
    "data/weights/resnet18.pth",
    "data/tiny/train/ants/ants_0.jpg",
    "metrics/data_quality.json",
    "models/finetune/seed7/model.pt",
    "models/feature_extract/seed8/model.pt",
    "metrics/runs/finetune/seed8/train.json",
    "metrics/runs/feature_extract/seed7/eval.json",
    "metrics/runs/feature_extract/seed8/predictions.csv",
    "metrics/summary.csv",
    "metrics/comparison.json",
    "reports/comparison.html",
    "reports/figures/strip_plot.png",
]
SEEDS = RECORDED_SEEDS
# Stages: download_data, download_weights, prepare_data, report, predict, and train and
# evaluate for every (strategy, seed); and DVC's own first one, validate_config (Snakemake
# validates while it parses).
N_STAGES = 5 + 2 * 2 * len(SEEDS)
DVC_ONLY = {"validate_config"}
TRAIN_STAGES = {f"train@{s}-{k}" for s in ("finetune", "feature_extract") for k in SEEDS}
LOG_REDIRECT = re.compile(r"\s*>\s*\S+\s+2>&1\s*$")


@pytest.fixture(scope="module")
def sources(tmp_path_factory, tiny_dataset, weights_file) -> dict:
    """The tiny dataset's archive, manifest and weights, and a folder for the DVC remote."""
    base = tmp_path_factory.mktemp("sources")
    return {"archive": tiny_dataset["archive"], "manifest": tiny_dataset["manifest"],
            "weights": weights_file,
            "storage": base / "dvc-storage"}  # fmt: skip


def make_dvc_project(root: Path, sources: dict, seeds: list[int] = SEEDS) -> Path:
    """A git + DVC repository of the project, its config pointing at the tiny data."""
    config = validate_config({
        "data": {"url": str(sources["archive"]), "sha256": sha256(sources["archive"]),
                 "name": "tiny", "manifest": str(sources["manifest"]),
                 "crop_size": 32, "resize_size": 36},
        "model": {"weights_url": str(sources["weights"]),
                  "weights_sha256": sha256(sources["weights"])},
        "train": {"epochs": 1, "num_workers": 0},
        "seeds": seeds,
    })  # fmt: skip
    return make_repo(root, config, sources["storage"])


def stage_name(rule: str) -> str:
    """The dvc.yaml stage of a Snakemake rule: the per-strategy rules train_<strategy>
    are one matrix stage, `train`, in dvc.yaml."""
    return "train" if rule.startswith("train_") else rule


def as_dvc_outputs(outputs: frozenset[str]) -> frozenset[str]:
    """Snakemake's outputs as dvc.yaml declares them: the files under reports/ (a model
    card per strategy among them) and predictions/ (a CSV per strategy) are one folder
    output each there."""
    folders = ("reports", "predictions")
    return frozenset(
        next((f for f in folders if path.startswith(f + "/")), path) for path in outputs
    )


def snakemake_commands(project: Path) -> dict[tuple[str, ...], tuple[str, frozenset[str]]]:
    """Shell command (the words the shell passes on) -> (stage, outputs) of every job
    `snakemake -n -p --forceall` lists."""
    out = snakemake(project, "-n", "-p", "--forceall").stdout
    jobs, rule, outputs = {}, None, frozenset()
    for line in out.splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):$", line):
            rule, outputs = match.group(1), frozenset()
        elif line.strip().startswith("output:"):
            outputs = as_dvc_outputs(frozenset(p.strip() for p in line.split(":", 1)[1].split(",")))
        elif line.startswith("Shell command: ") and rule != "all":
            command = LOG_REDIRECT.sub("", line.removeprefix("Shell command: "))
            jobs[tuple(shlex.split(command))] = (stage_name(rule), outputs)
    return jobs


def dvc_commands(project: Path) -> dict[tuple[str, ...], tuple[str, frozenset[str]]]:
    """Command (the words the shell passes on) -> (stage, outputs incl. metrics) of every
    stage in dvc.yaml that has a rule (all but validate_config)."""
    from dvc.repo import Repo

    with Repo(str(project)) as repo:
        return {
            tuple(shlex.split(stage.cmd)): (
                stage.name.split("@")[0],
                frozenset(str(Path(out.fs_path).relative_to(project)) for out in stage.outs),
            )
            for stage in repo.index.stages
            if stage.name not in DVC_ONLY
        }


def stages_to_run(project: Path) -> set[str]:
    """Stages `dvc status` reports as changed."""
    status = json.loads(dvc(project, "status", "--json").stdout or "{}")
    return set(status)


def snapshot(project: Path) -> dict[str, tuple[str, int]]:
    """sha256 and mtime (ns) of every versioned output."""
    return {p: (sha256(project / p), (project / p).stat().st_mtime_ns) for p in OUTPUTS}


def test_snakefile_and_dvc_yaml_do_not_drift(tmp_path, sources):
    """Same steps, same command lines, same outputs (the default config's paths)."""
    project = make_dvc_project(tmp_path / "p", sources)
    from_snakemake = snakemake_commands(project)
    from_dvc = dvc_commands(project)
    assert len(from_dvc) == N_STAGES
    assert set(from_snakemake) == set(from_dvc), "command lines differ"
    for command, (stage, outs) in from_dvc.items():
        rule, outputs = from_snakemake[command]
        assert stage == rule
        assert outs == outputs, f"{stage}: dvc.yaml outs {sorted(outs)} != {sorted(outputs)}"
    dry_run = dvc(project, "repro", "--dry", "-f").stdout
    assert dry_run.count("Running stage") == N_STAGES + len(DVC_ONLY)


REPORT_TEMPLATES = sorted(
    f"workflow/report/{p.name}" for p in (REPO / "workflow/report").glob("*.j2")
)


def stage_definitions() -> dict[str, dict]:
    """dvc.yaml's stages as written (a foreach or matrix stage: its template)."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


@pytest.mark.parametrize("stage", list(stage_definitions()))
def test_each_stage_depends_on_the_code_it_runs(stage):
    """Its script, the tlpipe modules the script imports (tlpipe/deps.py, as the rules'
    input), the report's templates, and no other file of the workflow: an edit reruns
    exactly the stages that run the edited code (or read the edited file)."""
    definition = stage_definitions()[stage]
    script = re.match(r"python (workflow/scripts/\w+\.py) ", definition["cmd"]).group(1)
    expected = [script, *project_relative(library_modules(REPO / script))]
    # what the step reads besides code: the report's templates, the config check's schema
    reads = {"report": REPORT_TEMPLATES, "validate_config": ["workflow/schemas/config.schema.yaml"]}
    expected += reads.get(stage, [])
    code = [dep for dep in definition["deps"] if dep.startswith("workflow/")]
    assert sorted(code) == sorted(expected), (
        f"dvc.yaml, stage {stage}: list these deps:\n"
        + "\n".join(f"  - {path}" for path in expected)
    )


@pytest.fixture
def snakemake_first(recorded_run) -> Path:
    """The shared project run by Snakemake and recorded in DVC with the documented command
    (`make dvc-record`)."""
    return recorded_run["project"]


def test_dvc_records_a_snakemake_run_without_retraining(snakemake_first):
    project = snakemake_first
    before = snapshot(project)
    assert dvc(project, "status", "--quiet", check=False).returncode == 0
    repro = dvc(project, "repro").stdout
    assert "Data and pipelines are up to date" in repro
    assert "Running stage" not in repro
    assert snapshot(project) == before  # nothing rewritten, mtimes untouched
    assert planned_jobs(project) == {}


def test_changing_lr_retrains_both_strategies_and_nothing_upstream(snakemake_first):
    project = snakemake_first
    config_path = project / "config/config.yaml"
    original = config_path.read_text()
    try:
        config_path.write_text(original.replace("lr: 0.001", "lr: 0.01"))
        jobs = planned_jobs(project)
        assert jobs["train_finetune"] == jobs["train_feature_extract"] == len(SEEDS)
        assert jobs["evaluate"] == 2 * len(SEEDS) and jobs["report"] == 1
        assert not {"download_data", "download_weights", "prepare_data"} & set(jobs)
        # and the config check, which passes and so changes nothing downstream
        assert stages_to_run(project) == TRAIN_STAGES | DVC_ONLY
    finally:
        config_path.write_text(original)
    assert planned_jobs(project) == {}


def leaves(tree: dict, prefix: str = "") -> dict[str, object]:
    """A nested mapping's values by dotted key, as `dvc metrics show` makes its columns."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(leaves(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_metrics_and_plots_work_from_git(snakemake_first):
    """`dvc metrics show`: the headline numbers only, a column each (5 per strategy, 4 per
    pair); `dvc plots show`: every run's data series, from the report's CSV files."""
    project = snakemake_first
    shown = json.loads(dvc(project, "metrics", "show", "--json").stdout)
    files = next(iter(shown.values()))["data"]
    assert list(files) == ["metrics/metrics.json"]
    columns = leaves(files["metrics/metrics.json"]["data"])
    assert len(columns) == 2 * 5 + 4 <= 30
    comparison = json.loads((project / "metrics/comparison.json").read_text())
    pair = comparison["pairs"][0]
    assert (
        columns["finetune_vs_feature_extract.diff_points"] == pair["difference_points"]["estimate"]
    )
    assert columns["finetune_vs_feature_extract.decision"] == pair["decision"]
    accuracy = comparison["strategies"]["feature_extract"]["accuracy"]
    assert columns["feature_extract.accuracy"] == accuracy["mean"]
    train = [
        json.loads((project / f"metrics/runs/finetune/seed{seed}/train.json").read_text())
        for seed in SEEDS
    ]
    assert columns["finetune.peak_mb"] == max(t["peak_rss_mb"] for t in train)
    assert pair["decision"] in dvc(project, "metrics", "show").stdout  # strings are shown

    plots = json.loads(dvc(project, "plots", "show", "--json").stdout)["data"]
    assert sorted(plots) == ["confusion", "seed_accuracy", "train_loss", "val_accuracy"]
    values = {name: plot[0]["content"]["data"]["values"] for name, plot in plots.items()}
    rows = values["val_accuracy"]
    curve = {(v["seed"], v["epoch"]): v["val_acc"] for v in rows if v["strategy"] == "finetune"}
    assert curve == {  # as the CSV holds them: strings, floats as repr writes them
        (str(seed), str(epoch["epoch"])): repr(epoch["val_acc"])
        for seed, t in zip(SEEDS, train, strict=True)
        for epoch in t["history"]
    }
    assert len(values["val_accuracy"]) == 2 * len(SEEDS) * len(train[0]["history"])
    for strategy in ("finetune", "feature_extract"):
        evaluation = json.loads(
            (project / f"metrics/runs/{strategy}/seed{SEEDS[0]}/eval.json").read_text()
        )
        rows = [
            v
            for v in values["confusion"]
            if (v["strategy"], v["seed"]) == (strategy, str(SEEDS[0]))
        ]
        labels = evaluation["confusion_matrix"]["labels"]
        matrix = [[sum(v["true"] == t and v["predicted"] == p for v in rows) for p in labels]
                  for t in labels]  # fmt: skip
        assert matrix == evaluation["confusion_matrix"]["matrix"]
    assert {(v["strategy"], v["seed"]) for v in values["seed_accuracy"]} == {
        (s, str(seed)) for s in ("finetune", "feature_extract") for seed in SEEDS
    }
    # the per-epoch live log, a declared output: the epochs of train.json
    live = json.loads(
        (project / f"metrics/runs/finetune/seed{SEEDS[0]}/live/metrics.json").read_text()
    )
    last = train[0]["history"][-1]
    assert live == {"step": last["epoch"], **{k: last[k] for k in live if k != "step"}}
    assert set(live) == {"step", "train_loss", "train_acc", "val_loss", "val_acc", "lr"}


def test_push_then_clone_and_pull_restores_everything(recorded_run, tmp_path):
    project = copy_of(recorded_run["project"], tmp_path / "project")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "results")
    dvc(project, "push", "--quiet")
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], cwd=tmp_path)
    dvc(clone, "remote", "modify", "--local", "local", "url", str(recorded_run["storage"]))
    dvc(clone, "pull", "--quiet")
    for path in OUTPUTS:
        assert sha256(clone / path) == sha256(project / path), path
    assert dvc(clone, "status", "--quiet", check=False).returncode == 0
    run(["make", "snakemake-record"], cwd=clone)  # the one documented refresh command
    assert planned_jobs(clone) == {}


def test_experiment_with_other_seeds_trains_only_the_new_ones(recorded_run, tmp_path):
    """`dvc exp run -S seeds=[...] -S strategies=[...]`: the matrix follows, runs already
    trained are reused, and the report compares exactly the configured runs."""
    project = copy_of(recorded_run["project"], tmp_path / "project")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "results")
    out = dvc(project, "exp", "run", "-n", "seeds-789", "-S", "config/config.yaml:seeds=[7,8,9]",
              "-S", "config/config.yaml:strategies=[finetune]").stdout  # fmt: skip
    assert "Running stage 'train@finetune-9'" in out
    assert "Running stage 'train@finetune-7'" not in out and "train@feature_extract" not in out
    assert "Running stage 'report@runs'" in out
    comparison = json.loads((project / "metrics/comparison.json").read_text())
    assert list(comparison["strategies"]) == ["finetune"] and comparison["pairs"] == []
    assert comparison["strategies"]["finetune"]["seeds"] == [7, 8, 9]
    # `dvc exp show` lists the experiment with its parameters (docs/dvc.md: experiments)
    shown = json.dumps(json.loads(dvc(project, "exp", "show", "--json").stdout))
    assert "seeds-789" in shown and '"seeds": [7, 8, 9]' in shown


def test_a_failed_stage_shows_its_reason(tmp_path, sources):
    """`dvc repro` puts the script's one-line reason on the console (as Snakemake does
    with the workflow profile's show-failed-logs)."""
    project = make_dvc_project(tmp_path / "p", sources)
    config_path = project / "config/config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["data"]["sha256"] = "0" * 64
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = dvc(project, "repro", "download_data", check=False)
    assert result.returncode != 0
    assert "sha256 mismatch: expected 0000" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trian": {"epochs": 1}}, "<top level>: Additional properties are not allowed ('trian'"),
        ({"train": {"epoch": 1}}, "train: Additional properties are not allowed ('epoch'"),
        ({"train": {"lr": -1}}, "train.lr: -1 is less than or equal to the minimum of 0"),
    ],
    ids=["typo", "typo-in-train", "bad-value"],
)
def test_dvc_repro_stops_on_a_bad_config_before_any_stage(tmp_path, sources, change, message):
    """Snakemake's message, from DVC's first stage: nothing downloaded, nothing trained."""
    project = make_dvc_project(tmp_path / "p", sources)
    config_path = project / "config/config.yaml"
    config = yaml.safe_load(config_path.read_text())
    for key, value in change.items():
        config[key] = {**config.get(key, {}), **value}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = dvc(project, "repro", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output
    assert "invalid config:" in output and message in output
    assert output.count("Running stage") == 1  # validate_config
    assert not (project / "data/raw").exists() and not (project / "models").exists()
    from_snakemake = snakemake(project, "-n", check=False)
    assert from_snakemake.returncode != 0
    expected = [line for line in output.splitlines() if message in line]
    assert expected[0].strip() in from_snakemake.stdout + from_snakemake.stderr


def test_plots_diff_overlays_two_revisions(recorded_run, tmp_path):
    """`dvc plots diff <rev>`: one chart per plot holding both revisions' rows, each row
    marked with its revision (the templates draw a revision as a dash, a shape or a row)."""
    project = copy_of(recorded_run["project"], tmp_path / "project")
    git(project, "add", "-A")
    git(project, "commit", "-q", "--allow-empty", "-m", "plots")
    # another experiment's curves: every validation accuracy halved in the workspace
    curves = project / "metrics/plots/learning_curves.csv"
    table = pd.read_csv(curves)
    table.assign(val_acc=table.val_acc / 2).to_csv(curves, index=False)
    shown = json.loads(dvc(project, "plots", "diff", "HEAD", "--json").stdout)
    assert not shown.get("errors")
    for name, (plot,) in shown["data"].items():
        assert plot["revisions"] == ["workspace", "HEAD"], name
        rows = plot["content"]["data"]["values"]
        by_rev = {rev: [r for r in rows if r["rev"] == rev] for rev in plot["revisions"]}
        assert len(by_rev["HEAD"]) == len(by_rev["workspace"]) > 0, name
        if name == "val_accuracy":
            halved = {float(r["val_acc"]) * 2 for r in by_rev["workspace"]}
            assert halved == {float(r["val_acc"]) for r in by_rev["HEAD"]}
