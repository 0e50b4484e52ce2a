"""FIN-style minimum-energy deployment with a deadline and an accuracy target (DESIGN.md section 4).

Problem: one job (``instance.jobs[0]``, uncapacitated like every single-job formulation),
objective "energy" = lambda * E[energy per request], subject to E[latency] <= T (the job's
deadline) and expected accuracy >= A (the job's accuracy target), choosing the active early
exits, the placement and every path. Costs and weights are exactly those of
``instances/evaluate.py``: with active exits X, rho_l = 1 - sum_{x in X, x < l} q_x.

Graph. For each exit configuration X (a subset of the model's exits) with
sum_{x in X} q_x alpha_x + rho_{L+1} alpha_L >= A (all subsets when the job or the model has no
accuracy figure), the (block, node) graph is the layered graph of F2 with one block per layer
(the finest blocks; FIN's coarser blocks are a restriction of it). Arc coefficients are those of
the exact F3 models (``formulations.f3.model.build_template``), so gaps are comparable:

    (R1) comm arc (i, l) -> (k, l), link a, l = 0..L:  latency rho_{l+1}(o_l / b_a + delta_a),
         energy rho_{l+1} eps_a o_l
    (R2) compute arc (n, l-1) -> (n, l), n in C:      latency rho_l tau_{l,n} (+ rho_x h_x / c_n
         when l = x in X), energy p_n * that
    (R3) exit delivery, added to the compute arc of layer x in X on node n: the result r_x
         follows the latency-shortest path E_x(n) to t_j (as in F3): latency q_x D_x(n, t_j),
         energy q_x eps(E_x(n)) r_x

Latency levels. With Delta = T / gamma, every arc latency is rounded UP to an integer number
of levels d = ceil(latency / Delta) (d = 0 only for zero latency). Every vertex v is replicated
into levels 0..gamma; an arc goes from (v, k) to (w, k + d); levels above gamma (beyond the
deadline) are dropped. The minimum-energy path to (t_j, L, k <= gamma) is found by dynamic
programming over the acyclic level graph (levels ascending, then copies ascending; arcs of
zero level only occur where a weight rho is 0 and are closed by relaxation):

    (R4) E(v, k) = min( E(v, k-1),  min_{arc (u, v), level d} E(u, k - d) + energy(arc) )

Because every rounded level sum is >= the true latency, every returned deployment meets the
deadline (it is also checked with the evaluator); the loss is at most (number of arcs on the
optimal path) * Delta of latency slack, so the gap to the exact optimum tends to 0 as gamma
grows when the optimum meets the deadline with slack (it need not shrink monotonically). The
best over the exit configurations is returned. Size per exit configuration: (gamma+1)(L+1)|N|
labels (memory), O(gamma (L+1) |A| log |A| + gamma L |C|) work.

gamma: backends "g10", "g20", "g50", "g100", "g200", "g500" fix it; backend "levels" takes
``raw={"gamma": G}`` (default 20, integer 2..2000). A job with no deadline is solved without
levels (plain minimum-energy layered path, exact). No configuration meeting the accuracy target:
status infeasible (a proof: no deployment can meet it); no path within gamma levels: status no
solution (with rounding this does not prove that no deployment meets the deadline). ``extra``: "gamma", "active_exits", "configurations" (tried),
"levels_used", "latency" (evaluator), "deadline", "deadline_slack" ((T - latency) / T),
"energy_per_request", "labels" (DP states).

:func:`exact_energy_deadline` is an exact reference (not registered): bi-objective
label-setting (latency, energy) on the same graph without rounding, labels popped in latency
order and kept only when their energy beats every label already settled at the vertex, pruned
by latency and energy lower bounds to the sink. Used by the tests and benchmarks/fin_gamma.py
(it agrees with F3-exit-select-milp on one job where the capacities do not bind).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from dnnsplit.graph.shortest import LayeredCosts, TransferTables, layered_shortest_path, reverse_labels
from dnnsplit.options import Clock, SolverOptions, UnsupportedOption
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult, Status
from formulations.f3.model import Template, build_template, route_from_arcs
from instances.evaluate import Route, evaluate
from instances.model import Instance

FORMULATION = "fin"
REFERENCE = "F3-exit-select-milp"  # the exact formulation FIN's gaps are measured against
GAMMA_DEFAULT = 20
GAMMA_RANGE = (2, 2000)
MAX_EXITS = 12  # 2^12 configurations at most


# ----------------------------------------------------------------------------- shared data


@dataclass
class _Arcs:
    """Latency and energy per request of arcs (R1)-(R3) for one exit configuration."""

    template: Template  # F3's template: the same coefficients as the exact F3 models
    comm_lat: np.ndarray  # (L+1, A)
    comm_en: np.ndarray
    comp_lat: np.ndarray  # (L, |C|), inf on unusable arcs
    comp_en: np.ndarray
    compute: np.ndarray  # C, node indices


def exit_configurations(instance: Instance, job_index: int = 0) -> list[tuple[int, ...]]:
    """Exit subsets that meet the job's accuracy target (all subsets without a target)."""
    job = instance.jobs[job_index]
    model = instance.model_of(job)
    E = len(model.exits)
    if E > MAX_EXITS:
        raise ValueError(f"model {model.name!r} has {E} exits; FIN enumerates at most {MAX_EXITS} (2^E configurations)")
    subsets = [c for r in range(E + 1) for c in itertools.combinations(range(E), r)]
    if job.accuracy_target is None or model.accuracy is None:
        return subsets
    return [c for c in subsets if model.expected_accuracy(c) >= job.accuracy_target - 1e-9]


def _arcs(instance: Instance, exits: tuple[int, ...], tables: TransferTables, job_index: int = 0) -> _Arcs:
    tpl = build_template(instance, job_index, exits, tables)
    g = tpl.graph
    L, A, nc = g.num_layers, g.num_links, g.num_comm_arcs
    C = np.asarray(g.compute_nodes, dtype=np.int64)
    lat, en = tpl.latency, tpl.energy
    return _Arcs(
        tpl,
        lat[:nc].reshape(L + 1, A),
        en[:nc].reshape(L + 1, A),
        lat[nc:].reshape(L, len(C)),
        en[nc:].reshape(L, len(C)),
        C,
    )


def _comm_arc(arcs: _Arcs, l: int, a: int) -> int:
    return l * arcs.comm_lat.shape[1] + a


def _comp_arc(arcs: _Arcs, l: int, k: int) -> int:
    """Arc of layer l (1..L) on the k-th compute node."""
    L1, A = arcs.comm_lat.shape
    return L1 * A + (l - 1) * len(arcs.compute) + k


def _levels(lat: np.ndarray, delta: float) -> np.ndarray:
    """ceil(latency / Delta) as int64 (inf becomes a level never reached)."""
    with np.errstate(invalid="ignore", over="ignore"):
        q = np.ceil(lat / delta)
    q = np.where(np.isfinite(q), q, 2**40)
    return np.minimum(q, 2**40).astype(np.int64)


def _group_min(vals: np.ndarray, groups: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-group minimum of ``vals`` and the index of the first minimiser (-1: empty group)."""
    best = np.full(size, np.inf)
    arg = np.full(size, -1, dtype=np.int64)
    if len(vals):
        order = np.lexsort((vals, groups))
        g = groups[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = g[1:] != g[:-1]
        idx = order[first]
        best[groups[idx]] = vals[idx]
        arg[groups[idx]] = idx
    return best, arg


# ----------------------------------------------------------------------------- level DP


CARRY, START, LINK, COMPUTE = 1, 2, 3, 4


def _close_zero(cur, ck, ci, zero, en, frm, to) -> None:
    """Relax zero-level arcs frm[a] -> to[a] inside one level until nothing changes."""
    if not len(zero):
        return
    for _ in range(len(cur) + 1):
        vals = cur[frm[zero]] + en[zero]
        best, arg = _group_min(vals, to[zero], len(cur))
        better = best < cur
        if not better.any():
            return
        cur[better], ck[better], ci[better] = best[better], LINK, zero[arg[better]]


class _TimeUp(Exception):
    pass


def _level_dp(instance: Instance, arcs: _Arcs, T: float, gamma: int, job_index: int = 0, clock: Clock | None = None):
    """Minimum energy (R4) within gamma levels: (energy per request, Route, levels used, labels) or None."""
    net = instance.network
    job = instance.jobs[job_index]
    s, t = job.source, job.sink
    N = net.num_nodes
    L = arcs.comp_lat.shape[0]
    K = gamma
    delta = T / gamma
    src, dst = net.link_source, net.link_target
    C = arcs.compute
    dl = _levels(arcs.comm_lat, delta)  # (L+1, A)
    dc = _levels(arcs.comp_lat, delta)  # (L, |C|)
    B = np.full((K + 1, L + 1, N), np.inf)
    kind = np.zeros((K + 1, L + 1, N), dtype=np.int8)
    idx = np.full((K + 1, L + 1, N), -1, dtype=np.int64)
    pos_links = [np.flatnonzero(dl[l] > 0) for l in range(L + 1)]
    zero_links = [np.flatnonzero(dl[l] == 0) for l in range(L + 1)]
    for k in range(K + 1):
        if clock is not None and clock.expired():
            raise _TimeUp
        for l in range(L + 1):
            cur = B[k - 1, l].copy() if k else np.full(N, np.inf)
            ck = np.where(np.isfinite(cur), CARRY, 0).astype(np.int8)
            ci = np.full(N, -1, dtype=np.int64)
            if l == 0 and k == 0:
                cur[s], ck[s] = 0.0, START
            if l >= 1:  # compute arcs (R2), exit delivery (R3) included
                kk = k - dc[l - 1]
                ok = np.flatnonzero(kk >= 0)
                nodes = C[ok]
                vals = B[kk[ok], l - 1, nodes] + arcs.comp_en[l - 1, ok]
                better = vals < cur[nodes]
                nb = nodes[better]
                cur[nb], ck[nb], ci[nb] = vals[better], COMPUTE, ok[better]
            links = pos_links[l]  # comm arcs (R1) of positive level
            kk = k - dl[l, links]
            ok = kk >= 0
            links, kk = links[ok], kk[ok]
            vals = B[kk, l, src[links]] + arcs.comm_en[l, links]
            best, arg = _group_min(vals, dst[links], N)
            better = best < cur
            cur[better], ck[better], ci[better] = best[better], LINK, links[arg[better]]
            _close_zero(cur, ck, ci, zero_links[l], arcs.comm_en[l], src, dst)
            B[k, l], kind[k, l], idx[k, l] = cur, ck, ci
    if not np.isfinite(B[K, L, t]):
        return None
    path: list[int] = []  # arcs, walked back from (t, L, K)
    k, l, n = K, L, t
    used = None
    while True:
        kd = kind[k, l, n]
        if kd == START:
            break
        if kd == CARRY:
            k -= 1
            continue
        if used is None:
            used = k
        if kd == LINK:
            a = int(idx[k, l, n])
            path.append(_comm_arc(arcs, l, a))
            k -= int(dl[l, a])
            n = int(src[a])
        elif kd == COMPUTE:
            c = int(idx[k, l, n])
            path.append(_comp_arc(arcs, l, c))
            k -= int(dc[l - 1, c])
            l -= 1
        else:  # pragma: no cover
            raise RuntimeError("broken predecessor chain in the level DP")
    route = route_from_arcs(arcs.template, path[::-1])
    return float(B[K, L, t]), route, (used or 0), int(np.isfinite(B).sum())


def _full(instance: Instance, per_compute: np.ndarray, compute: np.ndarray) -> np.ndarray:
    """(L, |C|) computation-arc values -> (L, |N|) with inf on routers."""
    full = np.full((per_compute.shape[0], instance.network.num_nodes), np.inf)
    full[:, compute] = per_compute
    return full


def _min_energy_path(instance: Instance, arcs: _Arcs, job_index: int = 0):
    """No deadline: the least-energy layered path (exact), by the engine."""
    job = instance.jobs[job_index]
    costs = LayeredCosts.explicit(arcs.comm_en, _full(instance, arcs.comp_en, arcs.compute))
    energy, route = layered_shortest_path(instance.network, job.source, job.sink, costs)
    if route is None:
        return None
    return energy, arcs.template.with_exits(route), 0, 0


# ----------------------------------------------------------------------------- FIN


def _gamma(options: SolverOptions, fixed: int | None) -> int:
    if fixed is not None:
        return fixed
    unknown = set(options.raw) - {"gamma"}
    if unknown:
        raise UnsupportedOption(f"fin takes raw option 'gamma' only, got {sorted(unknown)}")
    g = options.raw.get("gamma", GAMMA_DEFAULT)
    lo, hi = GAMMA_RANGE
    if not isinstance(g, int) or isinstance(g, bool) or not lo <= g <= hi:
        raise UnsupportedOption(f"raw option 'gamma' must be an integer in {lo}..{hi}, got {g!r}")
    return g


def fin(instance: Instance, options: SolverOptions, gamma: int) -> SolveResult:
    """Best FIN deployment over the admissible exit configurations."""
    clock = options.clock()
    t0 = time.perf_counter()
    job = instance.jobs[0]
    T = job.deadline
    configs = exit_configurations(instance)
    extra: dict = {"gamma": gamma if T is not None else None, "deadline": T, "configurations": len(configs)}
    if not configs:
        return SolveResult(status=Status.INFEASIBLE, solver="python", solve_time=time.perf_counter() - t0, extra=extra,
                           message=f"no exit configuration meets the accuracy target {job.accuracy_target}")
    best = None
    labels = 0
    build = 0.0
    tables = TransferTables(instance.network, origins=instance.network.compute_nodes)
    timed_out = False
    for X in configs:
        if clock.expired():
            timed_out = True
            break
        b0 = time.perf_counter()
        arcs = _arcs(instance, X, tables)
        build += time.perf_counter() - b0
        try:
            out = _min_energy_path(instance, arcs) if T is None else _level_dp(instance, arcs, T, gamma, clock=clock)
        except _TimeUp:
            timed_out = True
            break
        if out is None:
            continue
        labels += out[3]
        if best is None or out[0] < best[0] - 1e-15 * abs(best[0]):
            best = out
    solve = time.perf_counter() - t0 - build
    extra["labels"] = labels
    if timed_out and best is None:
        return SolveResult(status=Status.TIME_LIMIT, solver="python", build_time=build, solve_time=solve, extra=extra,
                           message=f"time limit {clock.limit:g} s reached before any deployment was found")
    if best is None:
        msg = "no deployment found" if T is None else (
            f"no deployment within {gamma} latency levels of the deadline {T:g} s "
            "(rounding up may hide deadline-feasible ones: this does not prove infeasibility)"
        )
        return SolveResult(status=Status.NO_SOLUTION, solver="python", build_time=build, solve_time=solve, extra=extra,
                           message=msg)
    energy, route, used, _ = best
    decision = {0: (route,)}
    ev = evaluate(instance, decision)
    latency = ev.job_latency[0]
    extra.update(
        active_exits=list(route.active_exits),
        levels_used=used,
        latency=latency,
        deadline_slack=None if T is None else (T - latency) / T,
        energy_per_request=ev.job_energy[0],
    )
    if T is not None and latency > T * (1 + 1e-9):  # pragma: no cover - rounding up forbids this
        raise RuntimeError(f"FIN returned latency {latency} above the deadline {T}")
    extra["configurations_tried"] = "all" if not timed_out else "until the time limit"
    return SolveResult(status=Status.TIME_LIMIT if timed_out else Status.FEASIBLE, objective=ev.objective("energy"),
                       decision=decision, solver="python", build_time=build, solve_time=solve, extra=extra)


# ----------------------------------------------------------------------------- exact reference


def exact_energy_deadline(instance: Instance, job_index: int = 0) -> tuple[float, Route | None]:
    """Exact minimum of lambda * E[energy] s.t. E[latency] <= T and the accuracy target.

    Bi-objective label-setting per exit configuration (module docstring); (inf, None) when no
    deployment meets the deadline. Without a deadline T = inf.
    """
    job = instance.jobs[job_index]
    T = math.inf if job.deadline is None else job.deadline
    best = (math.inf, None)
    tables = TransferTables(instance.network, origins=instance.network.compute_nodes)
    for X in exit_configurations(instance, job_index):
        arcs = _arcs(instance, X, tables, job_index)
        out = _pareto(instance, arcs, T, job_index, incumbent=best[0] / job.rate)
        if out is not None and out[0] * job.rate < best[0]:
            best = (out[0] * job.rate, out[1])
    return best


def _pareto(instance: Instance, arcs: _Arcs, T: float, job_index: int, incumbent: float):
    """(energy per request, Route) of the least-energy path within latency T, or None."""
    net = instance.network
    job = instance.jobs[job_index]
    s, t = job.source, job.sink
    N = net.num_nodes
    L = arcs.comp_lat.shape[0]
    pos = {int(n): k for k, n in enumerate(arcs.compute)}
    out_links = [[] for _ in range(N)]
    for a, i in enumerate(net.link_source.tolist()):
        out_links[i].append(a)
    # lower bounds to the sink (reverse layered Dijkstra) on latency (0) and on energy (1)
    lb_lat, lb_en = (reverse_labels(net, t, LayeredCosts.explicit(comm, _full(instance, comp, arcs.compute)))
                     for comm, comp in ((arcs.comm_lat, arcs.comp_lat), (arcs.comm_en, arcs.comp_en)))
    limit = T * (1 + 1e-12)
    settled = np.full((L + 1, N), np.inf)  # least energy settled per vertex
    parents: list[tuple[int, int]] = [(-1, -1)]  # (parent label, arc)
    heap = [(0.0, 0.0, 0, 0, s)]
    best = None
    inc = incumbent
    while heap:
        la, e, lid, l, n = heapq.heappop(heap)
        if la > limit:
            break
        if e >= settled[l, n] or e + lb_en[l, n] >= inc:
            continue
        settled[l, n] = e
        if l == L and n == t:
            best, inc = (e, lid), e
            continue
        moves = [(l, int(net.link_target[a]), arcs.comm_lat[l, a], arcs.comm_en[l, a], _comm_arc(arcs, l, a)) for a in out_links[n]]
        if l < L and n in pos:
            k = pos[n]
            moves.append((l + 1, n, arcs.comp_lat[l, k], arcs.comp_en[l, k], _comp_arc(arcs, l + 1, k)))
        for l2, m, dlat, den, arc in moves:
            la2, e2 = la + dlat, e + den
            if la2 + lb_lat[l2, m] <= limit and e2 + lb_en[l2, m] < inc and e2 < settled[l2, m]:
                parents.append((lid, arc))
                heapq.heappush(heap, (la2, e2, len(parents) - 1, l2, m))
    if best is None:
        return None
    path = []
    lid = best[1]
    while lid > 0:
        lid, arc = parents[lid]
        path.append(arc)
    return best[0], route_from_arcs(arcs.template, path[::-1])


# ----------------------------------------------------------------------------- registration

FIXED_GAMMAS = (10, 20, 50, 100, 200, 500)

for _g in FIXED_GAMMAS:
    register(
        SolverSpec(
            formulation=FORMULATION,
            backend=f"g{_g}",
            solve=(lambda g: lambda inst, opts: fin(inst, opts, _gamma(opts, g)))(_g),
            problem="single",
            objective="energy",
            kind="heuristic",
            deadlines=True,
            reference=REFERENCE,
            description=f"FIN latency-level graph, gamma = {_g}: least energy within the deadline and accuracy target",
            tags=frozenset({"baseline"}),
        )
    )

register(
    SolverSpec(
        formulation=FORMULATION,
        backend="levels",
        solve=lambda inst, opts: fin(inst, opts, _gamma(opts, None)),
        problem="single",
        objective="energy",
        accepts=frozenset({"raw"}),
        kind="heuristic",
        deadlines=True,
        reference=REFERENCE,
        description=f"FIN latency-level graph, raw gamma (default {GAMMA_DEFAULT}, {GAMMA_RANGE[0]}..{GAMMA_RANGE[1]})",
        tags=frozenset({"baseline"}),
    )
)
