# Helpers shared by all rules: config validation, paths and target lists.
import csv
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

# The scripts' shared library is importable here too, so the workflow and the scripts
# agree on config defaults and on file names.
sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from tlpipe.config import validate_config
from tlpipe.fetch import source_filename
from tlpipe.fileio import PipelineError

try:
    config.update(validate_config(config))
except PipelineError as err:
    raise WorkflowError(str(err)) from None


wildcard_constraints:
    strategy="finetune|feature_extract",


DATA = config["data"]
MODEL = config["model"]
TRAIN = config["train"]
STRATEGIES = config["strategies"]

ARCHIVE = f"data/raw/{source_filename(DATA['url'])}"
DATA_DIR = f"data/{DATA['name']}"
# Named after the architecture (not the URL) so dvc.yaml can name the same file.
PRETRAINED = f"data/weights/{MODEL['arch']}-IMAGENET1K_V1.pth"
# Code each step runs: a change reruns the step (as a dependency in dvc.yaml does).
LIBRARY = sorted(str(p) for p in Path("workflow/scripts/tlpipe").glob("*.py"))
REPORT_TEMPLATES = sorted(str(p) for p in Path("workflow/report").glob("*.j2"))


def as_arg(value):
    """A config value as a command-line word, rendered as DVC renders it (null: None)."""
    return "None" if value is None else value


def weights_input(wildcards):
    """The state-dict file training starts from (none for random initialisation)."""
    weights = MODEL["weights"]
    if weights == "none":
        return []
    return [PRETRAINED if weights == "IMAGENET1K_V1" else weights]


def manifest_input(wildcards):
    return [] if DATA["manifest"] is None else [DATA["manifest"]]


def all_targets():
    """Everything `snakemake` builds by default: the report and what it summarises."""
    targets = [
        "reports/comparison.html",
        "reports/comparison.md",
        "metrics/summary.csv",
    ]
    targets += expand("metrics/{strategy}/eval.json", strategy=STRATEGIES)
    return targets


def print_run_summary():
    """After a successful run: both strategies' accuracies and where the report is."""
    summary, report = Path("metrics/summary.csv"), Path("reports/comparison.html")
    if not (summary.exists() and report.exists()):
        return  # a partial target (e.g. only the data) was built
    with open(summary, newline="") as handle:
        rows = list(csv.DictReader(handle))
    lines = [
        f"  {row['strategy']:<16} best val acc {float(row['best_val_acc']):.4f} "
        f"(epoch {row['best_epoch']}), trained in {float(row['train_seconds']):.0f} s"
        for row in rows
    ]
    print("\nResults\n" + "\n".join(lines) + f"\n  report: {report.resolve()}\n")
