"""Single-job baselines from the literature (DESIGN.md section 4): local only, best remote, two-way split.

All three solve ``instance.jobs[0]`` alone, uncapacitated, objective "latency" (like F2, no
early exit is active: every rho is 1), and return a heuristic result (status FEASIBLE, no
bound). Notation as in DESIGN.md: s = source, t = sink, C = compute nodes, tau_{l,n} compute
time, D_o(i, k) = shortest transfer time of o bytes from i to k (link weight o / b_a + delta_a;
with delta > 0 the best path depends on o, so one table per tensor size, the engine's
:class:`dnnsplit.graph.shortest.TransferTables`).

Local only (all layers on the source device):

    (B1) latency = sum_{l=1..L} tau_{l,s} + D_{o_L}(s, t)

    When s cannot compute (a router) the baseline is undefined: it returns status no solution
    with the message "local-only: source ... cannot compute" (no nearest-node substitute).

Best remote (all layers on one remote compute node r != s):

    (B2) latency(r) = D_{o_0}(s, r) + sum_l tau_{l,r} + D_{o_L}(r, t),   r in C \\ {s}

Two-way split (the classic device-cloud split, Neurosurgeon-style): layers 1..k on s,
layers k+1..L on one remote r, best over k = 0..L and r in C \\ {s}:

    (B3) latency(k, r) = sum_{l<=k} tau_{l,s} + D_{o_k}(s, r) + sum_{l>k} tau_{l,r} + D_{o_L}(r, t)   (k < L)
         latency(L, .) = local only (B1)

    k = 0 is "best remote", k = L is "local only", so two-way split <= both. When s cannot
    compute only k = 0 is allowed. Ties are broken by the smallest k, then the smallest node
    index. Every route uses a shortest path for its own tensor size.

A split with no candidate (no remote compute node reachable from the source and able to reach
the sink) is status no solution: the baseline found nothing, which proves no infeasibility.

Records: ``extra["split_layer"]`` (k: layers 1..k stay on the source; L for local only, 0 for
best remote), ``extra["remote_node"]`` (name, None for local only). Gaps to the exact optimum
are not stored here: tables join each heuristic record with the exact record of the same
instance hash (the registered ``reference``, F2) by ``dnnsplit.results.excess``.
``time_limit`` is checked between split points (the whole search takes milliseconds).
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from dnnsplit.graph.layered import job_data
from dnnsplit.graph.shortest import TransferTables
from dnnsplit.options import Clock, SolverOptions
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult, Status
from instances.evaluate import Route
from instances.model import Instance

BACKEND = "heuristic"
REFERENCE = "F2"  # the exact formulation the gaps of these splits are measured against


# ----------------------------------------------------------------------------- the baselines


def _result(status: Status, start: float, **fields) -> SolveResult:
    return SolveResult(status=status, solver="python", solve_time=time.perf_counter() - start, **fields)


class _TimeUp(Exception):
    pass


def _two_way(instance: Instance, splits: Sequence[int], clock: Clock) -> tuple[float, int, int] | None:
    """min over k in ``splits`` and remote r of (B3); (latency, k, r) with r = -1 for k = L."""
    net = instance.network
    s, t, L, sizes, tau = job_data(instance, 0)
    remotes = np.array([int(n) for n in net.compute_nodes if n != s], dtype=np.int64)
    local_ok = net.speed[s] > 0
    from_s = TransferTables(net, origins=[s])
    best: tuple[float, int, int] | None = None
    local_prefix = np.concatenate(([0.0], np.cumsum(tau[:, s]))) if local_ok else None
    if len(remotes):
        to_t = TransferTables(net, origins=remotes).dist(sizes[L], remotes, [t])[:, 0]  # D_{o_L}(r, t)
        # suffix[k, r] = sum_{l > k} tau_{l, r}
        tail = tau[:, remotes]
        suffix = np.concatenate((np.cumsum(tail[::-1], axis=0)[::-1], np.zeros((1, len(remotes)))))
    for k in splits:
        if clock.expired():
            raise _TimeUp
        if k == L:
            if not local_ok:
                continue
            lat = float(local_prefix[L] + from_s.dist(sizes[L], [s], [t])[0, 0])  # (B1)
            cand = (lat, k, -1)
        else:
            if not len(remotes) or (k > 0 and not local_ok):
                continue
            prefix = local_prefix[k] if k > 0 else 0.0
            lat_r = prefix + from_s.dist(sizes[k], [s], remotes)[0] + suffix[k] + to_t  # (B3)
            i = int(np.argmin(lat_r))
            cand = (float(lat_r[i]), k, int(remotes[i]))
        if np.isfinite(cand[0]) and (best is None or cand[0] < best[0]):
            best = cand
    return best


def _route_for(instance: Instance, k: int, r: int) -> Route:
    """Placement (layers 1..k on s, the rest on r) with shortest paths per tensor size."""
    net = instance.network
    s, t, L, sizes, _ = job_data(instance, 0)
    placement = tuple([s] * k + [r] * (L - k))
    nodes = (s, *placement, t)
    tables = TransferTables(net, origins=sorted({s, t, *placement}))
    paths = tuple(tables.path(sizes[l], nodes[l], nodes[l + 1]) for l in range(L + 1))
    return Route(placement, paths)


def _solve_split(name: str, instance: Instance, options: SolverOptions) -> SolveResult:
    clock = options.clock()
    start = time.perf_counter()
    net = instance.network
    s, _, L, _, _ = job_data(instance, 0)
    splits = {"local-only": [L], "best-remote": [0], "two-way-split": list(range(L + 1))}[name]
    if name == "local-only" and net.speed[s] <= 0:
        return _result(Status.NO_SOLUTION, start, message=f"local-only: source {net.node_names[s]!r} cannot compute (a router)")
    try:
        best = _two_way(instance, splits, clock)
    except _TimeUp:
        return _result(Status.TIME_LIMIT, start, message=f"time limit {clock.limit:g} s reached among the split points")
    if best is None:
        why = "no remote compute node reachable from the source and able to reach the sink"
        return _result(Status.NO_SOLUTION, start, message=f"{name}: {why}")
    lat, k, r = best
    route = _route_for(instance, k, s if r < 0 else r)
    extra = {"split_layer": k, "remote_node": None if r < 0 else net.node_names[r]}
    return _result(Status.FEASIBLE, start, objective=lat, decision={0: (route,)}, extra=extra)


def solve_local_only(instance: Instance, options: SolverOptions) -> SolveResult:
    """(B1): every layer on the source device."""
    return _solve_split("local-only", instance, options)


def solve_best_remote(instance: Instance, options: SolverOptions) -> SolveResult:
    """(B2): every layer on the single best remote compute node."""
    return _solve_split("best-remote", instance, options)


def solve_two_way_split(instance: Instance, options: SolverOptions) -> SolveResult:
    """(B3): best split point k and remote node r."""
    return _solve_split("two-way-split", instance, options)


for _name, _fn, _desc in (
    ("local-only", solve_local_only, "all layers on the source device (B1)"),
    ("best-remote", solve_best_remote, "all layers on the best remote compute node (B2)"),
    ("two-way-split", solve_two_way_split, "layers 1..k on the source, k+1..L on one remote node (B3)"),
):
    register(
        SolverSpec(
            formulation=_name,
            backend=BACKEND,
            solve=_fn,
            problem="single",
            objective="latency",
            kind="heuristic",
            description=_desc,
            reference=REFERENCE,
            tags=frozenset({"baseline"}),
        )
    )
