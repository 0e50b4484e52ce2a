"""Shared layered-graph machinery for one job (DESIGN.md section 3, F2; used by F1, F3, baselines).

The layered graph of job j has L+1 copies of G = (N, A). Vertex ``v = l*|N| + n`` is the copy
(n, l): "the data is at node n and layers 1..l are done", l = 0..L. Arcs:

- communication arc (i, l) -> (j, l) for every link a = (i, j) and every copy l = 0..L,
  cost o_l / b_a + delta_a (+ an optional extra cost per (l, a), e.g. a dual price);
- computation arc (n, l-1) -> (n, l) for every compute node n and l = 1..L, cost tau_{l,n}
  (+ an optional extra cost per (l, n)).

Source vertex (s, 0), sink vertex (t, L). A source-sink path is exactly a placement plus its
routes, and its length is the latency.

What lives here:

- :class:`BaseGraph`: G with parallel links grouped into (i, j) pairs in CSR order; the
  cheapest link of a pair depends on the tensor size when delays differ, so the choice is made
  per copy (:meth:`BaseGraph.pair_weights`, :meth:`BaseGraph.best_link`).
- :class:`LayeredGraph` / :func:`build_layered_graph`: the materialised arc arrays (numpy,
  vectorised; more than 10^6 arcs in well under a second) and a simple-graph CSR
  (:meth:`LayeredGraph.csr`) for scipy's shortest-path routines.
- :func:`route_from_arc_path`, :func:`route_from_vertex_path`: arcs or vertices -> ``Route``.
- :func:`layered_dijkstra`: the specialised label-setting pass that never materialises the
  layered graph: for l = 0..L one multi-source Dijkstra on G seeded with 0 at s (l = 0), else
  label_{l-1}(n) + tau_{l,n} at every compute node n. Three implementations of that pass: a
  binary-heap pass compiled by numba (``formulations._layered_jit``, the default when numba
  imports); scipy's ``dijkstra`` from a super-source whose arc to n carries the seed (one CSR
  built per call, its data overwritten per copy); and a heapq pass (faster than scipy below
  ~200 (i, j) pairs, where scipy's ~50 us per-call overhead dominates).
  Memory O(|A| + L|N|): one parent per node and copy (int32), never O(L|A|).
- :class:`SparseModel`, :func:`run_highs`, :func:`apply_highs_options`, :func:`highs_status`:
  an LP/MIP in array form solved by a fresh highspy object (shared by F1, F2 and others).
- :class:`TransferTables`: the all-pairs transfer-time tables D^l of F1, one per distinct
  tensor size (cached), with path recovery.

Single-job formulations ignore early exits (no exit is active): every rho is 1.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from instances.evaluate import Route
from instances.model import Instance, Network

if TYPE_CHECKING:
    from dnnsplit.options import SolverOptions
    from dnnsplit.results import Status

COMM, COMPUTE = 0, 1  # LayeredGraph.kind values


class NoRoute(Exception):
    """The sink copy (t, L) cannot be reached from the source copy (s, 0)."""


# ----------------------------------------------------------------------------- base graph


class BaseGraph:
    """G = (N, A) with links grouped by (i, j) pair, pairs sorted by (i, j) (CSR order)."""

    def __init__(self, network: Network):
        n = network.num_nodes
        src = np.asarray(network.link_source, dtype=np.int64)
        dst = np.asarray(network.link_target, dtype=np.int64)
        keys = src * n + dst
        self.num_nodes = n
        self.num_links = len(src)
        self.link_order = np.argsort(keys, kind="stable")  # links sorted by pair
        sorted_keys = keys[self.link_order]
        first = np.ones(len(sorted_keys), dtype=bool)
        first[1:] = sorted_keys[1:] != sorted_keys[:-1]
        self.group_start = np.flatnonzero(first)  # into link_order
        self.pair_keys = sorted_keys[self.group_start]
        self.pair_tail = (self.pair_keys // n).astype(np.int32)
        self.pair_head = (self.pair_keys % n).astype(np.int32)
        self.num_pairs = len(self.pair_keys)
        self.has_parallel = self.num_pairs < self.num_links
        self.indptr = np.searchsorted(self.pair_tail, np.arange(n + 1)).astype(np.int32)
        # the link of each pair when there are no parallel links
        self.pair_link = self.link_order[self.group_start]
        self._jit_arrays: tuple[np.ndarray, ...] | None = None

    def pair_weights(self, link_weights: np.ndarray) -> np.ndarray:
        """Cheapest weight per pair; ``link_weights`` has shape (..., |A|)."""
        w = np.asarray(link_weights)
        if not self.has_parallel:
            return w[..., self.pair_link]
        return np.minimum.reduceat(w[..., self.link_order], self.group_start, axis=-1)

    def pair_index(self, i: np.ndarray | int, j: np.ndarray | int) -> np.ndarray:
        """Index of pair (i, j) (must exist)."""
        key = np.asarray(i, dtype=np.int64) * self.num_nodes + np.asarray(j, dtype=np.int64)
        return np.searchsorted(self.pair_keys, key)

    def best_link(self, i: int, j: int, link_weights: np.ndarray) -> int:
        """The cheapest link from i to j under ``link_weights`` (shape (|A|,))."""
        p = int(self.pair_index(i, j))
        if p >= self.num_pairs or self.pair_keys[p] != i * self.num_nodes + j:
            raise ValueError(f"no link from node {i} to node {j}")
        start = self.group_start[p]
        stop = self.group_start[p + 1] if p + 1 < self.num_pairs else self.num_links
        links = self.link_order[start:stop]
        return int(links[np.argmin(link_weights[links])])

    def jit_arrays(self, network: Network) -> tuple[np.ndarray, ...]:
        """The arrays the compiled pass reads (cached): indptr, pair heads, each pair's range
        in the pair-sorted links, and the pair-sorted link ids, 1 / b_a and delta_a."""
        if self._jit_arrays is None:
            stop = np.append(self.group_start[1:], self.num_links)
            order = self.link_order
            # fresh writable copies: the compiled pass is typed for writable C arrays
            self._jit_arrays = (
                self.indptr.astype(np.int64), self.pair_head.astype(np.int64),
                self.group_start.astype(np.int64), stop.astype(np.int64), order.astype(np.int64),
                np.array(1.0 / network.bandwidth[order], dtype=np.float64),
                np.array(network.delay[order], dtype=np.float64),
            )
        return self._jit_arrays

    def csr(self, weights: np.ndarray) -> sp.csr_array:
        """G as a scipy CSR matrix with per-pair ``weights`` (explicit zeros are edges)."""
        n = self.num_nodes
        return sp.csr_array((weights, self.pair_head, self.indptr), shape=(n, n))


_BASE_CACHE: "weakref.WeakKeyDictionary[Network, BaseGraph]" = weakref.WeakKeyDictionary()


def base_graph(network: Network) -> BaseGraph:
    """The (cached) :class:`BaseGraph` of ``network``."""
    g = _BASE_CACHE.get(network)
    if g is None:
        g = _BASE_CACHE[network] = BaseGraph(network)
    return g


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
        cost = cost + _check_extra(link_extra, (L + 1, net.num_links), "link_extra")
    return cost


def compute_costs(instance: Instance, job_index: int, node_extra: np.ndarray | None = None) -> np.ndarray:
    """tau_{l,n} (+ node_extra), shape (L, |N|); inf where n cannot compute."""
    net = instance.network
    _, _, L, _, tau = job_data(instance, job_index)
    if node_extra is None:
        return tau
    return tau + _check_extra(node_extra, (L, net.num_nodes), "node_extra")


def _check_extra(extra: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    e = np.asarray(extra, dtype=np.float64)
    try:
        e = np.broadcast_to(e, shape)
    except ValueError:
        raise ValueError(f"{name} has shape {e.shape}; expected {shape} or broadcastable to it") from None
    if np.any(e < 0) or not np.all(np.isfinite(e)):
        raise ValueError(f"{name} must be finite and >= 0 (Dijkstra needs non-negative arc costs)")
    return e


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

    def csr(self, network: Network) -> sp.csr_array:
        """The layered graph as a simple-graph CSR (parallel links: the cheapest per copy).

        Built from the regular structure without sorting: row (n, l) holds the comm pairs of n
        in copy l, then the compute arc (n, l) -> (n, l+1) when n computes and l < L.
        """
        base = base_graph(network)
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
    return LayeredGraph(N, L, A, C, s, L * N + t, tail, head, cost, kind, layer, index, job_index)


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


def route_from_vertex_path(
    instance: Instance, job_index: int, vertices: Sequence[int], link_costs: np.ndarray | None = None
) -> Route:
    """A source-sink vertex sequence of the layered graph -> Route.

    A step within copy l uses the cheapest link for that pair under ``link_costs`` (shape
    (L+1, |A|); default o_l / b_a + delta_a); a step up one copy is a computation arc.
    """
    net = instance.network
    N = net.num_nodes
    _, _, L, _, _ = job_data(instance, job_index)
    base = base_graph(net)
    if link_costs is None and base.has_parallel:
        link_costs = comm_costs(instance, job_index)
    v = np.asarray(vertices, dtype=np.int64)
    copy, node = v // N, v % N
    placement: list[int] = []
    paths: list[list[int]] = [[] for _ in range(L + 1)]
    for k in range(len(v) - 1):
        (l0, n0), (l1, n1) = (int(copy[k]), int(node[k])), (int(copy[k + 1]), int(node[k + 1]))
        if l1 == l0 + 1 and n1 == n0:
            placement.append(n0)
        elif l1 == l0:
            if base.has_parallel:
                paths[l0].append(base.best_link(n0, n1, link_costs[l0]))
            else:
                paths[l0].append(int(base.pair_link[base.pair_index(n0, n1)]))
        else:
            raise ValueError(f"vertices {v[k]} -> {v[k + 1]} are not joined by a layered-graph arc")
    if len(placement) != L:
        raise ValueError(f"vertex path places {len(placement)} layers, the model has {L}")
    return Route(tuple(placement), tuple(tuple(p) for p in paths))


def vertex_path_from_predecessors(pred: np.ndarray, source: int, sink: int) -> list[int]:
    """Walk scipy-style predecessors (-9999: none) back from ``sink`` to ``source``."""
    path = [sink]
    v = sink
    while v != source:
        v = int(pred[v])
        if v < 0:
            raise NoRoute(f"vertex {sink} is not reachable from vertex {source}")
        path.append(v)
    path.reverse()
    return path


def route_cost(instance: Instance, job_index: int, route: Route) -> float:
    """Latency of ``route`` recomputed from the data (no exits): sum tau + sum o_l/b_a + delta_a."""
    _, _, L, sizes, tau = job_data(instance, job_index)
    net = instance.network
    total = float(sum(tau[l, n] for l, n in enumerate(route.placement)))
    for l, path in enumerate(route.paths):
        idx = np.asarray(path, dtype=np.int64)
        total += float(np.sum(sizes[l] / net.bandwidth[idx] + net.delay[idx]))
    return total


# ----------------------------------------------------------------------------- layered Dijkstra


HEAP_MAX_PAIRS = 200  # auto: pure-Python heap up to this many (i, j) pairs, scipy above (measured crossover)


def _copy_pass_scipy(base: BaseGraph, w: np.ndarray, seed_nodes: np.ndarray, seed_vals: np.ndarray,
                     work: dict) -> tuple[np.ndarray, np.ndarray]:
    """One copy: scipy Dijkstra from a super-source (vertex |N|) whose arcs carry the seeds.

    The CSR matrix is built once per call of ``layered_dijkstra`` with a super-source arc to
    every node in ``work["seed_set"]``; each copy only overwrites its data (inf: no seed).
    """
    N = base.num_nodes
    g = work.get("graph")
    if g is None:
        seed_set = work["seed_set"]
        indptr = np.concatenate((base.indptr, [base.num_pairs + len(seed_set)])).astype(np.int32)
        indices = np.concatenate((base.pair_head, seed_set)).astype(np.int32)
        g = work["graph"] = sp.csr_matrix((np.zeros(len(indices)), indices, indptr), shape=(N + 1, N + 1))
        work["seed_pos"] = np.full(N, -1, dtype=np.int64)
        work["seed_pos"][seed_set] = base.num_pairs + np.arange(len(seed_set))
    data = g.data
    data[: base.num_pairs] = w
    data[base.num_pairs :] = np.inf
    data[work["seed_pos"][seed_nodes]] = seed_vals
    dist, pred = dijkstra(g, directed=True, indices=N, return_predecessors=True)
    return dist[:N], pred[:N]


def _all_copies_heap(base: BaseGraph, L: int, s: int, pair_weights: Callable[[int], np.ndarray],
                     tau: np.ndarray, C: np.ndarray, parent: np.ndarray) -> list[float] | None:
    """Every copy with a binary-heap Dijkstra (heapq) on Python lists; fills ``parent`` (|N|:
    entered from the copy below, -9999: unreached) and returns the labels of copy L (None when
    no compute node is reached in some copy)."""
    import heapq

    N = base.num_nodes
    ptr, head = base.indptr.tolist(), base.pair_head.tolist()
    compute = C.tolist()
    inf = math.inf
    pop, push = heapq.heappop, heapq.heappush
    seeds = [(0.0, s)]
    dist: list[float] = []
    for l in range(L + 1):
        wl = pair_weights(l).tolist()
        dist = [inf] * N
        par = [-9999] * N
        heap = []
        for v, n in seeds:
            if v < dist[n]:
                dist[n] = v
                par[n] = N
                heap.append((v, n))
        heapq.heapify(heap)
        done = bytearray(N)
        while heap:
            d, u = pop(heap)
            if done[u]:
                continue
            done[u] = 1
            for p in range(ptr[u], ptr[u + 1]):
                nd = d + wl[p]
                v = head[p]
                if nd < dist[v]:
                    dist[v] = nd
                    par[v] = u
                    push(heap, (nd, v))
        parent[l] = par
        if l < L:
            tl = tau[l].tolist()
            seeds = [(dist[n] + tl[n], n) for n in compute if dist[n] < inf and tl[n] < inf]
            if not seeds:
                return None
    return dist


LAYERED_DIJKSTRA_METHODS = ("jit", "heap", "scipy")
_JIT_ERROR: str | None = None


def jit_unavailable_reason() -> str:
    """Why the compiled pass cannot run here ('' when it can)."""
    jit_available()
    return _JIT_ERROR or ""


def jit_available() -> bool:
    """Whether the numba-compiled pass (``formulations._layered_jit``) imports here."""
    global _JIT_ERROR
    if _JIT_ERROR is None:
        try:
            import formulations._layered_jit  # noqa: F401
        except Exception as exc:  # numba missing or broken: the heap and scipy passes remain
            _JIT_ERROR = f"{type(exc).__name__}: {exc}"
        else:
            _JIT_ERROR = ""
    return _JIT_ERROR == ""


_JIT_WARM = False


def warm_up_jit() -> float:
    """Import numba and compile (or load from numba's disk cache) the compiled pass once per
    process, on a two-node graph, so that no solve time includes it. Returns the seconds spent
    (0 when already done or when numba is unavailable)."""
    global _JIT_WARM
    if _JIT_WARM or not jit_available():
        return 0.0
    import time

    from formulations._layered_jit import all_copies

    t0 = time.perf_counter()
    i64 = np.int64
    all_copies(np.array([0, 1, 1], i64), np.array([1], i64), np.array([0], i64), np.array([1], i64),
               np.array([0], i64), np.ones(1), np.zeros(1), np.zeros((0, 0)), np.ones(2), np.ones((1, 2)),
               np.ones(2, dtype=np.bool_), 0, np.empty((2, 2), dtype=np.int32))
    _JIT_WARM = True
    return time.perf_counter() - t0


def _all_copies_jit(base: BaseGraph, net: Network, L: int, s: int, sizes: np.ndarray, extra: np.ndarray | None,
                    tau: np.ndarray, C: np.ndarray, parent: np.ndarray) -> np.ndarray | None:
    """Every copy with the compiled pass; labels of copy L, or None when some copy has no
    reached compute node (``parent`` filled as by the heap pass)."""
    from formulations._layered_jit import all_copies

    arrays = base.jit_arrays(net)
    is_compute = np.zeros(net.num_nodes, dtype=np.bool_)
    is_compute[C] = True
    link_extra = np.zeros((0, 0)) if extra is None else _writable_c(extra)
    ok, label = all_copies(*arrays, link_extra, _writable_c(sizes), _writable_c(tau), is_compute, int(s), parent)
    return label if ok else None


def _writable_c(x: np.ndarray) -> np.ndarray:
    """``x`` as a C-contiguous, writable float64 array: numba compiles a separate version for
    read-only arrays (an instance's arrays are read-only), which the warm-up would not cover."""
    x = np.asarray(x)
    if x.dtype == np.float64 and x.flags.c_contiguous and x.flags.writeable:
        return x
    return np.array(x, dtype=np.float64, order="C")


def layered_dijkstra(
    instance: Instance,
    job_index: int = 0,
    link_extra: np.ndarray | None = None,
    node_extra: np.ndarray | None = None,
    method: str = "auto",
) -> tuple[float, Route | None]:
    """Shortest (s, 0) -> (t, L) path without materialising the layered graph.

    For copy l = 0..L: one multi-source Dijkstra on G with arc weight o_l / b_a + delta_a
    (+ link_extra[l]), seeded with label 0 at s (l = 0) or label_{l-1}(n) + tau_{l,n}
    (+ node_extra[l-1, n]) at every compute node n. ``method``: "jit" (the same binary-heap
    pass compiled by numba, ``formulations._layered_jit``), "scipy" (a super-source vertex
    |N| carries the seeds as arc weights, ``scipy.sparse.csgraph.dijkstra``), "heap" (heapq,
    faster than scipy on small graphs where scipy's per-call overhead dominates) or "auto"
    (jit when numba imports, else heap when G has at most ``HEAP_MAX_PAIRS`` (i, j) pairs,
    else scipy). Keeps one parent per (copy, node) as int32.
    Returns ``(cost, route)``; ``(inf, None)`` when the sink copy is unreachable.
    """
    net = instance.network
    s, t, L, sizes, _ = job_data(instance, job_index)
    N = net.num_nodes
    base = base_graph(net)
    if method == "auto":
        method = "jit" if jit_available() else "heap" if base.num_pairs <= HEAP_MAX_PAIRS else "scipy"
    if method not in LAYERED_DIJKSTRA_METHODS:
        raise ValueError(f"method must be 'auto' or one of {LAYERED_DIJKSTRA_METHODS}, got {method!r}")
    if method == "jit" and not jit_available():
        raise ValueError(f"method 'jit' needs numba, which does not import here: {_JIT_ERROR}")
    extra = None if link_extra is None else _check_extra(link_extra, (L + 1, net.num_links), "link_extra")
    if extra is None and not base.has_parallel:  # pair-ordered link data: no gather per copy
        inv_b_p, delay_p = 1.0 / net.bandwidth[base.pair_link], net.delay[base.pair_link]
    inv_b, delay = 1.0 / net.bandwidth, net.delay

    def copy_weights(l: int) -> np.ndarray:  # per copy: never an (L+1, |A|) array
        w = sizes[l] * inv_b + delay
        return w if extra is None else w + extra[l]

    def pair_weights(l: int) -> np.ndarray:
        if extra is None and not base.has_parallel:
            return sizes[l] * inv_b_p + delay_p
        return base.pair_weights(copy_weights(l))

    tau = compute_costs(instance, job_index, node_extra)
    C = net.compute_nodes
    parent = np.empty((L + 1, N), dtype=np.int32)
    if method == "jit":
        label = _all_copies_jit(base, net, L, s, sizes, extra, tau, C, parent)
        if label is None:
            return float("inf"), None
    elif method == "heap":
        labels = _all_copies_heap(base, L, s, pair_weights, tau, C, parent)
        if labels is None:
            return float("inf"), None
        label = np.asarray(labels)
    else:
        seed_nodes = np.array([s], dtype=np.int32)
        seed_vals = np.zeros(1)
        work: dict = {"seed_set": np.union1d(C, [s]).astype(np.int32)}
        for l in range(L + 1):
            label, parent[l] = _copy_pass_scipy(base, pair_weights(l), seed_nodes, seed_vals, work)
            if l < L:
                vals = label[C] + tau[l, C]
                keep = np.isfinite(vals)
                seed_nodes = C[keep].astype(np.int32)
                seed_vals = vals[keep]
                if not len(seed_nodes):
                    return float("inf"), None
    cost = float(label[t])
    if not np.isfinite(cost):
        return float("inf"), None
    # walk back: parent == N means "entered this copy from the super-source"
    placement = [0] * L
    paths: list[list[int]] = [[] for _ in range(L + 1)]
    l, n = L, t
    while True:
        p = int(parent[l, n])
        if p == N:
            if l == 0:
                break
            placement[l - 1] = n
            l -= 1
            continue
        if p < 0:  # pragma: no cover - finite label always has a parent
            raise RuntimeError("broken predecessor chain in layered_dijkstra")
        if base.has_parallel:
            paths[l].append(base.best_link(p, n, copy_weights(l)))
        else:
            paths[l].append(int(base.pair_link[base.pair_index(p, n)]))
        n = p
    if n != s:  # pragma: no cover
        raise RuntimeError("layered_dijkstra walked back to a vertex other than the source")
    return cost, Route(tuple(placement), tuple(tuple(reversed(q)) for q in paths))


# ----------------------------------------------------------------------------- transfer tables


class TransferTables:
    """All-pairs shortest transfer times D^l for F1, one table per distinct tensor size.

    ``table(size, origins)`` returns ``(dist, pred)`` of shape (len(origins), |N|) for weight
    ``size / b_a + delta_a`` (cached by size and origins); ``path(size, i, k)`` the link indices.
    """

    def __init__(self, network: Network, origins: Sequence[int] | None = None):
        self.network = network
        self.base = base_graph(network)
        self.origins = np.arange(network.num_nodes) if origins is None else np.unique(np.asarray(origins))
        self._row = {int(o): r for r, o in enumerate(self.origins)}
        self._cache: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def link_weights(self, size: float) -> np.ndarray:
        return size / self.network.bandwidth + self.network.delay

    def table(self, size: float) -> tuple[np.ndarray, np.ndarray]:
        key = float(size)
        if key not in self._cache:
            g = self.base.csr(self.base.pair_weights(self.link_weights(key)))
            dist, pred = dijkstra(g, directed=True, indices=self.origins, return_predecessors=True)
            self._cache[key] = (dist, pred.astype(np.int32))
        return self._cache[key]

    def dist(self, size: float, origins: Sequence[int], targets: Sequence[int]) -> np.ndarray:
        """D[i, k] for i in ``origins``, k in ``targets`` (inf: unreachable)."""
        dist, _ = self.table(size)
        rows = [self._row[int(o)] for o in origins]
        return dist[np.ix_(rows, np.asarray(targets, dtype=np.int64))]

    def path(self, size: float, i: int, k: int) -> tuple[int, ...]:
        """Link indices of a shortest i -> k path for ``size`` bytes (empty when i == k)."""
        if i == k:
            return ()
        _, pred = self.table(size)
        row = pred[self._row[int(i)]]
        nodes = [k]
        v = k
        while v != i:
            v = int(row[v])
            if v < 0:
                raise NoRoute(f"node {k} is not reachable from node {i}")
            nodes.append(v)
        nodes.reverse()
        w = self.link_weights(size) if self.base.has_parallel else None
        out = []
        for a, b in zip(nodes[:-1], nodes[1:]):
            if w is not None:
                out.append(self.base.best_link(a, b, w))
            else:
                out.append(int(self.base.pair_link[self.base.pair_index(a, b)]))
        return tuple(out)


# ----------------------------------------------------------------------------- HiGHS on arrays


@dataclass
class SparseModel:
    """An LP/MIP in array form: min c x, row_lower <= A x <= row_upper, col bounds, integrality."""

    c: np.ndarray
    A: sp.csc_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray | None = None  # bool per column; None: an LP
    offset: float = 0.0

    @property
    def num_cols(self) -> int:
        return len(self.c)

    @property
    def num_rows(self) -> int:
        return len(self.row_lower)


@dataclass
class HighsOutcome:
    model_status: str
    objective: float | None  # primal objective of the incumbent (None: no feasible point)
    bound: float | None  # dual bound (MIP) or the LP objective when optimal
    x: np.ndarray | None
    iterations: int | None
    nodes: int | None
    solve_time: float
    info: dict


def highs_version() -> str:
    import highspy

    return highspy.Highs().version()


def apply_highs_options(h: Any, options: "SolverOptions", *, mip: bool) -> None:
    """Map SolverOptions onto a highspy.Highs object; unknown raw names raise UnsupportedOption.

    MILPs: ``mip_rel_gap`` = ``mip_gap`` or EXACT_REL_GAP, ``mip_abs_gap`` = 0 (before ``raw``)."""
    from dnnsplit.options import UnsupportedOption

    def put(name: str, value: object) -> None:
        import highspy

        if h.setOptionValue(name, value) != highspy.HighsStatus.kOk:
            raise UnsupportedOption(f"HiGHS refused option {name}={value!r}")

    put("output_flag", False)
    put("threads", int(options.threads))
    put("random_seed", int(options.seed))
    if options.time_limit is not None:
        put("time_limit", float(options.time_limit))
    if mip:  # exact unless a gap is asked for; raw may still override both
        put("mip_rel_gap", options.mip_rel_gap)
        put("mip_abs_gap", 0.0)
    if options.lp_algorithm is not None:
        put("solver", options.lp_algorithm)
        if options.lp_algorithm == "ipm":
            put("run_crossover", "on")  # a vertex solution, so integrality can be read off
    for name, value in options.raw.items():
        put(str(name), value)


def run_highs(model: SparseModel, options: "SolverOptions", *, relax: bool = False) -> HighsOutcome:
    """Solve ``model`` with a fresh HiGHS object (its clock never carries over between runs)."""
    import time

    import highspy

    h = highspy.Highs()
    mip = model.integer is not None and not relax
    apply_highs_options(h, options, mip=mip)
    lp = highspy.HighsLp()
    lp.num_col_ = model.num_cols
    lp.num_row_ = model.num_rows
    lp.col_cost_ = np.asarray(model.c, dtype=np.float64)
    lp.col_lower_ = np.asarray(model.col_lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(model.col_upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(model.row_lower, dtype=np.float64)
    lp.row_upper_ = np.asarray(model.row_upper, dtype=np.float64)
    lp.offset_ = float(model.offset)
    A = sp.csc_array(model.A)
    A.eliminate_zeros()
    A.sort_indices()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(np.float64)
    lp.a_matrix_.num_col_ = model.num_cols
    lp.a_matrix_.num_row_ = model.num_rows
    if mip:
        lp.integrality_ = [highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous for b in model.integer]
    if h.passModel(lp) == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS refused the model (passModel error)")
    start = time.perf_counter()
    h.run()
    elapsed = time.perf_counter() - start
    status = h.getModelStatus()
    info = h.getInfo()
    has_point = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value) if has_point else None
    objective = float(info.objective_function_value) if has_point else None
    if mip:
        bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else None
        nodes = int(info.mip_node_count)
    else:
        bound = objective if status == highspy.HighsModelStatus.kOptimal else None
        nodes = None
    iterations = int(info.simplex_iteration_count) + max(int(info.ipm_iteration_count), 0) + max(
        int(info.pdlp_iteration_count), 0
    )
    details = {
        "simplex_iterations": int(info.simplex_iteration_count),
        "ipm_iterations": int(info.ipm_iteration_count),
        "pdlp_iterations": int(info.pdlp_iteration_count),
        "crossover_iterations": int(info.crossover_iteration_count),
    }
    name = h.modelStatusToString(status)
    return HighsOutcome(name, objective, bound, x, iterations, nodes, elapsed, details)


def highs_status(model_status: str) -> "Status":
    """HiGHS model status text -> dnnsplit Status (a solution/iteration limit: FEASIBLE, which
    callers turn into ERROR when no point came back)."""
    from dnnsplit.results import Status

    text = model_status.lower()
    if text == "optimal":
        return Status.OPTIMAL
    if "infeasible" in text:  # "Infeasible", "Primal infeasible or unbounded" (costs >= 0: infeasible)
        return Status.INFEASIBLE
    if "time limit" in text:
        return Status.TIME_LIMIT
    if "limit" in text or "interrupt" in text or "objective" in text:
        return Status.FEASIBLE
    return Status.ERROR
