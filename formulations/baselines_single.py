"""Single-job baselines from the literature (DESIGN.md section 4): local only, best remote, two-way split.

All three solve ``instance.jobs[0]`` alone, uncapacitated, objective "latency" (like F2, no
early exit is active: every rho is 1), and return a heuristic result (status FEASIBLE, no
bound). Notation as in DESIGN.md: s = source, t = sink, C = compute nodes, tau_{l,n} compute
time, D_o(i, k) = shortest transfer time of o bytes from i to k (link weight o / b_a + delta_a;
with delta > 0 the best path depends on o, so one table per tensor size,
:class:`formulations._layered.TransferTables`).

Local only (all layers on the source device):

    (B1) latency = sum_{l=1..L} tau_{l,s} + D_{o_L}(s, t)

    When s cannot compute (a router) the baseline is undefined: it returns status INFEASIBLE
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

Records: ``extra["split_layer"]`` (k: layers 1..k stay on the source; L for local only, 0 for
best remote), ``extra["remote_node"]`` (name, None for local only). Gaps to the exact optimum
are not stored here: tables join each heuristic record with the exact record of the same
instance hash; :func:`gap_to` is the definition they use.

This module also holds the small routing helpers shared by ``baselines_multi`` and
``baselines_fin`` (:func:`dijkstra_links`, :func:`layered_path`).
"""

from __future__ import annotations

import heapq
import time
from typing import Sequence

import numpy as np

from dnnsplit.options import SolverOptions
from dnnsplit.registry import SolverSpec, register
from dnnsplit.results import SolveResult, Status
from formulations._layered import TransferTables, job_data
from instances.evaluate import Route
from instances.model import Instance, Network

BACKEND = "heuristic"

# The exact formulation each baseline is measured against (tables join on the instance hash):
# F2 (any backend) for the single-job latency baselines, the unsplittable F3 for the multi-job
# ones, F3 with exit selection (or ``baselines_fin.exact_energy_deadline``) for FIN.
REFERENCE_FORMULATION = {
    "local-only": "F2",
    "best-remote": "F2",
    "two-way-split": "F2",
    "greedy": "F3-latency-milp",
    "dina": "F3-latency-milp",
    "fin": "F3-exit-select-milp",
}


def gap_to(objective: float, reference: float) -> float:
    """Relative excess of a heuristic objective over a reference optimum: (H - OPT) / max(|OPT|, 1e-9).

    Signed: a negative value means the "reference" was not a lower bound (a bug somewhere).
    """
    return (objective - reference) / max(abs(reference), 1e-9)


# ----------------------------------------------------------------------------- routing helpers


def _out_links(network: Network) -> list[list[int]]:
    cached = network.__dict__.get("_baseline_out")
    if cached is None:
        cached = [[] for _ in range(network.num_nodes)]
        for a, i in enumerate(network.link_source.tolist()):
            cached[i].append(a)
        object.__setattr__(network, "_baseline_out", cached)
    return cached


def _in_links(network: Network) -> list[list[int]]:
    cached = network.__dict__.get("_baseline_in")
    if cached is None:
        cached = [[] for _ in range(network.num_nodes)]
        for a, j in enumerate(network.link_target.tolist()):
            cached[j].append(a)
        object.__setattr__(network, "_baseline_in", cached)
    return cached


def dijkstra_links(
    network: Network,
    seeds: dict[int, float] | int,
    weight: np.ndarray,
    *,
    reverse: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-source Dijkstra on G with per-link ``weight`` (inf: link unusable).

    ``seeds`` maps start nodes to initial labels (an int means {node: 0}). Returns ``(dist,
    via)`` with ``via[n]`` the link through which n was reached (-1 for seeds/unreached).
    With ``reverse=True`` distances are *to* the seeds (links followed backwards) and
    ``via[n]`` is the first link of n's path towards them.
    """
    if isinstance(seeds, (int, np.integer)):
        seeds = {int(seeds): 0.0}
    N = network.num_nodes
    dist = np.full(N, np.inf)
    via = np.full(N, -1, dtype=np.int64)
    adj = _in_links(network) if reverse else _out_links(network)
    far = network.link_source if reverse else network.link_target
    heap = []
    for n, v in seeds.items():
        if v < dist[n]:
            dist[n] = v
            heap.append((v, n))
    heapq.heapify(heap)
    done = np.zeros(N, dtype=bool)
    w = weight.tolist()
    far_l = far.tolist()
    while heap:
        d, n = heapq.heappop(heap)
        if done[n]:
            continue
        done[n] = True
        for a in adj[n]:
            c = w[a]
            if c == np.inf:
                continue
            m = far_l[a]
            nd = d + c
            if nd < dist[m]:
                dist[m] = nd
                via[m] = a
                heapq.heappush(heap, (nd, m))
    return dist, via


def walk_forward(network: Network, via: np.ndarray, start: int, end: int) -> tuple[int, ...]:
    """Links of the path start -> end from forward ``via`` (reached-through links)."""
    links = []
    n = end
    while n != start:
        a = int(via[n])
        if a < 0:
            raise ValueError(f"node {end} is not reachable from node {start}")
        links.append(a)
        n = int(network.link_source[a])
    return tuple(reversed(links))


def walk_reverse(network: Network, via: np.ndarray, start: int, end: int) -> tuple[int, ...]:
    """Links of the path start -> end from reverse ``via`` (first link towards ``end``)."""
    links = []
    n = start
    while n != end:
        a = int(via[n])
        if a < 0:
            raise ValueError(f"node {end} is not reachable from node {start}")
        links.append(a)
        n = int(network.link_target[a])
    return tuple(links)


def layered_path(
    network: Network,
    source: int,
    sink: int,
    compute_cost: np.ndarray,
    link_cost: np.ndarray,
) -> tuple[float, tuple[int, ...], tuple[tuple[int, ...], ...]] | None:
    """Shortest (s, 0) -> (t, L) path of the layered graph with explicit arc costs.

    ``compute_cost`` (L, |N|) and ``link_cost`` (L+1, |A|) may hold inf for forbidden arcs
    (capacity pruning); costs must be >= 0. One multi-source Dijkstra per copy, seeded with the
    labels of the copy below plus the compute cost (as ``layered_dijkstra`` in ``_layered``,
    which takes finite extras only). Returns ``(cost, placement, paths)`` or None.
    """
    L = compute_cost.shape[0]
    dist, via = dijkstra_links(network, source, link_cost[0])
    vias = [via]
    for l in range(1, L + 1):
        seed_vals = dist + compute_cost[l - 1]
        seeds = {int(n): float(seed_vals[n]) for n in np.flatnonzero(np.isfinite(seed_vals))}
        if not seeds:
            return None
        dist, via = dijkstra_links(network, seeds, link_cost[l])
        vias.append(via)
    if not np.isfinite(dist[sink]):
        return None
    placement = [0] * L
    paths: list[tuple[int, ...]] = [()] * (L + 1)
    n = sink
    for l in range(L, -1, -1):
        links = []
        while vias[l][n] >= 0:
            a = int(vias[l][n])
            links.append(a)
            n = int(network.link_source[a])
        paths[l] = tuple(reversed(links))
        if l > 0:
            placement[l - 1] = n
    if n != source:  # pragma: no cover - a finite label always walks back to the source
        raise RuntimeError("layered_path walked back to a node other than the source")
    return float(dist[sink]), tuple(placement), tuple(paths)


# ----------------------------------------------------------------------------- the baselines


def _result(name: str, status: Status, start: float, **kw) -> SolveResult:
    return SolveResult(name, BACKEND, status, solver="python", solver_version="", solve_time=time.perf_counter() - start, **kw)


def _two_way(instance: Instance, splits: Sequence[int]) -> tuple[float, int, int] | None:
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


def _solve_split(name: str, instance: Instance, splits_of: str) -> SolveResult:
    start = time.perf_counter()
    net = instance.network
    s, _, L, _, _ = job_data(instance, 0)
    splits = {"local-only": [L], "best-remote": [0], "two-way-split": list(range(L + 1))}[splits_of]
    if splits_of == "local-only" and net.speed[s] <= 0:
        return _result(name, Status.INFEASIBLE, start, message=f"local-only: source {net.node_names[s]!r} cannot compute (a router)")
    best = _two_way(instance, splits)
    if best is None:
        why = "no remote compute node reachable from the source and able to reach the sink"
        return _result(name, Status.INFEASIBLE, start, message=f"{name}: {why}")
    lat, k, r = best
    route = _route_for(instance, k, s if r < 0 else r)
    extra = {"split_layer": k, "remote_node": None if r < 0 else net.node_names[r]}
    return _result(name, Status.FEASIBLE, start, objective=lat, decision={0: (route,)}, extra=extra)


def solve_local_only(instance: Instance, options: SolverOptions) -> SolveResult:
    """(B1): every layer on the source device."""
    return _solve_split("local-only", instance, "local-only")


def solve_best_remote(instance: Instance, options: SolverOptions) -> SolveResult:
    """(B2): every layer on the single best remote compute node."""
    return _solve_split("best-remote", instance, "best-remote")


def solve_two_way_split(instance: Instance, options: SolverOptions) -> SolveResult:
    """(B3): best split point k and remote node r."""
    return _solve_split("two-way-split", instance, "two-way-split")


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
            tags=frozenset({"baseline"}),
        )
    )
