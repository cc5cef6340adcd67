"""`snakemake --profile slurm` on a real single-node SLURM cluster (see ci/slurm/).

The workflow runs on the tiny generated dataset with the repository's profile, typed as a
user types it, from the project root (``slurm`` is a link to ``profiles/slurm``). Checks:
sacct lists exactly the jobs snakemake submitted, one COMPLETED job per non-local job, the
training jobs with the memory and time limit of the strategy registry and every job with
limits of its own; the downloads ran on the submit host, not as jobs; the metrics equal
those of a local
``snakemake --cores 2`` run with the same config and thread count. A second run interrupts
both training jobs after their first epoch (one is requeued by SLURM, the other killed and
resubmitted by snakemake): each must resume from the last completed epoch and end with the
numbers of an uninterrupted run.

Skipped when SLURM is not installed or its node is not up. As root, with
ci/slurm/start.sh present, the module starts the test cluster itself (idempotent) and stops
it afterwards, but only when it was not running before.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
import yaml
from conftest import (
    REPO,
    TIMING_KEYS,
    copy_project,
    ensure_slurm_controller,
    snakemake,
    tiny_config,
    venv_env,
    without_keys,
    write_config,
)
from datagen import sha256

from tlpipe.strategies import REGISTRY as STRATEGY_REGISTRY

pytestmark = pytest.mark.workflow

START, STOP = REPO / "ci/slurm/start.sh", REPO / "ci/slurm/stop.sh"
RUN_TIMEOUT = 600  # seconds for one `snakemake --profile slurm` run (about 2 minutes on CI)
# Jobs of the default target that must run through sbatch, by rule.
SEED = 7  # tiny_config's one seed
EXPECTED_JOBS = {"prepare_data": 1, "train_finetune": 1, "train_feature_extract": 1,
                 "evaluate": 2, "report": 1, "predict": 1}  # fmt: skip
TRAIN_RULES = {"train_finetune": "finetune", "train_feature_extract": "feature_extract"}
LOCAL_RULES = ("download_data", "download_weights")
# Fields that differ between two runs of the same config: wall-clock times and the host.
VOLATILE_KEYS = TIMING_KEYS | {"provenance"}
SACCT_FIELDS = "JobID,JobName,Comment,State,Partition,Account,AllocCPUS,ReqMem,Timelimit,Elapsed"
SUBMITTED = re.compile(
    r"Job \d+ has been submitted with SLURM jobid (\d+) "
    r"\(log: \S*/slurm_logs/rule_(\w+)/(?:([^/\s]+)/)?\d+\.log\)"
)


def run_file(strategy: str, name: str) -> str:
    """The train.json or eval.json of a strategy's run with the test seed."""
    return f"metrics/runs/{strategy}/seed{SEED}/{name}.json"


def test_profile_is_linked_and_leaves_resources_to_the_rules():
    """Static checks, no SLURM needed: `--profile slurm` finds ./slurm -> profiles/slurm;
    memory and time limits come from the rules (training: the strategy registry), not
    the profile; partition and account are the site's to fill in."""
    link = REPO / "slurm"
    assert link.is_symlink() and os.readlink(link) == "profiles/slurm"
    profile = yaml.safe_load((link / "config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["jobs"] >= 2
    sections = [profile.get("default-resources") or {}]
    sections += (profile.get("set-resources") or {}).values()
    for resources in sections:
        assert not {"mem_mb", "mem", "runtime"} & set(resources), resources
        assert "slurm_partition" not in resources and "slurm_account" not in resources
    assert profile["retries"] >= 1 and profile["rerun-incomplete"] is True
    # profiles/default applies to every run, local ones too: never the cluster settings
    default = REPO / "profiles/default/config.yaml"
    if default.exists():
        settings = yaml.safe_load(default.read_text()) or {}
        assert "executor" not in settings and "default-resources" not in settings


def query(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def node_states() -> list[str] | None:
    """States of the cluster's nodes, or None when the controller does not answer."""
    try:
        result = query("sinfo", "-h", "-o", "%T")
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.split() if result.returncode == 0 and result.stdout.strip() else None


def node_ready(wait: float = 30) -> bool:
    """A node can take jobs (idle or mixed), waiting up to ``wait`` seconds for it."""
    deadline = time.monotonic() + wait
    while True:
        states = node_states()
        if states is None:  # no controller: nothing to wait for
            return False
        if {"idle", "mixed"} & set(states):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(1)


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running SLURM cluster; started here (and stopped after) when this module may."""
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        pytest.skip("SLURM is not installed (no sbatch/sinfo): see ci/slurm/README.md")
    ensure_slurm_controller()  # the session's start, where it may (stopped at its end)
    was_running = node_states() is not None
    may_start = os.geteuid() == 0 and START.exists()
    if may_start:  # idempotent; also applies an updated slurm.conf to a running cluster
        result = subprocess.run([str(START)], capture_output=True, text=True, timeout=900)
        if result.returncode != 0 and not was_running:
            pytest.fail(f"{START} failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    elif not was_running:
        pytest.skip("the SLURM cluster is not running: start it with ci/slurm/start.sh (root)")
    try:
        if not node_ready():
            pytest.skip("no SLURM node is idle: see `sinfo` (and ci/slurm/README.md)")
        yield
    finally:
        if may_start and not was_running:
            subprocess.run([str(STOP)], capture_output=True, text=True, timeout=300)


def node_capacity() -> dict:
    """CPUs, memory (MB), GPUs and partition names of the default partition's nodes."""
    result = query("sinfo", "-h", "-o", "%P|%c|%m|%G")
    rows = [line.split("|") for line in result.stdout.split()]
    default = next((r for r in rows if r[0].endswith("*")), rows[0])
    return {
        "cpus": int(default[1].rstrip("+")),
        "mem_mb": int(default[2].rstrip("+")),
        "gpus": "gpu" in default[3],
        "partitions": {r[0].rstrip("*") for r in rows},
    }


def registry_resources(node: dict) -> dict[str, dict[str, int]]:
    """What each training rule asks SLURM for: its strategy's registry entry, its memory
    capped at the test node's (see :func:`fit_profile_to_node`)."""
    return {
        f"train_{name}": {"mem_mb": min(s.mem_mb, node["mem_mb"]), "runtime": s.runtime}
        for name, s in STRATEGY_REGISTRY.items()
    }


def fit_profile_to_node(profile: dict, node: dict) -> list[str]:
    """Lower in ``profile`` what the test node cannot give (a training rule's memory from
    the registry, GPUs; a site's partition or account, should someone fill them in);
    returns one line per change. The rules need none on a node with >= 4 GB: the test
    then runs the repository profile as is."""
    changes = []
    set_resources = profile.setdefault("set-resources", {}) or {}
    profile["set-resources"] = set_resources
    for rule, resources in registry_resources(node).items():
        strategy = STRATEGY_REGISTRY[rule.removeprefix("train_")]
        if resources["mem_mb"] < strategy.mem_mb:
            changes.append(f"set-resources.{rule}.mem_mb: {strategy.mem_mb} -> {node['mem_mb']}")
            set_resources.setdefault(rule, {})["mem_mb"] = node["mem_mb"]
    sections = {"default-resources": profile.get("default-resources") or {}}
    for rule, resources in set_resources.items():
        sections[f"set-resources.{rule}"] = resources
    for name, resources in sections.items():
        if int(resources.get("mem_mb", 0)) > node["mem_mb"]:
            changes.append(f"{name}.mem_mb: {resources['mem_mb']} -> {node['mem_mb']}")
            resources["mem_mb"] = node["mem_mb"]
        if int(resources.get("cpus_per_task", 0)) > node["cpus"]:
            changes.append(f"{name}.cpus_per_task: {resources['cpus_per_task']} -> {node['cpus']}")
            resources["cpus_per_task"] = node["cpus"]
        if resources.get("gpu") and not node["gpus"]:
            changes.append(f"{name}.gpu: {resources['gpu']} -> removed (node has no GPU)")
            resources.pop("gpu")
            resources.pop("gpu_model", None)
        partition = resources.get("slurm_partition")
        if partition is not None and partition not in node["partitions"]:
            changes.append(f"{name}.slurm_partition: {partition} -> default partition")
            resources.pop("slurm_partition")
        if resources.get("slurm_account") is not None:
            changes.append(f"{name}.slurm_account: {resources.pop('slurm_account')} -> default")
    if not set_resources:
        profile.pop("set-resources")
    return changes


def megabytes(req_mem: str) -> float:
    """sacct's ReqMem (``2100M``; before SLURM 21.08 with ``n``/``c`` for per node/CPU)."""
    match = re.fullmatch(r"([\d.]+)([KMGT])[nc]?", req_mem)
    assert match, f"unexpected ReqMem {req_mem!r}"
    return float(match.group(1)) * {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}[match[2]]


def minutes(time_limit: str) -> float:
    """sacct's Timelimit (``[days-]hours:minutes:seconds``; UNLIMITED: infinity)."""
    if time_limit in ("UNLIMITED", "INFINITE", "Partition_Limit"):
        return float("inf")
    days, _, clock = time_limit.rpartition("-")
    hours, mins, secs = (int(part) for part in clock.split(":"))
    return int(days or 0) * 1440 + hours * 60 + mins + secs / 60


def sacct_rows(run_id: str, expected: int, duplicates: bool = False) -> list[dict[str, str]]:
    """sacct's records of the jobs named ``run_id`` (the plugin's job name for one run),
    polled until ``expected`` records in a final state are there (the accounting DB can
    lag a few seconds)."""
    fields = SACCT_FIELDS.split(",")
    deadline = time.monotonic() + 60
    while True:
        flags = ["-X", "-P", "-n", "-D"] if duplicates else ["-X", "-P", "-n"]
        result = query("sacct", *flags, "--starttime", "now-2days", "--name", run_id,
                       "-o", SACCT_FIELDS)  # fmt: skip
        rows = [dict(zip(fields, line.split("|"), strict=True))
                for line in result.stdout.splitlines() if line.strip()]  # fmt: skip
        final = ("COMPLETED", "CANCELLED", "FAILED", "REQUEUED", "TIMEOUT")
        done = all(r["State"].split()[0] in final for r in rows)
        if (len(rows) >= expected and done) or time.monotonic() > deadline:
            return rows
        time.sleep(2)


def sacct_table(run_id: str, duplicates: bool = False) -> str:
    """The listing a person would look at (for the test output and the docs)."""
    fields = SACCT_FIELDS.replace("JobName", "JobName%36").replace("Comment", "Comment%40")
    flags = ["-X", "-D"] if duplicates else ["-X"]
    result = query("sacct", *flags, "--starttime", "now-2days", "--name", run_id, "-o", fields)
    return result.stdout


def stores_comments() -> bool:
    """Whether sacct can show sbatch --comment (AccountingStoreFlags=job_comment)."""
    result = query("scontrol", "show", "config")
    return "job_comment" in result.stdout.lower()


def stop(proc: subprocess.Popen) -> None:
    """Stop snakemake as a user does: SIGINT (it ignores SIGTERM while waiting for jobs),
    upon which it scancels its jobs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_slurm(project: Path, *args: str, during=None) -> str:
    """Run ``snakemake --profile slurm`` in ``project`` as a user would, plus ``args``;
    return its output. ``during(output_so_far)`` is called every 0.1 s while it runs."""
    cmd = ["snakemake", "--profile", "slurm", *args,
           "--slurm-init-seconds-before-status-checks", "1"]  # fmt: skip
    log = project / f"snakemake-slurm-{time.strftime('%H%M%S')}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=project, env=venv_env(), stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + RUN_TIMEOUT
            while proc.poll() is None and time.monotonic() < deadline:
                if during is not None:
                    during(log.read_text())
                time.sleep(0.1)
        finally:
            timed_out = proc.poll() is None
            stop(proc)
    output = log.read_text()
    if timed_out:
        pytest.fail(f"{' '.join(cmd)}: still running after {RUN_TIMEOUT}s, stopped with "
                    f"SIGINT\n{output[-8000:]}")  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}\n{output[-8000:]}")
    return output


def run_id_of(output: str) -> str:
    match = re.search(r"SLURM run ID: (\S+)", output)
    assert match, "no 'SLURM run ID' in snakemake's output"
    return match.group(1)


def submitted_jobs(output: str) -> dict[str, tuple[str, str]]:
    """SLURM job id -> (rule, wildcards) for every job snakemake submitted."""
    return {jobid: (rule, wildcards or "") for jobid, rule, wildcards in SUBMITTED.findall(output)}


def read(project: Path, path: str) -> dict:
    return json.loads((project / path).read_text())


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory, tiny_dataset, weights_file):
    """The default target run once through SLURM and once locally, same config."""
    node = node_capacity()
    if node["cpus"] < 2:
        pytest.skip(f"the SLURM node has {node['cpus']} CPU; the test compares 2-thread runs")
    base = tmp_path_factory.mktemp("slurm")
    # Both copies first, so both runs use the same code even if the tree changes meanwhile.
    cluster, local = copy_project(base / "cluster"), copy_project(base / "local")
    assert (cluster / "slurm").is_symlink(), "the copy must keep the `slurm` profile link"
    # IMAGENET1K_V1 with a local weights_url: download_weights runs too (as a local rule).
    model = {"weights": "IMAGENET1K_V1", "weights_url": str(weights_file),
             "weights_sha256": sha256(weights_file)}  # fmt: skip
    config = tiny_config(tiny_dataset, weights_file, model=model, train={"epochs": 2})
    for project in (cluster, local):
        write_config(project, config)

    profile_file = (cluster / "slurm" / "config.yaml").resolve()
    profile = yaml.safe_load(profile_file.read_text())
    changes = fit_profile_to_node(profile, node)
    if changes:
        header = "".join(f"# test override: {line}\n" for line in changes)
        profile_file.write_text(header + yaml.safe_dump(profile, sort_keys=False))
    output = run_slurm(cluster, "--configfile", "test-config.yaml")
    run_id = run_id_of(output)
    rows = sacct_rows(run_id, sum(EXPECTED_JOBS.values()))
    print(f"\nprofile changes for this node: {changes or 'none'}\n{sacct_table(run_id)}")

    # locally only what test_metrics_match_a_local_run compares: each run's two files
    runs = [run_file(strategy, name) for strategy in TRAIN_RULES.values() for name in
            ("train", "eval")]  # fmt: skip
    cpus = profile["default-resources"]["cpus_per_task"]  # threads of the cluster's jobs
    snakemake(local, *runs, "--cores", str(cpus), "--configfile", "test-config.yaml")
    return {"cluster": cluster, "local": local, "config": config, "output": output,
            "run_id": run_id, "sacct": rows, "node": node,
            "cpus_per_task": cpus}  # fmt: skip


def test_every_non_local_job_ran_as_a_slurm_job(slurm_run):
    rows, submitted = slurm_run["sacct"], submitted_jobs(slurm_run["output"])
    assert {r["JobID"] for r in rows} == set(submitted), "sacct must list what was submitted"
    assert Counter(rule for rule, _ in submitted.values()) == EXPECTED_JOBS
    for row in rows:
        rule, wildcards = submitted[row["JobID"]]
        assert row["State"] == "COMPLETED", row
        assert row["JobName"] == slurm_run["run_id"]
        if stores_comments():  # the plugin's comment names the rule and wildcards
            suffix = f"_wildcards_{wildcards}" if wildcards else ""
            assert row["Comment"] == f"rule_{rule}{suffix}", row
        # the profile's cpus_per_task (fitted to the node), for every job
        assert row["AllocCPUS"] == str(slurm_run["cpus_per_task"]), row
    assert {w for rule, w in submitted.values() if rule in TRAIN_RULES} == {str(SEED)}


def test_jobs_ask_for_the_resources_their_rules_name(slurm_run):
    """A training job gets its strategy's memory and time limit from the registry; every
    other job a limit of its own too (without one, SLURM would give it the whole node's
    memory and the partition's unlimited time)."""
    node, submitted = slurm_run["node"], submitted_jobs(slurm_run["output"])
    expected = registry_resources(node)
    for row in slurm_run["sacct"]:
        rule, _ = submitted[row["JobID"]]
        asked = {"mem_mb": megabytes(row["ReqMem"]), "runtime": minutes(row["Timelimit"])}
        if rule in expected:
            assert asked == expected[rule], (rule, row)
        else:
            assert asked["mem_mb"] < node["mem_mb"] and asked["runtime"] < float("inf"), row


def test_downloads_ran_on_the_submit_host(slurm_run):
    output, cluster = slurm_run["output"], slurm_run["cluster"]
    submitted_rules = {rule for rule, _ in submitted_jobs(output).values()}
    comments = " ".join(r["Comment"] for r in slurm_run["sacct"])
    for rule in LOCAL_RULES:
        assert f"localrule {rule}:" in output
        assert rule not in submitted_rules and f"rule_{rule}" not in comments
    assert (cluster / "data/raw/tiny.archive").is_file()
    assert (cluster / "data/weights/resnet18.pth").is_file()


@pytest.mark.parametrize("strategy", ["finetune", "feature_extract"])
def test_metrics_match_a_local_run(slurm_run, strategy):
    cluster, local = slurm_run["cluster"], slurm_run["local"]
    volatile = VOLATILE_KEYS | {"peak_rss_mb"}
    for name in ("train", "eval"):
        on_cluster = read(cluster, run_file(strategy, name))
        here = read(local, run_file(strategy, name))
        assert without_keys(on_cluster, volatile) == without_keys(here, volatile), (
            f"{strategy} {name}.json"
        )
    prov_cluster = read(cluster, run_file(strategy, "train"))["provenance"]
    prov_local = read(local, run_file(strategy, "train"))["provenance"]
    # a cluster job uses the CPUs it got; one run alone locally, every CPU: the same here
    assert prov_cluster["threads"] == prov_local["threads"] == slurm_run["cpus_per_task"]
    assert prov_cluster["device"] == prov_local["device"]
    assert len(read(cluster, run_file(strategy, "train"))["history"]) == 2


def job_pids(jobid: str) -> list[int]:
    """PIDs of the job's processes on the node (``scontrol listpids``; header skipped)."""
    first_words = (
        line.split()[:1] for line in query("scontrol", "listpids", jobid).stdout.splitlines()
    )
    return [int(word[0]) for word in first_words if word and word[0].isdigit()]


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None
    once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()  # the name in (...) may contain spaces


def suspend(jobid: str) -> None:
    """Stop a running job where it is (SIGSTOP) and wait until every process has stopped.

    ``scontrol suspend`` returns as soon as slurmctld accepts the request; slurmd sends the
    signals afterwards, so without the wait training can save another epoch meanwhile."""
    result = query("scontrol", "suspend", jobid)
    assert result.returncode == 0, f"scontrol suspend {jobid}: {result.stderr}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        states = {pid: (proc_stat(pid) or ["gone"])[0] for pid in job_pids(jobid)}
        if states and all(state in ("gone", "T", "t", "Z") for state in states.values()):
            return
        time.sleep(0.05)
    pytest.fail(f"job {jobid} not stopped 30 s after scontrol suspend: {states}")


def job_state(jobid: str) -> str:
    return query("squeue", "-h", "-j", jobid, "-o", "%T").stdout.strip()


def training_process(jobid: str) -> int:
    """The job's main train.py process: not one of its DataLoader workers, which are
    forked from it and so have the same command line."""

    def runs_train_py(pid: int) -> bool:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        is_python = os.path.basename(argv[0]).startswith(b"python")
        return is_python and len(argv) > 1 and argv[1].endswith(b"train.py")

    pids = job_pids(jobid)
    parents = {pid: int((proc_stat(pid) or ["", "0"])[1]) for pid in pids}
    mains = [pid for pid in pids if runs_train_py(pid) and not runs_train_py(parents[pid])]
    assert len(mains) == 1, f"job {jobid}: expected one train.py process in {pids}: {mains}"
    return mains[0]


def end_suspended(jobid: str, how: str) -> None:
    """End a suspended training job the way a cluster does.

    ``requeue``: killed and put back in the queue, as preemption with PreemptMode=REQUEUE
    or a node failure with --requeue does; the job starts again from the top under the
    same id (released at once here: SLURM holds a requeued job for a while).
    ``kill``: the training process gets SIGKILL (as from the OOM killer), the job FAILS
    and snakemake's retries submit it again; a time limit (TIMEOUT) is handled the same
    way by the plugin. (Not scancel: plugin 2.8.0 takes its "CANCELLED by <uid>" for a
    running job and waits for ever.)"""
    if how == "requeue":
        assert query("scontrol", "requeue", jobid).returncode == 0
        deadline = time.monotonic() + 60
        while job_state(jobid) != "PENDING" and time.monotonic() < deadline:
            time.sleep(0.2)
        query("scontrol", "release", jobid)
        query("scontrol", "update", f"JobId={jobid}", "StartTime=now")
        return
    os.kill(training_process(jobid), signal.SIGKILL)  # delivered even to a stopped process
    query("scontrol", "resume", jobid)


def test_interrupted_training_jobs_resume_from_their_last_epoch(slurm_run):
    """Interrupt each training job once it has saved an epoch (finetune: requeue,
    feature_extract: SIGKILL and retry): each resumes after the epoch saved in
    checkpoints/<strategy>/seed<k>/last.pt and ends with the numbers of an uninterrupted run."""
    if os.geteuid() != 0:
        pytest.skip("scontrol suspend needs SLURM operator rights (root on the test cluster)")
    # 10 epochs > StepLR's step_size 7: a resumed run must restore the schedule too
    cluster, local, epochs = slurm_run["cluster"], slurm_run["local"], 10
    config = {**slurm_run["config"], "train": {**slurm_run["config"]["train"], "epochs": epochs}}
    for project in (cluster, local):
        write_config(project, config, "resume.yaml")
    how = {"finetune": "requeue", "feature_extract": "kill"}
    interrupted: dict[str, tuple[str, int]] = {}  # strategy -> (SLURM job id, epochs saved)
    endings = []

    def interrupt_after_an_epoch(output: str) -> None:
        for jobid, (rule, _) in submitted_jobs(output).items():
            strategy = TRAIN_RULES.get(rule)
            last = cluster / f"checkpoints/{strategy}/seed{SEED}/last.pt"
            if strategy and strategy not in interrupted and last.exists():
                suspend(jobid)
                interrupted[strategy] = (jobid, torch.load(last, weights_only=True)["epoch"])
                # in the background: a requeue takes seconds, in which the other job
                # (10 epochs of tiny data) could finish before it is caught
                endings.append(background.submit(end_suspended, jobid, how[strategy]))

    targets = [run_file(strategy, "train") for strategy in how]
    with ThreadPoolExecutor() as background:
        output = run_slurm(cluster, *targets, "--configfile", "resume.yaml",
                           during=interrupt_after_an_epoch)  # fmt: skip
    for ending in endings:
        ending.result()  # raises what went wrong in the background
    run_id = run_id_of(output)
    rows = sacct_rows(run_id, 4, duplicates=True)
    print(f"\n{sacct_table(run_id, duplicates=True)}")
    assert set(interrupted) == set(how), f"not interrupted in time: raise epochs ({interrupted})"
    states = [(r["JobID"], r["State"].split()[0]) for r in rows]
    requeued, killed = interrupted["finetune"][0], interrupted["feature_extract"][0]
    assert [s for j, s in states if j == requeued] == ["REQUEUED", "COMPLETED"], states
    assert [s for j, s in states if j == killed] == ["FAILED"], states
    retries = [s for j, s in states if j not in (requeued, killed)]
    assert retries == ["COMPLETED"], states  # feature_extract's second attempt

    snakemake(
        local, *targets, "--cores", str(slurm_run["cpus_per_task"]), "--configfile", "resume.yaml"
    )
    for strategy, (_, saved) in interrupted.items():
        log = (cluster / f"logs/train/{strategy}/seed{SEED}.log").read_text()
        match = re.search(r"resuming from \S*last\.pt after epoch (\d+)", log)
        assert match, f"{strategy}: the second attempt did not resume:\n{log}"
        assert 1 <= int(match.group(1)) == saved < epochs
        assert not (cluster / f"checkpoints/{strategy}/seed{SEED}/last.pt").exists()
        resumed = read(cluster, run_file(strategy, "train"))
        uninterrupted = read(local, run_file(strategy, "train"))
        assert len(resumed["history"]) == epochs
        volatile = VOLATILE_KEYS | {"peak_rss_mb"}
        assert without_keys(resumed, volatile) == without_keys(uninterrupted, volatile), strategy
