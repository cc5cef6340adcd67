"""The real `snakemake` on a tiny generated dataset, checked by the values it writes."""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import sys
from html import escape

import pandas as pd
import pytest
import torch
import yaml
from browser import find_chromium, inspect_page
from conftest import RECORDED_SEEDS, REPO, copy_of, planned_jobs, run, snakemake, write_config
from datagen import sha256

pytestmark = pytest.mark.workflow


def read(project, path):
    return json.loads((project / path).read_text())


SEEDS = RECORDED_SEEDS
RUNS = [(strategy, seed) for strategy in ("finetune", "feature_extract") for seed in SEEDS]


def run_file(strategy, seed, name):
    return f"metrics/runs/{strategy}/seed{seed}/{name}"


def test_data_quality_counts(recorded_run):
    quality = read(recorded_run["project"], "metrics/data_quality.json")
    assert quality["classes"] == ["ants", "bees"]
    assert quality["counts"]["train"] == {"ants": 4, "bees": 4, "total": 8}
    assert quality["counts"]["val"] == {"ants": 3, "bees": 3, "total": 6}
    assert quality["skipped"] == [] and quality["unreadable"] == []
    assert quality["image_size"]["width"] == {"min": 48, "median": 48, "mean": 48.0, "max": 48}
    files = sorted(p.relative_to(recorded_run["project"] / "data/tiny").as_posix()
                   for p in (recorded_run["project"] / "data/tiny").rglob("*.*")
                   if not p.name.startswith("."))  # fmt: skip
    assert len(files) == 14 and files[0] == "train/ants/ants_0.jpg"


@pytest.mark.parametrize(("strategy", "seed"), RUNS)
def test_training_outputs(recorded_run, strategy, seed):
    project = recorded_run["project"]
    metrics = read(project, run_file(strategy, seed, "train.json"))
    history = metrics["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert set(history[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                               "lr", "seconds"}  # fmt: skip
    assert all(h["lr"] == 0.001 for h in history)
    assert metrics["best_val_acc"] == max(h["val_acc"] for h in history)
    assert history[metrics["best_epoch"] - 1]["val_acc"] == metrics["best_val_acc"]
    assert metrics["final_val_acc"] == history[-1]["val_acc"]
    assert metrics["n_train"] == 8 and metrics["n_val"] == 6
    assert metrics["config"]["lr"] == 0.001 and metrics["config"]["seed"] == seed
    assert metrics["seed"] == seed and metrics["strategy"] == strategy
    assert 100 < metrics["peak_rss_mb"] < 4000
    trainable = metrics["parameters"]["trainable"]
    assert trainable == (1026 if strategy == "feature_extract" else 11_177_538)

    checkpoint = torch.load(project / f"models/{strategy}/seed{seed}/model.pt", weights_only=True)
    assert checkpoint["class_names"] == ["ants", "bees"]
    assert checkpoint["epoch"] == metrics["best_epoch"]
    assert checkpoint["val_acc"] == metrics["best_val_acc"]
    assert checkpoint["state_dict"]["fc.weight"].shape == (2, 512)
    prov = checkpoint["provenance"]
    assert prov["seed"] == seed and prov["torch"] == torch.__version__
    assert prov["weights_sha256"] == recorded_run["config"]["model"]["weights_sha256"]
    # resumable state is removed once the outputs are complete
    assert not (project / "checkpoints" / strategy / f"seed{seed}" / "last.pt").exists()
    # what `tail -f logs/train/*/*.log` (README, first screen) shows: a line per epoch
    log = (project / f"logs/train/{strategy}/seed{seed}.log").read_text()
    epochs = [line for line in log.splitlines() if " INFO train: epoch " in line]
    assert [line.split("epoch ")[1].split()[0] for line in epochs] == ["1/2", "2/2"]
    for line, h in zip(epochs, history, strict=True):
        assert f"val loss {h['val_loss']:.4f} acc {h['val_acc']:.4f}" in line and " ETA " in line


@pytest.mark.parametrize(("strategy", "seed"), RUNS)
def test_evaluation_outputs(recorded_run, strategy, seed):
    project = recorded_run["project"]
    evaluation = read(project, run_file(strategy, seed, "eval.json"))
    predictions = pd.read_csv(project / run_file(strategy, seed, "predictions.csv"))
    assert evaluation["n"] == 6 == len(predictions)
    matrix = evaluation["confusion_matrix"]
    assert matrix["labels"] == ["ants", "bees"]
    assert [sum(row) for row in matrix["matrix"]] == [3, 3]
    assert evaluation["accuracy"] == pytest.approx(predictions.correct.mean())
    # no test/ split: evaluated on val/, the split that chose the checkpoint
    assert evaluation["split"] == "val" and evaluation["selected_on"] == "val"
    assert predictions.path.str.startswith("val/").all()
    assert evaluation["accuracy"] == pytest.approx(
        read(project, run_file(strategy, seed, "train.json"))["best_val_acc"]
    )
    assert set(predictions.columns) >= {"path", "true", "predicted", "probability"}
    assert predictions.probability.between(0.5, 1.0).all()
    assert set(evaluation["per_class"]) == {"ants", "bees"}
    prov = evaluation["provenance"]
    assert prov["seed"] == seed and evaluation["seed"] == seed
    assert len(prov["config_sha256"]) == 64
    assert len(prov["dataset_sha256"]) == 64 and len(prov["model_sha256"]) == 64
    final = project / f"models/{strategy}/seed{seed}/final.pt"
    assert prov["final_model_sha256"] == hashlib.sha256(final.read_bytes()).hexdigest()


@pytest.mark.parametrize("strategy", ["finetune", "feature_extract"])
def test_predictions_average_every_seed_and_the_model_card_snippet_runs(recorded_run, strategy):
    """The default run classifies predict.input (null: val/) with every seed's model:
    the averaged probabilities are the mean of the seeds' evaluated ones. The model
    card's plain-torchvision snippet, run as a user would, gives its seed's evaluated
    probabilities."""
    project = recorded_run["project"]
    predictions = pd.read_csv(project / f"predictions/{strategy}.csv")
    assert len(predictions) == 6 and (predictions.skipped.isna()).all()
    models = [f"models/{strategy}/seed{seed}/model.pt" for seed in SEEDS]
    assert (predictions.models == ";".join(models)).all()
    per_seed = [
        pd.read_csv(project / run_file(strategy, seed, "predictions.csv")) for seed in SEEDS
    ]
    expected = sum(table.set_index("path").p_bees for table in per_seed) / len(SEEDS)
    got = predictions.assign(path=predictions.path.str.removeprefix("data/tiny/")).set_index("path")
    assert got.p_bees.to_dict() == pytest.approx(expected.to_dict(), abs=2e-6)

    card = (project / f"reports/model_card_{strategy}.md").read_text()
    assert f"# Model card: resnet18, {strategy} (ants vs bees)" in card
    assert "Selection on val" in card and "Intended use and limitations" in card
    snippet = card.split("```python\n", 1)[1].split("```", 1)[0]
    image = "data/tiny/val/bees/bees_0.jpg"
    result = run([sys.executable, "-c", snippet.replace("my_image.jpg", image)], cwd=project)
    printed = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    evaluated = per_seed[0].set_index("path").loc["val/bees/bees_0.jpg"]
    # the snippet computes in float32; evaluation used the checkpoint's precision (bf16)
    assert printed["bees"] == pytest.approx(evaluated.p_bees, abs=0.02)
    html = (project / "reports/comparison.html").read_text()
    assert f'href="model_card_{strategy}.md"' in html


def test_report_summary_and_statistics(recorded_run):
    project = recorded_run["project"]
    summary = pd.read_csv(project / "metrics/summary.csv")
    assert list(zip(summary.strategy, summary.seed, strict=True)) == RUNS
    for row in summary.itertuples():
        train = read(project, run_file(row.strategy, row.seed, "train.json"))
        evaluation = read(project, run_file(row.strategy, row.seed, "eval.json"))
        assert row.best_val_acc == train["best_val_acc"]
        assert row.final_val_acc == train["final_val_acc"]
        assert row.eval_accuracy == evaluation["accuracy"] and row.eval_split == "val"
        # the last epoch's model (final.pt), scored on the same images
        assert row.final_eval_accuracy == evaluation["final"]["accuracy"]
        assert evaluation["final"]["checkpoint_epoch"] == len(train["history"])
        final = pd.read_csv(project / run_file(row.strategy, row.seed, "predictions_final.csv"))
        assert final.correct.mean() == pytest.approx(row.final_eval_accuracy)

    comparison = read(project, "metrics/comparison.json")
    # val only: the verdict rests on the last-epoch models, which no score selected
    assert comparison["basis"] == {
        "split": "val", "checkpoint": "final", "selected_on": None, "n_images": 6
    }  # fmt: skip
    assert comparison["margin_points"] == 1.0
    assert set(comparison["strategies"]) == {"finetune", "feature_extract"}
    finetune = comparison["strategies"]["finetune"]
    assert finetune["n_seeds"] == 2 and finetune["seeds"] == SEEDS
    accuracies = summary[summary.strategy == "finetune"].final_eval_accuracy
    assert finetune["accuracy"]["mean"] == pytest.approx(accuracies.mean())
    assert finetune["accuracy"]["ci_low"] < finetune["accuracy"]["ci_high"]
    (pair,) = comparison["pairs"]
    assert (pair["a"], pair["b"], pair["seeds"]) == ("finetune", "feature_extract", SEEDS)
    by_run = summary.set_index(["strategy", "seed"]).final_eval_accuracy
    differences = [by_run["finetune", s] - by_run["feature_extract", s] for s in SEEDS]
    assert pair["difference"]["mean"] == pytest.approx(sum(differences) / 2)
    assert pair["difference_points"]["estimate"] == pytest.approx(50 * sum(differences), abs=1e-3)
    assert pair["decision"] == "inconclusive" and pair["better"] is None  # 2 seeds
    assert pair["seeds_only_points"]["ci_low"] < pair["seeds_only_points"]["ci_high"]
    assert [m["seed"] for m in pair["mcnemar"]] == SEEDS
    assert all(m["n"] == 6 for m in pair["mcnemar"])

    html = (project / "reports/comparison.html").read_text()
    markdown = (project / "reports/comparison.md").read_text()
    verdict = comparison["verdict"]
    assert verdict in markdown and escape(verdict) in html
    assert "selected on val" in markdown and "selected on val" in html
    assert 'src="http' not in html and 'href="http' not in html and "url(http" not in html
    assert html.count("data:image/png;base64,") >= 4
    for figure in ("strip_plot", "learning_curves", "confusion_matrices", "cost_accuracy"):
        assert f"figures/{figure}.png" in markdown
        assert (project / f"reports/figures/{figure}.png").stat().st_size > 1000


def test_adding_a_seed_trains_only_the_new_runs(recorded_run):
    project = recorded_run["project"]
    config = recorded_run["config"]
    more = {**config, "seeds": [*SEEDS, 9]}
    jobs = planned_jobs(project, "--configfile", write_config(project, more, "seeds.yaml").name)
    # the new runs, and what reads every run: the report and each strategy's predictions
    assert jobs == {"train_finetune": 1, "train_feature_extract": 1, "evaluate": 2,
                    "report": 1, "predict": 1, "all": 1}  # fmt: skip


def test_runs_given_with_config_flag_redo_only_what_reads_them(recorded_run):
    """`--config seeds=[...] strategies=[...]` (typed from the words): the runs already
    trained are reused; the report and the predictions, which take the runs on their
    command line, are redone for the runs given."""
    jobs = planned_jobs(
        recorded_run["project"], "--config", "strategies=[finetune]", f"seeds=[{SEEDS[1]}]"
    )
    assert jobs == {"report": 1, "predict": 1, "all": 1}


def test_run_ends_with_a_summary(recorded_run):
    out = recorded_run["result"].stdout
    verdict = read(recorded_run["project"], "metrics/comparison.json")["verdict"]
    assert verdict in out and "over 2 seed(s) and 6 images" in out
    assert "Results (val, last-epoch models; 95% CI over seeds and images)" in out
    assert str(recorded_run["project"] / "reports/comparison.html") in out


@pytest.mark.skipif(find_chromium() is None, reason="Chromium not installed")
def test_report_renders_in_a_browser(recorded_run, tmp_path):
    """Headless Chromium: every image loads, nothing is fetched, no console errors."""
    html = recorded_run["project"] / "reports/comparison.html"
    page = inspect_page(html, tmp_path / "report.png")
    assert page.ok, page.summary()
    assert page.images_total >= 4 and page.images_broken == []
    assert page.external_requests == [] and page.console_errors == []
    assert (tmp_path / "report.png").stat().st_size > 20_000


def test_snakemake_report(recorded_run):
    """`snakemake --report`: a front page that describes this run, from its config, and
    the comparison, figures and metrics bundled with their captions."""
    project = recorded_run["project"]
    out = project / "snakemake-report.html"
    snakemake(project, "--report", out.name)
    text = out.read_text()
    front_page = (
        "Transfer learning of resnet18",
        "from the weights file",
        "2 strategies (finetune, feature_extract)",
        "once per seed (7, 8): 4 training runs",
        "Training: 2 epochs, SGD lr 0.001,",
    )
    for expected in front_page:
        assert expected in text, expected
    assert "seed ;" not in text and "two strategies" not in text
    for expected in ("comparison.html", "strip_plot.png", "train.json", "comparison.json",
                     "data_quality.json"):  # fmt: skip
        assert expected in text, expected


def test_failed_rerun_leaves_earlier_results_intact(recorded_run, tmp_path):
    """A rerun that stops on bad input (checksum mismatch) keeps the earlier results."""
    project = copy_of(recorded_run["project"], tmp_path / "project")
    results = ["models/finetune/seed7/model.pt", "models/feature_extract/seed8/model.pt",
               run_file("finetune", 7, "train.json"), "metrics/data_quality.json",
               "reports/comparison.html", "data/tiny/train/ants/ants_0.jpg"]  # fmt: skip
    before = {path: sha256(project / path) for path in results}
    config = recorded_run["config"]
    bad = write_config(project, {**config, "data": {**config["data"], "sha256": "0" * 64}})
    result = snakemake(project, "--cores", "2", "--configfile", bad.name, check=False)
    assert result.returncode != 0
    log = (project / "logs/download_data.log").read_text()
    assert "sha256 mismatch: expected 0000" in log and "data.sha256" in log
    assert "Traceback" not in log
    # the workflow profile (profiles/default: show-failed-logs) puts the reason on the console
    assert "sha256 mismatch: expected 0000" in result.stdout + result.stderr
    assert {path: sha256(project / path) for path in results} == before
    assert not list((project / "data/raw").glob("*.part"))


def test_runs_with_directory_from_outside_the_repository(tmp_path):
    """`.test/` as a deployment would use the workflow: `snakemake -s <repo>/workflow/Snakefile
    --directory DIR` from elsewhere (a 3-class dataset with a test/ split, tar.gz)."""
    deploy = tmp_path / "deploy"
    shutil.copytree(REPO / ".test", deploy, ignore=shutil.ignore_patterns("data", "metrics",
                    "models", "logs", "reports", "checkpoints", ".snakemake"))  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # one seed of the two .test/ configures: the same jobs, half as many (a pair of seeds
    # is the recorded run's)
    run(["snakemake", "-s", str(REPO / "workflow/Snakefile"), "--directory", str(deploy),
         "--cores", "2", "--config", "seeds=[2]"], cwd=elsewhere)  # fmt: skip
    comparison = json.loads((deploy / "metrics/comparison.json").read_text())
    assert comparison["basis"] == {
        "split": "test", "checkpoint": "best", "selected_on": "val", "n_images": 6
    }  # fmt: skip
    assert comparison["pairs"][0]["seeds"] == [2]
    evaluation = json.loads((deploy / "metrics/runs/finetune/seed2/eval.json").read_text())
    assert evaluation["split"] == "test" and evaluation["n"] == 6
    assert evaluation["confusion_matrix"]["labels"] == ["circle", "square", "triangle"]
    assert "held out" in (deploy / "reports/comparison.md").read_text()
    assert not (elsewhere / ".snakemake").exists()  # everything went to --directory
    predictions = pd.read_csv(deploy / "predictions/feature_extract.csv")
    assert len(predictions) == 6 and predictions.path.str.startswith("data/shapes/test/").all()
    assert (
        "the accuracy is measured on test/"
        in (deploy / "reports/model_card_finetune.md").read_text()
    )


def test_plans_the_whole_pipeline_when_used_as_a_module(tmp_path):
    """Another project's Snakefile that uses this workflow as a Snakemake `module`."""
    (tmp_path / "config").mkdir()
    config = yaml.safe_load((REPO / ".test/config/config.yaml").read_text())
    config["data"]["url"] = str(REPO / ".test/resources/shapes.tar.gz")
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "Snakefile").write_text(
        'configfile: "config/config.yaml"\n\n'
        f'module transfer_learning:\n    snakefile:\n        "{REPO / "workflow/Snakefile"}"\n'
        "    config:\n        config\n\n"
        "use rule * from transfer_learning\n"
    )
    jobs = planned_jobs(tmp_path)
    assert jobs == {"download_data": 1, "download_weights": 1, "prepare_data": 1,
                    "train_finetune": 2, "train_feature_extract": 2, "evaluate": 4,
                    "predict": 1, "report": 1, "all": 1}  # fmt: skip
