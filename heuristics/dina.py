"""DINA-style exchange-stable matching of job segments to nodes (DESIGN.md section 4; "dina",
backends "queueing", "capacity").

Problem: as greedy's (``heuristics/greedy.py``): every job, shared capacities C1/C2, objective
"rate_weighted_latency", no exit active; the segments' busy times come from the jobs' F3
templates (the same coefficients the exact models constrain).

Segments: job j's chain is cut into S_j = min(S, L_j) contiguous blocks of layers (S =
``raw={"segments": S}``, default 3, range 1..64) with near-equal work: the cut after block k
is the first layer whose cumulative work reaches k/S of the total (each block keeps >= 1
layer). A matching assigns each segment sigma to one compute node n_sigma; every layer of the
segment runs there, and each tensor between consecutive segments (and from s_j, to t_j, and
each exit's result to t_j) takes a shortest path for its size (uncapacitated tables).

Parties and utilities. A job (all its segments) is one party; its cost is

    (D1) U_j = sum_sigma  T_sigma(n_sigma) * phi(u_{n_sigma})  +  transfers_j
         T_sigma(n) = sum_{l in sigma} rho_l tau_{l,n} (+ heads),  transfers rho-weighted

with phi(u) = 1 / (1 - u) on the node's utilisation u (busy seconds per second after the
change; M/M/1-style waiting) for backend "queueing", and phi = 1 (U_j = latency_j) for backend
"capacity". A node or link is a party whose utility is capacity feasibility:

    (D2) load_n <= kappa,  load_a <= kappa b_a  (a change that breaks one is vetoed)

Start (D3): a greedy matching - jobs in instance order, each matched to the segment nodes of
least total cost (D1 with its own load added, transfers included) by a dynamic program over its
segments on the residual capacities, where a (segment, node) pair is admissible only if the
segment's load fits the node and each transfer's traffic fits every link on its path; the
job's cumulative loads are then checked; an overload is repaired as in (G3): prices on the
overloaded resources (x4 per round, 24 rounds), then forbidding the (segment, node) pair that
loads the most overloaded resource most, and the program is re-run (the shared repair loop of
``heuristics.repair``). If a job fits nowhere:
status no solution "DINA's greedy matching could not place job ..." (no proof of infeasibility).

Adaptive partitioning (D4, ``raw={"adaptive": True}``, the default; DINA partitions the DNN
adaptively): a job that fits nowhere with S_j segments is cut again into min(2 S_j, L_j)
segments (the same near-equal-work rule) and matched afresh, until it fits or every layer is
its own segment. Transfers still follow fixed shortest paths (DINA does not route), so a job
can fail even then where the layered-graph methods route around a full link.

Swaps. A sweep tries (a) moving each segment to every other compute node (the best approved
move per segment is applied) and (b) exchanging the nodes of every pair of segments on
different nodes. A change is approved when no involved party is worse off (jobs: U_j not
larger, nodes and links: still feasible) and at least one involved job is strictly better
(by more than 1e-12 relatively): the two-sided exchange-stability test of swap matching.
Sweeps repeat until one applies nothing (converged), the matching after a sweep repeats an
earlier one (cycled), ``raw={"max_sweeps": K}`` (default 50) sweeps are done, or the
``time_limit`` option (seconds, checked between candidates) runs out. With phi = 1 a job's
latency depends on its own matching only, so every approved change strictly lowers the
objective and the loop terminates; with queueing the utilities have externalities (uninvolved
jobs on a loaded node get slower), so the objective can rise and the swaps can cycle: the
returned decision is the best matching seen by the evaluator's objective (always <= the start).
``extra``: "segments", "adaptive", "repartitioned" (D4 re-cuts), "max_job_segments",
"start_objective", "final_matching_objective", "swaps" (= "moves" +
"exchanges"), "sweeps", "converged", "cycled", "stopped_by_time_limit".
``time_limit`` (wall clock of the whole call) is checked before each job of the greedy matching
and between swap candidates.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from dnnsplit.graph.shortest import TransferTables
from dnnsplit.options import Clock, SolverOptions, UnsupportedOption
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult, Status
from heuristics.greedy import OBJECTIVE, REFERENCE, TOL, Templates
from heuristics.repair import Overload, price_repair
from instances.evaluate import Route, evaluate
from instances.model import Instance


def segment_bounds(flops: np.ndarray, segments: int) -> list[tuple[int, int]]:
    """Cut layers 1..L into min(segments, L) contiguous blocks of near-equal work.

    Returns [(first, last)] (1-based, inclusive). The cut after block k is the first layer
    whose cumulative work reaches k/S of the total, kept so that every block has >= 1 layer;
    with zero total work the blocks have near-equal layer counts.
    """
    L = len(flops)
    S = max(1, min(segments, L))
    total = float(np.sum(flops))
    cum = np.cumsum(flops) if total > 0 else np.arange(1, L + 1, dtype=float)
    total = float(cum[-1])
    cuts = [0]
    for k in range(1, S):
        target = total * k / S
        l = int(np.searchsorted(cum, target - 1e-12 * total)) + 1  # first layer with cum >= target
        l = max(cuts[-1] + 1, min(l, L - (S - k)))
        cuts.append(l)
    cuts.append(L)
    return [(cuts[k] + 1, cuts[k + 1]) for k in range(S)]


@dataclass
class _DinaJob:
    j: int
    source: int
    sink: int
    rate: float
    L: int
    segs: list[tuple[int, int]]
    seg_time: np.ndarray  # (S, N): rho-weighted compute time of segment on node (inf: cannot)
    boundary: list[tuple[float, float]]  # S+1 (size, weight) tensors: into seg 0, between, to sink
    exits: tuple[int, ...]
    exit_seg: list[int]  # segment of each active exit
    exit_tensor: list[tuple[float, float]]  # (result bytes, q_x)


@dataclass
class _Contrib:
    node: dict[int, float]
    link: dict[int, float]
    latency: float  # pure expected latency (the evaluator's)
    compute: dict[int, float] = field(default_factory=dict)  # node -> rho-weighted compute time


class _Dina:
    def __init__(self, instance: Instance, segments: int, queueing: bool, adaptive: bool = True):
        self.inst = instance
        self.templates = Templates(instance)
        self.adaptive = adaptive
        self.refined = 0  # re-partitionings (D4)
        self.net = instance.network
        self.queueing = queueing
        self.kappa = instance.utilisation_cap
        self.compute = [int(n) for n in self.net.compute_nodes]
        origins = sorted(set(self.compute) | {j.source for j in instance.jobs})
        self.tables = TransferTables(self.net, origins=origins)
        self.row = {int(o): r for r, o in enumerate(self.tables.origins)}
        self._dist: dict[float, np.ndarray] = {}
        self._paths: dict[tuple[float, int, int], tuple[int, ...]] = {}
        self.jobs = [self._job(j, segments) for j in range(len(instance.jobs))]
        self.node_load = np.zeros(self.net.num_nodes)
        self.link_load = np.zeros(self.net.num_links)
        self.prices: dict[int, float] = {}  # greedy-matching repair prices (D3): node n, link |N| + a
        self.assign: list[list[int]] = [[] for _ in self.jobs]
        self.contrib: list[_Contrib | None] = [None] * len(self.jobs)
        self._moves: dict[int, dict[tuple[int, int], float]] = {}

    def _job(self, j: int, segments: int) -> _DinaJob:
        inst = self.inst
        job = inst.jobs[j]
        model = inst.model_of(job)
        L = model.num_layers
        tpl = self.templates.of(j)  # the F3 load coefficients: busy time per layer and node
        exits, rho = tpl.config, tpl.rho
        segs = segment_bounds(model.flops, segments)
        seg_time = np.full((len(segs), self.net.num_nodes), np.inf)
        seg_of_layer = {}
        for k, (a, b) in enumerate(segs):
            seg_time[k, tpl.graph.compute_nodes] = np.sum(tpl.busy[a - 1 : b], axis=0)  # exit heads included
            for l in range(a, b + 1):
                seg_of_layer[l] = k
        exit_seg = [seg_of_layer[model.exits[x].after_layer] for x in exits]
        sizes = model.tensor_sizes
        boundary = [(float(sizes[0]), 1.0)] + [(float(sizes[b]), float(rho[b])) for (_, b) in segs]
        return _DinaJob(
            j, job.source, job.sink, job.rate, L, segs, seg_time, boundary, exits, exit_seg,
            [(model.exits[x].result_bytes, model.exits[x].probability) for x in exits],
        )

    # -- transfers
    def matrix(self, size: float) -> np.ndarray:
        """D_size[origin row, node] (rows in ``self.row`` order), cached."""
        m = self._dist.get(size)
        if m is None:
            m = self._dist[size] = self.tables.table(size)[0]
        return m

    def dist(self, size: float, i: int, k: int) -> float:
        return float(self.matrix(size)[self.row[i], k])

    def path(self, size: float, i: int, k: int) -> tuple[int, ...]:
        key = (size, i, k)
        if key not in self._paths:
            self._paths[key] = self.tables.path(size, i, k)
        return self._paths[key]

    def contrib_of(self, d: _DinaJob, nodes: list[int]) -> _Contrib | None:
        """Loads and pure latency of job d under segment nodes ``nodes`` (None: unreachable)."""
        node: dict[int, float] = {}
        link: dict[int, float] = {}
        compute: dict[int, float] = {}
        lat = 0.0
        for k, n in enumerate(nodes):
            t = d.seg_time[k, n]
            if not math.isfinite(t):
                return None
            lat += t
            compute[n] = compute.get(n, 0.0) + t
            node[n] = node.get(n, 0.0) + d.rate * t
        ends = [d.source, *nodes, d.sink]
        transfers = [(size, w, ends[k], ends[k + 1]) for k, (size, w) in enumerate(d.boundary)]
        transfers += [(r, q, nodes[k], d.sink) for k, (r, q) in zip(d.exit_seg, d.exit_tensor)]
        for size, w, i, k in transfers:
            if i == k or w == 0:
                if i != k:  # zero weight still needs a route to exist
                    if not math.isfinite(self.dist(size, i, k)):
                        return None
                continue
            dd = self.dist(size, i, k)
            if not math.isfinite(dd):
                return None
            lat += w * dd
            for a in self.path(size, i, k):
                link[a] = link.get(a, 0.0) + d.rate * w * size
        return _Contrib(node, link, lat, compute)

    def utility_cost(self, c: _Contrib, node_load: Callable[[int], float]) -> float:
        """(D1): U_j with phi(u) = 1/(1-u) (queueing) or 1 (capacity)."""
        if not self.queueing:
            return c.latency
        extra = 0.0
        for n, t in c.compute.items():
            u = node_load(n)
            extra += t * (1.0 / (1.0 - min(u, 1 - 1e-12)) - 1.0)
        return c.latency + extra

    # -- loads
    def _apply(self, j: int, c: _Contrib | None, sign: float) -> None:
        if c is None:
            return
        for n, v in c.node.items():
            self.node_load[n] += sign * v
        for a, v in c.link.items():
            self.link_load[a] += sign * v

    def feasible_after(self, old: list[_Contrib], new: list[_Contrib]) -> bool:
        """(D2) on every node and link touched by the change."""
        dn: dict[int, float] = {}
        da: dict[int, float] = {}
        for c, s in [(c, -1.0) for c in old] + [(c, 1.0) for c in new]:
            for n, v in c.node.items():
                dn[n] = dn.get(n, 0.0) + s * v
            for a, v in c.link.items():
                da[a] = da.get(a, 0.0) + s * v
        for n, v in dn.items():
            if v > 0 and self.node_load[n] + v > self.kappa * (1 + TOL):
                return False
        bw = self.net.bandwidth
        for a, v in da.items():
            if v > 0 and self.link_load[a] + v > self.kappa * bw[a] * (1 + TOL):
                return False
        return True

    def set_job(self, j: int, nodes: list[int], c: _Contrib) -> None:
        self._moves.pop(j, None)
        self._apply(j, self.contrib[j], -1.0)
        self.assign[j] = list(nodes)
        self.contrib[j] = c
        self._apply(j, c, 1.0)

    def objective(self) -> float:
        return float(sum(d.rate * c.latency for d, c in zip(self.jobs, self.contrib)))

    # -- greedy matching
    def greedy_start(self, clock: Clock) -> tuple[int, str] | None:
        """Match jobs one by one (D3), each repaired by the shared price loop; returns (job,
        reason) for a job that fits nowhere (or when the clock ran out), or None.

        Adaptive partitioning (D4): a job that fits nowhere with S_j segments is cut again into
        min(2 S_j, L_j) segments and matched afresh, until it fits or every layer is a segment.
        """
        N = self.net.num_nodes
        for d in self.jobs:
            if clock.expired():
                return d.j, "time limit"
            while True:
                def find(prices: dict[int, float], forbidden: set, d: _DinaJob = d):
                    self.prices = prices
                    nodes = self._best_assignment(d, forbidden)
                    return None if nodes is None else (nodes, self.contrib_of(d, nodes))

                def overload(cand, d: _DinaJob = d) -> Overload | None:
                    nodes, c = cand
                    culprit = self._overload(d, nodes, c)
                    if culprit is None:
                        return None
                    scale = max(c.latency, 1e-12) if c is not None else 1e-12
                    bw = self.net.bandwidth
                    over = [] if c is None else [
                        (n, scale / self.kappa) for n, v in c.node.items() if self.node_load[n] + v > self.kappa * (1 + TOL)
                    ] + [
                        (N + a, scale / (self.kappa * bw[a])) for a, v in c.link.items()
                        if self.link_load[a] + v > self.kappa * bw[a] * (1 + TOL)
                    ]
                    return Overload(over, culprit)

                done = price_repair(find, overload)
                self.prices = {}
                if done.candidate is not None:
                    nodes, c = done.candidate
                    self.set_job(d.j, nodes, c)
                    break
                if self.adaptive and len(d.segs) < d.L:
                    d = self.jobs[d.j] = self._job(d.j, min(2 * len(d.segs), d.L))
                    self.refined += 1
                    continue
                return d.j, (f"no feasible assignment of its {len(d.segs)} segments to nodes on the residual "
                             "capacities, with every transfer on its fixed shortest path"
                             + (" (already one segment per layer)" if self.adaptive else ""))
        return None

    def _transfer_ok(self, d: _DinaJob, size: float, w: float, i: int, k: int) -> float:
        """Latency of the weighted transfer i -> k, inf if it is unreachable or a link lacks room."""
        if i == k:
            return 0.0
        dd = self.dist(size, i, k)
        if not math.isfinite(dd):
            return math.inf
        price = 0.0
        if w > 0:
            bw = self.net.bandwidth
            for a in self.path(size, i, k):
                if self.link_load[a] + d.rate * w * size > self.kappa * bw[a] * (1 + TOL):
                    return math.inf
                price += self.prices.get(self.net.num_nodes + a, 0.0) * d.rate * w * size
        return w * dd + price

    def _seg_cost(self, d: _DinaJob, k: int, n: int) -> float:
        """Cost of segment k on node n given the current loads (inf if it does not fit), exits included."""
        t = d.seg_time[k, n]
        if not math.isfinite(t):
            return math.inf
        u = self.node_load[n] + d.rate * t
        if u > self.kappa * (1 + TOL):
            return math.inf
        cost = t / (1.0 - min(u, 1 - 1e-12)) if self.queueing else t
        cost += self.prices.get(n, 0.0) * d.rate * t
        for s, (r, q) in zip(d.exit_seg, d.exit_tensor):
            if s == k:
                cost += self._transfer_ok(d, r, q, n, d.sink)
        return cost

    def _transfer_matrix(self, d: _DinaJob, size: float, w: float, origins: list[int], targets: list[int]) -> np.ndarray:
        """Vectorised ``_transfer_ok`` for all origin x target pairs."""
        D = self.matrix(size)[np.ix_([self.row[o] for o in origins], targets)] * w
        same = np.equal.outer(np.asarray(origins), np.asarray(targets))
        D[same] = 0.0
        if w > 0:
            traffic = d.rate * w * size
            blocked = self.link_load + traffic > self.kappa * self.net.bandwidth * (1 + TOL)
            if blocked.any() or self.prices:
                for r, o in enumerate(origins):
                    for c, t in enumerate(targets):
                        if o != t and math.isfinite(D[r, c]):
                            D[r, c] = self._transfer_ok(d, size, w, o, t)
        return D

    def _best_assignment(self, d: _DinaJob, forbidden: set[tuple[int, int]]) -> list[int] | None:
        """Least-cost segment nodes by dynamic programming over the segments (arc-wise feasible)."""
        S = len(d.segs)
        C = self.compute
        preds = []
        V = None
        for k in range(S):
            size, w = d.boundary[k]
            seg = np.array([math.inf if (k, n) in forbidden else self._seg_cost(d, k, n) for n in C])
            if k == 0:
                tot = self._transfer_matrix(d, size, w, [d.source], C)[0] + seg
                preds.append(np.full(len(C), -1))
            else:
                M = V[:, None] + self._transfer_matrix(d, size, w, C, C)
                arg = np.argmin(M, axis=0)
                tot = M[arg, np.arange(len(C))] + seg
                preds.append(arg)
            if k == S - 1:
                size_t, w_t = d.boundary[S]
                tot = tot + self._transfer_matrix(d, size_t, w_t, C, [d.sink])[:, 0]
            V = tot
        if not np.isfinite(V).any():
            return None
        c = int(np.argmin(V))
        nodes = [C[c]]
        for k in range(S - 1, 0, -1):
            c = int(preds[k][c])
            nodes.append(C[c])
        return nodes[::-1]

    def _overload(self, d: _DinaJob, nodes: list[int], c: _Contrib | None) -> tuple[int, int] | None:
        """None if job d fits with segment nodes ``nodes``, else the (segment, node) to forbid."""
        if c is None:
            return (0, nodes[0])
        worst, ratio = None, 1.0 + TOL
        for n, v in c.node.items():
            r = (self.node_load[n] + v) / self.kappa
            if r > ratio:
                worst, ratio = ("node", n), r
        for a, v in c.link.items():
            r = (self.link_load[a] + v) / (self.kappa * self.net.bandwidth[a])
            if r > ratio:
                worst, ratio = ("link", a), r
        if worst is None:
            return None
        kind, idx = worst
        if kind == "node":  # the segment with the largest load on the node
            k = max((k for k, n in enumerate(nodes) if n == idx), key=lambda k: d.seg_time[k, idx])
            return (k, idx)
        ends = [d.source, *nodes, d.sink]  # the segment whose incoming transfer uses the link most
        best, load = None, -1.0
        for k, (size, w) in enumerate(d.boundary):
            if ends[k] != ends[k + 1] and idx in self.path(size, ends[k], ends[k + 1]) and w * size > load:
                best, load = min(k, len(nodes) - 1), w * size
        if best is None:  # an exit result uses it
            best = next(s for s, (r, q) in zip(d.exit_seg, d.exit_tensor) if idx in self.path(r, nodes[s], d.sink))
        return (best, nodes[best])

    # -- swaps
    def _cost_after(self, c: _Contrib, old: list[_Contrib], new: list[_Contrib]) -> float:
        dn: dict[int, float] = {}
        for o in old:
            for n, v in o.node.items():
                dn[n] = dn.get(n, 0.0) - v
        for o in new:
            for n, v in o.node.items():
                dn[n] = dn.get(n, 0.0) + v
        return self.utility_cost(c, lambda m: self.node_load[m] + dn.get(m, 0.0))

    def _approve(self, jobs: list[int], new_nodes: list[list[int]]) -> tuple[bool, float, list[_Contrib]]:
        old = [self.contrib[j] for j in jobs]
        new = []
        for j, nodes in zip(jobs, new_nodes):
            c = self.contrib_of(self.jobs[j], nodes)
            if c is None:
                return False, 0.0, []
            new.append(c)
        if not self.feasible_after(old, new):
            return False, 0.0, []
        better = False
        gain = 0.0
        for j, o, c in zip(jobs, old, new):
            before = self.utility_cost(o, lambda m: self.node_load[m])
            after = self._cost_after(c, old, new)
            if after > before + 1e-12 * max(abs(before), 1e-300):
                return False, 0.0, []
            if after < before - 1e-12 * max(abs(before), 1e-300):
                better = True
            gain += self.jobs[j].rate * (before - after)
        return better, gain, new

    def latency_of(self, d: _DinaJob, nodes: list[int]) -> float:
        """Pure expected latency of job d under segment nodes ``nodes`` (inf: unreachable)."""
        lat = float(sum(d.seg_time[k, n] for k, n in enumerate(nodes)))
        ends = [d.source, *nodes, d.sink]
        for k, (size, w) in enumerate(d.boundary):
            if ends[k] != ends[k + 1]:
                lat += w * self.dist(size, ends[k], ends[k + 1])
        for k, (r, q) in zip(d.exit_seg, d.exit_tensor):
            if nodes[k] != d.sink:
                lat += q * self.dist(r, nodes[k], d.sink)
        return lat

    def move_latency(self, j: int) -> dict[tuple[int, int], float]:
        """Latency of job j after moving one segment k to node n alone, for every (k, n) (cached)."""
        row = self._moves.get(j)
        if row is None:
            d = self.jobs[j]
            row = {}
            for k in range(len(d.segs)):
                for n in self.compute:
                    nodes = list(self.assign[j])
                    nodes[k] = n
                    row[k, n] = self.latency_of(d, nodes)
            self._moves[j] = row
        return row

    def sweep(self, stop_at: float) -> tuple[int, int, bool]:
        """One pass of moves then exchanges: (moves, exchanges, stopped by the time limit).

        With phi = 1 a job's latency after a change of its own segment k to n is
        ``move_latency(j)[k, n]`` exactly, so candidates that would make an involved job worse
        are skipped before the full test (same decisions, fewer evaluations).
        """
        moves = exchanges = 0
        segs = [(d.j, k) for d in self.jobs for k in range(len(d.segs))]
        tol = 1e-12
        for j, k in segs:
            if time.perf_counter() > stop_at:
                return moves, exchanges, True
            best = None
            cur = self.contrib[j].latency
            for n in self.compute:
                if n == self.assign[j][k]:
                    continue
                if not self.queueing and not self.move_latency(j)[k, n] < cur - tol * abs(cur):
                    continue
                nodes = list(self.assign[j])
                nodes[k] = n
                ok, gain, new = self._approve([j], [nodes])
                if ok and (best is None or gain > best[0]):
                    best = (gain, nodes, new)
            if best is not None:
                self.set_job(j, best[1], best[2][0])
                moves += 1
        for p in range(len(segs)):
            if time.perf_counter() > stop_at:
                return moves, exchanges, True
            for q in range(p + 1, len(segs)):
                (j1, k1), (j2, k2) = segs[p], segs[q]
                n1, n2 = self.assign[j1][k1], self.assign[j2][k2]
                if n1 == n2:
                    continue
                if j1 == j2:
                    nodes = list(self.assign[j1])
                    nodes[k1], nodes[k2] = n2, n1
                    ok, _, new = self._approve([j1], [nodes])
                    if ok:
                        self.set_job(j1, nodes, new[0])
                        exchanges += 1
                    continue
                if not self.queueing:
                    l1, l2 = self.contrib[j1].latency, self.contrib[j2].latency
                    if (self.move_latency(j1)[k1, n2] > l1 + tol * abs(l1)
                            or self.move_latency(j2)[k2, n1] > l2 + tol * abs(l2)):
                        continue
                a, b = list(self.assign[j1]), list(self.assign[j2])
                a[k1], b[k2] = n2, n1
                ok, _, new = self._approve([j1, j2], [a, b])
                if ok:
                    # apply both: remove both old contributions first
                    self._apply(j1, self.contrib[j1], -1.0)
                    self._apply(j2, self.contrib[j2], -1.0)
                    self.contrib[j1] = self.contrib[j2] = None
                    self.set_job(j1, a, new[0])
                    self.set_job(j2, b, new[1])
                    exchanges += 1
        return moves, exchanges, False

    def decision(self, assign: list[list[int]]) -> dict[int, tuple[Route, ...]]:
        out = {}
        for d, nodes in zip(self.jobs, assign):
            model = self.inst.model_of(d.j)
            placement = []
            for (a, b), n in zip(d.segs, nodes):
                placement += [n] * (b - a + 1)
            ends = (d.source, *placement, d.sink)
            sizes = model.tensor_sizes
            paths = tuple(self.path(float(sizes[l]), ends[l], ends[l + 1]) if ends[l] != ends[l + 1] else () for l in range(d.L + 1))
            exit_paths = tuple(
                self.path(r, ends[model.exits[x].after_layer], d.sink) if ends[model.exits[x].after_layer] != d.sink else ()
                for x, (r, _) in zip(d.exits, d.exit_tensor)
            )
            out[d.j] = (Route(tuple(placement), paths, d.exits, exit_paths),)
        return out


def _int_option(options: SolverOptions, name: str, default: int, lo: int, hi: int) -> int:
    value = options.raw.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise UnsupportedOption(f"raw option {name!r} must be an integer in {lo}..{hi}, got {value!r}")
    return value


DINA_RAW = {"segments", "max_sweeps", "adaptive"}


def dina(instance: Instance, options: SolverOptions, queueing: bool) -> SolveResult:
    """DINA-style swap matching of job segments to nodes (module docstring, D1-D2)."""
    clock = options.clock()
    start = time.perf_counter()
    unknown = set(options.raw) - DINA_RAW
    if unknown:
        raise UnsupportedOption(f"dina takes raw options {sorted(DINA_RAW)}, got {sorted(unknown)}")
    segments = _int_option(options, "segments", 3, 1, 64)
    max_sweeps = _int_option(options, "max_sweeps", 50, 1, 10_000)
    adaptive = options.raw.get("adaptive", True)
    if not isinstance(adaptive, bool):
        raise UnsupportedOption(f"raw option 'adaptive' must be true or false, got {adaptive!r}")
    state = _Dina(instance, segments, queueing, adaptive)
    fail = state.greedy_start(clock)
    extra: dict = {"segments": segments, "queueing": queueing, "adaptive": adaptive,
                   "repartitioned": state.refined, "max_job_segments": max(len(d.segs) for d in state.jobs)}
    if fail is not None:
        j, why = fail
        if why == "time limit":
            return SolveResult(status=Status.TIME_LIMIT, solver="python", solve_time=time.perf_counter() - start,
                               extra=extra, message=f"time limit {clock.limit:g} s reached in the greedy matching "
                                                    f"before job {j}")
        msg = (
            f"DINA's greedy matching could not place job {j} ({instance.jobs[j].name}): {why}; "
            "this does not prove that the instance is infeasible"
        )
        return SolveResult(status=Status.NO_SOLUTION, solver="python", solve_time=time.perf_counter() - start,
                           message=msg, extra=extra)
    start_obj = state.objective()
    best_obj, best_assign = start_obj, [list(a) for a in state.assign]
    moves = exchanges = sweeps = 0
    converged = cycled = stopped = False
    stop_at = math.inf if clock.limit is None else clock.start + clock.limit
    seen = {tuple(map(tuple, state.assign))}
    while sweeps < max_sweeps and not stopped:
        m, x, stopped = state.sweep(stop_at)
        sweeps += 1
        moves += m
        exchanges += x
        obj = state.objective()
        if obj < best_obj - 1e-12 * abs(best_obj):
            best_obj, best_assign = obj, [list(a) for a in state.assign]
        if m + x == 0 and not stopped:
            converged = True
            break
        key = tuple(map(tuple, state.assign))
        if key in seen:  # the swaps went round in a cycle (possible with queueing externalities)
            cycled = True
            break
        seen.add(key)
    decision = state.decision(best_assign)
    evaluated = evaluate(instance, decision).objective(OBJECTIVE)
    extra.update(
        start_objective=start_obj,
        final_matching_objective=state.objective(),
        swaps=moves + exchanges,
        moves=moves,
        exchanges=exchanges,
        sweeps=sweeps,
        converged=converged,
        cycled=cycled,
        stopped_by_time_limit=stopped,
    )
    return SolveResult(status=Status.FEASIBLE, objective=evaluated, decision=decision, solver="python",
                       solve_time=time.perf_counter() - start, iterations=sweeps, extra=extra)


for _q in (True, False):
    register(
        SolverSpec(
            formulation="dina",
            backend="queueing" if _q else "capacity",
            solve=(lambda q: lambda inst, opts: dina(inst, opts, q))(_q),
            problem="multi",
            objective=OBJECTIVE,
            accepts=frozenset({"raw", "time_limit"}),
            kind="heuristic",
            capacitated=True,
            reference=REFERENCE,
            description="DINA-style swap matching of job segments to nodes, "
            + ("utilities with 1/(1-u) queueing" if _q else "latency utilities, capacity vetoes"),
            tags=frozenset({"baseline"}),
        )
    )
