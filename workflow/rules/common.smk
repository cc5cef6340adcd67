# Helpers shared by all rules: config validation, paths and target lists.
import csv
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

# The scripts' shared library is importable here too, so the workflow and the scripts
# agree on config defaults, file names and the strategies.
sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from tlpipe.config import load_config_files, validate_config
from tlpipe.fetch import source_filename
from tlpipe.fileio import PipelineError
from tlpipe.paths import EVAL_METRICS, PREDICTIONS, RUN_METRICS, TRAIN_METRICS
from tlpipe.paths import MODEL as MODEL_PATH
from tlpipe.strategies import REGISTRY as STRATEGY_REGISTRY

try:
    config.update(validate_config(config))
except PipelineError as err:
    raise WorkflowError(str(err)) from None


wildcard_constraints:
    strategy="|".join(STRATEGY_REGISTRY),
    seed=r"\d+",


DATA = config["data"]
MODEL = config["model"]
TRAIN = config["train"]
STRATEGIES = config["strategies"]
SEEDS = TRAIN["seeds"]

ARCHIVE = f"data/raw/{source_filename(DATA['url'])}"
DATA_DIR = f"data/{DATA['name']}"
# Named after the architecture (not the URL) so dvc.yaml can name the same file.
PRETRAINED = f"data/weights/{MODEL['arch']}-IMAGENET1K_V1.pth"
# Code each step runs: a change reruns the step (as a dependency in dvc.yaml does).
LIBRARY = sorted(str(p) for p in Path("workflow/scripts/tlpipe").glob("*.py"))
REPORT_TEMPLATES = sorted(str(p) for p in Path("workflow/report").glob("*.j2"))
# Threads of every training and evaluation job. One per job: on a CPU, small batches
# (4 images) scale poorly across threads, so N single-threaded jobs side by side finish
# a strategies x seeds grid sooner than the same jobs one after another with N threads
# each, and `--cores` larger than the machine cannot oversubscribe it (benchmarks/).
JOB_THREADS = 1


def config_files():
    """The config files of this run, in the order Snakemake merged them: the workflow's
    configfile, then each --configfile. The report reads the strategies and seeds from
    them (DVC cannot pass a list on a command line), so they must say what this run
    trains: values given with --config instead stop the run with what to do."""
    extra = [str(p) for p in workflow.overwrite_configfiles or []]
    files = [str(p) for p in workflow.configfiles if str(p) not in extra] + extra
    from_files = load_config_files(files)
    if (from_files["strategies"], from_files["train"]["seeds"]) != (STRATEGIES, SEEDS):
        raise WorkflowError(
            "strategies and train.seeds differ from those in the config files "
            f"({', '.join(files)}): set them in a config file (--configfile my.yaml), not "
            "with --config, because the report reads them from the config files"
        )
    return files


CONFIG_FILES = config_files()


def as_arg(value):
    """A config value as a command-line word, rendered as DVC renders it (null: None)."""
    return "None" if value is None else value


def run_path(template, strategy):
    """A per-run path template with the strategy filled in and ``{seed}`` kept as the
    rule's wildcard (for the per-strategy training rules)."""
    return template.replace("{strategy}", strategy)


def run_files(name):
    """One file of every configured run (strategy x seed), e.g. every train.json."""
    return expand(f"{RUN_METRICS}/{name}", strategy=STRATEGIES, seed=SEEDS)


def runs_dir(wildcards, input):
    """The folder holding every run's metrics (metrics/runs), from the report's inputs."""
    return str(Path(input.train[0]).parents[2])


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
    return [
        "reports/comparison.html",
        "reports/comparison.md",
        "metrics/summary.csv",
        "metrics/comparison.json",
    ]


def print_run_summary():
    """After a successful run: the verdict, per-strategy accuracies and the report."""
    comparison, report = Path("metrics/comparison.json"), Path(
        "reports/comparison.html"
    )
    if not (comparison.exists() and report.exists()):
        return  # a partial target (e.g. only the data) was built
    import json

    stats = json.loads(comparison.read_text())
    lines = []
    for name in STRATEGIES:
        numbers = stats["strategies"][name]
        accuracy = numbers["eval_accuracy"]
        lines.append(
            f"  {name:<16} accuracy {accuracy['mean']:.4f} over {numbers['n_seeds']} seed(s)"
            f" (evaluated on {stats.get('evaluated_on', 'val')})"
        )
    print(
        "\nResults\n" + "\n".join(lines) + f"\n\n  {stats['verdict']}\n"
        f"\n  report: {report.resolve()}\n"
    )
