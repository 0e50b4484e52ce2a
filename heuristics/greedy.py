"""Greedy sequential routing on residual capacities (DESIGN.md section 4; backends "input",
"rate", "work", "regret").

Problem: every job of the instance, shared node and link capacities (C1, C2 with the
utilisation cap kappa), unsplittable routes, objective "rate_weighted_latency"
sum_j lambda_j * E[latency_j]. Early exits: none is active (``ACTIVE_EXITS``, the same
convention as the single-job formulations); every cost and load comes from the job's F3
template (``formulations.f3.model.build_template``), so a fixed exit set is a one-line change
and the loads are exactly those the exact F3 models constrain.

Residual capacities (utilisation, as F3's rows read): R_n = kappa - load_n (busy seconds per
second) for nodes, R_a = kappa - load_a / b_a for links. Jobs are placed one at a time; job j's
arc loads on its layered graph are the template's per-request coefficients times lambda_j:

    (G1) compute arc (n, l-1) -> (n, l):  lambda_j rho_l tau_{l,n}   (+ exit head rho_x h_x / c_n)
    (G2) comm arc (i, l) -> (k, l) on a:  lambda_j rho_{l+1} o_l / b_a

and an arc is pruned (cost inf) when a load of it exceeds the residual of its resource. The job
takes the shortest layered path (arc costs: the template's expected latency) on what is left,
by the engine's pass. A path may use one resource in several copies, so its summed loads are
then checked; if it overloads resources, the shared repair loop follows
(``heuristics.repair``):

    (G3) Lagrangian-style prices: every overloaded resource r gets a price mu_r (latency per
         unit of load; first latency_j / R_r, then x4 per round) added to the cost of its arcs
         (mu_r times the arc's load), and the path is recomputed; after 24 rounds without a
         fitting path the most overloaded resource (used / residual) is forbidden to this job
         and the prices reset. Each recomputation counts as one repair.

The placed job's loads are subtracted from the residuals; its recorded latency is the
template's (prices never enter the objective), which the evaluator recomputes.

Job orders, one backend each: "input" (instance order), "rate" (decreasing lambda_j),
"work" (decreasing lambda_j sum_l rho_l w_l: demanded FLOP/s, largest first), "regret"
(dynamic: at each step, for each unplaced job, c1 = its best latency on the residual network
and c2 = its best latency when the bottleneck resource of that route - least residual left
after placing it, relative to capacity - is forbidden; place the job with the largest
lambda_j (c2 - c1), inf when c2 does not exist; a job's cached candidates are kept while they
still fit the residuals).

If a job cannot be placed the result has status no solution with "greedy could not place job
j": the greedy order failed, which does NOT prove that the instance is infeasible.
``time_limit`` is checked before each job is placed (status time limit, no incumbent).
``extra``: "order", "job_order" (names, placement order), "repairs", "placed_jobs".
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from dnnsplit.graph.shortest import TransferTables, layered_labels, walk
from dnnsplit.options import SolverOptions
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult, Status
from formulations.f3.model import Template, build_template, column_resources
from heuristics.repair import Overload, price_repair
from instances.evaluate import Route, evaluate
from instances.model import Instance

OBJECTIVE = "rate_weighted_latency"
REFERENCE = "F3-latency-milp"  # the exact formulation greedy and DINA are measured against
TOL = 1e-9  # relative slack on capacity checks (finalise allows 1e-5)
ACTIVE_EXITS: tuple[int, ...] = ()  # exits active in the latency baselines: none (as in F2)


@dataclass
class Candidate:
    latency: float
    route: Route
    load: np.ndarray  # this job's utilisation per resource (|N| + |A|)
    repairs: int


class Templates:
    """One template per (model, active exits) of the latency baselines, built on first use."""

    def __init__(self, instance: Instance):
        self.instance = instance
        self.tables = TransferTables(instance.network, origins=instance.network.compute_nodes)
        self._cache: dict[tuple, Template] = {}

    def of(self, j: int) -> Template:
        job = self.instance.jobs[j]
        key = (job.model, ACTIVE_EXITS, job.sink if ACTIVE_EXITS else None)
        if key not in self._cache:
            self._cache[key] = build_template(self.instance, j, ACTIVE_EXITS, self.tables)
        return self._cache[key]


def best_route(instance: Instance, templates: Templates, j: int, residual: np.ndarray,
               forbid: frozenset[int] = frozenset()) -> Candidate | None:
    """Shortest layered path of job j over arcs whose loads fit ``residual`` (G1, G2), with the
    repairs (G3); ``forbid``: resources this job may not use at all."""
    net = instance.network
    N = net.num_nodes
    job = instance.jobs[j]
    tpl = templates.of(j)
    R, rate, kappa = tpl.R, job.rate, instance.utilisation_cap
    arc_of = np.repeat(np.arange(tpl.num_arcs), np.diff(R.indptr))
    entry_load = rate * R.data
    too_big = np.zeros(tpl.num_arcs, bool)
    too_big[arc_of[entry_load > residual[R.indices] + TOL * kappa]] = True
    base = np.where(tpl.usable & ~too_big, tpl.latency, np.inf)

    def find(prices: dict[int, float], forbidden: set) -> Candidate | None:
        cost = base
        if prices:
            price = np.zeros(len(residual))
            price[list(prices)] = list(prices.values())
            cost = base + rate * (R.T @ price)
        if forbidden:
            out = np.zeros(len(residual), bool)
            out[list(forbidden)] = True
            pruned = np.zeros(tpl.num_arcs, bool)
            pruned[arc_of[out[R.indices]]] = True
            cost = np.where(pruned, np.inf, cost)
        costs = tpl.costs(cost)
        got = layered_labels(net, job.source, costs)
        if got is None or not np.isfinite(got[0][job.sink]):
            return None
        route = walk(net, got[1], costs, job.source, job.sink)
        arcs = tpl.arcs_of(route)
        rows, vals = column_resources(R, arcs, rate)
        load = np.zeros(len(residual))
        load[rows] = vals
        return Candidate(float(tpl.latency[arcs].sum()), tpl.with_exits(route), load, 0)

    def overload(c: Candidate) -> Overload | None:
        bad = np.flatnonzero(c.load - residual > TOL * kappa)
        if not len(bad):
            return None
        floors = c.latency / np.maximum(residual[bad], 1e-12)
        ratio = c.load[bad] / np.maximum(residual[bad], 1e-300)
        nodes, links = bad < N, bad >= N
        if links.any() and (not nodes.any() or ratio[links].max() > ratio[nodes].max()):
            culprit = int(bad[links][np.argmax(ratio[links])])
        else:
            culprit = int(bad[nodes][np.argmax(ratio[nodes])])
        return Overload(zip(bad.tolist(), floors.tolist()), culprit)

    done = price_repair(find, overload, forbidden=set(forbid))
    if done.candidate is not None:
        done.candidate.repairs = done.repairs
    return done.candidate


def _fits(residual: np.ndarray, cand: Candidate, kappa: float) -> bool:
    return bool(np.all(cand.load <= residual + TOL * kappa))


def _bottleneck(instance: Instance, residual: np.ndarray, cand: Candidate) -> int:
    """The resource of ``cand`` with the least residual left after placing it (relative); -1: none."""
    used = np.flatnonzero(cand.load > 0)
    if not len(used):
        return -1
    left = (residual[used] - cand.load[used]) / instance.utilisation_cap
    return int(used[np.argmin(left)])


def _work(instance: Instance, j: int) -> float:
    job = instance.jobs[j]
    model = instance.model_of(job)
    rho = model.reach(ACTIVE_EXITS)
    return job.rate * float(np.sum(rho[: model.num_layers] * model.flops))


STATIC_ORDERS: dict[str, Callable[[Instance], list[int]]] = {
    "input": lambda inst: list(range(len(inst.jobs))),
    "rate": lambda inst: sorted(range(len(inst.jobs)), key=lambda j: (-inst.jobs[j].rate, j)),
    "work": lambda inst: sorted(range(len(inst.jobs)), key=lambda j: (-_work(inst, j), j)),
}


def fresh_residual(instance: Instance) -> np.ndarray:
    """kappa on every resource: |N| nodes then |A| links (utilisation)."""
    net = instance.network
    return np.full(net.num_nodes + net.num_links, instance.utilisation_cap)


def greedy(instance: Instance, options: SolverOptions, order: str) -> SolveResult:
    """Route jobs one by one over residual capacities in the given order rule."""
    clock = options.clock()
    start = time.perf_counter()
    templates = Templates(instance)
    kappa = instance.utilisation_cap
    residual = fresh_residual(instance)
    decision: dict[int, tuple[Route, ...]] = {}
    placed: list[int] = []
    repairs = 0
    failed: int | None = None
    timed_out = False

    def commit(j: int, cand: Candidate) -> None:
        nonlocal repairs
        residual[:] -= cand.load
        decision[j] = (cand.route,)
        placed.append(j)
        repairs += cand.repairs

    if order in STATIC_ORDERS:
        for j in STATIC_ORDERS[order](instance):
            if clock.expired():
                timed_out = True
                break
            cand = best_route(instance, templates, j, residual)
            if cand is None:
                failed = j
                break
            commit(j, cand)
    else:  # regret
        left = list(range(len(instance.jobs)))
        cache: dict[int, tuple[Candidate | None, Candidate | None]] = {}
        while left:
            if clock.expired():
                timed_out = True
                break
            best_j, best_regret = None, -math.inf
            for j in left:
                c1, c2 = cache.get(j, (None, None))
                if c1 is None or not _fits(residual, c1, kappa):
                    c1 = best_route(instance, templates, j, residual)
                    c2 = None
                    if c1 is None:
                        failed = j
                        break
                if c2 is None or not _fits(residual, c2, kappa):
                    r = _bottleneck(instance, residual, c1)
                    c2 = None if r < 0 else best_route(instance, templates, j, residual, forbid=frozenset({r}))
                cache[j] = (c1, c2)
                regret = math.inf if c2 is None else instance.jobs[j].rate * (c2.latency - c1.latency)
                if regret > best_regret:
                    best_j, best_regret = j, regret
            if failed is not None:
                break
            commit(best_j, cache.pop(best_j)[0])
            left.remove(best_j)
    extra = {
        "order": order,
        "job_order": [instance.jobs[j].name for j in placed],
        "repairs": repairs,
        "placed_jobs": len(placed),
    }
    result = SolveResult(solver="python", extra=extra)
    result.solve_time = time.perf_counter() - start
    if timed_out:
        result.status = Status.TIME_LIMIT
        result.message = f"time limit {clock.limit:g} s reached after placing {len(placed)} of {len(instance.jobs)} jobs"
    elif failed is not None:
        result.status = Status.NO_SOLUTION
        result.message = (
            f"greedy could not place job {failed} ({instance.jobs[failed].name}) after {len(placed)} jobs "
            f"(order {order!r}); this does not prove that the instance is infeasible"
        )
    else:
        result.status, result.decision = Status.FEASIBLE, decision
        result.objective = evaluate(instance, decision).objective(OBJECTIVE)
    return result


for _order, _desc in (
    ("input", "jobs in instance order"),
    ("rate", "jobs by decreasing rate"),
    ("work", "jobs by decreasing demanded FLOP/s (largest first)"),
    ("regret", "job with the largest rate-weighted regret first (dynamic)"),
):
    register(
        SolverSpec(
            formulation="greedy",
            backend=_order,
            solve=(lambda o: lambda inst, opts: greedy(inst, opts, o))(_order),
            problem="multi",
            objective=OBJECTIVE,
            kind="heuristic",
            capacitated=True,
            description=f"greedy sequential routing on residual capacities, {_desc}",
            reference=REFERENCE,
            tags=frozenset({"baseline"}),
        )
    )
