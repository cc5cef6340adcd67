# Helpers shared by all rules: config validation, paths and target lists.
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
PRETRAINED = f"data/weights/{source_filename(MODEL['weights_url'])}"
# Code each step runs: a change reruns the step (as a dependency in dvc.yaml does).
LIBRARY = sorted(str(p) for p in Path("workflow/scripts/tlpipe").glob("*.py"))


def as_arg(value):
    """A config value as a command-line word; null becomes `none`."""
    return "none" if value is None else value


def weights_file():
    """The state-dict file training starts from, or None for random initialisation."""
    weights = MODEL["weights"]
    if weights == "none":
        return None
    if weights == "IMAGENET1K_V1":
        return PRETRAINED
    return weights


def weights_input(wildcards):
    """Training depends on the weights file when there is one."""
    path = weights_file()
    return [] if path is None else [path]


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
