"""Test-only backends for the campaign runner, registered with DNNSPLIT_PLUGINS=tests.misbehaving_backends.

Formulation "test-sleep" solves by placing every layer on the source node (a feasible,
evaluator-checked decision) after sleeping briefly; formulation "test-bad" misbehaves in one
way per backend: hangs, allocates without bound, aborts, exits, segfaults, or dies with a
``std::bad_alloc`` message. All are problem="single" and meant for tiny instances only.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
import time
from collections import deque

from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult, Status
from instances.evaluate import Route, evaluate
from instances.model import Instance
from dnnsplit.options import SolverOptions

SLEEP_SECONDS = 0.3


def _hop_path(instance: Instance, start: int, end: int) -> tuple[int, ...]:
    """Fewest-hop path (link indices) from start to end, by BFS."""
    net = instance.network
    prev: dict[int, tuple[int, int]] = {start: (-1, -1)}
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for a in range(net.num_links):
            if int(net.link_source[a]) == u:
                v = int(net.link_target[a])
                if v not in prev:
                    prev[v] = (u, a)
                    queue.append(v)
    path = []
    node = end
    while node != start:
        node, a = prev[node]
        path.append(a)
    return tuple(reversed(path))


def _all_on_source(formulation: str, backend: str, instance: Instance) -> SolveResult:
    job = instance.jobs[0]
    L = instance.model_of(job).num_layers
    t0 = time.perf_counter()
    route = Route(placement=(job.source,) * L, paths=((),) * L + (_hop_path(instance, job.source, job.sink),))
    t1 = time.perf_counter()
    objective = evaluate(instance, {0: (route,)}).objective("latency")
    return SolveResult(
        formulation, backend, Status.FEASIBLE, objective=objective, decision={0: (route,)},
        solver="test", solver_version="0", build_time=t1 - t0, solve_time=time.perf_counter() - t1,
    )


def _sleep_then_solve(instance: Instance, options: SolverOptions) -> SolveResult:
    time.sleep(SLEEP_SECONDS)
    return _all_on_source("test-sleep", "short", instance)


def _hang(instance: Instance, options: SolverOptions) -> SolveResult:
    pid_file = os.environ.get("DNNSPLIT_TEST_PID_FILE")
    if pid_file:  # lets a test check that a killed campaign leaves no orphan
        with open(pid_file, "w") as fh:
            fh.write(str(os.getpid()))
    while True:
        time.sleep(3600)


def _oom(instance: Instance, options: SolverOptions) -> SolveResult:
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        raise RuntimeError("the test 'oom' backend only runs under a memory limit")
    hoard = []
    for _ in range(1024):  # up to 64 GiB in 64 MiB blocks: stops at the limit
        hoard.append(bytearray(64 * 2**20))
    raise AssertionError("the memory limit was not enforced")


def _abort(instance: Instance, options: SolverOptions) -> SolveResult:
    os.abort()


def _exit(instance: Instance, options: SolverOptions) -> SolveResult:
    os._exit(7)


def _segfault(instance: Instance, options: SolverOptions) -> SolveResult:
    ctypes.string_at(0)
    raise AssertionError("unreachable")


def _bad_alloc(instance: Instance, options: SolverOptions) -> SolveResult:
    sys.stderr.write("terminate called after throwing an instance of 'std::bad_alloc'\n  what():  std::bad_alloc\n")
    sys.stderr.flush()
    os.abort()


register(SolverSpec("test-sleep", "short", _sleep_then_solve, "single", "latency", kind="heuristic",
                    description="test only: all layers on the source after a short sleep"))
for _name, _fn in (("hang", _hang), ("oom", _oom), ("abort", _abort), ("exit", _exit), ("segfault", _segfault), ("badalloc", _bad_alloc)):
    register(SolverSpec("test-bad", _name, _fn, "single", "latency", kind="heuristic", accepts=frozenset({"time_limit"}),
                        description=f"test only: {_name}"))
