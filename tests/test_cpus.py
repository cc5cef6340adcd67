"""Threads per job (tlpipe.cpus): the CPUs shared among the jobs that run side by side."""

from __future__ import annotations

import json
import re

import pytest
from conftest import RECORDED_CORES, RECORDED_SEEDS, snakemake, tiny_config, write_config

from tlpipe import paths
from tlpipe.cpus import round_shares, slurm_allocation, thread_plan, usable_cpus
from tlpipe.runs import metrics_file


@pytest.mark.parametrize(
    ("n_jobs", "cpus", "expected"),
    [
        (1, 2, [2]),  # one job alone: every CPU
        (1, 16, [16]),
        (5, 2, [1, 1, 1, 1, 2]),  # two full rounds, the odd job out gets both CPUs
        (10, 2, [1] * 10),
        (5, 4, [1, 1, 1, 1, 4]),
        (3, 2, [1, 1, 2]),
        (10, 16, [2] * 6 + [1] * 4),  # what is left over goes to the first six
        (3, 16, [6, 5, 5]),
        (0, 4, []),
    ],
)
def test_rounds_of_one_thread_and_the_last_round_split(n_jobs, cpus, expected):
    shares = round_shares(n_jobs, cpus)
    assert shares == expected
    # no round ever asks for more CPUs than there are, and the last one uses them all
    assert all(t <= cpus for t in shares)
    if n_jobs % cpus:
        assert sum(shares[n_jobs - n_jobs % cpus :]) == cpus


def test_each_strategy_is_shared_out_on_its_own():
    plan = thread_plan([("finetune", [1, 2, 3]), ("feature_extract", [7])], cpus=2)
    assert plan == {
        ("finetune", 1): 1,
        ("finetune", 2): 1,
        ("finetune", 3): 2,
        ("feature_extract", 7): 2,
    }


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="cpus >= 1"):
        round_shares(2, 0)


def test_slurm_allocation_is_read_from_the_job_environment(monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "8")
    assert slurm_allocation() == 8
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "")
    assert slurm_allocation() is None
    monkeypatch.delenv("SLURM_CPUS_PER_TASK")
    assert slurm_allocation() is None
    assert usable_cpus() >= 1


def planned_threads(project, *args) -> dict[str, int]:
    """Job (rule and wildcards) -> threads, as `snakemake -n` plans them."""
    out = snakemake(project, "-n", "-F", *args).stdout
    jobs, job = {}, None
    for line in out.splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):", line):
            job = match.group(1)
            jobs[job] = 1
        elif job and line.strip().startswith("wildcards:"):
            del jobs[job]
            job = f"{job} {line.split(':', 1)[1].strip()}"
            jobs[job] = 1
        elif job and line.strip().startswith("threads:"):
            jobs[job] = int(line.split(":")[1])
    return jobs


@pytest.mark.workflow
def test_the_workflow_plans_threads_from_cores_capped_by_the_cpus(
    project, tiny_dataset, weights_file
):
    cpus = usable_cpus()
    config = tiny_config(tiny_dataset, weights_file, seeds=[1, 2, 3])
    configfile = write_config(project, config)
    for cores in (1, 2, cpus, 4 * cpus):
        plan = planned_threads(project, "--cores", str(cores), "--configfile", configfile.name)
        expected = round_shares(3, min(cores, cpus))
        for rule, wildcard in (("train_finetune", "seed={}"),
                               ("evaluate", "strategy=finetune, seed={}")):  # fmt: skip
            got = [plan[f"{rule} {wildcard.format(seed)}"] for seed in (1, 2, 3)]
            assert got == expected, (cores, rule)
        assert plan["predict"] == min(cores, cpus)
    # a single run gets every CPU Snakemake may use
    plan = planned_threads(
        project, "--cores", str(4 * cpus), "--configfile", configfile.name,
        "--config", "seeds=[1]", "strategies=[finetune]",
    )  # fmt: skip
    assert plan["train_finetune seed=1"] == cpus


@pytest.mark.workflow
def test_the_recorded_run_trained_with_the_planned_threads(recorded_run):
    """`--cores 4` (make run's) capped at the CPUs there are, and each run's training job
    used the threads planned for it (train.json's provenance)."""
    cpus = min(RECORDED_CORES, usable_cpus())
    assert f"Provided cores: {cpus}" in recorded_run["result"].stderr
    expected = round_shares(len(RECORDED_SEEDS), cpus)
    project = recorded_run["project"]
    for strategy in recorded_run["config"]["strategies"]:
        used = [
            json.loads(metrics_file(project / paths.RUNS_DIR, strategy, seed,
                                    paths.TRAIN_METRICS).read_text())["provenance"]["threads"]
            for seed in RECORDED_SEEDS
        ]  # fmt: skip
        assert used == expected, strategy
