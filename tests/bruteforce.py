"""Brute-force oracle for the single-job problem (tiny instances only).

Enumerates every placement (|compute nodes|^L) and, for each, sums the compute times and the
shortest transfer times between consecutive nodes. Shortest paths come from networkx (one
Dijkstra per tensor size over a MultiDiGraph), independently of the engine (``dnnsplit/graph/``).
"""

from __future__ import annotations

import itertools
import math

import networkx as nx

from instances.model import Instance

MAX_PLACEMENTS = 200_000


def _all_pairs(instance: Instance, size: float) -> dict[int, dict[int, float]]:
    net = instance.network
    g = nx.DiGraph()
    g.add_nodes_from(range(net.num_nodes))
    for a in range(net.num_links):
        i, j = int(net.link_source[a]), int(net.link_target[a])
        w = size / float(net.bandwidth[a]) + float(net.delay[a])
        if not g.has_edge(i, j) or g[i][j]["weight"] > w:
            g.add_edge(i, j, weight=w)
    return dict(nx.all_pairs_dijkstra_path_length(g, weight="weight"))


def brute_force(instance: Instance, job_index: int = 0) -> tuple[float, tuple[int, ...] | None]:
    """(optimal latency, one optimal placement); (inf, None) when no placement is feasible."""
    job = instance.jobs[job_index]
    model = instance.model_of(job)
    L = model.num_layers
    sizes = [float(x) for x in model.tensor_sizes]
    tau = instance.compute_time(model)
    compute = [int(n) for n in instance.network.compute_nodes]
    if len(compute) ** L > MAX_PLACEMENTS:
        raise ValueError(f"{len(compute)}^{L} placements: too many for brute force")
    tables = {}
    for size in set(sizes):
        tables[size] = _all_pairs(instance, size)

    def d(size: float, i: int, k: int) -> float:
        return tables[size].get(i, {}).get(k, math.inf)

    best, arg = math.inf, None
    for placement in itertools.product(compute, repeat=L):
        nodes = (job.source, *placement, job.sink)
        total = sum(float(tau[l, n]) for l, n in enumerate(placement))
        for l in range(L + 1):
            total += d(sizes[l], nodes[l], nodes[l + 1])
            if total >= best:
                break
        if total < best:
            best, arg = total, placement
    return best, arg


def brute_force_value(instance: Instance, job_index: int = 0) -> float:
    return brute_force(instance, job_index)[0]


def layered_networkx(instance: Instance, job_index: int = 0) -> float:
    """Optimum by networkx Dijkstra on a layered graph built here, independently of
    the engine (``dnnsplit/graph/``; vertices (n, l); for larger instances than brute force)."""
    job = instance.jobs[job_index]
    model = instance.model_of(job)
    L = model.num_layers
    sizes = [float(x) for x in model.tensor_sizes]
    tau = instance.compute_time(model)
    net = instance.network
    g = nx.DiGraph()
    for l in range(L + 1):
        for a in range(net.num_links):
            u, v = (int(net.link_source[a]), l), (int(net.link_target[a]), l)
            w = sizes[l] / float(net.bandwidth[a]) + float(net.delay[a])
            if not g.has_edge(u, v) or g[u][v]["weight"] > w:
                g.add_edge(u, v, weight=w)
    for l in range(1, L + 1):
        for n in net.compute_nodes:
            g.add_edge((int(n), l - 1), (int(n), l), weight=float(tau[l - 1, n]))
    try:
        return float(nx.dijkstra_path_length(g, (job.source, 0), (job.sink, L), weight="weight"))
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return math.inf


__all__ = ["brute_force", "brute_force_value", "layered_networkx", "MAX_PLACEMENTS"]
