"""The materialised layered graph of one job (DESIGN.md section 3, F2) and its routes.

The layered graph of job j has L+1 copies of G = (N, A). Vertex ``v = l*|N| + n`` is the copy
(n, l): "the data is at node n and layers 1..l are done", l = 0..L. Arcs:

- communication arc (i, l) -> (j, l) for every link a = (i, j) and every copy l = 0..L,
  cost o_l / b_a + delta_a;
- computation arc (n, l-1) -> (n, l) for every compute node n and l = 1..L, cost tau_{l,n}.

Source vertex (s, 0), sink vertex (t, L). A source-sink path is exactly a placement plus its
routes, and its length is the latency. :class:`LayeredGraph` holds the arcs as numpy arrays
(vectorised: more than 10^6 arcs in well under a second) for the formulations that need the
graph itself (the F2 LP and min-cost flow, the F3 arc form and its templates) and a simple-graph
CSR for scipy's shortest paths. Shortest paths without materialising it are in
``dnnsplit.graph.shortest``.

Single-job formulations ignore early exits (no exit is active): every rho is 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from dnnsplit.graph.base import base_graph
from dnnsplit.graph.shortest import check_extra
from instances.evaluate import Route
from instances.model import Instance, Network

COMM, COMPUTE = 0, 1  # LayeredGraph.kind values


# ----------------------------------------------------------------------------- costs


def job_data(instance: Instance, job_index: int) -> tuple[int, int, int, np.ndarray, np.ndarray]:
    """(source, sink, L, tensor sizes o_0..o_L, tau of shape (L, |N|)) of one job."""
    if not 0 <= job_index < len(instance.jobs):
        raise ValueError(f"job index {job_index} out of range: the instance has {len(instance.jobs)} jobs")
    job = instance.jobs[job_index]
    model = instance.model_of(job)
    return job.source, job.sink, model.num_layers, model.tensor_sizes, instance.compute_time(model)


def comm_costs(instance: Instance, job_index: int, link_extra: np.ndarray | None = None) -> np.ndarray:
    """Per-copy link costs, shape (L+1, |A|): o_l / b_a + delta_a (+ link_extra)."""
    net = instance.network
    _, _, L, sizes, _ = job_data(instance, job_index)
    cost = np.multiply.outer(sizes, 1.0 / net.bandwidth) + net.delay
    if link_extra is not None:
        cost = cost + check_extra(link_extra, (L + 1, net.num_links), "link_extra")
    return cost


def compute_costs(instance: Instance, job_index: int, node_extra: np.ndarray | None = None) -> np.ndarray:
    """tau_{l,n} (+ node_extra), shape (L, |N|); inf where n cannot compute."""
    net = instance.network
    _, _, L, _, tau = job_data(instance, job_index)
    if node_extra is None:
        return tau
    return tau + check_extra(node_extra, (L, net.num_nodes), "node_extra")


# ----------------------------------------------------------------------------- layered graph


@dataclass(frozen=True, eq=False)
class LayeredGraph:
    """The materialised layered graph of one job (arrays indexed by arc).

    Arc order: communication arcs copy by copy (arc ``l*|A| + a``), then computation arcs layer
    by layer (arc ``(L+1)|A| + (l-1)|C| + k`` for the k-th compute node).
    """

    num_nodes: int  # |N|
    num_layers: int  # L
    num_links: int  # |A|
    compute_nodes: np.ndarray  # C, node indices
    source: int  # vertex (s, 0)
    sink: int  # vertex (t, L)
    tail: np.ndarray  # int32 vertex ids
    head: np.ndarray
    cost: np.ndarray  # float64
    kind: np.ndarray  # int8: COMM or COMPUTE
    layer: np.ndarray  # int32: copy l (comm) or layer l (compute)
    index: np.ndarray  # int32: link index (comm) or node index (compute)
    job_index: int = 0
    network: Network | None = None  # the network G it copies (for its CSR and shortest paths)

    @property
    def num_vertices(self) -> int:
        return (self.num_layers + 1) * self.num_nodes

    @property
    def num_arcs(self) -> int:
        return len(self.tail)

    @property
    def num_comm_arcs(self) -> int:
        return (self.num_layers + 1) * self.num_links

    def comm_cost_matrix(self) -> np.ndarray:
        """Communication costs as (L+1, |A|)."""
        return self.cost[: self.num_comm_arcs].reshape(self.num_layers + 1, self.num_links)

    def incidence(self) -> sp.csc_array:
        """Node-arc incidence matrix (|V| x |arcs|): +1 at the tail, -1 at the head."""
        m = self.num_arcs
        rows = np.concatenate((self.tail, self.head))
        cols = np.concatenate((np.arange(m), np.arange(m)))
        vals = np.concatenate((np.ones(m), -np.ones(m)))
        return sp.csc_array((vals, (rows, cols)), shape=(self.num_vertices, m))

    def csr(self, network: Network | None = None) -> sp.csr_array:
        """The layered graph as a simple-graph CSR (parallel links: the cheapest per copy).

        Built from the regular structure without sorting: row (n, l) holds the comm pairs of n
        in copy l, then the compute arc (n, l) -> (n, l+1) when n computes and l < L.
        """
        base = base_graph(network if network is not None else self.network)
        N, L, P = self.num_nodes, self.num_layers, base.num_pairs
        C = self.compute_nodes
        w_pairs = base.pair_weights(self.comm_cost_matrix())  # (L+1, P)
        is_c = np.zeros(N, dtype=np.int64)
        is_c[C] = 1
        c_before = np.concatenate(([0], np.cumsum(is_c)))  # compute nodes < n
        per_copy = P + len(C)  # entries of a full copy (l < L)
        nnz = L * per_copy + P
        data = np.empty(nnz)
        indices = np.empty(nnz, dtype=np.int32)
        copies = np.arange(L + 1, dtype=np.int64)[:, None]
        p = np.arange(P, dtype=np.int64)
        pos_comm = copies * per_copy + p + np.where(copies < L, c_before[base.pair_tail], 0)
        data[pos_comm.ravel()] = w_pairs.ravel()
        indices[pos_comm.ravel()] = (copies * N + base.pair_head).ravel()
        if L and len(C):
            tau = self.cost[self.num_comm_arcs :].reshape(L, len(C))
            lc = copies[:L]
            pos_comp = lc * per_copy + base.indptr[C + 1] + c_before[C]
            data[pos_comp.ravel()] = tau.ravel()
            indices[pos_comp.ravel()] = ((lc + 1) * N + C).ravel()
        row_len = np.diff(base.indptr).astype(np.int64)
        counts = np.concatenate([np.tile(row_len + is_c, L), row_len])
        indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        V = self.num_vertices
        if nnz < 2**31 - 1:
            indptr = indptr.astype(np.int32)
        return sp.csr_array((data, indices, indptr), shape=(V, V))


def build_layered_graph(
    instance: Instance,
    job_index: int = 0,
    link_extra: np.ndarray | None = None,
    node_extra: np.ndarray | None = None,
) -> LayeredGraph:
    """Materialise the layered graph of job ``job_index`` (vectorised).

    ``link_extra`` (shape (L+1, |A|) or broadcastable) and ``node_extra`` (shape (L, |N|) or
    broadcastable) are added to communication and computation arc costs (for pricing).
    """
    net = instance.network
    s, t, L, _, _ = job_data(instance, job_index)
    N, A = net.num_nodes, net.num_links
    C = net.compute_nodes.astype(np.int64)
    comm = comm_costs(instance, job_index, link_extra)  # (L+1, A)
    tau = compute_costs(instance, job_index, node_extra)[:, C]  # (L, |C|)
    offs = (np.arange(L + 1, dtype=np.int64) * N)[:, None]
    src = np.asarray(net.link_source, dtype=np.int64)
    dst = np.asarray(net.link_target, dtype=np.int64)
    loffs = (np.arange(L, dtype=np.int64) * N)[:, None]
    idtype = np.int32 if (L + 1) * N < 2**31 else np.int64
    tail = np.concatenate([(offs + src).ravel(), (loffs + C).ravel()]).astype(idtype)
    head = np.concatenate([(offs + dst).ravel(), (loffs + N + C).ravel()]).astype(idtype)
    cost = np.concatenate([comm.ravel(), tau.ravel()])
    n_comm, n_comp = (L + 1) * A, L * len(C)
    kind = np.concatenate([np.full(n_comm, COMM, np.int8), np.full(n_comp, COMPUTE, np.int8)])
    layer = np.concatenate(
        [np.repeat(np.arange(L + 1, dtype=np.int32), A), np.repeat(np.arange(1, L + 1, dtype=np.int32), len(C))]
    )
    index = np.concatenate([np.tile(np.arange(A, dtype=np.int32), L + 1), np.tile(C.astype(np.int32), L)])
    return LayeredGraph(N, L, A, C, s, L * N + t, tail, head, cost, kind, layer, index, job_index, net)


# ----------------------------------------------------------------------------- routes


def route_from_arc_path(graph: LayeredGraph, arcs: Sequence[int]) -> Route:
    """A source-sink arc sequence of ``graph`` -> Route (placement and link paths)."""
    L = graph.num_layers
    placement: list[int] = []
    paths: list[list[int]] = [[] for _ in range(L + 1)]
    for arc in arcs:
        l, i = int(graph.layer[arc]), int(graph.index[arc])
        if graph.kind[arc] == COMPUTE:
            placement.append(i)
        else:
            paths[l].append(i)
    if len(placement) != L:
        raise ValueError(f"arc path places {len(placement)} layers, the model has {L}")
    return Route(tuple(placement), tuple(tuple(p) for p in paths))


def route_cost(instance: Instance, job_index: int, route: Route) -> float:
    """Latency of ``route`` recomputed from the data (no exits): sum tau + sum o_l/b_a + delta_a."""
    _, _, L, sizes, tau = job_data(instance, job_index)
    net = instance.network
    total = float(sum(tau[l, n] for l, n in enumerate(route.placement)))
    for l, path in enumerate(route.paths):
        idx = np.asarray(path, dtype=np.int64)
        total += float(np.sum(sizes[l] / net.bandwidth[idx] + net.delay[idx]))
    return total


