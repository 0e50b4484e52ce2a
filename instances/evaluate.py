"""The independent evaluator: latency, energy and resource loads of a decision.

Every formulation returns its decision as routes (placement plus paths); this module
recomputes the objective from the instance data alone, so a backend's reported objective can
be checked against it. It refuses decisions that are not feasible.

For one route of job j with placement node(1..L), node(0) = s_j, node(L+1) = t_j, paths
P_0..P_L (P_l carries o_l from node(l) to node(l+1)), active exits X and exit paths E_x
(from node(x) to t_j, carrying the exit's result bytes r_x = ``Exit.result_bytes``, the size
DESIGN.md writes o_x: what the exit head outputs, not the layer's tensor):

    latency = sum_l rho_l tau_{l,node(l)} + sum_{x in X} rho_x h_x / c_{node(x)}
            + sum_l rho_{l+1} sum_{a in P_l} (o_l / b_a + delta_a)
            + sum_{x in X} q_x sum_{a in E_x} (r_x / b_a + delta_a)

With no exits every rho is 1 and this is DESIGN.md's latency. Energy replaces times with
p_n tau (compute) and epsilon_a * bytes (transfer), with the same rho weights. A job may be
split over several routes (splittable F3); its expected latency and energy are share-weighted.

Loads (per second, DESIGN.md C1-C3), summed over jobs and routes:
    node n busy time   lambda_j share sum_l rho_l tau_{l,n} [node(l) = n] (+ exit heads)
    link a bytes/s     lambda_j share (sum_l rho_{l+1} o_l [a in P_l] + sum_x q_x r_x [a in E_x])
    memory of n        sum over (model, layer) placed on n of m_l (each counted once)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from instances.model import Instance


class InfeasibleDecision(ValueError):
    """A decision that breaks the model (bad path, layer on a router, capacity exceeded...)."""


@dataclass(frozen=True)
class Route:
    """One placement plus its paths; ``share`` of the job's requests follow it."""

    placement: tuple[int, ...]  # node of layer 1..L
    paths: tuple[tuple[int, ...], ...]  # L+1 sequences of link indices
    active_exits: tuple[int, ...] = ()  # indices into the model's exits
    exit_paths: tuple[tuple[int, ...], ...] = ()  # one per active exit
    share: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"placement": list(self.placement), "paths": [list(p) for p in self.paths]}
        if self.active_exits:
            d["active_exits"] = list(self.active_exits)
            d["exit_paths"] = [list(p) for p in self.exit_paths]
        if self.share != 1.0:
            d["share"] = self.share
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Route":
        return cls(
            placement=tuple(int(n) for n in d["placement"]),
            paths=tuple(tuple(int(a) for a in p) for p in d["paths"]),
            active_exits=tuple(int(x) for x in d.get("active_exits", ())),
            exit_paths=tuple(tuple(int(a) for a in p) for p in d.get("exit_paths", ())),
            share=float(d.get("share", 1.0)),
        )


Decision = Mapping[int, Sequence[Route]]  # job index -> its routes (shares sum to 1)


def decision_to_json(decision: Decision) -> list[dict[str, Any]]:
    return [{"job": j, "routes": [r.to_dict() for r in routes]} for j, routes in sorted(decision.items())]


def decision_from_json(data: Sequence[Mapping[str, Any]]) -> dict[int, tuple[Route, ...]]:
    return {int(d["job"]): tuple(Route.from_dict(r) for r in d["routes"]) for d in data}


@dataclass(frozen=True)
class RouteCost:
    latency: float
    energy: float
    compute_time: float
    transfer_time: float


@dataclass(frozen=True)
class Evaluation:
    """What a decision costs and loads. Objectives are named as in the registry."""

    job_latency: dict[int, float]  # expected (share-weighted) latency per job
    job_energy: dict[int, float]
    job_worst_latency: dict[int, float]  # largest latency over the job's routes
    node_load: np.ndarray  # busy seconds per second
    link_load: np.ndarray  # bytes per second
    memory_use: np.ndarray  # bytes of parameters
    rates: dict[int, float] = field(default_factory=dict)

    def objective(self, name: str) -> float:
        if name == "latency":  # single job: its latency
            return float(sum(self.job_latency.values()))
        if name == "rate_weighted_latency":
            return float(sum(self.rates[j] * v for j, v in self.job_latency.items()))
        if name == "max_latency":
            return float(max(self.job_worst_latency.values()))
        if name == "energy":
            return float(sum(self.rates[j] * v for j, v in self.job_energy.items()))
        raise KeyError(f"unknown objective {name!r}")


def _check_walk(instance: Instance, path: Sequence[int], start: int, end: int, what: str) -> None:
    net = instance.network
    here = start
    for a in path:
        if not 0 <= a < net.num_links:
            raise InfeasibleDecision(f"{what}: link index {a} out of range")
        if int(net.link_source[a]) != here:
            raise InfeasibleDecision(
                f"{what}: link {a} starts at {net.node_names[net.link_source[a]]!r}, "
                f"not at {net.node_names[here]!r}"
            )
        here = int(net.link_target[a])
    if here != end:
        raise InfeasibleDecision(
            f"{what}: path ends at {net.node_names[here]!r}, not at {net.node_names[end]!r}"
        )


def evaluate_route(instance: Instance, job_index: int, route: Route) -> RouteCost:
    """Latency and energy of one request following ``route``; raises InfeasibleDecision."""
    cost, _, _ = _route_terms(instance, job_index, route)
    return cost


def _route_terms(
    instance: Instance, job_index: int, route: Route
) -> tuple[RouteCost, dict[int, float], dict[int, float]]:
    """Cost plus the per-request busy time per node and bytes per link."""
    job = instance.jobs[job_index]
    model = instance.model_of(job)
    net = instance.network
    L = model.num_layers
    where = f"job {job_index} ({job.name})"
    if len(route.placement) != L:
        raise InfeasibleDecision(f"{where}: placement has {len(route.placement)} layers, model has {L}")
    if len(route.paths) != L + 1:
        raise InfeasibleDecision(f"{where}: {len(route.paths)} paths, expected L+1 = {L + 1}")
    if len(route.exit_paths) != len(route.active_exits):
        raise InfeasibleDecision(f"{where}: one exit path per active exit is required")
    if len(set(route.active_exits)) != len(route.active_exits) or any(
        not 0 <= x < len(model.exits) for x in route.active_exits
    ):
        raise InfeasibleDecision(f"{where}: invalid active exits {route.active_exits}")
    tau = instance.compute_time(model)
    nodes = (job.source, *route.placement, job.sink)
    for l, n in enumerate(route.placement, start=1):
        if not 0 <= n < net.num_nodes or net.speed[n] <= 0:
            raise InfeasibleDecision(f"{where}: layer {l} placed on node {n}, which cannot compute")
    rho = model.reach(route.active_exits)  # rho[l-1] = rho_l, rho[L] = rho_{L+1}
    if np.any(rho < -1e-12):
        raise InfeasibleDecision(f"{where}: active exits remove more than all samples")
    sizes = model.tensor_sizes
    busy: dict[int, float] = {}
    traffic: dict[int, float] = {}
    compute = energy = transfer = 0.0
    for l in range(1, L + 1):
        n = route.placement[l - 1]
        t = rho[l - 1] * tau[l - 1, n]
        compute += t
        energy += net.power[n] * t
        busy[n] = busy.get(n, 0.0) + t
    for x in route.active_exits:
        e = model.exits[x]
        n = nodes[e.after_layer]
        t = rho[e.after_layer - 1] * e.head_flops / net.speed[n]
        compute += t
        energy += net.power[n] * t
        busy[n] = busy.get(n, 0.0) + t
    for l in range(L + 1):
        path = route.paths[l]
        _check_walk(instance, path, nodes[l], nodes[l + 1], f"{where}, path {l}")
        weight = rho[l] if l < L else rho[L]  # rho_{l+1}
        for a in path:
            transfer += weight * (sizes[l] / net.bandwidth[a] + net.delay[a])
            energy += weight * net.energy_per_byte[a] * sizes[l]
            traffic[a] = traffic.get(a, 0.0) + weight * sizes[l]
    for x, path in zip(route.active_exits, route.exit_paths):
        e = model.exits[x]
        _check_walk(instance, path, nodes[e.after_layer], job.sink, f"{where}, exit path {x}")
        for a in path:
            transfer += e.probability * (e.result_bytes / net.bandwidth[a] + net.delay[a])
            energy += e.probability * net.energy_per_byte[a] * e.result_bytes
            traffic[a] = traffic.get(a, 0.0) + e.probability * e.result_bytes
    cost = RouteCost(float(compute + transfer), float(energy), float(compute), float(transfer))
    return cost, busy, traffic


def evaluate(instance: Instance, decision: Decision) -> Evaluation:
    """Evaluate every job in ``decision`` (jobs not in it carry no load)."""
    net = instance.network
    node_load = np.zeros(net.num_nodes)
    link_load = np.zeros(net.num_links)
    memory_use = np.zeros(net.num_nodes)
    loaded: set[tuple[int, int, int]] = set()  # (model, layer, node)
    job_latency: dict[int, float] = {}
    job_energy: dict[int, float] = {}
    job_worst: dict[int, float] = {}
    rates: dict[int, float] = {}
    for j, routes in decision.items():
        if not 0 <= j < len(instance.jobs):
            raise InfeasibleDecision(f"decision names job {j}; the instance has {len(instance.jobs)}")
        job = instance.jobs[j]
        if not routes:
            raise InfeasibleDecision(f"job {j} ({job.name}) has no route")
        shares = [r.share for r in routes]
        if any(s < -1e-9 for s in shares) or not math.isclose(sum(shares), 1.0, abs_tol=1e-6):
            raise InfeasibleDecision(f"job {j} ({job.name}): route shares {shares} do not sum to 1")
        latency = energy = 0.0
        worst = 0.0
        model = instance.model_of(job)
        accuracy = 0.0
        for route in routes:
            cost, busy, traffic = _route_terms(instance, j, route)
            latency += route.share * cost.latency
            energy += route.share * cost.energy
            if route.share > 1e-9:
                worst = max(worst, cost.latency)
            for n, t in busy.items():
                node_load[n] += job.rate * route.share * t
            for a, b in traffic.items():
                link_load[a] += job.rate * route.share * b
            if route.share > 1e-9:
                for l, n in enumerate(route.placement):
                    loaded.add((job.model, l, n))
            if job.accuracy_target is not None and model.accuracy is not None:
                accuracy += route.share * model.expected_accuracy(route.active_exits)
        if job.accuracy_target is not None and model.accuracy is not None:
            if accuracy < job.accuracy_target - 1e-6:
                raise InfeasibleDecision(
                    f"job {j} ({job.name}): expected accuracy {accuracy:.4f} below target {job.accuracy_target}"
                )
        job_latency[j], job_energy[j], job_worst[j], rates[j] = latency, energy, worst, job.rate
    for m, l, n in loaded:
        memory_use[n] += instance.models[m].param_bytes[l]
    return Evaluation(job_latency, job_energy, job_worst, node_load, link_load, memory_use, rates)


@dataclass(frozen=True)
class Violation:
    resource: str  # e.g. "node 'edge1' busy time", "link 'a'->'b' bandwidth", "job 3 deadline"
    used: float
    limit: float

    @property
    def ratio(self) -> float:
        return self.used / self.limit if self.limit > 0 else math.inf


def capacity_violations(
    instance: Instance,
    evaluation: Evaluation,
    *,
    memory: bool = False,
    deadlines: bool = False,
    rel_tol: float = 1e-6,
    capacity: bool = True,
) -> list[Violation]:
    """Resources used beyond kappa (C1, C2; skipped with ``capacity=False``), memory (C3) and
    deadlines, most violated first."""
    net = instance.network
    kappa = instance.utilisation_cap
    out: list[Violation] = []
    for n in np.flatnonzero(evaluation.node_load > kappa * (1 + rel_tol)) if capacity else ():
        out.append(Violation(f"node {net.node_names[n]!r} busy time (C1)", float(evaluation.node_load[n]), kappa))
    cap = kappa * net.bandwidth
    for a in np.flatnonzero(evaluation.link_load > cap * (1 + rel_tol)) if capacity else ():
        name = f"link {net.node_names[net.link_source[a]]!r}->{net.node_names[net.link_target[a]]!r} bandwidth (C2)"
        out.append(Violation(name, float(evaluation.link_load[a]), float(cap[a])))
    if memory:
        for n in np.flatnonzero(evaluation.memory_use > net.memory * (1 + rel_tol)):
            out.append(
                Violation(f"node {net.node_names[n]!r} memory (C3)", float(evaluation.memory_use[n]), float(net.memory[n]))
            )
    if deadlines:
        for j, lat in evaluation.job_latency.items():
            T = instance.jobs[j].deadline
            if T is not None and lat > T * (1 + rel_tol):
                out.append(Violation(f"job {j} ({instance.jobs[j].name}) deadline", lat, T))
    out.sort(key=lambda v: -v.ratio)
    return out


def check_feasible(instance: Instance, decision: Decision, **kwargs: bool) -> Evaluation:
    """Evaluate and refuse any capacity, memory or deadline violation (naming the worst)."""
    ev = evaluate(instance, decision)
    violations = capacity_violations(instance, ev, **kwargs)
    if violations:
        v = violations[0]
        raise InfeasibleDecision(f"{v.resource} exceeded: {v.used:.6g} > {v.limit:.6g} ({len(violations)} violations)")
    return ev
