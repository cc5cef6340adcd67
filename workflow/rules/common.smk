# Helpers shared by all rules: config validation, paths and target lists.
import csv
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

# This workflow's own files, found from this file rather than from the working
# directory, so `snakemake --directory DIR` and use as a module work. Paths are given
# relative to the working directory: run from the repository root they read
# workflow/scripts/..., exactly as dvc.yaml spells them.
WORKFLOW_DIR = Path(str(workflow.current_basedir)).resolve().parent
SCRIPTS_DIR = WORKFLOW_DIR / "scripts"
# The scripts' shared library is importable here too, so the workflow and the scripts
# agree on config defaults, file names and the strategies.
sys.path.insert(0, str(SCRIPTS_DIR))

from tlpipe.cli import command_line
from tlpipe.cpus import slurm_allocation, thread_plan, usable_cpus
from tlpipe.config import coerce_config, load_schema, read_config_file, validate_config
from tlpipe.deps import library_modules
from tlpipe.errors import PipelineError
from tlpipe.paths import EVAL_METRICS, PREDICTIONS, RUN_METRICS, TRAIN_METRICS
from tlpipe.paths import EXPORT_REPORT, MODEL_CARD, STRATEGY_PREDICTIONS
from tlpipe.paths import ONNX as ONNX_PATH
from tlpipe.paths import PROGRAM as PROGRAM_PATH
from tlpipe.paths import MODEL as MODEL_PATH
from tlpipe.paths import FINAL_MODEL as FINAL_MODEL_PATH
from tlpipe.paths import FINAL_PREDICTIONS
from tlpipe.paths import HEADLINE_METRICS, LIVE, PLOT_DATA, PLOTS_DIR
from tlpipe.strategies import REGISTRY as STRATEGY_REGISTRY

# Values given with --config arrive as strings below the top level (snakemake#2099):
# read as the schema's types first, so `--config train='{epochs: 2}'` means 2; and in
# the key order of the config file DVC reads, so both render the same command lines.
try:
    SCHEMA = load_schema()
    given = workflow.config_settings.overwrite_config or {}
    dvc_reads = "config/config.yaml"
    file_order = read_config_file(dvc_reads) if os.path.exists(dvc_reads) else {}
    config.update(
        validate_config(coerce_config(config, SCHEMA, given, file_order), SCHEMA)
    )
except PipelineError as err:
    raise WorkflowError(str(err)) from None


wildcard_constraints:
    strategy="|".join(STRATEGY_REGISTRY),
    seed=r"\d+",


DATA = config["data"]
MODEL = config["model"]
TRAIN = config["train"]
STRATEGIES = config["strategies"]
SEEDS = config["seeds"]

# Named after values DVC can template too (dvc.yaml spells the same paths): the archive
# after data.name, whatever the URL's file name (its format is told by its content);
# the starting weights after the architecture, whatever model.weights is.
ARCHIVE = f"data/raw/{DATA['name']}.archive"
DATA_DIR = f"data/{DATA['name']}"
PRETRAINED = f"data/weights/{MODEL['arch']}.pth"
# The report's page templates: an edit redoes the report (and nothing else).
REPORT_TEMPLATES = sorted(
    os.path.relpath(p) for p in (WORKFLOW_DIR / "report").glob("*.j2")
)


# Threads per job, from what can really run at once (tlpipe/cpus.py says why, and
# docs/performance.md what was measured). Run here: the CPUs Snakemake may use (--cores,
# capped by the CPUs this process may run on) are shared among the jobs of the
# strategies x seeds grid: rounds of one thread per job, the last partial round split
# so no CPU idles at the end; one run alone gets every CPU. Snakemake's own budget is
# capped to match, so `--cores 4` on 2 CPUs never runs 4 threads on 2 CPUs. Inside a
# cluster job: the CPUs SLURM gave it (the profile's cpus_per_task). Declared threads
# are what a job uses (Snakemake passes them as OMP_NUM_THREADS).
def local_cpus():
    """CPUs the local jobs share, with Snakemake's core budget capped to them."""
    try:
        cores = workflow.cores
    except WorkflowError:  # no --cores given (a dry run, --lint): plan for the machine
        return usable_cpus()
    cpus = min(cores, usable_cpus())
    if cores > cpus:
        logger.info(f"--cores {cores}: this process may use {cpus} CPUs; using {cpus}")
        workflow.global_resources["_cores"] = cpus
    return cpus


if workflow.remote_exec or workflow.non_local_exec:
    LOCAL_CPUS, RUN_THREADS = None, {}
else:
    LOCAL_CPUS = local_cpus()
    RUN_THREADS = thread_plan([(s, SEEDS) for s in STRATEGIES], LOCAL_CPUS)


def job_threads(wildcards=None, strategy=None):
    """Threads of a job: a run's (training, evaluation, export: by strategy and seed)
    from the plan, any other job's (predict: one job) every local CPU."""
    if workflow.remote_exec:  # a cluster job: its allocation
        return slurm_allocation() or usable_cpus()
    if workflow.non_local_exec:  # submitting: sbatch asks the profile's cpus_per_task
        return 1
    if wildcards is None or "seed" not in wildcards.keys():
        return LOCAL_CPUS
    run = (strategy or wildcards.strategy, int(wildcards.seed))
    return RUN_THREADS.get(run, LOCAL_CPUS)


def script(name):
    """A script of workflow/scripts/, as a path relative to the working directory."""
    return os.path.relpath(SCRIPTS_DIR / name)


def library_code(name):
    """The tlpipe modules a script of workflow/scripts/ imports, transitively: the code
    its rule runs besides the script, so an edit to one of them reruns the rule, and an
    edit to another module does not (dvc.yaml lists the same files: tlpipe/deps.py)."""
    return [os.path.relpath(p) for p in library_modules(SCRIPTS_DIR / name)]


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


def predictions_dir(wildcards, output):
    """The folder predict writes predictions/<strategy>.csv into, from its outputs."""
    return os.path.dirname(output[0])


def model_cards_dir(wildcards, output):
    """The folder the report writes the model cards into (reports), from its outputs."""
    return os.path.dirname(output.model_cards[0])


def plots_dir(wildcards, output):
    """The folder the report writes the plots' data into (metrics/plots), from its outputs."""
    return os.path.dirname(output.plots[0])


def manifest_input(wildcards):
    return [] if DATA["manifest"] is None else [DATA["manifest"]]


def predict_input(wildcards):
    """A predict.input to classify (null: the dataset's split, an input already)."""
    images = config["predict"]["input"]
    return [] if images is None else [images]


def local_weights_input(wildcards):
    """A local weights file (model.weights: <path>) that download_weights copies."""
    return [] if MODEL["weights"] in ("IMAGENET1K_V1", "none") else [MODEL["weights"]]


def all_targets():
    """Everything `snakemake` builds by default: the report and what it summarises, the
    model cards, the predictions on predict.input, and the exports if enabled."""
    targets = [
        "reports/comparison.html",
        "reports/comparison.md",
        "metrics/summary.csv",
        "metrics/comparison.json",
        *expand(MODEL_CARD, strategy=STRATEGIES),
        *expand(STRATEGY_PREDICTIONS, strategy=STRATEGIES),
    ]
    if config["export"]["enabled"]:
        targets += expand(EXPORT_REPORT, strategy=STRATEGIES, seed=SEEDS)
    return targets


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
        accuracy = numbers["accuracy"]
        lines.append(
            f"  {name:<16} accuracy {accuracy['mean']:.4f}"
            f" [{accuracy['ci_low']:.4f}, {accuracy['ci_high']:.4f}]"
            f" over {numbers['n_seeds']} seed(s) and {accuracy['n_images']} images"
        )
    print(
        "\nResults ("
        + stats["basis"]["split"]
        + ", "
        + ("last-epoch" if stats["basis"]["checkpoint"] == "final" else "best-epoch")
        + " models; 95% CI over seeds and images)\n"
        + "\n".join(lines)
        + f"\n\n  {stats['verdict']}\n"
        f"\n  report: {report.resolve()}\n"
    )
