"""The one shortest-path engine: layered label-setting passes, transfer tables, one walk.

Every shortest path the suite computes goes through this module (networkx's
``shortest_paths/weighted.py`` is the model: one engine, a weight where an infinite cost prunes
an arc, one predecessor walk reused by every caller):

- :func:`layered_shortest_path` / :func:`layered_labels`: the specialised pass on the layered
  graph of one job (DESIGN.md section 3, F2) that never materialises it: for copies l = 0..L
  one multi-source Dijkstra on G seeded with the labels of copy l-1 plus the compute cost.
  Costs are given by :class:`LayeredCosts`: a communication arc of copy l on link a costs
  ``sizes[l] / b_a + delta_a + link_extra[l, a]`` (or ``link_extra[l, a]`` alone), a
  computation arc of layer l on node n costs ``node_cost[l-1, n]``; an infinite cost prunes
  the arc (capacity pruning in the heuristics, unusable arcs in pricing). Used by F2's
  ``layered-dijkstra``, column-generation pricing, the greedy heuristic, FIN and the price
  repairs. Memory O(|A| + L|N|): one int32 parent per (copy, node), never O(L|A|).
- :class:`TransferTables`: shortest transfer times D_o(i, k) of o bytes from every origin (one
  table per tensor size, cached) with path recovery: F1's D^l, the single-job splits, DINA's
  transfers and F3's exit deliveries.
- :func:`walk`: the one predecessor walk from a parent array to a :class:`Route` (placement and
  link paths; for parallel links the cheapest link of the pair under the copy's cost).
- :func:`reverse_labels`: distances *to* the sink copy (lower bounds for label-setting search).

The pass itself is ``dnnsplit.graph._jit`` (one Dijkstra core shared by the layered and the
many-sources drivers), compiled by numba once per process; where numba does not import, the
same functions run in the interpreter (same answers, slower) and :func:`jit_unavailable_reason`
says why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dnnsplit.graph import _jit
from dnnsplit.graph.base import BaseGraph, base_graph
from dnnsplit.options import Clock
from instances.evaluate import Route
from instances.model import Instance, Network

METHODS = ("jit", "python")  # the compiled pass, or the same code interpreted
CHUNK_ARCS = 200_000  # a timed pass checks its clock after about this many arcs
_NONE_2D = np.zeros((0, 0))
_NONE_1D = np.zeros(0)


class NoRoute(Exception):
    """A path was asked for between vertices that are not connected."""


class OutOfTime(Exception):
    """A timed pass ran out of its clock before the sink copy was settled."""


# ----------------------------------------------------------------------------- compiled or not


def jit_available() -> bool:
    """Whether numba compiled the pass here (``_jit.NUMBA_ERROR`` says why not)."""
    return _jit.NUMBA_ERROR == ""


def jit_unavailable_reason() -> str:
    return _jit.NUMBA_ERROR


_WARM = False


def warm_up_jit() -> float:
    """Compile (or load from numba's disk cache) the pass once per process, on a two-node
    graph, so that no solve time includes it. Returns the seconds spent (0 when done before or
    without numba)."""
    global _WARM
    if _WARM or not jit_available():
        return 0.0
    t0 = time.perf_counter()
    _jit.warm_up()
    _WARM = True
    return time.perf_counter() - t0


def _kernel(name: str, method: str):
    fn = getattr(_jit, name)
    if method == "jit":
        if not jit_available():
            raise ValueError(f"method 'jit' needs numba, which does not import here: {_jit.NUMBA_ERROR}")
        return fn
    if method == "python":
        return getattr(fn, "py_func", fn)
    raise ValueError(f"method must be 'auto' or one of {METHODS}, got {method!r}")


def _method(method: str) -> str:
    if method == "auto":
        return "jit" if jit_available() else "python"
    return method


def _c(x: np.ndarray) -> np.ndarray:
    """``x`` as a C-contiguous writable float64 array (numba compiles one version for those)."""
    x = np.asarray(x)
    if x.dtype == np.float64 and x.flags.c_contiguous and x.flags.writeable:
        return x
    return np.array(x, dtype=np.float64, order="C")


# ----------------------------------------------------------------------------- costs


@dataclass(frozen=True)
class LayeredCosts:
    """Arc costs of one layered graph (module docstring); never an O(L|A|) array unless given.

    ``sizes`` (L+1,): tensor bytes per copy; ``node_cost`` (L, |N|): computation arcs (inf:
    none); ``link_extra`` (L+1, |A|) or None: added to every communication arc (inf prunes);
    ``with_delay``: whether delta_a is part of the link cost (False with explicit costs).
    """

    sizes: np.ndarray
    node_cost: np.ndarray
    link_extra: np.ndarray | None = None
    with_delay: bool = True

    @property
    def num_layers(self) -> int:
        return self.node_cost.shape[0]

    @classmethod
    def explicit(cls, link_cost: np.ndarray, node_cost: np.ndarray) -> "LayeredCosts":
        """Costs given per (copy, link) and per (layer, node) outright (inf prunes)."""
        L = node_cost.shape[0]
        return cls(np.zeros(L + 1), node_cost, link_cost, with_delay=False)

    def link_costs(self, network: Network, copy: int) -> np.ndarray:
        """Cost of every link in ``copy`` (shape (|A|,))."""
        w = self.sizes[copy] / network.bandwidth
        if self.with_delay:
            w = w + network.delay
        if self.link_extra is not None:
            w = w + self.link_extra[copy]
        return w


def latency_costs(instance: Instance, job_index: int, link_extra: np.ndarray | None = None,
                  node_extra: np.ndarray | None = None) -> LayeredCosts:
    """Latency costs of job ``job_index`` (no exit active): o_l / b_a + delta_a and tau_{l,n},
    plus optional non-negative extras (e.g. dual prices)."""
    job = instance.jobs[job_index]
    model = instance.model_of(job)
    L, net = model.num_layers, instance.network
    tau = instance.compute_time(model)
    if node_extra is not None:
        tau = tau + check_extra(node_extra, (L, net.num_nodes), "node_extra")
    extra = None if link_extra is None else check_extra(link_extra, (L + 1, net.num_links), "link_extra")
    return LayeredCosts(model.tensor_sizes, tau, extra)


def check_extra(extra: np.ndarray, shape: tuple[int, int], name: str) -> np.ndarray:
    e = np.asarray(extra, dtype=np.float64)
    try:
        e = np.broadcast_to(e, shape)
    except ValueError:
        raise ValueError(f"{name} has shape {e.shape}; expected {shape} or broadcastable to it") from None
    if np.any(e < 0) or not np.all(np.isfinite(e)):
        raise ValueError(f"{name} must be finite and >= 0 (Dijkstra needs non-negative arc costs)")
    return e


# ----------------------------------------------------------------------------- layered passes


def _pass(base: BaseGraph, costs: LayeredCosts, labels: np.ndarray, parent: np.ndarray, method: str,
          clock: Clock | None) -> bool:
    """Every copy of the layered graph (in chunks when timed); labels end as copy L's."""
    L = costs.num_layers
    fn = _kernel("layered_pass", method)
    arrays = base.kernel_arrays(costs.with_delay)
    extra = _NONE_2D if costs.link_extra is None else _c(costs.link_extra)
    sizes, node_cost = _c(costs.sizes), _c(costs.node_cost)
    if clock is None or clock.limit is None:
        return bool(fn(*arrays, extra, sizes, node_cost, labels, 0, L + 1, parent))
    step = max(1, CHUNK_ARCS // max(1, base.num_pairs + base.num_nodes))
    for first in range(0, L + 1, step):
        if clock.expired():
            raise OutOfTime(f"time limit reached after {first} of {L + 1} copies")
        if not fn(*arrays, extra, sizes, node_cost, labels, first, min(first + step, L + 1), parent):
            return False
    return True


def layered_labels(network: Network, sources: dict[int, float] | int, costs: LayeredCosts, *,
                   method: str = "auto", clock: Clock | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Labels of copy L for every node (the cost to reach (n, L)) and the parents of every copy,
    from seeds in copy 0 (a node, or {node: initial label}); None when a copy has no seed."""
    base = base_graph(network)
    N, L = network.num_nodes, costs.num_layers
    labels = np.full(N, np.inf)
    for n, v in ({int(sources): 0.0} if isinstance(sources, (int, np.integer)) else sources).items():
        labels[int(n)] = min(labels[int(n)], float(v))
    parent = np.empty((L + 1, N), dtype=np.int32)
    if not _pass(base, costs, labels, parent, _method(method), clock):
        return None
    return labels, parent


def layered_shortest_path(network: Network, source: int, sink: int, costs: LayeredCosts, *,
                          method: str = "auto", clock: Clock | None = None) -> tuple[float, Route | None]:
    """Shortest (source, 0) -> (sink, L) path: ``(cost, Route)``, or ``(inf, None)`` when the sink
    copy is unreachable. Raises :class:`OutOfTime` when ``clock`` runs out first.

    One compiled call (pass and walk) when the pass needs no clock check on the way; else the
    pass in chunks, then the walk."""
    base = base_graph(network)
    L = costs.num_layers
    fused = _kernel("shortest_path", _method(method))
    if clock is not None and clock.limit is not None and (L + 1) * (base.num_pairs + base.num_nodes) > CHUNK_ARCS:
        got = layered_labels(network, source, costs, method=method, clock=clock)
        if got is None or not np.isfinite(got[0][sink]):
            return float("inf"), None
        return float(got[0][sink]), walk(network, got[1], costs, source, sink)
    N = network.num_nodes
    labels = np.full(N, np.inf)
    labels[int(source)] = 0.0
    parent = np.empty((L + 1, N), dtype=np.int32)
    placement = np.empty(L, dtype=np.int64)
    links = np.empty(parent.size + 1, dtype=np.int64)
    copies = np.empty(parent.size + 1, dtype=np.int64)
    extra = _NONE_2D if costs.link_extra is None else _c(costs.link_extra)
    k = fused(*base.kernel_arrays(costs.with_delay), extra, _c(costs.sizes), _c(costs.node_cost), labels, parent,
              int(source), int(sink), placement, links, copies)
    if k == -3:
        return float("inf"), None
    return float(labels[sink]), _route(network, k, placement, links, copies, source, sink, L)


def layered_dijkstra(instance: Instance, job_index: int = 0, link_extra: np.ndarray | None = None,
                     node_extra: np.ndarray | None = None, method: str = "auto",
                     clock: Clock | None = None) -> tuple[float, Route | None]:
    """Shortest latency path of job ``job_index`` (F2) with optional non-negative extra costs
    per (copy, link) and per (layer, node): ``(cost, Route)`` or ``(inf, None)``."""
    job = instance.jobs[job_index]
    costs = latency_costs(instance, job_index, link_extra, node_extra)
    return layered_shortest_path(instance.network, job.source, job.sink, costs, method=method, clock=clock)


def latency_unit(instance: Instance, job_index: int = 0) -> float:
    """A power of two near job ``job_index``'s optimal latency (the engine's shortest path; 1.0
    when the sink is out of reach or the latency is 0): the unit in which the single-job LP/MILP
    models state their objective, so that solver tolerances act relative to the data (an
    objective of microseconds would otherwise sit inside HiGHS's absolute tolerances)."""
    value, _ = layered_dijkstra(instance, job_index)
    if not np.isfinite(value) or value <= 0:
        return 1.0
    return float(2.0 ** np.round(np.log2(value)))


def walk(network: Network, parent: np.ndarray, costs: LayeredCosts, source: int, sink: int) -> Route:
    """The one predecessor walk: from (sink, L) back to (source, 0) through ``parent`` (shape
    (L+1, |N|): the previous node in the same copy, |N| for "entered from the copy below").

    Within copy l a step i -> k takes the cheapest link of the pair under copy l's cost (the
    compiled ``_jit.walk_back``; interpreted where numba does not import)."""
    base = base_graph(network)
    L = parent.shape[0] - 1
    fn = _kernel("walk_back", "jit" if jit_available() else "python")
    extra = _NONE_2D if costs.link_extra is None else _c(costs.link_extra)
    placement = np.empty(L, dtype=np.int64)
    cap = parent.size + 1
    links = np.empty(cap, dtype=np.int64)
    copies = np.empty(cap, dtype=np.int64)
    k = fn(*base.kernel_arrays(costs.with_delay), extra, _c(costs.sizes), parent, int(source), int(sink),
           placement, links, copies)
    return _route(network, k, placement, links, copies, source, sink, L)


def _route(network: Network, k: int, placement: np.ndarray, links: np.ndarray, copies: np.ndarray, source: int,
           sink: int, L: int) -> Route:
    """The Route of a compiled walk (``k`` links written last first), or the reason it has none."""
    if k == -1:
        raise NoRoute(f"vertex ({network.node_names[int(sink)]!r}, copy {L}) is not reached from the source")
    if k < 0:
        raise NoRoute(f"the walk from ({network.node_names[int(sink)]!r}, copy {L}) does not end at the source "
                      f"{network.node_names[int(source)]!r}")
    links, copies = links[:k][::-1], copies[:k][::-1]
    cuts = np.searchsorted(copies, np.arange(L + 2))
    flat = links.tolist()
    paths = tuple(tuple(flat[cuts[l] : cuts[l + 1]]) for l in range(L + 1))
    return Route(tuple(placement.tolist()), paths)


def parents_from_layered_predecessors(pred: np.ndarray, num_nodes: int, num_layers: int, source: int) -> np.ndarray:
    """scipy-style predecessors on the materialised layered graph (vertex l|N| + n, -9999: none)
    from the source vertex (source, 0) -> the engine's parent array, so :func:`walk` serves both."""
    N = num_nodes
    pred = np.asarray(pred, dtype=np.int64).reshape(num_layers + 1, N)
    vertex = np.arange((num_layers + 1) * N).reshape(num_layers + 1, N)
    parent = np.where(pred < 0, _jit.UNREACHED, pred % N)
    parent[(pred >= 0) & (pred == vertex - N)] = N  # came up from the copy below
    parent[0, source] = N
    return parent.astype(np.int32)


def reverse_labels(network: Network, sink: int, costs: LayeredCosts, *, method: str = "auto") -> np.ndarray:
    """Cost from every vertex (n, l) to (sink, L), shape (L+1, |N|) (inf: the sink copy is out
    of reach): the same pass on the reversed network, copies taken from L down to 0."""
    base = base_graph(network).reversed()
    N, L = network.num_nodes, costs.num_layers
    rev_sizes = _c(costs.sizes[::-1])
    rev_node = _c(costs.node_cost[::-1])
    rev_extra = _NONE_2D if costs.link_extra is None else _c(costs.link_extra[::-1])
    fn = _kernel("layered_pass", _method(method))
    arrays = base.kernel_arrays(costs.with_delay)
    labels = np.full(N, np.inf)
    labels[sink] = 0.0
    out = np.full((L + 1, N), np.inf)
    parent = np.empty((L + 1, N), dtype=np.int32)
    for k in range(L + 1):  # reversed copy k is copy L - k
        if not fn(*arrays, rev_extra, rev_sizes, rev_node, labels, k, k + 1, parent):
            break
        out[L - k] = labels
    return out


# ----------------------------------------------------------------------------- transfer tables


class TransferTables:
    """All-pairs shortest transfer times D_o(i, k) from ``origins``, one table per tensor size.

    ``table(size)`` returns ``(dist, parent)`` of shape (len(origins), |N|) for link weight
    ``size / b_a + delta_a`` (cached by size); ``dist(size, origins, targets)`` a submatrix;
    ``path(size, i, k)`` the link indices of a shortest i -> k path.
    """

    def __init__(self, network: Network, origins: Sequence[int] | None = None, *, method: str = "auto"):
        self.network = network
        self.base = base_graph(network)
        self.origins = np.arange(network.num_nodes) if origins is None else np.unique(np.asarray(origins, dtype=np.int64))
        self._row = {int(o): r for r, o in enumerate(self.origins)}
        self._cache: dict[float, tuple[np.ndarray, np.ndarray]] = {}
        self._method = _method(method)

    def link_weights(self, size: float) -> np.ndarray:
        return size / self.network.bandwidth + self.network.delay

    def table(self, size: float) -> tuple[np.ndarray, np.ndarray]:
        key = float(size)
        if key not in self._cache:
            K, N = len(self.origins), self.network.num_nodes
            dist = np.empty((K, N))
            parent = np.empty((K, N), dtype=np.int32)
            _kernel("many_sources", self._method)(*self.base.kernel_arrays(), _NONE_1D, key,
                                                  self.origins.astype(np.int64), dist, parent)
            self._cache[key] = (dist, parent)
        return self._cache[key]

    def row(self, origin: int) -> int:
        try:
            return self._row[int(origin)]
        except KeyError:
            raise ValueError(f"node {origin} is not an origin of these transfer tables") from None

    def dist(self, size: float, origins: Sequence[int], targets: Sequence[int]) -> np.ndarray:
        """D[i, k] for i in ``origins``, k in ``targets`` (inf: unreachable)."""
        dist, _ = self.table(size)
        rows = [self.row(o) for o in origins]
        return dist[np.ix_(rows, np.asarray(targets, dtype=np.int64))]

    def path(self, size: float, i: int, k: int) -> tuple[int, ...]:
        """Link indices of a shortest i -> k path for ``size`` bytes (empty when i == k)."""
        if i == k:
            return ()
        _, parent = self.table(size)
        row = parent[self.row(i)]
        if row[k] < 0:
            raise NoRoute(f"node {k} is not reachable from node {i}")
        costs = LayeredCosts(np.array([float(size)]), np.zeros((0, self.network.num_nodes)))
        return walk(self.network, row[None, :], costs, int(i), int(k)).paths[0]


# ----------------------------------------------------------------------------- columns: price and extract


@dataclass(frozen=True)
class ArcLayout:
    """The arc numbering of one layered graph priced by a per-arc cost vector (F3's templates):
    communication arc ``l*|A| + a`` for copies l = 0..L, then computation arc
    ``(L+1)|A| + (l-1)|C| + k`` for layer l on ``compute_nodes[k]``; ``compute_pos[n]`` = k
    (-1: not a compute node). Per arc: ``latency`` (finite, the resource of constrained
    pricing), ``objective`` (summed into each column) and the loads, a CSC matrix
    resources x arcs as (``load_indptr``, ``load_rows``, ``load_data``) over ``num_resources`` rows
    (entries of one arc sorted by row, no duplicates)."""

    network: Network
    num_layers: int
    compute_nodes: np.ndarray
    compute_pos: np.ndarray
    latency: np.ndarray
    objective: np.ndarray
    load_indptr: np.ndarray
    load_rows: np.ndarray
    load_data: np.ndarray
    num_resources: int

    @property
    def num_arcs(self) -> int:
        return (self.num_layers + 1) * self.network.num_links + self.num_layers * len(self.compute_nodes)


@dataclass(frozen=True)
class Columns:
    """Paths found by :func:`price_columns` / :func:`constrained_columns`: column k belongs to job
    slot ``slot[k]``, its arcs are ``arcs[arc_ptr[k]:arc_ptr[k+1]]`` (canonical order: links in
    path order, then computation arcs by layer), its loads ``vals`` (times the job's scale) on
    resources ``res`` (ascending) over ``res_ptr``, ``latency`` and ``objective`` the sums of the
    layout's per-arc coefficients (numpy's summation order, so equal to ``x[arcs].sum()``)."""

    slot: np.ndarray
    arc_ptr: np.ndarray
    arcs: np.ndarray
    res_ptr: np.ndarray
    res: np.ndarray
    vals: np.ndarray
    latency: np.ndarray
    objective: np.ndarray

    def __len__(self) -> int:
        return len(self.slot)


def _i64(x) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x, dtype=np.int64))


def _forbidden(forbid: Sequence[np.ndarray | None], count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-entry forbidden arcs as a CSR pair (pointer, arcs)."""
    sizes = [0 if f is None else len(f) for f in forbid]
    ptr = np.zeros(count + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(sizes) if count else ptr[1:]
    arcs = np.concatenate([np.asarray(f, np.int64) for f in forbid if f is not None and len(f)]) if any(sizes) \
        else np.zeros(0, np.int64)
    return ptr, _i64(arcs)


def _columns(out: tuple) -> Columns:
    _, slot, arc_ptr, arcs, res_ptr, res, vals, lat, obj = out
    return Columns(slot, arc_ptr, arcs, res_ptr, res, vals, lat, obj)


def price_columns(layout: ArcLayout, base: np.ndarray, *, sources: Sequence[int], alpha: Sequence[float],
                  beta: Sequence[float], forbid: Sequence[np.ndarray | None], pass_jobs: Sequence[int],
                  sink: Sequence[int], mult: Sequence[float], acc: Sequence[float], sigma: Sequence[float],
                  scale: Sequence[float], thr: float, method: str = "auto") -> tuple[np.ndarray, Columns]:
    """Layered shortest paths and their columns for many jobs in one compiled call.

    Pass p: the engine's layered pass from ``sources[p]`` on arc costs ``alpha[p] * base +
    beta[p] * latency`` (``base`` per arc, inf prunes; arcs ``forbid[p]`` pruned too). Job slots
    ``pass_jobs[p]:pass_jobs[p+1]`` read ``value = mult * label(sink, L) - acc`` from that pass;
    a slot whose ``value - sigma < -thr`` gets its path (the one walk) as a column with loads
    times ``scale``. Returns (value per slot, Columns in slot order)."""
    net = layout.network
    base_g = base_graph(net)
    fn = _kernel("price_paths", _method(method))
    P, Q = len(sources), len(sink)
    fptr, farc = _forbidden(forbid, P)
    value = np.empty(Q)
    out = fn(*base_g.kernel_arrays(False), _c(base), _c(layout.latency), net.num_links, layout.compute_nodes,
             layout.compute_pos, _i64(sources), _c(np.asarray(alpha, float)), _c(np.asarray(beta, float)), fptr, farc,
             _i64(pass_jobs), _i64(sink), _c(np.asarray(mult, float)), _c(np.asarray(acc, float)),
             _c(np.asarray(sigma, float)), _c(np.asarray(scale, float)), float(thr), layout.load_indptr,
             layout.load_rows, layout.load_data, _c(layout.latency), _c(layout.objective), layout.num_resources, value)
    return value, _columns(out)


MAX_LABELS = 20_000_000  # a constrained search that needs more labels is reported, never cut short silently


def constrained_columns(layout: ArcLayout, base: np.ndarray, *, source: Sequence[int], sink: Sequence[int],
                        alpha: Sequence[float], beta: Sequence[float], forbid: Sequence[np.ndarray | None],
                        limit: Sequence[float], acc: Sequence[float], sigma: Sequence[float],
                        scale: Sequence[float], thr: float, max_labels: int = MAX_LABELS,
                        method: str = "auto") -> tuple[np.ndarray, np.ndarray, Columns]:
    """Resource-constrained shortest paths (latency <= ``limit``) and their columns, exactly, by
    labels with dominance (``_jit.constrained_paths``; its bounds come from reverse layered
    passes of the one Dijkstra core). Slot q: costs ``alpha[q] * base + beta[q] * latency``
    (arcs ``forbid[q]`` pruned); ``value[q]`` = cheapest path cost within the limit minus
    ``acc[q]`` (inf: none; a lower bound of it when the search stopped at a reduced cost >= 0);
    a column when ``value - sigma < -thr``. Returns (value, labels created per slot, Columns).
    Raises RuntimeError when a search needs more than ``max_labels`` labels."""
    net = layout.network
    fwd, rev = base_graph(net), base_graph(net).reversed()
    fn = _kernel("constrained_paths", _method(method))
    Q = len(sink)
    fptr, farc = _forbidden(forbid, Q)
    out_ptr, out_link, head = _out_links(net)
    value = np.empty(Q)
    used = np.empty(Q, dtype=np.int64)
    r = rev.kernel_arrays(False)
    out = fn(*fwd.kernel_arrays(False), *r[:6], out_ptr, out_link, head, _c(base), _c(layout.latency),
             net.num_links, layout.compute_nodes, layout.compute_pos, _i64(source), _i64(sink),
             _c(np.asarray(alpha, float)), _c(np.asarray(beta, float)), fptr, farc, _c(np.asarray(limit, float)),
             _c(np.asarray(acc, float)), _c(np.asarray(sigma, float)), _c(np.asarray(scale, float)), float(thr),
             int(max_labels), layout.load_indptr, layout.load_rows, layout.load_data, _c(layout.latency),
             _c(layout.objective), layout.num_resources, value, used)
    if np.any(used < 0):
        q = int(np.flatnonzero(used < 0)[0])
        raise RuntimeError(f"constrained pricing: slot {q} needs more than {max_labels} labels")
    return value, used, _columns(out)


def _out_links(network: Network) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Links grouped by tail (CSR: pointer, link ids in input order) and each link's head."""
    tail = np.asarray(network.link_source, dtype=np.int64)
    order = np.argsort(tail, kind="stable").astype(np.int64)
    ptr = np.zeros(network.num_nodes + 1, dtype=np.int64)
    np.add.at(ptr, tail + 1, 1)
    return np.cumsum(ptr), order, _i64(network.link_target)


def fixed_arcs(layout: ArcLayout, base: np.ndarray, *, sources: Sequence[int], alpha: Sequence[float],
               beta: Sequence[float], forbid: Sequence[np.ndarray | None], pass_jobs: Sequence[int],
               sink: Sequence[int], mult: Sequence[float], acc: Sequence[float], limit: Sequence[float],
               method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Reduced-cost arc fixing: for each job slot (passes as :func:`price_columns`), the arcs
    whose cheapest path through them has ``mult * cost - acc >= limit`` (forward labels of the
    layered pass, copy by copy, plus the arc, plus the reverse pass's labels to the sink: the
    one Dijkstra core both ways). Returns (slot, arc) arrays."""
    net = layout.network
    fwd, rev = base_graph(net), base_graph(net).reversed()
    fn = _kernel("fix_arcs", _method(method))
    fptr, farc = _forbidden(forbid, len(sources))
    return fn(*fwd.kernel_arrays(False), *rev.kernel_arrays(False)[:6], _i64(net.link_source), _i64(net.link_target),
              _c(base), _c(layout.latency), net.num_links, layout.compute_nodes, _i64(sources),
              _c(np.asarray(alpha, float)), _c(np.asarray(beta, float)), fptr, farc, _i64(pass_jobs), _i64(sink),
              _c(np.asarray(mult, float)), _c(np.asarray(acc, float)), _c(np.asarray(limit, float)))


def enumerate_columns(layout: ArcLayout, base: np.ndarray, *, sources: Sequence[int], alpha: Sequence[float],
                      beta: Sequence[float], forbid: Sequence[np.ndarray | None], pass_jobs: Sequence[int],
                      sink: Sequence[int], mult: Sequence[float], acc: Sequence[float], limit: Sequence[float],
                      latency_limit: Sequence[float], scale: Sequence[float], max_per_job: int, max_total: int,
                      method: str = "auto") -> tuple[np.ndarray, Columns]:
    """Every simple path of each job slot with value ``mult * cost - acc < limit`` and latency
    at most ``latency_limit`` (passes as :func:`price_columns`), as columns: a depth-first search
    pruned by the reverse passes' bounds (``_jit.enumerate_paths``). Returns (paths per slot,
    -1 where a cap was passed and -2 where the search stopped before the slot; Columns)."""
    net = layout.network
    fwd, rev = base_graph(net), base_graph(net).reversed()
    fn = _kernel("enumerate_paths", _method(method))
    fptr, farc = _forbidden(forbid, len(sources))
    out_ptr, out_link, head = _out_links(net)
    counts = np.empty(len(sink), dtype=np.int64)
    out = fn(*fwd.kernel_arrays(False), *rev.kernel_arrays(False)[:6], out_ptr, out_link, head, _c(base),
             _c(layout.latency), net.num_links, layout.compute_nodes, layout.compute_pos, _i64(sources),
             _c(np.asarray(alpha, float)), _c(np.asarray(beta, float)), fptr, farc, _i64(pass_jobs), _i64(sink),
             _c(np.asarray(mult, float)), _c(np.asarray(acc, float)), _c(np.asarray(limit, float)),
             _c(np.asarray(latency_limit, float)), _c(np.asarray(scale, float)), int(max_per_job), int(max_total),
             layout.load_indptr, layout.load_rows, layout.load_data, _c(layout.latency), _c(layout.objective),
             layout.num_resources, counts)
    return counts, _columns(out)
