"""The independent evaluator of an LLM placement: memory, contiguity, capacities, throughput.

For a :class:`~instances.llm.model.Placement` it checks, from the instance data alone:

- contiguity and memory: each node holds one range start+1..start+count inside 1..L with
  1 <= count <= K_n (the length of its throughput table), and the range fits
  ``memory_usable x memory`` (parameters, plus the KV cache of the table's stated batch);
- the flow network of the placement: an arc source -> n where a link exists and n starts at
  layer 1; i -> j where a link exists and j starts where i ends; n -> sink where n ends at
  layer L; node n carries at most theta_n(count) tokens/s; link a at most b_a / beta;
- the decision's link flows, when given: non-negative, within the link capacity, zero on
  links the placement does not use, conserved at every node and within its capacity; their
  value (flow out of the source) is the decision's throughput.

It computes the placement's maximum flow with networkx (an independent graph library: the
formulations solve LPs), the throughput (the decision's flow value, or the maximum flow when
the decision carries no flows) and the pipelines: a decomposition of that flow into
source-sink paths, each with its latency per token at light load

    latency(path) = sum over its stages of latency_n(count_n)
                    + sum over its links of (beta / b_a + delta_a)

reported as the flow-weighted mean and the maximum over the paths. Anything infeasible raises
:class:`InfeasiblePlacement` with what and where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from instances.llm.io import MEMORY_TOL, range_memory
from instances.llm.model import LLMInstance, Placement

REL_TOL = 1e-6  # flows within 1e-6 of a capacity (relative) are accepted: LP solvers' tolerances


class InfeasiblePlacement(ValueError):
    """A placement or flow that breaks the model (memory, contiguity, a capacity, conservation)."""


@dataclass(frozen=True)
class Pipeline:
    """One source-sink path of the flow: its nodes in order, tokens/s, latency per token."""

    nodes: tuple[int, ...]
    flow: float
    latency: float


@dataclass(frozen=True)
class LLMEvaluation:
    throughput: float  # tokens/s: the decision's flow value (or the placement's maximum flow)
    max_flow: float  # the most the placement can carry
    pipelines: tuple[Pipeline, ...]
    memory_use: np.ndarray  # bytes per node
    nodes_used: int  # nodes that hold a range and carry flow
    link_flow: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    @property
    def mean_latency(self) -> float | None:
        total = sum(p.flow for p in self.pipelines)
        return None if total <= 0 else float(sum(p.flow * p.latency for p in self.pipelines) / total)

    @property
    def max_latency(self) -> float | None:
        return max((p.latency for p in self.pipelines), default=None)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures for a result record."""
        return {"throughput": self.throughput, "placement_max_flow": self.max_flow,
                "latency_mean": self.mean_latency, "latency_max": self.max_latency,
                "pipelines": len(self.pipelines), "nodes_used": self.nodes_used}


def check_ranges(instance: LLMInstance, placement: Placement) -> np.ndarray:
    """Contiguity, table and memory of every range; returns the memory use per node."""
    N, L = instance.num_nodes, instance.model.num_layers
    if len(placement.ranges) != N:
        raise InfeasiblePlacement(f"placement has {len(placement.ranges)} ranges, the instance has {N} nodes")
    use = np.zeros(N)
    for n, r in enumerate(placement.ranges):
        if r is None:
            continue
        node = instance.nodes[n]
        start, count = r
        where = f"node {node.name!r} range (start {start}, count {count})"
        if not (0 <= start and 1 <= count and start + count <= L):
            raise InfeasiblePlacement(f"{where}: not a range of layers inside 1..{L}")
        if count > node.max_layers:
            raise InfeasiblePlacement(f"{where}: the node holds at most {node.max_layers} layers")
        batch = None if node.batch is None else float(node.batch[count - 1])
        use[n] = range_memory(instance.model, count, batch)
        if use[n] > instance.memory_usable * node.memory * (1 + MEMORY_TOL):
            raise InfeasiblePlacement(f"{where}: needs {use[n]:.6g} bytes, memory_usable x memory is "
                                      f"{instance.memory_usable * node.memory:.6g}")
    return use


def active_links(instance: LLMInstance, placement: Placement) -> np.ndarray:
    """Per link: whether the placement can send activations over it."""
    N, L = instance.num_nodes, instance.model.num_layers
    start = {n: r[0] for n, r in enumerate(placement.ranges) if r is not None}
    end = {n: r[0] + r[1] for n, r in enumerate(placement.ranges) if r is not None}
    out = np.zeros(instance.num_links, dtype=bool)
    for a, (i, j) in enumerate(zip(instance.link_source.tolist(), instance.link_target.tolist())):
        if i == N:
            out[a] = start.get(j) == 0
        elif j == N + 1:
            out[a] = end.get(i) == L
        else:
            out[a] = i in end and j in start and end[i] == start[j]
    return out


def max_flow(instance: LLMInstance, placement: Placement) -> tuple[float, np.ndarray]:
    """The maximum flow of the placement (networkx) and one maximum flow on the links."""
    import networkx as nx

    N = instance.num_nodes
    active = active_links(instance, placement)
    cap = instance.link_capacity
    g = nx.DiGraph()
    g.add_node("S")
    g.add_node("T")
    for n, r in enumerate(placement.ranges):
        if r is not None:
            g.add_edge(("in", n), ("out", n), capacity=float(instance.nodes[n].throughput[r[1] - 1]))

    def end(e: int, side: str) -> Any:
        return "S" if e == N else "T" if e == N + 1 else (side, e)

    for a in np.flatnonzero(active):
        g.add_edge(end(int(instance.link_source[a]), "out"), end(int(instance.link_target[a]), "in"),
                   capacity=float(cap[a]))
    value, flow = nx.maximum_flow(g, "S", "T")
    link_flow = np.zeros(instance.num_links)
    for a in np.flatnonzero(active):
        u, v = end(int(instance.link_source[a]), "out"), end(int(instance.link_target[a]), "in")
        link_flow[a] = max(float(flow[u][v]), 0.0)
    return float(value), link_flow


def _check_flows(instance: LLMInstance, placement: Placement, active: np.ndarray) -> np.ndarray:
    N = instance.num_nodes
    flow = np.asarray(placement.link_flow, dtype=float)
    if flow.shape != (instance.num_links,):
        raise InfeasiblePlacement(f"link_flow has {flow.size} values, the instance has {instance.num_links} links")
    if not np.all(np.isfinite(flow)):
        raise InfeasiblePlacement("link_flow holds a non-finite value")
    scale = max(1.0, max((float(n.throughput.max()) for n in instance.nodes if n.max_layers), default=1.0))
    tol = REL_TOL * scale

    def name(a: int) -> str:
        return f"link {instance.endpoint_name(int(instance.link_source[a]))!r}->" \
               f"{instance.endpoint_name(int(instance.link_target[a]))!r}"

    cap = instance.link_capacity
    for a in range(instance.num_links):
        if flow[a] < -tol:
            raise InfeasiblePlacement(f"{name(a)}: negative flow {flow[a]:.6g}")
        if flow[a] > cap[a] * (1 + REL_TOL) + tol:
            raise InfeasiblePlacement(f"{name(a)}: flow {flow[a]:.6g} above its capacity {cap[a]:.6g} tokens/s")
        if not active[a] and flow[a] > tol:
            raise InfeasiblePlacement(f"{name(a)}: flow {flow[a]:.6g} on a link the placement does not use "
                                      "(the ranges at its ends do not meet)")
    inflow = np.zeros(N + 2)
    outflow = np.zeros(N + 2)
    np.add.at(inflow, instance.link_target, flow)
    np.add.at(outflow, instance.link_source, flow)
    for n, node in enumerate(instance.nodes):
        if abs(inflow[n] - outflow[n]) > tol + REL_TOL * max(inflow[n], outflow[n]):
            raise InfeasiblePlacement(f"node {node.name!r}: flow in {inflow[n]:.6g} != flow out {outflow[n]:.6g}")
        r = placement.ranges[n]
        limit = 0.0 if r is None else float(node.throughput[r[1] - 1])
        if inflow[n] > limit * (1 + REL_TOL) + tol:
            raise InfeasiblePlacement(f"node {node.name!r}: {inflow[n]:.6g} tokens/s above its capacity {limit:.6g}")
    return np.maximum(flow, 0.0)


def pipelines(instance: LLMInstance, placement: Placement, flow: np.ndarray) -> tuple[Pipeline, ...]:
    """A path decomposition of ``flow`` (largest bottleneck first), with each path's latency."""
    N = instance.num_nodes
    residual = flow.copy()
    scale = max(1.0, float(flow.max(initial=0.0)))
    out_links: dict[int, list[int]] = {}
    for a, i in enumerate(instance.link_source.tolist()):
        out_links.setdefault(i, []).append(a)
    beta = instance.model.activation_bytes
    found = []
    for _ in range(4 * instance.num_links + 1):
        path, here = [], N
        while here != N + 1:
            options = [a for a in out_links.get(here, []) if residual[a] > 1e-9 * scale]
            if not options or len(path) > N + 1:
                break
            a = max(options, key=lambda a: residual[a])
            path.append(a)
            here = int(instance.link_target[a])
        if here != N + 1:
            break
        value = float(min(residual[a] for a in path))
        residual[path] -= value
        nodes = tuple(int(instance.link_target[a]) for a in path[:-1])
        latency = sum(float(instance.nodes[n].latency[placement.ranges[n][1] - 1]) for n in nodes)
        latency += sum(beta / float(instance.bandwidth[a]) + float(instance.delay[a]) for a in path)
        found.append(Pipeline(nodes, value, latency))
    return tuple(found)


def evaluate_placement(instance: LLMInstance, placement: Placement) -> LLMEvaluation:
    """Check ``placement`` and compute its throughput, maximum flow and pipelines."""
    memory = check_ranges(instance, placement)
    best, best_flow = max_flow(instance, placement)
    if placement.link_flow is None:
        flow, value = best_flow, best
    else:
        flow = _check_flows(instance, placement, active_links(instance, placement))
        value = float(flow[instance.link_source == instance.source].sum())
        if value > best * (1 + REL_TOL) + REL_TOL:
            raise InfeasiblePlacement(f"flow value {value:.9g} above the placement's maximum flow {best:.9g}")
    paths = pipelines(instance, placement, flow)
    used = len({n for p in paths for n in p.nodes})
    return LLMEvaluation(value, best, paths, memory, used, flow)
