"""How many CPU threads each job gets: the CPUs shared among the jobs that can run side
by side (no torch here: the Snakefile plans with it while it parses).

Measured on 2-CPU machines (docs/performance.md, `benchmarks/cores_benchmark.py`): a
second thread makes a finetune or feature_extract epoch 1.6-1.9x faster, while two
2-thread jobs on two CPUs spin against each other in OpenMP and run far slower than one
after the other. So a job never shares its CPUs: the jobs of a run are planned in
rounds of at most `cpus` jobs, one thread each, and the jobs left over in the last
round (fewer than `cpus`) split the CPUs between them, so the odd job out at the end of
a grid does not run on one thread while the other CPUs idle.
"""

from __future__ import annotations

import os
from collections.abc import Sequence


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask (taskset, a cgroup cpuset, a
    SLURM allocation with task affinity), else every CPU of the machine."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def round_shares(n_jobs: int, cpus: int) -> list[int]:
    """Threads for each of ``n_jobs`` jobs of equal length on ``cpus`` CPUs.

    Full rounds (``cpus`` jobs side by side) get one thread per job; the last, partial
    round of ``r`` jobs gets ``cpus // r`` threads per job, the first ``cpus % r`` of them
    one more, so every CPU stays busy until the end. One job alone gets every CPU; ten
    jobs on two CPUs one thread each; ten on sixteen 2 threads for six and 1 for four.
    """
    if n_jobs < 0 or cpus < 1:
        raise ValueError(f"need n_jobs >= 0 and cpus >= 1, got {n_jobs} and {cpus}")
    in_full_rounds = n_jobs - n_jobs % cpus
    left = n_jobs - in_full_rounds
    last_round = [cpus // left + (i < cpus % left) for i in range(left)] if left else []
    return [1] * in_full_rounds + last_round


def thread_plan(
    groups: Sequence[tuple[str, Sequence[int]]], cpus: int
) -> dict[tuple[str, int], int]:
    """Threads per job, ``(group, member) -> threads``: each group (a strategy and its
    seeds: jobs of about equal length) shared out with :func:`round_shares`; the last
    members of a group form its partial round."""
    plan = {}
    for name, members in groups:
        for member, threads in zip(members, round_shares(len(members), cpus), strict=True):
            plan[name, member] = threads
    return plan


def slurm_allocation() -> int | None:
    """CPUs SLURM gave this job (``$SLURM_CPUS_PER_TASK``), or None outside a job."""
    value = os.environ.get("SLURM_CPUS_PER_TASK", "")
    return int(value) if value.isdigit() and int(value) > 0 else None
